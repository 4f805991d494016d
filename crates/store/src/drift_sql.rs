//! The drift table's SQL: the same on both backends but for the larger-of function.

/// Upserts one record: counts add up, first and last seen widen, the first detail stays.
pub(crate) fn upsert(greatest: &str, least: &str, p: &dyn Fn(usize) -> String) -> String {
    format!(
        "INSERT INTO drift (scope, subject, path, kind, detail, first_seen, last_seen, count)
         VALUES ({}, {}, {}, {}, {}, {}, {}, {})
         ON CONFLICT (scope, subject, path, kind) DO UPDATE SET
           count = drift.count + excluded.count,
           first_seen = {least}(drift.first_seen, excluded.first_seen),
           last_seen = {greatest}(drift.last_seen, excluded.last_seen)",
        p(1),
        p(2),
        p(3),
        p(4),
        p(5),
        p(6),
        p(7),
        p(8)
    )
}

pub(crate) fn list(p: &dyn Fn(usize) -> String) -> String {
    format!(
        "SELECT scope, subject, path, kind, detail, first_seen, last_seen, count FROM drift
         ORDER BY last_seen DESC, scope, subject, path LIMIT {}",
        p(1)
    )
}

/// Saves a learned shape unless the stored one was learned from more payloads.
pub(crate) fn save_shape(p: &dyn Fn(usize) -> String) -> String {
    format!(
        "INSERT INTO learned_shapes (scope, subject, samples, shape, saved_at) VALUES ({}, {}, {}, {}, {})
         ON CONFLICT (scope, subject) DO UPDATE SET samples = excluded.samples, shape = excluded.shape,
             saved_at = excluded.saved_at
         WHERE learned_shapes.samples <= excluded.samples",
        p(1),
        p(2),
        p(3),
        p(4),
        p(5)
    )
}

/// The most recently saved shapes.
pub(crate) fn shapes(p: &dyn Fn(usize) -> String) -> String {
    format!(
        "SELECT scope, subject, samples, shape, saved_at FROM learned_shapes ORDER BY saved_at DESC LIMIT {}",
        p(1)
    )
}

/// Learned shapes kept: subjects come from event types and paths callers choose, so the table
/// keeps the most recently saved ones (a process holds as many in memory).
pub(crate) const KEEP_SHAPES: usize = 1_000;

/// Deletes the shapes older than the [`KEEP_SHAPES`] most recently saved.
pub(crate) fn trim_shapes() -> String {
    format!(
        "DELETE FROM learned_shapes WHERE saved_at <= (SELECT saved_at FROM learned_shapes ORDER BY saved_at DESC LIMIT 1 OFFSET {KEEP_SHAPES})"
    )
}
