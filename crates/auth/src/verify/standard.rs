//! Standard Webhooks (standardwebhooks.com): `webhook-id`, `webhook-timestamp` and
//! `webhook-signature`, a space-separated list of `v1,<base64 HMAC-SHA256>` and
//! `v1a,<base64 Ed25519>` signatures over `{id}.{timestamp}.{body}`. Any one valid signature
//! under any active key is enough; unknown versions are skipped.

use ed25519_dalek::{Signature, VerifyingKey};
use junction_config::{HmacAlgorithm, Verify};

use super::common::{fresh, matches_any, unbase64};
use super::{Rejection, Request, Verifier};

pub(super) struct StandardWebhooks {
    secrets: Vec<Vec<u8>>,
    public_keys: Vec<VerifyingKey>,
    tolerance: i64,
}

impl StandardWebhooks {
    pub fn new(v: &Verify) -> Self {
        // Keys were validated when the config was loaded.
        let decode = |s: &junction_config::Secret| junction_config::standard_key(s.expose()).ok();
        Self {
            secrets: v.secrets.iter().filter_map(decode).collect(),
            public_keys: v
                .public_keys
                .iter()
                .filter_map(decode)
                .filter_map(|k| <[u8; 32]>::try_from(k.as_slice()).ok())
                .filter_map(|k| VerifyingKey::from_bytes(&k).ok())
                .collect(),
            tolerance: v.tolerance.as_secs() as i64,
        }
    }
}

impl Verifier for StandardWebhooks {
    fn verify(&self, req: &Request<'_>) -> Result<(), Rejection> {
        let id = req
            .header("webhook-id")
            .ok_or(Rejection::Missing("webhook-id"))?;
        let ts = req
            .header("webhook-timestamp")
            .ok_or(Rejection::Missing("webhook-timestamp"))?;
        let sigs = req
            .header("webhook-signature")
            .ok_or(Rejection::Missing("webhook-signature"))?;
        fresh(ts, req.now, self.tolerance)?;
        let parts: [&[u8]; 5] = [id.as_bytes(), b".", ts.trim().as_bytes(), b".", req.body];
        let mut readable = false;
        for sig in sigs.split_whitespace() {
            let Some((version, value)) = sig.split_once(',') else {
                continue;
            };
            let Ok(bytes) = unbase64(value) else {
                continue;
            };
            readable = true;
            let ok = match version {
                "v1" => matches_any(HmacAlgorithm::Sha256, &self.secrets, &parts, &bytes),
                "v1a" => Signature::from_slice(&bytes).is_ok_and(|s| {
                    let content = parts.concat();
                    self.public_keys
                        .iter()
                        .any(|k| k.verify_strict(&content, &s).is_ok())
                }),
                _ => false,
            };
            if ok {
                return Ok(());
            }
        }
        if readable {
            Err(Rejection::BadSignature)
        } else {
            Err(Rejection::Malformed(
                "expected `v1,<base64>` or `v1a,<base64>` entries".into(),
            ))
        }
    }
}

#[cfg(test)]
mod tests {
    use super::super::common::testing::headers;
    use super::*;
    use ed25519_dalek::{Signer, SigningKey};
    use junction_config::Secret;

    fn verifier(secrets: &[&str], public_keys: &[String]) -> StandardWebhooks {
        StandardWebhooks::new(&Verify {
            preset: junction_config::VerifyPreset::StandardWebhooks,
            secrets: secrets.iter().map(|s| Secret::new(s)).collect(),
            public_keys: public_keys.iter().map(|s| Secret::new(s)).collect(),
            tolerance: std::time::Duration::from_secs(300),
            header: None,
            prefix: String::new(),
            encoding: Default::default(),
            algorithm: Default::default(),
            signed_content: "{body}".into(),
            timestamp_header: None,
            username: None,
            password: None,
        })
    }

    const BODY: &[u8] = br#"{"test": 2432232314}"#;

    fn request<'a>(h: &'a http::HeaderMap, now: i64) -> Request<'a> {
        Request {
            headers: h,
            body: BODY,
            now,
        }
    }

    /// The specification's published example (standard-webhooks test vectors).
    #[test]
    fn the_published_v1_example_verifies() {
        let h = headers(&[
            ("webhook-id", "msg_p5jXN8AQM9LWM0D4loKWxJek"),
            ("webhook-timestamp", "1614265330"),
            (
                "webhook-signature",
                "v1,g0hM9SsE+OTPJTGt/tmIKtSyZlE3uFJELVlNIOLJ1OE=",
            ),
        ]);
        let v = verifier(&["whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw"], &[]);
        assert_eq!(v.verify(&request(&h, 1614265330)), Ok(()));
        // A rotated-out secret first and the right one second still verifies.
        let v = verifier(
            &[
                "whsec_c2VjcmV0LW9sZA==",
                "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw",
            ],
            &[],
        );
        assert_eq!(v.verify(&request(&h, 1614265330 + 299)), Ok(()));
        assert!(matches!(
            v.verify(&request(&h, 1614265330 + 301)),
            Err(Rejection::OutsideWindow { .. })
        ));
        let v = verifier(&["whsec_c2VjcmV0LW9sZA=="], &[]);
        assert_eq!(
            v.verify(&request(&h, 1614265330)),
            Err(Rejection::BadSignature)
        );
    }

    #[test]
    fn several_signatures_one_valid_is_enough_and_a_tampered_body_fails() {
        let h = headers(&[
            ("webhook-id", "msg_p5jXN8AQM9LWM0D4loKWxJek"),
            ("webhook-timestamp", "1614265330"),
            (
                "webhook-signature",
                "v2,abc v1,AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA= v1,g0hM9SsE+OTPJTGt/tmIKtSyZlE3uFJELVlNIOLJ1OE=",
            ),
        ]);
        let v = verifier(&["whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw"], &[]);
        assert_eq!(v.verify(&request(&h, 1614265330)), Ok(()));
        let tampered = Request {
            headers: &h,
            body: br#"{"test": 2432232315}"#,
            now: 1614265330,
        };
        assert_eq!(v.verify(&tampered), Err(Rejection::BadSignature));
        let missing = headers(&[("webhook-id", "x"), ("webhook-timestamp", "1")]);
        assert_eq!(
            v.verify(&request(&missing, 1)),
            Err(Rejection::Missing("webhook-signature"))
        );
    }

    #[test]
    fn v1a_ed25519_signatures_verify_against_the_public_key() {
        use base64::Engine as _;
        let b64 = |b: &[u8]| base64::engine::general_purpose::STANDARD.encode(b);
        let key = SigningKey::from_bytes(&[7u8; 32]);
        let public = format!("whpk_{}", b64(key.verifying_key().as_bytes()));
        let sig = key.sign(b"msg_1.1700000000.{\"test\": 2432232314}");
        let h = headers(&[
            ("webhook-id", "msg_1"),
            ("webhook-timestamp", "1700000000"),
            (
                "webhook-signature",
                &format!("v1a,{}", b64(&sig.to_bytes())),
            ),
        ]);
        let v = verifier(&[], &[public]);
        assert_eq!(v.verify(&request(&h, 1700000000)), Ok(()));
        let other = SigningKey::from_bytes(&[8u8; 32]);
        let v = verifier(
            &[],
            &[format!("whpk_{}", b64(other.verifying_key().as_bytes()))],
        );
        assert_eq!(
            v.verify(&request(&h, 1700000000)),
            Err(Rejection::BadSignature)
        );
    }
}
