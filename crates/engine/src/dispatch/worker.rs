//! One destination's dispatcher: claims due deliveries (its own only) up to its concurrency,
//! sends each, records the outcome, and keeps its circuit. A failing destination therefore only
//! ever holds its own permits and its own claims: other destinations flow at full speed.

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::Duration;

use junction_config::{Destination, Target};
use junction_core::time::now_ms;
use junction_server::Health;
use junction_store::{Attempt, Claim, Claimed, Finish, Outcome, Store, StoreError};
use junction_telemetry::history;
use tokio::sync::{Notify, OwnedSemaphorePermit, Semaphore};
use tokio::time::Instant;

use junction_resilience::{Circuit, CircuitState, Permit, Transition};

use super::classify::{classify, Sent, Verdict};
use super::send::send;
use super::shape::{Quarantine, Shape};
use tracing::Instrument;

/// Claims of one delivery that may end without an outcome before it is set aside as the cause.
/// Three, not two: with several processes, one killed twice in a few seconds (a deploy gone
/// wrong, the OOM killer) can take an innocent delivery down with it twice — it was merely in
/// flight each time, as the cluster chaos test showed — and on a `fifo` route a quarantined
/// delivery holds its key's later events until it is replayed.
const CRASHES_BEFORE_QUARANTINE: usize = 3;

pub(crate) struct Worker {
    /// The destination as the dispatcher started: its name, concurrency and circuit policy.
    pub dest: Destination,
    /// What each attempt sends and how it retries (URL, method, headers, timeout, signing,
    /// retry policy and statuses): swapped whole by a reload, read once per attempt.
    pub settings: arc_swap::ArcSwap<Destination>,
    pub store: Arc<dyn Store>,
    /// The destination's connection pool: the shared one, or its own for its `tls:`.
    pub client: arc_swap::ArcSwap<junction_outbound::Upstream>,
    /// The pool of destinations with the default TLS.
    pub shared_client: Arc<junction_outbound::Upstream>,
    pub owner: String,
    pub wake: Arc<Notify>,
    pub lease: Duration,
    pub poll: Duration,
    pub health: Arc<Health>,
    pub circuit: Arc<Circuit>,
    pub permits: Arc<Semaphore>,
    /// Attempts started and not yet recorded (a slot is given back before the outcome is
    /// written; shutdown waits for the write too).
    pub running: std::sync::atomic::AtomicUsize,
    pub disabled: AtomicBool,
    pub metrics: WorkerMetrics,
    /// Per route: its mapping and this destination's model.
    /// Each route's mapping and the destination's model; swapped whole by a reload (an attempt
    /// uses the shapes it started with).
    pub shapes: arc_swap::ArcSwap<std::collections::HashMap<String, Shape>>,
    /// Where deliveries to a connector's operation go (the hub's connectors).
    pub operations: Option<Arc<dyn super::Operations>>,
}

/// A destination's metric handles, registered once.
pub(crate) struct WorkerMetrics {
    attempt_seconds: metrics::Histogram,
    latency_seconds: metrics::Histogram,
    delivered: metrics::Counter,
    retry: metrics::Counter,
    dead: metrics::Counter,
    history: std::sync::Arc<history::Series>,
}

impl WorkerMetrics {
    pub fn new(registry: &history::Registry, destination: &str) -> Self {
        let d = destination.to_owned();
        let attempts = |outcome: &'static str| metrics::counter!("junction_delivery_attempts_total", "destination" => d.clone(), "outcome" => outcome);
        Self {
            attempt_seconds: metrics::histogram!("junction_delivery_attempt_seconds", "destination" => d.clone()),
            latency_seconds: metrics::histogram!("junction_delivery_latency_seconds", "destination" => d.clone()),
            delivered: attempts("delivered"),
            retry: attempts("retry"),
            dead: attempts("dead"),
            history: registry.series(history::Kind::Destination, destination),
        }
    }
}

