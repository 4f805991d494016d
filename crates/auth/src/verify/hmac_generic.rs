//! Generic HMAC for providers without a preset: a header, an optional prefix, hex or base64,
//! SHA-1/256/512, and a signed-content template with `{body}`, `{timestamp}` and
//! `{header:NAME}` placeholders. With `timestamp_header`, the timestamp must be fresh.

use junction_config::{HmacAlgorithm, SignatureEncoding, Verify};

use super::common::{fresh, matches_any, unbase64, unhex};
use super::{Rejection, Request, Verifier};

pub(super) struct GenericHmac {
    secrets: Vec<Vec<u8>>,
    header: String,
    prefix: String,
    encoding: SignatureEncoding,
    algorithm: HmacAlgorithm,
    template: Vec<Piece>,
    timestamp_header: Option<String>,
    tolerance: i64,
}

/// The signed-content template, parsed once.
#[derive(Debug, PartialEq)]
enum Piece {
    Text(String),
    Body,
    Timestamp,
    Header(String),
}

fn parse_template(t: &str) -> Vec<Piece> {
    let mut out = Vec::new();
    let mut rest = t;
    while let Some(start) = rest.find('{') {
        let Some(len) = rest[start..].find('}') else {
            break;
        };
        let name = &rest[start + 1..start + len];
        let piece = match name {
            "body" => Some(Piece::Body),
            "timestamp" => Some(Piece::Timestamp),
            _ => name
                .strip_prefix("header:")
                .map(|h| Piece::Header(h.to_ascii_lowercase())),
        };
        match piece {
            Some(p) => {
                if start > 0 {
                    out.push(Piece::Text(rest[..start].to_owned()));
                }
                out.push(p);
            }
            None => out.push(Piece::Text(rest[..start + len + 1].to_owned())),
        }
        rest = &rest[start + len + 1..];
    }
    if !rest.is_empty() {
        out.push(Piece::Text(rest.to_owned()));
    }
    out
}

impl GenericHmac {
    pub fn new(v: &Verify) -> Self {
        Self {
            secrets: v
                .secrets
                .iter()
                .map(|s| s.expose().as_bytes().to_vec())
                .collect(),
            header: v.header.clone().unwrap_or_default(),
            prefix: v.prefix.clone(),
            encoding: v.encoding,
            algorithm: v.algorithm,
            template: parse_template(&v.signed_content),
            timestamp_header: v.timestamp_header.clone(),
            tolerance: v.tolerance.as_secs() as i64,
        }
    }
}

impl Verifier for GenericHmac {
    fn verify(&self, req: &Request<'_>) -> Result<(), Rejection> {
        let value = req
            .header(&self.header)
            .ok_or(Rejection::Missing("signature header"))?;
        let encoded = value
            .trim()
            .strip_prefix(self.prefix.as_str())
            .ok_or_else(|| {
                Rejection::Malformed(format!("expected the prefix `{}`", self.prefix))
            })?;
        let sig = match self.encoding {
            SignatureEncoding::Hex => unhex(encoded)?,
            SignatureEncoding::Base64 => unbase64(encoded)?,
        };
        let timestamp = match &self.timestamp_header {
            Some(h) => {
                let ts = req
                    .header(h)
                    .ok_or(Rejection::Missing("timestamp header"))?;
                fresh(ts, req.now, self.tolerance)?;
                Some(ts.trim())
            }
            None => None,
        };
        let mut parts: Vec<&[u8]> = Vec::with_capacity(self.template.len());
        for piece in &self.template {
            parts.push(match piece {
                Piece::Text(t) => t.as_bytes(),
                Piece::Body => req.body,
                Piece::Timestamp => timestamp.unwrap_or_default().as_bytes(),
                Piece::Header(h) => req.header(h).unwrap_or_default().as_bytes(),
            });
        }
        if matches_any(self.algorithm, &self.secrets, &parts, &sig) {
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
    use junction_config::Secret;

    fn generic(template: &str, encoding: SignatureEncoding, ts: Option<&str>) -> GenericHmac {
        GenericHmac::new(&Verify {
            preset: junction_config::VerifyPreset::Hmac,
            secrets: vec![Secret::new("generic-secret")],
            public_keys: vec![],
            tolerance: std::time::Duration::from_secs(300),
            header: Some("x-signature".into()),
            prefix: "sha256=".into(),
            encoding,
            algorithm: HmacAlgorithm::Sha256,
            signed_content: template.into(),
            timestamp_header: ts.map(str::to_owned),
            username: None,
            password: None,
        })
    }

    #[test]
    fn templates_parse_into_pieces() {
        assert_eq!(
            parse_template("{timestamp}.{body}"),
            vec![Piece::Timestamp, Piece::Text(".".into()), Piece::Body]
        );
        assert_eq!(
            parse_template("v0:{header:X-Id}:{body}{x}"),
            vec![
                Piece::Text("v0:".into()),
                Piece::Header("x-id".into()),
                Piece::Text(":".into()),
                Piece::Body,
                Piece::Text("{x}".into())
            ]
        );
    }

    #[test]
    fn timestamped_base64_and_plain_hex_signatures_verify() {
        use base64::Engine as _;
        use hmac::{Hmac, Mac};
        let mac = |content: &[u8]| {
            let mut m = Hmac::<sha2::Sha256>::new_from_slice(b"generic-secret").unwrap();
            m.update(content);
            m.finalize().into_bytes().to_vec()
        };
        let body = br#"{"n":1}"#;
        let sig = base64::engine::general_purpose::STANDARD.encode(mac(br#"1700000000.{"n":1}"#));
        let h = headers(&[
            ("x-signature", &format!("sha256={sig}")),
            ("x-timestamp", "1700000000"),
        ]);
        let v = generic(
            "{timestamp}.{body}",
            SignatureEncoding::Base64,
            Some("x-timestamp"),
        );
        let at = |now| Request {
            headers: &h,
            body,
            now,
        };
        assert_eq!(v.verify(&at(1700000010)), Ok(()));
        assert!(matches!(
            v.verify(&at(1800000000)),
            Err(Rejection::OutsideWindow { .. })
        ));
        let h = headers(&[("x-signature", &format!("sha256={}", hex::encode(mac(body))))]);
        let v = generic("{body}", SignatureEncoding::Hex, None);
        assert_eq!(
            v.verify(&Request {
                headers: &h,
                body,
                now: 0
            }),
            Ok(())
        );
        let h = headers(&[("x-signature", "md5=00")]);
        assert!(matches!(
            v.verify(&Request {
                headers: &h,
                body,
                now: 0
            }),
            Err(Rejection::Malformed(_))
        ));
    }
}
