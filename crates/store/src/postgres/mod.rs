//! PostgreSQL: for more than one machine. Several `junction serve` processes share one database:
//! claims take rows with `FOR UPDATE SKIP LOCKED` in one short statement and stamp a lease, the
//! delivery itself happens outside any transaction, and finishes are group-committed as one
//! statement per batch (arrays through `UNNEST`), so a batch costs one round trip, not one per row.

mod async_calls;
mod connect;
mod drift;
mod erase;
mod held;
mod jobs;
mod lanes;
mod ops;
#[cfg(test)]
mod plans;
mod queue;
mod rejected;
mod replan;
mod shares;
mod syncs;
mod vault;
mod write;

use std::str::FromStr;
use std::sync::Arc;
use std::time::Instant;

use async_trait::async_trait;
use junction_core::DatabaseUrl;
use sqlx::postgres::{PgConnectOptions, PgPool, PgPoolOptions};
use sqlx::Row;

use crate::batch::GroupCommit;
use crate::rows::{
    attempt_from_row, delivery_from_row, event_from_row, ATTEMPT_COLUMNS, DELIVERY_COLUMNS,
    EVENT_COLUMNS,
};
use crate::writes::{lane_head, Write, Written};
use crate::*;

/// Most writes in one transaction.
const MAX_BATCH: usize = 256;
/// Committers working in parallel: PostgreSQL overlaps their commits (and their fsyncs).
const COMMITTERS: usize = 4;
/// Connections held for the hot paths: one per committer and two for claims (see `held`).
const HELD: usize = COMMITTERS + 2;
/// Key of the advisory lock that serialises migrations across processes.
const MIGRATION_LOCK: i64 = 0x6a756e6374_i64;

pub struct PgStore {
    pool: PgPool,
    held: Arc<held::Held>,
    commits: GroupCommit<Write, Written>,
}

impl PgStore {
    pub async fn open(options: &Options) -> Result<Self, StoreError> {
        let DatabaseUrl::Postgres(url) = &options.url else {
            return Err(StoreError::Internal("not a PostgreSQL URL".into()));
        };
        let connect = PgConnectOptions::from_str(url)
            .map_err(|e| StoreError::Internal(format!("invalid PostgreSQL URL: {e}")))?
            .application_name("junction");
        let pool = PgPoolOptions::new()
            .max_connections(options.max_connections.max(HELD as u32 + 2))
            .min_connections(0)
            .acquire_timeout(options.connect_timeout)
            .test_before_acquire(true)
            .connect_with(connect)
            .await
            .map_err(|e| {
                StoreError::Unavailable(format!(
                    "cannot reach PostgreSQL at {}: {}",
                    options.url.redacted(),
                    junction_core::mask::mask(&e.to_string())
                ))
            })?;
        migrate(&pool).await?;
        let held = Arc::new(held::Held::new(pool.clone(), HELD));
        let (commit_pool, commit_held) = (pool.clone(), held.clone());
        let replan = replan::Replan::new();
        let commits = GroupCommit::spawn("postgres", COMMITTERS, MAX_BATCH, move |batch| {
            let (pool, held) = (commit_pool.clone(), commit_held.clone());
            let replan = replan.clone();
            async move { write::commit(&pool, &held, &replan, batch).await }
        });
        Ok(Self {
            pool,
            held,
            commits,
        })
    }
}

async fn migrate(pool: &PgPool) -> Result<(), StoreError> {
    let mut tx = pool.begin().await?;
    sqlx::query("SELECT pg_advisory_xact_lock($1)")
        .bind(MIGRATION_LOCK)
        .execute(&mut *tx)
        .await?;
    sqlx::query(migrate::HISTORY_TABLE)
        .execute(&mut *tx)
        .await?;
    let applied: i64 =
        sqlx::query_scalar("SELECT COALESCE(MAX(version), 0)::BIGINT FROM junction_migrations")
            .fetch_one(&mut *tx)
            .await?;
    migrate::check_not_newer(applied, migrate::POSTGRES)?;
    for m in migrate::POSTGRES.iter().filter(|m| m.version > applied) {
        sqlx::raw_sql(m.sql).execute(&mut *tx).await.map_err(|e| {
            StoreError::Migration(format!("migration {} ({}): {e}", m.version, m.name))
        })?;
        sqlx::query(
            "INSERT INTO junction_migrations (version, name, applied_at) VALUES ($1, $2, $3)",
        )
        .bind(m.version)
        .bind(m.name)
        .bind(junction_core::time::now_ms())
        .execute(&mut *tx)
        .await?;
        tracing::info!(
            version = m.version,
            name = m.name,
            "applied store migration"
        );
    }
    tx.commit().await?;
    Ok(())
}

