//! The SQLite writer: one thread owns the write connection.
//!
//! Appends, finishes and claims are group-committed: the thread takes the first waiting write and
//! every other write already queued, and commits them in one transaction (one fsync). Claims run
//! after the batch's appends, so a claim sees the deliveries committed with it. Other work (lease
//! changes, maintenance) runs between batches. Foreign keys are not enforced on this connection:
//! an event and its deliveries are inserted in one transaction by this code alone, and the check
//! cost 8 % of append throughput (`junction bench store`); PostgreSQL enforces them.

use std::sync::mpsc::{self, TryRecvError};
use std::time::Instant;

use rusqlite::{params, Connection, OptionalExtension};
use tokio::sync::oneshot;

use crate::rows::{event_from_row, SqliteRowExt, EVENT_COLUMNS};
use crate::writes::{
    lane_head, lane_of, outcome_columns, outcome_name, Write, Written, STALE_REASON,
};
use crate::*;

/// Most writes in one transaction.
const MAX_BATCH: usize = 512;

type Reply = oneshot::Sender<Result<Written, StoreError>>;
type ClaimReply = oneshot::Sender<Result<Vec<Leased>, StoreError>>;
type Task = Box<dyn FnOnce(&mut Connection) + Send>;

enum Job {
    Write(Write, Reply),
    Claim(Claim, ClaimReply),
    Run(Task),
}

/// What one group commit holds.
#[derive(Default)]
struct Batch {
    writes: Vec<(Write, Reply)>,
    claims: Vec<(Claim, ClaimReply)>,
}

impl Batch {
    fn len(&self) -> usize {
        self.writes.len() + self.claims.len()
    }

    /// Adds a job; a task is handed back to run after the commit.
    fn add(&mut self, job: Job) -> Option<Task> {
        match job {
            Job::Write(w, r) => self.writes.push((w, r)),
            Job::Claim(c, r) => self.claims.push((c, r)),
            Job::Run(task) => return Some(task),
        }
        None
    }
}

/// Sends work to the writer thread. The thread stops when every handle is dropped.
#[derive(Clone)]
pub(super) struct Handle {
    tx: mpsc::Sender<Job>,
}

impl Handle {
    pub fn spawn(conn: Connection) -> Result<Self, StoreError> {
        let (tx, rx) = mpsc::channel();
        std::thread::Builder::new()
            .name("junction-sqlite-writer".into())
            .spawn(move || run(conn, rx))
            .map_err(|e| StoreError::Internal(format!("cannot start the SQLite writer: {e}")))?;
        Ok(Self { tx })
    }

    pub fn submit(&self, w: Write, reply: Reply) -> Result<(), StoreError> {
        self.tx
            .send(Job::Write(w, reply))
            .map_err(|_| StoreError::Unavailable("the SQLite writer has stopped".into()))
    }

    /// Leases due deliveries inside the next group commit.
    pub async fn claim(&self, claim: Claim) -> Result<Vec<Leased>, StoreError> {
        let (tx, rx) = oneshot::channel();
        self.tx
            .send(Job::Claim(claim, tx))
            .map_err(|_| StoreError::Unavailable("the SQLite writer has stopped".into()))?;
        rx.await.map_err(|_| {
            StoreError::Internal("the SQLite writer stopped before answering".into())
        })?
    }

    pub async fn run<T: Send + 'static>(
        &self,
        f: impl FnOnce(&mut Connection) -> Result<T, StoreError> + Send + 'static,
    ) -> Result<T, StoreError> {
        let (tx, rx) = oneshot::channel();
        let task: Task = Box::new(move |c| {
            let _ = tx.send(f(c));
        });
        self.tx
            .send(Job::Run(task))
            .map_err(|_| StoreError::Unavailable("the SQLite writer has stopped".into()))?;
        rx.await.map_err(|_| {
            StoreError::Internal("the SQLite writer stopped before answering".into())
        })?
    }
}

fn run(mut conn: Connection, rx: mpsc::Receiver<Job>) {
    // A panic in one job must not take the writer (and every later write) down with it: that
    // job's callers get an error (their replies are dropped) and the thread goes on.
    loop {
        match std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| serve_jobs(&mut conn, &rx)))
        {
            Ok(()) => return,
            Err(_) => {
                tracing::error!(
                    "the SQLite writer recovered from a panic; the work that caused it failed"
                );
                if !conn.is_autocommit() {
                    let _ = conn.execute_batch("ROLLBACK");
                }
            }
        }
    }
}

