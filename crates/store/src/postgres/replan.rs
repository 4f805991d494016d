//! Fresh statistics for the queue tables as they grow.
//!
//! PostgreSQL caches a generic plan per prepared statement and keeps it until the statistics of
//! a table it reads change. A queue table grows from empty to millions of rows faster than
//! autovacuum looks at it (once a minute by default): a plan made while `deliveries` held a few
//! hundred rows (a sequential scan is cheapest then) stayed in use on 50,000 rows, and every
//! batch of finished deliveries scanned the whole queue — throughput fell as the backlog grew.
//! So each process counts the deliveries it queues and analyzes the queue tables itself each
//! time they may have doubled: a handful of cheap ANALYZEs while a table grows, and every
//! session's plans are made again against its real size. In a steady state autovacuum keeps
//! them fresh as usual.

use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::Arc;

use sqlx::PgPool;

/// Below this many new deliveries nothing is analyzed (a plan on a small table costs little).
const FLOOR: u64 = 1_000;

pub(super) struct Replan {
    /// Deliveries queued by this process since the last ANALYZE.
    since: AtomicU64,
    /// Analyze again when `since` reaches this (the queue's size at the last ANALYZE).
    next: AtomicU64,
    running: AtomicBool,
}

impl Replan {
    pub fn new() -> Arc<Self> {
        Arc::new(Self {
            since: AtomicU64::new(0),
            next: AtomicU64::new(FLOOR),
            running: AtomicBool::new(false),
        })
    }

    /// Counts `queued` new deliveries; starts an ANALYZE of the queue tables in the background
    /// when they may have doubled since the last one.
    pub fn note(self: &Arc<Self>, pool: &PgPool, queued: u64) {
        if queued == 0 {
            return;
        }
        let since = self.since.fetch_add(queued, Ordering::Relaxed) + queued;
        if since < self.next.load(Ordering::Relaxed) || self.running.swap(true, Ordering::AcqRel) {
            return;
        }
        let me = self.clone();
        let pool = pool.clone();
        tokio::spawn(async move {
            me.since.store(0, Ordering::Relaxed);
            match analyze(&pool).await {
                Ok(rows) => me.next.store(rows.max(FLOOR), Ordering::Relaxed),
                Err(e) => {
                    tracing::debug!(error = %e, "analyzing the queue tables failed; trying again later")
                }
            }
            me.running.store(false, Ordering::Release);
        });
    }
}

/// Analyzes the queue tables; the number of deliveries PostgreSQL now estimates.
async fn analyze(pool: &PgPool) -> Result<u64, sqlx::Error> {
    sqlx::raw_sql("ANALYZE deliveries, events, attempts")
        .execute(pool)
        .await?;
    let rows: f32 =
        sqlx::query_scalar("SELECT reltuples FROM pg_class WHERE oid = 'deliveries'::regclass")
            .fetch_one(pool)
            .await?;
    Ok(rows.max(0.0) as u64)
}
