//! Stripe: `Stripe-Signature: t=<unix>,v1=<hex>[,v1=<hex>…][,v0=…]`, HMAC-SHA256 of
//! `{t}.{body}` under the endpoint secret (`whsec_…`, used as text). Several `v1` entries appear
//! while Stripe rotates a secret; one match is enough. `v0` (test mode, legacy) is ignored.

use junction_config::HmacAlgorithm;

use super::common::{fresh, matches_any, unhex};
use super::{Rejection, Request, Verifier};

pub(super) struct Stripe {
    pub secrets: Vec<Vec<u8>>,
    pub tolerance: i64,
}

impl Verifier for Stripe {
    fn verify(&self, req: &Request<'_>) -> Result<(), Rejection> {
        let header = req
            .header("stripe-signature")
            .ok_or(Rejection::Missing("stripe-signature"))?;
        let mut ts = None;
        let mut sigs = Vec::new();
        for item in header.split(',') {
            match item.trim().split_once('=') {
                Some(("t", v)) => ts = Some(v),
                Some(("v1", v)) => sigs.push(v),
                _ => {}
            }
        }
        let ts = ts.ok_or_else(|| Rejection::Malformed("no `t=` timestamp".into()))?;
        if sigs.is_empty() {
            return Err(Rejection::Malformed("no `v1=` signature".into()));
        }
        fresh(ts, req.now, self.tolerance)?;
        let parts: [&[u8]; 3] = [ts.trim().as_bytes(), b".", req.body];
        for sig in sigs {
            let Ok(bytes) = unhex(sig) else { continue };
            if matches_any(HmacAlgorithm::Sha256, &self.secrets, &parts, &bytes) {
                return Ok(());
            }
        }
        Err(Rejection::BadSignature)
    }
}

#[cfg(test)]
mod tests {
    use super::super::common::testing::headers;
    use super::*;

    fn stripe() -> Stripe {
        Stripe {
            secrets: vec![b"whsec_test_secret".to_vec()],
            tolerance: 300,
        }
    }

    /// The header layout from Stripe's documentation ("Verify signatures manually"): the
    /// documented values are not signed with a published secret, so they must parse and fail.
    #[test]
    fn the_documented_header_parses_and_a_foreign_signature_fails() {
        let h = headers(&[(
            "stripe-signature",
            "t=1492774577,v1=5257a869e7ecebeda32affa62cdca3fa51cad7e77a0e56ff536d0ce8e108d8bd,v0=6ffbb59b2300aae63f272406069a9788598b792a944a07aba816edb039989a39",
        )]);
        let req = Request {
            headers: &h,
            body: b"{}",
            now: 1492774577,
        };
        assert_eq!(stripe().verify(&req), Err(Rejection::BadSignature));
    }

    #[test]
    fn any_of_several_v1_signatures_verifies_within_the_window() {
        use hmac::{Hmac, Mac};
        let body = br#"{"id":"evt_1","object":"event"}"#;
        let mut m = Hmac::<sha2::Sha256>::new_from_slice(b"whsec_test_secret").unwrap();
        m.update(b"1700000000.");
        m.update(body);
        let good = hex::encode(m.finalize().into_bytes());
        let value = format!("t=1700000000,v1={},v1={good}", "00".repeat(32));
        let h = headers(&[("stripe-signature", &value)]);
        let at = |now| Request {
            headers: &h,
            body,
            now,
        };
        assert_eq!(stripe().verify(&at(1700000000)), Ok(()));
        assert!(matches!(
            stripe().verify(&at(1700000400)),
            Err(Rejection::OutsideWindow { .. })
        ));
        let no_t = headers(&[("stripe-signature", "v1=abcd")]);
        let req = Request {
            headers: &no_t,
            body,
            now: 1,
        };
        assert!(matches!(
            stripe().verify(&req),
            Err(Rejection::Malformed(_))
        ));
    }
}
