//! Delivery workers: one dispatcher per destination (see [`worker`]), woken at once when this
//! process stores an event for it and otherwise polling for work from other processes and
//! retries coming due.

mod classify;
mod send;
mod shape;
mod worker;

use std::collections::HashMap;
use std::sync::atomic::AtomicBool;
use std::sync::Arc;
use std::time::Duration;

use junction_config::Config;
use tokio::sync::{Notify, Semaphore};

pub use classify::{classify, Sent, Verdict};
pub use send::{idempotency_key, parse_retry_after};

/// One delivery into a connector's operation: the event's (mapped) body is the operation's input.
pub struct OperationDelivery<'a> {
    pub connector: &'a str,
    pub operation: &'a str,
    /// The connector's connection whose credentials to use.
    pub connection: &'a str,
    pub body: Vec<u8>,
    /// The delivery's key, the same on every attempt and replay: sent as the connector's
    /// idempotency header, so the vendor can drop a repeat.
    pub idempotency_key: &'a str,
    /// The event's entity key (what a rollout between API versions sticks by), if it has one.
    pub key: Option<&'a str>,
    /// The destination's timeout for the whole attempt (quota wait included).
    pub timeout: Duration,
}

/// What the engine needs of the connectors (the hub implements it, so the engine does not
/// depend on them): deliveries into vendors' APIs, and the calls of jobs.
pub trait Operations: Send + Sync {
    /// One attempt: what came back, and a masked excerpt of the vendor's answer.
    fn deliver<'a>(
        &'a self,
        delivery: OperationDelivery<'a>,
    ) -> std::pin::Pin<Box<dyn std::future::Future<Output = (Sent, Option<String>)> + Send + 'a>>;

    /// One call of an operation in canonical shapes, exactly as `/ops` makes it (the request and
    /// answer checked against their models, drift recorded): the status and the JSON answer
    /// (the error body when it failed).
    fn call<'a>(
        &'a self,
        connector: &'a str,
        operation: &'a str,
        input: serde_json::Map<String, serde_json::Value>,
    ) -> std::pin::Pin<Box<dyn std::future::Future<Output = (u16, serde_json::Value)> + Send + 'a>>;

    /// One page of a paginated operation (a sync), on `connection`, from `cursor` (the first
    /// page when `None`): its records mapped and checked, or the status and error body.
    fn page<'a>(&'a self, call: PageCall<'a>) -> PageFuture<'a>;
}

/// A page being read: the page, or the status and error body.
pub type PageFuture<'a> = std::pin::Pin<
    Box<dyn std::future::Future<Output = Result<Pulled, (u16, serde_json::Value)>> + Send + 'a>,
>;

/// Which page of which operation a sync reads.
pub struct PageCall<'a> {
    pub connector: &'a str,
    pub operation: &'a str,
    pub connection: &'a str,
    pub input: serde_json::Map<String, serde_json::Value>,
    pub cursor: Option<&'a str>,
}

/// A page a sync read.
#[derive(Debug, Clone, Default)]
pub struct Pulled {
    /// The records, as the operation's response mapping and model make them: NDJSON lines.
    pub lines: Vec<u8>,
    /// The cursor of the next page; `None` at the end of the list.
    pub next: Option<String>,
    /// The vendor's clock when it answered (its `Date` header), in ms.
    pub vendor_now: Option<i64>,
}

/// One wake-up signal per destination.
#[derive(Default)]
pub struct Wakers {
    map: HashMap<String, Arc<Notify>>,
}

impl Wakers {
    pub fn new<'a>(destinations: impl IntoIterator<Item = &'a String>) -> Self {
        Self {
            map: destinations
                .into_iter()
                .map(|d| (d.clone(), Arc::new(Notify::new())))
                .collect(),
        }
    }

    pub fn wake(&self, destination: &str) {
        if let Some(n) = self.map.get(destination) {
            n.notify_one();
        }
    }

    fn get(&self, destination: &str) -> Arc<Notify> {
        self.map.get(destination).cloned().unwrap_or_default()
    }
}

/// What routes' mapping rollouts need: where rollouts are kept (and their rollbacks audited),
/// where shadowing's differences go.
#[derive(Clone)]
pub struct RolloutCtx {
    pub board: Arc<junction_server::rollouts::Board>,
    pub drift: Arc<junction_transform::drift::Tracker>,
}

