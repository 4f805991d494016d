//! The token manager: one access token per connection, cached in memory and in the store
//! (sealed by the vault), refreshed before it expires.
//!
//! - Proactive: a token is refreshed once `refresh_at` of its lifetime has passed (default 0.8);
//!   a provider that omits `expires_in` gets the configured default lifetime.
//! - Single-flight in a process: concurrent callers wait on one refresh (a per-connection lock,
//!   re-checked after it is taken).
//! - Once across processes: the refresh runs under the connection row's fenced lease
//!   (`take_refresh_lease` raises the epoch; tokens are saved only under that epoch). A process
//!   that finds the lease taken waits for the holder's tokens to appear in the store.
//! - A rotated refresh token is saved, in the same transaction as the access token, before the
//!   access token is handed to any caller.
//! - Repeated failure (or a refused grant) marks the connection `needs_reauth`: calls then fail
//!   fast with a clear error until an operator seeds new credentials.

use std::collections::HashMap;
use std::sync::{Arc, Mutex, RwLock};
use std::time::Duration;

use junction_config::{Grant, JwtBearer, OAuth, TokenLifetime};
use junction_core::time::now_ms;
use junction_core::{Code, Error, Origin};
use junction_store::{ConnectionState, RefreshFailed, SaveTokens, Store};
use junction_vault::{ExposeSecret, Vault};

use super::grant::{self, GrantError, Issued};

/// How tokens are obtained.
#[derive(Debug, Clone)]
pub enum TokenScheme {
    OAuth { grant: Grant, oauth: OAuth },
    Jwt(JwtBearer),
}

#[derive(Clone)]
struct Token {
    access: Arc<str>,
    refresh_at: i64,
    expires_at: i64,
    version: i64,
}

#[derive(Default)]
struct Cell {
    current: RwLock<Option<Token>>,
    refresh: tokio::sync::Mutex<()>,
}

impl Cell {
    fn get(&self) -> Option<Token> {
        self.current
            .read()
            .unwrap_or_else(|p| p.into_inner())
            .clone()
    }

    fn set(&self, t: Token) {
        *self.current.write().unwrap_or_else(|p| p.into_inner()) = Some(t);
    }
}

/// Whether a cached token serves: before its refresh time; after a rejection, any other token
/// that has not expired (someone already refreshed).
fn usable(t: &Token, rejected: Option<&str>) -> bool {
    match rejected {
        Some(r) => &*t.access != r && now_ms() < t.expires_at,
        None => now_ms() < t.refresh_at,
    }
}

pub struct TokenManager {
    connector: String,
    scheme: TokenScheme,
    lifetime: TokenLifetime,
    store: Arc<dyn Store>,
    vault: Arc<Vault>,
    http: reqwest::Client,
    cells: Mutex<HashMap<String, Arc<Cell>>>,
    /// How long a refresh may hold the connection's lease.
    lease: Duration,
    /// Where the application is told that a connection needs re-authorization.
    events: Option<String>,
}

/// Secret names of a connection's tokens in the vault.
pub fn access_secret(connector: &str, connection: &str) -> String {
    format!("conn.{connector}.{connection}.access")
}

pub fn refresh_secret(connector: &str, connection: &str) -> String {
    format!("conn.{connector}.{connection}.refresh")
}

impl TokenManager {
    pub fn new(
        connector: &str,
        scheme: TokenScheme,
        lifetime: TokenLifetime,
        store: Arc<dyn Store>,
        vault: Arc<Vault>,
        http: reqwest::Client,
    ) -> Self {
        Self {
            connector: connector.to_owned(),
            scheme,
            lifetime,
            store,
            vault,
            http,
            cells: Mutex::default(),
            lease: Duration::from_secs(30),
            events: None,
        }
    }

    /// Tells `destination` when a connection comes to need re-authorization.
    pub fn telling(mut self, destination: Option<String>) -> Self {
        self.events = destination;
        self
    }

    fn seeded(&self) -> bool {
        matches!(
            self.scheme,
            TokenScheme::OAuth {
                grant: Grant::RefreshToken,
                ..
            }
        )
    }

    fn cell(&self, connection: &str) -> Arc<Cell> {
        self.cells
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .entry(connection.to_owned())
            .or_default()
            .clone()
    }

