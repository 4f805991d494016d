//! Raw → resolved for sources, destinations and routes: secrets read from the environment, jq
//! compiled, names cross-checked, presets' defaults applied.

use std::collections::BTreeMap;

use serde_json::Value;

use crate::check::entries;
use crate::error::{nearest, ConfigError};
use crate::flow::raw::*;
use crate::flow::resolved::*;
use crate::secrets::*;
use crate::yaml::{push, Document};

pub(crate) fn resolve_flows(doc: &Document, env: Env, errs: &mut Vec<ConfigError>) -> Flows {
    let sources: BTreeMap<String, RawSource> = entries(doc, "sources", errs);
    let destinations: BTreeMap<String, RawDestination> = entries(doc, "destinations", errs);
    let routes: BTreeMap<String, RawRoute> = entries(doc, "routes", errs);
    let mut flows = Flows::default();
    for (name, raw) in sources {
        let ptr = push("/sources", &name);
        if let Some(s) = source(doc, &ptr, &name, raw, env, errs) {
            flows.sources.insert(name, s);
        }
    }
    for (name, raw) in destinations {
        let ptr = push("/destinations", &name);
        if let Some(d) = destination(doc, &ptr, &name, raw, env, errs) {
            flows.destinations.insert(name, d);
        }
    }
    let source_names: Vec<&str> = doc_keys(doc, "sources");
    let dest_names: Vec<&str> = doc_keys(doc, "destinations");
    for (name, raw) in routes {
        let ptr = push("/routes", &name);
        if let Some(r) = route(doc, &ptr, &name, raw, &source_names, &dest_names, errs) {
            flows.routes.insert(name, r);
        }
    }
    flows
}

fn doc_keys<'a>(doc: &'a Document, section: &str) -> Vec<&'a str> {
    doc.value
        .get(section)
        .and_then(Value::as_object)
        .map(|m| m.keys().map(String::as_str).collect())
        .unwrap_or_default()
}

fn secrets(
    doc: &Document,
    ptr: &str,
    list: &[String],
    env: Env,
    errs: &mut Vec<ConfigError>,
) -> Vec<Secret> {
    list.iter()
        .enumerate()
        .filter_map(|(i, s)| secret(doc, &push(ptr, &i.to_string()), s, env, errs))
        .collect()
}

fn pick(doc: &Document, ptr: &str, text: &str, errs: &mut Vec<ConfigError>) -> Option<Pick> {
    if let Some(name) = text.strip_prefix("header:") {
        let name = name.trim();
        if name.is_empty() || !name.bytes().all(|b| b.is_ascii_graphic() && b != b':') {
            errs.push(doc.error_at(ptr, format!("invalid header name `{name}`"), None));
            return None;
        }
        return Some(Pick::Header(name.to_ascii_lowercase()));
    }
    jq(doc, ptr, text, errs).map(Pick::Jq)
}

fn jq(
    doc: &Document,
    ptr: &str,
    code: &str,
    errs: &mut Vec<ConfigError>,
) -> Option<junction_transform::Program> {
    junction_transform::Program::compile(code)
        .map_err(|e| {
            errs.push(doc.error_at(
                ptr,
                e.to_string(),
                Some("write a jq expression such as .data.id, or header:NAME".into()),
            ))
        })
        .ok()
}

/// The preset's defaults for id, type, key and sequence.
fn preset_extract(p: VerifyPreset) -> [Option<&'static str>; 4] {
    match p {
        VerifyPreset::StandardWebhooks => [Some("header:webhook-id"), Some(".type"), None, None],
        VerifyPreset::Stripe => [Some(".id"), Some(".type"), None, Some(".created")],
        VerifyPreset::Github => [
            Some("header:x-github-delivery"),
            Some("header:x-github-event"),
            None,
            None,
        ],
        VerifyPreset::Shopify => [
            Some("header:x-shopify-webhook-id"),
            Some("header:x-shopify-topic"),
            None,
            None,
        ],
        VerifyPreset::Slack => [Some(".event_id"), Some(".event.type // .type"), None, None],
        VerifyPreset::Hmac | VerifyPreset::Basic | VerifyPreset::None => {
            [None, Some(".type"), None, None]
        }
    }
}