#[async_trait]
impl Store for PgStore {
    fn backend(&self) -> Backend {
        Backend::Postgres
    }

    async fn ping(&self) -> Result<(), StoreError> {
        sqlx::query("SELECT 1").execute(&self.pool).await?;
        Ok(())
    }
}

#[async_trait]
impl Queue for PgStore {
    async fn append(&self, event: NewEvent) -> Result<Appended, StoreError> {
        let started = Instant::now();
        let r = self.commits.submit(Write::Append(event)).await;
        observe(Backend::Postgres, "append", started);
        r?.into_appended()
    }

    async fn claim(&self, claim: &Claim) -> Result<Vec<Claimed>, StoreError> {
        let started = Instant::now();
        let until = claim
            .now
            .saturating_add(junction_core::time::ms(claim.lease));
        let only = if claim.destination.is_some() {
            "AND d.destination = $5"
        } else {
            "AND $5::text IS NULL"
        };
        let head = lane_head("$3");
        let mut conn = self.held.get().await?;
        let rows = sqlx::query(&format!(
            "WITH due AS (
               SELECT d.id FROM deliveries d WHERE d.state = 'pending' AND d.next_attempt_at <= $3 {only}
               AND {head}
               ORDER BY d.next_attempt_at, d.id LIMIT $4 FOR UPDATE SKIP LOCKED
             ), leased AS (
               UPDATE deliveries d SET lease_owner = $1, lease_epoch = d.lease_epoch + 1,
                      attempts = d.attempts + 1, next_attempt_at = $2
               FROM due WHERE d.id = due.id
               RETURNING d.id, d.event_id, d.route, d.destination, d.attempts, d.lease_epoch, d.ordering, d.lane, d.seq, d.uid
             )
             SELECT l.id, l.route, l.destination, l.attempts, l.lease_epoch, l.ordering, l.uid, l.lane IS NOT NULL AS laned,
                    COALESCE(l.ordering = 2 AND l.seq < v.seq, false) AS stale,
                    e.id AS event_id, e.source, e.external_id, e.event_type, e.entity_key, e.sequence, e.received_at, e.payload, e.traceparent, e.headers
             FROM leased l JOIN events e ON e.id = l.event_id
             LEFT JOIN lane_versions v ON v.route = l.route AND v.destination = l.destination AND v.lane = l.lane
             ORDER BY l.id"
        ))
        .bind(&claim.owner)
        .bind(until)
        .bind(claim.now)
        .bind(claim.limit as i64)
        .bind(claim.destination.as_deref())
        .fetch_all(&mut *conn)
        .await?;
        let mut claimed = Vec::with_capacity(rows.len());
        let mut stale = Vec::new();
        let mut laned = Vec::new();
        for r in &rows {
            let id: i64 = r.try_get("id")?;
            if r.try_get::<bool, _>("stale")? {
                stale.push(id);
                continue;
            }
            if r.try_get::<bool, _>("laned")? {
                laned.push(id);
            }
            let event_id: i64 = r.try_get("event_id")?;
            claimed.push(Claimed {
                uid: crate::delivery_uid(r.try_get("uid")?, event_id, id),
                lease: Lease {
                    delivery_id: id,
                    epoch: r.try_get("lease_epoch")?,
                    latest: r.try_get::<i16, _>("ordering")? == 2,
                },
                route: r.try_get("route")?,
                destination: r.try_get("destination")?,
                attempt: r.try_get("attempts")?,
                event: event_from_row!(r),
            });
        }
        if !stale.is_empty() {
            // A crash before this runs leaves the lease to expire; the next claim decides again.
            sqlx::query(
                "UPDATE deliveries SET state = 'stale', lease_owner = NULL, finished_at = $2, last_error = $3
                 WHERE id = ANY($1) AND lease_owner IS NOT NULL",
            )
            .bind(&stale)
            .bind(claim.now)
            .bind(crate::writes::STALE_REASON)
            .execute(&mut *conn)
            .await?;
        }
        let given = lanes::give_back_contested(&mut conn, &laned, &claim.owner, claim.now).await?;
        if !given.is_empty() {
            claimed.retain(|c| !given.contains(&c.lease.delivery_id));
        }
        conn.keep();
        observe(Backend::Postgres, "claim", started);
        Ok(claimed)
    }

    async fn extend_lease(&self, lease: Lease, until: i64) -> Result<(), StoreError> {
        let started = Instant::now();
        let done = sqlx::query(
            // By primary key only: a leased delivery is a pending one, and a predicate on `state`
            // would let the planner pick the partial queue index (see `replan`).
            "UPDATE deliveries SET next_attempt_at = $1 WHERE id = $2 AND lease_epoch = $3 AND lease_owner IS NOT NULL",
        )
        .bind(until)
        .bind(lease.delivery_id)
        .bind(lease.epoch)
        .execute(&self.pool)
        .await?;
        observe(Backend::Postgres, "extend_lease", started);
        if done.rows_affected() == 1 {
            Ok(())
        } else {
            Err(StoreError::LeaseLost(lease.delivery_id))
        }
    }

    async fn finish(&self, finish: Finish) -> Result<(), StoreError> {
        let started = Instant::now();
        let r = self.commits.submit(Write::Finish(finish)).await;
        observe(Backend::Postgres, "finish", started);
        r.map(|_| ())
    }

    async fn release(&self, owner: &str, now: i64) -> Result<u64, StoreError> {
        let done = sqlx::query(
            "UPDATE deliveries SET next_attempt_at = $1, lease_owner = NULL, lease_epoch = lease_epoch + 1,
                    attempts = GREATEST(attempts - 1, 0)
             WHERE lease_owner = $2 AND state = 'pending' AND next_attempt_at > $1",
        )
        .bind(now)
        .bind(owner)
        .execute(&self.pool)
        .await?;
        Ok(done.rows_affected())
    }
}

