//! The mock's routes. Resources under `/v1`, `/v2` and unversioned (pinned by `API-Version`);
//! inspection under `/_mock`.

use std::collections::BTreeMap;
use std::sync::{Arc, RwLock};
use std::time::Instant;

use axum::extract::{Path, Query, Request, State as AxState};
use axum::http::{HeaderMap, HeaderValue, StatusCode};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use axum::{Extension, Json, Router};
use serde_json::{json, Value};

use crate::auth::{Denied, Tokens};
use crate::chaos::{ChaosState, Fate};
use crate::data::{Customer, Dataset};
use crate::quota::Quotas;
use crate::record::{Log, Recorded};
use crate::versions::{self, Version};
use crate::{pagination, MockConfig};

/// Shared state of one mock.
pub struct State {
    pub config: MockConfig,
    pub data: RwLock<Dataset>,
    pub log: Log,
    pub tokens: Tokens,
    pub quotas: Quotas,
    pub chaos: ChaosState,
    started: Instant,
}

impl State {
    pub fn new(config: MockConfig) -> Self {
        let data = Dataset::generate(config.seed, config.customers);
        Self {
            log: Log::new(config.record_limit),
            data: RwLock::new(data),
            tokens: Tokens::default(),
            quotas: Quotas::default(),
            chaos: ChaosState::default(),
            config,
            started: Instant::now(),
        }
    }

    fn read(&self) -> std::sync::RwLockReadGuard<'_, Dataset> {
        self.data.read().unwrap_or_else(|p| p.into_inner())
    }

    fn write(&self) -> std::sync::RwLockWriteGuard<'_, Dataset> {
        self.data.write().unwrap_or_else(|p| p.into_inner())
    }
}

type St = AxState<Arc<State>>;

/// How a route picks its version.
#[derive(Clone, Copy)]
enum Pin {
    Path(Version),
    Header,
}

impl Pin {
    fn resolve(self, headers: &HeaderMap) -> Version {
        match self {
            Pin::Path(v) => v,
            Pin::Header => {
                Version::from_header(headers.get("api-version").and_then(|v| v.to_str().ok()))
            }
        }
    }
}

pub fn router(state: Arc<State>) -> Router {
    let resources = || {
        Router::new()
            .route("/customers", get(list_customers).post(create_customer))
            .route(
                "/customers/{id}",
                get(get_customer)
                    .patch(update_customer)
                    .delete(delete_customer),
            )
            .route("/orders", get(list_orders))
            .route_layer(axum::middleware::from_fn_with_state(state.clone(), gate))
    };
    Router::new()
        .nest("/v1", resources().layer(Extension(Pin::Path(Version::V1))))
        .nest("/v2", resources().layer(Extension(Pin::Path(Version::V2))))
        .merge(resources().layer(Extension(Pin::Header)))
        .route("/oauth/token", post(token))
        .route("/oauth/authorize", get(authorize))
        .route("/_mock/requests", get(requests))
        .route("/_mock/tokens", get(tokens))
        .route(
            "/_mock/chaos",
            get(get_chaos).put(put_chaos).delete(delete_chaos),
        )
        .route("/_mock/reset", post(reset))
        .fallback(|| async { error(StatusCode::NOT_FOUND, "resource_missing", "no such route") })
        .layer(axum::middleware::from_fn_with_state(state.clone(), record))
        .with_state(state)
}

/// Records every request on arrival, before it is answered.
async fn record(AxState(state): St, req: Request, next: Next) -> Response {
    let headers = req
        .headers()
        .iter()
        .map(|(k, v)| {
            (
                k.as_str().to_owned(),
                String::from_utf8_lossy(v.as_bytes()).into_owned(),
            )
        })
        .collect();
    let at_ms = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_millis() as i64)
        .unwrap_or(0);
    if !req.uri().path().starts_with("/_mock/") {
        state.log.push(Recorded {
            at_ms,
            at_us: state.started.elapsed().as_micros() as u64,
            method: req.method().to_string(),
            path: req.uri().path().to_owned(),
            query: req.uri().query().map(str::to_owned),
            headers,
        });
    }
    next.run(req).await
}

