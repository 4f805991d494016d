//! Raw → resolved for connectors: URLs parsed and confined, secrets collected, rates parsed,
//! policies checked.

use std::collections::BTreeMap;

use crate::check::entries;
use crate::connect::raw::*;
use crate::connect::resolved::*;
use crate::error::ConfigError;
use crate::secrets::{secret, Env};
use crate::yaml::{push, Document};

pub(crate) fn resolve_connectors(
    doc: &Document,
    env: Env,
    errs: &mut Vec<ConfigError>,
) -> BTreeMap<String, Connector> {
    let raw: BTreeMap<String, RawConnector> = entries(doc, "connectors", errs);
    raw.into_iter()
        .filter_map(|(name, raw)| {
            let ptr = push("/connectors", &name);
            connector(doc, &ptr, &name, raw, env, errs).map(|c| (name, c))
        })
        .collect()
}

fn header_ok(name: &str) -> bool {
    http::HeaderName::from_bytes(name.as_bytes()).is_ok()
}

fn connector(
    doc: &Document,
    ptr: &str,
    name: &str,
    raw: RawConnector,
    env: Env,
    errs: &mut Vec<ConfigError>,
) -> Option<Connector> {
    let before = errs.len();
    if name == "calls" {
        errs.push(doc.error_at(
            ptr,
            "`calls` is reserved: `/ops/calls/{id}` is where asynchronous calls are read",
            Some("name the connector otherwise".into()),
        ));
    }
    let base = confined_base(doc, ptr, &raw, errs);
    let (version_header, version_path) = match &raw.version {
        Some(v) => version(doc, &push(ptr, "version"), v, errs),
        None => (None, String::new()),
    };
    let headers = headers(doc, &push(ptr, "headers"), &raw.headers, errs);
    let timeouts = timeouts(doc, &push(ptr, "timeouts"), &raw.timeouts, errs);
    let quotas = limits(doc, ptr, &raw, errs);
    let connection_quotas = crate::units::resolve_rates(
        doc,
        &push(ptr, "connection_quotas"),
        &raw.connection_quotas,
        errs,
    );
    let rate_limit_headers = raw
        .rate_limit_headers
        .as_ref()
        .and_then(|h| vendor_headers(doc, &push(ptr, "rate_limit_headers"), h, errs));
    let cost = cost(doc, ptr, &raw, &quotas, &connection_quotas, errs);
    let errors_in_answer = raw
        .errors_in_answer
        .as_ref()
        .map(|e| answer_errors(doc, &push(ptr, "errors_in_answer"), e, errs));
    let auth = raw
        .auth
        .map(|a| auth(doc, &push(ptr, "auth"), a, env, errs))
        .unwrap_or(None);
    let retry = crate::resilience::retry(doc, &push(ptr, "retry"), &raw.retry, CONNECTOR, errs);
    let cptr = push(ptr, "circuit");
    let circuit = crate::resilience::circuit(doc, &cptr, &raw.circuit, CONNECTOR, errs);
    let cache = raw
        .cache
        .as_ref()
        .and_then(|c| cache(doc, &push(ptr, "cache"), c, errs));
    if raw.circuit.fallback == crate::resilience::Fallback::Stale && cache.is_none() {
        errs.push(doc.error_at(
            &push(&cptr, "fallback"),
            "`fallback: stale` serves cached responses, but this connector has no cache",
            Some("add `cache: { mode: http }` (or a ttl) to the connector".into()),
        ));
    }
    let operations = raw
        .operations
        .into_iter()
        .map(|(op, o)| {
            let optr = push(&push(ptr, "operations"), &op);
            let resolved = super::operation::operation(doc, &optr, o, raw.kind, errs);
            (op, resolved)
        })
        .collect();
    let soap = soap(doc, &push(ptr, "soap"), raw.kind, raw.soap.as_ref(), errs);
    let versions = super::versions::resolve(
        doc,
        ptr,
        raw.versions,
        raw.rollout.as_ref(),
        raw.version.is_some(),
        raw.kind == ConnectorKind::Soap,
        &operations,
        errs,
    );
    let tls = match &raw.tls {
        Some(t) => crate::outbound_tls::resolve(doc, &push(ptr, "tls"), t, env, errs),
        None => Some(Default::default()),
    };
    let unified = unified(doc, &push(ptr, "unified"), &raw.unified, &operations, errs);

    let (base_url, base_path) = base?;
    let (retry, circuit) = (retry?, circuit?);
    if errs.len() > before {
        return None;
    }
    Some(Connector {
        name: name.to_owned(),
        base_url,
        base_path: format!("{base_path}{version_path}"),
        version_header,
        headers,
        timeouts,
        auth,
        quotas,
        connection_quotas,
        connection_events: raw.connection_events.clone(),
        rate_limit_headers,
        cost,
        errors_in_answer,
        quota_jitter: raw.quota_jitter.0,
        concurrency: raw.concurrency,
        max_wait: raw.max_wait.0,
        retry: retry.0,
        idempotency_header: retry.1,
        circuit: circuit.0,
        stale_fallback: circuit.1,
        cache,
        operations,
        versions,
        soap,
        tls: tls?,
        unified,
    })
}

