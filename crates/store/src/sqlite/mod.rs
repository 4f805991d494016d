//! SQLite: the embedded default. One file, WAL journal, `synchronous = FULL` (a commit is on disk
//! before it returns).
//!
//! SQLite allows one writer at a time, so every write runs on one dedicated thread that owns the
//! write connection ([`writer`]): appends and finishes are group-committed there, claims and lease
//! changes run there between batches. Reads use a small pool of read-only connections on
//! blocking threads and never wait for the writer. A third connection checkpoints the WAL into
//! the database in the background, off the commit path.

mod async_calls;
mod conn;
mod connect;
mod drift;
mod erase;
mod jobs;
mod ops;
mod queue;
mod read;
mod rejected;
mod shares;
mod syncs;
mod vault;
mod writer;

use std::time::Instant;

use async_trait::async_trait;
use junction_core::DatabaseUrl;
use tokio::sync::oneshot;

use crate::writes::{Write, Written};
use crate::*;

pub struct SqliteStore {
    writer: writer::Handle,
    reads: read::Readers,
    _checkpointer: Option<conn::Checkpointer>,
}

impl SqliteStore {
    pub async fn open(options: &Options) -> Result<Self, StoreError> {
        let DatabaseUrl::Sqlite(path) = &options.url else {
            return Err(StoreError::Internal("not an SQLite URL".into()));
        };
        let path = path.clone();
        let busy = options
            .connect_timeout
            .max(std::time::Duration::from_secs(5));
        tokio::task::spawn_blocking(move || {
            let target = conn::Target::new(&path)?;
            let mut write_conn = target.open_writer(busy)?;
            conn::migrate(&mut write_conn)?;
            let checkpointer = (!target.is_memory())
                .then(|| conn::Checkpointer::start(&target, busy))
                .transpose()?;
            let writer = writer::Handle::spawn(write_conn)?;
            let reads = if target.is_memory() {
                read::Readers::Via(writer.clone())
            } else {
                read::Readers::pool(target, busy)
            };
            Ok(SqliteStore {
                writer,
                reads,
                _checkpointer: checkpointer,
            })
        })
        .await
        .map_err(|e| StoreError::Internal(format!("opening SQLite failed: {e}")))?
    }

    /// Runs `f` on the writer thread, between group commits.
    async fn on_writer<T: Send + 'static>(
        &self,
        f: impl FnOnce(&mut rusqlite::Connection) -> Result<T, StoreError> + Send + 'static,
    ) -> Result<T, StoreError> {
        self.writer.run(f).await
    }

    async fn write(&self, w: Write) -> Result<Written, StoreError> {
        let (tx, rx) = oneshot::channel();
        self.writer.submit(w, tx)?;
        rx.await.map_err(|_| {
            StoreError::Internal("the SQLite writer stopped before answering".into())
        })?
    }
}

#[async_trait]
impl Store for SqliteStore {
    fn backend(&self) -> Backend {
        Backend::Sqlite
    }

    async fn ping(&self) -> Result<(), StoreError> {
        self.reads
            .run(|c| Ok(c.query_row("SELECT 1", [], |_| Ok(()))?))
            .await
    }
}

#[async_trait]
impl Queue for SqliteStore {
    async fn append(&self, event: NewEvent) -> Result<Appended, StoreError> {
        let started = Instant::now();
        let r = self.write(Write::Append(event)).await;
        observe(Backend::Sqlite, "append", started);
        r?.into_appended()
    }

    async fn claim(&self, claim: &Claim) -> Result<Vec<Claimed>, StoreError> {
        let started = Instant::now();
        let claim = claim.clone();
        let leased = self.writer.claim(claim).await?;
        let r = if leased.is_empty() {
            Ok(Vec::new())
        } else {
            self.reads
                .run(move |c| writer::load_claimed(c, leased))
                .await
        };
        observe(Backend::Sqlite, "claim", started);
        r
    }

    async fn extend_lease(&self, lease: Lease, until: i64) -> Result<(), StoreError> {
        let started = Instant::now();
        let changed = self
            .on_writer(move |c| {
                Ok(c.prepare_cached(
                    "UPDATE deliveries SET next_attempt_at = ?1
                     WHERE id = ?2 AND lease_epoch = ?3 AND state = 'pending' AND lease_owner IS NOT NULL",
                )?
                .execute(rusqlite::params![until, lease.delivery_id, lease.epoch])?)
            })
            .await?;
        observe(Backend::Sqlite, "extend_lease", started);
        if changed == 1 {
            Ok(())
        } else {
            Err(StoreError::LeaseLost(lease.delivery_id))
        }
    }