/// Serves jobs until every handle is dropped.
fn serve_jobs(conn: &mut Connection, rx: &mpsc::Receiver<Job>) {
    let mut deferred: Vec<Task> = Vec::new();
    while let Ok(job) = rx.recv() {
        let mut batch = Batch::default();
        if let Some(task) = batch.add(job) {
            task(conn);
            continue;
        }
        // Everything queued while the last commit ran goes into this one: under load the batch
        // grows by itself, and a lone write commits at once.
        while batch.len() < MAX_BATCH {
            match rx.try_recv() {
                Ok(job) => deferred.extend(batch.add(job)),
                Err(TryRecvError::Empty | TryRecvError::Disconnected) => break,
            }
        }
        commit(conn, batch);
        for task in deferred.drain(..) {
            task(conn);
        }
    }
}

/// Commits one batch in one transaction and answers every writer.
fn commit(conn: &mut Connection, batch: Batch) {
    let started = Instant::now();
    let size = batch.len();
    let (writes, replies): (Vec<Write>, Vec<Reply>) = batch.writes.into_iter().unzip();
    let (claims, claim_replies): (Vec<Claim>, Vec<ClaimReply>) = batch.claims.into_iter().unzip();
    let result = (|| {
        let tx = conn.transaction_with_behavior(rusqlite::TransactionBehavior::Immediate)?;
        let results = writes
            .iter()
            .map(|w| apply(&tx, w))
            .collect::<Result<Vec<_>, StoreError>>()?;
        let leased = claims
            .iter()
            .map(|c| claim(&tx, c))
            .collect::<Result<Vec<_>, StoreError>>()?;
        tx.commit()?;
        Ok::<_, StoreError>((results, leased))
    })();
    metrics::histogram!("junction_store_commit_seconds", "backend" => "sqlite")
        .record(started.elapsed().as_secs_f64());
    metrics::histogram!("junction_store_commit_batch_size", "backend" => "sqlite")
        .record(size as f64);
    match result {
        Ok((results, leased)) => {
            for (reply, r) in replies.into_iter().zip(results) {
                let _ = reply.send(r);
            }
            for (reply, l) in claim_replies.into_iter().zip(leased) {
                let _ = reply.send(Ok(l));
            }
        }
        Err(e) => {
            tracing::warn!(backend = "sqlite", error = %e, writes = size, "store commit failed; nothing in the batch was written");
            for reply in replies {
                let _ = reply.send(Err(e.clone()));
            }
            for reply in claim_replies {
                let _ = reply.send(Err(e.clone()));
            }
        }
    }
}