#[async_trait]
impl Deliveries for PgStore {
    async fn event(&self, id: i64) -> Result<Option<StoredEvent>, StoreError> {
        let row = sqlx::query(&format!("SELECT {EVENT_COLUMNS} FROM events WHERE id = $1"))
            .bind(id)
            .fetch_optional(&self.pool)
            .await?;
        Ok(match row {
            Some(r) => Some(event_from_row!(&r)),
            None => None,
        })
    }

    async fn delivery(&self, id: i64) -> Result<Option<DeliveryRecord>, StoreError> {
        let row = sqlx::query(&format!(
            "SELECT {DELIVERY_COLUMNS} FROM deliveries WHERE id = $1"
        ))
        .bind(id)
        .fetch_optional(&self.pool)
        .await?;
        Ok(match row {
            Some(r) => Some(delivery_from_row!(&r)),
            None => None,
        })
    }

    async fn events(
        &self,
        filter: &EventFilter,
        limit: usize,
    ) -> Result<Vec<StoredEvent>, StoreError> {
        queue::events(&self.pool, filter, limit).await
    }

    async fn deliveries_of(&self, event_id: i64) -> Result<Vec<DeliveryRecord>, StoreError> {
        let rows = sqlx::query(&format!(
            "SELECT {DELIVERY_COLUMNS} FROM deliveries WHERE event_id = $1 ORDER BY id"
        ))
        .bind(event_id)
        .fetch_all(&self.pool)
        .await?;
        rows.iter().map(|r| Ok(delivery_from_row!(r))).collect()
    }

    async fn deliveries(
        &self,
        filter: &DeliveryFilter,
        limit: usize,
    ) -> Result<Vec<DeliveryRecord>, StoreError> {
        queue::deliveries(&self.pool, filter, limit).await
    }

    async fn attempts(&self, delivery_id: i64) -> Result<Vec<AttemptRecord>, StoreError> {
        let rows = sqlx::query(&format!(
            "SELECT {ATTEMPT_COLUMNS} FROM attempts WHERE delivery_id = $1 ORDER BY attempt, id"
        ))
        .bind(delivery_id)
        .fetch_all(&self.pool)
        .await?;
        rows.iter().map(|r| Ok(attempt_from_row!(r))).collect()
    }