const CONNECTOR: crate::resilience::Target = crate::resilience::Target::Connector;

/// The base URL, refused on a link-local or metadata address unless allowed.
fn confined_base(
    doc: &Document,
    ptr: &str,
    raw: &RawConnector,
    errs: &mut Vec<ConfigError>,
) -> Option<(url::Url, String)> {
    let base = base_url(doc, &push(ptr, "base_url"), &raw.base_url, errs);
    if let Some((url, _)) = &base {
        if !raw.allow_link_local && link_local(url) {
            errs.push(doc.error_at(
                &push(ptr, "base_url"),
                format!(
                    "`{}` is a link-local or cloud metadata address, where instance credentials live",
                    url.host_str().unwrap_or_default()
                ),
                Some("if this connector really calls it, add `allow_link_local: true`".into()),
            ));
        }
    }
    base
}

/// The version pin: a header with its value, or a path appended to the base.
pub(super) fn version(
    doc: &Document,
    vptr: &str,
    v: &RawVersion,
    errs: &mut Vec<ConfigError>,
) -> (Option<(http::HeaderName, http::HeaderValue)>, String) {
    match (&v.header, &v.value, &v.path) {
        (Some(h), Some(value), None) => {
            let Ok(name) = http::HeaderName::from_bytes(h.as_bytes()) else {
                errs.push(doc.error_at(
                    &push(vptr, "header"),
                    format!("invalid header name `{h}`"),
                    None,
                ));
                return (None, String::new());
            };
            let Ok(value) = http::HeaderValue::from_str(value) else {
                errs.push(doc.error_at(&push(vptr, "value"), "invalid header value", None));
                return (None, String::new());
            };
            (Some((name, value)), String::new())
        }
        (None, None, Some(p)) => match clean_path(p) {
            Ok(p) => (None, p),
            Err(why) => {
                errs.push(doc.error_at(&push(vptr, "path"), why, Some("e.g. /v2".into())));
                (None, String::new())
            }
        },
        _ => {
            errs.push(doc.error_at(
                vptr,
                "a version pin is a header with its value, or a path",
                Some(
                    "write { header: API-Version, value: \"2024-06-01\" } or { path: /v2 }".into(),
                ),
            ));
            (None, String::new())
        }
    }
}

/// Static headers: valid names and values, never credentials.
fn headers(
    doc: &Document,
    ptr: &str,
    raw: &BTreeMap<String, String>,
    errs: &mut Vec<ConfigError>,
) -> http::HeaderMap {
    let mut headers = http::HeaderMap::new();
    for (h, v) in raw {
        let hptr = push(ptr, h);
        let (Ok(name), Ok(value)) = (
            http::HeaderName::from_bytes(h.as_bytes()),
            http::HeaderValue::from_str(v),
        ) else {
            if !header_ok(h) {
                errs.push(doc.error_at_key(&hptr, format!("invalid header name `{h}`"), None));
            } else {
                errs.push(doc.error_at(&hptr, "invalid header value", None));
            }
            continue;
        };
        if name == http::header::AUTHORIZATION {
            errs.push(doc.error_at_key(
                &hptr,
                "credentials do not belong in headers",
                Some("use `auth:` (bearer, basic, api_key, oauth2_…), whose secrets come from the vault".into()),
            ));
        } else {
            headers.insert(name, value);
        }
    }
    headers
}