impl RolloutCtx {
    /// The mapping rollout of `route`, kept from the running config when set up alike.
    fn of(
        &self,
        config: &Config,
        route: &junction_config::Route,
    ) -> Option<Arc<shape::MappingRollout>> {
        let r = route.rollout.as_ref()?;
        let candidate = config.shapes.mappings.get(&r.candidate)?.mapping.clone();
        let rollout = self.board.adopt(junction_resilience::rollout::Rollout::new(
            format!("route:{}", route.name),
            r.stable.clone(),
            r.candidate.clone(),
            r.mode,
            r.rollback,
        ));
        Some(Arc::new(shape::MappingRollout {
            candidate,
            rollout,
            route: route.name.clone(),
            drift: self.drift.clone(),
        }))
    }

    /// Forgets the rollouts of routes `config` no longer has, or has without one.
    fn retain(&self, config: &Config) {
        self.board.retain("route:", |name| {
            name.strip_prefix("route:")
                .and_then(|r| config.flows.routes.get(r))
                .is_some_and(|r| r.rollout.is_some())
        });
    }
}

/// What each route that delivers to `dest` does to bodies: its mapping, and the destination's model.
fn shapes_for(
    config: &Config,
    dest: &junction_config::Destination,
    rollouts: &RolloutCtx,
) -> HashMap<String, shape::Shape> {
    let model = dest
        .model
        .as_ref()
        .and_then(|m| config.shapes.models.get(m).cloned());
    config
        .flows
        .routes
        .values()
        .filter(|r| r.to.contains(&dest.name))
        .map(|r| {
            let mapping = r
                .map
                .as_ref()
                .and_then(|m| config.shapes.mappings.get(m))
                .map(|m| m.mapping.clone());
            let format = config
                .flows
                .sources
                .get(&r.from)
                .map(|s| s.format)
                .unwrap_or_default();
            let shape = shape::Shape {
                format,
                mapping,
                model: model.clone(),
                rollout: rollouts.of(config, r),
            };
            (r.name.clone(), shape)
        })
        .collect()
}

/// Status of one destination's dispatcher, for metrics and the admin API.
#[derive(Debug, Clone, serde::Serialize)]
pub struct DestinationStatus {
    pub name: String,
    pub circuit: &'static str,
    pub disabled: bool,
    pub in_flight: usize,
    pub concurrency: usize,
}

/// Every destination's dispatcher.
pub struct Dispatcher {
    workers: HashMap<String, Arc<worker::Worker>>,
    rollouts: RolloutCtx,
}

impl Dispatcher {
    /// Starts a dispatcher per destination over `state`'s store, owned by its node; they stop
    /// claiming when its health says shutdown began.
    pub async fn start(
        config: &Config,
        state: &junction_server::AppState,
        wakers: &Wakers,
        operations: Option<Arc<dyn Operations>>,
    ) -> Result<Self, String> {
        let (store, owner, health) = (state.store.clone(), &*state.node_id, state.health.clone());
        let history = &*state.history;
        let rollouts = RolloutCtx {
            board: state.rollouts.clone(),
            drift: state.drift.clone(),
        };
        // One pool for every destination, keeping as many idle connections per host as the
        // busiest destination sends at once; redirects are never followed (a 3xx is a failure).
        let idle = config
            .flows
            .destinations
            .values()
            .map(|d| d.concurrency)
            .max()
            .unwrap_or(1);
        let client = Arc::new(
            junction_outbound::Upstream::new(Duration::from_secs(5), idle, &Default::default())
                .map_err(|e| format!("cannot build the HTTP client: {e}"))?,
        );
        record_certificates(config);
        let disabled: Vec<String> = match store.disabled().await {
            Ok(d) => d.into_iter().map(|d| d.name).collect(),
            Err(e) => return Err(format!("cannot read disabled destinations: {e}")),
        };
        let mut workers = HashMap::new();
        for dest in config.flows.destinations.values() {
            let shapes = shapes_for(config, dest, &rollouts);
            let is_disabled = disabled.contains(&dest.name);
            if is_disabled {
                tracing::warn!(destination = %dest.name, "destination is disabled; its deliveries wait until it is enabled");
            }
            metrics::gauge!("junction_destination_disabled", "destination" => dest.name.clone())
                .set(if is_disabled { 1.0 } else { 0.0 });
            metrics::gauge!("junction_circuit_open", "destination" => dest.name.clone()).set(0.0);
            let circuit = Arc::new(junction_resilience::Circuit::new(dest.circuit));
            state
                .shared
                .register_circuit(&format!("destination:{}", dest.name), &circuit);
            let w = Arc::new(worker::Worker {
                dest: dest.clone(),
                settings: arc_swap::ArcSwap::from_pointee(dest.clone()),
                store: store.clone(),
                client: arc_swap::ArcSwap::new(client_for(&client, dest)?),
                shared_client: client.clone(),
                owner: owner.to_owned(),
                wake: wakers.get(&dest.name),
                lease: config.delivery.lease,
                poll: config.delivery.poll_interval,
                health: health.clone(),
                circuit,
                permits: Arc::new(Semaphore::new(dest.concurrency)),
                running: Default::default(),
                disabled: AtomicBool::new(is_disabled),
                metrics: worker::WorkerMetrics::new(history, &dest.name),
                shapes: arc_swap::ArcSwap::from_pointee(shapes),
                operations: operations.clone(),
            });
            tokio::spawn(w.clone().run());
            workers.insert(dest.name.clone(), w);
        }
        Ok(Self { workers, rollouts })
    }