fn error(status: StatusCode, kind: &str, message: &str) -> Response {
    (
        status,
        Json(json!({ "error": { "type": kind, "message": message } })),
    )
        .into_response()
}

/// A JSON answer in `version`, with v1's deprecation headers.
fn answer(
    version: Version,
    status: StatusCode,
    body: impl serde::Serialize,
    link: Option<String>,
) -> Response {
    let mut res = (status, Json(body)).into_response();
    let h = res.headers_mut();
    if version == Version::V1 {
        h.insert(
            "deprecation",
            HeaderValue::from_str(&format!("@{}", versions::V1_DEPRECATED_AT)).expect("ascii"),
        );
        h.insert("sunset", HeaderValue::from_static(versions::V1_SUNSET));
    }
    let mut links: Vec<String> = link.into_iter().collect();
    if version == Version::V1 {
        links.push("</v2/customers>; rel=\"successor-version\"".into());
    }
    if !links.is_empty() {
        if let Ok(v) = HeaderValue::from_str(&links.join(", ")) {
            h.insert("link", v);
        }
    }
    res
}

/// `updated_since`: unix seconds or an ISO 8601 time.
fn updated_since(q: &BTreeMap<String, String>) -> Result<Option<i64>, String> {
    let Some(v) = q.get("updated_since") else {
        return Ok(None);
    };
    if let Ok(n) = v.parse::<i64>() {
        return Ok(Some(n));
    }
    humantime::parse_rfc3339(v)
        .map(|t| {
            Some(
                t.duration_since(std::time::UNIX_EPOCH)
                    .map(|d| d.as_secs() as i64)
                    .unwrap_or(0),
            )
        })
        .map_err(|_| format!("`updated_since` must be unix seconds or ISO 8601, got `{v}`"))
}

/// One page of a list answer: `items` (already filtered) paginated by the query, each rendered.
fn list<T>(
    v: Version,
    items: &[&T],
    id: impl Fn(&T) -> &str,
    render: impl Fn(&T) -> Value,
    q: &BTreeMap<String, String>,
    path: &str,
) -> Response {
    let ids: Vec<&str> = items.iter().map(|t| id(t)).collect();
    match pagination::page(&ids, q, path) {
        Ok(p) => {
            let mut body = p.fields;
            body["object"] = json!("list");
            body["data"] = Value::Array(items[p.range].iter().map(|t| render(t)).collect());
            answer(v, StatusCode::OK, body, p.link)
        }
        Err(e) => error(StatusCode::BAD_REQUEST, "invalid_request_error", &e),
    }
}

async fn list_customers(
    AxState(state): St,
    Extension(pin): Extension<Pin>,
    headers: HeaderMap,
    uri: axum::http::Uri,
    Query(q): Query<BTreeMap<String, String>>,
) -> Response {
    let v = pin.resolve(&headers);
    let since = match updated_since(&q) {
        Ok(s) => s,
        Err(e) => return error(StatusCode::BAD_REQUEST, "invalid_request_error", &e),
    };
    let data = state.read();
    let items: Vec<&Customer> = data
        .customers
        .iter()
        .filter(|c| since.is_none_or(|s| c.updated >= s))
        .collect();
    let render = |c: &Customer| serde_json::to_value(versions::customer(c, v)).unwrap_or_default();
    list(v, &items, |c| &c.id, render, &q, uri.path())
}

async fn list_orders(
    AxState(state): St,
    Extension(pin): Extension<Pin>,
    headers: HeaderMap,
    uri: axum::http::Uri,
    Query(q): Query<BTreeMap<String, String>>,
) -> Response {
    let v = pin.resolve(&headers);
    let since = match updated_since(&q) {
        Ok(s) => s,
        Err(e) => return error(StatusCode::BAD_REQUEST, "invalid_request_error", &e),
    };
    let data = state.read();
    let customer = q.get("customer");
    let items: Vec<_> = data
        .orders
        .iter()
        .filter(|o| {
            since.is_none_or(|s| o.updated >= s) && customer.is_none_or(|c| &o.customer_id == c)
        })
        .collect();
    list(
        v,
        &items,
        |o| &o.id,
        |o| versions::order(o, v),
        &q,
        uri.path(),
    )
}

