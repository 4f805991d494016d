//! Guided OAuth connect: end users connect their own accounts. An internal app creates a
//! **connect session** for a tenant (`POST /api/v1/connect-sessions`, operator role); the end
//! user opens its link, `/connect/{session}`, picks a vendor, and is sent to the vendor's
//! authorization page (authorization code with PKCE S256); the vendor sends them back to
//! `/connect/callback`, where Junction exchanges the code and saves the tokens, sealed, as the
//! connection named by the tenant — the same connection on every reconnect, `needs_reauth`
//! cleared. Every connect is audited with the scopes asked for and granted.
//!
//! Sessions and OAuth states hold no row: each is sealed by the vault (envelope encryption
//! under the master key, the kind of token as associated data), so a callback reaching another
//! process of the cluster opens it, nothing needs cleaning up, and the PKCE verifier inside the
//! state is unreadable to the browser and the vendor it passes through. A session expires
//! (`ttl`, at most a day); a state after 10 minutes.

use std::sync::Arc;

use axum::extract::{Path, Query};
use axum::response::{IntoResponse, Response};
use axum::Json;
use base64::Engine;
use http::{HeaderValue, StatusCode};
use junction_core::time::now_ms;
use junction_core::{Code, Error};
use junction_server::ApiError;
use serde::{Deserialize, Serialize};

use crate::Hub;

const SESSION: &str = "connect.session";
const STATE: &str = "connect.state";
/// How long the vendor's authorization may take.
const STATE_TTL_MS: i64 = 10 * 60 * 1000;
/// Most bytes of a sealed token read from a URL.
const MAX_TOKEN: usize = 4096;

/// What a connect session allows, sealed into its link.
#[derive(Serialize, Deserialize)]
struct Claims {
    id: String,
    tenant: String,
    connectors: Vec<String>,
    expires_ms: i64,
    #[serde(default)]
    return_to: Option<String>,
    #[serde(default)]
    notify: Option<String>,
}

/// One authorization in flight, sealed into the OAuth `state`.
#[derive(Serialize, Deserialize)]
struct InFlight {
    /// The session's link token, to go back to.
    session: String,
    session_id: String,
    tenant: String,
    connector: String,
    verifier: String,
    expires_ms: i64,
}

fn b64(bytes: &[u8]) -> String {
    base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(bytes)
}

fn unb64(s: &str) -> Option<Vec<u8>> {
    base64::engine::general_purpose::URL_SAFE_NO_PAD
        .decode(s)
        .ok()
}

impl Hub {
    fn vault_or_error(&self) -> Result<&Arc<junction_vault::Vault>, Error> {
        self.vault.as_ref().ok_or_else(|| {
            Error::downstream(Code::NotReady, "guided connect needs the vault")
                .with_hint("start the hub with JUNCTION_MASTER_KEY set")
        })
    }
}

/// `v1.MASTER_VERSION.WRAPPED_KEY.CIPHERTEXT`, each part base64url.
fn seal<T: Serialize>(hub: &Hub, kind: &str, value: &T) -> Result<String, Error> {
    let json = serde_json::to_string(value).unwrap_or_default();
    let sealed = hub.vault_or_error()?.seal(kind, &json).map_err(|e| {
        Error::new(
            Code::Internal,
            junction_core::Origin::Internal,
            "cannot seal",
        )
        .with_cause(e)
    })?;
    Ok(format!(
        "v1.{}.{}.{}",
        sealed.master_version,
        b64(&sealed.wrapped_key),
        b64(&sealed.ciphertext)
    ))
}

fn open<T: serde::de::DeserializeOwned>(hub: &Hub, kind: &str, token: &str) -> Option<T> {
    use junction_vault::ExposeSecret;
    if token.len() > MAX_TOKEN {
        return None;
    }
    let mut parts = token.split('.');
    let (Some("v1"), Some(version), Some(key), Some(ct), None) = (
        parts.next(),
        parts.next(),
        parts.next(),
        parts.next(),
        parts.next(),
    ) else {
        return None;
    };
    let sealed = junction_store::SealedSecret {
        name: kind.to_owned(),
        version: 1,
        master_version: version.parse().ok()?,
        wrapped_key: unb64(key)?,
        ciphertext: unb64(ct)?,
        created_at: 0,
        updated_at: 0,
    };
    let text = hub.vault.as_ref()?.open_sealed(&sealed).ok()?;
    serde_json::from_str(text.expose_secret()).ok()
}

