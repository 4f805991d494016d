//! One group-committed batch on PostgreSQL: one statement over arrays, one round trip.

use std::collections::{HashMap, HashSet};
use std::sync::Arc;

use sqlx::{PgConnection, PgPool, Row};

use super::held::Held;
use super::replan::Replan;
use crate::writes::{collect, outcome_columns, outcome_name, AppendBatch, Key, Write, Written};
use crate::{Finish, NewEvent, StoreError};

pub(super) async fn commit(
    pool: &PgPool,
    held: &Held,
    replan: &Arc<Replan>,
    batch: Vec<Write>,
) -> Result<Vec<Result<Written, StoreError>>, StoreError> {
    let mut out: Vec<Option<Result<Written, StoreError>>> =
        (0..batch.len()).map(|_| None).collect();
    let appends = AppendBatch::new(&batch);
    let mut finishes: Vec<(usize, &Finish)> = batch
        .iter()
        .enumerate()
        .filter_map(|(i, w)| match w {
            Write::Finish(f) => Some((i, f)),
            Write::Append(_) => None,
        })
        .collect();
    // One lock order for every batch: no deadlock between committers.
    finishes.sort_by_key(|(_, f)| f.lease.delivery_id);
    let mut conn = held.get().await?;
    let (mut ids, still_held) = batch_statement(&mut conn, &appends, &finishes).await?;
    committed_since(&mut conn, &appends, &mut ids).await?;
    conn.keep();
    if !appends.firsts.is_empty() {
        appends.results(&ids, &mut out);
    }
    let queued: usize = out
        .iter()
        .map(|r| match r {
            Some(Ok(Written::Appended(crate::Appended::Created { deliveries, .. }))) => *deliveries,
            _ => 0,
        })
        .sum();
    replan.note(pool, queued as u64);
    for (i, f) in &finishes {
        out[*i] = Some(if still_held.contains(&f.lease.delivery_id) {
            Ok(Written::Finished)
        } else {
            Err(StoreError::LeaseLost(f.lease.delivery_id))
        });
    }
    Ok(collect(out))
}

/// Inserts a batch of events with their deliveries inside a caller's transaction; every key's
/// event id (created now or already stored).
pub(super) async fn append(
    tx: &mut PgConnection,
    appends: &AppendBatch<'_>,
) -> Result<HashMap<Key, (i64, bool)>, StoreError> {
    let (mut ids, _) = batch_statement(tx, appends, &[]).await?;
    committed_since(tx, appends, &mut ids).await?;
    Ok(ids)
}

