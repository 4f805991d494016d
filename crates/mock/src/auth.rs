//! Credentials the way real providers check them: API keys (header or query), HTTP basic, and
//! OAuth2 bearer tokens from `/oauth/token` (client credentials, refresh tokens rotated on every
//! refresh, authorization code with PKCE). Tokens expire on the mock's clock (tokio time, so tests
//! can pause and advance it); an expired or unknown token is 401, a missing scope 403.

use std::collections::HashMap;
use std::sync::Mutex;
use std::time::Duration;

use base64::Engine;
use serde_json::{json, Value};
use sha2::{Digest, Sha256};
use tokio::time::Instant;

/// One OAuth2 client the mock knows.
#[derive(Debug, Clone)]
pub struct OAuthClient {
    pub id: String,
    pub secret: String,
    /// Scopes it may be granted.
    pub scopes: Vec<String>,
}

/// Which credentials the mock accepts.
#[derive(Debug, Clone)]
pub struct AuthConfig {
    /// When false, requests need no credentials (and get every scope).
    pub required: bool,
    /// Accepted in `X-Api-Key` or `?api_key=`.
    pub api_keys: Vec<String>,
    /// Accepted as HTTP basic.
    pub basic: Option<(String, String)>,
    pub clients: Vec<OAuthClient>,
    /// How long an access token lives.
    pub token_ttl: Duration,
    /// Whether the token response says so (`expires_in`); some providers omit it.
    pub advertise_expires_in: bool,
    /// How long the token endpoint takes to answer (a slow authorization server).
    pub token_delay: Duration,
}

impl Default for AuthConfig {
    fn default() -> Self {
        Self {
            required: false,
            api_keys: vec!["mock_key_1".into()],
            basic: Some(("mock_user".into(), "mock_pass".into())),
            clients: vec![OAuthClient {
                id: "mock_client".into(),
                secret: "mock_secret".into(),
                scopes: ALL_SCOPES.iter().map(|s| s.to_string()).collect(),
            }],
            token_ttl: Duration::from_secs(3600),
            advertise_expires_in: true,
            token_delay: Duration::ZERO,
        }
    }
}

pub const ALL_SCOPES: &[&str] = &["customers:read", "customers:write", "orders:read"];

/// Why a request is refused.
#[derive(Debug, PartialEq, Eq)]
pub enum Denied {
    /// 401: no credentials, unknown ones, or an expired token.
    Unauthenticated(&'static str),
    /// 403: valid credentials without the scope the route needs.
    Forbidden(String),
}

struct Token {
    scopes: Vec<String>,
    expires: Instant,
}

struct Grant {
    client: String,
    scopes: Vec<String>,
}

struct Code {
    client: String,
    scopes: Vec<String>,
    redirect_uri: String,
    challenge: String,
}

/// Issued tokens, refresh tokens and authorization codes.
#[derive(Default)]
pub struct Tokens {
    inner: Mutex<TokenState>,
}

#[derive(Default)]
struct TokenState {
    access: HashMap<String, Token>,
    refresh: HashMap<String, Grant>,
    codes: HashMap<String, Code>,
    counter: u64,
    /// Every token response, in order: what a test checks refresh behaviour against.
    issued: Vec<Value>,
}

impl Tokens {
    fn lock(&self) -> std::sync::MutexGuard<'_, TokenState> {
        self.inner.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// Token responses issued so far, newest last.
    pub fn issued(&self) -> Vec<Value> {
        self.lock().issued.clone()
    }

    pub fn clear(&self) {
        *self.lock() = TokenState::default();
    }

