//! What every handler can reach.

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};

use junction_config::Config;
use junction_store::Store;

/// Shared state of one running server: one `Arc`, so the per-request clone axum makes is a
/// single reference-count increment.
#[derive(Clone)]
pub struct AppState(Arc<Shared>);

impl std::ops::Deref for AppState {
    type Target = Shared;

    fn deref(&self) -> &Shared {
        &self.0
    }
}

/// What [`AppState`] holds.
pub struct Shared {
    /// The running config: swapped whole by a reload; each piece of work loads it once.
    config: arc_swap::ArcSwap<Config>,
    /// The last reload's outcome.
    pub reload: Arc<crate::reload::ReloadStatus>,
    /// Inbound requests refused at intake, kept for the request inspector.
    pub inspector: Arc<crate::inspect::Inspector>,
    pub store: Arc<dyn Store>,
    /// This process's identity in leases and logs: `host-pid-random`.
    pub node_id: Arc<str>,
    pub health: Arc<Health>,
    /// What this hub learned about payload shapes and the drift it found, until flushed to the
    /// store (intake and connectors record into it; maintenance persists it).
    pub drift: Arc<junction_transform::drift::Tracker>,
    /// Per-minute figures of each connector, source and destination, until flushed.
    pub history: Arc<junction_telemetry::history::Registry>,
    /// Background work to let finish on shutdown, after requests drain and before this
    /// process's leases are released (delivery attempts in flight).
    pub drains: Arc<Mutex<Vec<Drain>>>,
    /// Every rollout between API versions or mappings, with its state.
    pub rollouts: Arc<crate::rollouts::Board>,
    /// Quotas and circuits kept in step with the other processes on the database.
    pub shared: Arc<crate::shared::SharedLimits>,
    /// Hub API tokens, verified (and rate-limited) alike for `/proxy`, operations and the
    /// admin API.
    pub tokens: Arc<crate::api_tokens::ApiTokens>,
}

/// Waits (at most the given time) for some background work to finish.
pub type Drain = Box<
    dyn FnOnce(
            std::time::Duration,
        ) -> std::pin::Pin<Box<dyn std::future::Future<Output = ()> + Send>>
        + Send,
>;

impl Shared {
    /// The running config (a snapshot: a reload does not change what the caller holds).
    pub fn config(&self) -> Arc<Config> {
        self.config.load_full()
    }

    /// Makes `config` the running one (after a reload checked it).
    pub fn set_config(&self, config: Arc<Config>) {
        self.tokens.limits.set(&config.server.per_token);
        self.tokens.set_clients(&tls_clients(&config));
        let (default, own) = config.at_rest();
        junction_store::at_rest::set_policy(default, own);
        junction_core::pii::configure(config.server.pii_mask, &config.server.pii_fields);
        self.config.store(config);
    }
}

impl AppState {
    pub fn new(config: Config, store: Arc<dyn Store>) -> Self {
        junction_core::pii::configure(config.server.pii_mask, &config.server.pii_fields);
        let host = std::env::var("HOSTNAME").unwrap_or_else(|_| "junction".into());
        let node_id = format!(
            "{host}-{}-{}",
            std::process::id(),
            &uuid::Uuid::new_v4().simple().to_string()[..8]
        );
        let rollouts = Arc::new(crate::rollouts::Board::new(store.clone()));
        let node_id: Arc<str> = node_id.into();
        let shared = Arc::new(crate::shared::SharedLimits::new(
            store.clone(),
            node_id.clone(),
        ));
        let tokens = Arc::new(crate::api_tokens::ApiTokens::new(store.clone()));
        tokens.limits.set(&config.server.per_token);
        tokens.set_clients(&tls_clients(&config));
        Self(Arc::new(Shared {
            tokens,
            config: arc_swap::ArcSwap::from_pointee(config),
            reload: Arc::default(),
            inspector: Arc::new(crate::inspect::Inspector::new(store.clone())),
            store,
            node_id,
            health: Arc::new(Health::default()),
            drift: Arc::default(),
            history: Arc::default(),
            drains: Arc::default(),
            rollouts,
            shared,
        }))
    }

    /// Registers work to wait for on shutdown.
    pub fn on_shutdown(&self, drain: Drain) {
        self.drains
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .push(drain);
    }
}

/// What readiness knows: whether the store answered last time, and whether we are stopping.
#[derive(Debug)]
pub struct Health {
    store_up: AtomicBool,
    store_error: Mutex<Option<String>>,
    shutting_down: AtomicBool,
}

impl Default for Health {
    fn default() -> Self {
        Self {
            store_up: AtomicBool::new(true),
            store_error: Mutex::new(None),
            shutting_down: AtomicBool::new(false),
        }
    }
}

impl Health {
    /// Records a store check; logs only when the state changes.
    pub fn record_store(&self, result: Result<(), String>) {
        let up = result.is_ok();
        let was = self.store_up.swap(up, Ordering::SeqCst);
        metrics::gauge!("junction_store_up").set(if up { 1.0 } else { 0.0 });
        match (&result, was) {
            (Err(e), true) => {
                tracing::error!(error = %e, "the store is unreachable; write paths answer 503 until it returns")
            }
            (Ok(()), false) => tracing::info!("the store is reachable again"),
            _ => {}
        }
        *self.store_error.lock().unwrap_or_else(|p| p.into_inner()) = result.err();
    }

    pub fn store_up(&self) -> bool {
        self.store_up.load(Ordering::SeqCst)
    }

    pub fn store_error(&self) -> Option<String> {
        self.store_error
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .clone()
    }

    pub fn begin_shutdown(&self) {
        self.shutting_down.store(true, Ordering::SeqCst);
    }

    pub fn shutting_down(&self) -> bool {
        self.shutting_down.load(Ordering::SeqCst)
    }
}

/// `server.tls.clients` (none without TLS).
fn tls_clients(config: &Config) -> std::collections::BTreeMap<String, String> {
    config
        .server
        .tls
        .as_ref()
        .map(|t| t.clients.clone())
        .unwrap_or_default()
}