fn source(
    doc: &Document,
    ptr: &str,
    name: &str,
    raw: RawSource,
    env: Env,
    errs: &mut Vec<ConfigError>,
) -> Option<Source> {
    let before = errs.len();
    let vptr = push(ptr, "verify");
    match (raw.kind, raw.sync) {
        (SourceKind::Webhook, Some(_)) => {
            errs.push(
                doc.error_at(
                    &push(ptr, "sync"),
                    "`sync:` is for `kind: sync` sources",
                    Some(
                        "a webhook source receives requests; to pull a list, declare `kind: sync`"
                            .into(),
                    ),
                ),
            );
        }
        (SourceKind::Webhook, None) => {}
        (SourceKind::Sync, None) => {
            errs.push(doc.error_at(
                ptr,
                "a sync source says what it pulls",
                Some("add `sync: { connector: …, operation: … }`".into()),
            ));
            return None;
        }
        (SourceKind::Sync, Some(p)) => {
            if raw.verify.is_some() {
                errs.push(doc.error_at(
                    &vptr,
                    "a sync source takes no requests, so nothing is verified",
                    Some("remove `verify:`".into()),
                ));
            }
            if raw.rate_limits.is_some() {
                errs.push(
                    doc.error_at(
                        &push(ptr, "rate_limits"),
                        "a sync source takes no requests, so none are limited",
                        Some(
                            "remove `rate_limits:`; the connector's `quotas:` pace what it pulls"
                                .into(),
                        ),
                    ),
                );
            }
            if !raw.client_certificate.is_empty() {
                errs.push(doc.error_at(
                    &push(ptr, "client_certificate"),
                    "a sync source takes no requests, so no caller's certificate is checked",
                    Some("remove `client_certificate:`".into()),
                ));
            }
            let pull = crate::flow::pull::resolve(doc, &push(ptr, "sync"), name, p, errs)?;
            if errs.len() > before {
                return None;
            }
            if raw.reconcile.is_some() {
                errs.push(doc.error_at(
                    &push(ptr, "reconcile"),
                    "a sync source is its list: there is nothing to reconcile",
                    None,
                ));
                return None;
            }
            // A record's data subject, for erasure; the other fields come from `sync:`.
            let subject = raw
                .event
                .subject
                .as_deref()
                .and_then(|text| pick(doc, &push(&push(ptr, "event"), "subject"), text, errs));
            return Some(Source {
                name: name.to_owned(),
                pull: Some(pull),
                reconcile: None,
                verify: Verify::none(),
                event: Extract {
                    subject,
                    ..Extract::default()
                },
                format: BodyFormat::Json,
                forward_headers: Vec::new(),
                rate_limits: None,
                retention: raw.retention.map(|d| d.0),
                encrypt_payloads: raw.encrypt_payloads,
                client_certificate: Vec::new(),
            });
        }
    }
    let Some(v) = raw.verify else {
        errs.push(doc.error_at(
            ptr,
            "a webhook source says how its requests are verified",
            Some("add `verify: { preset: … }` (`none` to accept unsigned requests)".into()),
        ));
        return None;
    };
    let public_keys = secrets(doc, &push(&vptr, "public_keys"), &v.public_keys, env, errs);
    let secrets = secrets(doc, &push(&vptr, "secrets"), &v.secrets, env, errs);
    let password = v
        .password
        .as_deref()
        .and_then(|p| secret(doc, &push(&vptr, "password"), p, env, errs));
    let needs_secret = !matches!(v.preset, VerifyPreset::Basic | VerifyPreset::None);
    if needs_secret && v.secrets.is_empty() && v.public_keys.is_empty() {
        errs.push(doc.error_at(
            &vptr,
            format!("the {:?} preset needs at least one secret", v.preset).to_lowercase(),
            Some("add `secrets: [ env:NAME ]`".into()),
        ));
    }
    if v.preset == VerifyPreset::StandardWebhooks {
        for (i, s) in secrets.iter().enumerate() {
            if defer(env, s, SecretShape::StandardKey) {
                continue;
            }
            if let Err(e) = standard_key(s.expose()) {
                errs.push(doc.error_at(&push(&push(&vptr, "secrets"), &i.to_string()), e, None));
            }
        }
        for (i, k) in public_keys.iter().enumerate() {
            if defer(env, k, SecretShape::Ed25519Public) {
                continue;
            }
            match standard_key(k.expose()) {
                Ok(k) if k.len() == 32 => {}
                Ok(_) => errs.push(doc.error_at(
                    &push(&push(&vptr, "public_keys"), &i.to_string()),
                    "an Ed25519 public key is 32 bytes",
                    None,
                )),
                Err(e) => errs.push(doc.error_at(
                    &push(&push(&vptr, "public_keys"), &i.to_string()),
                    e,
                    None,
                )),
            }
        }
    } else if !v.public_keys.is_empty() {
        errs.push(doc.error_at(
            &push(&vptr, "public_keys"),
            "public_keys are for the standard_webhooks preset (v1a signatures)",
            None,
        ));
    }
    if v.preset == VerifyPreset::Hmac && v.header.is_none() {
        errs.push(doc.error_at(
            &vptr,
            "the hmac preset needs `header:` (where the signature is)",
            Some("e.g. header: X-Signature".into()),
        ));
    }
    if v.preset == VerifyPreset::Basic && (v.username.is_none() || v.password.is_none()) {
        errs.push(doc.error_at(
            &vptr,
            "the basic preset needs `username:` and `password:`",
            Some("password: env:NAME".into()),
        ));
    }
    if v.preset == VerifyPreset::None && !v.secrets.is_empty() {
        errs.push(doc.error_at(
            &push(&vptr, "secrets"),
            "the none preset verifies nothing, so secrets would be ignored",
            Some("choose a preset that uses them, or remove them".into()),
        ));
    }
    let content = v.signed_content.clone().unwrap_or_else(|| "{body}".into());
    if content.contains("{timestamp}") && v.timestamp_header.is_none() {
        errs.push(doc.error_at(
            &push(&vptr, "signed_content"),
            "`{timestamp}` needs `timestamp_header:`",
            None,
        ));
    }
    let defaults = preset_extract(v.preset);
    let eptr = push(ptr, "event");
    let mut fields = [
        raw.event.id,
        raw.event.event_type,
        raw.event.key,
        raw.event.sequence,
    ]
    .into_iter()
    .zip(defaults)
    .zip(["id", "type", "key", "sequence"])
    .map(|((given, default), field)| {
        let given_ptr = push(&eptr, field);
        match (given, default) {
            (Some(text), _) => pick(doc, &given_ptr, &text, errs),
            (None, Some(text)) => pick(doc, &vptr, text, errs),
            (None, None) => None,
        }
    });
    let event = Extract {
        id: fields.next().flatten(),
        event_type: fields.next().flatten(),
        key: fields.next().flatten(),
        sequence: fields.next().flatten(),
        subject: raw
            .event
            .subject
            .and_then(|text| pick(doc, &push(&eptr, "subject"), &text, errs)),
    };
    let forward_headers = forward_headers(doc, ptr, &raw.forward_headers, errs);
    let client_certificate = client_names(doc, ptr, &raw.client_certificate, errs);
    let rate_limits = raw
        .rate_limits
        .as_ref()
        .map(|r| crate::units::resolve_rates(doc, &push(ptr, "rate_limits"), r, errs));
    let rptr = push(ptr, "reconcile");
    let reconcile = raw.reconcile.and_then(|r| {
        let mut pull = crate::flow::pull::resolve(doc, &rptr, name, r, errs)?;
        // The list is compared with what webhooks brought: nothing is deleted from it.
        pull.max_delete_percent = None;
        if pull.version.is_none() {
            errs.push(
                doc.error_at(
                    &rptr,
                    "reconciliation compares versions: give the record's `version:`",
                    Some(
                        "the field the webhooks' `event.sequence` reads, e.g. version: .updated_at"
                            .into(),
                    ),
                ),
            );
        }
        if event.key.is_none() || event.sequence.is_none() {
            errs.push(doc.error_at(
                &push(ptr, "event"),
                "a reconciled source reads each event's entity `key` and `sequence`",
                Some("they say which entity a webhook changed and which version it brought".into()),
            ));
        }
        Some(pull)
    });
    if errs.len() > before {
        return None;
    }
    Some(Source {
        name: name.to_owned(),
        pull: None,
        reconcile,
        verify: Verify {
            preset: v.preset,
            secrets,
            public_keys,
            tolerance: v.tolerance.0,
            header: v.header.map(|h| h.to_ascii_lowercase()),
            prefix: v.prefix.unwrap_or_default(),
            encoding: v.encoding.unwrap_or_default(),
            algorithm: v.algorithm.unwrap_or_default(),
            signed_content: content,
            timestamp_header: v.timestamp_header.map(|h| h.to_ascii_lowercase()),
            username: v.username,
            password,
        },
        event,
        format: raw.format,
        forward_headers,
        rate_limits,
        retention: raw.retention.map(|d| d.0),
        encrypt_payloads: raw.encrypt_payloads,
        client_certificate,
    })
}

