//! Asynchronous operation calls on SQLite.

use rusqlite::{params, Connection, OptionalExtension};

use crate::async_calls::{self as sql, AsyncCall, NewCall};
use crate::StoreError;

fn p(n: usize) -> String {
    format!("?{n}")
}

fn row(r: &rusqlite::Row<'_>) -> rusqlite::Result<AsyncCall> {
    Ok(sql::from_parts((
        r.get(0)?,
        r.get(1)?,
        r.get(2)?,
        r.get(3)?,
        r.get(4)?,
        r.get(5)?,
        r.get(6)?,
        r.get(7)?,
        r.get(8)?,
        r.get(9)?,
        r.get(10)?,
        r.get(11)?,
        r.get(12)?,
        r.get(13)?,
    )))
}

pub(super) fn queue(c: &mut Connection, call: &NewCall) -> Result<(), StoreError> {
    c.prepare_cached(&sql::insert(&p))?.execute(params![
        call.uid,
        call.connector,
        call.operation,
        call.connection,
        call.caller,
        call.input,
        call.now,
        call.owner,
        call.callback
    ])?;
    Ok(())
}

pub(super) fn take(
    c: &mut Connection,
    uid: &str,
    owner: &str,
    now: i64,
    stale_before: i64,
) -> Result<Option<AsyncCall>, StoreError> {
    Ok(c.prepare_cached(&sql::take(&p))?
        .query_row(params![uid, owner, now, stale_before], row)
        .optional()?)
}

pub(super) fn beat(
    c: &mut Connection,
    uid: &str,
    owner: &str,
    now: i64,
) -> Result<bool, StoreError> {
    Ok(c.prepare_cached(&sql::beat(&p))?
        .execute(params![uid, owner, now])?
        > 0)
}

/// Records the answer if `owner` still holds the call and, in the same transaction, appends the
/// event that delivers it to the call's callback.
pub(super) fn finish(
    c: &mut Connection,
    uid: &str,
    owner: &str,
    status: i32,
    body: &str,
    now: i64,
    event: Option<crate::NewEvent>,
) -> Result<bool, StoreError> {
    let tx = c.transaction_with_behavior(rusqlite::TransactionBehavior::Immediate)?;
    let held = tx
        .prepare_cached(&sql::finish(&p))?
        .execute(params![uid, owner, status, body, now])?
        > 0;
    if let (true, Some(e)) = (held, event) {
        super::writer::apply(&tx, &crate::writes::Write::Append(e))??;
    }
    tx.commit()?;
    Ok(held)
}

pub(super) fn get(c: &Connection, uid: &str) -> Result<Option<AsyncCall>, StoreError> {
    Ok(c.prepare_cached(&sql::get(&p))?
        .query_row(params![uid], row)
        .optional()?)
}

pub(super) fn abandoned(
    c: &Connection,
    before: i64,
    limit: usize,
) -> Result<Vec<String>, StoreError> {
    let mut stmt = c.prepare_cached(&sql::abandoned(&p))?;
    let rows = stmt.query_map(params![before, limit as i64], |r| r.get(0))?;
    Ok(rows.collect::<Result<_, _>>()?)
}

pub(super) fn purge(c: &mut Connection, before: i64) -> Result<u64, StoreError> {
    Ok(c.prepare_cached(&sql::purge(&p))?
        .execute(params![before])? as u64)
}
