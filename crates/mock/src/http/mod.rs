//! The mock's routes. Resources under `/v1`, `/v2` and unversioned (pinned by `API-Version`);
//! inspection under `/_mock`.

mod control;
mod gate;
mod resources;

use control::*;
use gate::*;
pub(crate) use gate::{chaos_after, chaos_instead};
use resources::*;

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
use crate::emit::SentLog;
use crate::quota::Quotas;
use crate::record::{Log, Recorded};
use crate::sink::{Delivery, Received};
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
    /// How the sink misbehaves (its own setting, so the provider API can stay healthy).
    pub sink_chaos: ChaosState,
    pub received: Received,
    pub sent: Arc<SentLog>,
    /// The Shopify persona's GraphQL cost buckets.
    pub(crate) points: crate::persona::Buckets,
    started: Instant,
}

impl State {
    pub fn new(mut config: MockConfig) -> Self {
        let points = crate::persona::Buckets::new(config.quotas.limits.first());
        if let Some(p) = config.persona {
            // The vendor's edge: credentials always, its rate-limit headers, its default limits.
            config.auth.required = true;
            config.quotas.headers = p.header_style();
            if config.quotas.limits.is_empty() {
                config.quotas.limits = p.default_limits();
            }
            for client in &mut config.auth.clients {
                client
                    .scopes
                    .extend(p.scopes().iter().map(|s| s.to_string()));
            }
        }
        let data = Dataset::generate(config.seed, config.customers);
        let state = Self {
            log: Log::new(config.record_limit),
            data: RwLock::new(data),
            tokens: Tokens::default(),
            quotas: Quotas::default(),
            chaos: ChaosState::default(),
            sink_chaos: ChaosState::default(),
            received: Received::new(config.record_limit),
            sent: Arc::new(SentLog::new(config.record_limit)),
            config,
            points,
            started: Instant::now(),
        };
        // Validated when the config was built; an invalid setting here is simply not applied.
        let _ = state.chaos.set(state.config.chaos.clone());
        let _ = state.sink_chaos.set(state.config.sink.clone());
        state
    }

    /// Every customer's id and version: the vendor's truth, for tests to compare with.
    pub fn customer_versions(&self) -> Vec<(String, u64)> {
        self.read()
            .customers
            .iter()
            .map(|c| (c.id.clone(), c.version))
            .collect()
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
    // A persona serves the vendor's routes instead of the mock's own API.
    let api = match state.config.persona {
        Some(p) => {
            let api = crate::persona::router(p, state.clone());
            match p {
                crate::Persona::Hubspot => api.route("/oauth/v1/token", post(token)),
                crate::Persona::MicrosoftGraph => {
                    api.route("/{tenant}/oauth2/v2.0/token", post(token))
                }
                crate::Persona::GoogleDirectory => api.route("/token", post(token)),
                crate::Persona::Salesforce => api.route("/services/oauth2/token", post(token)),
                crate::Persona::Xero => api.route("/connect/token", post(token)),
                _ => api,
            }
        }
        None => Router::new()
            .nest("/v1", resources().layer(Extension(Pin::Path(Version::V1))))
            .nest("/v2", resources().layer(Extension(Pin::Path(Version::V2))))
            .merge(resources().layer(Extension(Pin::Header))),
    };
    Router::new()
        .merge(api)
        .route("/oauth/token", post(token))
        .route("/oauth/authorize", get(authorize))
        .route("/sink/{*path}", post(sink).put(sink))
        .route(
            "/_mock/sink",
            get(get_sink).put(put_sink).delete(delete_sink),
        )
        .route("/_mock/deliveries-received", get(deliveries_received))
        .merge(
            Router::new()
                .route("/soap", post(soap))
                .route_layer(axum::middleware::from_fn_with_state(state.clone(), gate)),
        )
        .route("/_mock/webhooks/send", post(send_webhooks))
        .route("/_mock/changes", post(changes))
        .route("/_mock/webhooks-sent", get(webhooks_sent))
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
