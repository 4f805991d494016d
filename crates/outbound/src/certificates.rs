//! When the certificates Junction uses expire — the listener's (`server`, `client_ca`) and each
//! connector's and destination's (`connector/NAME/client`, `destination/NAME/ca`, …) — for the
//! gauge `junction_tls_certificate_expiry_timestamp_seconds{certificate}` and the
//! `certificate_expiring` alert. The names come from the config: a closed set.

use std::collections::BTreeMap;
use std::sync::Mutex;

use rustls_pki_types::CertificateDer;

/// By group (`server`, `connectors`, `destinations`): each group is replaced whole when what it
/// uses changes, so a certificate no longer configured stops being reported.
static IN_USE: Mutex<BTreeMap<&'static str, Vec<(String, i64)>>> = Mutex::new(BTreeMap::new());

/// Makes `entries` the certificates `group` uses: `(name, notAfter in Unix seconds)`.
pub fn record(group: &'static str, entries: Vec<(String, i64)>) {
    let mut all = IN_USE.lock().unwrap_or_else(|p| p.into_inner());
    for (name, at) in &entries {
        metrics::gauge!("junction_tls_certificate_expiry_timestamp_seconds", "certificate" => name.clone())
            .set(*at as f64);
    }
    all.insert(group, entries);
}

/// Every certificate in use and when it expires (Unix seconds), by name.
pub fn expiries() -> Vec<(String, i64)> {
    IN_USE
        .lock()
        .unwrap_or_else(|p| p.into_inner())
        .values()
        .flatten()
        .cloned()
        .collect()
}

/// The earliest `notAfter` among `certs`, in Unix seconds: a chain (or a bundle of authorities)
/// stops working for someone when its first certificate expires.
pub fn not_after(certs: &[CertificateDer<'_>]) -> Option<i64> {
    certs
        .iter()
        .filter_map(|c| x509_parser::parse_x509_certificate(c.as_ref()).ok())
        .map(|(_, x)| x.validity().not_after.timestamp())
        .min()
}