/// Checks a source's `client_certificate` names: at most 16, each 1-255 printable characters.
fn client_names(
    doc: &Document,
    ptr: &str,
    names: &[String],
    errs: &mut Vec<ConfigError>,
) -> Vec<String> {
    let at = push(ptr, "client_certificate");
    if names.len() > 16 {
        errs.push(doc.error_at(&at, "at most 16 names", None));
    }
    for (i, n) in names.iter().enumerate() {
        if n.is_empty() || n.len() > 255 || n.chars().any(char::is_control) {
            errs.push(doc.error_at(
                &push(&at, &i.to_string()),
                "a certificate name is 1-255 printable characters",
                Some("the common name, a DNS name or a URI the clients' certificates carry".into()),
            ));
        }
    }
    names.to_vec()
}

/// Checks a source's `forward_headers`: valid names, not reserved, not repeated, bounded.
fn forward_headers(
    doc: &Document,
    ptr: &str,
    names: &[String],
    errs: &mut Vec<ConfigError>,
) -> Vec<String> {
    let fptr = push(ptr, "forward_headers");
    if names.len() > crate::flow::resolved::MAX_FORWARD_HEADERS {
        errs.push(doc.error_at(
            &fptr,
            format!(
                "{} headers listed; a source forwards at most {}",
                names.len(),
                crate::flow::resolved::MAX_FORWARD_HEADERS
            ),
            None,
        ));
        return Vec::new();
    }
    let mut out: Vec<String> = Vec::with_capacity(names.len());
    for (i, name) in names.iter().enumerate() {
        let iptr = push(&fptr, &i.to_string());
        let lower = name.to_ascii_lowercase();
        if http::HeaderName::from_bytes(lower.as_bytes()).is_err() {
            errs.push(doc.error_at(&iptr, format!("invalid header name `{name}`"), None));
        } else if crate::flow::resolved::reserved_forward_header(&lower) {
            errs.push(doc.error_at(
                &iptr,
                format!("`{name}` cannot be forwarded"),
                Some(
                    "deliveries set their own content-type, webhook-*, junction-*, idempotency-key and traceparent, and credentials meant for Junction are never passed on"
                        .into(),
                ),
            ));
        } else if out.contains(&lower) {
            errs.push(doc.error_at(&iptr, format!("`{name}` is listed twice"), None));
        } else {
            out.push(lower);
        }
    }
    out
}

