//! Raw → resolved for sources, destinations and routes: secrets read from the environment, jq
//! compiled, names cross-checked, presets' defaults applied.

use std::collections::BTreeMap;

use base64::Engine as _;
use serde::de::DeserializeOwned;
use serde_json::Value;

use crate::error::{nearest, ConfigError};
use crate::raw_flow::*;
use crate::resolved_flow::*;
use crate::yaml::{push, Document};

/// Where secrets come from while resolving: the environment now, the vault later (references
/// are collected and bound once the store is open; see [`Config::bind_vault`]).
pub(crate) struct SecretSources<'a> {
    pub env: &'a dyn Fn(&str) -> Option<String>,
    pub vault: std::cell::RefCell<Vec<VaultRef>>,
    /// An unset `env:NAME` is a warning (the secret stays unbound), not an error.
    pub lenient: bool,
    pub warnings: std::cell::RefCell<Vec<ConfigError>>,
}

pub(crate) type Env<'a> = &'a SecretSources<'a>;

/// Deserializes every entry of a map section on its own, so each mistake is reported.
pub(crate) fn entries<T: DeserializeOwned>(
    doc: &Document,
    section: &str,
    errs: &mut Vec<ConfigError>,
) -> BTreeMap<String, T> {
    let mut out = BTreeMap::new();
    let Some(value) = doc.value.get(section) else {
        return out;
    };
    let Some(map) = value.as_object() else {
        if !value.is_null() {
            errs.push(doc.error_at(
                &push("", section),
                format!("`{section}` must be a mapping of names to entries"),
                None,
            ));
        }
        return out;
    };
    for (name, v) in map {
        let ptr = push(&push("", section), name);
        if !valid_name(name) {
            errs.push(
                doc.error_at_key(
                    &ptr,
                    format!("invalid name `{name}`"),
                    Some(
                        "names use letters, digits, `-` and `_` (they appear in URLs and metrics)"
                            .into(),
                    ),
                ),
            );
        }
        match crate::resolve::located::<T>(doc, &ptr, v) {
            Ok(t) => {
                out.insert(name.clone(), t);
            }
            Err(e) => errs.push(e),
        }
    }
    out
}

fn valid_name(name: &str) -> bool {
    !name.is_empty()
        && name.len() <= 64
        && name
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || c == '-' || c == '_')
}

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

/// Reads `env:NAME` now; records `secret:NAME` to be opened from the vault at start-up. Inline
/// values are refused with a located error.
pub(crate) fn secret(
    doc: &Document,
    ptr: &str,
    text: &str,
    env: Env,
    errs: &mut Vec<ConfigError>,
) -> Option<Secret> {
    if let Some(var) = text.strip_prefix("env:") {
        return match (env.env)(var).filter(|v| !v.is_empty()) {
            Some(v) => Some(Secret::new(&v)),
            None if env.lenient => {
                env.warnings.borrow_mut().push(doc.error_at(
                    ptr,
                    format!("the environment variable `{var}` is not set"),
                    Some(format!("export {var}=… before `junction serve`")),
                ));
                Some(Secret::unbound())
            }
            None => {
                errs.push(doc.error_at(
                    ptr,
                    format!("the environment variable `{var}` is not set"),
                    Some(format!("export {var}=… before starting junction")),
                ));
                None
            }
        };
    }
    if let Some(name) = text.strip_prefix("secret:") {
        if !valid_secret_name(name) {
            errs.push(doc.error_at(
                ptr,
                format!("`{name}` is not a valid secret name"),
                Some("use 1-128 letters, digits, `_`, `.` or `-`, starting with a letter or digit".into()),
            ));
            return None;
        }
        let secret = Secret::unbound();
        env.vault.borrow_mut().push(VaultRef {
            name: name.to_owned(),
            secret: secret.clone(),
            shape: SecretShape::Any,
            missing: doc.error_at(
                ptr,
                format!("secret `{name}` is not in the vault"),
                Some(format!(
                    "store it with `junction secrets set {name}` (the value is read from stdin)"
                )),
            ),
        });
        return Some(secret);
    }
    let hint = "write env:NAME (from the environment) or secret:NAME (from the vault); secrets are never written in the config";
    // The value may itself be a secret: never echo it.
    errs.push(doc.error_at(
        ptr,
        "a secret must be a reference, not a value",
        Some(hint.into()),
    ));
    None
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

/// Decodes a Standard Webhooks key: `whsec_`/`whpk_` prefix optional, base64 body.
pub fn standard_key(text: &str) -> Result<Vec<u8>, String> {
    let body = text
        .strip_prefix("whsec_")
        .or_else(|| text.strip_prefix("whpk_"))
        .unwrap_or(text);
    let key = base64::engine::general_purpose::STANDARD
        .decode(body)
        .map_err(|_| "the key is not base64 (expected whsec_ followed by base64)".to_owned())?;
    if key.is_empty() {
        return Err("the key is empty".into());
    }
    Ok(key)
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
    let v = raw.verify;
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
    };
    let forward_headers = forward_headers(doc, ptr, &raw.forward_headers, errs);
    if errs.len() > before {
        return None;
    }
    Some(Source {
        name: name.to_owned(),
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
    })
}