/// The connectors end users can connect: the refresh token grant with an `authorize_url`.
fn connectable(hub: &Hub) -> Vec<String> {
    let mut names: Vec<String> = hub
        .connectors()
        .values()
        .filter(|rt| authorize_target(&rt.cfg).is_some())
        .map(|rt| rt.cfg.name.clone())
        .collect();
    names.sort();
    names
}

fn authorize_target(
    c: &junction_config::Connector,
) -> Option<(&junction_config::OAuth, &url::Url)> {
    match &c.auth {
        Some(junction_config::OutboundAuth::OAuth2 {
            grant: junction_config::Grant::RefreshToken,
            oauth,
        }) => oauth.authorize_url.as_ref().map(|u| (oauth, u)),
        _ => None,
    }
}

/// `POST /api/v1/connect-sessions`: what the session allows.
#[derive(Debug, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct NewSession {
    /// The tenant whose accounts are connected: the name of the connections made (1-64 letters,
    /// digits, `-`, `_`).
    pub tenant: String,
    /// The connectors offered (default: every connector with an `authorize_url`).
    #[serde(default)]
    pub connectors: Option<Vec<String>>,
    /// Where the end user goes back to when done (`http(s)`).
    #[serde(default)]
    pub return_to: Option<String>,
    /// Seconds the link works (default 1800, at most 86400).
    #[serde(default)]
    pub ttl_s: Option<u64>,
    /// A destination (under `destinations:`) told of each connect: a `connection.connected`
    /// event `{session, tenant, connector, connection, scopes_requested, scopes_granted}`,
    /// delivered with the destination's signing, retries and dead letters.
    #[serde(default)]
    pub notify: Option<String>,
}

/// A connect session: the link to give the end user.
#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct SessionLink {
    pub id: String,
    pub tenant: String,
    pub connectors: Vec<String>,
    /// `{server.public_url}/connect/{token}`
    pub url: String,
    pub expires_at_ms: i64,
}

fn refused(code: Code, message: String, hint: &str) -> ApiError {
    ApiError(Error::downstream(code, message).with_hint(hint))
}