    /// Checks a request's credentials against the scope its route needs.
    pub fn check(
        &self,
        cfg: &AuthConfig,
        headers: &http::HeaderMap,
        query: Option<&str>,
        scope: &str,
    ) -> Result<(), Denied> {
        if !cfg.required {
            return Ok(());
        }
        let header = |name: &str| headers.get(name).and_then(|v| v.to_str().ok());
        let query_key = query.and_then(|q| {
            url::form_urlencoded::parse(q.as_bytes())
                .find(|(k, _)| k == "api_key")
                .map(|(_, v)| v.into_owned())
        });
        if let Some(key) = header("x-api-key").map(str::to_owned).or(query_key) {
            return if cfg.api_keys.contains(&key) {
                Ok(())
            } else {
                Err(Denied::Unauthenticated("unknown API key"))
            };
        }
        let Some(authz) = header("authorization") else {
            return Err(Denied::Unauthenticated("no credentials"));
        };
        if let Some(b64) = authz.strip_prefix("Basic ") {
            let decoded = base64::engine::general_purpose::STANDARD
                .decode(b64.trim())
                .ok()
                .and_then(|d| String::from_utf8(d).ok());
            return match (
                decoded.as_deref().and_then(|d| d.split_once(':')),
                &cfg.basic,
            ) {
                (Some((u, p)), Some((eu, ep))) if u == eu && p == ep => Ok(()),
                _ => Err(Denied::Unauthenticated("wrong username or password")),
            };
        }
        let Some(token) = authz.strip_prefix("Bearer ") else {
            return Err(Denied::Unauthenticated("unsupported authorization scheme"));
        };
        let state = self.lock();
        let Some(t) = state.access.get(token.trim()) else {
            return Err(Denied::Unauthenticated("unknown token"));
        };
        if Instant::now() >= t.expires {
            return Err(Denied::Unauthenticated("token expired"));
        }
        if !t.scopes.iter().any(|s| s == scope) {
            return Err(Denied::Forbidden(format!(
                "the token lacks the `{scope}` scope"
            )));
        }
        Ok(())
    }

    fn mint(&self, state: &mut TokenState, prefix: &str) -> String {
        state.counter += 1;
        let mut h = Sha256::new();
        h.update(format!(
            "{prefix}:{}:{:?}",
            state.counter,
            std::time::SystemTime::now()
        ));
        format!("{prefix}_{}", hex(&h.finalize()[..12]))
    }

    /// Issues an access token and a refresh token; records the response.
    fn issue(&self, cfg: &AuthConfig, client: &str, scopes: Vec<String>) -> Value {
        let mut state = self.lock();
        let access = self.mint(&mut state, "at");
        let refresh = self.mint(&mut state, "rt");
        state.access.insert(
            access.clone(),
            Token {
                scopes: scopes.clone(),
                expires: Instant::now() + cfg.token_ttl,
            },
        );
        state.refresh.insert(
            refresh.clone(),
            Grant {
                client: client.into(),
                scopes: scopes.clone(),
            },
        );
        let mut body = json!({ "access_token": access, "token_type": "Bearer", "refresh_token": refresh, "scope": scopes.join(" ") });
        if cfg.advertise_expires_in {
            body["expires_in"] = json!(cfg.token_ttl.as_secs());
        }
        state.issued.push(body.clone());
        body
    }

