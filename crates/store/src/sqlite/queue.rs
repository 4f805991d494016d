//! Queue maintenance on SQLite: per-destination depth, waking a destination's backlog, dead
//! letters and replay, disabled destinations.

use rusqlite::{params, params_from_iter, Connection};

use crate::filter::{dead_where, delivery_where, event_where, Param, SQLITE};
use crate::rows::{delivery_from_row, SqliteRowExt};
use crate::*;

pub(super) fn destination_stats(
    c: &Connection,
    now: i64,
) -> Result<Vec<DestinationStats>, StoreError> {
    let mut stmt = c.prepare_cached(
        // Two index-backed halves (the pending and the dead partial indexes), so the cost
        // follows the queue, not the table's history.
        "SELECT destination, SUM(pending), SUM(due), SUM(dead), MIN(oldest) FROM (
             SELECT destination, COUNT(*) AS pending, SUM(next_attempt_at <= ?1) AS due, 0 AS dead,
                    MIN(CASE WHEN next_attempt_at <= ?1 THEN next_attempt_at END) AS oldest
             FROM deliveries WHERE state = 'pending' GROUP BY destination
             UNION ALL
             SELECT destination, 0, 0, COUNT(*), NULL FROM deliveries WHERE state = 'dead' GROUP BY destination
         ) GROUP BY destination ORDER BY destination",
    )?;
    let rows = stmt.query_map([now], |r| {
        Ok(DestinationStats {
            destination: r.get(0)?,
            pending: r.get(1)?,
            due: r.get(2)?,
            dead: r.get(3)?,
            oldest_due_at: r.get(4)?,
        })
    })?;
    Ok(rows.collect::<Result<_, _>>()?)
}

pub(super) fn wake(c: &Connection, destination: &str, now: i64) -> Result<u64, StoreError> {
    let n = c
        .prepare_cached(
            "UPDATE deliveries SET next_attempt_at = ?2
             WHERE destination = ?1 AND state = 'pending' AND lease_owner IS NULL AND next_attempt_at > ?2",
        )?
        .execute(params![destination, now])?;
    Ok(n as u64)
}

fn bind(params: &[Param]) -> Vec<rusqlite::types::Value> {
    use rusqlite::types::Value;
    params
        .iter()
        .map(|p| match p {
            Param::Int(i) => Value::Integer(*i),
            Param::Text(t) => Value::Text(t.clone()),
            Param::Ids(ids) => Value::Text(serde_json::to_string(ids).unwrap_or_default()),
        })
        .collect()
}

pub(super) fn dead_letters(
    c: &Connection,
    filter: &DeadFilter,
    after: i64,
    limit: usize,
) -> Result<Vec<DeadLetter>, StoreError> {
    let (clause, params) = dead_where(filter, after, &SQLITE);
    let sql = format!(
        "SELECT d.id, d.event_id, d.route, d.destination, d.state, d.attempts, d.next_attempt_at, d.lease_owner,
                d.lease_epoch, d.last_status, d.last_error, d.dead_reason, d.created_at, d.finished_at,
                e.source, e.external_id, e.event_type, e.entity_key, e.received_at
         FROM deliveries d JOIN events e ON e.id = d.event_id {clause} ORDER BY d.id LIMIT {limit}"
    );
    let mut stmt = c.prepare(&sql)?;
    let mut rows = stmt.query(params_from_iter(bind(&params)))?;
    let mut out = Vec::new();
    while let Some(r) = rows.next()? {
        out.push(DeadLetter {
            delivery: delivery_from_row!(r),
            source: r.get("source")?,
            external_id: r.get("external_id")?,
            event_type: r.get("event_type")?,
            entity_key: r.get("entity_key")?,
            received_at: r.get("received_at")?,
        });
    }
    Ok(out)
}

pub(super) fn events(
    c: &Connection,
    filter: &EventFilter,
    limit: usize,
) -> Result<Vec<StoredEvent>, StoreError> {
    let (clause, params) = event_where(filter, &SQLITE);
    let sql = format!(
        "SELECT {} FROM events {clause} ORDER BY id DESC LIMIT {limit}",
        crate::rows::EVENT_COLUMNS
    );
    let mut stmt = c.prepare(&sql)?;
    let mut rows = stmt.query(params_from_iter(bind(&params)))?;
    let mut out = Vec::new();
    while let Some(r) = rows.next()? {
        out.push(crate::rows::event_from_row!(r));
    }
    Ok(out)
}

pub(super) fn deliveries(
    c: &Connection,
    filter: &DeliveryFilter,
    limit: usize,
) -> Result<Vec<DeliveryRecord>, StoreError> {
    let (clause, params) = delivery_where(filter, &SQLITE);
    let columns = crate::rows::DELIVERY_COLUMNS_OF_D;
    let sql = format!(
        "SELECT {columns} FROM deliveries d JOIN events e ON e.id = d.event_id {clause} ORDER BY d.id DESC LIMIT {limit}"
    );
    let mut stmt = c.prepare(&sql)?;
    let mut rows = stmt.query(params_from_iter(bind(&params)))?;
    let mut out = Vec::new();
    while let Some(r) = rows.next()? {
        out.push(delivery_from_row!(r));
    }
    Ok(out)
}

