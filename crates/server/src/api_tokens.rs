//! Hub API tokens: what internal services present to `/proxy` and operators to the admin API. A
//! token is `jct_<id>_<secret>`; the store keeps only its SHA-256. Scopes are
//! `proxy:<connector>:<METHOD>` (with `*` for any connector or any method) and
//! `role:viewer|operator|admin` for the admin API.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use base64::Engine as _;
use junction_core::{Code, Error, Origin};
use junction_store::{ApiToken, Store};
use sha2::{Digest, Sha256};
use tokio::time::Instant;

/// How long a verified token (or an unknown one) is remembered: a revocation applies within it.
pub const REMEMBER: Duration = Duration::from_secs(5);

/// A new token's text (shown once), id and stored hash.
pub fn generate() -> (String, String, Vec<u8>) {
    let id = uuid::Uuid::new_v4().simple().to_string()[..12].to_owned();
    let secret: [u8; 32] = rand::random();
    let token = format!(
        "jct_{id}_{}",
        base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(secret)
    );
    let hash = hash(&token);
    (token, id, hash)
}

pub fn hash(token: &str) -> Vec<u8> {
    Sha256::digest(token.as_bytes()).to_vec()
}

/// Checks a scope as written (`proxy:crm:GET`, `role:operator`).
pub fn valid_scope(scope: &str) -> bool {
    if let Some(role) = scope.strip_prefix("role:") {
        return crate::admin::Role::parse(role).is_some();
    }
    let parts: Vec<&str> = scope.split(':').collect();
    matches!(parts.as_slice(), ["proxy", c, m]
        if (!c.is_empty() && c.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_' || b == b'*'))
        && (*m == "*" || (!m.is_empty() && m.bytes().all(|b| b.is_ascii_uppercase()))))
}

/// Whether `scopes` allow `method` on `connector`.
pub fn allows(scopes: &str, connector: &str, method: &str) -> bool {
    scopes.split_whitespace().any(|s| {
        let mut p = s.split(':');
        matches!((p.next(), p.next(), p.next(), p.next()), (Some("proxy"), Some(c), Some(m), None)
            if (c == "*" || c == connector) && (m == "*" || m.eq_ignore_ascii_case(method)))
    })
}

/// A store answer for a token hash, and when it was read.
type Remembered = (Option<Arc<ApiToken>>, Instant);

/// Verifies presented tokens against the store, remembering answers briefly.
pub struct ApiTokens {
    store: Arc<dyn Store>,
    seen: Mutex<HashMap<Vec<u8>, Remembered>>,
}

impl ApiTokens {
    pub fn new(store: Arc<dyn Store>) -> Self {
        Self {
            store,
            seen: Mutex::default(),
        }
    }

    /// The token behind an `Authorization: Bearer …` value, if it is valid now.
    pub async fn verify(&self, authorization: Option<&str>) -> Result<Arc<ApiToken>, Error> {
        let unauthorized = |why: &str| {
            Error::new(Code::Unauthorized, Origin::Downstream, why.to_owned()).with_hint(
                "present a hub API token from `junction tokens create` as a bearer token",
            )
        };
        let presented = authorization
            .and_then(|v| {
                v.strip_prefix("Bearer ")
                    .or_else(|| v.strip_prefix("bearer "))
            })
            .map(str::trim)
            .ok_or_else(|| unauthorized("no API token"))?;
        if !presented.starts_with("jct_") {
            return Err(unauthorized("not a Junction API token"));
        }
        let h = hash(presented);
        let now = Instant::now();
        let remembered = {
            let seen = self.seen.lock().unwrap_or_else(|p| p.into_inner());
            seen.get(&h)
                .filter(|(_, at)| now.duration_since(*at) < REMEMBER)
                .map(|(t, _)| t.clone())
        };
        let token = match remembered {
            Some(t) => t,
            None => {
                let t = self
                    .store
                    .api_token_by_hash(&h)
                    .await
                    .map_err(Error::from)?
                    .map(Arc::new);
                let mut seen = self.seen.lock().unwrap_or_else(|p| p.into_inner());
                if seen.len() > 10_000 {
                    seen.retain(|_, (_, at)| now.duration_since(*at) < REMEMBER);
                }
                seen.insert(h, (t.clone(), now));
                t
            }
        };
        let token = token.ok_or_else(|| unauthorized("unknown API token"))?;
        let wall = junction_core::time::now_ms();
        if token.revoked_at.is_some() {
            return Err(unauthorized("this API token was revoked"));
        }
        if token.expires_at.is_some_and(|e| e <= wall) {
            return Err(unauthorized("this API token has expired"));
        }
        Ok(token)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn scopes_are_checked_by_connector_and_method() {
        assert!(allows("proxy:crm:GET", "crm", "GET"));
        assert!(!allows("proxy:crm:GET", "crm", "POST"));
        assert!(!allows("proxy:crm:GET", "erp", "GET"));
        assert!(allows("proxy:crm:* proxy:erp:POST", "erp", "POST"));
        assert!(allows("proxy:*:GET", "anything", "GET"));
        assert!(!allows("proxy:crm", "crm", "GET"));
        assert!(!allows("admin:crm:GET", "crm", "GET"));
        assert!(valid_scope("proxy:crm:GET") && valid_scope("proxy:*:*"));
        assert!(
            valid_scope("role:viewer") && valid_scope("role:admin") && !valid_scope("role:root")
        );
        assert!(
            !valid_scope("proxy:crm:get") && !valid_scope("proxy:crm") && !valid_scope("crm:GET:x")
        );
        let (token, id, h) = generate();
        assert!(token.starts_with(&format!("jct_{id}_")));
        assert_eq!(hash(&token), h);
    }
}