    /// Takes `config`'s mappings, models and destination settings (URL, method, headers,
    /// timeout, signing, retry policy and statuses) for every attempt that starts from now on.
    /// The set of destinations, their concurrency and circuit policy stay as started.
    /// A changed `tls:` (or a renewed client certificate in the vault) gets a new connection
    /// pool; one that cannot be built keeps the previous (logged).
    pub fn reload(&self, config: &Config) {
        for (name, w) in &self.workers {
            if let Some(dest) = config.flows.destinations.get(name) {
                w.shapes
                    .store(Arc::new(shapes_for(config, dest, &self.rollouts)));
                if w.settings.load().tls != dest.tls {
                    match client_for(&w.shared_client, dest) {
                        Ok(c) => w.client.store(c),
                        Err(e) => {
                            tracing::error!(destination = %name, error = %e, "the destination's new TLS settings cannot be used; keeping the previous ones")
                        }
                    }
                }
                w.settings.store(Arc::new(dest.clone()));
            }
        }
        record_certificates(config);
        self.rollouts.retain(config);
    }

    /// Attempts in flight across destinations.
    pub fn in_flight(&self) -> usize {
        self.workers.values().map(|w| w.in_flight()).sum()
    }

    /// Waits until no attempt is in flight, or `grace` passes.
    pub async fn drain(&self, grace: Duration) {
        let until = tokio::time::Instant::now() + grace;
        while self.in_flight() > 0 && tokio::time::Instant::now() < until {
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
    }

    pub fn status(&self) -> Vec<DestinationStatus> {
        let mut out: Vec<_> = self
            .workers
            .values()
            .map(|w| DestinationStatus {
                name: w.dest.name.clone(),
                circuit: w.circuit_state().as_str(),
                disabled: w.disabled.load(std::sync::atomic::Ordering::Relaxed),
                in_flight: w.in_flight(),
                concurrency: w.dest.concurrency,
            })
            .collect();
        out.sort_by(|a, b| a.name.cmp(&b.name));
        out
    }

    /// Re-enables a destination disabled by a 410 or an operator. `false` if unknown.
    pub async fn enable(&self, name: &str) -> Result<bool, junction_store::StoreError> {
        match self.workers.get(name) {
            Some(w) => w.enable().await.map(|_| true),
            None => Ok(false),
        }
    }

    /// Disables a destination by hand. `false` if unknown.
    pub async fn disable(&self, name: &str, reason: &str) -> bool {
        match self.workers.get(name) {
            Some(w) => {
                w.disable(reason).await;
                true
            }
            None => false,
        }
    }

    /// Wakes a destination's dispatcher (after a replay, for instance).
    pub fn wake(&self, name: &str) {
        if let Some(w) = self.workers.get(name) {
            w.wake.notify_one();
        }
    }

    pub fn wake_all(&self) {
        for w in self.workers.values() {
            w.wake.notify_one();
        }
    }
}

/// The shared pool for a destination with the default TLS; its own pool for one that trusts
/// its own CA or presents a client certificate.
fn client_for(
    shared: &Arc<junction_outbound::Upstream>,
    dest: &junction_config::Destination,
) -> Result<Arc<junction_outbound::Upstream>, String> {
    if dest.tls.is_default() {
        return Ok(shared.clone());
    }
    let tls = junction_outbound::tls::Tls::new(dest.tls.ca.as_deref(), dest.tls.identity_pem());
    junction_outbound::Upstream::new(Duration::from_secs(5), dest.concurrency, &tls)
        .map(Arc::new)
        .map_err(|e| format!("destination {}: tls: {e}", dest.name))
}

/// When the destinations' CA bundles and client certificates expire
/// (`destination/NAME/ca`, `destination/NAME/client`).
fn record_certificates(config: &Config) {
    let in_use = config
        .flows
        .destinations
        .values()
        .flat_map(|d| {
            junction_outbound::tls::Tls::new(d.tls.ca.as_deref(), d.tls.identity_pem())
                .expiries(&format!("destination/{}", d.name))
        })
        .collect();
    junction_outbound::certificates::record("destinations", in_use);
}