fn timeouts(doc: &Document, tptr: &str, t: &RawTimeouts, errs: &mut Vec<ConfigError>) -> Timeouts {
    for (field, d) in [
        ("connect", t.connect.0),
        ("attempt", t.attempt.0),
        ("total", t.total.0),
    ] {
        if d.is_zero() {
            errs.push(doc.error_at(
                &push(tptr, field),
                format!("{field} must be greater than zero"),
                None,
            ));
        }
    }
    if t.total.0 < t.attempt.0 {
        errs.push(doc.error_at(
            &push(tptr, "total"),
            "the total deadline is shorter than one attempt",
            Some("make total at least as long as attempt".into()),
        ));
    }
    Timeouts {
        connect: t.connect.0,
        attempt: t.attempt.0,
        total: t.total.0,
    }
}

/// The quota windows, with the jitter and concurrency they run under.
fn limits(doc: &Document, ptr: &str, raw: &RawConnector, errs: &mut Vec<ConfigError>) -> Vec<Rate> {
    if raw.quota_jitter.0 > std::time::Duration::from_secs(10) {
        errs.push(
            doc.error_at(
                &push(ptr, "quota_jitter"),
                "quota_jitter must be at most 10s",
                Some(
                    "it is the spread of network delays to the API, usually tens of milliseconds"
                        .into(),
                ),
            ),
        );
    }
    if raw.concurrency == 0 {
        errs.push(doc.error_at(
            &push(ptr, "concurrency"),
            "concurrency must be at least 1",
            None,
        ));
    }
    crate::units::resolve_rates(doc, &push(ptr, "quotas"), &raw.quotas, errs)
}

/// A connector's `connection_events` names a destination, and the connector keeps connections
/// (its credentials are tokens).
pub(crate) fn check_connection_events(
    doc: &Document,
    connectors: &BTreeMap<String, Connector>,
    destinations: &[&str],
    errs: &mut Vec<ConfigError>,
) {
    for c in connectors.values() {
        let Some(d) = &c.connection_events else {
            continue;
        };
        let at = push(&push("/connectors", &c.name), "connection_events");
        if !destinations.contains(&d.as_str()) {
            errs.push(doc.error_at(
                &at,
                format!("no destination named `{d}`"),
                Some(format!("destinations: {}", destinations.join(", "))),
            ));
        }
        let tokens = matches!(
            c.auth,
            Some(OutboundAuth::OAuth2 { .. } | OutboundAuth::JwtBearer { .. })
        );
        if !tokens {
            errs.push(doc.error_at(
                &at,
                "this connector's credentials come from the config: it has no connections that change",
                Some("connection events are for OAuth2 or JWT bearer connectors".into()),
            ));
        }
    }
}

/// Where errors are in a successful answer: three field paths and the codes of a spent quota.
fn answer_errors(
    doc: &Document,
    eptr: &str,
    raw: &RawAnswerErrors,
    errs: &mut Vec<ConfigError>,
) -> AnswerErrors {
    let mut path = |key: &str, text: &Option<String>, default: &str| {
        let text = text.as_deref().unwrap_or(default);
        super::operation::dotted(text)
            .filter(|p| !p.is_empty())
            .unwrap_or_else(|| {
                errs.push(doc.error_at(
                    &push(eptr, key),
                    format!("`{text}` is not a field path"),
                    Some("a dotted path such as `errors` or `extensions.code`".into()),
                ));
                Vec::new()
            })
    };
    let field = path("field", &raw.field, "errors");
    let code = path("code", &raw.code, "extensions.code");
    let message = path("message", &raw.message, "message");
    if raw.rate_limited.len() > 32
        || raw
            .rate_limited
            .iter()
            .any(|c| c.is_empty() || c.len() > 128)
    {
        errs.push(doc.error_at(
            &push(eptr, "rate_limited"),
            "at most 32 codes of 1 to 128 characters",
            None,
        ));
    }
    AnswerErrors {
        field,
        code,
        message,
        rate_limited: raw.rate_limited.clone(),
    }
}