    /// `POST /oauth/token` with a form body; `basic` is the client's HTTP basic credentials, if sent.
    /// Returns the status and the JSON body (RFC 6749 errors on failure).
    pub fn token(
        &self,
        cfg: &AuthConfig,
        form: &HashMap<String, String>,
        basic: Option<(String, String)>,
    ) -> (u16, Value) {
        let oauth_error = |status: u16, error: &str, description: &str| {
            (
                status,
                json!({ "error": error, "error_description": description }),
            )
        };
        if form.get("grant_type").map(String::as_str) == Some(JWT_BEARER) {
            return match self.jwt_bearer(cfg, form) {
                Ok(body) => (200, body),
                Err(why) => oauth_error(400, "invalid_grant", &why),
            };
        }
        let (client_id, secret) = match basic {
            Some(b) => (Some(b.0), Some(b.1)),
            None => (
                form.get("client_id").cloned(),
                form.get("client_secret").cloned(),
            ),
        };
        let Some(client) = cfg
            .clients
            .iter()
            .find(|c| Some(&c.id) == client_id.as_ref())
        else {
            return oauth_error(401, "invalid_client", "unknown client");
        };
        let public_pkce = form.get("grant_type").map(String::as_str) == Some("authorization_code")
            && form.contains_key("code_verifier");
        if secret.as_ref() != Some(&client.secret) && !public_pkce {
            return oauth_error(401, "invalid_client", "wrong client secret");
        }
        match form.get("grant_type").map(String::as_str) {
            Some("client_credentials") => {
                let scopes = match granted(client, form.get("scope")) {
                    Ok(s) => s,
                    Err(e) => return oauth_error(400, "invalid_scope", &e),
                };
                (200, self.issue(cfg, &client.id, scopes))
            }
            Some("refresh_token") => {
                let presented = form.get("refresh_token").cloned().unwrap_or_default();
                // Rotation: a refresh token works once; presenting it again is an error.
                let grant = self.lock().refresh.remove(&presented);
                match grant {
                    Some(g) if g.client == client.id => {
                        (200, self.issue(cfg, &client.id, g.scopes))
                    }
                    _ => oauth_error(
                        400,
                        "invalid_grant",
                        "unknown, used or revoked refresh token",
                    ),
                }
            }
            Some("authorization_code") => {
                let code = form.get("code").cloned().unwrap_or_default();
                let Some(c) = self.lock().codes.remove(&code) else {
                    return oauth_error(400, "invalid_grant", "unknown or used authorization code");
                };
                if c.client != client.id || form.get("redirect_uri") != Some(&c.redirect_uri) {
                    return oauth_error(
                        400,
                        "invalid_grant",
                        "the code was issued to another client or redirect_uri",
                    );
                }
                let verifier = form.get("code_verifier").cloned().unwrap_or_default();
                if pkce_challenge(&verifier) != c.challenge {
                    return oauth_error(
                        400,
                        "invalid_grant",
                        "code_verifier does not match the code_challenge",
                    );
                }
                (200, self.issue(cfg, &client.id, c.scopes))
            }
            _ => oauth_error(
                400,
                "unsupported_grant_type",
                "use client_credentials, refresh_token or authorization_code",
            ),
        }
    }

