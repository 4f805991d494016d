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
pub mod guided;
mod lifecycle;
pub mod mcp;
mod metrics;
pub mod ops;
pub mod path;
mod proxy;
pub mod recent;
pub mod runtime;
mod soap;
pub mod unified;

use std::collections::HashMap;
use std::sync::Arc;

use axum::routing::any;
use axum::Router;
use junction_config::Config;
use junction_server::{ApiError, AppState};
use junction_store::Store;
use junction_vault::Vault;

pub use junction_server::api_tokens::{self, ApiTokens};
pub use ops::OpsDoc;
pub use proxy::ProxyDoc;
pub use runtime::{Answer, AnswerBody, Call, Runtime};

/// The connectors in use: swapped whole by a reload (a call in flight keeps the runtime it
/// started with).
pub type Connectors = HashMap<String, Arc<Runtime>>;

/// Every connector of the config, ready to call.
pub struct Hub {
    connectors: arc_swap::ArcSwap<Connectors>,
    /// Each connector's section of `junction.yaml` as it was built from: a reload rebuilds only
    /// the connectors whose section changed (the others keep their quota, circuit and cache).
    built_from: std::sync::Mutex<HashMap<String, serde_json::Value>>,
    pub tokens: Arc<ApiTokens>,
    store: Arc<dyn Store>,
    vault: Option<Arc<Vault>>,
    body_limit: usize,
    /// `server.hosts`: the names besides loopback `/mcp` answers under.
    hosts: Vec<String>,
    /// `server.public_url`: the base of connect-session links and the OAuth callback.
    public_url: Option<url::Url>,
    /// Models and mappings, for operations that declare them; swapped whole by a reload.
    shapes: arc_swap::ArcSwap<junction_config::Shapes>,
    drift: Arc<junction_transform::drift::Tracker>,
    history: Arc<junction_telemetry::history::Registry>,
    /// Every rollout of the running config (versions here, mappings in the engine).
    pub(crate) rollouts: Arc<junction_server::rollouts::Board>,
    /// This process's identity, owning the asynchronous calls it runs.
    pub(crate) node_id: Arc<str>,
    /// Quotas and circuits shared with the other processes.
    shared: Arc<junction_server::shared::SharedLimits>,
    /// Asynchronous calls running in this process (bounded: see `ops::deferred`).
    pub(crate) async_running: std::sync::atomic::AtomicUsize,
    /// The configured destinations: where an asynchronous call's result may be delivered.
    pub(crate) destinations: arc_swap::ArcSwap<std::collections::BTreeSet<String>>,
}

/// Puts a connector in use with its rollout (the running one when set up alike), its quota
/// and circuit shared with the other processes on the database.
fn adopt(
    board: &junction_server::rollouts::Board,
    shared: &Arc<junction_server::shared::SharedLimits>,
    mut rt: Runtime,
) -> Arc<Runtime> {
    rt.rollout = Runtime::rollout_of(&rt.cfg).map(|r| board.adopt(r));
    if shared.enabled() {
        shared.register_quota(&rt.cfg.name, &rt.quota);
        shared.register_circuit(&format!("connector:{}", rt.cfg.name), &rt.circuit);
        rt.shared = Some(shared.clone());
    }
    Arc::new(rt)
}

/// Connectors built for a new config, not yet in use ([`Hub::prepare`] → [`Hub::commit`]).
pub struct Prepared {
    connectors: Connectors,
    built_from: HashMap<String, serde_json::Value>,
    /// Connectors added, rebuilt or removed.
    pub changed: Vec<String>,
}

/// A caller this process verified already (and counted against its rate limit): the MCP server
/// hands each tool call to `/ops` with it. Only Junction's code puts it in a request's
/// extensions; nothing from the wire can.
#[derive(Clone)]
pub(crate) struct Verified(pub(crate) Arc<junction_store::ApiToken>);

/// When the connectors' CA bundles and client certificates expire, for the gauge and the
/// `certificate_expiring` alert (`connector/NAME/ca`, `connector/NAME/client`).
fn record_certificates(connectors: &Connectors) {
    let in_use = connectors
        .iter()
        .flat_map(|(name, rt)| rt.tls.expiries(&format!("connector/{name}")))
        .collect();
    junction_outbound::certificates::record("connectors", in_use);
}

/// A connector's section of the config as written.
fn section(config: &Config, name: &str) -> serde_json::Value {
    config.document.section("connectors")[name].clone()
}