/// `POST /api/v1/connect-sessions`
#[utoipa::path(
    post,
    path = "/api/v1/connect-sessions",
    tag = "connections",
    request_body = NewSession,
    responses(
        (status = 201, description = "The session: give `url` to the end user", body = SessionLink),
        (status = 400, description = "Not a session request; an unknown or unconnectable connector, a bad tenant name, return address or destination", body = junction_server::errors::ErrorBody),
        (status = 401, description = "No or unknown token", body = junction_server::errors::ErrorBody),
        (status = 403, description = "The token's role is below operator", body = junction_server::errors::ErrorBody),
        (status = 409, description = "`server.public_url` is not set, or no connector can be connected", body = junction_server::errors::ErrorBody),
        (status = 503, description = "The vault is not open (no master key)", body = junction_server::errors::ErrorBody),
    ),
    security(("bearer" = []))
)]
pub async fn create_session(
    axum::Extension(hub): axum::Extension<Arc<Hub>>,
    body: axum::body::Bytes,
) -> Result<Response, ApiError> {
    let new: NewSession = serde_json::from_slice(&body).map_err(|e| {
        let why = if e.is_data() { "unexpected or missing fields" } else { "not JSON" };
        refused(
            Code::BadRequest,
            format!("invalid connect session request: {why}"),
            r#"send {"tenant": "acme-co"} with optional "connectors", "return_to", "notify", "ttl_s""#,
        )
    })?;
    let Some(public) = hub.public_url.clone() else {
        return Err(refused(
            Code::Conflict,
            "guided connect needs `server.public_url`".into(),
            "set server.public_url to the address end users' browsers reach this hub at",
        ));
    };
    if !junction_config::valid_entry_name(&new.tenant) {
        return Err(refused(
            Code::BadRequest,
            "`tenant` is not a name".into(),
            "1-64 letters, digits, `-` and `_`",
        ));
    }
    let offered = connectable(&hub);
    let connectors = match new.connectors {
        None => offered.clone(),
        Some(asked) => {
            if asked.len() > 32 {
                return Err(refused(
                    Code::BadRequest,
                    "at most 32 connectors".into(),
                    "offer fewer",
                ));
            }
            for c in &asked {
                if !offered.contains(c) {
                    return Err(refused(
                        Code::BadRequest,
                        format!(
                            "connector `{}` cannot be connected by end users",
                            c.chars().take(64).collect::<String>()
                        ),
                        &format!(
                            "connectable: {} (kind: oauth2_refresh_token with an authorize_url)",
                            offered.join(", ")
                        ),
                    ));
                }
            }
            asked
        }
    };
    if connectors.is_empty() {
        return Err(refused(
            Code::Conflict,
            "no connector can be connected by end users".into(),
            "give an oauth2_refresh_token connector an `authorize_url`",
        ));
    }
    if let Some(r) = &new.return_to {
        let ok = r.len() <= 2048
            && url::Url::parse(r).is_ok_and(|u| matches!(u.scheme(), "http" | "https"));
        if !ok {
            return Err(refused(
                Code::BadRequest,
                "`return_to` is not an http(s) address".into(),
                "e.g. https://app.example.com/settings",
            ));
        }
    }
    if let Some(d) = &new.notify {
        let known = hub.destinations.load();
        if !known.contains(d) {
            return Err(refused(
                Code::BadRequest,
                format!(
                    "no destination `{}` to notify",
                    d.chars().take(64).collect::<String>()
                ),
                "`notify` names a destination declared under `destinations:`",
            ));
        }
    }
    let ttl_ms = (new.ttl_s.unwrap_or(1800).clamp(60, 86_400) * 1000) as i64;
    let claims = Claims {
        id: uuid::Uuid::new_v4().to_string(),
        tenant: new.tenant,
        connectors,
        expires_ms: now_ms() + ttl_ms,
        return_to: new.return_to,
        notify: new.notify,
    };
    let token = seal(&hub, SESSION, &claims).map_err(ApiError)?;
    let url = format!("{}/connect/{token}", public.as_str().trim_end_matches('/'));
    let link = SessionLink {
        id: claims.id,
        tenant: claims.tenant,
        connectors: claims.connectors,
        url,
        expires_at_ms: claims.expires_ms,
    };
    Ok((StatusCode::CREATED, Json(link)).into_response())
}

/// HTML-escapes text.
fn esc(s: &str) -> String {
    s.replace('&', "&amp;")
        .replace('<', "&lt;")
        .replace('>', "&gt;")
        .replace('"', "&quot;")
        .replace('\'', "&#39;")
}

/// A page of the flow: no scripts, no framing, and no `Referer` (the link is a capability).
fn page(status: StatusCode, title: &str, body: &str) -> Response {
    let html = format!(
        "<!doctype html><html lang=\"en\"><head><meta charset=\"utf-8\"><meta name=\"viewport\" content=\"width=device-width\"><title>{t}</title>\
         <style>body{{font:16px system-ui,sans-serif;max-width:34rem;margin:3rem auto;padding:0 1rem;color:#1b1f24}}\
         a.button{{display:inline-block;padding:.5rem 1rem;border-radius:6px;background:#1f6feb;color:#fff;text-decoration:none}}\
         li{{margin:.75rem 0;list-style:none}}ul{{padding:0}}.state{{color:#57606a;margin-left:.5rem}}</style></head>\
         <body><h1>{t}</h1>{body}</body></html>",
        t = esc(title)
    );
    let mut res = (status, html).into_response();
    let h = res.headers_mut();
    h.insert(
        http::header::CONTENT_TYPE,
        HeaderValue::from_static("text/html; charset=utf-8"),
    );
    h.insert(
        http::header::CONTENT_SECURITY_POLICY,
        HeaderValue::from_static("default-src 'none'; style-src 'unsafe-inline'; form-action 'none'; frame-ancestors 'none'"),
    );
    h.insert(
        http::header::REFERRER_POLICY,
        HeaderValue::from_static("no-referrer"),
    );
    h.insert(
        http::header::CACHE_CONTROL,
        HeaderValue::from_static("no-store"),
    );
    h.insert("x-frame-options", HeaderValue::from_static("DENY"));
    res
}

fn expired() -> Response {
    page(
        StatusCode::GONE,
        "This link has expired",
        "<p>Ask the application that sent you here for a new link.</p>",
    )
}

