//! Limits shared with the other processes on one PostgreSQL database, kept by one task per
//! process about every second:
//!
//! - **Quotas**: each connector's quota is split into leased shares
//!   (`junction_store::shares`). The task renews this process's share of each, telling the
//!   store what it would use and what its calls still occupy, and passes on the vendor's pause
//!   (`Retry-After`) and learned windows both ways — so one process's 429 pauses all of them
//!   within a renewal. A call waiting while this process holds less than the whole quota wakes
//!   the task early.
//! - **Circuits**: a circuit this process opens is marked open in the store; the others hold
//!   theirs open too, a little longer than the opener, so the opener probes first; its probe's
//!   success closes the mark and, with it, every process's circuit.
//!
//! On SQLite one process holds the database: nothing is shared and the task does not run.

use std::collections::HashMap;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, Weak};
use std::time::Duration;

use junction_resilience::quota::{LocalQuota, ShareGrant};
use junction_resilience::Circuit;
use junction_store::{Backend, ShareRequest, Store};
use tokio::sync::Notify;
use tokio::time::Instant;

/// How often shares are renewed and circuits compared.
pub const RENEW_EVERY: Duration = Duration::from_secs(1);

/// How long a share's lease runs: a process that cannot renew (it died, or lost the database)
/// sends nothing once it lapses, and the others take its share once its calls have left the
/// windows.
pub const LEASE: Duration = Duration::from_secs(6);

/// How much longer than the opener another process holds a shared circuit open: the opener
/// probes first, and only if it is gone do the others probe.
const PROBE_GRACE: Duration = Duration::from_secs(2);

/// A renewal that takes longer than this is given up (its lease runs on until it lapses).
const RENEW_TIMEOUT: Duration = Duration::from_secs(3);

/// The shortest gap between two renewals woken by calls waiting on a partial share: a process
/// that starts idle (1 %) takes what is free within a quarter of a second of its first busy
/// call, and a busy process at its fair part renews at most four times a second.
const WAKE_GAP: Duration = Duration::from_millis(250);

/// Quotas and circuits registered by this process's connectors and destinations.
pub struct SharedLimits {
    store: Arc<dyn Store>,
    node: Arc<str>,
    enabled: bool,
    quotas: Mutex<Vec<QuotaEntry>>,
    circuits: Mutex<HashMap<String, CircuitEntry>>,
    wake: Notify,
    generation: AtomicU64,
    started: std::sync::atomic::AtomicBool,
}

struct QuotaEntry {
    /// `connector:NAME`.
    name: String,
    /// `connector`'s label value (its name).
    label: String,
    holder: String,
    quota: Weak<LocalQuota>,
}

struct CircuitEntry {
    circuit: Weak<Circuit>,
    /// The open-until this process last marked, or took from another's mark.
    marked: Option<Instant>,
}

impl SharedLimits {
    pub fn new(store: Arc<dyn Store>, node: Arc<str>) -> Self {
        Self {
            enabled: store.backend() == Backend::Postgres,
            store,
            node,
            quotas: Mutex::default(),
            circuits: Mutex::default(),
            wake: Notify::new(),
            generation: AtomicU64::new(0),
            started: Default::default(),
        }
    }

    /// Whether limits are shared: several processes may use the database.
    pub fn enabled(&self) -> bool {
        self.enabled
    }

    /// A connector's quota, shared from now on (a quota built with [`LocalQuota::shared`]).
    /// Each registration is its own holder: a connector rebuilt by a reload holds a new share
    /// while the old one's calls still count.
    pub fn register_quota(&self, connector: &str, quota: &Arc<LocalQuota>) {
        if !self.enabled {
            return;
        }
        let n = self.generation.fetch_add(1, Ordering::Relaxed);
        let mut quotas = self.quotas.lock().unwrap_or_else(|p| p.into_inner());
        quotas.retain(|q| q.quota.strong_count() > 0);
        quotas.push(QuotaEntry {
            name: format!("connector:{connector}"),
            label: connector.to_owned(),
            holder: format!("{}/{connector}/{n}", self.node),
            quota: Arc::downgrade(quota),
        });
        self.wake.notify_one();
    }

