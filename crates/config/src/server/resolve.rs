//! `server`, `store` and `telemetry` resolved: addresses, limits, the database URL, OTLP.

use std::net::SocketAddr;
use std::path::{Path, PathBuf};

use super::raw::{RawOtlp, RawServer, RawStore, RawTelemetry, RawTls};
use super::resolved::{AuditRetention, DatabaseUrl, Otlp, Server, Store, Telemetry, Tls};
use crate::error::ConfigError;
use crate::yaml::{push, Document};
use crate::Overrides;

/// Where an overridden value came from, so its errors point there instead of the file.
pub(crate) fn override_error(from: &str, field: &str, message: String, hint: &str) -> ConfigError {
    ConfigError {
        file: from.to_owned(),
        line: None,
        col: None,
        field: field.to_owned(),
        message,
        hint: Some(hint.to_owned()),
    }
}

pub(crate) fn resolve_server(
    doc: &Document,
    raw: RawServer,
    o: &Overrides,
    errs: &mut Vec<ConfigError>,
) -> Option<Server> {
    let listen = match &o.listen {
        Some(l) => l.parse::<SocketAddr>().map_err(|e| {
            override_error(
                "--listen / JUNCTION_LISTEN",
                "server.listen",
                format!("invalid address `{l}`: {e}"),
                "write HOST:PORT, e.g. 127.0.0.1:8080",
            )
        }),
        None => raw.listen.parse::<SocketAddr>().map_err(|e| {
            doc.error_at(
                "/server/listen",
                format!("invalid address `{}`: {e}", raw.listen),
                Some("write IP:PORT, e.g. 127.0.0.1:8080 or 0.0.0.0:8080".into()),
            )
        }),
    };
    let listen = listen.map_err(|e| errs.push(e)).ok();
    let limit = raw.body_limit.0;
    if limit == 0 || limit > 1 << 30 {
        errs.push(doc.error_at(
            "/server/body_limit",
            format!("body_limit must be between 1B and 1GiB, got {limit} bytes"),
            Some("the default is 1MiB".into()),
        ));
    }
    for (field, d) in [
        ("request_timeout", raw.request_timeout.0),
        ("shutdown_grace", raw.shutdown_grace.0),
        ("header_timeout", raw.header_timeout.0),
    ] {
        if d.is_zero() {
            errs.push(doc.error_at(
                &format!("/server/{field}"),
                format!("{field} must be greater than zero"),
                None,
            ));
        }
    }
    if raw.max_connections == 0 {
        errs.push(doc.error_at(
            "/server/max_connections",
            "max_connections must be at least 1",
            Some("the default is 10000; keep it below the process's open-file limit".into()),
        ));
    }
    let mut hosts = Vec::with_capacity(raw.hosts.len());
    for (i, h) in raw.hosts.iter().enumerate() {
        let ok = !h.is_empty()
            && h.len() <= 253
            && h.bytes()
                .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'.');
        if ok {
            hosts.push(h.to_ascii_lowercase());
        } else {
            errs.push(
                doc.error_at(
                    &format!("/server/hosts/{i}"),
                    format!("`{h}` is not a host name"),
                    Some(
                        "write the name alone, without scheme or port: junction.internal.example"
                            .into(),
                    ),
                ),
            );
        }
    }
    let public_url = raw
        .public_url
        .as_ref()
        .and_then(|u| match url::Url::parse(u) {
            Ok(url)
                if matches!(url.scheme(), "http" | "https")
                    && url.host_str().is_some()
                    && url.query().is_none() =>
            {
                Some(url)
            }
            _ => {
                errs.push(doc.error_at(
                    "/server/public_url",
                    format!("`{u}` is not an http(s) address"),
                    Some("e.g. https://junction.example.com (no query)".into()),
                ));
                None
            }
        });
    let tls = raw.tls.as_ref().and_then(|t| resolve_tls(doc, t, errs));
    let per_source = crate::units::resolve_rates(
        doc,
        "/server/rate_limits/per_source",
        &raw.rate_limits.per_source,
        errs,
    );
    let per_token = crate::units::resolve_rates(
        doc,
        "/server/rate_limits/per_token",
        &raw.rate_limits.per_token,
        errs,
    );
    if raw.pii.fields.len() > 64 {
        errs.push(doc.error_at("/server/pii/fields", "at most 64 field names", None));
    }
    for (i, f) in raw.pii.fields.iter().enumerate() {
        let ok = !f.is_empty()
            && f.len() <= 64
            && f.bytes()
                .all(|b| b.is_ascii_alphanumeric() || b == b'_' || b == b'-');
        if !ok {
            errs.push(doc.error_at(
                &format!("/server/pii/fields/{i}"),
                format!("`{f}` is not a field name"),
                Some("write the field's name alone (letters, digits, `_`, `-`): it is masked at any depth".into()),
            ));
        }
    }
    let audit = raw.audit.as_ref().and_then(|a| {
        if a.retention.0 < std::time::Duration::from_secs(86_400) {
            errs.push(doc.error_at(
                "/server/audit/retention",
                "the audit log is kept at least 1 day",
                Some("e.g. `retention: 365d`; leave server.audit out to keep it forever".into()),
            ));
            return None;
        }
        if a.archive.trim().is_empty() {
            errs.push(doc.error_at(
                "/server/audit/archive",
                "entries are deleted only once written to the archive: name its folder",
                Some("e.g. `archive: ./audit-archive`".into()),
            ));
            return None;
        }
        Some(AuditRetention {
            retention: a.retention.0,
            archive: crate::data::resolve::base_dir(doc).join(&a.archive),
        })
    });
    Some(Server {
        audit,
        pii_mask: raw.pii.mask,
        pii_fields: raw.pii.fields.clone(),
        listen: listen?,
        body_limit: usize::try_from(limit).ok()?,
        request_timeout: raw.request_timeout.0,
        shutdown_grace: raw.shutdown_grace.0,
        header_timeout: raw.header_timeout.0,
        max_connections: raw.max_connections as usize,
        hosts,
        public_url,
        tls,
        per_source,
        per_token,
    })
}