    async fn queue_stats(&self, now: i64) -> Result<QueueStats, StoreError> {
        let r = sqlx::query(
            "SELECT
               (SELECT COUNT(*) FROM deliveries WHERE state = 'pending') AS pending,
               (SELECT COUNT(*) FROM deliveries WHERE state = 'pending' AND next_attempt_at <= $1) AS due,
               (SELECT COUNT(*) FROM deliveries WHERE state = 'dead') AS dead,
               (SELECT COUNT(*) FROM deliveries WHERE state = 'quarantined') AS quarantined,
               (SELECT MIN(next_attempt_at) FROM deliveries WHERE state = 'pending' AND next_attempt_at <= $1) AS oldest",
        )
        .bind(now)
        .fetch_one(&self.pool)
        .await?;
        Ok(QueueStats {
            pending: r.try_get("pending")?,
            due: r.try_get("due")?,
            dead: r.try_get("dead")?,
            quarantined: r.try_get("quarantined")?,
            oldest_due_at: r.try_get("oldest")?,
        })
    }

    async fn destination_stats(&self, now: i64) -> Result<Vec<DestinationStats>, StoreError> {
        queue::destination_stats(&self.pool, now).await
    }

    async fn wake(&self, destination: &str, now: i64) -> Result<u64, StoreError> {
        queue::wake(&self.pool, destination, now).await
    }

    async fn dead_letters(
        &self,
        filter: &DeadFilter,
        after: i64,
        limit: usize,
    ) -> Result<Vec<DeadLetter>, StoreError> {
        queue::dead_letters(&self.pool, filter, after, limit).await
    }

    async fn replay(
        &self,
        filter: &DeadFilter,
        limit: usize,
        now: i64,
    ) -> Result<Vec<i64>, StoreError> {
        queue::replay(&self.pool, filter, limit, now).await
    }

    async fn discard(
        &self,
        filter: &DeadFilter,
        limit: usize,
        now: i64,
        reason: &str,
    ) -> Result<Vec<i64>, StoreError> {
        queue::discard(&self.pool, filter, limit, now, reason).await
    }

    async fn set_disabled(
        &self,
        destination: &str,
        reason: Option<&str>,
        now: i64,
    ) -> Result<(), StoreError> {
        queue::set_disabled(&self.pool, destination, reason, now).await
    }

    async fn disabled(&self) -> Result<Vec<DisabledDestination>, StoreError> {
        queue::disabled(&self.pool).await
    }

    async fn purge(&self, before: i64, limit: usize, sources: &Sources) -> Result<u64, StoreError> {
        queue::purge(&self.pool, before, limit, sources).await
    }
}

#[async_trait]
impl Secrets for PgStore {
    async fn vault_keys(&self) -> Result<Vec<VaultKey>, StoreError> {
        vault::keys(&self.pool).await
    }

    async fn add_vault_key(&self, key: VaultKey) -> Result<(), StoreError> {
        vault::add_key(&self.pool, &key).await
    }

    async fn put_secret(&self, secret: SealedSecret) -> Result<i64, StoreError> {
        vault::put(&self.pool, &secret).await
    }

    async fn put_new_secret(&self, secret: SealedSecret) -> Result<bool, StoreError> {
        vault::put_new(&self.pool, &secret).await
    }

    async fn secret(&self, name: &str) -> Result<Option<SealedSecret>, StoreError> {
        vault::one(&self.pool, name).await
    }

    async fn secrets(&self) -> Result<Vec<SealedSecret>, StoreError> {
        vault::all(&self.pool).await
    }

    async fn delete_secret(&self, name: &str) -> Result<bool, StoreError> {
        vault::delete(&self.pool, name).await
    }

    async fn rewrap_secret(
        &self,
        name: &str,
        version: i64,
        master_version: i64,
        wrapped_key: Vec<u8>,
    ) -> Result<bool, StoreError> {
        vault::rewrap(&self.pool, name, version, master_version, &wrapped_key).await
    }
}

#[async_trait]
impl Connections for PgStore {
    async fn connection(
        &self,
        connector: &str,
        name: &str,
    ) -> Result<Option<Connection>, StoreError> {
        connect::one(&self.pool, connector, name).await
    }

    async fn connections(&self) -> Result<Vec<Connection>, StoreError> {
        connect::all(&self.pool).await
    }

    async fn take_refresh_lease(
        &self,
        connector: &str,
        name: &str,
        now: i64,
        until: i64,
        seen_version: i64,
    ) -> Result<Option<i64>, StoreError> {
        connect::lease(&self.pool, connector, name, now, until, seen_version).await
    }

    async fn save_tokens(&self, save: SaveTokens) -> Result<bool, StoreError> {
        connect::save(&self.pool, &save).await
    }