/// A URL, or a connector's operation (whose existence the links check confirms); the settings
/// only a URL destination takes are refused on the other kind.
fn target(
    doc: &Document,
    ptr: &str,
    raw: &RawDestination,
    errs: &mut Vec<ConfigError>,
) -> Option<Target> {
    match (&raw.url, &raw.connector, &raw.operation) {
        (Some(url), None, None) => {
            if raw.connection.is_some() {
                errs.push(doc.error_at(
                    &push(ptr, "connection"),
                    "`connection` is for destinations that name a connector",
                    None,
                ));
            }
            url_target(doc, ptr, url, errs)
        }
        (None, Some(connector), Some(operation)) => {
            for (field, set) in [
                ("method", raw.method.is_some()),
                ("headers", !raw.headers.is_empty()),
                ("signing", raw.signing.is_some()),
            ] {
                if set {
                    errs.push(doc.error_at(
                        &push(ptr, field),
                        format!("`{field}` is for URL destinations"),
                        Some("a connector's operation sets its own method, headers and credentials".into()),
                    ));
                }
            }
            let connection = raw.connection.clone().unwrap_or_else(|| "default".into());
            let plain = !connection.is_empty()
                && connection.len() <= 64
                && connection
                    .bytes()
                    .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_');
            if !plain {
                errs.push(doc.error_at(
                    &push(ptr, "connection"),
                    format!("`{connection}` is not a connection name"),
                    Some("connection names use 1-64 letters, digits, `-` and `_`".into()),
                ));
            }
            Some(Target::Operation {
                connector: connector.clone(),
                operation: operation.clone(),
                connection,
            })
        }
        (None, Some(_), None) => {
            errs.push(doc.error_at(
                ptr,
                "a connector destination needs an `operation`",
                Some("e.g. connector: crm, operation: upsert_customer".into()),
            ));
            None
        }
        (None, None, _) => {
            errs.push(doc.error_at(
                ptr,
                "a destination needs a `url`, or a `connector` and an `operation`",
                Some("e.g. url: http://billing.internal/hooks/junction".into()),
            ));
            None
        }
        _ => {
            errs.push(doc.error_at(
                &push(ptr, "url"),
                "a destination has a `url` or a `connector` and an `operation`, not both",
                None,
            ));
            None
        }
    }
}

