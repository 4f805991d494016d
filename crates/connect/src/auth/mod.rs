//! Outbound credentials: static schemes (API key, basic, bearer), request signing (HMAC), and
//! token schemes (OAuth2, JWT bearer) served by the [`tokens::TokenManager`].

pub mod grant;
pub mod tokens;

use std::sync::Arc;

use base64::Engine as _;
use hmac::{Hmac, Mac};
use http::{HeaderName, HeaderValue};
use junction_config::{HmacAlgorithm, HmacSigning, KeyPlace, SignatureEncoding};
use junction_core::{Code, Error, Origin};

/// A request being prepared for the upstream.
pub struct Outgoing {
    pub method: http::Method,
    pub url: url::Url,
    pub headers: http::HeaderMap,
    pub body: bytes::Bytes,
}

pub enum Auth {
    None,
    ApiKey {
        place: KeyPlace,
        key: String,
    },
    Header {
        name: HeaderName,
        value: HeaderValue,
    },
    Tokens(Arc<tokens::TokenManager>),
    Hmac(HmacSigning),
}

impl Auth {
    /// Adds credentials to `req`; returns the token used, if any (so a 401 can name it).
    pub async fn apply(
        &self,
        connection: &str,
        req: &mut Outgoing,
    ) -> Result<Option<Arc<str>>, Error> {
        match self {
            Auth::None => Ok(None),
            Auth::ApiKey {
                place: KeyPlace::Header(h),
                key,
            } => {
                req.headers.insert(header_name(h)?, sensitive(key)?);
                Ok(None)
            }
            Auth::ApiKey {
                place: KeyPlace::Query(q),
                key,
            } => {
                // The injected key is the only one: a caller's `?api_key=` would come first, and
                // most vendors read the first.
                if req.url.query_pairs().any(|(k, _)| k == q.as_str()) {
                    let kept: Vec<(String, String)> = req
                        .url
                        .query_pairs()
                        .filter(|(k, _)| k != q.as_str())
                        .map(|(k, v)| (k.into_owned(), v.into_owned()))
                        .collect();
                    let mut pairs = req.url.query_pairs_mut();
                    pairs.clear();
                    for (k, v) in &kept {
                        pairs.append_pair(k, v);
                    }
                }
                req.url.query_pairs_mut().append_pair(q, key);
                Ok(None)
            }
            Auth::Header { name, value } => {
                req.headers.insert(name.clone(), value.clone());
                Ok(None)
            }
            Auth::Tokens(m) => {
                let token = m.token(connection).await?;
                bearer(req, &token)?;
                Ok(Some(token))
            }
            Auth::Hmac(h) => {
                sign(h, req)?;
                Ok(None)
            }
        }
    }

    /// After a 401 that used `rejected`: a refreshed token, set on `req`.
    pub async fn reapply(
        &self,
        connection: &str,
        rejected: &str,
        req: &mut Outgoing,
    ) -> Result<Arc<str>, Error> {
        let Auth::Tokens(m) = self else {
            return Err(Error::internal("only token schemes refresh"));
        };
        let token = m.after_rejection(connection, rejected).await?;
        bearer(req, &token)?;
        Ok(token)
    }

    pub fn uses_tokens(&self) -> bool {
        matches!(self, Auth::Tokens(_))
    }
}

fn header_name(h: &str) -> Result<HeaderName, Error> {
    HeaderName::from_bytes(h.as_bytes()).map_err(|_| Error::internal("invalid auth header name"))
}

fn sensitive(v: &str) -> Result<HeaderValue, Error> {
    let mut v = HeaderValue::from_str(v).map_err(|_| {
        Error::new(
            Code::InvalidConfig,
            Origin::Config,
            "a credential is not a valid header value",
        )
        .with_hint("check the secret's value: no line breaks or control characters")
    })?;
    v.set_sensitive(true);
    Ok(v)
}

fn bearer(req: &mut Outgoing, token: &str) -> Result<(), Error> {
    req.headers.insert(
        http::header::AUTHORIZATION,
        sensitive(&format!("Bearer {token}"))?,
    );
    Ok(())
}