    async fn finish(&self, finish: Finish) -> Result<(), StoreError> {
        let started = Instant::now();
        let r = self.write(Write::Finish(finish)).await;
        observe(Backend::Sqlite, "finish", started);
        r.map(|_| ())
    }

    async fn release(&self, owner: &str, now: i64) -> Result<u64, StoreError> {
        let owner = owner.to_owned();
        self.on_writer(move |c| {
            let n = c.execute(
                "UPDATE deliveries SET next_attempt_at = ?1, lease_owner = NULL, lease_epoch = lease_epoch + 1,
                        attempts = MAX(attempts - 1, 0)
                 WHERE lease_owner = ?2 AND state = 'pending' AND next_attempt_at > ?1",
                rusqlite::params![now, owner],
            )?;
            Ok(n as u64)
        })
        .await
    }
}

#[async_trait]
impl Deliveries for SqliteStore {
    async fn event(&self, id: i64) -> Result<Option<StoredEvent>, StoreError> {
        self.reads.run(move |c| read::event(c, id)).await
    }

    async fn delivery(&self, id: i64) -> Result<Option<DeliveryRecord>, StoreError> {
        self.reads.run(move |c| read::delivery(c, id)).await
    }

    async fn events(
        &self,
        filter: &EventFilter,
        limit: usize,
    ) -> Result<Vec<StoredEvent>, StoreError> {
        let filter = filter.clone();
        self.reads
            .run(move |c| queue::events(c, &filter, limit))
            .await
    }

    async fn deliveries_of(&self, event_id: i64) -> Result<Vec<DeliveryRecord>, StoreError> {
        self.reads
            .run(move |c| read::deliveries_of(c, event_id))
            .await
    }

    async fn deliveries(
        &self,
        filter: &DeliveryFilter,
        limit: usize,
    ) -> Result<Vec<DeliveryRecord>, StoreError> {
        let filter = filter.clone();
        self.reads
            .run(move |c| queue::deliveries(c, &filter, limit))
            .await
    }

    async fn attempts(&self, delivery_id: i64) -> Result<Vec<AttemptRecord>, StoreError> {
        self.reads
            .run(move |c| read::attempts(c, delivery_id))
            .await
    }

    async fn queue_stats(&self, now: i64) -> Result<QueueStats, StoreError> {
        self.reads.run(move |c| read::queue_stats(c, now)).await
    }

    async fn destination_stats(&self, now: i64) -> Result<Vec<DestinationStats>, StoreError> {
        self.reads
            .run(move |c| queue::destination_stats(c, now))
            .await
    }

    async fn wake(&self, destination: &str, now: i64) -> Result<u64, StoreError> {
        let destination = destination.to_owned();
        self.on_writer(move |c| queue::wake(c, &destination, now))
            .await
    }

    async fn dead_letters(
        &self,
        filter: &DeadFilter,
        after: i64,
        limit: usize,
    ) -> Result<Vec<DeadLetter>, StoreError> {
        let filter = filter.clone();
        self.reads
            .run(move |c| queue::dead_letters(c, &filter, after, limit))
            .await
    }

    async fn replay(
        &self,
        filter: &DeadFilter,
        limit: usize,
        now: i64,
    ) -> Result<Vec<i64>, StoreError> {
        let filter = filter.clone();
        self.on_writer(move |c| queue::replay(c, &filter, limit, now))
            .await
    }

    async fn discard(
        &self,
        filter: &DeadFilter,
        limit: usize,
        now: i64,
        reason: &str,
    ) -> Result<Vec<i64>, StoreError> {
        let (filter, reason) = (filter.clone(), reason.to_owned());
        self.on_writer(move |c| queue::discard(c, &filter, limit, now, &reason))
            .await
    }

    async fn set_disabled(
        &self,
        destination: &str,
        reason: Option<&str>,
        now: i64,
    ) -> Result<(), StoreError> {
        let (destination, reason) = (destination.to_owned(), reason.map(str::to_owned));
        self.on_writer(move |c| queue::set_disabled(c, &destination, reason.as_deref(), now))
            .await
    }

    async fn disabled(&self) -> Result<Vec<DisabledDestination>, StoreError> {
        self.reads.run(queue::disabled).await
    }

    async fn purge(&self, before: i64, limit: usize, sources: &Sources) -> Result<u64, StoreError> {
        let sources = sources.clone();
        self.on_writer(move |c| queue::purge(c, before, limit, &sources))
            .await
    }
}

