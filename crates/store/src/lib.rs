//! The Store: Junction's only queue.
//!
//! Events, their deliveries and every attempt live in one database and are written together
//! (a transactional outbox): an event is never stored without its deliveries, a delivery never
//! without its event, and nothing is acknowledged before it is committed.
//!
//! Invariants every backend keeps (proved by `tests/conformance.rs` on SQLite and PostgreSQL):
//! - `(source, external_id)` is unique; a repeat appends nothing and reports the first copy.
//! - A claim leases due deliveries to one owner; no two live leases cover the same delivery.
//!   A claim raises the delivery's lease epoch, so a worker whose lease expired is fenced off:
//!   its completion, failure or extension is refused with [`StoreError::LeaseLost`].
//! - An expired lease makes the delivery due again (crash recovery needs no sweeper).
//! - A delivery ends `delivered` or `dead`; a dead one keeps its reason and last response.
//! - Writes are group-committed: many appends and finishes share one transaction and one fsync.
#![forbid(unsafe_code)]

pub mod async_calls;
pub mod at_rest;
pub mod audit_archive;
mod batch;
mod connect_sql;
mod drift_sql;
mod erase_sql;
mod error;
mod filter;
pub mod jobs;
pub use async_calls::{AsyncCall, CallState, NewCall};
mod migrate;
mod model;
pub mod ops;
mod postgres;
mod rejected_sql;
pub use jobs::{JobRun, NewRun, RunState, Trigger};
mod rows;
pub mod shares;
mod sqlite;
mod states;
pub use shares::{OpenCircuit, ShareGrant, ShareRequest};
pub mod syncs;
pub use syncs::{PageOutcome, PulledRecord, SyncPage};
mod vault_sql;
mod writes;

use std::sync::Arc;

use async_trait::async_trait;
use junction_core::DatabaseUrl;

pub use error::{StoreError, RETRY_AFTER};
pub use model::*;
pub use ops::{AlertChange, AlertRecord, AuditRecord, MinuteRow, NewAudit};
pub use postgres::PgStore;
pub use sqlite::SqliteStore;
pub use states::AlertState;

/// Which database a store runs on.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Backend {
    Sqlite,
    Postgres,
}

impl Backend {
    pub fn as_str(self) -> &'static str {
        match self {
            Backend::Sqlite => "sqlite",
            Backend::Postgres => "postgres",
        }
    }
}

/// The operations Junction needs from its database, one trait per aggregate (a consumer can take
/// only the one it uses). Both backends implement all of them with the same guarantees; see the
/// crate documentation.
#[async_trait]
pub trait Store:
    Queue
    + Deliveries
    + Secrets
    + Connections
    + ApiTokens
    + Observations
    + AuditLog
    + MinuteHistory
    + AlertStates
    + Jobs
    + AsyncCalls
    + Syncs
    + SharedLimits
    + Erasures
    + Send
    + Sync
    + 'static
{
    fn backend(&self) -> Backend;

    /// Succeeds when the database answers a trivial query.
    async fn ping(&self) -> Result<(), StoreError>;
}

/// The queue: events appended with their deliveries, claimed under leases, finished.
#[async_trait]
pub trait Queue: Send + Sync {
    /// Appends an event with its deliveries in one transaction, or reports a duplicate.
    /// Returns only once the write is durably committed.
    async fn append(&self, event: NewEvent) -> Result<Appended, StoreError>;

    /// Leases up to `claim.limit` due deliveries, oldest due first.
    async fn claim(&self, claim: &Claim) -> Result<Vec<Claimed>, StoreError>;

    /// Pushes a held lease's expiry to `until`. `Err(LeaseLost)` if it is no longer held.
    async fn extend_lease(&self, lease: Lease, until: i64) -> Result<(), StoreError>;

    /// Records an attempt and its outcome (delivered, retry later, dead). Group-committed.
    /// `Err(LeaseLost)` if the lease is no longer held: nothing is recorded.
    async fn finish(&self, finish: Finish) -> Result<(), StoreError>;

    /// Gives back every lease `owner` holds, so the deliveries are due at once (graceful shutdown).
    /// The interrupted attempts do not count. Returns how many were released.
    async fn release(&self, owner: &str, now: i64) -> Result<u64, StoreError>;
}

/// Events and deliveries as operators see them: reads, replays, discards, disabled
/// destinations, retention.
#[async_trait]
pub trait Deliveries: Send + Sync {
    async fn event(&self, id: i64) -> Result<Option<StoredEvent>, StoreError>;
    async fn delivery(&self, id: i64) -> Result<Option<DeliveryRecord>, StoreError>;
    /// Events matching `filter`, newest first, at most `limit`.
    async fn events(
        &self,
        filter: &EventFilter,
        limit: usize,
    ) -> Result<Vec<StoredEvent>, StoreError>;

