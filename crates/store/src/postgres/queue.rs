//! Queue maintenance on PostgreSQL: per-destination depth, waking a destination's backlog, dead
//! letters and replay, disabled destinations.

use sqlx::postgres::PgArguments;
use sqlx::query::Query;
use sqlx::{PgPool, Postgres, Row};

use crate::filter::{dead_where, delivery_where, event_where, Param, POSTGRES};
use crate::rows::delivery_from_row;
use crate::*;

pub(super) async fn destination_stats(
    pool: &PgPool,
    now: i64,
) -> Result<Vec<DestinationStats>, StoreError> {
    let rows = sqlx::query(
        // Two index-backed halves (the pending and the dead partial indexes), so the cost
        // follows the queue, not the table's history.
        "SELECT destination, SUM(pending)::bigint AS pending, SUM(due)::bigint AS due,
                SUM(dead)::bigint AS dead, MIN(oldest) AS oldest FROM (
             SELECT destination, COUNT(*) AS pending, COUNT(*) FILTER (WHERE next_attempt_at <= $1) AS due,
                    0::bigint AS dead, MIN(next_attempt_at) FILTER (WHERE next_attempt_at <= $1) AS oldest
             FROM deliveries WHERE state = 'pending' GROUP BY destination
             UNION ALL
             SELECT destination, 0, 0, COUNT(*), NULL FROM deliveries WHERE state = 'dead' GROUP BY destination
         ) q GROUP BY destination ORDER BY destination",
    )
    .bind(now)
    .fetch_all(pool)
    .await?;
    rows.iter()
        .map(|r| {
            Ok(DestinationStats {
                destination: r.try_get("destination")?,
                pending: r.try_get("pending")?,
                due: r.try_get("due")?,
                dead: r.try_get("dead")?,
                oldest_due_at: r.try_get("oldest")?,
            })
        })
        .collect()
}

pub(super) async fn wake(pool: &PgPool, destination: &str, now: i64) -> Result<u64, StoreError> {
    let done = sqlx::query(
        "UPDATE deliveries SET next_attempt_at = $2
         WHERE destination = $1 AND state = 'pending' AND lease_owner IS NULL AND next_attempt_at > $2",
    )
    .bind(destination)
    .bind(now)
    .execute(pool)
    .await?;
    Ok(done.rows_affected())
}

fn bind<'q>(
    mut q: Query<'q, Postgres, PgArguments>,
    params: &'q [Param],
) -> Query<'q, Postgres, PgArguments> {
    for p in params {
        q = match p {
            Param::Int(i) => q.bind(*i),
            Param::Text(t) => q.bind(t.as_str()),
            Param::Ids(ids) => q.bind(ids.as_slice()),
        };
    }
    q
}

pub(super) async fn dead_letters(
    pool: &PgPool,
    filter: &DeadFilter,
    after: i64,
    limit: usize,
) -> Result<Vec<DeadLetter>, StoreError> {
    let (clause, params) = dead_where(filter, after, &POSTGRES);
    let sql = format!(
        "SELECT d.id, d.event_id, d.route, d.destination, d.state, d.attempts, d.next_attempt_at, d.lease_owner,
                d.lease_epoch, d.last_status, d.last_error, d.dead_reason, d.created_at, d.finished_at,
                e.source, e.external_id, e.event_type, e.entity_key, e.received_at
         FROM deliveries d JOIN events e ON e.id = d.event_id {clause} ORDER BY d.id LIMIT {limit}"
    );
    let rows = bind(sqlx::query(&sql), &params).fetch_all(pool).await?;
    rows.iter()
        .map(|r| {
            Ok(DeadLetter {
                delivery: delivery_from_row!(r),
                source: r.try_get("source")?,
                external_id: r.try_get("external_id")?,
                event_type: r.try_get("event_type")?,
                entity_key: r.try_get("entity_key")?,
                received_at: r.try_get("received_at")?,
            })
        })
        .collect()
}

pub(super) async fn events(
    pool: &PgPool,
    filter: &EventFilter,
    limit: usize,
) -> Result<Vec<StoredEvent>, StoreError> {
    let (clause, params) = event_where(filter, &POSTGRES);
    let sql = format!(
        "SELECT {} FROM events {clause} ORDER BY id DESC LIMIT {limit}",
        crate::rows::EVENT_COLUMNS
    );
    let rows = bind(sqlx::query(&sql), &params).fetch_all(pool).await?;
    rows.iter()
        .map(|r| Ok(crate::rows::event_from_row!(r)))
        .collect()
}

pub(super) async fn deliveries(
    pool: &PgPool,
    filter: &DeliveryFilter,
    limit: usize,
) -> Result<Vec<DeliveryRecord>, StoreError> {
    let (clause, params) = delivery_where(filter, &POSTGRES);
    let columns = crate::rows::DELIVERY_COLUMNS_OF_D;
    let sql = format!(
        "SELECT {columns} FROM deliveries d JOIN events e ON e.id = d.event_id {clause} ORDER BY d.id DESC LIMIT {limit}"
    );
    let rows = bind(sqlx::query(&sql), &params).fetch_all(pool).await?;
    rows.iter().map(|r| Ok(delivery_from_row!(r))).collect()
}