/// The TLS files, relative to the config file's folder; each must be a readable PEM file (the
/// server parses them, and says what is wrong with one it cannot use).
fn resolve_tls(doc: &Document, raw: &RawTls, errs: &mut Vec<ConfigError>) -> Option<Tls> {
    let base = crate::data::resolve::base_dir(doc);
    let mut file = |field: &str, name: &str| -> Option<PathBuf> {
        let path = base.join(name);
        match std::fs::read(&path) {
            Ok(bytes) if bytes.windows(11).any(|w| w == b"-----BEGIN ") => Some(path),
            Ok(_) => {
                errs.push(doc.error_at(
                    &format!("/server/tls/{field}"),
                    format!("{} is not a PEM file", path.display()),
                    Some("PEM files hold blocks like -----BEGIN CERTIFICATE-----".into()),
                ));
                None
            }
            Err(e) => {
                errs.push(doc.error_at(
                    &format!("/server/tls/{field}"),
                    format!("cannot read {}: {e}", path.display()),
                    Some("paths are relative to the config file's folder".into()),
                ));
                None
            }
        }
    };
    let cert = file("cert", &raw.cert);
    let key = file("key", &raw.key);
    let client_ca = match &raw.client_ca {
        Some(ca) => Some(file("client_ca", ca)?),
        None => None,
    };
    let mut clients = std::collections::BTreeMap::new();
    if !raw.clients.is_empty() && client_ca.is_none() {
        errs.push(doc.error_at(
            "/server/tls/clients",
            "clients are named by their certificates, and certificates are asked for only with client_ca",
            Some("add `client_ca: FILE` (the authorities that issue the clients' certificates)".into()),
        ));
        return None;
    }
    for (name, c) in &raw.clients {
        let ptr = format!("/server/tls/clients/{name}/scopes");
        if name.is_empty() || name.len() > 255 || name.chars().any(char::is_control) {
            errs.push(doc.error_at(&ptr, "a client's name is 1-255 printable characters", None));
        }
        if let Some(bad) = c.scopes.iter().find(|s| !junction_core::scope::valid(s)) {
            errs.push(doc.error_at(
                &ptr,
                format!("invalid scope `{bad}`"),
                Some("proxy:CONNECTOR:METHOD, op:CONNECTOR:OPERATION (either part *), role:viewer|operator|admin".into()),
            ));
        }
        clients.insert(name.clone(), c.scopes.join(" "));
    }
    Some(Tls {
        cert: cert?,
        key: key?,
        client_ca,
        clients,
    })
}

/// Parses `sqlite://PATH`, `sqlite::memory:` or `postgres://…`.
pub(crate) fn parse_database_url(url: &str) -> Result<DatabaseUrl, (String, &'static str)> {
    const HINT: &str =
        "use sqlite://PATH (e.g. sqlite://./data/junction.db) or postgres://USER@HOST:PORT/DB";
    if let Some(rest) = url.strip_prefix("sqlite:") {
        let rest = rest.strip_prefix("//").unwrap_or(rest);
        let path = rest.split('?').next().unwrap_or_default();
        if path.is_empty() {
            return Err((format!("`{url}` names no SQLite file"), HINT));
        }
        return Ok(DatabaseUrl::Sqlite(PathBuf::from(path)));
    }
    if url.starts_with("postgres://") || url.starts_with("postgresql://") {
        let parsed =
            url::Url::parse(url).map_err(|e| (format!("invalid PostgreSQL URL: {e}"), HINT))?;
        if parsed.host_str().is_none_or(str::is_empty) {
            return Err(("the PostgreSQL URL names no host".into(), HINT));
        }
        if let Some(pw) = parsed.password() {
            junction_core::mask::register(pw);
            if let Ok(decoded) = url::form_urlencoded::parse(format!("p={pw}").as_bytes())
                .next()
                .map(|(_, v)| v.into_owned())
                .ok_or(())
            {
                junction_core::mask::register(&decoded);
            }
        }
        return Ok(DatabaseUrl::Postgres(url.to_owned()));
    }
    let scheme = url.split(':').next().unwrap_or(url);
    Err((format!("unsupported database `{scheme}`"), HINT))
}

