//! SQLite: the embedded default. One file, WAL journal, `synchronous = FULL` (a commit is on disk
//! before it returns). SQLite allows one writer at a time, so all writes go through one
//! connection: the group committer's, which batches appends and finishes, and claims, which are
//! batched by nature. Reads use a separate small pool and never wait for the writer.

mod write;

use std::path::Path;
use std::str::FromStr;
use std::time::Instant;

use async_trait::async_trait;
use junction_config::DatabaseUrl;
use sqlx::sqlite::{
    SqliteConnectOptions, SqliteJournalMode, SqlitePool, SqlitePoolOptions, SqliteSynchronous,
};
use sqlx::{QueryBuilder, Row};

use crate::batch::GroupCommit;
use crate::rows::{
    attempt_from_row, delivery_from_row, event_from_row, ATTEMPT_COLUMNS, DELIVERY_COLUMNS,
    EVENT_COLUMNS,
};
use crate::writes::{Write, Written};
use crate::*;

/// Most writes in one transaction.
const MAX_BATCH: usize = 256;

pub struct SqliteStore {
    writer: SqlitePool,
    reader: SqlitePool,
    commits: GroupCommit<Write, Written>,
}

impl SqliteStore {
    pub async fn open(options: &Options) -> Result<Self, StoreError> {
        let DatabaseUrl::Sqlite(path) = &options.url else {
            return Err(StoreError::Internal("not an SQLite URL".into()));
        };
        let memory = path.as_os_str() == ":memory:";
        let base = if memory {
            SqliteConnectOptions::from_str("sqlite::memory:")?
        } else {
            if let Some(dir) = path.parent().filter(|d| !d.as_os_str().is_empty()) {
                std::fs::create_dir_all(dir).map_err(|e| {
                    StoreError::Unavailable(format!(
                        "cannot create the folder {}: {e}",
                        dir.display()
                    ))
                })?;
            }
            SqliteConnectOptions::new()
                .filename(path)
                .create_if_missing(true)
        };
        let base = base
            .journal_mode(SqliteJournalMode::Wal)
            .synchronous(SqliteSynchronous::Full)
            .foreign_keys(true)
            .busy_timeout(
                options
                    .connect_timeout
                    .max(std::time::Duration::from_secs(5)),
            )
            .pragma("temp_store", "memory")
            .pragma("cache_size", "-32768");
        let writer = SqlitePoolOptions::new()
            .max_connections(1)
            .min_connections(1)
            .acquire_timeout(
                options
                    .connect_timeout
                    .max(std::time::Duration::from_secs(30)),
            )
            .connect_with(base.clone())
            .await
            .map_err(|e| open_error(path, e))?;
        migrate(&writer).await?;
        let reader = if memory {
            writer.clone()
        } else {
            SqlitePoolOptions::new()
                .max_connections(4)
                .acquire_timeout(options.connect_timeout)
                .connect_with(base.read_only(true))
                .await
                .map_err(|e| open_error(path, e))?
        };
        let commit_pool = writer.clone();
        let commits = GroupCommit::spawn("sqlite", 1, MAX_BATCH, move |batch| {
            let pool = commit_pool.clone();
            async move { write::commit(&pool, batch).await }
        });
        Ok(Self {
            writer,
            reader,
            commits,
        })
    }
}

fn open_error(path: &Path, e: sqlx::Error) -> StoreError {
    StoreError::Unavailable(format!(
        "cannot open the SQLite database {}: {e}",
        path.display()
    ))
}

