//! Obtaining tokens from a provider: OAuth2 client credentials and refresh token grants through
//! the `oauth2` crate, and the RFC 7523 JWT bearer grant with an assertion signed by
//! `jsonwebtoken`. Each returns what the provider issued, or whether the refusal is permanent
//! (the grant or client was refused: retrying will not help) or transient.

use std::time::Duration;

use junction_config::{ClientAuth, JwtAlgorithm, JwtBearer, OAuth};
use oauth2::basic::{BasicClient, BasicErrorResponseType};
use oauth2::{
    AuthType, ClientId, ClientSecret, HttpRequest, HttpResponse, RefreshToken, RequestTokenError,
    Scope, TokenResponse, TokenUrl,
};

/// What the provider issued.
pub struct Issued {
    pub access: String,
    /// A new refresh token, when the provider rotates them.
    pub refresh: Option<String>,
    pub expires_in: Option<Duration>,
}

/// Why no token was issued.
#[derive(Debug, Clone)]
pub struct GrantError {
    /// The provider refused the grant or the client (`invalid_grant`, `invalid_client`…).
    pub permanent: bool,
    pub message: String,
}

impl std::fmt::Display for GrantError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.message)
    }
}

#[derive(Debug)]
struct HttpFail(String);

impl std::fmt::Display for HttpFail {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.0)
    }
}

impl std::error::Error for HttpFail {}

/// Sends one token request with Junction's client (no redirects, bounded time).
async fn send(http: &reqwest::Client, req: HttpRequest) -> Result<HttpResponse, HttpFail> {
    let (parts, body) = req.into_parts();
    let res = http
        .request(parts.method, parts.uri.to_string())
        .headers(parts.headers)
        .body(body)
        .timeout(Duration::from_secs(15))
        .send()
        .await
        .map_err(|e| HttpFail(format!("token endpoint unreachable: {e}")))?;
    let status = res.status();
    let headers = res.headers().clone();
    let body = res
        .bytes()
        .await
        .map_err(|e| HttpFail(format!("token endpoint answer cut short: {e}")))?;
    let mut out = http::Response::new(body.to_vec());
    *out.status_mut() = status;
    *out.headers_mut() = headers;
    Ok(out)
}

/// The `oauth2` crate's HTTP client: Junction's reqwest client. A named type rather than a
/// closure, so the futures stay `Send` for every lifetime.
struct Client<'h>(&'h reqwest::Client);

impl<'c> oauth2::AsyncHttpClient<'c> for Client<'_> {
    type Error = HttpFail;
    type Future = std::pin::Pin<
        Box<dyn std::future::Future<Output = Result<HttpResponse, HttpFail>> + Send + 'c>,
    >;

    fn call(&'c self, request: HttpRequest) -> Self::Future {
        Box::pin(send(self.0, request))
    }
}

fn client(
    oauth: &OAuth,
) -> BasicClient<
    oauth2::EndpointNotSet,
    oauth2::EndpointNotSet,
    oauth2::EndpointNotSet,
    oauth2::EndpointNotSet,
    oauth2::EndpointSet,
> {
    let mut c = BasicClient::new(ClientId::new(oauth.client_id.clone()))
        .set_token_uri(TokenUrl::from_url(oauth.token_url.clone()))
        .set_auth_type(match oauth.client_auth {
            ClientAuth::Basic => AuthType::BasicAuth,
            ClientAuth::Body => AuthType::RequestBody,
        });
    if let Some(s) = &oauth.client_secret {
        c = c.set_client_secret(ClientSecret::new(s.expose().to_owned()));
    }
    c
}

fn refused<RE: std::error::Error>(
    e: RequestTokenError<RE, oauth2::StandardErrorResponse<BasicErrorResponseType>>,
) -> GrantError {
    match e {
        RequestTokenError::ServerResponse(r) => {
            let permanent = matches!(
                r.error(),
                BasicErrorResponseType::InvalidGrant
                    | BasicErrorResponseType::InvalidClient
                    | BasicErrorResponseType::UnauthorizedClient
                    | BasicErrorResponseType::UnsupportedGrantType
                    | BasicErrorResponseType::InvalidScope
            );
            let mut message = format!("the provider refused: {}", r.error().as_ref());
            if let Some(d) = r.error_description() {
                message.push_str(&format!(" ({d})"));
            }
            GrantError { permanent, message }
        }
        RequestTokenError::Request(e) => GrantError {
            permanent: false,
            message: e.to_string(),
        },
        RequestTokenError::Parse(e, _) => GrantError {
            permanent: false,
            message: format!("the token response is not valid: {e}"),
        },
        RequestTokenError::Other(m) => GrantError {
            permanent: false,
            message: m,
        },
    }
}