    /// The deliveries of one event.
    async fn deliveries_of(&self, event_id: i64) -> Result<Vec<DeliveryRecord>, StoreError>;

    /// Deliveries matching `filter`, newest first, at most `limit`.
    async fn deliveries(
        &self,
        filter: &DeliveryFilter,
        limit: usize,
    ) -> Result<Vec<DeliveryRecord>, StoreError>;
    async fn attempts(&self, delivery_id: i64) -> Result<Vec<AttemptRecord>, StoreError>;
    async fn queue_stats(&self, now: i64) -> Result<QueueStats, StoreError>;

    /// Queue depth per destination (destinations with pending or dead deliveries).
    async fn destination_stats(&self, now: i64) -> Result<Vec<DestinationStats>, StoreError>;

    /// Makes every waiting (not leased) delivery of `destination` due now: a recovered
    /// destination's backlog drains at once instead of waiting out its backoff.
    async fn wake(&self, destination: &str, now: i64) -> Result<u64, StoreError>;

    /// Dead letters matching `filter`, oldest first, after delivery id `after` (paging).
    async fn dead_letters(
        &self,
        filter: &DeadFilter,
        after: i64,
        limit: usize,
    ) -> Result<Vec<DeadLetter>, StoreError>;

    /// Puts up to `limit` dead letters matching `filter` back in the queue, due now, with a fresh
    /// attempt count (their attempt history is kept). Returns the ids replayed.
    async fn replay(
        &self,
        filter: &DeadFilter,
        limit: usize,
        now: i64,
    ) -> Result<Vec<i64>, StoreError>;

    /// Discards dead letters (or, with `filter.quarantined`, quarantined deliveries) matching
    /// `filter`, at most `limit`: they are never sent, stop blocking their lane, and keep
    /// `reason`. Answers the ids discarded.
    async fn discard(
        &self,
        filter: &DeadFilter,
        limit: usize,
        now: i64,
        reason: &str,
    ) -> Result<Vec<i64>, StoreError>;

    /// Disables (`Some(reason)`) or re-enables (`None`) a destination.
    async fn set_disabled(
        &self,
        destination: &str,
        reason: Option<&str>,
        now: i64,
    ) -> Result<(), StoreError>;

    /// Destinations currently disabled.
    async fn disabled(&self) -> Result<Vec<DisabledDestination>, StoreError>;

    /// Deletes up to `limit` events of `sources` received before `before` whose deliveries
    /// have all ended (delivered, stale or discarded), with their deliveries and attempts. Dead
    /// letters and pending work are kept. A deleted event's id is forgotten: a later copy of it
    /// is accepted as new.
    async fn purge(&self, before: i64, limit: usize, sources: &Sources) -> Result<u64, StoreError>;
}

/// Erasure by data subject: every trace of one person's data, on request.
#[async_trait]
pub trait Erasures: Send + Sync {
    /// Deletes, in one transaction, the events indexed under `erase.subject` with their
    /// deliveries (dead letters and quarantine included), attempts (and their excerpts) and
    /// tracked entities; and, when `erase.value` is given, the rejected-request samples, drift
    /// details and asynchronous calls that contain it. Keeps the erasure when `erase.record`.
    /// On SQLite the freed pages are zeroed and the WAL truncated before it answers, so the
    /// bytes are gone from the files too.
    async fn erase(&self, erase: Erase) -> Result<ErasedCounts, StoreError>;

    /// The newest kept erasures, newest first.
    async fn erasures(&self, limit: usize) -> Result<Vec<ErasureRecord>, StoreError>;
}

/// The vault's rows. The store only ever holds sealed values; sealing and opening are the
/// vault's (`junction-vault`).
#[async_trait]
pub trait Secrets: Send + Sync {
    /// Master key versions the vault knows, oldest first.
    async fn vault_keys(&self) -> Result<Vec<VaultKey>, StoreError>;

    /// Records a master key version's check value; an already known version keeps its own.
    async fn add_vault_key(&self, key: VaultKey) -> Result<(), StoreError>;

    /// Stores `secret` as the next version of its name (1 when new); returns that version.
    /// `secret.version` and `created_at` are ignored.
    async fn put_secret(&self, secret: SealedSecret) -> Result<i64, StoreError>;

    /// Stores `secret` as version 1 unless a secret by its name exists; true if stored.
    async fn put_new_secret(&self, secret: SealedSecret) -> Result<bool, StoreError>;

