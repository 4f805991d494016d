//! One group-commit transaction on PostgreSQL: each kind of write is one statement over arrays.

use std::collections::{HashMap, HashSet};

use sqlx::{PgConnection, PgPool, Row};

use crate::writes::{collect, outcome_columns, outcome_name, AppendBatch, Key, Write, Written};
use crate::{Finish, StoreError};

pub(super) async fn commit(
    pool: &PgPool,
    batch: Vec<Write>,
) -> Result<Vec<Result<Written, StoreError>>, StoreError> {
    let mut out: Vec<Option<Result<Written, StoreError>>> =
        (0..batch.len()).map(|_| None).collect();
    let mut tx = pool.begin().await?;
    let appends = AppendBatch::new(&batch);
    if !appends.firsts.is_empty() {
        let ids = append(&mut tx, &appends).await?;
        appends.results(&ids, &mut out);
    }
    let mut finishes: Vec<(usize, &Finish)> = batch
        .iter()
        .enumerate()
        .filter_map(|(i, w)| match w {
            Write::Finish(f) => Some((i, f)),
            Write::Append(_) => None,
        })
        .collect();
    if !finishes.is_empty() {
        // One lock order for every batch: no deadlock between committers.
        finishes.sort_by_key(|(_, f)| f.lease.delivery_id);
        finish(&mut tx, &finishes, &mut out).await?;
    }
    tx.commit().await?;
    Ok(collect(out))
}

pub(super) async fn append(
    tx: &mut PgConnection,
    batch: &AppendBatch<'_>,
) -> Result<HashMap<Key, (i64, bool)>, StoreError> {
    let e = &batch.firsts;
    let rows = sqlx::query(
        "INSERT INTO events (source, external_id, event_type, entity_key, sequence, received_at, payload, traceparent, headers)
         SELECT * FROM UNNEST($1::text[], $2::text[], $3::text[], $4::text[], $5::int8[], $6::int8[], $7::bytea[], $8::text[], $9::text[])
         ON CONFLICT (source, external_id) DO NOTHING
         RETURNING id, source, external_id",
    )
    .bind(e.iter().map(|e| e.source.as_str()).collect::<Vec<_>>())
    .bind(e.iter().map(|e| e.external_id.as_str()).collect::<Vec<_>>())
    .bind(e.iter().map(|e| e.event_type.as_str()).collect::<Vec<_>>())
    .bind(e.iter().map(|e| e.entity_key.as_deref()).collect::<Vec<_>>())
    .bind(e.iter().map(|e| e.sequence).collect::<Vec<_>>())
    .bind(e.iter().map(|e| e.received_at).collect::<Vec<_>>())
    .bind(e.iter().map(|e| e.payload.as_slice()).collect::<Vec<_>>())
    .bind(e.iter().map(|e| e.context.traceparent.as_deref()).collect::<Vec<_>>())
    .bind(e.iter().map(|e| e.context.headers_json()).collect::<Vec<_>>())
    .fetch_all(&mut *tx)
    .await?;
    let mut ids: HashMap<Key, (i64, bool)> = HashMap::with_capacity(e.len());
    for r in rows {
        ids.insert(
            (r.try_get("source")?, r.try_get("external_id")?),
            (r.try_get("id")?, true),
        );
    }
    let missing: Vec<_> = e
        .iter()
        .filter(|e| !ids.contains_key(&(e.source.clone(), e.external_id.clone())))
        .collect();
    if !missing.is_empty() {
        let rows = sqlx::query(
            "SELECT e.id, e.source, e.external_id FROM events e
             JOIN UNNEST($1::text[], $2::text[]) AS k(source, external_id)
               ON e.source = k.source AND e.external_id = k.external_id",
        )
        .bind(
            missing
                .iter()
                .map(|e| e.source.as_str())
                .collect::<Vec<_>>(),
        )
        .bind(
            missing
                .iter()
                .map(|e| e.external_id.as_str())
                .collect::<Vec<_>>(),
        )
        .fetch_all(&mut *tx)
        .await?;
        for r in rows {
            ids.insert(
                (r.try_get("source")?, r.try_get("external_id")?),
                (r.try_get("id")?, false),
            );
        }
    }
    let created: Vec<(i64, &crate::NewEvent)> = e
        .iter()
        .filter_map(
            |e| match ids.get(&(e.source.clone(), e.external_id.clone())) {
                Some((id, true)) => Some((*id, *e)),
                _ => None,
            },
        )
        .collect();
    track(tx, &created).await?;
    let (mut event_ids, mut routes, mut dests, mut due, mut created_at) =
        (vec![], vec![], vec![], vec![], vec![]);
    let (mut orderings, mut lanes, mut seqs, mut uids) = (vec![], vec![], vec![], vec![]);
    for (id, e) in &created {
        for d in &e.deliveries {
            let (lane, seq) = crate::writes::lane_of(e, d);
            event_ids.push(*id);
            routes.push(d.route.as_str());
            dests.push(d.destination.as_str());
            due.push(d.due_at);
            created_at.push(e.received_at);
            orderings.push(d.ordering.code() as i16);
            lanes.push(lane);
            seqs.push(seq);
            uids.push(crate::new_delivery_uid());
        }
    }
    if !event_ids.is_empty() {
        sqlx::query(
            "INSERT INTO deliveries (event_id, route, destination, next_attempt_at, created_at, ordering, lane, seq, uid)
             SELECT * FROM UNNEST($1::int8[], $2::text[], $3::text[], $4::int8[], $5::int8[], $6::int2[], $7::text[], $8::int8[], $9::text[])",
        )
        .bind(event_ids)
        .bind(routes)
        .bind(dests)
        .bind(due)
        .bind(created_at)
        .bind(orderings)
        .bind(lanes)
        .bind(seqs)
        .bind(uids)
        .execute(&mut *tx)
        .await?;
    }
    Ok(ids)
}

