//! One group-commit transaction on SQLite: appends as multi-row inserts, finishes as one
//! `UPDATE … FROM (VALUES …)` plus one multi-row insert of attempts.

use std::collections::HashMap;

use sqlx::{QueryBuilder, Row, Sqlite, SqliteConnection, SqlitePool};

use crate::writes::{collect, outcome_columns, outcome_name, AppendBatch, Key, Write, Written};
use crate::{Finish, StoreError};

/// Rows per statement: 8 columns × 128 rows stays far under SQLite's bound-parameter limit.
const CHUNK: usize = 128;

pub(super) async fn commit(
    pool: &SqlitePool,
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
    let finishes: Vec<(usize, &Finish)> = batch
        .iter()
        .enumerate()
        .filter_map(|(i, w)| match w {
            Write::Finish(f) => Some((i, f)),
            Write::Append(_) => None,
        })
        .collect();
    for chunk in finishes.chunks(CHUNK) {
        finish(&mut tx, chunk, &mut out).await?;
    }
    tx.commit().await?;
    Ok(collect(out))
}

async fn append(
    tx: &mut SqliteConnection,
    batch: &AppendBatch<'_>,
) -> Result<HashMap<Key, (i64, bool)>, StoreError> {
    let mut ids: HashMap<Key, (i64, bool)> = HashMap::with_capacity(batch.firsts.len());
    for chunk in batch.firsts.chunks(CHUNK) {
        let mut q: QueryBuilder<Sqlite> = QueryBuilder::new(
            "INSERT INTO events (source, external_id, event_type, entity_key, sequence, received_at, payload) ",
        );
        q.push_values(chunk, |mut b, e| {
            b.push_bind(&e.source)
                .push_bind(&e.external_id)
                .push_bind(&e.event_type)
                .push_bind(&e.entity_key)
                .push_bind(e.sequence)
                .push_bind(e.received_at)
                .push_bind(&e.payload);
        });
        q.push(" ON CONFLICT (source, external_id) DO NOTHING RETURNING id, source, external_id");
        for r in q.build().fetch_all(&mut *tx).await? {
            ids.insert(
                (r.try_get("source")?, r.try_get("external_id")?),
                (r.try_get("id")?, true),
            );
        }
    }
    // Keys that were not inserted already existed: duplicates. Rare, so looked up one by one.
    for e in &batch.firsts {
        let key = (e.source.clone(), e.external_id.clone());
        if !ids.contains_key(&key) {
            let id: i64 =
                sqlx::query_scalar("SELECT id FROM events WHERE source = ? AND external_id = ?")
                    .bind(&e.source)
                    .bind(&e.external_id)
                    .fetch_one(&mut *tx)
                    .await?;
            ids.insert(key, (id, false));
        }
    }
    let deliveries: Vec<(i64, &crate::NewDelivery, i64)> = batch
        .firsts
        .iter()
        .filter_map(
            |e| match ids.get(&(e.source.clone(), e.external_id.clone())) {
                Some((id, true)) => Some(e.deliveries.iter().map(move |d| (*id, d, e.received_at))),
                _ => None,
            },
        )
        .flatten()
        .collect();
    for chunk in deliveries.chunks(CHUNK) {
        let mut q: QueryBuilder<Sqlite> = QueryBuilder::new(
            "INSERT INTO deliveries (event_id, route, destination, next_attempt_at, created_at) ",
        );
        q.push_values(chunk, |mut b, (event_id, d, created)| {
            b.push_bind(*event_id)
                .push_bind(&d.route)
                .push_bind(&d.destination)
                .push_bind(d.due_at)
                .push_bind(*created);
        });
        q.build().execute(&mut *tx).await?;
    }
    Ok(ids)
}

async fn finish(
    tx: &mut SqliteConnection,
    chunk: &[(usize, &Finish)],
    out: &mut [Option<Result<Written, StoreError>>],
) -> Result<(), StoreError> {
    let mut q: QueryBuilder<Sqlite> = QueryBuilder::new(
        "UPDATE deliveries SET state = v.column3, next_attempt_at = COALESCE(v.column4, deliveries.next_attempt_at),
           lease_owner = NULL, last_status = v.column5, last_error = v.column6,
           dead_reason = COALESCE(v.column7, deliveries.dead_reason), finished_at = v.column8
         FROM (",
    );
    q.push_values(chunk, |mut b, (_, f)| {
        let (state, next_at, reason, finished_at) = outcome_columns(f);
        b.push_bind(f.lease.delivery_id)
            .push_bind(f.lease.epoch)
            .push_bind(state)
            .push_bind(next_at)
            .push_bind(f.attempt.status)
            .push_bind(f.attempt.error.as_deref())
            .push_bind(reason)
            .push_bind(finished_at);
    });
    q.push(
        ") AS v WHERE deliveries.id = v.column1 AND deliveries.lease_epoch = v.column2 AND deliveries.state = 'pending'
         RETURNING deliveries.id, deliveries.attempts",
    );
    let mut held: HashMap<i64, i32> = HashMap::with_capacity(chunk.len());
    for r in q.build().fetch_all(&mut *tx).await? {
        held.insert(r.try_get("id")?, r.try_get("attempts")?);
    }
    let recorded: Vec<(&Finish, i32)> = chunk
        .iter()
        .filter_map(|(_, f)| held.get(&f.lease.delivery_id).map(|n| (*f, *n)))
        .collect();
    if !recorded.is_empty() {
        let mut q: QueryBuilder<Sqlite> = QueryBuilder::new(
            "INSERT INTO attempts (delivery_id, attempt, outcome, started_at, duration_ms, status, error, response_excerpt) ",
        );
        q.push_values(&recorded, |mut b, (f, n)| {
            b.push_bind(f.lease.delivery_id)
                .push_bind(*n)
                .push_bind(outcome_name(f))
                .push_bind(f.attempt.started_at)
                .push_bind(f.attempt.duration_ms)
                .push_bind(f.attempt.status)
                .push_bind(f.attempt.error.as_deref())
                .push_bind(f.attempt.response_excerpt.as_deref());
        });
        q.build().execute(&mut *tx).await?;
    }
    for (i, f) in chunk {
        out[*i] = Some(if held.contains_key(&f.lease.delivery_id) {
            Ok(Written::Finished)
        } else {
            Err(StoreError::LeaseLost(f.lease.delivery_id))
        });
    }
    Ok(())
}