/// One write inside the batch's transaction. `Ok(Err(LeaseLost))` is a per-write outcome;
/// `Err` fails the whole batch.
pub(super) fn apply(tx: &Connection, w: &Write) -> Result<Result<Written, StoreError>, StoreError> {
    match w {
        Write::Append(e) => {
            if !e.subjects.is_empty() && erased(tx, &e.subjects)? {
                return Ok(Ok(Written::Appended(Appended::Erased)));
            }
            let inserted = tx
                .prepare_cached(
                    "INSERT INTO events (source, external_id, event_type, entity_key, sequence, received_at, payload, traceparent, headers)
                     VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9) ON CONFLICT (source, external_id) DO NOTHING",
                )?
                .execute(params![
                    e.source,
                    e.external_id,
                    e.event_type,
                    e.entity_key,
                    e.sequence,
                    e.received_at,
                    crate::at_rest::seal_payload(&e.source, &e.payload),
                    e.context.traceparent,
                    crate::at_rest::seal_text(
                        crate::at_rest::Kind::Headers,
                        Some(&e.source),
                        e.context.headers_json().as_deref()
                    )
                ])?;
            if inserted == 0 {
                let id: i64 = tx
                    .prepare_cached("SELECT id FROM events WHERE source = ?1 AND external_id = ?2")?
                    .query_row(params![e.source, e.external_id], |r| r.get(0))?;
                return Ok(Ok(Written::Appended(Appended::Duplicate { event_id: id })));
            }
            let id = tx.last_insert_rowid();
            if !e.subjects.is_empty() {
                let mut ins = tx.prepare_cached(
                    "INSERT OR IGNORE INTO event_subjects (subject, event_id) VALUES (?1, ?2)",
                )?;
                for s in e.subjects.iter().take(crate::MAX_SUBJECTS) {
                    ins.execute(params![&s[..], id])?;
                }
            }
            if let (true, Some(key), Some(seq)) = (e.tracked, &e.entity_key, e.sequence) {
                // The newest version webhooks brought, for reconciliation: a newer one forgets
                // the content hash a list read gave the older.
                tx.prepare_cached(
                    "INSERT INTO entities (source, key, seq, hash, seen_at) VALUES (?1, ?2, ?3, NULL, ?4)
                     ON CONFLICT (source, key) DO UPDATE SET
                       hash = CASE WHEN entities.seq IS NULL OR excluded.seq > entities.seq THEN NULL ELSE entities.hash END,
                       seq = MAX(COALESCE(entities.seq, excluded.seq), excluded.seq),
                       seen_at = MAX(entities.seen_at, excluded.seen_at)",
                )?
                .execute(params![e.source, key, seq, e.received_at])?;
            }
            let mut ins = tx.prepare_cached(
                "INSERT INTO deliveries (event_id, route, destination, next_attempt_at, created_at, ordering, lane, seq, uid)
                 VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9)",
            )?;
            for d in &e.deliveries {
                let (lane, seq) = lane_of(e, d);
                ins.execute(params![
                    id,
                    d.route,
                    d.destination,
                    d.due_at,
                    e.received_at,
                    d.ordering.code(),
                    lane,
                    seq,
                    crate::new_delivery_uid()
                ])?;
            }
            Ok(Ok(Written::Appended(Appended::Created {
                event_id: id,
                deliveries: e.deliveries.len(),
            })))
        }
        Write::Finish(f) => {
            let (state, next_at, reason, finished_at) = outcome_columns(f);
            let attempt: Option<i32> = tx
                .prepare_cached(
                    "UPDATE deliveries SET state = ?3, next_attempt_at = COALESCE(?4, next_attempt_at), lease_owner = NULL,
                            last_status = ?5, last_error = ?6, dead_reason = COALESCE(?7, dead_reason), finished_at = ?8
                     WHERE id = ?1 AND lease_epoch = ?2 AND state = 'pending'
                     RETURNING attempts",
                )?
                .query_row(
                    params![f.lease.delivery_id, f.lease.epoch, state, next_at, f.attempt.status, f.attempt.error, reason, finished_at],
                    |r| r.get(0),
                )
                .optional()?;
            let Some(attempt) = attempt else {
                return Ok(Err(StoreError::LeaseLost(f.lease.delivery_id)));
            };
            tx.prepare_cached(
                "INSERT INTO attempts (delivery_id, attempt, outcome, started_at, duration_ms, status, error, response_excerpt)
                 VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8)",
            )?
            .execute(params![
                f.lease.delivery_id,
                attempt,
                outcome_name(f),
                f.attempt.started_at,
                f.attempt.duration_ms,
                f.attempt.status,
                f.attempt.error,
                crate::at_rest::seal_text(
                    crate::at_rest::Kind::Excerpt,
                    None,
                    f.attempt.response_excerpt.as_deref()
                )
            ])?;
            if f.lease.latest && matches!(f.outcome, Outcome::Delivered) {
                tx.prepare_cached(
                    "INSERT INTO lane_versions (route, destination, lane, seq)
                     SELECT route, destination, lane, seq FROM deliveries
                     WHERE id = ?1 AND ordering = 2 AND lane IS NOT NULL AND seq IS NOT NULL
                     ON CONFLICT (route, destination, lane) DO UPDATE SET seq = MAX(lane_versions.seq, excluded.seq)",
                )?
                .execute([f.lease.delivery_id])?;
            }
            Ok(Ok(Written::Finished))
        }
    }
}

/// Whether any of `subjects` was erased: an event about it is not stored again.
fn erased(tx: &Connection, subjects: &[[u8; 32]]) -> Result<bool, StoreError> {
    let mut q = tx.prepare_cached("SELECT 1 FROM erasures WHERE subject = ?1 LIMIT 1")?;
    for s in subjects.iter().take(crate::MAX_SUBJECTS) {
        if q.exists([&s[..]])? {
            return Ok(true);
        }
    }
    Ok(false)
}