    /// The connect flow's end: the authorization code exchanged (with its PKCE verifier) and
    /// the tokens saved as `connection`, whatever state it was in (a reconnect keeps its
    /// name and clears `needs_reauth`). Returns the scopes the vendor says it granted.
    pub async fn connect(
        &self,
        connection: &str,
        redirect: &url::Url,
        code: &str,
        verifier: &str,
    ) -> Result<Option<Vec<String>>, Error> {
        let TokenScheme::OAuth { oauth, .. } = &self.scheme else {
            return Err(Error::new(
                Code::BadRequest,
                Origin::Downstream,
                format!(
                    "connector `{}` does not take authorized connections",
                    self.connector
                ),
            ));
        };
        let connected = super::grant::exchange_code(&self.http, oauth, redirect, code, verifier)
            .await
            .map_err(|e| {
                Error::new(
                    Code::UpstreamRefused,
                    Origin::Upstream,
                    format!("the vendor did not exchange the code: {}", e.message),
                )
            })?;
        let issued = connected.issued;
        if issued.refresh.is_none() {
            return Err(Error::new(
                Code::UpstreamInvalid,
                Origin::Upstream,
                "the vendor issued no refresh token",
            )
            .with_hint(
                "ask for offline access in the connector's scopes, as the vendor documents",
            ));
        }
        let now = now_ms();
        let (secrets, expires_at, refresh_at) = self.sealed(connection, &issued, now)?;
        self.store
            .save_tokens(SaveTokens {
                connector: self.connector.clone(),
                name: connection.to_owned(),
                epoch: None,
                expires_at: Some(expires_at),
                refresh_at: Some(refresh_at),
                secrets,
                now,
            })
            .await
            .map_err(Error::from)?;
        // Tokens of an earlier grant kept in this process are not used again.
        self.cells
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .remove(connection);
        Ok(connected.granted)
    }

    /// Forgets the tokens of `connection` kept in this process (it was revoked).
    pub fn forget(&self, connection: &str) {
        self.cells
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .remove(connection);
    }

    /// An access token for `connection`, refreshed first if its time has come.
    pub async fn token(&self, connection: &str) -> Result<Arc<str>, Error> {
        self.obtain(connection, None).await
    }

    /// After the provider rejected `rejected` (401): a new token, refreshed at most once however
    /// many callers saw the same rejection.
    pub async fn after_rejection(
        &self,
        connection: &str,
        rejected: &str,
    ) -> Result<Arc<str>, Error> {
        self.obtain(connection, Some(rejected)).await
    }

    async fn obtain(&self, connection: &str, rejected: Option<&str>) -> Result<Arc<str>, Error> {
        let cell = self.cell(connection);
        if let Some(t) = cell.get().filter(|t| usable(t, rejected)) {
            return Ok(t.access);
        }
        let _flight = cell.refresh.lock().await;
        if let Some(t) = cell.get().filter(|t| usable(t, rejected)) {
            return Ok(t.access);
        }
        let waited_since = tokio::time::Instant::now();
        loop {
            let row = self
                .store
                .connection(&self.connector, connection)
                .await
                .map_err(Error::from)?;
            if let Some(row) = &row {
                if row.state == ConnectionState::NeedsReauth {
                    return Err(self.needs_reauth(connection, row.last_error.as_deref()));
                }
                let ours = cell.get().map_or(0, |t| t.version);
                if let (true, Some(expires_at), Some(refresh_at)) =
                    (row.token_version > ours, row.expires_at, row.refresh_at)
                {
                    if let Some(access) = self.stored_access(connection).await? {
                        let t = Token {
                            access: access.into(),
                            refresh_at,
                            expires_at,
                            version: row.token_version,
                        };
                        cell.set(t.clone());
                        if usable(&t, rejected) {
                            return Ok(t.access);
                        }
                    }
                }
            } else if self.seeded() {
                // No such connection: its cell is not kept (callers name connections, and
                // unknown names must not grow this map).
                self.forget(connection);
                return Err(self.not_seeded(connection));
            }
            let now = now_ms();
            let lease_ms = junction_core::time::ms(self.lease);
            let seen = row.as_ref().map_or(0, |r| r.token_version);
            match self
                .store
                .take_refresh_lease(&self.connector, connection, now, now + lease_ms, seen)
                .await
                .map_err(Error::from)?
            {
                Some(epoch) => return self.refresh(connection, &cell, epoch, rejected.is_some()).await,
                None if waited_since.elapsed() > self.lease + Duration::from_secs(5) => {
                    return Err(Error::new(
                        Code::Timeout,
                        Origin::Upstream,
                        format!("another process has been refreshing {}/{connection}'s token for too long", self.connector),
                    ))
                }
                // Another process is refreshing, or has just saved new tokens: read them.
                None => tokio::time::sleep(Duration::from_millis(50)).await,
            }
        }
    }

