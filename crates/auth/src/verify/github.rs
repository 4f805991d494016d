//! GitHub: `X-Hub-Signature-256: sha256=<hex HMAC-SHA256 of the body>`. GitHub signs no
//! timestamp, so there is no replay window; duplicates are caught by the delivery id.

use super::common::BodyHmac;

pub(super) fn github(secrets: Vec<Vec<u8>>) -> BodyHmac {
    BodyHmac {
        header: "x-hub-signature-256",
        prefix: "sha256=",
        base64: false,
        secrets,
    }
}

#[cfg(test)]
mod tests {
    use super::super::common::testing::headers;
    use super::super::{Rejection, Request, Verifier};
    use super::*;

    /// GitHub's documented example ("Validating webhook deliveries").
    #[test]
    fn the_documented_example_verifies() {
        let h = headers(&[(
            "x-hub-signature-256",
            "sha256=757107ea0eb2509fc211221cce984b8a37570b6d7586c22c46f4379c8b043e17",
        )]);
        let v = github(vec![b"It's a Secret to Everybody".to_vec()]);
        let req = |body: &'static [u8]| Request {
            headers: &h,
            body,
            now: 0,
        };
        assert_eq!(v.verify(&req(b"Hello, World!")), Ok(()));
        assert_eq!(
            v.verify(&req(b"Hello, World?")),
            Err(Rejection::BadSignature)
        );
        let bare = headers(&[("x-hub-signature-256", "757107ea")]);
        let r = Request {
            headers: &bare,
            body: b"",
            now: 0,
        };
        assert!(matches!(v.verify(&r), Err(Rejection::Malformed(_))));
    }
}
