//! Erasure's SQL, the same on both backends but for placeholders (`p`) and substring search
//! (`has(column, param)`).

type Ph<'a> = &'a dyn Fn(usize) -> String;
type Has<'a> = &'a dyn Fn(&str, &str) -> String;

/// The ids of the events about subject `p(1)`.
pub(crate) fn events_of(p: Ph) -> String {
    format!(
        "SELECT event_id FROM event_subjects WHERE subject = {}",
        p(1)
    )
}

/// The statements of one erasure, in order (children before the rows they name; the subject
/// index last), for the events `among(column)` names: `column IN (`[`events_of`]`)` on SQLite,
/// `column = ANY($1)` with the ids read first on PostgreSQL (whose planner then looks every row
/// up by index whatever its statistics say). Each answers how many rows it deleted.
pub(crate) fn by_subject(among: &dyn Fn(&str) -> String) -> [String; 5] {
    [
        // Tracked entities share the erased events' keys: a sync would otherwise know the
        // subject's record (its id, version and content hash) after the erasure.
        format!(
            "DELETE FROM entities WHERE (source, key) IN (
               SELECT e.source, e.entity_key FROM events e WHERE {} AND e.entity_key IS NOT NULL)",
            among("e.id")
        ),
        format!(
            "DELETE FROM attempts WHERE delivery_id IN (SELECT d.id FROM deliveries d WHERE {})",
            among("d.event_id")
        ),
        format!("DELETE FROM deliveries WHERE {}", among("event_id")),
        format!("DELETE FROM events WHERE {}", among("id")),
        format!("DELETE FROM event_subjects WHERE {}", among("event_id")),
    ]
}

/// The statements that find the identifier `p(1)` where no index points: rejected-request
/// samples, drift details, asynchronous calls.
pub(crate) fn by_value(p: Ph, has: Has) -> [String; 3] {
    let v = p(1);
    [
        format!(
            "DELETE FROM rejected WHERE {} OR {} OR {}",
            has("body", &v),
            has("headers", &v),
            has("detail", &v)
        ),
        format!(
            "DELETE FROM drift WHERE {} OR {}",
            has("detail", &v),
            has("path", &v)
        ),
        format!(
            "DELETE FROM async_calls WHERE {} OR {}",
            has("input", &v),
            has("COALESCE(body, '')", &v)
        ),
    ]
}

pub(crate) fn record(p: Ph) -> String {
    format!(
        "INSERT INTO erasures (subject, at, actor, reason, erased) VALUES ({}, {}, {}, {}, {})",
        p(1),
        p(2),
        p(3),
        p(4),
        p(5)
    )
}

pub(crate) const COLUMNS: &str = "id, subject, at, actor, reason, erased";

pub(crate) fn newest(p: Ph) -> String {
    format!(
        "SELECT {COLUMNS} FROM erasures ORDER BY id DESC LIMIT {}",
        p(1)
    )
}

/// Folds the per-statement counts into what was erased.
pub(crate) fn counts(subject: [u64; 5], value: [u64; 3]) -> crate::ErasedCounts {
    crate::ErasedCounts {
        entities: subject[0],
        attempts: subject[1],
        deliveries: subject[2],
        events: subject[3],
        rejected: value[0],
        drift: value[1],
        calls: value[2],
    }
}

/// A kept erasure's row.
pub(crate) fn row(
    id: i64,
    subject: Vec<u8>,
    at: i64,
    actor: String,
    reason: String,
    erased: String,
) -> crate::ErasureRecord {
    let mut s = [0u8; 32];
    if subject.len() == 32 {
        s.copy_from_slice(&subject);
    }
    crate::ErasureRecord {
        id,
        subject: s,
        at,
        actor,
        reason,
        erased: serde_json::from_str(&erased).unwrap_or_default(),
    }
}
