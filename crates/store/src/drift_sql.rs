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
