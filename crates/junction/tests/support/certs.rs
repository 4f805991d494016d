//! Certificates made in the test (rcgen): authorities and the certificates they issue.

use std::time::{Duration, SystemTime};

use rcgen::{
    date_time_ymd, BasicConstraints, CertificateParams, DnType, IsCa, Issuer, KeyPair,
    KeyUsagePurpose,
};

/// A certificate authority made for the test.
pub struct Ca {
    pub pem: String,
    issuer: Issuer<'static, KeyPair>,
}

pub fn make_ca(name: &str) -> Ca {
    let key = KeyPair::generate().unwrap();
    let mut params = CertificateParams::new(Vec::<String>::new()).unwrap();
    params.is_ca = IsCa::Ca(BasicConstraints::Unconstrained);
    params.distinguished_name.push(DnType::CommonName, name);
    params.key_usages = vec![KeyUsagePurpose::KeyCertSign, KeyUsagePurpose::CrlSign];
    let cert = params.self_signed(&key).unwrap();
    Ca {
        pem: cert.pem(),
        issuer: Issuer::new(params, key),
    }
}

/// A certificate for `names` issued by `ca`, valid until the start of `until` (year);
/// (cert PEM, key PEM).
pub fn leaf(ca: &Ca, names: &[&str], cn: &str, until: i32) -> (String, String) {
    issue(ca, names, cn, |p| p.not_after = date_time_ymd(until, 1, 1))
}

/// Like [`leaf`], valid for `days` more days from now.
pub fn leaf_for_days(ca: &Ca, names: &[&str], cn: &str, days: u64) -> (String, String) {
    let now = SystemTime::now()
        .duration_since(SystemTime::UNIX_EPOCH)
        .unwrap();
    let until = now + Duration::from_secs(days * 86_400);
    issue(ca, names, cn, |p| {
        p.not_after = date_time_ymd(1970, 1, 1) + until
    })
}

/// A client certificate named by a URI (a SPIFFE id) and `cn`, valid until 2099.
pub fn leaf_uri(ca: &Ca, uri: &str, cn: &str) -> (String, String) {
    issue(ca, &[], cn, |p| {
        p.not_after = date_time_ymd(2099, 1, 1);
        p.subject_alt_names
            .push(rcgen::SanType::URI(uri.try_into().unwrap()));
    })
}

fn issue(
    ca: &Ca,
    names: &[&str],
    cn: &str,
    valid: impl FnOnce(&mut CertificateParams),
) -> (String, String) {
    let key = KeyPair::generate().unwrap();
    let mut params =
        CertificateParams::new(names.iter().map(|n| n.to_string()).collect::<Vec<_>>()).unwrap();
    params.distinguished_name.push(DnType::CommonName, cn);
    params.not_before = date_time_ymd(2020, 1, 1);
    valid(&mut params);
    let cert = params.signed_by(&key, &ca.issuer).unwrap();
    (cert.pem(), key.serialize_pem())
}
