//! The rejected-requests table's SQL, the same on both backends.

pub(crate) fn insert(p: &dyn Fn(usize) -> String) -> String {
    format!(
        "INSERT INTO rejected (source, at_ms, reason, status, detail, headers, body, size)
         VALUES ({}, {}, {}, {}, {}, {}, {}, {})",
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

/// Keeps the newest `p(2)` rows of source `p(1)`.
pub(crate) fn trim(p: &dyn Fn(usize) -> String) -> String {
    format!(
        "DELETE FROM rejected WHERE source = {s} AND id < (
           SELECT COALESCE(MIN(id), 0) FROM (
             SELECT id FROM rejected WHERE source = {s} ORDER BY id DESC LIMIT {n}
           ) AS newest
         )",
        s = p(1),
        n = p(2)
    )
}

/// Newest first; `p(1)` is the source or NULL for every source, `p(2)` the limit.
pub(crate) fn list(p: &dyn Fn(usize) -> String) -> String {
    format!(
        "SELECT id, source, at_ms, reason, status, detail, headers, body, size FROM rejected
         WHERE ({s} IS NULL OR source = {s}) ORDER BY id DESC LIMIT {n}",
        s = p(1),
        n = p(2)
    )
}