impl Worker {
    pub fn circuit_state(&self) -> CircuitState {
        self.circuit.state(Instant::now())
    }

    /// Attempts in flight now: sent or being sent, and not yet recorded.
    pub fn in_flight(&self) -> usize {
        self.running.load(Ordering::Acquire)
    }

    /// Claims and dispatches until the process shuts down.
    pub async fn run(self: Arc<Self>) {
        let name = self.dest.name.clone();
        loop {
            if self.health.shutting_down() {
                return;
            }
            let wait = match self.tick().await {
                Ok(next) => next,
                Err(e) => {
                    tracing::warn!(destination = %name, error = %e, "claiming deliveries failed; retrying");
                    Some(Instant::now() + self.poll)
                }
            };
            let Some(until) = wait else { continue };
            let until = until.min(Instant::now() + self.poll);
            tokio::select! {
                _ = self.wake.notified() => {}
                _ = tokio::time::sleep_until(until) => {}
            }
        }
    }

    /// One round: claim what may be sent now and start it. Returns when to look again (`None`:
    /// at once, a full batch came back).
    async fn tick(self: &Arc<Self>) -> Result<Option<Instant>, StoreError> {
        let idle = Some(Instant::now() + self.poll);
        if self.disabled.load(Ordering::Relaxed) {
            return Ok(idle);
        }
        // Answered attempts still being recorded hold their claimed payloads: at most one
        // destination's worth of them may wait for the store, so a slow store bounds claiming.
        let recording_room = (2 * self.dest.concurrency).saturating_sub(self.in_flight());
        let free = self.permits.available_permits().min(recording_room);
        // Claim in batches: with attempts in flight, wait until a quarter of the permits are
        // free, so the store sees one claim per many completions instead of one per completion.
        let in_flight = self.dest.concurrency - free;
        if free == 0 || (in_flight > 0 && free < self.dest.concurrency.div_ceil(4)) {
            return Ok(idle);
        }
        let now = Instant::now();
        // A half-open circuit lets one probe out: its permit travels with that delivery, and
        // if nothing is sent after all (nothing due, the store failed, the delivery was
        // quarantined or its lease lost) dropping the permit frees the probe's slot.
        let permit = match self.circuit.allow(now) {
            Ok(p) => p,
            Err(wait) => return Ok(Some(now + wait)),
        };
        let mut probe = permit.is_probe().then_some(permit);
        let limit = if probe.is_some() { 1 } else { free };
        let claim = Claim {
            owner: self.owner.clone(),
            limit,
            // Short, and renewed while the attempt runs (see `attempt`): a process that dies
            // gives its work up within one lease, however long an attempt may take.
            lease: self.lease,
            now: now_ms(),
            destination: Some(self.dest.name.clone()),
        };
        let claimed = self.store.claim(&claim).await?;
        let full = claimed.len() == limit && probe.is_none();
        for c in claimed {
            let Ok(permit) = self.permits.clone().try_acquire_owned() else {
                break;
            };
            let me = self.clone();
            let probe = probe.take();
            let running = Running::start(me.clone());
            tokio::spawn(async move {
                me.attempt(c, probe, permit).await;
                drop(running);
                me.wake.notify_one();
            });
        }
        Ok(if full { None } else { idle })
    }

    /// Runs one attempt while renewing its lease every third of the lease. If the lease is
    /// lost (this process stalled past it and another took the delivery over), the attempt is
    /// abandoned: the new holder sends it, and the store would refuse this one's outcome anyway.
    async fn attempt(&self, c: Claimed, probe: Option<Permit>, slot: OwnedSemaphorePermit) {
        let lease = c.lease;
        tokio::select! {
            biased;
            () = self.attempt_holding(c, probe, slot) => {}
            () = self.renew(lease) => {
                tracing::warn!(destination = %self.dest.name, delivery = lease.delivery_id, "lost the lease during an attempt; another process has the delivery");
            }
        }
    }