/// Checks a source's `forward_headers`: valid names, not reserved, not repeated, bounded.
fn forward_headers(
    doc: &Document,
    ptr: &str,
    names: &[String],
    errs: &mut Vec<ConfigError>,
) -> Vec<String> {
    let fptr = push(ptr, "forward_headers");
    if names.len() > crate::resolved_flow::MAX_FORWARD_HEADERS {
        errs.push(doc.error_at(
            &fptr,
            format!(
                "{} headers listed; a source forwards at most {}",
                names.len(),
                crate::resolved_flow::MAX_FORWARD_HEADERS
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
        } else if crate::resolved_flow::reserved_forward_header(&lower) {
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

fn destination(
    doc: &Document,
    ptr: &str,
    name: &str,
    raw: RawDestination,
    env: Env,
    errs: &mut Vec<ConfigError>,
) -> Option<Destination> {
    let before = errs.len();
    let url = match url::Url::parse(&raw.url) {
        Ok(u) if matches!(u.scheme(), "http" | "https") && u.host_str().is_some() => Some(u),
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
                format!("invalid URL `{}`: {e}", raw.url),
                Some("e.g. http://billing.internal/hooks/junction".into()),
            ));
            None
        }
    };
    let method = match raw.method.to_ascii_uppercase().as_str() {
        "POST" => Some(http::Method::POST),
        "PUT" => Some(http::Method::PUT),
        "PATCH" => Some(http::Method::PATCH),
        _ => {
            errs.push(doc.error_at(
                &push(ptr, "method"),
                format!("`{}` cannot carry an event body", raw.method),
                Some("one of: POST, PUT, PATCH".into()),
            ));
            None
        }
    };
    let mut headers = Vec::with_capacity(raw.headers.len());
    for (h, v) in &raw.headers {
        let hptr = push(&push(ptr, "headers"), h);
        if h.is_empty() || !h.bytes().all(|b| b.is_ascii_graphic() && b != b':') {
            errs.push(doc.error_at_key(&hptr, format!("invalid header name `{h}`"), None));
        }
        // A reference is resolved, never sent as written.
        let value = if v.starts_with("env:") || v.starts_with("secret:") {
            secret(doc, &hptr, v, env, errs).map(HeaderText::Secret)
        } else {
            Some(HeaderText::Plain(v.clone()))
        };
        if let Some(value) = value {
            headers.push((h.clone(), value));
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
    let r = &raw.retry;
    let rptr = push(ptr, "retry");
    if r.attempts == 0 {
        errs.push(doc.error_at(
            &push(&rptr, "attempts"),
            "attempts must be at least 1",
            None,
        ));
    }
    if r.base.0.is_zero() || r.max.0 < r.base.0 {
        errs.push(doc.error_at(
            &rptr,
            "retry needs 0 < base <= max",
            Some("e.g. { base: 5s, max: 6h }".into()),
        ));
    }
    if raw.circuit.failures == 0 || raw.circuit.probe_after.0.is_zero() {
        errs.push(doc.error_at(
            &push(ptr, "circuit"),
            "circuit needs failures >= 1 and probe_after > 0",
            None,
        ));
    }
    for (i, s) in raw.retry_statuses.iter().enumerate() {
        if !(400..500).contains(s) {
            errs.push(doc.error_at(
                &push(&push(ptr, "retry_statuses"), &i.to_string()),
                format!("{s} is not a 4xx status (5xx are always retried)"),
                None,
            ));
        }
    }
    let model = raw.model.as_deref().and_then(|m| {
        junction_transform::ModelRef::parse(m)
            .map_err(|e| errs.push(doc.error_at(&push(ptr, "model"), e, None)))
            .ok()
    });
    if errs.len() > before {
        return None;
    }
    Some(Destination {
        name: name.to_owned(),
        url: url?,
        method: method?,
        headers,
        timeout: raw.timeout.0,
        concurrency: raw.concurrency as usize,
        signing,
        retry: Retry {
            attempts: r.attempts,
            base: r.base.0,
            max: r.max.0,
            retry_after_cap: r.retry_after_cap.0,
        },
        circuit: Circuit {
            failures: raw.circuit.failures,
            probe_after: raw.circuit.probe_after.0,
        },
        retry_statuses: raw.retry_statuses,
        model,
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
        Some(v) if !v.is_null() => crate::resolve::located(doc, "/delivery", v)
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
    })
}

/// The names the vault accepts (the same rule as `junction-vault`).
pub fn valid_secret_name(name: &str) -> bool {
    let mut chars = name.chars();
    name.len() <= 128
        && chars.next().is_some_and(|c| c.is_ascii_alphanumeric())
        && chars.all(|c| c.is_ascii_alphanumeric() || matches!(c, '_' | '.' | '-'))
}

/// For a vault secret (not known yet): records the shape its value must have, checked when it is
/// bound, and answers true. For a known one: false (check it now).
fn defer(env: Env, secret: &Secret, shape: SecretShape) -> bool {
    if secret.is_bound() {
        return false;
    }
    if let Some(r) = env
        .vault
        .borrow_mut()
        .iter_mut()
        .find(|r| r.secret.same(secret))
    {
        r.shape = shape;
    }
    true
}

/// Refuses a value written as a reference (`env:NAME`, `secret:NAME`) where references are not
/// resolved: sent as written, it would reach the receiver literally. `${VAR}` works everywhere.
pub(crate) fn no_reference(doc: &Document, ptr: &str, value: &str, errs: &mut Vec<ConfigError>) {
    if value.starts_with("env:") || value.starts_with("secret:") {
        errs.push(doc.error_at(
            ptr,
            "references (env:NAME, secret:NAME) are not resolved here: the text would be sent as written",
            Some("write ${VAR} to read the value from the environment when the config is loaded".into()),
        ));
    }
}