/// What calls cost: the default, where answers say the real cost and what is left; every
/// operation's cost fits in each window.
fn cost(
    doc: &Document,
    ptr: &str,
    raw: &RawConnector,
    quotas: &[Rate],
    connection_quotas: &[Rate],
    errs: &mut Vec<ConfigError>,
) -> Cost {
    let cptr = push(ptr, "cost");
    let mut out = Cost::default();
    if let Some(c) = &raw.cost {
        if quotas.is_empty() && connection_quotas.is_empty() {
            errs.push(doc.error_at(
                &cptr,
                "costs are counted in quotas, and this connector has none",
                Some("add the vendor's limit in points, e.g. `quotas: [ 1000/20s ]`".into()),
            ));
        }
        out.default = c.default;
        let mut field = |key: &str, text: &Option<String>| -> Option<CostField> {
            let text = text.as_deref()?;
            if let Some(h) = text.strip_prefix("header:") {
                return match http::HeaderName::from_bytes(h.trim().as_bytes()) {
                    Ok(name) => Some(CostField::Header(name)),
                    Err(_) => {
                        errs.push(doc.error_at(
                            &push(&cptr, key),
                            format!("`{h}` is not a header name"),
                            None,
                        ));
                        None
                    }
                };
            }
            match super::operation::dotted(text).filter(|p| !p.is_empty()) {
                Some(path) => Some(CostField::Body(path)),
                None => {
                    errs.push(doc.error_at(
                        &push(&cptr, key),
                        format!("`{text}` is neither a field path nor `header:NAME`"),
                        Some(
                            "e.g. extensions.cost.actualQueryCost or header:X-Request-Cost".into(),
                        ),
                    ));
                    None
                }
            }
        };
        out.actual = field("actual", &c.actual);
        out.left = field("left", &c.left);
        out.limit = field("limit", &c.limit);
        if out.limit.is_some() && out.left.is_none() {
            errs.push(doc.error_at(
                &push(&cptr, "limit"),
                "`limit` says which quota the points `left` are of, and there is no `left`",
                None,
            ));
        }
    }
    let smallest = quotas
        .iter()
        .chain(connection_quotas)
        .map(|r| r.limit)
        .min();
    let priced = std::iter::once((cptr.clone(), "default", Some(out.default))).chain(
        raw.operations
            .iter()
            .map(|(name, o)| (push(&push(ptr, "operations"), name), "cost", o.cost)),
    );
    for (at, key, cost) in priced {
        let Some(cost) = cost else { continue };
        if cost == 0 {
            errs.push(doc.error_at(&push(&at, key), "a call costs at least 1 point", None));
        } else if let Some(limit) = smallest.filter(|l| cost > *l) {
            errs.push(doc.error_at(
                &push(&at, key),
                format!("a call costing {cost} points never fits in a quota of {limit}"),
                Some("the quotas' limits are in points: raise them to the vendor's, or lower the cost".into()),
            ));
        }
    }
    out
}