    async fn secret(&self, name: &str) -> Result<Option<SealedSecret>, StoreError>;

    /// Every secret, sealed, by name.
    async fn secrets(&self) -> Result<Vec<SealedSecret>, StoreError>;

    /// Deletes a secret; false if there was none.
    async fn delete_secret(&self, name: &str) -> Result<bool, StoreError>;

    /// Replaces a secret's wrapped data key if the secret is still at `version` (a `set` that
    /// raced the rewrap wins; it is sealed under the current key anyway). True if replaced.
    async fn rewrap_secret(
        &self,
        name: &str,
        version: i64,
        master_version: i64,
        wrapped_key: Vec<u8>,
    ) -> Result<bool, StoreError>;
}

/// Connections: token state and the fenced refresh lease (tokens are vault secrets).
#[async_trait]
pub trait Connections: Send + Sync {
    async fn connection(
        &self,
        connector: &str,
        name: &str,
    ) -> Result<Option<Connection>, StoreError>;

    async fn connections(&self) -> Result<Vec<Connection>, StoreError>;

    /// Takes the connection's refresh lease until `until` if it is free or expired (creating the
    /// row if missing) and returns the new epoch; `None` while another holder's lease is live,
    /// or when tokens were saved since the caller read `seen_version` (the row's
    /// `token_version`; 0 without a row): a refresh that just finished is not repeated.
    async fn take_refresh_lease(
        &self,
        connector: &str,
        name: &str,
        now: i64,
        until: i64,
        seen_version: i64,
    ) -> Result<Option<i64>, StoreError>;

    /// Saves new tokens (times on the row, sealed values as secrets) in one transaction and
    /// releases the lease. False when fenced off: the row's epoch is no longer `epoch`.
    async fn save_tokens(&self, save: SaveTokens) -> Result<bool, StoreError>;

    /// Records a failed refresh and releases the lease; `None` when fenced off.
    async fn refresh_failed(&self, f: RefreshFailed) -> Result<Option<Connection>, StoreError>;

    /// Deletes a connection row (its secrets are the vault's to delete); false if none.
    async fn delete_connection(&self, connector: &str, name: &str) -> Result<bool, StoreError>;
}

/// Hub API tokens.
#[async_trait]
pub trait ApiTokens: Send + Sync {
    async fn add_api_token(&self, token: ApiToken) -> Result<(), StoreError>;

    async fn api_token_by_hash(&self, hash: &[u8]) -> Result<Option<ApiToken>, StoreError>;

    async fn api_tokens(&self) -> Result<Vec<ApiToken>, StoreError>;

    /// Marks a token revoked; false if unknown or already revoked.
    async fn revoke_api_token(&self, id: &str, now: i64) -> Result<bool, StoreError>;
}

/// What intake and calls observed: schema drift, refused requests.
#[async_trait]
pub trait Observations: Send + Sync {
    /// Adds drift records: a record already kept for the same scope, subject, path and kind has
    /// its count added to and its first/last seen widened (its first detail stays).
    async fn record_drift(&self, records: Vec<DriftRecord>) -> Result<(), StoreError>;

    /// Drift records, most recently seen first.
    async fn drift(&self, limit: usize) -> Result<Vec<DriftRecord>, StoreError>;

    /// Saves learned shapes, each unless the stored one was learned from more payloads.
    async fn save_shapes(&self, shapes: Vec<LearnedShape>) -> Result<(), StoreError>;

    /// The `limit` most recently saved shapes.
    async fn learned_shapes(&self, limit: usize) -> Result<Vec<LearnedShape>, StoreError>;

    /// Keeps a request refused at intake; only the newest `keep` of its source stay.
    async fn record_rejected(&self, r: RejectedRequest, keep: usize) -> Result<(), StoreError>;

    /// Refused requests, newest first: of one source, or of all.
    async fn rejected(
        &self,
        source: Option<String>,
        limit: usize,
    ) -> Result<Vec<RejectedRequest>, StoreError>;
}

/// The audit log: one hash chain across processes.
#[async_trait]
pub trait AuditLog: Send + Sync {
    /// Appends an audit entry, numbered and chained after the newest one; entries appended by
    /// several processes at once still form one chain.
    async fn append_audit(&self, entry: NewAudit) -> Result<AuditRecord, StoreError>;

    /// Audit entries after `after` (by `seq`, ascending), at most `limit`.
    async fn audit_after(&self, after: i64, limit: usize) -> Result<Vec<AuditRecord>, StoreError>;

