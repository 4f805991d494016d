//! Shopify: `X-Shopify-Hmac-Sha256: <base64 HMAC-SHA256 of the body>` under the app's secret.
//! No signed timestamp; duplicates are caught by `X-Shopify-Webhook-Id`.

use junction_config::HmacAlgorithm;

use super::common::{matches_any, unbase64};
use super::{Rejection, Request, Verifier};

pub(super) struct Shopify {
    pub secrets: Vec<Vec<u8>>,
}

impl Verifier for Shopify {
    fn verify(&self, req: &Request<'_>) -> Result<(), Rejection> {
        let header = req
            .header("x-shopify-hmac-sha256")
            .ok_or(Rejection::Missing("x-shopify-hmac-sha256"))?;
        let sig = unbase64(header)?;
        if matches_any(HmacAlgorithm::Sha256, &self.secrets, &[req.body], &sig) {
            Ok(())
        } else {
            Err(Rejection::BadSignature)
        }
    }
}

#[cfg(test)]
mod tests {
    use super::super::common::testing::headers;
    use super::*;

    /// Shopify publishes the formula, not a vector: this value was computed independently
    /// (`printf '{"id":1}' | openssl dgst -sha256 -hmac shop-secret -binary | base64`).
    #[test]
    fn an_independently_computed_signature_verifies() {
        let h = headers(&[(
            "x-shopify-hmac-sha256",
            "plW8VGqq0nDMIEhDqaNNW99asdUCy7EIqLZVcQwtAZ0=",
        )]);
        let v = Shopify {
            secrets: vec![b"other".to_vec(), b"shop-secret".to_vec()],
        };
        let req = |body: &'static [u8]| Request {
            headers: &h,
            body,
            now: 0,
        };
        assert_eq!(v.verify(&req(br#"{"id":1}"#)), Ok(()));
        assert_eq!(v.verify(&req(br#"{"id":2}"#)), Err(Rejection::BadSignature));
    }
}
