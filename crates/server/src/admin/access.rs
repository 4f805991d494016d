//! Authenticating admin callers, checking their role, auditing their actions.

use std::net::SocketAddr;
use std::sync::Arc;

use axum::extract::{ConnectInfo, MatchedPath, Request};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use http::Method;
use junction_core::{Code, Error, Origin};
use junction_store::{NewAudit, Store};

use crate::api_tokens::ApiTokens;
use crate::ApiError;

/// The dashboard's cookie holding the caller's token.
pub const SESSION_COOKIE: &str = "junction_session";

/// What a caller may do, each including the ones before it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, serde::Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Role {
    Viewer,
    Operator,
    Admin,
}

impl Role {
    pub fn parse(s: &str) -> Option<Self> {
        match s {
            "viewer" => Some(Self::Viewer),
            "operator" => Some(Self::Operator),
            "admin" => Some(Self::Admin),
            _ => None,
        }
    }

    pub fn as_str(self) -> &'static str {
        match self {
            Self::Viewer => "viewer",
            Self::Operator => "operator",
            Self::Admin => "admin",
        }
    }

    /// The highest role among space-separated scopes.
    pub fn of_scopes(scopes: &str) -> Option<Self> {
        scopes
            .split_whitespace()
            .filter_map(|s| s.strip_prefix("role:").and_then(Self::parse))
            .max()
    }
}

/// An authenticated admin caller; handlers find it in the request's extensions.
#[derive(Debug, Clone, serde::Serialize)]
pub struct Actor {
    /// `token:<id>`, `env-admin-token` or `loopback`.
    pub id: String,
    pub role: Role,
    /// The client's IP address.
    pub origin: String,
}

/// An event's payload as `actor` may see it: JSON (or the text, if it is not JSON), with
/// personal data masked ([`junction_core::pii`]) for viewers and for callers not known.
/// Operators and admins, who replay and fix deliveries, see it as received.
pub fn payload_view(payload: &[u8], actor: Option<&Actor>) -> serde_json::Value {
    let mut v = serde_json::from_slice(payload).unwrap_or_else(|_| {
        serde_json::Value::String(String::from_utf8_lossy(payload).into_owned())
    });
    if actor.is_none_or(|a| a.role < Role::Operator) {
        junction_core::pii::mask_json(&mut v);
    }
    v
}

/// The role an admin request needs.
pub fn required_role(method: &Method, path: &str) -> Role {
    const ADMIN_ONLY: [&str; 5] = [
        "/api/v1/erasures",
        "/api/v1/tokens",
        "/api/v1/secrets",
        "/api/v1/audit",
        "/api/v1/reload",
    ];
    let under = |p: &str| path == p || path.strip_prefix(p).is_some_and(|r| r.starts_with('/'));
    if ADMIN_ONLY.iter().any(|p| under(p)) {
        Role::Admin
    } else if is_read(method) {
        Role::Viewer
    } else {
        Role::Operator
    }
}

fn is_read(method: &Method) -> bool {
    matches!(*method, Method::GET | Method::HEAD | Method::OPTIONS)
}

/// The credentials the admin API accepts.
pub struct AdminAccess {
    store: Arc<dyn Store>,
    tokens: Arc<ApiTokens>,
    env_token: Option<String>,
    /// Host names honoured for ambient authority besides loopback literals and `localhost`.
    hosts: Vec<String>,
}

impl AdminAccess {
    /// `tokens`: the hub's API tokens (the state's); `hosts`: `server.hosts`, the names besides
    /// loopback under which a cookie or a token-less loopback client is trusted.
    pub fn new(
        store: Arc<dyn Store>,
        tokens: Arc<ApiTokens>,
        env_token: Option<String>,
        hosts: Vec<String>,
    ) -> Arc<Self> {
        if let Some(t) = &env_token {
            junction_core::mask::register(t);
        } else {
            tracing::info!(
                "JUNCTION_ADMIN_TOKEN is not set: loopback clients without a token are admins"
            );
        }
        Arc::new(Self {
            tokens,
            store,
            env_token,
            hosts,
        })
    }