    /// A circuit (`connector:NAME`, `destination:NAME`) kept in step with the other processes.
    pub fn register_circuit(&self, name: &str, circuit: &Arc<Circuit>) {
        if !self.enabled {
            return;
        }
        self.circuits
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .insert(
                name.to_owned(),
                CircuitEntry {
                    circuit: Arc::downgrade(circuit),
                    marked: None,
                },
            );
    }

    /// A call waits for want of a share: renew soon rather than at the next tick.
    pub fn wake(&self) {
        self.wake.notify_one();
    }

    /// Starts the task (when limits are shared, once); it stops on shutdown.
    pub fn start(self: &Arc<Self>, state: &crate::AppState) {
        if !self.enabled || self.started.swap(true, Ordering::SeqCst) {
            return;
        }
        metrics::describe_gauge!(
            "junction_quota_share",
            "The part of each connector's quota this process holds (0-1), shared with the other processes on the database"
        );
        let me = self.clone();
        let task = tokio::spawn(async move {
            let mut tick = tokio::time::interval(RENEW_EVERY);
            tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
            loop {
                tokio::select! {
                    _ = tick.tick() => {}
                    _ = me.wake.notified() => tokio::time::sleep(WAKE_GAP).await,
                }
                me.renew_quotas().await;
                me.sync_circuits().await;
            }
        });
        let me = self.clone();
        state.on_shutdown(Box::new(move |_| {
            Box::pin(async move {
                task.abort();
                me.release().await;
            })
        }));
    }

    /// Gives every share back on shutdown: the others may take it once this process's calls
    /// have left the windows, instead of after its lease lapses.
    async fn release(&self) {
        let entries: Vec<(String, String, Arc<LocalQuota>)> = {
            let quotas = self.quotas.lock().unwrap_or_else(|p| p.into_inner());
            quotas
                .iter()
                .filter_map(|q| Some((q.name.clone(), q.holder.clone(), q.quota.upgrade()?)))
                .collect()
        };
        for (name, holder, quota) in entries {
            let now = Instant::now();
            // Nothing more is sent on this share.
            quota.grant(
                now,
                &ShareGrant {
                    share: 0,
                    lease_until: now,
                    paused_for: None,
                    learned: Vec::new(),
                },
            );
            let ask = quota.ask(now);
            let req = ShareRequest {
                quota: name,
                holder,
                want: 0,
                usage: ask.usage,
                ttl_ms: 0,
                hold_ms: millis(ask.hold),
                pause_ms: 0,
                learned: Vec::new(),
            };
            let _ = tokio::time::timeout(RENEW_TIMEOUT, self.store.renew_share(req)).await;
        }
    }

