//! The writes that go through group commit, and the backend-independent half of appending:
//! de-duplicating within a batch and turning inserted ids into per-write results.

use std::collections::HashMap;

use crate::{Appended, Finish, NewEvent, StoreError};

/// One group-committed write.
pub(crate) enum Write {
    Append(NewEvent),
    Finish(Finish),
}

/// Its result.
pub(crate) enum Written {
    Appended(Appended),
    Finished,
}

impl Written {
    /// The result of an append (an append is never answered as a finish).
    pub fn into_appended(self) -> Result<Appended, StoreError> {
        match self {
            Written::Appended(a) => Ok(a),
            Written::Finished => Err(StoreError::Internal("append answered as a finish".into())),
        }
    }
}

pub(crate) type Key = (String, String);

/// The id a batch gives an event it did not store because its data subject was erased.
pub(crate) const ERASED: i64 = -1;

/// The appends of one batch, split into the first occurrence of each `(source, external_id)`
/// (sorted by key, so concurrent batches take row locks in one order and cannot deadlock) and
/// the rest.
pub(crate) struct AppendBatch<'a> {
    /// First occurrences, sorted by key: these are inserted.
    pub firsts: Vec<&'a NewEvent>,
    /// For each append in submission order: its index in `writes` and its key.
    order: Vec<(usize, Key)>,
}

impl<'a> AppendBatch<'a> {
    pub fn new(writes: &'a [Write]) -> Self {
        let mut seen: HashMap<Key, ()> = HashMap::new();
        let mut firsts = Vec::new();
        let mut order = Vec::new();
        for (i, w) in writes.iter().enumerate() {
            if let Write::Append(e) = w {
                let key = (e.source.clone(), e.external_id.clone());
                if seen.insert(key.clone(), ()).is_none() {
                    firsts.push(e);
                }
                order.push((i, key));
            }
        }
        firsts.sort_by(|a, b| (&a.source, &a.external_id).cmp(&(&b.source, &b.external_id)));
        Self { firsts, order }
    }

    /// Per-append results, given which keys were inserted now (`created`) and the ids of all.
    pub fn results(
        &self,
        ids: &HashMap<Key, (i64, bool)>,
        out: &mut [Option<Result<Written, StoreError>>],
    ) {
        let mut first_seen: HashMap<&Key, ()> = HashMap::new();
        for (i, key) in &self.order {
            let first = first_seen.insert(key, ()).is_none();
            out[*i] = Some(match ids.get(key) {
                Some((id, true)) if first => {
                    let deliveries = self
                        .firsts
                        .iter()
                        .find(|e| e.source == key.0 && e.external_id == key.1)
                        .map(|e| e.deliveries.len())
                        .unwrap_or(0);
                    Ok(Written::Appended(Appended::Created {
                        event_id: *id,
                        deliveries,
                    }))
                }
                Some((ERASED, _)) => Ok(Written::Appended(Appended::Erased)),
                Some((id, _)) => Ok(Written::Appended(Appended::Duplicate { event_id: *id })),
                None => Err(StoreError::Internal(format!(
                    "event {}/{} was neither inserted nor found",
                    key.0, key.1
                ))),
            });
        }
    }
}

/// Results in submission order, failing loudly if a write got none.
pub(crate) fn collect(
    out: Vec<Option<Result<Written, StoreError>>>,
) -> Vec<Result<Written, StoreError>> {
    out.into_iter()
        .map(|r| r.unwrap_or_else(|| Err(StoreError::Internal("a write got no result".into()))))
        .collect()
}

/// The state and columns an outcome writes.
pub(crate) fn outcome_columns(
    f: &Finish,
) -> (&'static str, Option<i64>, Option<&str>, Option<i64>) {
    match &f.outcome {
        crate::Outcome::Delivered => ("delivered", None, None, Some(f.now)),
        crate::Outcome::Retry { next_at } => ("pending", Some(*next_at), None, None),
        crate::Outcome::Dead { reason } => ("dead", None, Some(reason.as_str()), Some(f.now)),
        crate::Outcome::Quarantined { reason } => {
            ("quarantined", None, Some(reason.as_str()), Some(f.now))
        }
    }
}

/// The outcome as recorded on the attempt row.
pub(crate) fn outcome_name(f: &Finish) -> &'static str {
    match &f.outcome {
        crate::Outcome::Delivered => "delivered",
        crate::Outcome::Retry { .. } => "retry",
        crate::Outcome::Dead { .. } => "dead",
        crate::Outcome::Quarantined { .. } => "quarantined",
    }
}

/// True for a pending delivery `d` that may be attempted now as far as ordering goes: unordered,
/// or the head of its lane (no earlier delivery of the lane is pending; under `fifo`, none is
/// dead or quarantined either) with no other delivery of its lane in flight (a later event that arrived first
/// and is being sent holds its lane until it ends). `now` is the SQL placeholder of the current
/// time. Same SQL on both backends.
pub(crate) fn lane_head(now: &str) -> String {
    format!(
        "(d.lane IS NULL OR NOT EXISTS (
    SELECT 1 FROM deliveries p
    WHERE p.route = d.route AND p.destination = d.destination AND p.lane = d.lane
      AND p.lane IS NOT NULL AND p.state IN ('pending', 'dead', 'quarantined') AND p.id <> d.id
      AND (((p.seq < d.seq OR (p.seq = d.seq AND p.id < d.id)) AND (p.state = 'pending' OR d.ordering = 1))
           OR (p.state = 'pending' AND p.lease_owner IS NOT NULL AND p.next_attempt_at > {now}))))"
    )
}

/// Why a delivery ended `stale`.
pub(crate) const STALE_REASON: &str = "stale: a newer event of this key was already delivered";

/// The event's lane and position for an ordered delivery (none for unordered ones or events
/// without an entity key).
pub(crate) fn lane_of<'a>(
    e: &'a crate::NewEvent,
    d: &crate::NewDelivery,
) -> (Option<&'a str>, Option<i64>) {
    match (d.ordering, &e.entity_key) {
        (crate::Ordering::None, _) | (_, None) => (None, None),
        (_, Some(key)) => (Some(key), Some(e.sequence.unwrap_or(e.received_at))),
    }
}