async fn get_customer(
    AxState(state): St,
    Extension(pin): Extension<Pin>,
    headers: HeaderMap,
    Path(id): Path<String>,
) -> Response {
    let v = pin.resolve(&headers);
    match state.read().customer(&id) {
        Some(c) => answer(v, StatusCode::OK, versions::customer(c, v), None),
        None => error(
            StatusCode::NOT_FOUND,
            "resource_missing",
            &format!("no customer `{id}`"),
        ),
    }
}

fn parse_body(body: &[u8]) -> Result<Value, String> {
    serde_json::from_slice(body).map_err(|e| format!("invalid JSON: {e}"))
}

async fn create_customer(
    AxState(state): St,
    Extension(pin): Extension<Pin>,
    headers: HeaderMap,
    body: axum::body::Bytes,
) -> Response {
    let v = pin.resolve(&headers);
    let body = match parse_body(&body) {
        Ok(b) => b,
        Err(e) => return error(StatusCode::BAD_REQUEST, "invalid_request_error", &e),
    };
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_secs() as i64)
        .unwrap_or(0);
    let mut c = Customer {
        id: String::new(),
        name: String::new(),
        email: String::new(),
        status: "active".into(),
        created: now,
        updated: now,
        line1: String::new(),
        city: String::new(),
        postcode: String::new(),
        country: String::new(),
    };
    if let Err(e) = versions::apply(&mut c, &body, v) {
        return error(StatusCode::BAD_REQUEST, "invalid_request_error", &e);
    }
    if c.email.is_empty() {
        let field = if v == Version::V1 {
            "email"
        } else {
            "email_address"
        };
        return error(
            StatusCode::BAD_REQUEST,
            "invalid_request_error",
            &format!("`{field}` is required"),
        );
    }
    let mut data = state.write();
    let created = data.insert(c);
    answer(v, StatusCode::CREATED, versions::customer(created, v), None)
}

async fn update_customer(
    AxState(state): St,
    Extension(pin): Extension<Pin>,
    headers: HeaderMap,
    Path(id): Path<String>,
    body: axum::body::Bytes,
) -> Response {
    let v = pin.resolve(&headers);
    let body = match parse_body(&body) {
        Ok(b) => b,
        Err(e) => return error(StatusCode::BAD_REQUEST, "invalid_request_error", &e),
    };
    let mut data = state.write();
    let Some(c) = data.customer_mut(&id) else {
        return error(
            StatusCode::NOT_FOUND,
            "resource_missing",
            &format!("no customer `{id}`"),
        );
    };
    let mut updated = c.clone();
    if let Err(e) = versions::apply(&mut updated, &body, v) {
        return error(StatusCode::BAD_REQUEST, "invalid_request_error", &e);
    }
    updated.updated = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_secs() as i64)
        .unwrap_or(0);
    *c = updated;
    answer(v, StatusCode::OK, versions::customer(c, v), None)
}

async fn delete_customer(
    AxState(state): St,
    Extension(pin): Extension<Pin>,
    headers: HeaderMap,
    Path(id): Path<String>,
) -> Response {
    let v = pin.resolve(&headers);
    if state.write().remove(&id) {
        answer(
            v,
            StatusCode::OK,
            json!({ "id": id, "object": "customer", "deleted": true }),
            None,
        )
    } else {
        error(
            StatusCode::NOT_FOUND,
            "resource_missing",
            &format!("no customer `{id}`"),
        )
    }
}