    /// The newest audit entries first, at most `limit`.
    async fn audit_newest(&self, limit: usize) -> Result<Vec<AuditRecord>, StoreError>;

    /// The chain's head as recorded with the newest entry: `(seq, hash)`.
    async fn audit_head(&self) -> Result<Option<(i64, String)>, StoreError>;

    /// Where the log starts: the last entry moved to an archive, `(seq, hash)`; the first entry
    /// kept links to it. `None` while nothing was archived.
    async fn audit_start(&self) -> Result<Option<(i64, String)>, StoreError>;

    /// Deletes the entries up to `seq` — already written to an archive — and records `(seq,
    /// hash)` as where the log starts. Nothing is deleted unless entry `seq` has that hash (a
    /// stale or wrong archive never removes what it does not hold). How many were deleted.
    async fn drop_audit_through(&self, seq: i64, hash: &str) -> Result<u64, StoreError>;
}

/// Per-minute history rows of every process.
#[async_trait]
pub trait MinuteHistory: Send + Sync {
    /// Writes minute rows, replacing what this process wrote before for the same minute.
    async fn save_minutes(&self, rows: Vec<MinuteRow>) -> Result<(), StoreError>;

    /// Minute rows from `since` (unix ms) on, of every process.
    async fn minutes(&self, since: i64) -> Result<Vec<MinuteRow>, StoreError>;

    /// Deletes minute rows older than `before`.
    async fn purge_minutes(&self, before: i64) -> Result<u64, StoreError>;
}

/// Alert states, changed once across processes.
#[async_trait]
pub trait AlertStates: Send + Sync {
    /// Fires or resolves an alert if it is not already in that state; `true` when this call
    /// made the change (and so should notify). A `refresh` only updates a firing alert's value
    /// and message, and answers `false`.
    async fn change_alert(&self, change: AlertChange) -> Result<bool, StoreError>;

    /// Every alert, firing first.
    async fn alerts(&self) -> Result<Vec<AlertRecord>, StoreError>;
}

/// Runs of scheduled jobs: one per `(job, slot)` across processes.
#[async_trait]
pub trait Jobs: Send + Sync {
    /// Starts a run of `run.job` for `run.slot`, unless one exists for that slot: the id of the
    /// new run, or `None` when another process (or an earlier start) took the slot.
    async fn start_run(&self, run: NewRun) -> Result<Option<i64>, StoreError>;

    /// Finishes a running run; `false` if it was not running (a sweep failed it meanwhile).
    async fn finish_run(
        &self,
        id: i64,
        state: RunState,
        result: String,
        error: Option<String>,
        now: i64,
    ) -> Result<bool, StoreError>;

    /// Records a running run's progress (JSON) and that its owner is alive.
    async fn beat_run(&self, id: i64, progress: String, now: i64) -> Result<bool, StoreError>;

    /// Fails running runs whose owner has not beaten since `before`.
    async fn fail_stale_runs(&self, before: i64, now: i64) -> Result<u64, StoreError>;

    /// Runs of `job` (or of every job), newest first.
    async fn job_runs(&self, job: Option<String>, limit: usize) -> Result<Vec<JobRun>, StoreError>;

    async fn job_run(&self, id: i64) -> Result<Option<JobRun>, StoreError>;

    /// The latest scheduled slot of `job` that has a run.
    async fn last_slot(&self, job: &str) -> Result<Option<i64>, StoreError>;

    /// Pauses `job`; `false` if it was paused already.
    async fn pause_job(&self, job: &str, actor: &str, now: i64) -> Result<bool, StoreError>;

    /// Resumes `job`; `false` if it was not paused.
    async fn resume_job(&self, job: &str) -> Result<bool, StoreError>;

    async fn paused_jobs(&self) -> Result<Vec<String>, StoreError>;
}

/// Records pulled from vendors' lists (syncs, reconciliations): what is known of each entity, and
/// where each walk stands. See [`syncs`].
#[async_trait]
pub trait Syncs: Send + Sync {
    /// The state of `source`'s walk in `lane`, as the last page committed it.
    async fn sync_checkpoint(&self, source: &str, lane: &str)
        -> Result<Option<String>, StoreError>;

    /// Judges a page's records against what is known of their entities, appends the events of
    /// the new, newer and deleted ones with their deliveries, records that every record was
    /// listed, and writes the checkpoint: all in one transaction.
    async fn sync_page(&self, page: SyncPage) -> Result<PageOutcome, StoreError>;

    /// How many entities `source` knows, and how many of them no list has shown since `before`.
    async fn entity_counts(&self, source: &str, before: i64) -> Result<(u64, u64), StoreError>;