fn url_target(doc: &Document, ptr: &str, raw: &str, errs: &mut Vec<ConfigError>) -> Option<Target> {
    match url::Url::parse(raw) {
        Ok(u) if matches!(u.scheme(), "http" | "https") && u.host_str().is_some() => {
            Some(Target::Url(u))
        }
        Ok(u) => {
            errs.push(doc.error_at(
                &push(ptr, "url"),
                format!("unsupported URL `{}`", u),
                Some("destinations are http:// or https:// URLs with a host".into()),
            ));
            None
        }
        Err(e) => {
            errs.push(doc.error_at(
                &push(ptr, "url"),
                format!("invalid URL `{raw}`: {e}"),
                Some("e.g. http://billing.internal/hooks/junction".into()),
            ));
            None
        }
    }
}

fn destination(
    doc: &Document,
    ptr: &str,
    name: &str,
    raw: RawDestination,
    env: Env,
    errs: &mut Vec<ConfigError>,
) -> Option<Destination> {
    let before = errs.len();
    let target = target(doc, ptr, &raw, errs);
    let method = match raw
        .method
        .as_deref()
        .unwrap_or("POST")
        .to_ascii_uppercase()
        .as_str()
    {
        "POST" => Some(http::Method::POST),
        "PUT" => Some(http::Method::PUT),
        "PATCH" => Some(http::Method::PATCH),
        _ => {
            errs.push(doc.error_at(
                &push(ptr, "method"),
                format!(
                    "`{}` cannot carry an event body",
                    raw.method.as_deref().unwrap_or("")
                ),
                Some("one of: POST, PUT, PATCH".into()),
            ));
            None
        }
    };
    let mut headers = Vec::with_capacity(raw.headers.len());
    for (h, v) in &raw.headers {
        let hptr = push(&push(ptr, "headers"), h);
        let name = http::HeaderName::from_bytes(h.as_bytes())
            .map_err(|_| {
                errs.push(doc.error_at_key(&hptr, format!("invalid header name `{h}`"), None))
            })
            .ok();
        // A reference is resolved, never sent as written.
        let value = if v.starts_with("env:") || v.starts_with("secret:") {
            secret(doc, &hptr, v, env, errs).map(HeaderText::Secret)
        } else if http::HeaderValue::from_str(v).is_err() {
            errs.push(doc.error_at(&hptr, "invalid header value", None));
            None
        } else {
            Some(HeaderText::Plain(v.clone()))
        };
        if let (Some(name), Some(value)) = (name, value) {
            headers.push((name, value));
        }
    }
    let mut signing = SigningKeys::default();
    if let Some(s) = &raw.signing {
        let sptr = push(&push(ptr, "signing"), "secrets");
        if s.secrets.is_empty() {
            errs.push(doc.error_at(&sptr, "signing needs at least one secret", None));
        }
        let keys = secrets(doc, &sptr, &s.secrets, env, errs);
        for (i, sec) in keys.iter().enumerate() {
            if defer(env, sec, SecretShape::StandardKey) {
                continue;
            }
            if let Err(e) = standard_key(sec.expose()) {
                errs.push(doc.error_at(&push(&sptr, &i.to_string()), e, None));
            }
        }
        signing = SigningKeys::new(keys);
    }
    if raw.concurrency == 0 || raw.concurrency > 10_000 {
        errs.push(doc.error_at(
            &push(ptr, "concurrency"),
            "concurrency must be between 1 and 10000",
            None,
        ));
    }
    if raw.timeout.0.is_zero() {
        errs.push(doc.error_at(
            &push(ptr, "timeout"),
            "timeout must be greater than zero",
            None,
        ));
    }
    let mut raw_retry = raw.retry;
    raw_retry
        .statuses
        .extend(raw.retry_statuses.iter().copied());
    let retry = crate::resilience::retry(
        doc,
        &push(ptr, "retry"),
        &raw_retry,
        crate::resilience::Target::Destination,
        errs,
    );
    let circuit = crate::resilience::circuit(
        doc,
        &push(ptr, "circuit"),
        &raw.circuit,
        crate::resilience::Target::Destination,
        errs,
    );
    let model = raw.model.as_deref().and_then(|m| {
        junction_transform::ModelRef::parse(m)
            .map_err(|e| errs.push(doc.error_at(&push(ptr, "model"), e, None)))
            .ok()
    });
    let tls = match &raw.tls {
        Some(_) if raw.connector.is_some() => {
            errs.push(doc.error_at(
                &push(ptr, "tls"),
                "a destination that calls a connector's operation uses the connector's TLS",
                Some("set `tls:` on the connector instead".into()),
            ));
            None
        }
        Some(t) => crate::outbound_tls::resolve(doc, &push(ptr, "tls"), t, env, errs),
        None => Some(Default::default()),
    };
    if errs.len() > before {
        return None;
    }
    Some(Destination {
        name: name.to_owned(),
        target: target?,
        method: method?,
        headers,
        timeout: raw.timeout.0,
        concurrency: raw.concurrency as usize,
        signing,
        retry: retry?.0,
        circuit: circuit?.0,
        model,
        dead_letter_retention: raw.dead_letter_retention.map(|d| d.0),
        quarantine_retention: raw.quarantine_retention.map(|d| d.0),
        tls: tls?,
    })
}