/// The whole batch in one statement (one round trip, its own transaction): insert the new
/// events, their deliveries and the entities they track; finish the held deliveries and record
/// their attempts and the lane versions they deliver. Returns every appended key's event id
/// (created now or already stored) and the finished deliveries this batch still held.
async fn batch_statement(
    conn: &mut PgConnection,
    appends: &AppendBatch<'_>,
    finishes: &[(usize, &Finish)],
) -> Result<(HashMap<Key, (i64, bool)>, HashSet<i64>), StoreError> {
    let e = &appends.firsts;
    let mut d = DeliveryColumns::default();
    for ev in e {
        for del in &ev.deliveries {
            let (lane, seq) = crate::writes::lane_of(ev, del);
            d.source.push(ev.source.as_str());
            d.external_id.push(ev.external_id.as_str());
            d.route.push(del.route.as_str());
            d.destination.push(del.destination.as_str());
            d.due.push(del.due_at);
            d.ordering.push(del.ordering.code() as i16);
            d.lane.push(lane);
            d.seq.push(seq);
            d.uid.push(crate::new_delivery_uid());
        }
    }
    let (mut s_source, mut s_external, mut s_subject) = (Vec::new(), Vec::new(), Vec::new());
    for ev in e {
        for subject in ev.subjects.iter().take(crate::MAX_SUBJECTS) {
            s_source.push(ev.source.as_str());
            s_external.push(ev.external_id.as_str());
            s_subject.push(&subject[..]);
        }
    }
    let cols: Vec<_> = finishes.iter().map(|(_, f)| outcome_columns(f)).collect();
    let payloads = events(e, |e| crate::at_rest::seal_payload(&e.source, &e.payload));
    let headers = events(e, |e| e.context.headers_json());
    let headers: Vec<_> = e
        .iter()
        .zip(&headers)
        .map(|(e, h)| {
            crate::at_rest::seal_text(crate::at_rest::Kind::Headers, Some(&e.source), h.as_deref())
        })
        .collect();
    let excerpts = finished(finishes, |f| {
        crate::at_rest::seal_text(
            crate::at_rest::Kind::Excerpt,
            None,
            f.attempt.response_excerpt.as_deref(),
        )
    });
    let rows = sqlx::query(BATCH_SQL)
        .bind(events(e, |e| e.source.as_str()))
        .bind(events(e, |e| e.external_id.as_str()))
        .bind(events(e, |e| e.event_type.as_str()))
        .bind(events(e, |e| e.entity_key.as_deref()))
        .bind(events(e, |e| e.sequence))
        .bind(events(e, |e| e.received_at))
        .bind(payloads.iter().map(|p| p.as_ref()).collect::<Vec<&[u8]>>())
        .bind(events(e, |e| e.context.traceparent.as_deref()))
        .bind(headers.iter().map(|h| h.as_deref()).collect::<Vec<_>>())
        .bind(events(e, |e| e.tracked))
        .bind(d.source)
        .bind(d.external_id)
        .bind(d.route)
        .bind(d.destination)
        .bind(d.due)
        .bind(d.ordering)
        .bind(d.lane)
        .bind(d.seq)
        .bind(d.uid)
        .bind(finished(finishes, |f| f.lease.delivery_id))
        .bind(finished(finishes, |f| f.lease.epoch))
        .bind(cols.iter().map(|c| c.0).collect::<Vec<_>>())
        .bind(cols.iter().map(|c| c.1).collect::<Vec<_>>())
        .bind(finished(finishes, |f| f.attempt.status))
        .bind(finished(finishes, |f| f.attempt.error.as_deref()))
        .bind(cols.iter().map(|c| c.2).collect::<Vec<_>>())
        .bind(cols.iter().map(|c| c.3).collect::<Vec<_>>())
        .bind(finished(finishes, outcome_name))
        .bind(finished(finishes, |f| f.attempt.started_at))
        .bind(finished(finishes, |f| f.attempt.duration_ms))
        .bind(excerpts.iter().map(|x| x.as_deref()).collect::<Vec<_>>())
        .bind(finished(finishes, |f| {
            f.lease.latest && matches!(f.outcome, crate::Outcome::Delivered)
        }))
        .bind(s_source)
        .bind(s_external)
        .bind(s_subject)
        .fetch_all(&mut *conn)
        .await?;
    let mut ids: HashMap<Key, (i64, bool)> = HashMap::with_capacity(e.len());
    let mut held = HashSet::with_capacity(finishes.len());
    for r in rows {
        let kind: i16 = r.try_get("kind")?;
        let id: i64 = r.try_get("id")?;
        if kind == FINISHED {
            held.insert(id);
        } else {
            let key = (r.try_get("source")?, r.try_get("external_id")?);
            let id = if kind == BLOCKED {
                crate::writes::ERASED
            } else {
                id
            };
            ids.insert(key, (id, kind == CREATED));
        }
    }
    Ok((ids, held))
}

/// Kinds of the batch statement's result rows.
const CREATED: i16 = 0;
const FINISHED: i16 = 2;
const BLOCKED: i16 = 3;

/// The deliveries of the batch's new events, as columns, keyed by their event's key.
#[derive(Default)]
struct DeliveryColumns<'a> {
    source: Vec<&'a str>,
    external_id: Vec<&'a str>,
    route: Vec<&'a str>,
    destination: Vec<&'a str>,
    due: Vec<i64>,
    ordering: Vec<i16>,
    lane: Vec<Option<&'a str>>,
    seq: Vec<Option<i64>>,
    uid: Vec<String>,
}