/// SQL that updates the dead (or quarantined) deliveries matching `filter`, oldest first and at
/// most `limit`, with `set` (given the number of its first parameter, after the filter's),
/// skipping rows another process holds, and returns their ids; with the filter's parameters.
fn change_chosen(
    filter: &DeadFilter,
    limit: usize,
    set: impl Fn(usize) -> String,
) -> (String, Vec<Param>) {
    let (clause, params) = dead_where(filter, 0, &POSTGRES);
    let sql = format!(
        "WITH chosen AS (
           SELECT d.id FROM deliveries d JOIN events e ON e.id = d.event_id {clause}
           ORDER BY d.id LIMIT {limit} FOR UPDATE OF d SKIP LOCKED
         )
         UPDATE deliveries SET {} FROM chosen WHERE deliveries.id = chosen.id RETURNING deliveries.id",
        set(params.len() + 1)
    );
    (sql, params)
}

fn sorted_ids(rows: &[sqlx::postgres::PgRow]) -> Result<Vec<i64>, StoreError> {
    let mut ids: Vec<i64> = rows
        .iter()
        .map(|r| r.try_get("id"))
        .collect::<Result<_, _>>()?;
    ids.sort_unstable();
    Ok(ids)
}

pub(super) async fn replay(
    pool: &PgPool,
    filter: &DeadFilter,
    limit: usize,
    now: i64,
) -> Result<Vec<i64>, StoreError> {
    let (sql, params) = change_chosen(filter, limit, |n| {
        format!(
            "state = 'pending', attempts = 0, next_attempt_at = ${n}, lease_owner = NULL,
             dead_reason = NULL, finished_at = NULL"
        )
    });
    let rows = bind(sqlx::query(&sql), &params)
        .bind(now)
        .fetch_all(pool)
        .await?;
    sorted_ids(&rows)
}

pub(super) async fn discard(
    pool: &PgPool,
    filter: &DeadFilter,
    limit: usize,
    now: i64,
    reason: &str,
) -> Result<Vec<i64>, StoreError> {
    let (sql, params) = change_chosen(filter, limit, |n| {
        format!(
            "state = 'discarded', lease_owner = NULL, finished_at = ${n},
             dead_reason = ${} || COALESCE(' (was: ' || deliveries.dead_reason || ')', '')",
            n + 1
        )
    });
    let rows = bind(sqlx::query(&sql), &params)
        .bind(now)
        .bind(reason)
        .fetch_all(pool)
        .await?;
    sorted_ids(&rows)
}

pub(super) async fn set_disabled(
    pool: &PgPool,
    destination: &str,
    reason: Option<&str>,
    now: i64,
) -> Result<(), StoreError> {
    match reason {
        Some(reason) => {
            sqlx::query(
                "INSERT INTO destination_state (name, disabled_at, reason) VALUES ($1, $2, $3)
                 ON CONFLICT (name) DO UPDATE SET disabled_at = EXCLUDED.disabled_at, reason = EXCLUDED.reason",
            )
            .bind(destination)
            .bind(now)
            .bind(reason)
            .execute(pool)
            .await?
        }
        None => {
            sqlx::query("DELETE FROM destination_state WHERE name = $1")
                .bind(destination)
                .execute(pool)
                .await?
        }
    };
    Ok(())
}

pub(super) async fn disabled(pool: &PgPool) -> Result<Vec<DisabledDestination>, StoreError> {
    let rows = sqlx::query("SELECT name, disabled_at, reason FROM destination_state ORDER BY name")
        .fetch_all(pool)
        .await?;
    rows.iter()
        .map(|r| {
            Ok(DisabledDestination {
                name: r.try_get("name")?,
                disabled_at: r.try_get("disabled_at")?,
                reason: r.try_get("reason")?,
            })
        })
        .collect()
}

pub(super) async fn purge(
    pool: &PgPool,
    before: i64,
    limit: usize,
    sources: &crate::Sources,
) -> Result<u64, StoreError> {
    let (clause, named): (&str, Vec<&str>) = match sources {
        crate::Sources::All => ("cardinality($3::text[]) = 0", vec![]),
        crate::Sources::Only(s) => ("e.source = ANY($3)", vec![s.as_str()]),
        crate::Sources::Except(list) => (
            "NOT (e.source = ANY($3))",
            list.iter().map(String::as_str).collect(),
        ),
    };
    let mut tx = pool.begin().await?;
    let ids: Vec<i64> = sqlx::query_scalar(&format!(
        "SELECT e.id FROM events e WHERE e.received_at < $1 AND {clause}
           AND NOT EXISTS (SELECT 1 FROM deliveries d WHERE d.event_id = e.id AND d.state IN ('pending', 'dead', 'quarantined'))
         ORDER BY e.id LIMIT $2 FOR UPDATE SKIP LOCKED"
    ))
    .bind(before)
    .bind(limit as i64)
    .bind(named)
    .fetch_all(&mut *tx)
    .await?;
    if ids.is_empty() {
        return Ok(0);
    }
    sqlx::query(
        "DELETE FROM attempts WHERE delivery_id IN (SELECT id FROM deliveries WHERE event_id = ANY($1))",
    )
    .bind(&ids)
    .execute(&mut *tx)
    .await?;
    sqlx::query("DELETE FROM deliveries WHERE event_id = ANY($1)")
        .bind(&ids)
        .execute(&mut *tx)
        .await?;
    sqlx::query("DELETE FROM events WHERE id = ANY($1)")
        .bind(&ids)
        .execute(&mut *tx)
        .await?;
    sqlx::query("DELETE FROM event_subjects WHERE event_id = ANY($1)")
        .bind(&ids)
        .execute(&mut *tx)
        .await?;
    tx.commit().await?;
    Ok(ids.len() as u64)
}