fn issued(t: &oauth2::basic::BasicTokenResponse) -> Issued {
    Issued {
        access: t.access_token().secret().clone(),
        refresh: t.refresh_token().map(|r| r.secret().clone()),
        expires_in: t.expires_in(),
    }
}

pub async fn client_credentials(
    http: &reqwest::Client,
    oauth: &OAuth,
) -> Result<Issued, GrantError> {
    let t = client(oauth)
        .exchange_client_credentials()
        .add_scopes(oauth.scopes.iter().cloned().map(Scope::new))
        .request_async(&Client(http))
        .await
        .map_err(refused)?;
    Ok(issued(&t))
}

/// The vendor's authorization URL for one end user (authorization code with PKCE, RFC 7636
/// S256, the challenge from [`pkce`]).
pub fn authorize(
    oauth: &OAuth,
    authorize_url: &url::Url,
    redirect: &url::Url,
    state: String,
    challenge: oauth2::PkceCodeChallenge,
) -> url::Url {
    let (url, _) = client(oauth)
        .set_auth_uri(oauth2::AuthUrl::from_url(authorize_url.clone()))
        .set_redirect_uri(oauth2::RedirectUrl::from_url(redirect.clone()))
        .authorize_url(move || oauth2::CsrfToken::new(state))
        .add_scopes(oauth.scopes.iter().cloned().map(Scope::new))
        .set_pkce_challenge(challenge)
        .url();
    url
}

/// A new PKCE pair (S256): the challenge for the authorization URL, the verifier to keep.
pub fn pkce() -> (oauth2::PkceCodeChallenge, String) {
    let (challenge, verifier) = oauth2::PkceCodeChallenge::new_random_sha256();
    (challenge, verifier.secret().clone())
}

/// What the code exchange issued, and the scopes the vendor says it granted (`None`: it did
/// not say, which RFC 6749 reads as those requested).
pub struct Connected {
    pub issued: Issued,
    pub granted: Option<Vec<String>>,
}

/// The authorization code exchanged for tokens, with the PKCE verifier.
pub async fn exchange_code(
    http: &reqwest::Client,
    oauth: &OAuth,
    redirect: &url::Url,
    code: &str,
    verifier: &str,
) -> Result<Connected, GrantError> {
    let t = client(oauth)
        .set_redirect_uri(oauth2::RedirectUrl::from_url(redirect.clone()))
        .exchange_code(oauth2::AuthorizationCode::new(code.to_owned()))
        .set_pkce_verifier(oauth2::PkceCodeVerifier::new(verifier.to_owned()))
        .request_async(&Client(http))
        .await
        .map_err(refused)?;
    Ok(Connected {
        granted: t
            .scopes()
            .map(|s| s.iter().map(|s| s.as_str().to_owned()).collect()),
        issued: issued(&t),
    })
}

pub async fn refresh(
    http: &reqwest::Client,
    oauth: &OAuth,
    refresh_token: &str,
) -> Result<Issued, GrantError> {
    let token = RefreshToken::new(refresh_token.to_owned());
    let t = client(oauth)
        .exchange_refresh_token(&token)
        .add_scopes(oauth.scopes.iter().cloned().map(Scope::new))
        .request_async(&Client(http))
        .await
        .map_err(refused)?;
    Ok(issued(&t))
}

/// The signed assertion of the JWT bearer grant: `iss`, `sub`, `aud`, `iat`, `exp` (five
/// minutes), a unique `jti`, and `scope` when scopes are configured.
pub fn assertion(jwt: &JwtBearer, now_s: u64) -> Result<String, GrantError> {
    let bad_key = |e: jsonwebtoken::errors::Error| GrantError {
        permanent: true,
        message: format!("the JWT signing key is not usable: {e}"),
    };
    let key = jwt.private_key.expose().as_bytes();
    let (alg, key) = match jwt.algorithm {
        JwtAlgorithm::RS256 => (
            jsonwebtoken::Algorithm::RS256,
            jsonwebtoken::EncodingKey::from_rsa_pem(key).map_err(bad_key)?,
        ),
        JwtAlgorithm::ES256 => (
            jsonwebtoken::Algorithm::ES256,
            jsonwebtoken::EncodingKey::from_ec_pem(key).map_err(bad_key)?,
        ),
        JwtAlgorithm::HS256 => (
            jsonwebtoken::Algorithm::HS256,
            jsonwebtoken::EncodingKey::from_secret(key),
        ),
    };
    let mut header = jsonwebtoken::Header::new(alg);
    header.kid = jwt.key_id.clone();
    let mut claims = serde_json::json!({
        "iss": jwt.issuer,
        "sub": jwt.subject,
        "aud": jwt.audience,
        "iat": now_s,
        "exp": now_s + 300,
        "jti": uuid::Uuid::new_v4().to_string(),
    });
    if !jwt.scopes.is_empty() {
        claims["scope"] = jwt.scopes.join(" ").into();
    }
    jsonwebtoken::encode(&header, &claims, &key).map_err(bad_key)
}