/// Data-modifying CTEs all run, once, whether or not the final SELECT reads them; they share
/// one snapshot, so `stored` sees only events committed before the statement began (a key
/// inserted now is in `created`). Entities are upserted in key order and deliveries finished in
/// id order (the input is sorted), so concurrent batches lock rows in one order. Finishing
/// addresses rows by primary key with a predicate no partial index implies (`lease_owner IS
/// NOT NULL`: only a pending delivery is leased), so no plan scans the queue.
pub(super) const BATCH_SQL: &str = "WITH ev AS (
   SELECT * FROM UNNEST($1::text[], $2::text[], $3::text[], $4::text[], $5::int8[], $6::int8[], $7::bytea[],
                        $8::text[], $9::text[], $10::bool[])
     AS t(source, external_id, event_type, entity_key, sequence, received_at, payload, traceparent, headers, tracked)
 ), subjects AS (
   SELECT * FROM UNNEST($33::text[], $34::text[], $35::bytea[]) AS s(source, external_id, subject)
 ), blocked AS (
   -- Events about an erased data subject are not stored again.
   SELECT DISTINCT s.source, s.external_id FROM subjects s JOIN erasures x ON x.subject = s.subject
 ), created AS (
   INSERT INTO events (source, external_id, event_type, entity_key, sequence, received_at, payload, traceparent, headers)
   SELECT source, external_id, event_type, entity_key, sequence, received_at, payload, traceparent, headers FROM ev
   WHERE NOT EXISTS (SELECT 1 FROM blocked b WHERE b.source = ev.source AND b.external_id = ev.external_id)
   ON CONFLICT (source, external_id) DO NOTHING
   RETURNING id, source, external_id, entity_key, sequence, received_at
 ), stored AS (
   SELECT e.id, e.source, e.external_id FROM ev
   JOIN events e ON e.source = ev.source AND e.external_id = ev.external_id
   WHERE NOT EXISTS (SELECT 1 FROM created c WHERE c.source = ev.source AND c.external_id = ev.external_id)
 ), queued AS (
   INSERT INTO deliveries (event_id, route, destination, next_attempt_at, created_at, ordering, lane, seq, uid)
   SELECT c.id, d.route, d.destination, d.due, c.received_at, d.ordering, d.lane, d.seq, d.uid
   FROM UNNEST($11::text[], $12::text[], $13::text[], $14::text[], $15::int8[], $16::int2[], $17::text[],
               $18::int8[], $19::text[])
     AS d(source, external_id, route, destination, due, ordering, lane, seq, uid)
   JOIN created c ON c.source = d.source AND c.external_id = d.external_id
 ), tracked AS (
   -- The newest version webhooks brought of each tracked entity, for reconciliation.
   INSERT INTO entities (source, key, seq, hash, seen_at)
   SELECT c.source, c.entity_key, MAX(c.sequence), NULL, MAX(c.received_at)
   FROM created c JOIN ev ON ev.source = c.source AND ev.external_id = c.external_id
   WHERE ev.tracked AND c.entity_key IS NOT NULL AND c.sequence IS NOT NULL
   GROUP BY c.source, c.entity_key ORDER BY c.source, c.entity_key
   ON CONFLICT (source, key) DO UPDATE SET
     hash = CASE WHEN entities.seq IS NULL OR EXCLUDED.seq > entities.seq THEN NULL ELSE entities.hash END,
     seq = GREATEST(entities.seq, EXCLUDED.seq),
     seen_at = GREATEST(entities.seen_at, EXCLUDED.seen_at)
 ), about AS (
   -- The data subjects of each new event, for erasure.
   INSERT INTO event_subjects (subject, event_id)
   SELECT s.subject, c.id FROM subjects s
   JOIN created c ON c.source = s.source AND c.external_id = s.external_id
   ON CONFLICT DO NOTHING
 ), fin AS (
   SELECT * FROM UNNEST($20::int8[], $21::int8[], $22::text[], $23::int8[], $24::int4[], $25::text[], $26::text[],
                        $27::int8[], $28::text[], $29::int8[], $30::int8[], $31::text[], $32::bool[])
     AS t(id, epoch, state, next_at, status, error, reason, finished_at, outcome, started_at, duration_ms, excerpt, latest)
 ), done AS (
   UPDATE deliveries d SET state = i.state, next_attempt_at = COALESCE(i.next_at, d.next_attempt_at),
          lease_owner = NULL, last_status = i.status, last_error = i.error,
          dead_reason = COALESCE(i.reason, d.dead_reason), finished_at = i.finished_at
   FROM fin i WHERE d.id = i.id AND d.lease_epoch = i.epoch AND d.lease_owner IS NOT NULL
   RETURNING d.id, d.attempts, d.route, d.destination, d.ordering, d.lane, d.seq
 ), recorded AS (
   INSERT INTO attempts (delivery_id, attempt, outcome, started_at, duration_ms, status, error, response_excerpt)
   SELECT done.id, done.attempts, i.outcome, i.started_at, i.duration_ms, i.status, i.error, i.excerpt
   FROM done JOIN fin i ON i.id = done.id
   RETURNING delivery_id
 ), versions AS (
   -- `latest` lanes: the newest sequence delivered.
   INSERT INTO lane_versions (route, destination, lane, seq)
   SELECT DISTINCT ON (done.route, done.destination, done.lane) done.route, done.destination, done.lane, done.seq
   FROM done JOIN fin i ON i.id = done.id
   WHERE i.latest AND done.ordering = 2 AND done.lane IS NOT NULL AND done.seq IS NOT NULL
   ORDER BY done.route, done.destination, done.lane, done.seq DESC
   ON CONFLICT (route, destination, lane) DO UPDATE SET seq = GREATEST(lane_versions.seq, EXCLUDED.seq)
 )
 SELECT 0::int2 AS kind, id, source, external_id FROM created
 UNION ALL SELECT 1::int2, id, source, external_id FROM stored
 UNION ALL SELECT 2::int2, delivery_id, NULL, NULL FROM recorded
 UNION ALL SELECT 3::int2, -1, source, external_id FROM blocked";