    /// Who presents `credential` (a token's text).
    pub async fn authenticate(&self, credential: &str, origin: &str) -> Result<Actor, Error> {
        if let Some(expected) = &self.env_token {
            if constant_eq(credential.as_bytes(), expected.as_bytes()) {
                return Ok(Actor {
                    id: "env-admin-token".into(),
                    role: Role::Admin,
                    origin: origin.into(),
                });
            }
        }
        let token = self
            .tokens
            .verify(Some(&format!("Bearer {credential}")))
            .await?;
        let role = Role::of_scopes(&token.scopes).ok_or_else(|| {
            Error::new(
                Code::Forbidden,
                Origin::Downstream,
                format!("API token {} has no admin role", token.id),
            )
            .with_hint("create one with `junction tokens create NAME --role viewer|operator|admin`")
        })?;
        Ok(Actor {
            id: format!("token:{}", token.id),
            role,
            origin: origin.into(),
        })
    }

    pub fn store(&self) -> &Arc<dyn Store> {
        &self.store
    }

    /// Appends an audit entry for `actor`.
    pub async fn audit(
        &self,
        actor: &Actor,
        action: &str,
        target: &str,
        detail: serde_json::Value,
    ) -> Result<i64, Error> {
        let rec = self
            .store
            .append_audit(NewAudit {
                at: junction_core::time::now_ms(),
                actor: actor.id.clone(),
                action: action.into(),
                target: target.into(),
                origin: actor.origin.clone(),
                detail: detail.to_string(),
            })
            .await?;
        Ok(rec.seq)
    }
}

fn constant_eq(a: &[u8], b: &[u8]) -> bool {
    a.len() == b.len() && a.iter().zip(b).fold(0u8, |acc, (x, y)| acc | (x ^ y)) == 0
}

fn bearer(req: &Request) -> Option<String> {
    let auth = req
        .headers()
        .get(http::header::AUTHORIZATION)?
        .to_str()
        .ok()?;
    auth.strip_prefix("Bearer ")
        .or_else(|| auth.strip_prefix("bearer "))
        .map(|t| t.trim().to_owned())
}

/// The dashboard session token the request carries, if any.
pub fn session_cookie(req: &Request) -> Option<String> {
    cookie(req)
}

fn cookie(req: &Request) -> Option<String> {
    req.headers()
        .get_all(http::header::COOKIE)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(';'))
        .find_map(|kv| {
            let (k, v) = kv.trim().split_once('=')?;
            (k == SESSION_COOKIE && !v.is_empty()).then(|| v.to_owned())
        })
}