    async fn stored_access(&self, connection: &str) -> Result<Option<String>, Error> {
        self.open(&access_secret(&self.connector, connection)).await
    }

    /// Appends `action` on one of this connector's token secrets to the audit log, as the hub.
    async fn audit(
        &self,
        action: &str,
        secret: &str,
        detail: serde_json::Value,
    ) -> Result<(), Error> {
        self.store
            .append_audit(junction_store::NewAudit {
                at: now_ms(),
                actor: "hub".into(),
                action: action.into(),
                target: secret.into(),
                origin: "local".into(),
                detail: detail.to_string(),
            })
            .await
            .map(|_| ())
            .map_err(Error::from)
    }

    async fn open(&self, name: &str) -> Result<Option<String>, Error> {
        let Some(sealed) = self.store.secret(name).await.map_err(Error::from)? else {
            return Ok(None);
        };
        // Like the vault's own reads: a token read that cannot be recorded does not happen.
        self.audit(
            "secret.read",
            name,
            serde_json::json!({ "version": sealed.version }),
        )
        .await?;
        let value = self.vault.open_sealed(&sealed).map_err(|e| {
            Error::new(
                Code::Internal,
                Origin::Internal,
                "a stored token cannot be opened",
            )
            .with_cause(e)
        })?;
        Ok(Some(value.expose_secret().to_owned()))
    }

    /// Calls the provider under the lease `epoch` and saves what it issued.
    async fn refresh(
        &self,
        connection: &str,
        cell: &Cell,
        epoch: i64,
        forced: bool,
    ) -> Result<Arc<str>, Error> {
        let issued = match &self.scheme {
            TokenScheme::OAuth {
                grant: Grant::ClientCredentials,
                oauth,
            } => grant::client_credentials(&self.http, oauth).await,
            TokenScheme::OAuth {
                grant: Grant::RefreshToken,
                oauth,
            } => match self
                .open(&refresh_secret(&self.connector, connection))
                .await?
            {
                Some(rt) => grant::refresh(&self.http, oauth, &rt).await,
                None => Err(GrantError {
                    permanent: true,
                    message: "no refresh token is stored for this connection".into(),
                }),
            },
            TokenScheme::Jwt(jwt) => grant::jwt_bearer(&self.http, jwt).await,
        };
        match issued {
            Ok(issued) => {
                metrics::counter!("junction_connector_token_refreshes_total", "connector" => self.connector.clone(), "result" => "ok").increment(1);
                self.save(connection, cell, epoch, issued).await
            }
            Err(e) => {
                metrics::counter!("junction_connector_token_refreshes_total", "connector" => self.connector.clone(), "result" => "failed").increment(1);
                self.failed(connection, cell, epoch, forced, e).await
            }
        }
    }

    /// What the provider issued, masked in logs and sealed for the store, with when it expires
    /// and when to refresh it.
    fn sealed(
        &self,
        connection: &str,
        issued: &Issued,
        now: i64,
    ) -> Result<(Vec<junction_store::SealedSecret>, i64, i64), Error> {
        let lifetime = issued.expires_in.unwrap_or(self.lifetime.default_lifetime);
        let life_ms = junction_core::time::ms(lifetime);
        let refresh_at = now + (life_ms as f64 * self.lifetime.refresh_at) as i64;
        junction_core::mask::register(&issued.access);
        let seal = |name: String, value: &str| {
            self.vault.seal(&name, value).map_err(|e| {
                Error::new(Code::Internal, Origin::Internal, "cannot seal a token").with_cause(e)
            })
        };
        let mut secrets = vec![seal(
            access_secret(&self.connector, connection),
            &issued.access,
        )?];
        if let Some(rt) = &issued.refresh {
            junction_core::mask::register(rt);
            secrets.push(seal(refresh_secret(&self.connector, connection), rt)?);
        }
        Ok((secrets, now + life_ms, refresh_at))
    }