#[async_trait]
impl Secrets for SqliteStore {
    async fn vault_keys(&self) -> Result<Vec<VaultKey>, StoreError> {
        self.reads.run(vault::keys).await
    }

    async fn add_vault_key(&self, key: VaultKey) -> Result<(), StoreError> {
        self.on_writer(move |c| vault::add_key(c, &key)).await
    }

    async fn put_secret(&self, secret: SealedSecret) -> Result<i64, StoreError> {
        self.on_writer(move |c| vault::put(c, &secret)).await
    }

    async fn put_new_secret(&self, secret: SealedSecret) -> Result<bool, StoreError> {
        self.on_writer(move |c| vault::put_new(c, &secret)).await
    }

    async fn secret(&self, name: &str) -> Result<Option<SealedSecret>, StoreError> {
        let name = name.to_owned();
        self.reads.run(move |c| vault::one(c, &name)).await
    }

    async fn secrets(&self) -> Result<Vec<SealedSecret>, StoreError> {
        self.reads.run(vault::all).await
    }

    async fn delete_secret(&self, name: &str) -> Result<bool, StoreError> {
        let name = name.to_owned();
        self.on_writer(move |c| vault::delete(c, &name)).await
    }

    async fn rewrap_secret(
        &self,
        name: &str,
        version: i64,
        master_version: i64,
        wrapped_key: Vec<u8>,
    ) -> Result<bool, StoreError> {
        let name = name.to_owned();
        self.on_writer(move |c| vault::rewrap(c, &name, version, master_version, &wrapped_key))
            .await
    }
}

#[async_trait]
impl Connections for SqliteStore {
    async fn connection(
        &self,
        connector: &str,
        name: &str,
    ) -> Result<Option<Connection>, StoreError> {
        let (connector, name) = (connector.to_owned(), name.to_owned());
        self.reads
            .run(move |c| connect::one(c, &connector, &name))
            .await
    }

    async fn connections(&self) -> Result<Vec<Connection>, StoreError> {
        self.reads.run(connect::all).await
    }

    async fn take_refresh_lease(
        &self,
        connector: &str,
        name: &str,
        now: i64,
        until: i64,
        seen_version: i64,
    ) -> Result<Option<i64>, StoreError> {
        let (connector, name) = (connector.to_owned(), name.to_owned());
        self.on_writer(move |c| connect::lease(c, &connector, &name, now, until, seen_version))
            .await
    }

    async fn save_tokens(&self, save: SaveTokens) -> Result<bool, StoreError> {
        self.on_writer(move |c| connect::save(c, &save)).await
    }

    async fn refresh_failed(&self, f: RefreshFailed) -> Result<Option<Connection>, StoreError> {
        self.on_writer(move |c| connect::failed(c, &f)).await
    }

    async fn delete_connection(&self, connector: &str, name: &str) -> Result<bool, StoreError> {
        let (connector, name) = (connector.to_owned(), name.to_owned());
        self.on_writer(move |c| connect::delete(c, &connector, &name))
            .await
    }
}

#[async_trait]
impl ApiTokens for SqliteStore {
    async fn add_api_token(&self, token: ApiToken) -> Result<(), StoreError> {
        self.on_writer(move |c| connect::add_token(c, &token)).await
    }

    async fn api_token_by_hash(&self, hash: &[u8]) -> Result<Option<ApiToken>, StoreError> {
        let hash = hash.to_vec();
        self.reads
            .run(move |c| connect::token_by_hash(c, &hash))
            .await
    }

    async fn api_tokens(&self) -> Result<Vec<ApiToken>, StoreError> {
        self.reads.run(connect::tokens).await
    }

    async fn revoke_api_token(&self, id: &str, now: i64) -> Result<bool, StoreError> {
        let id = id.to_owned();
        self.on_writer(move |c| connect::revoke(c, &id, now)).await
    }
}

#[async_trait]
impl Observations for SqliteStore {
    async fn record_drift(&self, records: Vec<DriftRecord>) -> Result<(), StoreError> {
        if records.is_empty() {
            return Ok(());
        }
        self.on_writer(move |c| drift::record(c, &records)).await
    }

    async fn drift(&self, limit: usize) -> Result<Vec<DriftRecord>, StoreError> {
        self.reads.run(move |c| drift::list(c, limit)).await
    }

    async fn save_shapes(&self, shapes: Vec<LearnedShape>) -> Result<(), StoreError> {
        if shapes.is_empty() {
            return Ok(());
        }
        self.on_writer(move |c| drift::save_shapes(c, &shapes))
            .await
    }

