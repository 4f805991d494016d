//! Shopify: `X-Shopify-Hmac-Sha256: <base64 HMAC-SHA256 of the body>` under the app's secret.
//! No signed timestamp; duplicates are caught by `X-Shopify-Webhook-Id`.

use super::common::BodyHmac;

pub(super) fn shopify(secrets: Vec<Vec<u8>>) -> BodyHmac {
    BodyHmac {
        header: "x-shopify-hmac-sha256",
        prefix: "",
        base64: true,
        secrets,
    }
}

#[cfg(test)]
mod tests {
    use super::super::common::testing::headers;
    use super::super::{Rejection, Request, Verifier};
    use super::*;

    /// Shopify publishes the formula, not a vector: this value was computed independently
    /// (`printf '{"id":1}' | openssl dgst -sha256 -hmac shop-secret -binary | base64`).
    #[test]
    fn an_independently_computed_signature_verifies() {
        let h = headers(&[(
            "x-shopify-hmac-sha256",
            "plW8VGqq0nDMIEhDqaNNW99asdUCy7EIqLZVcQwtAZ0=",
        )]);
        let v = shopify(vec![b"other".to_vec(), b"shop-secret".to_vec()]);
        let req = |body: &'static [u8]| Request {
            headers: &h,
            body,
            now: 0,
        };
        assert_eq!(v.verify(&req(br#"{"id":1}"#)), Ok(()));
        assert_eq!(v.verify(&req(br#"{"id":2}"#)), Err(Rejection::BadSignature));
    }
}