async fn migrate(pool: &SqlitePool) -> Result<(), StoreError> {
    let mut tx = pool.begin().await?;
    sqlx::query(migrate::HISTORY_TABLE)
        .execute(&mut *tx)
        .await?;
    let applied: i64 =
        sqlx::query_scalar("SELECT COALESCE(MAX(version), 0) FROM junction_migrations")
            .fetch_one(&mut *tx)
            .await?;
    migrate::check_not_newer(applied, migrate::SQLITE)?;
    for m in migrate::SQLITE.iter().filter(|m| m.version > applied) {
        sqlx::raw_sql(m.sql).execute(&mut *tx).await.map_err(|e| {
            StoreError::Migration(format!("migration {} ({}): {e}", m.version, m.name))
        })?;
        sqlx::query("INSERT INTO junction_migrations (version, name, applied_at) VALUES (?, ?, ?)")
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
impl Store for SqliteStore {
    fn backend(&self) -> Backend {
        Backend::Sqlite
    }

    async fn ping(&self) -> Result<(), StoreError> {
        sqlx::query("SELECT 1").execute(&self.reader).await?;
        Ok(())
    }

    async fn append(&self, event: NewEvent) -> Result<Appended, StoreError> {
        let started = Instant::now();
        let r = self.commits.submit(Write::Append(event)).await;
        observe(Backend::Sqlite, "append", started);
        match r? {
            Written::Appended(a) => Ok(a),
            Written::Finished => Err(StoreError::Internal("append answered as a finish".into())),
        }
    }

    async fn claim(&self, claim: &Claim) -> Result<Vec<Claimed>, StoreError> {
        let started = Instant::now();
        let until = claim
            .now
            .saturating_add(junction_core::time::ms(claim.lease));
        let mut tx = self.writer.begin().await?;
        let leased = sqlx::query(
            "UPDATE deliveries SET lease_owner = ?1, lease_epoch = lease_epoch + 1, attempts = attempts + 1, next_attempt_at = ?2
             WHERE id IN (SELECT id FROM deliveries WHERE state = 'pending' AND next_attempt_at <= ?3
                          ORDER BY next_attempt_at, id LIMIT ?4)
             RETURNING id, event_id, route, destination, attempts, lease_epoch",
        )
        .bind(&claim.owner)
        .bind(until)
        .bind(claim.now)
        .bind(claim.limit as i64)
        .fetch_all(&mut *tx)
        .await?;
        let mut claimed = Vec::with_capacity(leased.len());
        if !leased.is_empty() {
            let mut q =
                QueryBuilder::new(format!("SELECT {EVENT_COLUMNS} FROM events WHERE id IN ("));
            let mut sep = q.separated(", ");
            for r in &leased {
                sep.push_bind(r.try_get::<i64, _>("event_id")?);
            }
            q.push(")");
            let events = q.build().fetch_all(&mut *tx).await?;
            let mut by_id = std::collections::HashMap::with_capacity(events.len());
            for e in &events {
                let e: StoredEvent = event_from_row!(e);
                by_id.insert(e.id, e);
            }
            for r in &leased {
                let event_id: i64 = r.try_get("event_id")?;
                let event = by_id.get(&event_id).cloned().ok_or_else(|| {
                    StoreError::Internal(format!("delivery without its event {event_id}"))
                })?;
                claimed.push(Claimed {
                    lease: Lease {
                        delivery_id: r.try_get("id")?,
                        epoch: r.try_get("lease_epoch")?,
                    },
                    route: r.try_get("route")?,
                    destination: r.try_get("destination")?,
                    attempt: r.try_get("attempts")?,
                    event,
                });
            }
        }
        tx.commit().await?;
        claimed.sort_by_key(|c| c.lease.delivery_id);
        observe(Backend::Sqlite, "claim", started);
        Ok(claimed)
    }

    async fn extend_lease(&self, lease: Lease, until: i64) -> Result<(), StoreError> {
        let started = Instant::now();
        let done = sqlx::query(
            "UPDATE deliveries SET next_attempt_at = ? WHERE id = ? AND lease_epoch = ? AND state = 'pending' AND lease_owner IS NOT NULL",
        )
        .bind(until)
        .bind(lease.delivery_id)
        .bind(lease.epoch)
        .execute(&self.writer)
        .await?;
        observe(Backend::Sqlite, "extend_lease", started);
        if done.rows_affected() == 1 {
            Ok(())
        } else {
            Err(StoreError::LeaseLost(lease.delivery_id))
        }
    }

    async fn finish(&self, finish: Finish) -> Result<(), StoreError> {
        let started = Instant::now();
        let r = self.commits.submit(Write::Finish(finish)).await;
        observe(Backend::Sqlite, "finish", started);
        r.map(|_| ())
    }

    async fn release(&self, owner: &str, now: i64) -> Result<u64, StoreError> {
        let done = sqlx::query(
            "UPDATE deliveries SET next_attempt_at = ?1, lease_owner = NULL, lease_epoch = lease_epoch + 1, attempts = MAX(attempts - 1, 0)
             WHERE lease_owner = ?2 AND state = 'pending' AND next_attempt_at > ?1",
        )
        .bind(now)
        .bind(owner)
        .execute(&self.writer)
        .await?;
        Ok(done.rows_affected())
    }

    async fn event(&self, id: i64) -> Result<Option<StoredEvent>, StoreError> {
        let row = sqlx::query(&format!("SELECT {EVENT_COLUMNS} FROM events WHERE id = ?"))
            .bind(id)
            .fetch_optional(&self.reader)
            .await?;
        Ok(match row {
            Some(r) => Some(event_from_row!(&r)),
            None => None,
        })
    }

    async fn delivery(&self, id: i64) -> Result<Option<DeliveryRecord>, StoreError> {
        let row = sqlx::query(&format!(
            "SELECT {DELIVERY_COLUMNS} FROM deliveries WHERE id = ?"
        ))
        .bind(id)
        .fetch_optional(&self.reader)
        .await?;
        Ok(match row {
            Some(r) => Some(delivery_from_row!(&r)),
            None => None,
        })
    }

    async fn deliveries_of(&self, event_id: i64) -> Result<Vec<DeliveryRecord>, StoreError> {
        let rows = sqlx::query(&format!(
            "SELECT {DELIVERY_COLUMNS} FROM deliveries WHERE event_id = ? ORDER BY id"
        ))
        .bind(event_id)
        .fetch_all(&self.reader)
        .await?;
        rows.iter().map(|r| Ok(delivery_from_row!(r))).collect()
    }

    async fn attempts(&self, delivery_id: i64) -> Result<Vec<AttemptRecord>, StoreError> {
        let rows = sqlx::query(&format!(
            "SELECT {ATTEMPT_COLUMNS} FROM attempts WHERE delivery_id = ? ORDER BY attempt, id"
        ))
        .bind(delivery_id)
        .fetch_all(&self.reader)
        .await?;
        rows.iter().map(|r| Ok(attempt_from_row!(r))).collect()
    }

    async fn queue_stats(&self, now: i64) -> Result<QueueStats, StoreError> {
        let r = sqlx::query(
            "SELECT
               (SELECT COUNT(*) FROM deliveries WHERE state = 'pending') AS pending,
               (SELECT COUNT(*) FROM deliveries WHERE state = 'pending' AND next_attempt_at <= ?1) AS due,
               (SELECT COUNT(*) FROM deliveries WHERE state = 'dead') AS dead,
               (SELECT MIN(next_attempt_at) FROM deliveries WHERE state = 'pending' AND next_attempt_at <= ?1) AS oldest",
        )
        .bind(now)
        .fetch_one(&self.reader)
        .await?;
        Ok(QueueStats {
            pending: r.try_get("pending")?,
            due: r.try_get("due")?,
            dead: r.try_get("dead")?,
            oldest_due_at: r.try_get("oldest")?,
        })
    }
}