/// Every resource request passes here, in the order a real provider's edge would apply them:
/// chaos (latency, injected failures), then the quota, then credentials; chaos may then spoil a
/// 200's body, and the quota headers go on every answer.
async fn gate(AxState(state): St, req: Request, next: Next) -> Response {
    let (fate, latency) = state.chaos.next();
    if !latency.is_zero() {
        tokio::time::sleep(latency).await;
    }
    if let Some(res) = chaos_instead(&fate).await {
        return res;
    }
    let quota = (!state.config.quotas.limits.is_empty()).then(|| {
        let key = req
            .headers()
            .get("x-api-key")
            .or_else(|| req.headers().get("authorization"))
            .and_then(|v| v.to_str().ok())
            .unwrap_or("anonymous");
        state.quotas.admit(&state.config.quotas, key)
    });
    let mut res = match (&quota, authenticate(&state, &req)) {
        (Some(q), _) if q.retry_after.is_some() => too_many(q.retry_after.unwrap_or_default()),
        (_, Some(denied)) => denied,
        _ => chaos_after(&fate, next.run(req).await).await,
    };
    for (name, value) in quota.map(|q| q.headers).unwrap_or_default() {
        if let (Ok(n), Ok(v)) = (
            http::HeaderName::try_from(name),
            HeaderValue::from_str(&value),
        ) {
            res.headers_mut().insert(n, v);
        }
    }
    res
}

/// The answers chaos gives instead of the real one: an error, a hang, a dropped connection.
async fn chaos_instead(fate: &Fate) -> Option<Response> {
    match fate {
        Fate::Error(status) => {
            let status = StatusCode::from_u16(*status).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR);
            Some(error(status, "api_error", "injected failure (chaos)"))
        }
        Fate::Hang => {
            tokio::time::sleep(std::time::Duration::from_secs(3600)).await;
            Some(error(
                StatusCode::GATEWAY_TIMEOUT,
                "api_error",
                "hung (chaos)",
            ))
        }
        Fate::Reset => {
            let body = axum::body::Body::from_stream(futures_util::stream::once(async {
                Err::<axum::body::Bytes, std::io::Error>(std::io::Error::other(
                    "connection reset (chaos)",
                ))
            }));
            let mut res = Response::new(body);
            res.headers_mut()
                .insert("content-type", HeaderValue::from_static("application/json"));
            Some(res)
        }
        _ => None,
    }
}

/// Spoils a 200's body when chaos says so: truncated (malformed) or one field drifted.
async fn chaos_after(fate: &Fate, res: Response) -> Response {
    if !matches!(fate, Fate::Malformed | Fate::Drift(_)) || res.status() != StatusCode::OK {
        return res;
    }
    let (mut parts, body) = res.into_parts();
    let Ok(bytes) = axum::body::to_bytes(body, 16 << 20).await else {
        return error(
            StatusCode::INTERNAL_SERVER_ERROR,
            "api_error",
            "body too large",
        );
    };
    let bytes = match fate {
        Fate::Drift(pick) => match serde_json::from_slice::<Value>(&bytes) {
            Ok(mut v) => {
                crate::chaos::drift(&mut v, *pick);
                serde_json::to_vec(&v).unwrap_or_else(|_| bytes.to_vec())
            }
            Err(_) => bytes.to_vec(),
        },
        _ => bytes[..bytes.len() / 2].to_vec(),
    };
    parts.headers.remove("content-length");
    Response::from_parts(parts, axum::body::Body::from(bytes))
}

fn too_many(wait: std::time::Duration) -> Response {
    let mut res = error(
        StatusCode::TOO_MANY_REQUESTS,
        "rate_limit_error",
        "too many requests",
    );
    let secs = wait.as_secs() + u64::from(wait.subsec_nanos() > 0);
    res.headers_mut()
        .insert("retry-after", HeaderValue::from(secs));
    res
}

async fn get_chaos(AxState(state): St) -> Response {
    Json(state.chaos.get()).into_response()
}

/// `PUT /_mock/chaos`: replace the setting (and restart its deterministic sequence).
async fn put_chaos(AxState(state): St, body: axum::body::Bytes) -> Response {
    let chaos: crate::Chaos = match serde_json::from_slice(&body) {
        Ok(c) => c,
        Err(e) => {
            return error(
                StatusCode::BAD_REQUEST,
                "invalid_request_error",
                &format!("invalid chaos setting: {e}"),
            )
        }
    };
    match state.chaos.set(chaos) {
        Ok(()) => Json(state.chaos.get()).into_response(),
        Err(e) => error(StatusCode::BAD_REQUEST, "invalid_request_error", &e),
    }
}