    async fn refresh_failed(&self, f: RefreshFailed) -> Result<Option<Connection>, StoreError> {
        connect::failed(&self.pool, &f).await
    }

    async fn delete_connection(&self, connector: &str, name: &str) -> Result<bool, StoreError> {
        connect::delete(&self.pool, connector, name).await
    }
}

#[async_trait]
impl ApiTokens for PgStore {
    async fn add_api_token(&self, token: ApiToken) -> Result<(), StoreError> {
        connect::add_token(&self.pool, &token).await
    }

    async fn api_token_by_hash(&self, hash: &[u8]) -> Result<Option<ApiToken>, StoreError> {
        connect::token_by_hash(&self.pool, hash).await
    }

    async fn api_tokens(&self) -> Result<Vec<ApiToken>, StoreError> {
        connect::tokens(&self.pool).await
    }

    async fn revoke_api_token(&self, id: &str, now: i64) -> Result<bool, StoreError> {
        connect::revoke(&self.pool, id, now).await
    }
}

#[async_trait]
impl Erasures for PgStore {
    async fn erase(&self, e: Erase) -> Result<ErasedCounts, StoreError> {
        erase::erase(&self.pool, &e).await
    }

    async fn erasures(&self, limit: usize) -> Result<Vec<ErasureRecord>, StoreError> {
        erase::newest(&self.pool, limit).await
    }
}

#[async_trait]
impl Observations for PgStore {
    async fn record_drift(&self, records: Vec<DriftRecord>) -> Result<(), StoreError> {
        if records.is_empty() {
            return Ok(());
        }
        drift::record(&self.pool, &records).await
    }

    async fn drift(&self, limit: usize) -> Result<Vec<DriftRecord>, StoreError> {
        drift::list(&self.pool, limit).await
    }

    async fn save_shapes(&self, shapes: Vec<LearnedShape>) -> Result<(), StoreError> {
        if shapes.is_empty() {
            return Ok(());
        }
        drift::save_shapes(&self.pool, &shapes).await
    }

    async fn learned_shapes(&self, limit: usize) -> Result<Vec<LearnedShape>, StoreError> {
        drift::shapes(&self.pool, limit).await
    }

    async fn record_rejected(&self, r: RejectedRequest, keep: usize) -> Result<(), StoreError> {
        rejected::record(&self.pool, &r, keep).await
    }

    async fn rejected(
        &self,
        source: Option<String>,
        limit: usize,
    ) -> Result<Vec<RejectedRequest>, StoreError> {
        rejected::list(&self.pool, source, limit).await
    }
}

#[async_trait]
impl AuditLog for PgStore {
    async fn append_audit(&self, entry: NewAudit) -> Result<AuditRecord, StoreError> {
        ops::append_audit(&self.pool, entry).await
    }

    async fn audit_after(&self, after: i64, limit: usize) -> Result<Vec<AuditRecord>, StoreError> {
        ops::audit_after(&self.pool, after, limit).await
    }

    async fn audit_newest(&self, limit: usize) -> Result<Vec<AuditRecord>, StoreError> {
        ops::audit_newest(&self.pool, limit).await
    }

    async fn audit_head(&self) -> Result<Option<(i64, String)>, StoreError> {
        ops::head(&self.pool).await
    }

    async fn audit_start(&self) -> Result<Option<(i64, String)>, StoreError> {
        ops::audit_start(&self.pool).await
    }

    async fn drop_audit_through(&self, seq: i64, hash: &str) -> Result<u64, StoreError> {
        ops::drop_audit_through(&self.pool, seq, hash).await
    }
}

#[async_trait]
impl MinuteHistory for PgStore {
    async fn save_minutes(&self, rows: Vec<MinuteRow>) -> Result<(), StoreError> {
        if rows.is_empty() {
            return Ok(());
        }
        ops::save_minutes(&self.pool, &rows).await
    }

    async fn minutes(&self, since: i64) -> Result<Vec<MinuteRow>, StoreError> {
        ops::minutes(&self.pool, since).await
    }

    async fn purge_minutes(&self, before: i64) -> Result<u64, StoreError> {
        ops::purge_minutes(&self.pool, before).await
    }
}

#[async_trait]
impl AlertStates for PgStore {
    async fn change_alert(&self, change: AlertChange) -> Result<bool, StoreError> {
        ops::change_alert(&self.pool, &change).await
    }

    async fn alerts(&self) -> Result<Vec<AlertRecord>, StoreError> {
        ops::alerts(&self.pool).await
    }
}

