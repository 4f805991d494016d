//! Slack: `X-Slack-Signature: v0=<hex HMAC-SHA256 of v0:{timestamp}:{body}>` with
//! `X-Slack-Request-Timestamp`, refused outside the tolerance window (Slack suggests 5 minutes).

use junction_config::HmacAlgorithm;

use super::common::{fresh, matches_any, unhex};
use super::{Rejection, Request, Verifier};

pub(super) struct Slack {
    pub secrets: Vec<Vec<u8>>,
    pub tolerance: i64,
}

impl Verifier for Slack {
    fn verify(&self, req: &Request<'_>) -> Result<(), Rejection> {
        let ts = req
            .header("x-slack-request-timestamp")
            .ok_or(Rejection::Missing("x-slack-request-timestamp"))?;
        let header = req
            .header("x-slack-signature")
            .ok_or(Rejection::Missing("x-slack-signature"))?;
        let sig = header
            .strip_prefix("v0=")
            .ok_or_else(|| Rejection::Malformed("expected `v0=<hex>`".into()))?;
        let sig = unhex(sig)?;
        fresh(ts, req.now, self.tolerance)?;
        let parts: [&[u8]; 4] = [b"v0:", ts.trim().as_bytes(), b":", req.body];
        if matches_any(HmacAlgorithm::Sha256, &self.secrets, &parts, &sig) {
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

    /// Slack's worked example ("Verifying requests from Slack").
    #[test]
    fn the_documented_example_verifies() {
        let body = b"token=xyzz0WbapA4vBCDEFasx0q6G&team_id=T1DC2JH3J&team_domain=testteamnow&channel_id=G8PSS9T3V&channel_name=foobar&user_id=U2CERLKJA&user_name=roadrunner&command=%2Fwebhook-collect&text=&response_url=https%3A%2F%2Fhooks.slack.com%2Fcommands%2FT1DC2JH3J%2F397700885554%2F96rGlfmibIGlgcZRskXaIFfN&trigger_id=398738663015.47445629121.803a0bc887a14d10d2c447fce8b6703c";
        let h = headers(&[
            ("x-slack-request-timestamp", "1531420618"),
            (
                "x-slack-signature",
                "v0=a2114d57b48eac39b9ad189dd8316235a7b4a8d21a10bd27519666489c69b503",
            ),
        ]);
        let v = Slack {
            secrets: vec![b"8f742231b10e8888abcd99yyyzzz85a5".to_vec()],
            tolerance: 300,
        };
        let at = |now| Request {
            headers: &h,
            body,
            now,
        };
        assert_eq!(v.verify(&at(1531420618 + 60)), Ok(()));
        assert!(matches!(
            v.verify(&at(1531420618 + 3600)),
            Err(Rejection::OutsideWindow { .. })
        ));
    }
}