fn route(
    doc: &Document,
    ptr: &str,
    name: &str,
    raw: RawRoute,
    sources: &[&str],
    destinations: &[&str],
    errs: &mut Vec<ConfigError>,
) -> Option<Route> {
    let before = errs.len();
    if !sources.contains(&raw.from.as_str()) {
        errs.push(doc.error_at(
            &push(ptr, "from"),
            format!("no source named `{}`", raw.from),
            Some(known("sources", &raw.from, sources)),
        ));
    }
    if raw.to.is_empty() {
        errs.push(doc.error_at(
            &push(ptr, "to"),
            "a route needs at least one destination",
            None,
        ));
    }
    for (i, d) in raw.to.iter().enumerate() {
        if !destinations.contains(&d.as_str()) {
            errs.push(doc.error_at(
                &push(&push(ptr, "to"), &i.to_string()),
                format!("no destination named `{d}`"),
                Some(known("destinations", d, destinations)),
            ));
        }
    }
    if raw.types.is_empty() {
        errs.push(doc.error_at(
            &push(ptr, "types"),
            "types is empty, so nothing would match",
            Some("write [\"*\"] for every type, or leave it out".into()),
        ));
    }
    let filter = raw
        .filter
        .as_deref()
        .and_then(|code| jq(doc, &push(ptr, "where"), code, errs));
    if raw.reorder_window.is_some() && raw.ordering == OrderingMode::None {
        errs.push(doc.error_at(
            &push(ptr, "reorder_window"),
            "reorder_window only applies to ordered routes",
            Some("set ordering: fifo or latest".into()),
        ));
    }
    let rollout = raw.rollout.as_ref().and_then(|r| {
        crate::rollout::rollout(
            doc,
            &push(ptr, "rollout"),
            r,
            crate::rollout::Arms::Mappings,
            raw.map.as_deref(),
            errs,
        )
    });
    if errs.len() > before {
        return None;
    }
    Some(Route {
        name: name.to_owned(),
        from: raw.from,
        types: raw.types,
        filter,
        ordering: raw.ordering,
        reorder_window: raw.reorder_window.map(|d| d.0).unwrap_or_default(),
        to: raw.to,
        map: raw.map,
        rollout,
    })
}