/// `Authorization: Basic …` for a user and password.
pub fn basic_value(user: &str, password: &str) -> Result<HeaderValue, Error> {
    let b64 = base64::engine::general_purpose::STANDARD.encode(format!("{user}:{password}"));
    sensitive(&format!("Basic {b64}"))
}

/// `Authorization: Bearer …` for a static token.
pub fn bearer_value(token: &str) -> Result<HeaderValue, Error> {
    sensitive(&format!("Bearer {token}"))
}

/// Signs `{method}`, `{path}` (with the query), `{timestamp}` and `{body}` as the template says.
fn sign(h: &HmacSigning, req: &mut Outgoing) -> Result<(), Error> {
    let ts = (junction_core::time::now_ms() / 1000).to_string();
    let path = match req.url.query() {
        Some(q) => format!("{}?{q}", req.url.path()),
        None => req.url.path().to_owned(),
    };
    let mut content: Vec<u8> = Vec::with_capacity(h.signed.len() + req.body.len());
    let mut rest = h.signed.as_str();
    while let Some(i) = rest.find('{') {
        content.extend_from_slice(&rest.as_bytes()[..i]);
        let Some(j) = rest[i..].find('}') else {
            content.extend_from_slice(&rest.as_bytes()[i..]);
            rest = "";
            break;
        };
        match &rest[i + 1..i + j] {
            "method" => content.extend_from_slice(req.method.as_str().as_bytes()),
            "path" => content.extend_from_slice(path.as_bytes()),
            "timestamp" => content.extend_from_slice(ts.as_bytes()),
            "body" => content.extend_from_slice(&req.body),
            other => content.extend_from_slice(format!("{{{other}}}").as_bytes()),
        }
        rest = &rest[i + j + 1..];
    }
    content.extend_from_slice(rest.as_bytes());
    let key = h.secret.expose().as_bytes();
    let mac = match h.algorithm {
        HmacAlgorithm::Sha1 => mac::<Hmac<sha1::Sha1>>(key, &content),
        HmacAlgorithm::Sha256 => mac::<Hmac<sha2::Sha256>>(key, &content),
        HmacAlgorithm::Sha512 => mac::<Hmac<sha2::Sha512>>(key, &content),
    };
    let encoded = match h.encoding {
        SignatureEncoding::Hex => hex::encode(mac),
        SignatureEncoding::Base64 => base64::engine::general_purpose::STANDARD.encode(mac),
    };
    req.headers.insert(
        header_name(&h.header)?,
        sensitive(&format!("{}{encoded}", h.prefix))?,
    );
    if let Some(th) = &h.timestamp_header {
        req.headers.insert(header_name(th)?, sensitive(&ts)?);
    }
    Ok(())
}

fn mac<M: Mac + hmac::digest::KeyInit>(key: &[u8], content: &[u8]) -> Vec<u8> {
    let mut m =
        <M as hmac::digest::KeyInit>::new_from_slice(key).expect("HMAC takes any key length");
    m.update(content);
    m.finalize().into_bytes().to_vec()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn hmac_signing_follows_the_template() {
        let yaml = "connectors:\n  s:\n    base_url: https://api.example.com\n    auth:\n      kind: hmac\n      header: X-Signature\n      secret: env:K\n      prefix: \"sha256=\"\n      signed: \"{method} {path}\\n{body}\"\n";
        let cfg =
            junction_config::load_str(yaml, "t.yaml", &Default::default(), &|_| Some("key".into()))
                .unwrap();
        let Some(junction_config::OutboundAuth::Hmac(h)) = &cfg.connectors["s"].auth else {
            panic!()
        };
        let mut req = Outgoing {
            method: http::Method::POST,
            url: url::Url::parse("https://api.example.com/orders?x=1").unwrap(),
            headers: Default::default(),
            body: bytes::Bytes::from_static(b"{\"a\":1}"),
        };
        sign(h, &mut req).unwrap();
        let expected = {
            let mut m =
                <Hmac<sha2::Sha256> as hmac::digest::KeyInit>::new_from_slice(b"key").unwrap();
            m.update(b"POST /orders?x=1\n{\"a\":1}");
            format!("sha256={}", hex::encode(m.finalize().into_bytes()))
        };
        assert_eq!(req.headers["x-signature"], expected.as_str());
        assert!(req.headers["x-signature"].is_sensitive());
    }
}
