//! The composition root: from a loaded config and an open store to a running hub — the
//! connectors, the shared state, the delivery engine, the history flusher, the alerts, admin
//! access — and the one router that serves it all. `junction serve` builds it; `demo` and
//! `bench` run `junction serve`, so every way of running the hub goes through here.

use std::sync::Arc;

use junction_config::Config;
use junction_server::admin::AdminAccess;
use junction_server::AppState;
use junction_store::Store;

use crate::commands::reload::Reloader;

/// A started hub, before it listens.
pub struct App {
    pub state: AppState,
    pub engine: Arc<junction_engine::Engine>,
    pub hub: Arc<junction_connect::Hub>,
    pub access: Arc<AdminAccess>,
}

/// Why a hub could not start; each maps to its exit code.
#[derive(Debug, thiserror::Error)]
pub enum StartError {
    #[error("{0}")]
    Connectors(String),
    #[error("cannot start the delivery workers: {0}")]
    Engine(String),
}

impl App {
    /// Builds every part and starts its background work (delivery workers, history, alerts).
    /// `admin_token` is the bootstrap admin token (`JUNCTION_ADMIN_TOKEN`), if any.
    pub async fn build(
        config: Config,
        store: Arc<dyn Store>,
        vault: Option<Arc<junction_vault::Vault>>,
        admin_token: Option<String>,
    ) -> Result<App, StartError> {
        let state = AppState::new(config, store);
        let hub = junction_connect::Hub::new(&state, vault).map_err(StartError::Connectors)?;
        let operations: Arc<dyn junction_engine::dispatch::Operations> = hub.clone();
        let engine = junction_engine::Engine::start_with(&state, Some(operations))
            .await
            .map_err(|e| StartError::Engine(e.to_string()))?;
        {
            let engine = engine.clone();
            state.on_shutdown(Box::new(move |grace| {
                Box::pin(async move { engine.dispatcher.drain(grace).await })
            }));
        }
        junction_server::history::start(&state);
        // Shares are renewed and circuits compared from now on; on shutdown, after the
        // deliveries in flight drained, the shares are given back.
        state.shared.start(&state);
        junction_alerts::start(
            &state,
            state.config().alerts.clone(),
            Arc::new(LiveQuota(
                hub.clone(),
                state.clone(),
                junction_core::time::now_ms(),
            )),
        );
        let access = AdminAccess::new(
            state.store.clone(),
            state.tokens.clone(),
            admin_token,
            state.config().server.hosts.clone(),
        );
        Ok(App {
            state,
            engine,
            hub,
            access,
        })
    }

    /// Every route: intake, `/proxy`, the public dashboard pages, the OpenAPI document, and
    /// the admin API and dashboard behind one guard.
    pub fn router(&self, reloader: Arc<Reloader>) -> axum::Router<AppState> {
        junction_engine::http::routes(self.engine.clone())
            .merge(self.hub.routes())
            .merge(junction_ui::public_routes(self.access.clone()))
            .merge(crate::commands::openapi::routes())
            .merge(admin_api(
                &self.access,
                self.engine.clone(),
                &self.hub,
                reloader,
            ))
    }
}

/// Every admin route, behind one guard (roles and the audit log).
fn admin_api(
    access: &Arc<AdminAccess>,
    engine: Arc<junction_engine::Engine>,
    connectors: &Arc<junction_connect::Hub>,
    reloader: Arc<Reloader>,
) -> axum::Router<AppState> {
    let guard = access.clone();
    let ui = Arc::new(junction_ui::Ui {
        engine: engine.clone(),
        hub: connectors.clone(),
        openapi: serde_json::to_value(crate::commands::openapi::document()).unwrap_or_default(),
    });
    junction_engine::http::admin_routes(engine)
        .merge(connectors.admin_routes())
        .merge(junction_ui::routes(ui))
        .merge(junction_server::admin::routes(access.clone()))
        .merge(junction_server::rollouts::routes())
        .merge(crate::commands::reload::routes(reloader))
        // On the routes only: with `layer` the guard also wrapped this router's fallback, which
        // the merge made the whole server's, so a POST to any unknown path was audited.
        .route_layer(axum::middleware::from_fn(move |req, next| {
            junction_server::admin::guard(guard.clone(), req, next)
        }))
        // Set after the guard, so a method a route does not have is answered 405 without it:
        // it acts on nothing, so it is neither authenticated nor written to the audit log.
        .method_not_allowed_fallback(|| async { http::StatusCode::METHOD_NOT_ALLOWED })
}

/// The alert rules' view of this process's quotas.
struct LiveQuota(Arc<junction_connect::Hub>, AppState, i64);

impl junction_alerts::Live for LiveQuota {
    fn quota_use(&self) -> Vec<(String, f64)> {
        self.0.quota_use()
    }

    fn reload_failed(&self) -> Option<String> {
        self.1.reload.failing().map(|o| o.errors.join("; "))
    }

    fn rolled_back(&self) -> Vec<(String, String)> {
        self.1.rollouts.rolled_back()
    }

    fn jobs(&self) -> (Vec<(String, i64)>, i64) {
        let now = junction_core::time::now_ms();
        let jobs = self
            .1
            .config()
            .jobs
            .values()
            .map(|j| (j.name.clone(), j.schedule.period_ms(now)))
            .collect();
        (jobs, self.2)
    }

    fn alerts(&self) -> Option<junction_config::Alerts> {
        Some(self.1.config().alerts.clone())
    }
}
