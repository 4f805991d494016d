//! The audit log, minute history and alerts on SQLite. Writes run on the single writer, so the
//! audit chain's read-head-then-append is never interleaved.

use rusqlite::{params, Connection, OptionalExtension, Row};

use crate::ops::sql;
use crate::{AlertChange, AlertRecord, AuditRecord, MinuteRow, NewAudit, StoreError};

fn p(n: usize) -> String {
    format!("?{n}")
}

fn audit_row(r: &Row<'_>) -> rusqlite::Result<AuditRecord> {
    Ok(AuditRecord {
        seq: r.get(0)?,
        at: r.get(1)?,
        actor: r.get(2)?,
        action: r.get(3)?,
        target: r.get(4)?,
        origin: r.get(5)?,
        detail: r.get(6)?,
        prev_hash: r.get(7)?,
        hash: r.get(8)?,
    })
}

pub(super) fn head(c: &Connection) -> Result<Option<(i64, String)>, StoreError> {
    Ok(c.prepare_cached(sql::HEAD)?
        .query_row([], |r| Ok((r.get(0)?, r.get(1)?)))
        .optional()?)
}

pub(super) fn append_audit(c: &mut Connection, e: NewAudit) -> Result<AuditRecord, StoreError> {
    let tx = c.transaction()?;
    let rec = AuditRecord::chain(head(&tx)?, e)?;
    tx.prepare_cached(&sql::audit_insert(&p))?.execute(params![
        rec.seq,
        rec.at,
        rec.actor,
        rec.action,
        rec.target,
        rec.origin,
        rec.detail,
        rec.prev_hash,
        rec.hash
    ])?;
    tx.prepare_cached(&sql::head_upsert(&p))?
        .execute(params![rec.seq, rec.hash])?;
    tx.commit()?;
    Ok(rec)
}

pub(super) fn audit_start(c: &Connection) -> Result<Option<(i64, String)>, StoreError> {
    Ok(c.prepare_cached(sql::START)?
        .query_row([], |r| Ok((r.get(0)?, r.get(1)?)))
        .optional()?)
}

pub(super) fn drop_audit_through(
    c: &mut Connection,
    seq: i64,
    hash: &str,
) -> Result<u64, StoreError> {
    let tx = c.transaction()?;
    let kept: Option<String> = tx
        .prepare_cached(&sql::hash_of(&p))?
        .query_row([seq], |r| r.get(0))
        .optional()?;
    if kept.as_deref() != Some(hash) {
        return Ok(0);
    }
    let n = tx
        .prepare_cached(&sql::delete_through(&p))?
        .execute([seq])?;
    tx.prepare_cached(&sql::start_upsert(&p))?
        .execute(params![seq, hash])?;
    tx.commit()?;
    Ok(n as u64)
}

pub(super) fn audit_after(
    c: &Connection,
    after: i64,
    limit: usize,
) -> Result<Vec<AuditRecord>, StoreError> {
    let mut stmt = c.prepare_cached(&sql::audit_page(&p))?;
    let rows = stmt.query_map(params![after, limit as i64], audit_row)?;
    Ok(rows.collect::<Result<_, _>>()?)
}

pub(super) fn audit_newest(c: &Connection, limit: usize) -> Result<Vec<AuditRecord>, StoreError> {
    let mut stmt = c.prepare_cached(&sql::audit_newest(&p))?;
    let rows = stmt.query_map(params![limit as i64], audit_row)?;
    Ok(rows.collect::<Result<_, _>>()?)
}

pub(super) fn save_minutes(c: &mut Connection, rows: &[MinuteRow]) -> Result<(), StoreError> {
    let tx = c.transaction()?;
    {
        let mut stmt = tx.prepare_cached(&sql::minutes_upsert(&p))?;
        for r in rows {
            stmt.execute(params![r.minute, r.kind, r.name, r.node, r.counts, r.hist])?;
        }
    }
    tx.commit()?;
    Ok(())
}

pub(super) fn minutes(c: &Connection, since: i64) -> Result<Vec<MinuteRow>, StoreError> {
    let mut stmt = c.prepare_cached(&sql::minutes_since(&p))?;
    let rows = stmt.query_map([since], |r| {
        Ok(MinuteRow {
            minute: r.get(0)?,
            kind: r.get(1)?,
            name: r.get(2)?,
            node: r.get(3)?,
            counts: r.get(4)?,
            hist: r.get(5)?,
        })
    })?;
    Ok(rows.collect::<Result<_, _>>()?)
}

pub(super) fn purge_minutes(c: &mut Connection, before: i64) -> Result<u64, StoreError> {
    Ok(c.prepare_cached(&sql::minutes_purge(&p))?
        .execute([before])? as u64)
}

pub(super) fn change_alert(c: &mut Connection, a: &AlertChange) -> Result<bool, StoreError> {
    let key = a.key();
    if a.refresh {
        c.prepare_cached(&sql::alert_refresh(&p))?
            .execute(params![a.value, a.message, key])?;
        return Ok(false);
    }
    let n = if a.fire {
        c.prepare_cached(&sql::alert_fire(&p))?.execute(params![
            key, a.rule, a.subject, a.severity, a.value, a.message, a.at, a.at
        ])?
    } else {
        c.prepare_cached(&sql::alert_resolve(&p))?
            .execute(params![a.value, a.message, a.at, a.at, key])?
    };
    Ok(n == 1)
}

pub(super) fn alerts(c: &Connection) -> Result<Vec<AlertRecord>, StoreError> {
    let mut stmt = c.prepare_cached(&sql::alerts_all())?;
    let rows = stmt.query_map([], |r| {
        Ok(AlertRecord {
            key: r.get(0)?,
            rule: r.get(1)?,
            subject: r.get(2)?,
            severity: r.get(3)?,
            state: r.get(4)?,
            value: r.get(5)?,
            message: r.get(6)?,
            since: r.get(7)?,
            updated_at: r.get(8)?,
            fired_count: r.get(9)?,
        })
    })?;
    Ok(rows.collect::<Result<_, _>>()?)
}
