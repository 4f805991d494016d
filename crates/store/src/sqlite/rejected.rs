//! The rejected-requests table on SQLite.

use rusqlite::{params, Connection};

use crate::rejected_sql;
use crate::{RejectedRequest, StoreError};

fn p(n: usize) -> String {
    format!("?{n}")
}

pub(super) fn record(
    c: &mut Connection,
    r: &RejectedRequest,
    keep: usize,
) -> Result<(), StoreError> {
    let headers = serde_json::to_string(&r.headers).unwrap_or_else(|_| "[]".into());
    let tx = c.transaction()?;
    tx.prepare_cached(&rejected_sql::insert(&p))?
        .execute(params![
            r.source, r.at_ms, r.reason, r.status, r.detail, headers, r.body, r.size
        ])?;
    tx.prepare_cached(&rejected_sql::trim(&p))?
        .execute(params![r.source, keep as i64])?;
    tx.commit()?;
    Ok(())
}

pub(super) fn list(
    c: &Connection,
    source: Option<&str>,
    limit: usize,
) -> Result<Vec<RejectedRequest>, StoreError> {
    let mut stmt = c.prepare_cached(&rejected_sql::list(&p))?;
    let rows = stmt.query_map(params![source, limit as i64], |r| {
        let headers: String = r.get(6)?;
        Ok(RejectedRequest {
            id: r.get(0)?,
            source: r.get(1)?,
            at_ms: r.get(2)?,
            reason: r.get(3)?,
            status: r.get(4)?,
            detail: r.get(5)?,
            headers: serde_json::from_str(&headers).unwrap_or_default(),
            body: r.get(7)?,
            size: r.get(8)?,
        })
    })?;
    Ok(rows.collect::<Result<_, _>>()?)
}
