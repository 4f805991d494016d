//! Shared quotas and circuits on SQLite: one process holds the database, so this keeps the
//! same contract for the conformance suite and for tools that open the file beside it. Runs on
//! the writer (serialized), on this machine's clock.

use rusqlite::{params, Connection};

use crate::shares::{self, sql, Holder, OpenCircuit, ShareGrant, ShareRequest};
use crate::StoreError;

fn p(n: usize) -> String {
    format!("?{n}")
}

pub(super) fn renew(c: &mut Connection, req: &ShareRequest) -> Result<ShareGrant, StoreError> {
    let now = junction_core::time::now_ms();
    let tx = c.transaction()?;
    tx.prepare_cached(&sql::ensure(&p))?
        .execute(params![req.quota])?;
    let (paused_until, learned): (i64, String) = tx
        .prepare_cached("SELECT paused_until, learned FROM quotas WHERE name = ?1")?
        .query_row(params![req.quota], |r| Ok((r.get(0)?, r.get(1)?)))?;
    let holders = tx
        .prepare_cached(&sql::holders(&p))?
        .query_map(params![req.quota], |r| {
            Ok(Holder {
                holder: r.get(0)?,
                claim: u32::try_from(r.get::<_, i64>(1)?).unwrap_or(shares::WHOLE),
                want: u32::try_from(r.get::<_, i64>(2)?).unwrap_or(shares::WHOLE),
                expires_at: r.get(3)?,
                hold_ms: r.get(4)?,
            })
        })?
        .collect::<Result<Vec<_>, _>>()?;
    let decision = shares::decide(req, &holders, now);
    tx.prepare_cached(&sql::forget(&p))?
        .execute(params![req.quota, now])?;
    tx.prepare_cached(&sql::upsert(&p))?.execute(params![
        req.quota,
        req.holder,
        i64::from(decision.claim),
        i64::from(req.want),
        now.saturating_add(req.ttl_ms),
        req.hold_ms
    ])?;
    let (pause, merged) = shares::next_quota_row(paused_until, &learned, req, now);
    let encoded = shares::encode_learned(&merged);
    if pause != paused_until || encoded != learned {
        tx.prepare_cached(&sql::set_quota(&p))?
            .execute(params![pause, encoded, req.quota])?;
    }
    tx.commit()?;
    Ok(ShareGrant {
        share: decision.share,
        ttl_ms: req.ttl_ms,
        paused_for_ms: (pause > now).then(|| pause - now),
        learned: merged,
        holders: decision.holders,
    })
}

pub(super) fn mark(
    c: &mut Connection,
    name: &str,
    open_for_ms: Option<i64>,
    by: &str,
) -> Result<(), StoreError> {
    let now = junction_core::time::now_ms();
    match open_for_ms {
        Some(ms) => {
            c.prepare_cached(&sql::open_circuit(&p))?.execute(params![
                name,
                now.saturating_add(ms),
                by
            ])?;
        }
        None => {
            c.prepare_cached(&sql::close_circuit(&p))?
                .execute(params![name, by])?;
        }
    }
    Ok(())
}

pub(super) fn open(c: &Connection) -> Result<Vec<OpenCircuit>, StoreError> {
    let now = junction_core::time::now_ms();
    let rows = c
        .prepare_cached(&sql::open_circuits(&p))?
        .query_map(params![now], |r| {
            Ok(OpenCircuit {
                name: r.get(0)?,
                open_for_ms: r.get(1)?,
                by: r.get(2)?,
            })
        })?
        .collect::<Result<Vec<_>, _>>()?;
    Ok(rows)
}