/// The newest version webhooks brought of each tracked entity, for reconciliation (one row per
/// key, in key order: concurrent batches lock them in one order).
async fn track(
    tx: &mut PgConnection,
    created: &[(i64, &crate::NewEvent)],
) -> Result<(), StoreError> {
    let mut newest: std::collections::BTreeMap<(&str, &str), (i64, i64)> = Default::default();
    for (_, e) in created {
        if let (true, Some(key), Some(seq)) = (e.tracked, &e.entity_key, e.sequence) {
            let slot = newest
                .entry((e.source.as_str(), key.as_str()))
                .or_insert((seq, e.received_at));
            *slot = (slot.0.max(seq), slot.1.max(e.received_at));
        }
    }
    if newest.is_empty() {
        return Ok(());
    }
    sqlx::query(
        "INSERT INTO entities (source, key, seq, hash, seen_at)
         SELECT s, k, q, NULL, t FROM UNNEST($1::text[], $2::text[], $3::int8[], $4::int8[]) AS u(s, k, q, t)
         ON CONFLICT (source, key) DO UPDATE SET
           hash = CASE WHEN entities.seq IS NULL OR EXCLUDED.seq > entities.seq THEN NULL ELSE entities.hash END,
           seq = GREATEST(entities.seq, EXCLUDED.seq),
           seen_at = GREATEST(entities.seen_at, EXCLUDED.seen_at)",
    )
    .bind(newest.keys().map(|k| k.0).collect::<Vec<_>>())
    .bind(newest.keys().map(|k| k.1).collect::<Vec<_>>())
    .bind(newest.values().map(|v| v.0).collect::<Vec<_>>())
    .bind(newest.values().map(|v| v.1).collect::<Vec<_>>())
    .execute(&mut *tx)
    .await?;
    Ok(())
}