#[derive(serde::Deserialize)]
struct TokenBody {
    access_token: String,
    #[serde(default)]
    refresh_token: Option<String>,
    #[serde(default)]
    expires_in: Option<u64>,
}

#[derive(serde::Deserialize)]
struct ErrorBody {
    error: String,
    #[serde(default)]
    error_description: Option<String>,
}

pub async fn jwt_bearer(http: &reqwest::Client, jwt: &JwtBearer) -> Result<Issued, GrantError> {
    let now_s = junction_core::time::now_ms() as u64 / 1000;
    let assertion = assertion(jwt, now_s)?;
    let mut form = vec![
        (
            "grant_type",
            "urn:ietf:params:oauth:grant-type:jwt-bearer".to_owned(),
        ),
        ("assertion", assertion),
    ];
    if !jwt.scopes.is_empty() {
        form.push(("scope", jwt.scopes.join(" ")));
    }
    let res = http
        .post(jwt.token_url.clone())
        .form(&form)
        .timeout(Duration::from_secs(15))
        .send()
        .await
        .map_err(|e| GrantError {
            permanent: false,
            message: format!("token endpoint unreachable: {e}"),
        })?;
    let status = res.status();
    let body = res.bytes().await.map_err(|e| GrantError {
        permanent: false,
        message: format!("token endpoint answer cut short: {e}"),
    })?;
    if status.is_success() {
        let t: TokenBody = serde_json::from_slice(&body).map_err(|e| GrantError {
            permanent: false,
            message: format!("the token response is not valid: {e}"),
        })?;
        return Ok(Issued {
            access: t.access_token,
            refresh: t.refresh_token,
            expires_in: t.expires_in.map(Duration::from_secs),
        });
    }
    let (permanent, message) = match serde_json::from_slice::<ErrorBody>(&body) {
        Ok(e) => (
            matches!(
                e.error.as_str(),
                "invalid_grant" | "invalid_client" | "unauthorized_client"
            ),
            format!(
                "the provider refused: {}{}",
                e.error,
                e.error_description
                    .map(|d| format!(" ({d})"))
                    .unwrap_or_default()
            ),
        ),
        Err(_) => (false, format!("the token endpoint answered {status}")),
    };
    Err(GrantError { permanent, message })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_jwt_assertion_carries_the_rfc_7523_claims() {
        let yaml = "connectors:\n  g:\n    base_url: https://api.example.com\n    auth:\n      kind: jwt_bearer\n      token_url: https://auth.example.com/token\n      issuer: svc@example.com\n      private_key: env:K\n      algorithm: HS256\n      key_id: k1\n      scopes: [ a, b ]\n";
        let cfg = junction_config::load_str(yaml, "t.yaml", &Default::default(), &|v| {
            (v == "K").then(|| "shared-secret-for-tests".to_owned())
        })
        .unwrap();
        let Some(junction_config::OutboundAuth::JwtBearer { jwt, .. }) = &cfg.connectors["g"].auth
        else {
            panic!()
        };
        let token = assertion(jwt, 1_700_000_000).unwrap();
        let mut v = jsonwebtoken::Validation::new(jsonwebtoken::Algorithm::HS256);
        v.set_audience(&["https://auth.example.com/token"]);
        v.validate_exp = false;
        let data = jsonwebtoken::decode::<serde_json::Value>(
            &token,
            &jsonwebtoken::DecodingKey::from_secret(b"shared-secret-for-tests"),
            &v,
        )
        .unwrap();
        assert_eq!(data.header.kid.as_deref(), Some("k1"));
        let c = data.claims;
        assert_eq!(c["iss"], "svc@example.com");
        assert_eq!(c["sub"], "svc@example.com");
        assert_eq!(c["exp"].as_u64().unwrap() - c["iat"].as_u64().unwrap(), 300);
        assert_eq!(c["scope"], "a b");
        assert!(c["jti"].as_str().unwrap().len() >= 32);
    }
}