/// The unified resources a connector serves: `category/resource` names, a paginated GET to
/// list, a GET with one parameter (the id) to read one, both answering one model.
fn unified(
    doc: &Document,
    uptr: &str,
    raw: &BTreeMap<String, RawUnified>,
    operations: &BTreeMap<String, Operation>,
    errs: &mut Vec<ConfigError>,
) -> BTreeMap<String, Unified> {
    let mut out = BTreeMap::new();
    for (key, u) in raw {
        let rptr = push(uptr, key);
        let named = key
            .split_once('/')
            .is_some_and(|(c, r)| crate::check::valid_name(c) && crate::check::valid_name(r));
        if !named {
            errs.push(doc.error_at_key(
                &rptr,
                format!("`{key}` is not a unified resource"),
                Some("name it CATEGORY/RESOURCE, e.g. crm/contacts".into()),
            ));
            continue;
        }
        let mut op = |field: &str, name: &Option<String>| -> Option<&Operation> {
            let name = name.as_ref()?;
            let found = operations.get(name);
            if found.is_none() {
                let known: Vec<&str> = operations.keys().map(String::as_str).collect();
                errs.push(
                    doc.error_at(
                        &push(&rptr, field),
                        format!("no operation `{name}` on this connector"),
                        Some(
                            crate::check::suggest(name, &known)
                                .replace("valid keys here", "its operations"),
                        ),
                    ),
                );
            }
            found
        };
        let list = op("list", &u.list);
        let get = op("get", &u.get);
        if u.list.is_none() && u.get.is_none() {
            errs.push(doc.error_at(
                &rptr,
                "name the operation that lists it (`list`), reads one (`get`), or both",
                None,
            ));
        }
        if let Some(l) = list {
            if l.paginate.is_none() || !l.reads() {
                errs.push(
                    doc.error_at(
                        &push(&rptr, "list"),
                        "a unified list is a paginated operation that reads",
                        Some(
                            "give the operation `paginate:` (a GET, or a POST marked `safe: true`)"
                                .into(),
                        ),
                    ),
                );
            }
        }
        let mut id_param = String::new();
        if let Some(g) = get {
            // The id: the one path parameter, or the one parameter of a path without any.
            let params: Vec<&str> = g.params().collect();
            let id: Option<&str> = match (g.path_params.as_slice(), params.as_slice()) {
                ([one], _) => Some(one),
                ([], [one]) => Some(one),
                _ => None,
            };
            match id {
                Some(one) if g.method == http::Method::GET => id_param = one.to_owned(),
                _ => errs.push(doc.error_at(
                    &push(&rptr, "get"),
                    format!("a unified read is a GET operation with one path parameter, the id (this one takes {})", if params.is_empty() { "none".to_owned() } else { params.join(", ") }),
                    None,
                )),
            }
        }
        let models: Vec<Option<String>> = [list, get]
            .into_iter()
            .flatten()
            .map(|o| o.response.model.as_ref().map(|m| m.to_string()))
            .collect();
        if models.windows(2).any(|w| w[0] != w[1]) {
            errs.push(doc.error_at(
                &rptr,
                "the list and the read answer different models",
                Some("a unified resource has one canonical model".into()),
            ));
        }
        out.insert(
            key.clone(),
            Unified {
                list: u.list.clone(),
                get: u.get.clone().map(|g| (g, id_param)),
                model: models.into_iter().next().flatten(),
            },
        );
    }
    out
}

/// Every connector serving one unified resource answers the same model.
pub(crate) fn check_unified(
    doc: &Document,
    connectors: &BTreeMap<String, Connector>,
    errs: &mut Vec<ConfigError>,
) {
    let mut first: BTreeMap<&str, (&str, &Option<String>)> = BTreeMap::new();
    for c in connectors.values() {
        for (key, u) in &c.unified {
            match first.get(key.as_str()) {
                None => {
                    first.insert(key, (&c.name, &u.model));
                }
                Some((other, model)) if *model != &u.model => errs.push(doc.error_at(
                    &push(&push(&push("/connectors", &c.name), "unified"), key),
                    format!(
                        "`{key}` answers {} here but {} on connector `{other}`",
                        u.model.as_deref().unwrap_or("no model"),
                        model.as_deref().unwrap_or("no model")
                    ),
                    Some("every connector serving a unified resource answers its one canonical model".into()),
                )),
                Some(_) => {}
            }
        }
    }
}

/// A vendor's rate-limit headers: one of `remaining` and `used_of_limit`, valid names.
fn vendor_headers(
    doc: &Document,
    hptr: &str,
    h: &RawRateLimitHeaders,
    errs: &mut Vec<ConfigError>,
) -> Option<junction_resilience::VendorHeaders> {
    let before = errs.len();
    if h.remaining.is_some() == h.used_of_limit.is_some() {
        errs.push(doc.error_at(
            hptr,
            "name one header with the calls left: `remaining` or `used_of_limit`",
            Some("e.g. { remaining: X-Rate-Limit-Remaining, window: 1m }".into()),
        ));
    }
    let mut name = |field: &str, v: &Option<String>| -> Option<String> {
        let v = v.as_ref()?;
        if !header_ok(v) {
            errs.push(doc.error_at(
                &push(hptr, field),
                format!("invalid header name `{v}`"),
                None,
            ));
        }
        Some(v.to_ascii_lowercase())
    };
    let remaining = name("remaining", &h.remaining);
    let used_of_limit = name("used_of_limit", &h.used_of_limit);
    let reset = name("reset", &h.reset);
    if h.window.0.is_zero() || h.window.0 > junction_resilience::quota::LONGEST_HINT {
        errs.push(doc.error_at(
            &push(hptr, "window"),
            "the window must be longer than zero and at most 31 days",
            None,
        ));
    }
    (errs.len() == before).then_some(junction_resilience::VendorHeaders {
        remaining,
        used_of_limit,
        reset,
        reset_unit: match h.reset_unit {
            ResetUnit::Seconds => junction_resilience::ResetUnit::Seconds,
            ResetUnit::Milliseconds => junction_resilience::ResetUnit::Milliseconds,
            ResetUnit::Unix => junction_resilience::ResetUnit::Unix,
        },
        window: h.window.0,
    })
}