    async fn save(
        &self,
        connection: &str,
        cell: &Cell,
        epoch: i64,
        issued: Issued,
    ) -> Result<Arc<str>, Error> {
        let now = now_ms();
        let lifetime = issued.expires_in.unwrap_or(self.lifetime.default_lifetime);
        let (secrets, expires_at, refresh_at) = self.sealed(connection, &issued, now)?;
        let names: Vec<&str> = secrets.iter().map(|s| s.name.as_str()).collect();
        self.audit(
            "secret.set",
            &format!("{}/{connection}", self.connector),
            serde_json::json!({ "secrets": names, "reason": "token refresh", "lease_epoch": epoch }),
        )
        .await?;
        let saved = self
            .store
            .save_tokens(SaveTokens {
                connector: self.connector.clone(),
                name: connection.to_owned(),
                epoch: Some(epoch),
                expires_at: Some(expires_at),
                refresh_at: Some(refresh_at),
                secrets,
                now,
            })
            .await
            .map_err(Error::from)?;
        let version = if saved {
            tracing::info!(connector = %self.connector, connection, expires_in_s = lifetime.as_secs(), "token refreshed");
            self.store
                .connection(&self.connector, connection)
                .await
                .map_err(Error::from)?
                .map_or(0, |r| r.token_version)
        } else {
            tracing::warn!(connector = %self.connector, connection, "token refreshed after this process's lease was taken over; the new token is used here but not saved");
            0
        };
        let access: Arc<str> = issued.access.into();
        cell.set(Token {
            access: access.clone(),
            refresh_at,
            expires_at,
            version,
        });
        Ok(access)
    }

    async fn failed(
        &self,
        connection: &str,
        cell: &Cell,
        epoch: i64,
        forced: bool,
        e: GrantError,
    ) -> Result<Arc<str>, Error> {
        let reauth_after = if e.permanent {
            1
        } else {
            i64::from(self.lifetime.reauth_after)
        };
        let row = self
            .store
            .refresh_failed(RefreshFailed {
                connector: self.connector.clone(),
                name: connection.to_owned(),
                epoch,
                error: e.message.clone(),
                reauth_after,
                now: now_ms(),
            })
            .await
            .map_err(Error::from)?;
        if row
            .as_ref()
            .is_some_and(|r| r.state == ConnectionState::NeedsReauth)
        {
            metrics::counter!("junction_connector_needs_reauth_total", "connector" => self.connector.clone()).increment(1);
            tracing::error!(
                alert = "connection_needs_reauth",
                connector = %self.connector,
                connection,
                error = %e.message,
                "token refresh keeps failing: the connection needs re-authorisation; calls fail until new credentials are seeded"
            );
            if let (Some(destination), Some(row)) = (&self.events, &row) {
                let mut detail = serde_json::Map::new();
                detail.insert("error".into(), e.message.clone().into());
                detail.insert("failures".into(), row.failures.into());
                crate::lifecycle::tell(
                    &*self.store,
                    crate::lifecycle::Told {
                        change: crate::lifecycle::Change::NeedsReauth,
                        connector: &self.connector,
                        connection,
                        destination,
                        // One event however many processes' refreshes failed in this epoch.
                        id: format!("{}/{connection}/{epoch}", self.connector),
                        detail,
                    },
                )
                .await;
            }
            return Err(self.needs_reauth(connection, Some(&e.message)));
        }
        tracing::warn!(connector = %self.connector, connection, error = %e.message, "token refresh failed");
        // A token that has not expired yet still works while refreshes fail.
        if let Some(t) = cell.get().filter(|t| !forced && now_ms() < t.expires_at) {
            return Ok(t.access);
        }
        Err(Error::new(
            Code::UpstreamFailed,
            Origin::Upstream,
            format!(
                "cannot obtain a token for {}/{connection}: {}",
                self.connector, e.message
            ),
        )
        .with_hint("check the connector's token_url and client credentials"))
    }

    fn needs_reauth(&self, connection: &str, why: Option<&str>) -> Error {
        Error::new(
            Code::NeedsReauth,
            Origin::Upstream,
            format!(
                "connection {}/{connection} needs re-authorisation{}",
                self.connector,
                why.map(|w| format!(" (last error: {w})"))
                    .unwrap_or_default()
            ),
        )
        .with_hint(format!(
            "seed new credentials: junction connections set-token {} --connection {connection}",
            self.connector
        ))
    }

    fn not_seeded(&self, connection: &str) -> Error {
        Error::new(
            Code::NotFound,
            Origin::Downstream,
            format!(
                "connection {}/{connection} has no credentials",
                self.connector
            ),
        )
        .with_hint(format!(
            "have its user connect it through a connect session (POST /api/v1/connect-sessions), or seed a refresh token: junction connections set-token {} --connection {connection}",
            self.connector
        ))
    }
}