    async fn renew_quotas(&self) {
        let entries: Vec<(String, String, String, Arc<LocalQuota>)> = {
            let mut quotas = self.quotas.lock().unwrap_or_else(|p| p.into_inner());
            quotas.retain(|q| q.quota.strong_count() > 0);
            quotas
                .iter()
                .filter_map(|q| {
                    Some((
                        q.name.clone(),
                        q.label.clone(),
                        q.holder.clone(),
                        q.quota.upgrade()?,
                    ))
                })
                .collect()
        };
        for (name, label, holder, quota) in entries {
            // The lease is measured from before the request: it lapses here no later than in
            // the store.
            let sent = Instant::now();
            let ask = quota.ask(sent);
            let req = ShareRequest {
                quota: name.clone(),
                holder,
                want: ask.want,
                usage: ask.usage,
                ttl_ms: millis(LEASE),
                hold_ms: millis(ask.hold),
                pause_ms: ask.paused_for.map_or(0, millis),
                learned: ask
                    .learned
                    .iter()
                    .map(|w| (w.limit, millis(w.window)))
                    .collect(),
            };
            match tokio::time::timeout(RENEW_TIMEOUT, self.store.renew_share(req)).await {
                Ok(Ok(g)) => {
                    quota.grant(
                        Instant::now(),
                        &ShareGrant {
                            share: g.share,
                            lease_until: sent + Duration::from_millis(g.ttl_ms.max(0) as u64),
                            paused_for: g
                                .paused_for_ms
                                .map(|ms| Duration::from_millis(ms.max(0) as u64)),
                            learned: g
                                .learned
                                .iter()
                                .map(|(limit, ms)| junction_resilience::Window {
                                    limit: *limit,
                                    window: Duration::from_millis((*ms).max(0) as u64),
                                })
                                .collect(),
                        },
                    );
                    metrics::gauge!("junction_quota_share", "connector" => label)
                        .set(f64::from(g.share) / f64::from(junction_store::shares::WHOLE));
                }
                Ok(Err(e)) => {
                    tracing::warn!(quota = %name, error = %e, "the quota share could not be renewed; it lapses unless a renewal succeeds")
                }
                Err(_) => {
                    tracing::warn!(quota = %name, "renewing the quota share timed out; it lapses unless a renewal succeeds")
                }
            }
        }
    }

    async fn sync_circuits(&self) {
        let now = Instant::now();
        // What this process changed: opened (mark it open) or closed after a probe (unmark).
        let mut marks: Vec<(String, Option<Duration>)> = Vec::new();
        {
            let mut circuits = self.circuits.lock().unwrap_or_else(|p| p.into_inner());
            circuits.retain(|_, c| c.circuit.strong_count() > 0);
            for (name, entry) in circuits.iter_mut() {
                let Some(circuit) = entry.circuit.upgrade() else {
                    continue;
                };
                match circuit.open_until(now) {
                    Some(until) if entry.marked != Some(until) => {
                        entry.marked = Some(until);
                        marks.push((name.clone(), Some(until - now)));
                    }
                    None if circuit.is_closed() && entry.marked.is_some() => {
                        entry.marked = None;
                        marks.push((name.clone(), None));
                    }
                    _ => {}
                }
            }
        }
        for (name, open_for) in marks {
            let ms = open_for.map(millis);
            if let Err(e) = self.store.mark_circuit(&name, ms, &self.node).await {
                tracing::warn!(circuit = %name, error = %e, "the circuit's state could not be shared");
            }
        }
        let open = match self.store.open_circuits().await {
            Ok(open) => open,
            Err(e) => {
                tracing::warn!(error = %e, "the shared circuits could not be read");
                return;
            }
        };
        let open: HashMap<&str, &junction_store::OpenCircuit> =
            open.iter().map(|o| (o.name.as_str(), o)).collect();
        let now = Instant::now();
        let mut circuits = self.circuits.lock().unwrap_or_else(|p| p.into_inner());
        for (name, entry) in circuits.iter_mut() {
            let Some(circuit) = entry.circuit.upgrade() else {
                continue;
            };
            match open.get(name.as_str()) {
                Some(o) if *o.by != *self.node => {
                    let until =
                        now + Duration::from_millis(o.open_for_ms.max(0) as u64) + PROBE_GRACE;
                    if circuit.hold_open(until) {
                        tracing::warn!(circuit = %name, by = %o.by, "circuit opened by another process: calls wait for its probe");
                        entry.marked = Some(until);
                    }
                }
                Some(_) => {}
                None => {
                    // Marked here and no longer open in the store: another process's probe
                    // found the target well (a mark that merely ran out leaves a half-open
                    // circuit, not an open one).
                    let held = circuit
                        .open_until(now)
                        .is_some_and(|u| u > now + RENEW_EVERY);
                    if entry.marked.is_some() && held && circuit.release() {
                        tracing::info!(circuit = %name, "circuit closed by another process's probe");
                        entry.marked = None;
                    }
                }
            }
        }
    }
}

fn millis(d: Duration) -> i64 {
    i64::try_from(d.as_millis()).unwrap_or(i64::MAX)
}