fn cache(doc: &Document, kptr: &str, c: &RawCache, errs: &mut Vec<ConfigError>) -> Option<Cache> {
    match (c.mode, c.ttl) {
        (CacheMode::Ttl, None) => {
            errs.push(doc.error_at(
                kptr,
                "mode ttl needs a `ttl`",
                Some("e.g. { mode: ttl, ttl: 5m }".into()),
            ));
            None
        }
        (CacheMode::Http, Some(_)) => {
            errs.push(doc.error_at(
                &push(kptr, "ttl"),
                "`ttl` is for mode ttl; mode http follows the responses' own Cache-Control",
                Some("write mode: ttl to force a lifetime".into()),
            ));
            None
        }
        (mode, ttl) => Some(Cache {
            ttl: (mode == CacheMode::Ttl).then(|| ttl.map(|t| t.0)).flatten(),
            max_size: c.max_size.0,
            max_entry: c.max_entry.0.min(c.max_size.0),
        }),
    }
}

fn soap(
    doc: &Document,
    sptr: &str,
    kind: ConnectorKind,
    raw: Option<&RawSoap>,
    errs: &mut Vec<ConfigError>,
) -> Option<Soap> {
    use junction_transform::codec::soap::Version;
    match (kind, raw) {
        (ConnectorKind::Rest, Some(_)) => {
            errs.push(doc.error_at(sptr, "`soap` settings need `kind: soap`", None));
            None
        }
        (ConnectorKind::Rest, None) => None,
        (ConnectorKind::Soap, s) => {
            let version = match s.and_then(|s| s.version.as_deref()) {
                None | Some("1.1") => Version::V11,
                Some("1.2") => Version::V12,
                Some(other) => {
                    errs.push(doc.error_at(
                        &push(sptr, "version"),
                        format!("unknown SOAP version `{other}`"),
                        Some("write \"1.1\" or \"1.2\"".into()),
                    ));
                    Version::V11
                }
            };
            Some(Soap {
                version,
                namespace: s.and_then(|s| s.namespace.clone()),
            })
        }
    }
}

/// The base URL: http(s), a host, no credentials, query or fragment. Returns the origin URL and
/// the base path without its trailing `/`.
fn base_url(
    doc: &Document,
    ptr: &str,
    text: &str,
    errs: &mut Vec<ConfigError>,
) -> Option<(url::Url, String)> {
    let url = match url::Url::parse(text) {
        Ok(u) => u,
        Err(e) => {
            errs.push(doc.error_at(
                ptr,
                format!("invalid URL `{text}`: {e}"),
                Some("e.g. https://api.example.com/v1".into()),
            ));
            return None;
        }
    };
    let why = if !matches!(url.scheme(), "http" | "https") {
        Some(format!("unsupported scheme `{}`", url.scheme()))
    } else if url.host_str().is_none_or(str::is_empty) {
        Some("the URL has no host".into())
    } else if !url.username().is_empty() || url.password().is_some() {
        Some("the URL carries credentials".into())
    } else if url.query().is_some() || url.fragment().is_some() {
        Some("the base URL has a query or fragment".into())
    } else {
        None
    };
    if let Some(why) = why {
        errs.push(doc.error_at(
            ptr,
            why,
            Some("write http(s)://HOST[:PORT][/PATH]; credentials go in `auth:`".into()),
        ));
        return None;
    }
    let path = url.path().trim_end_matches('/').to_owned();
    Some((url, path))
}

