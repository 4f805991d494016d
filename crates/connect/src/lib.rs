//! Calls out: every configured connector, reachable by internal services at
//! `/proxy/{connector}/…` with a hub API token.
//!
//! Guarantees (DESIGN.md): outbound calls stay within each connector's configured quotas; a
//! token refresh for a connection happens at most once at a time across all processes, starting
//! at `refresh_at` of the token's lifetime, and a 401 triggers one refresh and one retry; only
//! idempotent or keyed calls are retried, within a budget; no call leaves the connector's base
//! URL.
#![forbid(unsafe_code)]

pub mod admin;
pub use admin::{ApiDoc, ConnectorHealth};
pub mod auth;
pub mod cache;
mod drift;
mod metrics;
pub mod path;
mod proxy;
pub mod recent;
pub mod runtime;
mod soap;

use std::collections::HashMap;
use std::sync::Arc;

use axum::routing::any;
use axum::Router;
use junction_config::Config;
use junction_server::AppState;
use junction_store::Store;
use junction_vault::Vault;

pub use junction_server::api_tokens::{self, ApiTokens};
pub use proxy::ProxyDoc;
pub use runtime::{Answer, AnswerBody, Call, Runtime};

/// Every connector of the config, ready to call.
pub struct Hub {
    pub connectors: HashMap<String, Arc<Runtime>>,
    pub tokens: ApiTokens,
    store: Arc<dyn Store>,
    body_limit: usize,
    /// Models and mappings, for operations that declare them; swapped whole by a reload.
    shapes: arc_swap::ArcSwap<junction_config::Shapes>,
}

impl Hub {
    /// Builds every connector; fails (naming the connector) when one cannot run, e.g. a token
    /// scheme without a vault to keep its tokens in.
    pub fn new(
        config: &Config,
        store: Arc<dyn Store>,
        vault: Option<Arc<Vault>>,
    ) -> Result<Arc<Self>, String> {
        let mut connectors = HashMap::new();
        for (name, c) in &config.connectors {
            connectors.insert(
                name.clone(),
                Arc::new(Runtime::new(c.clone(), store.clone(), vault.clone())?),
            );
        }
        Ok(Arc::new(Self {
            connectors,
            tokens: ApiTokens::new(store.clone()),
            store,
            body_limit: config.server.body_limit,
            shapes: arc_swap::ArcSwap::from_pointee(config.shapes.clone()),
        }))
    }

    /// Takes `config`'s models and mappings for every call that starts from now on (the
    /// connectors themselves stay as started).
    pub fn reload(&self, config: &Config) {
        self.shapes.store(Arc::new(config.shapes.clone()));
    }

    /// `GET /api/v1/connectors`: to be mounted behind the admin API's check.
    pub fn admin_routes(self: &Arc<Self>) -> Router<AppState> {
        Router::new()
            .route("/api/v1/connectors", axum::routing::get(admin::connectors))
            .route(
                "/api/v1/connectors/{name}",
                axum::routing::get(admin::connector),
            )
            .layer(axum::Extension(self.clone()))
    }

    /// `ANY /proxy/{connector}/{*path}`.
    pub fn routes(self: &Arc<Self>) -> Router<AppState> {
        Router::new()
            .route("/proxy/{connector}/{*path}", any(proxy::proxy))
            .layer(axum::Extension(self.clone()))
    }
}