/// `GET /connect/{session}`: the vendors the session offers, each with its connection's state.
pub async fn session_page(
    axum::Extension(hub): axum::Extension<Arc<Hub>>,
    Path(token): Path<String>,
) -> Response {
    let Some(claims) = open::<Claims>(&hub, SESSION, &token).filter(|c| c.expires_ms > now_ms())
    else {
        return expired();
    };
    let mut items = String::new();
    for name in &claims.connectors {
        let state = match hub.store.connection(name, &claims.tenant).await {
            Ok(Some(row)) if row.state == junction_store::ConnectionState::NeedsReauth => {
                ("Reconnect", "needs to be reconnected")
            }
            Ok(Some(_)) => ("Reconnect", "connected"),
            _ => ("Connect", "not connected"),
        };
        items.push_str(&format!(
            "<li><strong>{n}</strong> <span class=\"state\" id=\"state-{n}\">{s}</span><br><a class=\"button\" id=\"connect-{n}\" href=\"/connect/{token}/{n}\">{a} {n}</a></li>",
            n = esc(name),
            s = state.1,
            a = state.0,
            token = esc(&token),
        ));
    }
    page(
        StatusCode::OK,
        "Connect your accounts",
        &format!(
            "<p>For <strong>{}</strong>.</p><ul>{items}</ul>",
            esc(&claims.tenant)
        ),
    )
}

fn callback_url(public: &url::Url) -> Option<url::Url> {
    url::Url::parse(&format!(
        "{}/connect/callback",
        public.as_str().trim_end_matches('/')
    ))
    .ok()
}

/// `GET /connect/{session}/{connector}`: to the vendor's authorization page.
pub async fn start(
    axum::Extension(hub): axum::Extension<Arc<Hub>>,
    Path((token, connector)): Path<(String, String)>,
) -> Response {
    let Some(claims) = open::<Claims>(&hub, SESSION, &token).filter(|c| c.expires_ms > now_ms())
    else {
        return expired();
    };
    let target = hub
        .connector(&connector)
        .filter(|_| claims.connectors.contains(&connector));
    let Some(rt) = target else {
        return page(
            StatusCode::NOT_FOUND,
            "Not offered",
            "<p>This link does not offer that service.</p>",
        );
    };
    let (Some((oauth, authorize)), Some(redirect)) = (
        authorize_target(&rt.cfg),
        hub.public_url.as_ref().and_then(callback_url),
    ) else {
        return page(
            StatusCode::CONFLICT,
            "Not available",
            "<p>This service cannot be connected now.</p>",
        );
    };
    let (challenge, verifier) = crate::auth::grant::pkce();
    let in_flight = InFlight {
        session: token.clone(),
        session_id: claims.id,
        tenant: claims.tenant,
        connector: connector.clone(),
        verifier,
        expires_ms: now_ms() + STATE_TTL_MS,
    };
    let Ok(state) = seal(&hub, STATE, &in_flight) else {
        return page(
            StatusCode::SERVICE_UNAVAILABLE,
            "Not available",
            "<p>Try again in a moment.</p>",
        );
    };
    let url = crate::auth::grant::authorize(oauth, authorize, &redirect, state, challenge);
    let mut res = StatusCode::SEE_OTHER.into_response();
    if let Ok(v) = HeaderValue::from_str(url.as_str()) {
        res.headers_mut().insert(http::header::LOCATION, v);
    }
    res.headers_mut().insert(
        http::header::REFERRER_POLICY,
        HeaderValue::from_static("no-referrer"),
    );
    res.headers_mut().insert(
        http::header::CACHE_CONTROL,
        HeaderValue::from_static("no-store"),
    );
    res
}

/// What the vendor sends the browser back with.
#[derive(Deserialize)]
pub struct Callback {
    #[serde(default)]
    code: Option<String>,
    #[serde(default)]
    state: Option<String>,
    #[serde(default)]
    error: Option<String>,
}