/// Whether `url` points at a link-local address or a cloud metadata name (by literal address
/// or well-known name; a DNS name that resolves there is not caught here).
fn link_local(url: &url::Url) -> bool {
    match url.host() {
        Some(url::Host::Ipv4(ip)) => ip.is_link_local(),
        Some(url::Host::Ipv6(ip)) => {
            (ip.segments()[0] & 0xffc0) == 0xfe80
                || ip.to_ipv4_mapped().is_some_and(|v4| v4.is_link_local())
        }
        Some(url::Host::Domain(d)) => {
            let d = d.trim_end_matches('.').to_ascii_lowercase();
            matches!(
                d.as_str(),
                "metadata.google.internal" | "metadata" | "instance-data"
            )
        }
        None => false,
    }
}

/// A path as written in the config: starts with `/`, no `..`, `.` or `\` segments.
pub(super) fn clean_path(p: &str) -> Result<String, String> {
    if !p.starts_with('/') {
        return Err(format!("`{p}` must start with `/`"));
    }
    if p.contains('\\')
        || p.split('/').any(|s| s == ".." || s == ".")
        || p.contains('?')
        || p.contains('#')
    {
        return Err(format!(
            "`{p}` has `.`/`..` segments, a backslash, a query or a fragment"
        ));
    }
    Ok(p.trim_end_matches('/').to_owned())
}

fn auth(
    doc: &Document,
    ptr: &str,
    raw: RawAuth,
    env: Env,
    errs: &mut Vec<ConfigError>,
) -> Option<OutboundAuth> {
    let sec = |field: &str, text: &str, errs: &mut Vec<ConfigError>| {
        secret(doc, &push(ptr, field), text, env, errs)
    };
    match raw {
        RawAuth::ApiKey { header, query, key } => {
            let place = match (header, query) {
                (Some(h), None) if header_ok(&h) => KeyPlace::Header(h),
                (Some(h), None) => {
                    errs.push(doc.error_at(
                        &push(ptr, "header"),
                        format!("invalid header name `{h}`"),
                        None,
                    ));
                    return None;
                }
                (None, Some(q)) if !q.is_empty() => KeyPlace::Query(q),
                _ => {
                    errs.push(doc.error_at(
                        ptr,
                        "an API key goes in a header or in a query parameter",
                        Some("write `header: X-Api-Key` or `query: api_key`".into()),
                    ));
                    return None;
                }
            };
            Some(OutboundAuth::ApiKey {
                place,
                key: sec("key", &key, errs)?,
            })
        }
        RawAuth::Basic { username, password } => Some(OutboundAuth::Basic {
            username,
            password: sec("password", &password, errs)?,
        }),
        RawAuth::Bearer { token } => Some(OutboundAuth::Bearer {
            token: sec("token", &token, errs)?,
        }),
        RawAuth::Oauth2ClientCredentials(o) => {
            oauth(doc, ptr, o, Grant::ClientCredentials, env, errs)
        }
        RawAuth::Oauth2RefreshToken(o) => oauth(doc, ptr, o, Grant::RefreshToken, env, errs),
        RawAuth::JwtBearer(j) => {
            let token_url = token_url(doc, ptr, &j.token_url, errs);
            let lifetime = lifetime(doc, ptr, &j.lifetime, errs);
            let key = sec("private_key", &j.private_key, errs);
            let audience = j.audience.unwrap_or_else(|| j.token_url.clone());
            Some(OutboundAuth::JwtBearer {
                jwt: JwtBearer {
                    token_url: token_url?,
                    subject: j.subject.unwrap_or_else(|| j.issuer.clone()),
                    issuer: j.issuer,
                    audience,
                    private_key: key?,
                    algorithm: j.algorithm,
                    key_id: j.key_id,
                    scopes: j.scopes,
                },
                lifetime: lifetime?,
            })
        }
        RawAuth::Hmac(h) => {
            if !header_ok(&h.header) {
                errs.push(doc.error_at(
                    &push(ptr, "header"),
                    format!("invalid header name `{}`", h.header),
                    None,
                ));
            }
            if let Some(t) = &h.timestamp_header {
                if !header_ok(t) {
                    errs.push(doc.error_at(
                        &push(ptr, "timestamp_header"),
                        format!("invalid header name `{t}`"),
                        None,
                    ));
                }
            }
            let mut rest = h.signed.as_str();
            while let Some(i) = rest.find('{') {
                let Some(j) = rest[i..].find('}') else { break };
                let name = &rest[i + 1..i + j];
                if !["method", "path", "timestamp", "body"].contains(&name) {
                    errs.push(doc.error_at(
                        &push(ptr, "signed"),
                        format!("unknown placeholder `{{{name}}}`"),
                        Some("use {method}, {path}, {timestamp} and {body}".into()),
                    ));
                }
                rest = &rest[i + j + 1..];
            }
            Some(OutboundAuth::Hmac(HmacSigning {
                secret: sec("secret", &h.secret, errs)?,
                header: h.header,
                algorithm: h.algorithm,
                encoding: h.encoding,
                prefix: h.prefix.unwrap_or_default(),
                signed: h.signed,
                timestamp_header: h.timestamp_header,
            }))
        }
    }
}