    /// Renews `lease` until it is lost (returns then); a store that does not answer is tried
    /// again at the next renewal.
    async fn renew(&self, lease: junction_store::Lease) {
        let every = self.lease / 3;
        loop {
            tokio::time::sleep(every).await;
            let until = now_ms().saturating_add(junction_core::time::ms(self.lease));
            match self.store.extend_lease(lease, until).await {
                Ok(()) => {}
                Err(StoreError::LeaseLost(_)) => return,
                Err(e) => {
                    tracing::warn!(destination = %self.dest.name, delivery = lease.delivery_id, error = %e, "could not renew a lease; trying again");
                }
            }
        }
    }

    /// Claims of this delivery that ended with no outcome recorded: the process stopped (or
    /// stalled past its lease) while holding it. Looked up only once enough claims were made.
    async fn crashed_claims(&self, c: &Claimed) -> usize {
        if (c.attempt as usize) <= CRASHES_BEFORE_QUARANTINE {
            return 0;
        }
        match self.store.attempts(c.lease.delivery_id).await {
            Ok(recorded) => (c.attempt as usize - 1).saturating_sub(recorded.len()),
            Err(_) => 0,
        }
    }

    /// `slot` is one of the destination's concurrency permits: it bounds requests in flight to
    /// the destination, so it is given back as soon as the answer is in, before the outcome is
    /// written (a slow store write must not idle the destination's slots).
    async fn attempt_holding(&self, c: Claimed, probe: Option<Permit>, slot: OwnedSemaphorePermit) {
        let dest = &self.dest.name;
        let started_at = now_ms();
        let t0 = std::time::Instant::now();
        // A delivery whose handling stopped the process again and again (a mapping that
        // exhausts memory, say) is set aside: it cannot crash-loop the hub.
        let crashed = self.crashed_claims(&c).await;
        if crashed >= CRASHES_BEFORE_QUARANTINE {
            let q = Quarantine {
                kind: "crashed",
                reason: format!(
                    "{crashed} earlier attempts ended without an outcome (the process stopped while handling this delivery); set aside so it cannot stop the hub again: replay it once the cause is fixed"
                ),
            };
            return self.quarantine(c, q, started_at, t0).await;
        }
        let shapes = self.shapes.load_full();
        let body = match shapes.get(&c.route) {
            Some(shape) if !shape.is_identity() => match shape
                .apply_keyed(&c.event.payload, rollout_key(&c).as_bytes())
                .await
            {
                Ok(mapped) => mapped.unwrap_or_else(|| c.event.payload.clone()),
                Err(q) => return self.quarantine(c, q, started_at, t0).await,
            },
            _ => c.event.payload.clone(),
        };
        // The attempt's span joins the trace the event arrived in.
        let span = tracing::info_span!(
            "delivery attempt",
            destination = %dest,
            delivery = c.lease.delivery_id,
            attempt = c.attempt,
        );
        if let Some(tp) = &c.event.context.traceparent {
            junction_telemetry::continue_trace(&span, tp);
        }
        let settings = self.settings.load_full();
        let (sent, excerpt) = match (&settings.target, &self.operations) {
            (Target::Url(url), _) => {
                send(
                    &self.client.load(),
                    &settings,
                    url,
                    &c,
                    body,
                    started_at.div_euclid(1000),
                )
                .instrument(span)
                .await
            }
            (
                Target::Operation {
                    connector,
                    operation,
                    connection,
                },
                Some(ops),
            ) => {
                let delivery = super::OperationDelivery {
                    connector,
                    operation,
                    connection,
                    body,
                    idempotency_key: super::idempotency_key(&c),
                    key: c.event.entity_key.as_deref(),
                    timeout: settings.timeout,
                };
                ops.deliver(delivery).instrument(span).await
            }
            (Target::Operation { .. }, None) => (
                Sent::Held {
                    reason: "connectors are not running in this process".into(),
                    retry_after: Some(self.poll),
                },
                None,
            ),
        };
        let took = t0.elapsed();
        let (mut verdict, trips) = classify(&sent, &settings.retry.classes);
        if verdict == Verdict::Gone && matches!(settings.target, Target::Operation { .. }) {
            // A vendor's 410 speaks of one resource, not of the destination.
            verdict = Verdict::Permanent(format!("{sent}: the vendor says the resource is gone"));
        }
        self.metrics.attempt_seconds.record(took.as_secs_f64());
        let transition = match probe {
            Some(permit) => permit.record(Instant::now(), !trips, took),
            None => self.circuit.record(Instant::now(), !trips, took),
        };
        if verdict == Verdict::Gone {
            self.disable("HTTP 410 Gone").await;
        }
        // The answer is in and the circuit and the destination's state know it: the slot may
        // carry the next request while the outcome is written.
        drop(slot);
        self.wake.notify_one();
        let now = now_ms();
        let (status, error) = match &sent {
            super::classify::Sent::Answered { status, .. } => (Some(*status as i32), None),
            other => (None, Some(other.to_string())),
        };
        let outcome = match &verdict {
            Verdict::Delivered => Outcome::Delivered,
            Verdict::Retry {
                reason,
                retry_after,
            } => {
                if c.attempt as u32 >= settings.retry.attempts {
                    Outcome::Dead {
                        reason: format!("gave up after {} attempts; last: {reason}", c.attempt),
                    }
                } else {
                    let retry = &settings.retry;
                    let wait = retry.backoff.delay_after(
                        c.attempt.max(1) as u32,
                        *retry_after,
                        retry.retry_after_cap,
                        &mut rand::rng(),
                    );
                    Outcome::Retry {
                        next_at: now + junction_core::time::ms(wait),
                    }
                }
            }
            Verdict::Permanent(reason) => Outcome::Dead {
                reason: reason.clone(),
            },
            // Kept pending: it is sent once the destination is enabled again.
            Verdict::Gone => Outcome::Retry { next_at: now },
        };
        match &outcome {
            Outcome::Delivered => {
                self.metrics.delivered.increment(1);
                let e2e_ms = (now - c.event.received_at).max(0) as f64;
                self.metrics.latency_seconds.record(e2e_ms / 1000.0);
                self.metrics.history.add(history::destination::DELIVERED, 1);
                self.metrics.history.observe_ms(e2e_ms);
            }
            Outcome::Retry { .. } => {
                self.metrics.retry.increment(1);
                self.metrics.history.add(history::destination::FAILED, 1);
            }
            Outcome::Dead { .. } => {
                self.metrics.dead.increment(1);
                self.metrics.history.add(history::destination::DEAD, 1);
            }
            Outcome::Quarantined { .. } => {}
        }
        if let Outcome::Dead { reason } = &outcome {
            tracing::warn!(destination = %dest, delivery = c.lease.delivery_id, event = %c.event.external_id, %reason, "delivery dead-lettered");
        }
        let finish = Finish {
            lease: c.lease,
            attempt: Attempt {
                started_at,
                duration_ms: took.as_millis() as i64,
                status,
                error: error.or_else(|| match &verdict {
                    Verdict::Retry { reason, .. } | Verdict::Permanent(reason) => {
                        Some(reason.clone())
                    }
                    Verdict::Gone => Some("HTTP 410 Gone: destination disabled".into()),
                    Verdict::Delivered => None,
                }),
                response_excerpt: excerpt,
            },
            outcome,
            now,
        };
        if let Err(e) = self.store.finish(finish).await {
            // Lease lost: another process took it over. Store down: the lease expires and the
            // delivery is attempted again (same idempotency key).
            tracing::warn!(destination = %dest, delivery = c.lease.delivery_id, error = %e, "could not record the attempt");
        }
        match transition {
            Some(Transition::Opened) => {
                metrics::gauge!("junction_circuit_open", "destination" => dest.clone()).set(1.0);
                tracing::warn!(destination = %dest, "circuit opened: deliveries wait for a probe instead of burning attempts");
            }
            Some(Transition::Closed) => {
                metrics::gauge!("junction_circuit_open", "destination" => dest.clone()).set(0.0);
                match self.store.wake(dest, now_ms()).await {
                    Ok(n) => {
                        tracing::info!(destination = %dest, woken = n, "circuit closed: the backlog is due now")
                    }
                    Err(e) => {
                        tracing::warn!(destination = %dest, error = %e, "circuit closed but waking the backlog failed")
                    }
                }
            }
            None => {}
        }
    }