/// Leases up to `claim.limit` due deliveries inside the batch's transaction (their events are
/// loaded by [`load_claimed`]).
fn claim(tx: &Connection, claim: &Claim) -> Result<Vec<Leased>, StoreError> {
    let until = claim
        .now
        .saturating_add(junction_core::time::ms(claim.lease));
    let mut leased: Vec<Leased> = Vec::new();
    let mut stale: Vec<i64> = Vec::new();
    {
        let only = if claim.destination.is_some() {
            "AND d.destination = ?5"
        } else {
            "AND ?5 IS NULL"
        };
        let head = lane_head("?3");
        let mut stmt = tx.prepare_cached(&format!(
            "UPDATE deliveries SET lease_owner = ?1, lease_epoch = lease_epoch + 1, attempts = attempts + 1, next_attempt_at = ?2
             WHERE id IN (SELECT d.id FROM deliveries d WHERE d.state = 'pending' AND d.next_attempt_at <= ?3 {only}
                          AND {head} ORDER BY d.next_attempt_at, d.id LIMIT ?4)
             RETURNING id, event_id, route, destination, attempts, lease_epoch, ordering, uid,
                       (ordering = 2 AND seq < (SELECT v.seq FROM lane_versions v
                          WHERE v.route = deliveries.route AND v.destination = deliveries.destination
                            AND v.lane = deliveries.lane)) AS stale"
        ))?;
        let mut rows = stmt.query(params![
            claim.owner,
            until,
            claim.now,
            claim.limit as i64,
            claim.destination
        ])?;
        while let Some(r) = rows.next()? {
            if r.get::<_, Option<bool>>("stale")?.unwrap_or(false) {
                stale.push(r.get("id")?);
                continue;
            }
            let (id, event_id): (i64, i64) = (r.get("id")?, r.get("event_id")?);
            leased.push((
                Lease {
                    delivery_id: id,
                    epoch: r.get("lease_epoch")?,
                    latest: r.get::<_, i32>("ordering")? == 2,
                },
                event_id,
                r.get("route")?,
                r.get("destination")?,
                r.get("attempts")?,
                crate::delivery_uid(r.get("uid")?, event_id, id),
            ));
        }
    }
    for id in stale {
        tx.prepare_cached(
            "UPDATE deliveries SET state = 'stale', lease_owner = NULL, finished_at = ?2, last_error = ?3 WHERE id = ?1",
        )?
        .execute(params![id, claim.now, STALE_REASON])?;
    }
    Ok(leased)
}

/// A leased delivery whose event is still to be loaded.
pub(super) type Leased = (Lease, i64, String, String, i32, String);

/// Loads the events of leased deliveries (on a read connection: off the writer thread).
pub(super) fn load_claimed(
    c: &Connection,
    leased: Vec<Leased>,
) -> Result<Vec<Claimed>, StoreError> {
    let ids: Vec<i64> = leased.iter().map(|l| l.1).collect();
    let mut events = std::collections::HashMap::with_capacity(ids.len());
    {
        let mut stmt = c.prepare_cached(&format!(
            "SELECT {EVENT_COLUMNS} FROM events WHERE id IN (SELECT value FROM json_each(?1))"
        ))?;
        let mut rows = stmt.query([serde_json::to_string(&ids).unwrap_or_default()])?;
        while let Some(r) = rows.next()? {
            let event: StoredEvent = event_from_row!(r);
            events.insert(event.id, event);
        }
    }
    let mut claimed = Vec::with_capacity(leased.len());
    for (lease, event_id, route, destination, attempt, uid) in leased {
        let event = events.get(&event_id).cloned().ok_or_else(|| {
            StoreError::Internal(format!(
                "delivery {} without its event {event_id}",
                lease.delivery_id
            ))
        })?;
        claimed.push(Claimed {
            lease,
            uid,
            route,
            destination,
            attempt,
            event,
        });
    }
    claimed.sort_by_key(|c| c.lease.delivery_id);
    Ok(claimed)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn the_writer_survives_a_panicking_job() {
        let handle = Handle::spawn(Connection::open_in_memory().unwrap()).unwrap();
        let failed = handle
            .run(|_| -> Result<(), StoreError> { panic!("boom") })
            .await;
        assert!(failed.is_err());
        let ok = handle
            .run(|c| Ok(c.query_row("SELECT 41 + 1", [], |r| r.get::<_, i64>(0))?))
            .await;
        assert_eq!(ok.unwrap(), 42);
    }
}
