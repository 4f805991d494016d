//! Erasure by data subject on SQLite.
//!
//! Deleting rows is not enough for a byte scan of the files: SQLite leaves deleted content in
//! free space and free pages, and the WAL holds the pages as they were. Every connection runs
//! with `secure_delete` on (conn.rs), so deleted content is overwritten with zeros; after the
//! erasure commits, the WAL is checkpointed into the database and truncated.

use std::time::Duration;

use rusqlite::{params, Connection, OptionalExtension};

use crate::erase_sql;
use crate::{Erase, ErasedCounts, ErasureRecord, StoreError};

fn p(n: usize) -> String {
    format!("?{n}")
}

fn has(column: &str, param: &str) -> String {
    format!("instr({column}, {param}) > 0")
}

pub(super) fn erase(c: &mut Connection, e: &Erase) -> Result<ErasedCounts, StoreError> {
    let tx = c.transaction_with_behavior(rusqlite::TransactionBehavior::Immediate)?;
    let mut by_subject = [0u64; 5];
    let of = erase_sql::events_of(&p);
    let among = |column: &str| format!("{column} IN ({of})");
    for (i, sql) in erase_sql::by_subject(&among).iter().enumerate() {
        by_subject[i] = tx.prepare_cached(sql)?.execute([&e.subject[..]])? as u64;
    }
    let mut by_value = [0u64; 3];
    if let Some(v) = e.value.as_deref().filter(|v| !v.is_empty()) {
        for (i, sql) in erase_sql::by_value(&p, &has).iter().enumerate() {
            by_value[i] = tx.prepare_cached(sql)?.execute([v])? as u64;
        }
    }
    let counts = erase_sql::counts(by_subject, by_value);
    if e.record {
        let erased = serde_json::to_string(&counts).unwrap_or_default();
        tx.prepare_cached(&erase_sql::record(&p))?.execute(params![
            &e.subject[..],
            e.at,
            e.actor,
            e.reason,
            erased
        ])?;
    }
    tx.commit()?;
    if counts.total() > 0 {
        truncate_wal(c);
    }
    Ok(counts)
}

/// Moves the WAL into the database and truncates it, so the pages as they were before the
/// erasure are gone from it. Readers holding an older snapshot keep it from completing: retried
/// for a little while, then left to the next checkpoint (and said so).
fn truncate_wal(c: &Connection) {
    for _ in 0..25 {
        let done: Option<i64> = c
            .query_row("PRAGMA wal_checkpoint(TRUNCATE)", [], |r| r.get(0))
            .optional()
            .ok()
            .flatten();
        if done == Some(0) {
            return;
        }
        std::thread::sleep(Duration::from_millis(20));
    }
    tracing::warn!("the WAL could not be truncated after an erasure (readers were busy); the next checkpoint overwrites it");
}

fn read(r: &rusqlite::Row<'_>) -> rusqlite::Result<ErasureRecord> {
    Ok(erase_sql::row(
        r.get(0)?,
        r.get(1)?,
        r.get(2)?,
        r.get(3)?,
        r.get(4)?,
        r.get(5)?,
    ))
}

pub(super) fn newest(c: &Connection, limit: usize) -> Result<Vec<ErasureRecord>, StoreError> {
    let mut stmt = c.prepare_cached(&erase_sql::newest(&p))?;
    let rows = stmt.query_map(params![limit as i64], read)?;
    Ok(rows.collect::<Result<_, _>>()?)
}