async fn finish(
    tx: &mut PgConnection,
    finishes: &[(usize, &Finish)],
    out: &mut [Option<Result<Written, StoreError>>],
) -> Result<(), StoreError> {
    let cols: Vec<_> = finishes.iter().map(|(_, f)| outcome_columns(f)).collect();
    let rows = sqlx::query(
        "WITH input AS (
           SELECT * FROM UNNEST($1::int8[], $2::int8[], $3::text[], $4::int8[], $5::int4[], $6::text[], $7::text[],
                                $8::int8[], $9::text[], $10::int8[], $11::int8[], $12::text[])
             AS t(id, epoch, state, next_at, status, error, reason, finished_at, outcome, started_at, duration_ms, excerpt)
         ), done AS (
           UPDATE deliveries d SET state = i.state, next_attempt_at = COALESCE(i.next_at, d.next_attempt_at),
                  lease_owner = NULL, last_status = i.status, last_error = i.error,
                  dead_reason = COALESCE(i.reason, d.dead_reason), finished_at = i.finished_at
           FROM input i WHERE d.id = i.id AND d.lease_epoch = i.epoch AND d.state = 'pending'
           RETURNING d.id, d.attempts
         )
         INSERT INTO attempts (delivery_id, attempt, outcome, started_at, duration_ms, status, error, response_excerpt)
         SELECT done.id, done.attempts, i.outcome, i.started_at, i.duration_ms, i.status, i.error, i.excerpt
         FROM done JOIN input i ON i.id = done.id
         RETURNING delivery_id",
    )
    .bind(finishes.iter().map(|(_, f)| f.lease.delivery_id).collect::<Vec<_>>())
    .bind(finishes.iter().map(|(_, f)| f.lease.epoch).collect::<Vec<_>>())
    .bind(cols.iter().map(|c| c.0).collect::<Vec<_>>())
    .bind(cols.iter().map(|c| c.1).collect::<Vec<_>>())
    .bind(finishes.iter().map(|(_, f)| f.attempt.status).collect::<Vec<_>>())
    .bind(finishes.iter().map(|(_, f)| f.attempt.error.as_deref()).collect::<Vec<_>>())
    .bind(cols.iter().map(|c| c.2).collect::<Vec<_>>())
    .bind(cols.iter().map(|c| c.3).collect::<Vec<_>>())
    .bind(finishes.iter().map(|(_, f)| outcome_name(f)).collect::<Vec<_>>())
    .bind(finishes.iter().map(|(_, f)| f.attempt.started_at).collect::<Vec<_>>())
    .bind(finishes.iter().map(|(_, f)| f.attempt.duration_ms).collect::<Vec<_>>())
    .bind(finishes.iter().map(|(_, f)| f.attempt.response_excerpt.as_deref()).collect::<Vec<_>>())
    .fetch_all(&mut *tx)
    .await?;
    let mut held = HashSet::with_capacity(rows.len());
    for r in rows {
        held.insert(r.try_get::<i64, _>("delivery_id")?);
    }
    let delivered: Vec<i64> = finishes
        .iter()
        .filter(|(_, f)| f.lease.latest && matches!(f.outcome, crate::Outcome::Delivered))
        .map(|(_, f)| f.lease.delivery_id)
        .filter(|id| held.contains(id))
        .collect();
    if !delivered.is_empty() {
        sqlx::query(
            "INSERT INTO lane_versions (route, destination, lane, seq)
             SELECT DISTINCT ON (route, destination, lane) route, destination, lane, seq FROM deliveries
             WHERE id = ANY($1) AND ordering = 2 AND lane IS NOT NULL AND seq IS NOT NULL
             ORDER BY route, destination, lane, seq DESC
             ON CONFLICT (route, destination, lane) DO UPDATE SET seq = GREATEST(lane_versions.seq, EXCLUDED.seq)",
        )
        .bind(delivered)
        .execute(&mut *tx)
        .await?;
    }
    for (i, f) in finishes {
        out[*i] = Some(if held.contains(&f.lease.delivery_id) {
            Ok(Written::Finished)
        } else {
            Err(StoreError::LeaseLost(f.lease.delivery_id))
        });
    }
    Ok(())
}
