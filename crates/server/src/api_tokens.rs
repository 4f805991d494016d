//! Hub API tokens: what internal services present to `/proxy` and operators to the admin API. A
//! token is `jct_<id>_<secret>`; the store keeps only its SHA-256. Scopes are
//! `proxy:<connector>:<METHOD>` (with `*` for any connector or any method) and
//! `role:viewer|operator|admin` for the admin API.

use std::collections::HashMap;
use std::sync::{Arc, RwLock};
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

/// Checks a scope as written (`proxy:crm:GET`, `op:crm:get_customer`, `role:operator`).
pub use junction_core::scope::valid as valid_scope;

/// Whether `scopes` allow calling `operation` of `connector` (`op:CONNECTOR:OPERATION`, either
/// part `*`).
pub fn allows_operation(scopes: &str, connector: &str, operation: &str) -> bool {
    scopes.split_whitespace().any(|s| {
        let mut p = s.split(':');
        matches!((p.next(), p.next(), p.next(), p.next()), (Some("op"), Some(c), Some(o), None)
            if (c == "*" || c == connector) && (o == "*" || o == operation))
    })
}

/// Whether `scopes` allow `method` on `connector`.
pub fn allows(scopes: &str, connector: &str, method: &str) -> bool {
    scopes.split_whitespace().any(|s| {
        let mut p = s.split(':');
        matches!((p.next(), p.next(), p.next(), p.next()), (Some("proxy"), Some(c), Some(m), None)
            if (c == "*" || c == connector) && (m == "*" || m.eq_ignore_ascii_case(method)))
    })
}

/// The shortest gap between two reads of the token table: a flood of unknown tokens costs at
/// most one read per gap (the callers behind a read share it), and a token created a moment ago
/// (by another process, or the CLI on the database) is found by the next read.
pub const MIN_RELOAD_GAP: Duration = Duration::from_millis(100);

/// Every token of the store by hash, as read at `loaded`.
struct Snapshot {
    by_hash: HashMap<Vec<u8>, Arc<ApiToken>>,
    loaded: Option<Instant>,
}

/// Verifies presented tokens against a copy of the token table (the few rows operators made),
/// read again after [`REMEMBER`] (a revocation applies within it) or when a token is not in it
/// (at most once per [`MIN_RELOAD_GAP`]): a presented token is a hash lookup, never a map that
/// grows with what callers send, nor a store query per unknown token.
pub struct ApiTokens {
    store: Arc<dyn Store>,
    snapshot: RwLock<Arc<Snapshot>>,
    reload: tokio::sync::Mutex<()>,
    /// Requests each token may make (`server.rate_limits.per_token`), by token id.
    pub limits: crate::limits::PerKey,
    /// Client-certificate identities (`server.tls.clients`) as tokens, by certificate name.
    clients: RwLock<HashMap<String, Arc<ApiToken>>>,
}

impl ApiTokens {
    pub fn new(store: Arc<dyn Store>) -> Self {
        Self {
            store,
            snapshot: RwLock::new(Arc::new(Snapshot {
                by_hash: HashMap::new(),
                loaded: None,
            })),
            reload: tokio::sync::Mutex::new(()),
            limits: crate::limits::PerKey::default(),
            clients: RwLock::default(),
        }
    }

    /// Takes `server.tls.clients`: space-separated scopes by certificate name. Each acts as a
    /// token with id `cert:NAME` (audited and rate-limited under it).
    pub fn set_clients(&self, clients: &std::collections::BTreeMap<String, String>) {
        let map = clients
            .iter()
            .map(|(name, scopes)| {
                let token = ApiToken {
                    id: format!("cert:{name}"),
                    name: name.clone(),
                    token_hash: Vec::new(),
                    scopes: scopes.clone(),
                    created_at: 0,
                    expires_at: None,
                    revoked_at: None,
                };
                (name.clone(), Arc::new(token))
            })
            .collect();
        *self.clients.write().unwrap_or_else(|p| p.into_inner()) = map;
    }

    /// The caller of a request: its bearer token when it presents one, otherwise the identity
    /// of its client certificate when `server.tls.clients` names one of the certificate's names
    /// (the first that matches, in the certificate's order).
    pub async fn verify_caller(
        &self,
        authorization: Option<&str>,
        certificate: Option<&crate::tls::ClientNames>,
    ) -> Result<Arc<ApiToken>, Error> {
        if let (None, Some(names)) = (authorization, certificate) {
            let Some(token) = self.client(names) else {
                return Err(Error::new(
                    Code::Unauthorized,
                    Origin::Downstream,
                    "no API token, and the client certificate's names are not in server.tls.clients",
                )
                .with_hint(format!(
                    "present a hub API token, or give one of the certificate's names ({}) scopes under server.tls.clients",
                    names.0.join(", ")
                )));
            };
            self.admit(&token)?;
            return Ok(token);
        }
        self.verify(authorization).await
    }

    /// The identity `server.tls.clients` gives a client certificate with these names: the first
    /// name that has one, in the certificate's order.
    pub fn client(&self, names: &crate::tls::ClientNames) -> Option<Arc<ApiToken>> {
        let clients = self.clients.read().unwrap_or_else(|p| p.into_inner());
        names.0.iter().find_map(|n| clients.get(n)).cloned()
    }

    fn admit(&self, token: &ApiToken) -> Result<(), Error> {
        if let Err(retry) = self.limits.admit(&token.id, Instant::now()) {
            metrics::counter!("junction_api_rate_limited_total").increment(1);
            return Err(crate::limits::refused(
                &format!("API token {}", token.id),
                &self.limits.rates(),
                retry,
                "server.rate_limits.per_token",
            ));
        }
        Ok(())
    }