/// The admin API's middleware: authenticates, checks the role, audits actions.
pub async fn guard(access: Arc<AdminAccess>, mut req: Request, next: Next) -> Response {
    let peer = req
        .extensions()
        .get::<ConnectInfo<SocketAddr>>()
        .map(|c| c.0.ip());
    let origin = peer
        .map(|ip| ip.to_string())
        .unwrap_or_else(|| "unknown".into());
    let header = bearer(&req);
    // A browser sends cookies, and a loopback client needs no credential at all, on requests
    // another site makes it send: those may only read, unless they come from this origin.
    let ambient = header.is_none();
    // A page on another site can rename itself to 127.0.0.1 (DNS rebinding) and then send
    // same-origin requests from the user's browser: ambient authority holds only under a name
    // that cannot be rebound.
    if ambient && !trusted_host(&req, &access.hosts) {
        let e = Error::downstream(
            Code::Forbidden,
            "admin requests without a token are honoured only under a loopback address, localhost or a name in server.hosts",
        )
        .with_hint("send an API token in the Authorization header, or add this host name to server.hosts");
        return unauthenticated(&req, e);
    }
    if ambient && !is_read(req.method()) && !same_origin(req.headers()) {
        let e = Error::downstream(Code::Forbidden, "an admin action must come from this server's own pages")
            .with_hint("send the request with an API token in the Authorization header, or use the dashboard's buttons");
        return ApiError(e).into_response();
    }
    let credential = header.or_else(|| cookie(&req));
    // A client certificate is ambient too (a browser presents it on any request): the checks
    // above applied to it.
    let by_certificate = req
        .extensions()
        .get::<crate::tls::ClientNames>()
        .and_then(|names| access.tokens.client(names))
        .and_then(|t| Some((t.id.clone(), Role::of_scopes(&t.scopes)?)));
    let actor = match (credential, by_certificate) {
        (Some(c), _) => match access.authenticate(&c, &origin).await {
            Ok(a) => a,
            Err(e) => return unauthenticated(&req, e),
        },
        (None, Some((id, role))) => Actor { id, role, origin },
        (None, None) if access.env_token.is_none() && peer.is_some_and(|ip| ip.is_loopback()) => {
            Actor {
                id: "loopback".into(),
                role: Role::Admin,
                origin,
            }
        }
        (None, None) => {
            let hint = if access.env_token.is_some() {
                "send an admin token (`junction tokens create NAME --role …`, or the server's JUNCTION_ADMIN_TOKEN) as a bearer token"
            } else {
                "send an admin token from `junction tokens create NAME --role …` as a bearer token"
            };
            let e = Error::downstream(Code::Unauthorized, "the admin API needs a token")
                .with_hint(hint);
            return unauthenticated(&req, e);
        }
    };
    let path = req.uri().path().to_owned();
    let method = req.method().clone();
    let needed = required_role(&method, &path);
    let route = req
        .extensions()
        .get::<MatchedPath>()
        .map(|m| m.as_str().to_owned())
        .unwrap_or_else(|| path.clone());
    let action = format!("{method} {route}");
    let mut detail = serde_json::json!({});
    if let Some(q) = req.uri().query() {
        detail["query"] = q.into();
    }
    if actor.role < needed {
        detail["denied"] = format!("needs role {}", needed.as_str()).into();
        detail["role"] = actor.role.as_str().into();
        if let Err(e) = access.audit(&actor, &action, &path, detail).await {
            tracing::error!(error = %e, "cannot record a refused admin request in the audit log");
        }
        return ApiError(
            Error::downstream(
                Code::Forbidden,
                format!(
                    "{} needs the {} role; {} has {}",
                    action,
                    needed.as_str(),
                    actor.id,
                    actor.role.as_str()
                ),
            )
            .with_hint("ask an admin for a token with a higher role"),
        )
        .into_response();
    }
    if !is_read(&method) {
        match access.audit(&actor, &action, &path, detail).await {
            Ok(seq) => tracing::info!(actor = %actor.id, %action, audit = seq, "admin action"),
            Err(e) => {
                tracing::error!(error = %e, %action, "cannot record an admin action; it was not performed");
                let e = if e.code() == Code::StoreUnavailable {
                    e.with_hint(
                        "the audit log could not be written, so the action was not performed; retry when the store is back",
                    )
                } else {
                    e
                };
                return ApiError(e).into_response();
            }
        }
    }
    req.extensions_mut().insert(actor);
    next.run(req).await
}

/// Whether a request was not sent by another site: `Sec-Fetch-Site` is `same-origin` or `none`
/// (or absent), and an `Origin`, if any, names this host.
pub fn same_origin(h: &http::HeaderMap) -> bool {
    let site = h.get("sec-fetch-site").and_then(|v| v.to_str().ok());
    if matches!(site, Some(s) if s != "same-origin" && s != "none") {
        return false;
    }
    match (
        h.get(http::header::ORIGIN).and_then(|v| v.to_str().ok()),
        h.get(http::header::HOST).and_then(|v| v.to_str().ok()),
    ) {
        (Some(origin), Some(host)) => origin.split_once("://").map(|x| x.1) == Some(host),
        (Some(_), None) => false,
        (None, _) => true,
    }
}