impl Hub {
    /// Builds every connector; fails (naming the connector) when one cannot run, e.g. a token
    /// scheme without a vault to keep its tokens in.
    /// Connectors record into the hub's drift tracker and history, both on its `state`.
    pub fn new(
        state: &junction_server::AppState,
        vault: Option<Arc<Vault>>,
    ) -> Result<Arc<Self>, String> {
        let config = &state.config();
        let store = state.store.clone();
        let drift = state.drift.clone();
        let history = state.history.clone();
        let mut connectors = HashMap::new();
        let mut built_from = HashMap::new();
        for (name, c) in &config.connectors {
            let rt = Runtime::new(
                c.clone(),
                store.clone(),
                vault.clone(),
                drift.clone(),
                &history,
            )?;
            connectors.insert(name.clone(), adopt(&state.rollouts, &state.shared, rt));
            built_from.insert(name.clone(), section(config, name));
        }
        record_certificates(&connectors);
        let hub = Arc::new(Self {
            connectors: arc_swap::ArcSwap::from_pointee(connectors),
            built_from: std::sync::Mutex::new(built_from),
            tokens: state.tokens.clone(),
            store,
            vault,
            body_limit: config.server.body_limit,
            hosts: config.server.hosts.clone(),
            public_url: config.server.public_url.clone(),
            shapes: arc_swap::ArcSwap::from_pointee(config.shapes.clone()),
            drift,
            history,
            rollouts: state.rollouts.clone(),
            shared: state.shared.clone(),
            node_id: state.node_id.clone(),
            async_running: Default::default(),
            destinations: arc_swap::ArcSwap::from_pointee(
                config.flows.destinations.keys().cloned().collect(),
            ),
        });
        ops::deferred::sweep(&hub, state);
        Ok(hub)
    }

    /// Every rollout of the running config, with its state.
    pub fn rollouts(&self) -> &Arc<junction_server::rollouts::Board> {
        &self.rollouts
    }

    /// The drift this hub's connectors recorded (and the shapes they learned).
    pub fn drift(&self) -> &Arc<junction_transform::drift::Tracker> {
        &self.drift
    }

    /// The connectors in use now.
    pub fn connectors(&self) -> Arc<Connectors> {
        self.connectors.load_full()
    }

    /// One connector in use now.
    pub fn connector(&self, name: &str) -> Option<Arc<Runtime>> {
        self.connectors.load().get(name).cloned()
    }

    /// One connector in use now, or a 404 that names the nearest one.
    pub(crate) fn connector_or_404(&self, name: &str) -> Result<Arc<Runtime>, ApiError> {
        self.connector(name).ok_or_else(|| {
            let all = self.connectors();
            let hint = match junction_config::nearest(name, all.keys().map(String::as_str)) {
                Some(near) => format!("did you mean `{near}`?"),
                None => "connectors are declared under `connectors:` in junction.yaml".into(),
            };
            ApiError(
                junction_core::Error::downstream(
                    junction_core::Code::NotFound,
                    format!("unknown connector `{name}`"),
                )
                .with_hint(hint),
            )
        })
    }

    /// The hub API token a caller presents as a bearer token, or the identity its client
    /// certificate is given in `server.tls.clients` (401 without either).
    pub(crate) async fn caller(
        &self,
        headers: &http::HeaderMap,
        extensions: &http::Extensions,
    ) -> Result<Arc<junction_store::ApiToken>, ApiError> {
        if let Some(v) = extensions.get::<Verified>() {
            return Ok(v.0.clone());
        }
        let authz = headers
            .get(http::header::AUTHORIZATION)
            .and_then(|v| v.to_str().ok());
        let certificate = extensions.get::<junction_server::tls::ClientNames>();
        Ok(self.tokens.verify_caller(authz, certificate).await?)
    }

    /// Builds the connectors of `config` whose section changed (or that are new), keeping the
    /// others as they run; fails, naming the connector, when one cannot run. Nothing is in use
    /// until [`Hub::commit`].
    pub fn prepare(&self, config: &Config) -> Result<Prepared, String> {
        let running = self.connectors.load_full();
        let before = self
            .built_from
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .clone();
        let (mut connectors, mut built_from, mut changed) =
            (HashMap::new(), HashMap::new(), Vec::new());
        for (name, c) in &config.connectors {
            let now = section(config, name);
            // A renewed client certificate is a vault secret's new value under the same name: the
            // section reads the same, the resolved TLS does not.
            let kept = running
                .get(name)
                .filter(|rt| before.get(name) == Some(&now) && rt.cfg.tls == c.tls)
                .cloned();
            let rt = match kept {
                Some(rt) => rt,
                None => {
                    changed.push(format!("connectors.{name}"));
                    let rt = Runtime::new(
                        c.clone(),
                        self.store.clone(),
                        self.vault.clone(),
                        self.drift.clone(),
                        &self.history,
                    )?;
                    adopt(&self.rollouts, &self.shared, rt)
                }
            };
            connectors.insert(name.clone(), rt);
            built_from.insert(name.clone(), now);
        }
        for name in running.keys() {
            if !config.connectors.contains_key(name) {
                changed.push(format!("connectors.{name} (removed)"));
            }
        }
        changed.sort();
        Ok(Prepared {
            connectors,
            built_from,
            changed,
        })
    }