/// `GET /connect/callback`: the code exchanged, the tokens saved as the tenant's connection.
pub async fn callback(
    axum::Extension(hub): axum::Extension<Arc<Hub>>,
    Query(q): Query<Callback>,
) -> Response {
    let Some(flight) = q
        .state
        .as_deref()
        .and_then(|s| open::<InFlight>(&hub, STATE, s))
        .filter(|f| f.expires_ms > now_ms())
    else {
        return page(
            StatusCode::BAD_REQUEST,
            "This authorization cannot be completed",
            "<p>It expired or did not start here. Open your connect link again.</p>",
        );
    };
    let back = format!(
        "<p><a class=\"button\" href=\"/connect/{}\">Back</a></p>",
        esc(&flight.session)
    );
    if let Some(e) = &q.error {
        let e: String = e.chars().take(64).collect();
        return page(
            StatusCode::OK,
            "Not connected",
            &format!(
                "<p>{} answered <code>{}</code>: nothing was connected.</p>{back}",
                esc(&flight.connector),
                esc(&e)
            ),
        );
    }
    let (Some(code), Some(rt), Some(redirect)) = (
        q.code
            .as_deref()
            .filter(|c| !c.is_empty() && c.len() <= 2048),
        hub.connector(&flight.connector),
        hub.public_url.as_ref().and_then(callback_url),
    ) else {
        return page(
            StatusCode::BAD_REQUEST,
            "Not connected",
            &format!("<p>The answer carried no code.</p>{back}"),
        );
    };
    let Some(tokens) = rt.token_manager() else {
        return page(
            StatusCode::CONFLICT,
            "Not connected",
            &format!("<p>This service cannot be connected now.</p>{back}"),
        );
    };
    let requested = authorize_target(&rt.cfg)
        .map(|(o, _)| o.scopes.clone())
        .unwrap_or_default();
    match tokens
        .connect(&flight.tenant, &redirect, code, &flight.verifier)
        .await
    {
        Ok(granted) => {
            let granted = granted.unwrap_or_else(|| requested.clone());
            let audited = hub
                .store
                .append_audit(junction_store::NewAudit {
                    at: now_ms(),
                    actor: format!("connect-session:{}", flight.session_id),
                    action: "connection.connect".into(),
                    target: format!("{}/{}", flight.connector, flight.tenant),
                    origin: "browser".into(),
                    detail: serde_json::json!({ "scopes_requested": requested, "scopes_granted": granted }).to_string(),
                })
                .await;
            if let Err(e) = audited {
                tracing::error!(error = %e, connector = %flight.connector, "a connect could not be audited");
            }
            tracing::info!(connector = %flight.connector, connection = %flight.tenant, "connection authorized by its end user");
            let session = open::<Claims>(&hub, SESSION, &flight.session);
            // The session's destination and the connector's, each told once.
            let mut told: Vec<String> = session
                .as_ref()
                .and_then(|c| c.notify.clone())
                .into_iter()
                .collect();
            if let Some(d) = rt
                .cfg
                .connection_events
                .clone()
                .filter(|d| !told.contains(d))
            {
                told.push(d);
            }
            for dest in &told {
                notify(&hub, &flight, dest, &requested, &granted).await;
            }
            let return_to = session.and_then(|c| c.return_to);
            let done = match return_to {
                Some(r) => format!("<p><a class=\"button\" id=\"return\" href=\"{}\">Return to the application</a></p>", esc(&r)),
                None => back,
            };
            page(
                StatusCode::OK,
                "Connected",
                &format!(
                    "<p id=\"connected\"><strong>{}</strong> is connected for <strong>{}</strong>.</p><p>Access granted: {}</p>{done}",
                    esc(&flight.connector),
                    esc(&flight.tenant),
                    esc(&granted.join(", "))
                ),
            )
        }
        Err(e) => {
            tracing::warn!(connector = %flight.connector, error = %e, "a connect failed");
            page(
                StatusCode::BAD_GATEWAY,
                "Not connected",
                &format!(
                    "<p>{} did not complete the connection. Try again.</p>{back}",
                    esc(&flight.connector)
                ),
            )
        }
    }
}

/// Tells `destination` of the connect (see [`crate::lifecycle`]).
async fn notify(
    hub: &Hub,
    flight: &InFlight,
    destination: &str,
    requested: &[String],
    granted: &[String],
) {
    let mut detail = serde_json::Map::new();
    detail.insert("session".into(), flight.session_id.clone().into());
    detail.insert("scopes_requested".into(), requested.into());
    detail.insert("scopes_granted".into(), granted.into());
    detail.insert("connected_at_ms".into(), now_ms().into());
    crate::lifecycle::tell(
        &*hub.store,
        crate::lifecycle::Told {
            change: crate::lifecycle::Change::Connected,
            connector: &flight.connector,
            connection: &flight.tenant,
            destination,
            id: format!("{}:{destination}", uuid::Uuid::new_v4()),
            detail,
        },
    )
    .await;
}

