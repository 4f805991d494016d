//! Reads on a small pool of read-only connections, each query on a blocking thread.

use std::sync::{Arc, Mutex};
use std::time::Duration;

use rusqlite::Connection;

use super::conn::Target;
use super::writer;
use crate::rows::{
    attempt_from_row, delivery_from_row, event_from_row, SqliteRowExt, ATTEMPT_COLUMNS,
    DELIVERY_COLUMNS, EVENT_COLUMNS,
};
use crate::*;

/// Idle read connections kept open.
const IDLE: usize = 4;

pub(super) enum Readers {
    /// Read-only connections to the file.
    Pool {
        target: Target,
        busy: Duration,
        idle: Arc<Mutex<Vec<Connection>>>,
    },
    /// `:memory:` has one connection: reads run on the writer thread.
    Via(writer::Handle),
}

impl Readers {
    pub fn pool(target: Target, busy: Duration) -> Self {
        Readers::Pool {
            target,
            busy,
            idle: Arc::default(),
        }
    }

    pub async fn run<T: Send + 'static>(
        &self,
        f: impl FnOnce(&Connection) -> Result<T, StoreError> + Send + 'static,
    ) -> Result<T, StoreError> {
        match self {
            Readers::Pool { target, busy, idle } => {
                let (target, busy, idle) = (target.clone(), *busy, idle.clone());
                tokio::task::spawn_blocking(move || {
                    let conn = idle.lock().unwrap_or_else(|p| p.into_inner()).pop();
                    let conn = match conn {
                        Some(c) => c,
                        None => target.open_reader(busy)?,
                    };
                    let result = f(&conn);
                    let mut idle = idle.lock().unwrap_or_else(|p| p.into_inner());
                    if idle.len() < IDLE {
                        idle.push(conn);
                    }
                    result
                })
                .await
                .map_err(|e| StoreError::Internal(format!("a read failed: {e}")))?
            }
            Readers::Via(w) => w.run(move |c| f(c)).await,
        }
    }
}

pub(super) fn event(c: &Connection, id: i64) -> Result<Option<StoredEvent>, StoreError> {
    let mut stmt =
        c.prepare_cached(&format!("SELECT {EVENT_COLUMNS} FROM events WHERE id = ?1"))?;
    let mut rows = stmt.query([id])?;
    Ok(match rows.next()? {
        Some(r) => Some(event_from_row!(r)),
        None => None,
    })
}

pub(super) fn delivery(c: &Connection, id: i64) -> Result<Option<DeliveryRecord>, StoreError> {
    let mut stmt = c.prepare_cached(&format!(
        "SELECT {DELIVERY_COLUMNS} FROM deliveries WHERE id = ?1"
    ))?;
    let mut rows = stmt.query([id])?;
    Ok(match rows.next()? {
        Some(r) => Some(delivery_from_row!(r)),
        None => None,
    })
}

pub(super) fn deliveries_of(
    c: &Connection,
    event_id: i64,
) -> Result<Vec<DeliveryRecord>, StoreError> {
    let mut stmt = c.prepare_cached(&format!(
        "SELECT {DELIVERY_COLUMNS} FROM deliveries WHERE event_id = ?1 ORDER BY id"
    ))?;
    let mut rows = stmt.query([event_id])?;
    let mut out = Vec::new();
    while let Some(r) = rows.next()? {
        out.push(delivery_from_row!(r));
    }
    Ok(out)
}

pub(super) fn attempts(c: &Connection, delivery_id: i64) -> Result<Vec<AttemptRecord>, StoreError> {
    let mut stmt = c.prepare_cached(&format!(
        "SELECT {ATTEMPT_COLUMNS} FROM attempts WHERE delivery_id = ?1 ORDER BY attempt, id"
    ))?;
    let mut rows = stmt.query([delivery_id])?;
    let mut out = Vec::new();
    while let Some(r) = rows.next()? {
        out.push(attempt_from_row!(r));
    }
    Ok(out)
}

pub(super) fn queue_stats(c: &Connection, now: i64) -> Result<QueueStats, StoreError> {
    let mut stmt = c.prepare_cached(
        "SELECT
           (SELECT COUNT(*) FROM deliveries WHERE state = 'pending'),
           (SELECT COUNT(*) FROM deliveries WHERE state = 'pending' AND next_attempt_at <= ?1),
           (SELECT COUNT(*) FROM deliveries WHERE state = 'dead'),
           (SELECT MIN(next_attempt_at) FROM deliveries WHERE state = 'pending' AND next_attempt_at <= ?1),
           (SELECT COUNT(*) FROM deliveries WHERE state = 'quarantined')",
    )?;
    Ok(stmt.query_row([now], |r| {
        Ok(QueueStats {
            pending: r.get(0)?,
            due: r.get(1)?,
            dead: r.get(2)?,
            oldest_due_at: r.get(3)?,
            quarantined: r.get(4)?,
        })
    })?)
}