/// One column of the batch's events, as an array parameter.
fn events<'a, T>(e: &[&'a NewEvent], col: impl Fn(&'a NewEvent) -> T) -> Vec<T> {
    e.iter().map(|e| col(e)).collect()
}

/// One column of the batch's finishes, as an array parameter.
fn finished<'a, T>(finishes: &[(usize, &'a Finish)], col: impl Fn(&'a Finish) -> T) -> Vec<T> {
    finishes.iter().map(|(_, f)| col(f)).collect()
}

/// Adds the ids of appended keys the batch statement neither created nor found: inserted by a
/// transaction that committed while it ran (the insert saw the conflict, the statement's
/// snapshot did not see the row).
async fn committed_since(
    conn: &mut PgConnection,
    appends: &AppendBatch<'_>,
    ids: &mut HashMap<Key, (i64, bool)>,
) -> Result<(), StoreError> {
    // Keys are unique among the firsts: when every one has an id, none is missing.
    if ids.len() >= appends.firsts.len() {
        return Ok(());
    }
    let missing: Vec<&crate::NewEvent> = appends
        .firsts
        .iter()
        .copied()
        .filter(|e| !ids.contains_key(&(e.source.clone(), e.external_id.clone())))
        .collect();
    if missing.is_empty() {
        return Ok(());
    }
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
    .fetch_all(&mut *conn)
    .await?;
    for r in rows {
        ids.insert(
            (r.try_get("source")?, r.try_get("external_id")?),
            (r.try_get("id")?, false),
        );
    }
    Ok(())
}