    /// Records a delivery as quarantined: nothing was sent, the destination's circuit is not
    /// touched (the body, not the destination, is at fault).
    async fn quarantine(&self, c: Claimed, q: Quarantine, started_at: i64, t0: std::time::Instant) {
        let dest = &self.dest.name;
        metrics::counter!("junction_quarantined_total", "destination" => dest.clone(), "route" => c.route.clone(), "kind" => q.kind)
            .increment(1);
        self.metrics
            .history
            .add(history::destination::QUARANTINED, 1);
        // A reason can quote the payload: personal data in it is masked before it is kept.
        let reason = junction_core::mask::mask(&q.reason).into_owned();
        tracing::warn!(destination = %dest, route = %c.route, delivery = c.lease.delivery_id, event = %c.event.external_id, kind = q.kind, reason = %reason, "delivery quarantined");
        let finish = Finish {
            lease: c.lease,
            attempt: Attempt {
                started_at,
                duration_ms: t0.elapsed().as_millis() as i64,
                status: None,
                error: Some(reason.clone()),
                response_excerpt: None,
            },
            outcome: Outcome::Quarantined { reason },
            now: now_ms(),
        };
        if let Err(e) = self.store.finish(finish).await {
            tracing::warn!(destination = %dest, delivery = c.lease.delivery_id, error = %e, "could not record the quarantine");
        }
    }