#[async_trait]
impl Jobs for PgStore {
    async fn start_run(&self, run: NewRun) -> Result<Option<i64>, StoreError> {
        jobs::start(&self.pool, &run).await
    }

    async fn finish_run(
        &self,
        id: i64,
        state: RunState,
        result: String,
        error: Option<String>,
        now: i64,
    ) -> Result<bool, StoreError> {
        jobs::finish(&self.pool, id, state, &result, error.as_deref(), now).await
    }

    async fn beat_run(&self, id: i64, progress: String, now: i64) -> Result<bool, StoreError> {
        jobs::beat(&self.pool, id, &progress, now).await
    }

    async fn fail_stale_runs(&self, before: i64, now: i64) -> Result<u64, StoreError> {
        jobs::fail_stale(&self.pool, before, now).await
    }

    async fn job_runs(&self, job: Option<String>, limit: usize) -> Result<Vec<JobRun>, StoreError> {
        jobs::list(&self.pool, job, limit).await
    }

    async fn job_run(&self, id: i64) -> Result<Option<JobRun>, StoreError> {
        jobs::run(&self.pool, id).await
    }

    async fn last_slot(&self, job: &str) -> Result<Option<i64>, StoreError> {
        jobs::last_slot(&self.pool, job).await
    }

    async fn pause_job(&self, job: &str, actor: &str, now: i64) -> Result<bool, StoreError> {
        jobs::pause(&self.pool, job, actor, now).await
    }

    async fn resume_job(&self, job: &str) -> Result<bool, StoreError> {
        jobs::resume(&self.pool, job).await
    }

    async fn paused_jobs(&self) -> Result<Vec<String>, StoreError> {
        jobs::paused(&self.pool).await
    }
}

#[async_trait]
impl SharedLimits for PgStore {
    async fn renew_share(&self, req: ShareRequest) -> Result<ShareGrant, StoreError> {
        shares::renew(&self.pool, &req).await
    }

    async fn mark_circuit(
        &self,
        name: &str,
        open_for_ms: Option<i64>,
        by: &str,
    ) -> Result<(), StoreError> {
        shares::mark(&self.pool, name, open_for_ms, by).await
    }

    async fn open_circuits(&self) -> Result<Vec<OpenCircuit>, StoreError> {
        shares::open(&self.pool).await
    }
}

#[async_trait]
impl Syncs for PgStore {
    async fn sync_checkpoint(
        &self,
        source: &str,
        lane: &str,
    ) -> Result<Option<String>, StoreError> {
        syncs::checkpoint(&self.pool, source, lane).await
    }

    async fn sync_page(&self, page: SyncPage) -> Result<PageOutcome, StoreError> {
        syncs::page(&self.pool, page).await
    }

    async fn entity_counts(&self, source: &str, before: i64) -> Result<(u64, u64), StoreError> {
        syncs::counts(&self.pool, source, before).await
    }

    async fn absent_entities(
        &self,
        source: &str,
        before: i64,
        after: &str,
        limit: usize,
    ) -> Result<Vec<String>, StoreError> {
        syncs::absent(&self.pool, source, before, after, limit).await
    }
}

#[async_trait]
impl AsyncCalls for PgStore {
    async fn queue_call(&self, call: NewCall) -> Result<(), StoreError> {
        async_calls::queue(&self.pool, &call).await
    }

    async fn take_call(
        &self,
        uid: &str,
        owner: &str,
        now: i64,
        stale_before: i64,
    ) -> Result<Option<AsyncCall>, StoreError> {
        async_calls::take(&self.pool, uid, owner, now, stale_before).await
    }

    async fn beat_call(&self, uid: &str, owner: &str, now: i64) -> Result<bool, StoreError> {
        async_calls::beat(&self.pool, uid, owner, now).await
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
        async_calls::finish(&self.pool, uid, owner, status, &body, now, event).await
    }

    async fn get_call(&self, uid: &str) -> Result<Option<AsyncCall>, StoreError> {
        async_calls::get(&self.pool, uid).await
    }

    async fn abandoned_calls(&self, before: i64, limit: usize) -> Result<Vec<String>, StoreError> {
        async_calls::abandoned(&self.pool, before, limit).await
    }

    async fn purge_calls(&self, before: i64) -> Result<u64, StoreError> {
        async_calls::purge(&self.pool, before).await
    }
}