/// `GET /api/v1/connections`: every connection (optionally of one name: a tenant's), with its
/// token state — never its tokens.
#[utoipa::path(
    get,
    path = "/api/v1/connections",
    tag = "connections",
    params(("name" = Option<String>, Query, description = "Only the connections of this name (a tenant)")),
    responses(
        (status = 200, description = "The connections", body = ConnectionList),
        (status = 401, description = "No or unknown token", body = junction_server::errors::ErrorBody),
        (status = 403, description = "The token's role is too low", body = junction_server::errors::ErrorBody),
        (status = 503, description = "The store is unavailable", body = junction_server::errors::ErrorBody),
    ),
    security(("bearer" = []))
)]
pub async fn connections(
    axum::Extension(hub): axum::Extension<Arc<Hub>>,
    Query(q): Query<std::collections::HashMap<String, String>>,
) -> Result<Json<ConnectionList>, ApiError> {
    let rows = hub
        .store
        .connections()
        .await
        .map_err(|e| ApiError(Error::from(e)))?;
    let name = q.get("name");
    Ok(Json(ConnectionList {
        connections: rows
            .into_iter()
            .filter(|c| name.is_none_or(|n| &c.name == n))
            .map(|c| ConnectionItem {
                connector: c.connector,
                name: c.name,
                state: c.state.to_string(),
                expires_at_ms: c.expires_at,
                failures: c.failures,
                last_error: c.last_error,
            })
            .collect(),
    }))
}

/// Connections and their token state.
#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct ConnectionList {
    pub connections: Vec<ConnectionItem>,
}

/// One connection's token state.
#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct ConnectionItem {
    pub connector: String,
    pub name: String,
    /// `active`, or `needs_reauth`.
    pub state: String,
    pub expires_at_ms: Option<i64>,
    pub failures: i64,
    pub last_error: Option<String>,
}

/// `DELETE /api/v1/connections/{connector}/{name}`: revoke — the connection and its tokens are
/// forgotten; calls with it fail until it is connected again.
#[utoipa::path(
    delete,
    path = "/api/v1/connections/{connector}/{name}",
    tag = "connections",
    params(("connector" = String, Path), ("name" = String, Path)),
    responses(
        (status = 204, description = "Forgotten"),
        (status = 404, description = "No such connection", body = junction_server::errors::ErrorBody),
        (status = 401, description = "No or unknown token", body = junction_server::errors::ErrorBody),
        (status = 403, description = "The token's role is too low", body = junction_server::errors::ErrorBody),
        (status = 503, description = "The store is unavailable", body = junction_server::errors::ErrorBody),
    ),
    security(("bearer" = []))
)]
pub async fn revoke(
    axum::Extension(hub): axum::Extension<Arc<Hub>>,
    Path((connector, name)): Path<(String, String)>,
) -> Result<Response, ApiError> {
    let store_err = |e| ApiError(Error::from(e));
    let existed = hub
        .store
        .delete_connection(&connector, &name)
        .await
        .map_err(store_err)?;
    for secret in [
        crate::auth::tokens::access_secret(&connector, &name),
        crate::auth::tokens::refresh_secret(&connector, &name),
    ] {
        hub.store.delete_secret(&secret).await.map_err(store_err)?;
    }
    if let Some(rt) = hub.connector(&connector) {
        if let Some(t) = rt.token_manager() {
            t.forget(&name);
        }
    }
    if !existed {
        return Err(refused(
            Code::NotFound,
            format!("no connection {connector}/{name}"),
            "GET /api/v1/connections lists them",
        ));
    }
    let destination = hub
        .connector(&connector)
        .and_then(|rt| rt.cfg.connection_events.clone());
    if let Some(destination) = destination {
        crate::lifecycle::tell(
            &*hub.store,
            crate::lifecycle::Told {
                change: crate::lifecycle::Change::Revoked,
                connector: &connector,
                connection: &name,
                destination: &destination,
                id: uuid::Uuid::new_v4().to_string(),
                detail: Default::default(),
            },
        )
        .await;
    }
    Ok(StatusCode::NO_CONTENT.into_response())
}