    async fn learned_shapes(&self, limit: usize) -> Result<Vec<LearnedShape>, StoreError> {
        self.reads.run(move |c| drift::shapes(c, limit)).await
    }

    async fn record_rejected(&self, r: RejectedRequest, keep: usize) -> Result<(), StoreError> {
        self.on_writer(move |c| rejected::record(c, &r, keep)).await
    }

    async fn rejected(
        &self,
        source: Option<String>,
        limit: usize,
    ) -> Result<Vec<RejectedRequest>, StoreError> {
        self.reads
            .run(move |c| rejected::list(c, source.as_deref(), limit))
            .await
    }
}

#[async_trait]
impl Erasures for SqliteStore {
    async fn erase(&self, e: Erase) -> Result<ErasedCounts, StoreError> {
        self.on_writer(move |c| erase::erase(c, &e)).await
    }

    async fn erasures(&self, limit: usize) -> Result<Vec<ErasureRecord>, StoreError> {
        self.reads.run(move |c| erase::newest(c, limit)).await
    }
}

#[async_trait]
impl AuditLog for SqliteStore {
    async fn append_audit(&self, entry: NewAudit) -> Result<AuditRecord, StoreError> {
        self.on_writer(move |c| ops::append_audit(c, entry)).await
    }

    async fn audit_after(&self, after: i64, limit: usize) -> Result<Vec<AuditRecord>, StoreError> {
        self.reads
            .run(move |c| ops::audit_after(c, after, limit))
            .await
    }

    async fn audit_newest(&self, limit: usize) -> Result<Vec<AuditRecord>, StoreError> {
        self.reads.run(move |c| ops::audit_newest(c, limit)).await
    }

    async fn audit_head(&self) -> Result<Option<(i64, String)>, StoreError> {
        self.reads.run(ops::head).await
    }

    async fn audit_start(&self) -> Result<Option<(i64, String)>, StoreError> {
        self.reads.run(ops::audit_start).await
    }

    async fn drop_audit_through(&self, seq: i64, hash: &str) -> Result<u64, StoreError> {
        let hash = hash.to_owned();
        self.on_writer(move |c| ops::drop_audit_through(c, seq, &hash))
            .await
    }
}

#[async_trait]
impl MinuteHistory for SqliteStore {
    async fn save_minutes(&self, rows: Vec<MinuteRow>) -> Result<(), StoreError> {
        if rows.is_empty() {
            return Ok(());
        }
        self.on_writer(move |c| ops::save_minutes(c, &rows)).await
    }

    async fn minutes(&self, since: i64) -> Result<Vec<MinuteRow>, StoreError> {
        self.reads.run(move |c| ops::minutes(c, since)).await
    }

    async fn purge_minutes(&self, before: i64) -> Result<u64, StoreError> {
        self.on_writer(move |c| ops::purge_minutes(c, before)).await
    }
}

#[async_trait]
impl AlertStates for SqliteStore {
    async fn change_alert(&self, change: AlertChange) -> Result<bool, StoreError> {
        self.on_writer(move |c| ops::change_alert(c, &change)).await
    }

    async fn alerts(&self) -> Result<Vec<AlertRecord>, StoreError> {
        self.reads.run(ops::alerts).await
    }
}

#[async_trait]
impl Jobs for SqliteStore {
    async fn start_run(&self, run: NewRun) -> Result<Option<i64>, StoreError> {
        self.on_writer(move |c| jobs::start(c, &run)).await
    }

    async fn finish_run(
        &self,
        id: i64,
        state: RunState,
        result: String,
        error: Option<String>,
        now: i64,
    ) -> Result<bool, StoreError> {
        self.on_writer(move |c| jobs::finish(c, id, state, &result, error.as_deref(), now))
            .await
    }

    async fn beat_run(&self, id: i64, progress: String, now: i64) -> Result<bool, StoreError> {
        self.on_writer(move |c| jobs::beat(c, id, &progress, now))
            .await
    }

    async fn fail_stale_runs(&self, before: i64, now: i64) -> Result<u64, StoreError> {
        self.on_writer(move |c| jobs::fail_stale(c, before, now))
            .await
    }

    async fn job_runs(&self, job: Option<String>, limit: usize) -> Result<Vec<JobRun>, StoreError> {
        self.reads
            .run(move |c| jobs::list(c, job.as_deref(), limit))
            .await
    }

    async fn job_run(&self, id: i64) -> Result<Option<JobRun>, StoreError> {
        self.reads.run(move |c| jobs::run(c, id)).await
    }