/// Whether the request's host (the `Host` header, or the URI's authority) is a loopback literal,
/// `localhost`, or one of `hosts`.
fn trusted_host(req: &Request, hosts: &[String]) -> bool {
    let authority = req
        .headers()
        .get(http::header::HOST)
        .and_then(|v| v.to_str().ok())
        .or_else(|| req.uri().authority().map(|a| a.as_str()));
    let Some(authority) = authority else {
        return false;
    };
    let host = host_of(authority);
    if host.eq_ignore_ascii_case("localhost") {
        return true;
    }
    if let Ok(ip) = host.parse::<std::net::IpAddr>() {
        if ip.is_loopback() {
            return true;
        }
    }
    hosts.iter().any(|h| h.eq_ignore_ascii_case(host))
}

/// The host of `host[:port]` or `[v6]:port`, without brackets.
fn host_of(authority: &str) -> &str {
    if let Some(rest) = authority.strip_prefix('[') {
        // No closing bracket: not a host at all.
        return rest.split_once(']').map_or("", |(h, _)| h);
    }
    match authority.rsplit_once(':') {
        Some((h, port)) if port.bytes().all(|b| b.is_ascii_digit()) => h,
        _ => authority,
    }
}

fn unauthenticated(req: &Request, e: Error) -> Response {
    metrics::counter!("junction_admin_rejected_total", "code" => e.code().as_str()).increment(1);
    // The dashboard sends people without a session to its login page.
    if req.uri().path().starts_with("/ui") && req.method() == Method::GET {
        return axum::response::Redirect::to("/ui/login").into_response();
    }
    ApiError(e).into_response()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn with_host(host: &str) -> Request {
        http::Request::builder()
            .uri("/api/v1/tokens")
            .header(http::header::HOST, host)
            .body(axum::body::Body::empty())
            .unwrap()
    }

    #[test]
    fn ambient_authority_holds_only_under_names_that_cannot_be_rebound() {
        let hosts = vec!["junction.internal.example".to_owned()];
        for ok in [
            "127.0.0.1:8080",
            "127.0.0.1",
            "localhost:8080",
            "LOCALHOST",
            "[::1]:8080",
            "junction.internal.example",
            "Junction.Internal.Example:443",
        ] {
            assert!(trusted_host(&with_host(ok), &hosts), "{ok} refused");
        }
        for bad in [
            "rebind.attacker.test",
            "rebind.attacker.test:8080",
            "127.0.0.1.attacker.test",
            "localhost.attacker.test",
            "10.0.0.1:8080",
            "",
            "[::1",
        ] {
            assert!(!trusted_host(&with_host(bad), &hosts), "{bad} trusted");
        }
        let none = http::Request::builder()
            .uri("/api/v1/tokens")
            .body(axum::body::Body::empty())
            .unwrap();
        assert!(!trusted_host(&none, &hosts), "no Host at all");
    }

    #[test]
    fn roles_are_ordered_and_read_from_scopes() {
        assert_eq!(
            Role::of_scopes("proxy:crm:GET role:viewer role:operator"),
            Some(Role::Operator)
        );
        assert_eq!(Role::of_scopes("proxy:crm:GET"), None);
        assert!(Role::Viewer < Role::Operator && Role::Operator < Role::Admin);
    }

    #[test]
    fn reads_need_viewer_actions_operator_and_tokens_secrets_audit_admin() {
        let get = Method::GET;
        let post = Method::POST;
        assert_eq!(required_role(&get, "/api/v1/dead-letters"), Role::Viewer);
        assert_eq!(
            required_role(&post, "/api/v1/dead-letters/replay"),
            Role::Operator
        );
        assert_eq!(required_role(&get, "/api/v1/tokens"), Role::Admin);
        assert_eq!(required_role(&get, "/api/v1/audit/verify"), Role::Admin);
        assert_eq!(required_role(&get, "/api/v1/secrets"), Role::Admin);
        assert_eq!(required_role(&get, "/api/v1/tokensmith"), Role::Viewer);
        assert_eq!(
            required_role(&Method::DELETE, "/api/v1/tokens/x"),
            Role::Admin
        );
    }
}