    /// Puts prepared connectors in use for every call that starts from now on.
    pub fn commit(&self, prepared: Prepared) {
        self.rollouts.retain("connector:", |name| {
            name.strip_prefix("connector:")
                .and_then(|c| prepared.connectors.get(c))
                .is_some_and(|rt| rt.rollout.is_some())
        });
        record_certificates(&prepared.connectors);
        self.connectors.store(Arc::new(prepared.connectors));
        *self.built_from.lock().unwrap_or_else(|p| p.into_inner()) = prepared.built_from;
    }

    /// Takes `config`'s models and mappings (and destinations, for callbacks) for every call that
    /// starts from now on.
    pub fn reload(&self, config: &Config) {
        self.shapes.store(Arc::new(config.shapes.clone()));
        self.destinations.store(Arc::new(
            config.flows.destinations.keys().cloned().collect(),
        ));
    }

    /// `GET /api/v1/connectors`: to be mounted behind the admin API's check.
    pub fn admin_routes(self: &Arc<Self>) -> Router<AppState> {
        Router::new()
            .route("/api/v1/connectors", axum::routing::get(admin::connectors))
            .route(
                "/api/v1/connectors/{name}",
                axum::routing::get(admin::connector),
            )
            .route(
                "/api/v1/connectors/{name}/operations",
                axum::routing::get(ops::describe::list),
            )
            .route(
                "/api/v1/connectors/{name}/openapi.json",
                axum::routing::get(ops::describe::openapi),
            )
            .route(
                "/api/v1/connect-sessions",
                axum::routing::post(guided::create_session),
            )
            .route(
                "/api/v1/connections",
                axum::routing::get(guided::connections),
            )
            .route(
                "/api/v1/connections/{connector}/{name}",
                axum::routing::delete(guided::revoke),
            )
            .layer(axum::Extension(self.clone()))
    }

    /// `ANY /proxy/{connector}/{*path}`, `GET|POST /ops/{connector}/{operation}` and the
    /// asynchronous calls' `GET /ops/calls/{id}[/result]`.
    pub fn routes(self: &Arc<Self>) -> Router<AppState> {
        Router::new()
            .route("/proxy/{connector}/{*path}", any(proxy::proxy))
            .route(
                "/ops/{connector}/{operation}",
                axum::routing::get(ops::handle).post(ops::handle),
            )
            .route("/connect/callback", axum::routing::get(guided::callback))
            .route(
                "/connect/{session}",
                axum::routing::get(guided::session_page),
            )
            .route(
                "/connect/{session}/{connector}",
                axum::routing::get(guided::start),
            )
            .route("/unified", axum::routing::get(unified::index))
            .route(
                "/unified/{category}/{resource}",
                axum::routing::get(unified::list),
            )
            .route(
                "/unified/{category}/{resource}/{id}",
                axum::routing::get(unified::one),
            )
            .route("/ops/calls/{id}", axum::routing::get(ops::deferred::status))
            .route(
                "/ops/calls/{id}/result",
                axum::routing::get(ops::deferred::result),
            )
            .route_service(
                "/mcp",
                mcp::service(self.clone(), &self.hosts, self.body_limit),
            )
            .layer(axum::Extension(self.clone()))
    }
}

/// An event Junction raises itself (an asynchronous call's answer, a connect), stored with its
/// one delivery to a configured destination, then delivered like any event (signed, retried,
/// dead-lettered). Its source and route hold a dot: no config can declare them.
pub(crate) struct Raised<'a> {
    pub source: &'static str,
    pub route: &'static str,
    pub id: String,
    pub event_type: &'static str,
    pub key: Option<String>,
    pub payload: serde_json::Value,
    pub destination: &'a str,
}

impl Raised<'_> {
    pub(crate) fn event(self, now: i64) -> junction_store::NewEvent {
        junction_store::NewEvent {
            source: self.source.into(),
            external_id: self.id,
            event_type: self.event_type.into(),
            entity_key: self.key,
            sequence: None,
            received_at: now,
            payload: serde_json::to_vec(&self.payload).unwrap_or_default(),
            context: junction_store::EventContext {
                traceparent: Some(junction_telemetry::outgoing_traceparent(None)),
                headers: Vec::new(),
            },
            deliveries: vec![junction_store::NewDelivery {
                route: self.route.into(),
                destination: self.destination.to_owned(),
                due_at: now,
                ordering: junction_store::Ordering::None,
            }],
            tracked: false,
            subjects: Vec::new(),
        }
    }
}