    /// Stops sending to this destination (persisted, so every process stops) and says so loudly.
    pub async fn disable(&self, reason: &str) {
        if self.disabled.swap(true, Ordering::SeqCst) {
            return;
        }
        metrics::gauge!("junction_destination_disabled", "destination" => self.dest.name.clone())
            .set(1.0);
        tracing::error!(destination = %self.dest.name, %reason, "destination disabled: its deliveries wait until it is enabled again (POST /api/v1/destinations/{}/enable)", self.dest.name);
        if let Err(e) = self
            .store
            .set_disabled(&self.dest.name, Some(reason), now_ms())
            .await
        {
            tracing::warn!(destination = %self.dest.name, error = %e, "could not persist the disabled state");
        }
    }

    /// Sends to this destination again and makes its waiting deliveries due now.
    pub async fn enable(&self) -> Result<(), StoreError> {
        self.store
            .set_disabled(&self.dest.name, None, now_ms())
            .await?;
        self.disabled.store(false, Ordering::SeqCst);
        metrics::gauge!("junction_destination_disabled", "destination" => self.dest.name.clone())
            .set(0.0);
        self.store.wake(&self.dest.name, now_ms()).await?;
        self.wake.notify_one();
        Ok(())
    }
}

/// What a route's mapping rollout sticks by: the event's entity key, else its id.
fn rollout_key(c: &Claimed) -> &str {
    c.event
        .entity_key
        .as_deref()
        .unwrap_or(c.event.external_id.as_str())
}

/// Counts one attempt in [`Worker::running`] until dropped (also when the attempt's task ends
/// by a panic).
struct Running(Arc<Worker>);

impl Running {
    fn start(worker: Arc<Worker>) -> Self {
        worker.running.fetch_add(1, Ordering::AcqRel);
        Self(worker)
    }
}

impl Drop for Running {
    fn drop(&mut self) {
        self.0.running.fetch_sub(1, Ordering::AcqRel);
    }
}