fn oauth(
    doc: &Document,
    ptr: &str,
    o: RawOAuth,
    grant: Grant,
    env: Env,
    errs: &mut Vec<ConfigError>,
) -> Option<OutboundAuth> {
    let url = token_url(doc, ptr, &o.token_url, errs);
    let lifetime = lifetime(doc, ptr, &o.lifetime, errs);
    let client_secret = match &o.client_secret {
        Some(s) => Some(secret(doc, &push(ptr, "client_secret"), s, env, errs)?),
        None if grant == Grant::ClientCredentials => {
            errs.push(doc.error_at(
                ptr,
                "the client credentials grant needs a client_secret",
                Some("add `client_secret: secret:NAME`".into()),
            ));
            return None;
        }
        None => None,
    };
    if o.client_id.is_empty() {
        errs.push(doc.error_at(&push(ptr, "client_id"), "client_id is empty", None));
    }
    let authorize_url = match (&o.authorize_url, grant) {
        (None, _) => None,
        (Some(_), Grant::ClientCredentials) => {
            errs.push(doc.error_at(
                &push(ptr, "authorize_url"),
                "end users authorize only for the refresh token grant",
                Some("use `kind: oauth2_refresh_token`, or remove authorize_url".into()),
            ));
            None
        }
        (Some(text), Grant::RefreshToken) => {
            let mut at = Vec::new();
            let parsed = token_url(doc, ptr, text, &mut at);
            if !at.is_empty() {
                errs.push(doc.error_at(
                    &push(ptr, "authorize_url"),
                    format!("invalid authorization URL `{text}`"),
                    Some("e.g. https://app.example.com/oauth/authorize".into()),
                ));
            }
            parsed
        }
    };
    Some(OutboundAuth::OAuth2 {
        grant,
        oauth: OAuth {
            token_url: url?,
            authorize_url,
            client_id: o.client_id,
            client_secret,
            scopes: o.scopes,
            client_auth: o.client_auth,
            lifetime: lifetime?,
        },
    })
}

fn token_url(
    doc: &Document,
    ptr: &str,
    text: &str,
    errs: &mut Vec<ConfigError>,
) -> Option<url::Url> {
    match url::Url::parse(text) {
        Ok(u) if matches!(u.scheme(), "http" | "https") && u.host_str().is_some() => Some(u),
        _ => {
            errs.push(doc.error_at(
                &push(ptr, "token_url"),
                format!("invalid token URL `{text}`"),
                Some("e.g. https://auth.example.com/oauth/token".into()),
            ));
            None
        }
    }
}

fn lifetime(
    doc: &Document,
    ptr: &str,
    l: &RawTokenLifetime,
    errs: &mut Vec<ConfigError>,
) -> Option<TokenLifetime> {
    let before = errs.len();
    if l.refresh_at.0 <= 0.0 {
        errs.push(doc.error_at(
            &push(ptr, "refresh_at"),
            "refresh_at must be above 0",
            Some("the default is 0.8 (80% of the lifetime)".into()),
        ));
    }
    if l.default_lifetime.0.is_zero() {
        errs.push(doc.error_at(
            &push(ptr, "default_lifetime"),
            "default_lifetime must be greater than zero",
            None,
        ));
    }
    if l.reauth_after == 0 {
        errs.push(doc.error_at(
            &push(ptr, "reauth_after"),
            "reauth_after must be at least 1",
            None,
        ));
    }
    (errs.len() == before).then_some(TokenLifetime {
        refresh_at: l.refresh_at.0,
        default_lifetime: l.default_lifetime.0,
        reauth_after: l.reauth_after,
    })
}