fn known(what: &str, word: &str, names: &[&str]) -> String {
    match (nearest(word, names.iter().copied()), names.is_empty()) {
        (_, true) => format!("there are no {what}; declare it under `{what}:`"),
        (Some(n), _) => format!("did you mean `{n}`? {what}: {}", names.join(", ")),
        (None, _) => format!("{what}: {}", names.join(", ")),
    }
}

pub(crate) fn resolve_delivery(doc: &Document, errs: &mut Vec<ConfigError>) -> Option<Delivery> {
    let raw: RawDelivery = match doc.value.get("delivery") {
        Some(v) if !v.is_null() => crate::check::located(doc, "/delivery", v)
            .map_err(|e| errs.push(e))
            .ok()?,
        _ => RawDelivery::default(),
    };
    for (field, d) in [
        ("poll_interval", raw.poll_interval.0),
        ("lease", raw.lease.0),
    ] {
        if d.is_zero() {
            errs.push(doc.error_at(
                &push("/delivery", field),
                format!("{field} must be greater than zero"),
                None,
            ));
        }
    }
    if raw.lease.0 < std::time::Duration::from_secs(5) {
        errs.push(doc.error_at(
            "/delivery/lease",
            "lease must be at least 5s (it is renewed while an attempt runs)",
            None,
        ));
    }
    Some(Delivery {
        poll_interval: raw.poll_interval.0,
        lease: raw.lease.0,
        retention: raw.retention.0,
        dead_letter_retention: raw.dead_letter_retention.0,
        quarantine_retention: raw.quarantine_retention.0,
    })
}