    fn current(&self) -> Arc<Snapshot> {
        self.snapshot
            .read()
            .unwrap_or_else(|p| p.into_inner())
            .clone()
    }

    /// Tokens known now (for tests and metrics).
    pub fn known(&self) -> usize {
        self.current().by_hash.len()
    }

    /// The token with hash `h`. A hit is answered from the copy while it is younger than
    /// `REMEMBER`; a miss waits for a copy read after it was asked (one read at a time, at most
    /// one per `MIN_RELOAD_GAP`), so a new token is found and unknown ones cost bounded work.
    async fn lookup(&self, h: &[u8]) -> Result<Option<Arc<ApiToken>>, Error> {
        let asked = Instant::now();
        let s = self.current();
        let fresh = s
            .loaded
            .is_some_and(|at| asked.duration_since(at) < REMEMBER);
        if let Some(t) = s.by_hash.get(h).filter(|_| fresh) {
            return Ok(Some(t.clone()));
        }
        let _one = self.reload.lock().await;
        let s = self.current();
        if s.loaded.is_some_and(|at| at >= asked) {
            // Another caller read the table after this one asked.
            return Ok(s.by_hash.get(h).cloned());
        }
        if let Some(at) = s.loaded {
            tokio::time::sleep_until(at + MIN_RELOAD_GAP).await;
        }
        let rows = self.store.api_tokens().await.map_err(Error::from)?;
        let by_hash: HashMap<Vec<u8>, Arc<ApiToken>> = rows
            .into_iter()
            .map(|t| (t.token_hash.clone(), Arc::new(t)))
            .collect();
        let found = by_hash.get(h).cloned();
        let ids: std::collections::HashSet<&str> =
            by_hash.values().map(|t| t.id.as_str()).collect();
        self.limits.retain(|id| ids.contains(id));
        *self.snapshot.write().unwrap_or_else(|p| p.into_inner()) = Arc::new(Snapshot {
            by_hash,
            loaded: Some(Instant::now()),
        });
        Ok(found)
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
        let token = self
            .lookup(&hash(presented))
            .await?
            .ok_or_else(|| unauthorized("unknown API token"))?;
        let wall = junction_core::time::now_ms();
        if token.revoked_at.is_some() {
            return Err(unauthorized("this API token was revoked"));
        }
        if token.expires_at.is_some_and(|e| e <= wall) {
            return Err(unauthorized("this API token has expired"));
        }
        self.admit(&token)?;
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

    #[test]
    fn operation_scopes_name_a_connector_and_an_operation() {
        assert!(allows_operation(
            "op:crm:get_customer",
            "crm",
            "get_customer"
        ));
        assert!(!allows_operation(
            "op:crm:get_customer",
            "crm",
            "delete_customer"
        ));
        assert!(allows_operation("op:crm:*", "crm", "delete_customer"));
        assert!(allows_operation("proxy:crm:GET op:*:*", "erp", "x"));
        assert!(!allows_operation("proxy:*:*", "crm", "get_customer"));
        assert!(
            !allows("op:crm:*", "crm", "GET"),
            "an operation scope is not a proxy scope"
        );
        assert!(valid_scope("op:crm:get_customer") && valid_scope("op:*:*"));
        assert!(!valid_scope("op:crm") && !valid_scope("op:crm:a/b") && !valid_scope("op::x"));
    }
}

#[cfg(test)]
mod flood {
    use super::*;

    /// Adds a token with every proxy scope; returns its text.
    async fn add(store: &Arc<dyn Store>, name: &str) -> String {
        let (text, id, token_hash) = generate();
        store
            .add_api_token(ApiToken {
                id,
                name: name.into(),
                token_hash,
                scopes: "proxy:*:*".into(),
                created_at: 0,
                expires_at: None,
                revoked_at: None,
            })
            .await
            .unwrap();
        text
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn a_flood_of_unknown_tokens_grows_nothing_and_leaves_real_tokens_fast() {
        let (url, _dir) = junction_testkit::sqlite_url();
        let store = junction_store::open(&junction_store::Options {
            url: junction_config::parse_database_url(&url).unwrap(),
            max_connections: 2,
            connect_timeout: Duration::from_secs(5),
        })
        .await
        .unwrap();
        let text = add(&store, "svc").await;
        let tokens = ApiTokens::new(store.clone());
        let real = format!("Bearer {text}");
        assert!(tokens.verify(Some(&real)).await.is_ok());
        // 5,000 unknown tokens at once: they share a few reads of the table.
        let started = std::time::Instant::now();
        let fakes: Vec<String> = (0..5_000)
            .map(|i| format!("Bearer jct_{i:012}_notatoken"))
            .collect();
        let results =
            futures_util::future::join_all(fakes.iter().map(|f| tokens.verify(Some(f)))).await;
        assert!(results.iter().all(Result::is_err));
        assert!(
            started.elapsed() < Duration::from_secs(5),
            "the flood took {:?}",
            started.elapsed()
        );
        assert_eq!(tokens.known(), 1, "unknown tokens are not remembered");
        let started = std::time::Instant::now();
        for _ in 0..1000 {
            tokens.verify(Some(&real)).await.unwrap();
        }
        assert!(
            started.elapsed() < Duration::from_secs(1),
            "1,000 verifications took {:?}",
            started.elapsed()
        );
        // A token made elsewhere (the CLI, another process) is found at once.
        let later = add(&store, "new").await;
        assert!(tokens
            .verify(Some(&format!("Bearer {later}")))
            .await
            .is_ok());
    }
}