/// The ids of the dead (or quarantined) deliveries matching `filter`, oldest first.
fn chosen(c: &Connection, filter: &DeadFilter, limit: usize) -> Result<Vec<i64>, StoreError> {
    let (clause, params) = dead_where(filter, 0, &SQLITE);
    let sql = format!(
        "SELECT d.id FROM deliveries d JOIN events e ON e.id = d.event_id {clause} ORDER BY d.id LIMIT {limit}"
    );
    let mut stmt = c.prepare(&sql)?;
    let rows = stmt.query_map(params_from_iter(bind(&params)), |r| r.get(0))?;
    Ok(rows.collect::<Result<_, _>>()?)
}

pub(super) fn replay(
    c: &mut Connection,
    filter: &DeadFilter,
    limit: usize,
    now: i64,
) -> Result<Vec<i64>, StoreError> {
    let tx = c.transaction_with_behavior(rusqlite::TransactionBehavior::Immediate)?;
    let ids = chosen(&tx, filter, limit)?;
    {
        let mut up = tx.prepare_cached(
            "UPDATE deliveries SET state = 'pending', attempts = 0, next_attempt_at = ?2, lease_owner = NULL,
                    dead_reason = NULL, finished_at = NULL
             WHERE id = ?1 AND state IN ('dead', 'quarantined')",
        )?;
        for id in &ids {
            up.execute(params![id, now])?;
        }
    }
    tx.commit()?;
    Ok(ids)
}

pub(super) fn discard(
    c: &mut Connection,
    filter: &DeadFilter,
    limit: usize,
    now: i64,
    reason: &str,
) -> Result<Vec<i64>, StoreError> {
    let tx = c.transaction_with_behavior(rusqlite::TransactionBehavior::Immediate)?;
    let ids = chosen(&tx, filter, limit)?;
    {
        let mut up = tx.prepare_cached(
            "UPDATE deliveries SET state = 'discarded', lease_owner = NULL, finished_at = ?2,
                    dead_reason = ?3 || COALESCE(' (was: ' || dead_reason || ')', '')
             WHERE id = ?1 AND state IN ('dead', 'quarantined')",
        )?;
        for id in &ids {
            up.execute(params![id, now, reason])?;
        }
    }
    tx.commit()?;
    Ok(ids)
}

pub(super) fn set_disabled(
    c: &Connection,
    destination: &str,
    reason: Option<&str>,
    now: i64,
) -> Result<(), StoreError> {
    match reason {
        Some(reason) => c
            .prepare_cached(
                "INSERT INTO destination_state (name, disabled_at, reason) VALUES (?1, ?2, ?3)
                 ON CONFLICT (name) DO UPDATE SET disabled_at = excluded.disabled_at, reason = excluded.reason",
            )?
            .execute(params![destination, now, reason])?,
        None => c
            .prepare_cached("DELETE FROM destination_state WHERE name = ?1")?
            .execute([destination])?,
    };
    Ok(())
}

pub(super) fn disabled(c: &Connection) -> Result<Vec<DisabledDestination>, StoreError> {
    let mut stmt =
        c.prepare_cached("SELECT name, disabled_at, reason FROM destination_state ORDER BY name")?;
    let rows = stmt.query_map([], |r| {
        Ok(DisabledDestination {
            name: r.get(0)?,
            disabled_at: r.get(1)?,
            reason: r.get(2)?,
        })
    })?;
    Ok(rows.collect::<Result<_, _>>()?)
}

pub(super) fn purge(
    c: &mut Connection,
    before: i64,
    limit: usize,
    sources: &crate::Sources,
) -> Result<u64, StoreError> {
    let (clause, named): (&str, Option<String>) = match sources {
        crate::Sources::All => ("?3 IS NULL", None),
        crate::Sources::Only(s) => ("e.source = ?3", Some(s.clone())),
        crate::Sources::Except(list) => (
            "e.source NOT IN (SELECT value FROM json_each(?3))",
            Some(serde_json::json!(list).to_string()),
        ),
    };
    let tx = c.transaction_with_behavior(rusqlite::TransactionBehavior::Immediate)?;
    tx.execute(
        "CREATE TEMP TABLE IF NOT EXISTS purge_ids (id INTEGER PRIMARY KEY)",
        [],
    )?;
    tx.execute("DELETE FROM purge_ids", [])?;
    let n = tx.execute(
        &format!(
            "INSERT INTO purge_ids (id)
             SELECT e.id FROM events e WHERE e.received_at < ?1 AND {clause}
               AND NOT EXISTS (SELECT 1 FROM deliveries d WHERE d.event_id = e.id AND d.state IN ('pending', 'dead', 'quarantined'))
             ORDER BY e.id LIMIT ?2"
        ),
        params![before, limit as i64, named],
    )?;
    tx.execute(
        "DELETE FROM attempts WHERE delivery_id IN
           (SELECT d.id FROM deliveries d WHERE d.event_id IN (SELECT id FROM purge_ids))",
        [],
    )?;
    tx.execute(
        "DELETE FROM deliveries WHERE event_id IN (SELECT id FROM purge_ids)",
        [],
    )?;
    tx.execute(
        "DELETE FROM events WHERE id IN (SELECT id FROM purge_ids)",
        [],
    )?;
    tx.execute(
        "DELETE FROM event_subjects WHERE event_id IN (SELECT id FROM purge_ids)",
        [],
    )?;
    tx.execute("DELETE FROM purge_ids", [])?;
    tx.commit()?;
    Ok(n as u64)
}