    /// Keys of `source`'s entities no list has shown since `before`, in key order after `after`,
    /// at most `limit`.
    async fn absent_entities(
        &self,
        source: &str,
        before: i64,
        after: &str,
        limit: usize,
    ) -> Result<Vec<String>, StoreError>;
}

/// Limits every process on the database shares: leased quota shares and open circuits. See
/// [`shares`].
#[async_trait]
pub trait SharedLimits: Send + Sync {
    /// Renews the requester's share of a quota: the fair part of what other holders' claims
    /// leave, with the quota's pause and learned windows, in one transaction.
    async fn renew_share(&self, req: ShareRequest) -> Result<ShareGrant, StoreError>;

    /// Marks circuit `name` open for `open_for_ms` from now (never shortening a later mark),
    /// or closed (`None`), by `by`.
    async fn mark_circuit(
        &self,
        name: &str,
        open_for_ms: Option<i64>,
        by: &str,
    ) -> Result<(), StoreError>;

    /// The circuits marked open now.
    async fn open_circuits(&self) -> Result<Vec<OpenCircuit>, StoreError>;
}

/// Operation calls answered `202` at once and run as durable jobs.
#[async_trait]
pub trait AsyncCalls: Send + Sync {
    async fn queue_call(&self, call: NewCall) -> Result<(), StoreError>;

    /// Takes call `uid` to run it: a queued one, or a running one whose owner has not beaten
    /// since `stale_before` (it died). `None` when another process has it, or it is done.
    async fn take_call(
        &self,
        uid: &str,
        owner: &str,
        now: i64,
        stale_before: i64,
    ) -> Result<Option<AsyncCall>, StoreError>;

    async fn beat_call(&self, uid: &str, owner: &str, now: i64) -> Result<bool, StoreError>;

    /// Records the answer, if `owner` still holds the call; `false` when it does not.
    /// Records a call's answer if `owner` still holds it, and in the same transaction appends
    /// `event` (the answer's delivery to the call's callback). `false`: another process took it.
    async fn finish_call(
        &self,
        uid: &str,
        owner: &str,
        status: i32,
        body: String,
        now: i64,
        event: Option<NewEvent>,
    ) -> Result<bool, StoreError>;

    async fn get_call(&self, uid: &str) -> Result<Option<AsyncCall>, StoreError>;

    /// Calls queued or running without a heartbeat since `before` (their process died).
    async fn abandoned_calls(&self, before: i64, limit: usize) -> Result<Vec<String>, StoreError>;

    /// Deletes answered calls finished before `before`.
    async fn purge_calls(&self, before: i64) -> Result<u64, StoreError>;
}

/// Convenience forms of [`Queue::finish`].
impl dyn Store {
    /// The destination accepted the delivery.
    pub async fn complete(
        &self,
        lease: Lease,
        attempt: Attempt,
        now: i64,
    ) -> Result<(), StoreError> {
        self.finish(Finish {
            lease,
            attempt,
            outcome: Outcome::Delivered,
            now,
        })
        .await
    }

    /// The attempt failed; try again at `next_at`.
    pub async fn fail(
        &self,
        lease: Lease,
        attempt: Attempt,
        next_at: i64,
        now: i64,
    ) -> Result<(), StoreError> {
        self.finish(Finish {
            lease,
            attempt,
            outcome: Outcome::Retry { next_at },
            now,
        })
        .await
    }

    /// No more attempts: the delivery is dead-lettered with `reason`.
    pub async fn dead_letter(
        &self,
        lease: Lease,
        attempt: Attempt,
        reason: impl Into<String>,
        now: i64,
    ) -> Result<(), StoreError> {
        self.finish(Finish {
            lease,
            attempt,
            outcome: Outcome::Dead {
                reason: reason.into(),
            },
            now,
        })
        .await
    }
}

/// How to open a store (the config's resolved `store:` section is this type).
pub use junction_core::StoreOptions as Options;

/// Opens the store named by `options`, applying migrations. Fails when the database cannot be
/// reached within the connect timeout.
pub async fn open(options: &Options) -> Result<Arc<dyn Store>, StoreError> {
    Ok(match &options.url {
        DatabaseUrl::Sqlite(_) => Arc::new(SqliteStore::open(options).await?),
        DatabaseUrl::Postgres(_) => Arc::new(PgStore::open(options).await?),
    })
}

/// Records how long a store operation took.
pub(crate) fn observe(backend: Backend, op: &'static str, started: std::time::Instant) {
    metrics::histogram!("junction_store_op_seconds", "backend" => backend.as_str(), "op" => op)
        .record(started.elapsed().as_secs_f64());
}
