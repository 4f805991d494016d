//! HTTP basic auth for providers that only send credentials (`Authorization: Basic …`),
//! compared in constant time.

use base64::Engine as _;
use junction_config::Verify;
use subtle::ConstantTimeEq;

use super::{Rejection, Request, Verifier};

pub(super) struct Basic {
    expected: Vec<u8>,
}

impl Basic {
    pub fn new(v: &Verify) -> Self {
        let user = v.username.clone().unwrap_or_default();
        let pass = v
            .password
            .as_ref()
            .map(|p| p.expose().to_owned())
            .unwrap_or_default();
        Self {
            expected: format!("{user}:{pass}").into_bytes(),
        }
    }
}

impl Verifier for Basic {
    fn verify(&self, req: &Request<'_>) -> Result<(), Rejection> {
        let header = req
            .header("authorization")
            .ok_or(Rejection::Missing("authorization"))?;
        let encoded = header
            .strip_prefix("Basic ")
            .or_else(|| header.strip_prefix("basic "))
            .ok_or_else(|| Rejection::Malformed("expected `Basic <base64>`".into()))?;
        let given = base64::engine::general_purpose::STANDARD
            .decode(encoded.trim())
            .map_err(|_| Rejection::Malformed("the credentials are not base64".into()))?;
        if bool::from(given.ct_eq(&self.expected)) {
            Ok(())
        } else {
            Err(Rejection::BadCredentials)
        }
    }
}

#[cfg(test)]
mod tests {
    use super::super::common::testing::headers;
    use super::*;

    /// RFC 7617's example: `Aladdin` / `open sesame`.
    #[test]
    fn the_rfc_example_verifies_and_wrong_credentials_fail() {
        let v = Basic {
            expected: b"Aladdin:open sesame".to_vec(),
        };
        let h = headers(&[("authorization", "Basic QWxhZGRpbjpvcGVuIHNlc2FtZQ==")]);
        assert_eq!(
            v.verify(&Request {
                headers: &h,
                body: b"",
                now: 0
            }),
            Ok(())
        );
        let h = headers(&[("authorization", "Basic QWxhZGRpbjp3cm9uZw==")]);
        assert_eq!(
            v.verify(&Request {
                headers: &h,
                body: b"",
                now: 0
            }),
            Err(Rejection::BadCredentials)
        );
    }
}