    /// `GET /oauth/authorize`: approves at once and returns the redirect location (S256 PKCE only).
    pub fn authorize(
        &self,
        cfg: &AuthConfig,
        q: &HashMap<String, String>,
    ) -> Result<String, String> {
        let client = cfg
            .clients
            .iter()
            .find(|c| Some(&c.id) == q.get("client_id"))
            .ok_or("unknown client_id")?;
        if q.get("response_type").map(String::as_str) != Some("code") {
            return Err("response_type must be `code`".into());
        }
        if q.get("code_challenge_method").map(String::as_str) != Some("S256") {
            return Err("PKCE is required: code_challenge_method=S256".into());
        }
        let challenge = q
            .get("code_challenge")
            .cloned()
            .ok_or("code_challenge is missing")?;
        let redirect_uri = q
            .get("redirect_uri")
            .cloned()
            .ok_or("redirect_uri is missing")?;
        let scopes = granted(client, q.get("scope"))?;
        let mut state = self.lock();
        let code = self.mint(&mut state, "code");
        state.codes.insert(
            code.clone(),
            Code {
                client: client.id.clone(),
                scopes,
                redirect_uri: redirect_uri.clone(),
                challenge,
            },
        );
        let mut location =
            url::Url::parse(&redirect_uri).map_err(|e| format!("invalid redirect_uri: {e}"))?;
        location.query_pairs_mut().append_pair("code", &code);
        if let Some(s) = q.get("state") {
            location.query_pairs_mut().append_pair("state", s);
        }
        Ok(location.to_string())
    }
}

/// RFC 7523's grant type.
pub const JWT_BEARER: &str = "urn:ietf:params:oauth:grant-type:jwt-bearer";

impl Tokens {
    /// The JWT bearer grant (RFC 7523): an assertion whose `iss` is a client id, unexpired, for
    /// this token endpoint (`aud` ending in `/oauth/token`, or Google's token URL). It is HS256
    /// signed with the client's secret, or — when the client's secret is a PEM public key, as a
    /// Google service account's — RS256 signed with its private key.
    fn jwt_bearer(
        &self,
        cfg: &AuthConfig,
        form: &HashMap<String, String>,
    ) -> Result<Value, String> {
        let assertion = form.get("assertion").ok_or("the assertion is missing")?;
        let payload = assertion
            .split('.')
            .nth(1)
            .ok_or("the assertion is not a JWT")?;
        let claims: Value = base64::engine::general_purpose::URL_SAFE_NO_PAD
            .decode(payload)
            .ok()
            .and_then(|b| serde_json::from_slice(&b).ok())
            .ok_or("the assertion's claims are not JSON")?;
        let iss = claims["iss"].as_str().ok_or("the assertion has no `iss`")?;
        let client = cfg
            .clients
            .iter()
            .find(|c| c.id == iss)
            .ok_or("the assertion's issuer is not a known client")?;
        let (algorithm, key) = if client.secret.starts_with("-----BEGIN PUBLIC KEY-----") {
            let key = jsonwebtoken::DecodingKey::from_rsa_pem(client.secret.as_bytes())
                .map_err(|e| format!("the client's public key is not usable: {e}"))?;
            (jsonwebtoken::Algorithm::RS256, key)
        } else {
            (
                jsonwebtoken::Algorithm::HS256,
                jsonwebtoken::DecodingKey::from_secret(client.secret.as_bytes()),
            )
        };
        let mut v = jsonwebtoken::Validation::new(algorithm);
        v.validate_aud = false;
        v.set_required_spec_claims(&["exp", "iss", "aud"]);
        let data = jsonwebtoken::decode::<Value>(assertion, &key, &v)
            .map_err(|e| format!("the assertion does not verify: {e}"))?;
        if !data.claims["aud"].as_str().is_some_and(|a| {
            a.ends_with("/oauth/token") || a == "https://oauth2.googleapis.com/token"
        }) {
            return Err("the assertion is for another audience".into());
        }
        let scopes = granted(client, form.get("scope"))?;
        Ok(self.issue(cfg, &client.id, scopes))
    }
}

/// The scopes granted for a request (`None`: everything the client may have).
fn granted(client: &OAuthClient, requested: Option<&String>) -> Result<Vec<String>, String> {
    match requested {
        None => Ok(client.scopes.clone()),
        Some(s) => s
            .split_whitespace()
            .map(|scope| {
                if client.scopes.iter().any(|c| c == scope) {
                    Ok(scope.to_owned())
                } else {
                    Err(format!("the client may not have `{scope}`"))
                }
            })
            .collect(),
    }
}

/// `BASE64URL(SHA256(verifier))` without padding (RFC 7636 S256).
pub fn pkce_challenge(verifier: &str) -> String {
    base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(Sha256::digest(verifier.as_bytes()))
}

fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

#[cfg(test)]
mod tests {
    #[test]
    fn pkce_s256_matches_rfc_7636_appendix_b() {
        assert_eq!(
            super::pkce_challenge("dBjftJeZ4CVP-mB92K27uhbUJU1p1r_wW1gFWFOEjXk"),
            "E9Melhoa2OwvFrEMTJguCHaoeK1t8URWbuGJSstw-cM"
        );
    }
}

#[cfg(test)]
mod expiry {
    use super::*;

    fn bearer(token: &str) -> http::HeaderMap {
        let mut h = http::HeaderMap::new();
        h.insert("authorization", format!("Bearer {token}").parse().unwrap());
        h
    }

    #[tokio::test(start_paused = true)]
    async fn tokens_expire_on_the_mock_clock() {
        let cfg = AuthConfig {
            required: true,
            token_ttl: Duration::from_secs(600),
            ..Default::default()
        };
        let tokens = Tokens::default();
        let form: HashMap<String, String> = [
            ("grant_type", "client_credentials"),
            ("client_id", "mock_client"),
            ("client_secret", "mock_secret"),
        ]
        .into_iter()
        .map(|(k, v)| (k.to_owned(), v.to_owned()))
        .collect();
        let (status, body) = tokens.token(&cfg, &form, None);
        assert_eq!(status, 200);
        let at = body["access_token"].as_str().unwrap().to_owned();
        assert_eq!(
            tokens.check(&cfg, &bearer(&at), None, "customers:read"),
            Ok(())
        );
        tokio::time::advance(Duration::from_secs(599)).await;
        assert_eq!(
            tokens.check(&cfg, &bearer(&at), None, "customers:read"),
            Ok(())
        );
        tokio::time::advance(Duration::from_secs(1)).await;
        assert_eq!(
            tokens.check(&cfg, &bearer(&at), None, "customers:read"),
            Err(Denied::Unauthenticated("token expired"))
        );
    }
}
