//! Drift of REST answers relayed by `/proxy`: each JSON answer (relayed whole) is compared with
//! the shape learned for its connector, method and path template, off the answer's path. A 2xx
//! that says JSON but is not is recorded as an unexpected body. After the first answers of a
//! subject, one answer in [`SAMPLE`] is looked at: drift persists, so sampling finds it while
//! keeping the proxy's cost low.

use bytes::Bytes;
use std::sync::Arc;

use junction_transform::drift::{Drift, Kind, Tracker};

#[cfg(test)]
fn template(path: &str) -> String {
    let mut t = String::with_capacity(path.len() + 8);
    subject_path(&mut t, path);
    t
}

/// Appends the path's template to `out`: `/v1/customers/cus_000002` → `/v1/customers/{id}` (a
/// segment with a digit is an identifier, except a version: `v1`, `v2.1`; so is one longer than
/// 40 bytes). Subjects stay few per endpoint; the tracker bounds how many are kept at all.
fn subject_path(out: &mut String, path: &str) {
    if !path.starts_with('/') {
        out.push('/');
    }
    for (i, s) in path.split('/').enumerate() {
        if i > 0 {
            out.push('/');
        }
        // Long segments are identifiers too (hashes, slugs, encoded values).
        if (s.bytes().any(|b| b.is_ascii_digit()) && !is_version(s)) || s.len() > 40 {
            out.push_str("{id}");
        } else {
            out.push_str(s);
        }
    }
}

/// `crm GET /v1/customers/{id}`: what drift of an answer is recorded under.
fn subject(connector: &str, method: &http::Method, path: &str) -> String {
    let mut s = String::with_capacity(connector.len() + path.len() + 16);
    s.push_str(connector);
    s.push(' ');
    s.push_str(junction_telemetry::metrics::method_label(method));
    s.push(' ');
    subject_path(&mut s, path);
    s
}

fn is_version(s: &str) -> bool {
    s.strip_prefix('v')
        .is_some_and(|n| !n.is_empty() && n.bytes().all(|b| b.is_ascii_digit() || b == b'.'))
}

/// Records a vendor's `Deprecation` / `Sunset` headers (and the `Link` that documents them) for
/// the endpoint that sent them.
pub fn deprecation(
    tracker: &Tracker,
    connector: &str,
    method: &http::Method,
    path: &str,
    headers: &http::HeaderMap,
) {
    let deprecation = headers.get("deprecation");
    let sunset = headers.get("sunset");
    if deprecation.is_none() && sunset.is_none() {
        return;
    }
    let subject = subject(connector, method, path);
    if !tracker.wants("deprecation", &subject) {
        return;
    }
    let text = |name: &str, v: Option<&http::HeaderValue>| {
        v.and_then(|v| v.to_str().ok())
            .map(|v| format!("{name}: {v}"))
    };
    let detail: Vec<String> = [
        text("Deprecation", deprecation),
        text("Sunset", sunset),
        text("Link", headers.get("link")),
    ]
    .into_iter()
    .flatten()
    .collect();
    tracker.record(
        "connector",
        &subject,
        &[Drift {
            path: String::new(),
            kind: Kind::Deprecated,
            detail: detail.join("; "),
        }],
        junction_core::time::now_ms(),
    );
}

pub fn observe(
    tracker: Arc<Tracker>,
    connector: &str,
    method: &http::Method,
    path: &str,
    body: Bytes,
) {
    let subject = subject(connector, method, path);
    if !tracker.wants("connector", &subject) {
        return;
    }
    tokio::spawn(async move {
        let now = junction_core::time::now_ms();
        match serde_json::from_slice::<serde_json::Value>(&body) {
            Ok(v) => {
                tracker.observe("connector", &subject, &v, now);
            }
            Err(e) => tracker.record(
                "connector",
                &subject,
                &[Drift {
                    path: String::new(),
                    kind: Kind::UnexpectedBody,
                    detail: format!("a 2xx answer says JSON but is not: {e}"),
                }],
                now,
            ),
        }
    });
}

#[cfg(test)]
mod tests {
    #[test]
    fn identifiers_become_placeholders() {
        assert_eq!(
            super::template("v1/customers/cus_000002"),
            "/v1/customers/{id}"
        );
        assert_eq!(super::template("/v2/orders"), "/v2/orders");
        assert_eq!(super::template(""), "/");
        assert_eq!(super::template("/v2.1/a1/b/"), "/v2.1/{id}/b/");
        assert_eq!(
            super::subject("crm", &http::Method::GET, "v1/customers/cus_000002"),
            "crm GET /v1/customers/{id}"
        );
    }
}