    async fn last_slot(&self, job: &str) -> Result<Option<i64>, StoreError> {
        let job = job.to_owned();
        self.reads.run(move |c| jobs::last_slot(c, &job)).await
    }

    async fn pause_job(&self, job: &str, actor: &str, now: i64) -> Result<bool, StoreError> {
        let (job, actor) = (job.to_owned(), actor.to_owned());
        self.on_writer(move |c| jobs::pause(c, &job, &actor, now))
            .await
    }

    async fn resume_job(&self, job: &str) -> Result<bool, StoreError> {
        let job = job.to_owned();
        self.on_writer(move |c| jobs::resume(c, &job)).await
    }

    async fn paused_jobs(&self) -> Result<Vec<String>, StoreError> {
        self.reads.run(jobs::paused).await
    }
}

#[async_trait]
impl SharedLimits for SqliteStore {
    async fn renew_share(&self, req: ShareRequest) -> Result<ShareGrant, StoreError> {
        self.on_writer(move |c| shares::renew(c, &req)).await
    }

    async fn mark_circuit(
        &self,
        name: &str,
        open_for_ms: Option<i64>,
        by: &str,
    ) -> Result<(), StoreError> {
        let (name, by) = (name.to_owned(), by.to_owned());
        self.on_writer(move |c| shares::mark(c, &name, open_for_ms, &by))
            .await
    }

    async fn open_circuits(&self) -> Result<Vec<OpenCircuit>, StoreError> {
        self.reads.run(shares::open).await
    }
}

#[async_trait]
impl Syncs for SqliteStore {
    async fn sync_checkpoint(
        &self,
        source: &str,
        lane: &str,
    ) -> Result<Option<String>, StoreError> {
        let (source, lane) = (source.to_owned(), lane.to_owned());
        self.reads
            .run(move |c| syncs::checkpoint(c, &source, &lane))
            .await
    }

    async fn sync_page(&self, page: SyncPage) -> Result<PageOutcome, StoreError> {
        self.on_writer(move |c| syncs::page(c, page)).await
    }

    async fn entity_counts(&self, source: &str, before: i64) -> Result<(u64, u64), StoreError> {
        let source = source.to_owned();
        self.reads
            .run(move |c| syncs::counts(c, &source, before))
            .await
    }

    async fn absent_entities(
        &self,
        source: &str,
        before: i64,
        after: &str,
        limit: usize,
    ) -> Result<Vec<String>, StoreError> {
        let (source, after) = (source.to_owned(), after.to_owned());
        self.reads
            .run(move |c| syncs::absent(c, &source, before, &after, limit))
            .await
    }
}

#[async_trait]
impl AsyncCalls for SqliteStore {
    async fn queue_call(&self, call: NewCall) -> Result<(), StoreError> {
        self.on_writer(move |c| async_calls::queue(c, &call)).await
    }

    async fn take_call(
        &self,
        uid: &str,
        owner: &str,
        now: i64,
        stale_before: i64,
    ) -> Result<Option<AsyncCall>, StoreError> {
        let (uid, owner) = (uid.to_owned(), owner.to_owned());
        self.on_writer(move |c| async_calls::take(c, &uid, &owner, now, stale_before))
            .await
    }

    async fn beat_call(&self, uid: &str, owner: &str, now: i64) -> Result<bool, StoreError> {
        let (uid, owner) = (uid.to_owned(), owner.to_owned());
        self.on_writer(move |c| async_calls::beat(c, &uid, &owner, now))
            .await
    }

    async fn finish_call(
        &self,
        uid: &str,
        owner: &str,
        status: i32,
        body: String,
        now: i64,
        event: Option<NewEvent>,
    ) -> Result<bool, StoreError> {
        let (uid, owner) = (uid.to_owned(), owner.to_owned());
        self.on_writer(move |c| async_calls::finish(c, &uid, &owner, status, &body, now, event))
            .await
    }

    async fn get_call(&self, uid: &str) -> Result<Option<AsyncCall>, StoreError> {
        let uid = uid.to_owned();
        self.reads.run(move |c| async_calls::get(c, &uid)).await
    }

    async fn abandoned_calls(&self, before: i64, limit: usize) -> Result<Vec<String>, StoreError> {
        self.reads
            .run(move |c| async_calls::abandoned(c, before, limit))
            .await
    }

    async fn purge_calls(&self, before: i64) -> Result<u64, StoreError> {
        self.on_writer(move |c| async_calls::purge(c, before)).await
    }
}