async fn delete_chaos(AxState(state): St) -> Response {
    let _ = state.chaos.set(crate::Chaos::default());
    Json(state.chaos.get()).into_response()
}

/// The scope a resource request needs.
fn scope_for(method: &http::Method, path: &str) -> &'static str {
    if path.contains("/orders") {
        "orders:read"
    } else if method == http::Method::GET {
        "customers:read"
    } else {
        "customers:write"
    }
}

/// `Some(401 or 403)` when the request lacks valid credentials or the route's scope.
fn authenticate(state: &State, req: &Request) -> Option<Response> {
    let scope = scope_for(req.method(), req.uri().path());
    let (status, kind, why, challenge) =
        match state
            .tokens
            .check(&state.config.auth, req.headers(), req.uri().query(), scope)
        {
            Ok(()) => return None,
            Err(Denied::Unauthenticated(why)) => (
                StatusCode::UNAUTHORIZED,
                "authentication_error",
                why.to_owned(),
                format!(
                    "Bearer realm=\"mock\", error=\"invalid_token\", error_description=\"{why}\""
                ),
            ),
            Err(Denied::Forbidden(why)) => (
                StatusCode::FORBIDDEN,
                "permission_error",
                why,
                format!("Bearer realm=\"mock\", error=\"insufficient_scope\", scope=\"{scope}\""),
            ),
        };
    let mut res = error(status, kind, &why);
    if let Ok(v) = HeaderValue::from_str(&challenge) {
        res.headers_mut().insert("www-authenticate", v);
    }
    Some(res)
}

/// `POST /oauth/token` (form body; client credentials in HTTP basic or the body).
async fn token(AxState(state): St, headers: HeaderMap, body: axum::body::Bytes) -> Response {
    let form: std::collections::HashMap<String, String> =
        url::form_urlencoded::parse(&body).into_owned().collect();
    let basic = headers
        .get("authorization")
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.strip_prefix("Basic "))
        .and_then(|b| {
            use base64::Engine;
            base64::engine::general_purpose::STANDARD
                .decode(b.trim())
                .ok()
        })
        .and_then(|d| String::from_utf8(d).ok())
        .and_then(|d| d.split_once(':').map(|(u, p)| (u.to_owned(), p.to_owned())));
    let (status, body) = state.tokens.token(&state.config.auth, &form, basic);
    let mut res = (
        StatusCode::from_u16(status).unwrap_or(StatusCode::BAD_REQUEST),
        Json(body),
    )
        .into_response();
    res.headers_mut()
        .insert("cache-control", HeaderValue::from_static("no-store"));
    res
}

/// `GET /oauth/authorize`: approves at once and redirects with a code.
async fn authorize(
    AxState(state): St,
    Query(q): Query<std::collections::HashMap<String, String>>,
) -> Response {
    match state.tokens.authorize(&state.config.auth, &q) {
        Ok(location) => (StatusCode::FOUND, [("location", location)]).into_response(),
        Err(e) => error(StatusCode::BAD_REQUEST, "invalid_request", &e),
    }
}

/// `GET /_mock/tokens`: every token response issued, in order.
async fn tokens(AxState(state): St) -> Response {
    Json(json!({ "issued": state.tokens.issued() })).into_response()
}

/// `GET /_mock/requests`: what the mock received (`?path=` filters by path prefix).
async fn requests(AxState(state): St, Query(q): Query<BTreeMap<String, String>>) -> Response {
    let (total, mut kept) = state.log.snapshot();
    if let Some(prefix) = q.get("path") {
        kept.retain(|r| r.path.starts_with(prefix.as_str()));
    }
    Json(json!({ "total": total, "requests": kept })).into_response()
}

/// `POST /_mock/reset`: forget recorded requests and restore the seeded data.
async fn reset(AxState(state): St) -> Response {
    state.log.clear();
    state.tokens.clear();
    state.quotas.clear();
    let _ = state.chaos.set(crate::Chaos::default());
    *state.write() = Dataset::generate(state.config.seed, state.config.customers);
    Json(json!({ "reset": true })).into_response()
}