pub(crate) fn resolve_store(
    doc: &Document,
    raw: RawStore,
    o: &Overrides,
    errs: &mut Vec<ConfigError>,
) -> Option<Store> {
    let url = match &o.database_url {
        Some(u) => parse_database_url(u)
            .map_err(|(m, h)| override_error("env JUNCTION_DATABASE_URL", "store.url", m, h)),
        // A relative SQLite path in the file is relative to the file, as model files are (the
        // environment's JUNCTION_DATABASE_URL is relative to the working directory).
        None => parse_database_url(&raw.url)
            .map(|url| match url {
                DatabaseUrl::Sqlite(p) if p.is_relative() && p != Path::new(":memory:") => {
                    DatabaseUrl::Sqlite(crate::data::resolve::base_dir(doc).join(p))
                }
                other => other,
            })
            .map_err(|(m, h)| doc.error_at("/store/url", m, Some(h.into()))),
    };
    let url = url.map_err(|e| errs.push(e)).ok();
    if raw.max_connections == 0 {
        errs.push(doc.error_at(
            "/store/max_connections",
            "max_connections must be at least 1",
            None,
        ));
    }
    Some(Store {
        url: url?,
        max_connections: raw.max_connections.max(1),
        connect_timeout: raw.connect_timeout.0,
    })
}

pub(crate) fn resolve_telemetry(
    doc: &Document,
    raw: RawTelemetry,
    o: &Overrides,
    errs: &mut Vec<ConfigError>,
) -> Option<Telemetry> {
    if let Err(e) = tracing_subscriber::EnvFilter::builder().parse(&raw.log_level) {
        errs.push(
            doc.error_at(
                "/telemetry/log_level",
                format!("invalid log filter `{}`: {e}", raw.log_level),
                Some(
                    "write a level (info, debug) or directives such as info,junction_store=debug"
                        .into(),
                ),
            ),
        );
    }
    let otlp = match raw.otlp {
        Some(otlp) => Some(resolve_otlp(doc, otlp, errs)?),
        None => None,
    };
    Some(Telemetry {
        log_format: o.log_format.unwrap_or(raw.log_format),
        log_level: raw.log_level,
        otlp,
    })
}

fn resolve_otlp(doc: &Document, raw: RawOtlp, errs: &mut Vec<ConfigError>) -> Option<Otlp> {
    let endpoint = match url::Url::parse(&raw.endpoint) {
        Ok(u) if matches!(u.scheme(), "http" | "https") => {
            let mut u = u;
            if !u.path().ends_with("/v1/traces") {
                let path = format!("{}/v1/traces", u.path().trim_end_matches('/'));
                u.set_path(&path);
            }
            Some(u)
        }
        Ok(u) => {
            errs.push(doc.error_at(
                "/telemetry/otlp/endpoint",
                format!("unsupported scheme `{}`", u.scheme()),
                Some("OTLP/HTTP needs http:// or https://, e.g. http://127.0.0.1:4318".into()),
            ));
            None
        }
        Err(e) => {
            errs.push(doc.error_at(
                "/telemetry/otlp/endpoint",
                format!("invalid URL `{}`: {e}", raw.endpoint),
                Some("e.g. http://127.0.0.1:4318".into()),
            ));
            None
        }
    };
    if !(0.0..=1.0).contains(&raw.sample_ratio) {
        errs.push(doc.error_at(
            "/telemetry/otlp/sample_ratio",
            format!(
                "sample_ratio must be between 0.0 and 1.0, got {}",
                raw.sample_ratio
            ),
            None,
        ));
    }
    for (k, v) in &raw.headers {
        crate::secrets::no_reference(doc, &push("/telemetry/otlp/headers", k), v, errs);
    }
    Some(Otlp {
        endpoint: endpoint?,
        service_name: raw.service_name,
        sample_ratio: raw.sample_ratio.clamp(0.0, 1.0),
        headers: raw.headers.into_iter().collect(),
        timeout: raw.timeout.0,
    })
}
