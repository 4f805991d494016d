//! What every HMAC scheme shares: computing MACs, constant-time matching against several
//! secrets, and the replay window.

use hmac::{Hmac, Mac};
use junction_config::HmacAlgorithm;

use super::Rejection;

/// True when `signature` is the HMAC of `parts` under one of `secrets` (constant-time per secret).
pub(super) fn matches_any(
    algorithm: HmacAlgorithm,
    secrets: &[Vec<u8>],
    parts: &[&[u8]],
    signature: &[u8],
) -> bool {
    secrets
        .iter()
        .any(|key| verify_one(algorithm, key, parts, signature))
}

fn verify_one(algorithm: HmacAlgorithm, key: &[u8], parts: &[&[u8]], signature: &[u8]) -> bool {
    macro_rules! check {
        ($hash:ty) => {{
            let mut m = Hmac::<$hash>::new_from_slice(key).expect("HMAC takes keys of any length");
            for p in parts {
                m.update(p);
            }
            m.verify_slice(signature).is_ok()
        }};
    }
    match algorithm {
        HmacAlgorithm::Sha1 => check!(sha1::Sha1),
        HmacAlgorithm::Sha256 => check!(sha2::Sha256),
        HmacAlgorithm::Sha512 => check!(sha2::Sha512),
    }
}

/// A request whose body alone is signed: `header: {prefix}{hex|base64 HMAC-SHA256 of the body}`
/// (GitHub, Shopify). No signed timestamp: duplicates are caught by the event id instead.
pub(super) struct BodyHmac {
    pub header: &'static str,
    pub prefix: &'static str,
    pub base64: bool,
    pub secrets: Vec<Vec<u8>>,
}

impl super::Verifier for BodyHmac {
    fn verify(&self, req: &super::Request<'_>) -> Result<(), Rejection> {
        let value = req
            .header(self.header)
            .ok_or(Rejection::Missing(self.header))?;
        let encoded = value.strip_prefix(self.prefix).ok_or_else(|| {
            Rejection::Malformed(format!("expected `{}<signature>`", self.prefix))
        })?;
        let sig = if self.base64 {
            unbase64(encoded)?
        } else {
            unhex(encoded)?
        };
        if matches_any(HmacAlgorithm::Sha256, &self.secrets, &[req.body], &sig) {
            Ok(())
        } else {
            Err(Rejection::BadSignature)
        }
    }
}

/// Parses a Unix-seconds timestamp header and checks it is within `tolerance` of `now`.
pub(super) fn fresh(timestamp: &str, now: i64, tolerance: i64) -> Result<i64, Rejection> {
    let ts: i64 = timestamp.trim().parse().map_err(|_| {
        Rejection::Malformed(format!("the timestamp `{timestamp}` is not Unix seconds"))
    })?;
    // `abs_diff`: `now - ts` overflows for a timestamp near i64::MIN, and wrapped it looked fresh.
    if now.abs_diff(ts) > tolerance.unsigned_abs() {
        return Err(Rejection::OutsideWindow { timestamp: ts, now });
    }
    Ok(ts)
}

pub(super) fn unhex(s: &str) -> Result<Vec<u8>, Rejection> {
    hex::decode(s.trim()).map_err(|_| Rejection::Malformed("the signature is not hex".into()))
}

pub(super) fn unbase64(s: &str) -> Result<Vec<u8>, Rejection> {
    use base64::Engine as _;
    base64::engine::general_purpose::STANDARD
        .decode(s.trim())
        .map_err(|_| Rejection::Malformed("the signature is not base64".into()))
}

#[cfg(test)]
pub(crate) mod testing {
    /// A header map from pairs.
    pub fn headers(pairs: &[(&str, &str)]) -> http::HeaderMap {
        let mut h = http::HeaderMap::new();
        for (k, v) in pairs {
            h.insert(
                http::HeaderName::from_bytes(k.as_bytes()).unwrap(),
                http::HeaderValue::from_str(v).unwrap(),
            );
        }
        h
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_timestamp_at_the_ends_of_the_number_line_is_outside_the_window_not_fresh() {
        let now = 1_700_000_000;
        for ts in [
            i64::MIN,
            i64::MIN + 1,
            now - (1 << 62) - (1 << 62),
            i64::MAX,
        ] {
            assert!(
                matches!(
                    fresh(&ts.to_string(), now, 300),
                    Err(Rejection::OutsideWindow { .. })
                ),
                "{ts} passed"
            );
            let shown = Rejection::OutsideWindow { timestamp: ts, now }.to_string();
            assert!(shown.contains("outside the tolerance"), "{shown}");
        }
        assert!(fresh(&now.to_string(), now, 300).is_ok());
    }
}
