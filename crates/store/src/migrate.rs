//! Schema migrations, embedded in the binary and applied at start-up.
//!
//! Each backend has an ordered list of SQL scripts. Applying them takes a lock first
//! (PostgreSQL: a transaction-scoped advisory lock; SQLite: the single writer), so several
//! processes starting at once apply each migration exactly once. A database whose schema is
//! newer than this binary is refused rather than guessed at.

/// One migration: a version and the SQL that brings the schema to it.
pub(crate) struct Migration {
    pub version: i64,
    pub name: &'static str,
    pub sql: &'static str,
}

pub(crate) const SQLITE: &[Migration] = &[
    Migration {
        version: 1,
        name: "events, deliveries, attempts",
        sql: include_str!("../migrations/sqlite/0001_init.sql"),
    },
    Migration {
        version: 2,
        name: "ordering lanes, stale deliveries, destination state",
        sql: include_str!("../migrations/sqlite/0002_ordering_replay.sql"),
    },
    Migration {
        version: 3,
        name: "vault: sealed secrets and master key checks",
        sql: include_str!("../migrations/sqlite/0003_vault.sql"),
    },
    Migration {
        version: 4,
        name: "connections (token state, refresh lease) and API tokens",
        sql: include_str!("../migrations/sqlite/0004_connections.sql"),
    },
    Migration {
        version: 5,
        name: "quarantined deliveries",
        sql: include_str!("../migrations/sqlite/0005_quarantine.sql"),
    },
    Migration {
        version: 6,
        name: "schema drift records",
        sql: include_str!("../migrations/sqlite/0006_drift.sql"),
    },
    Migration {
        version: 7,
        name: "audit log, per-minute history, alerts",
        sql: include_str!("../migrations/sqlite/0007_operations.sql"),
    },
    Migration {
        version: 8,
        name: "discarded deliveries",
        sql: include_str!("../migrations/sqlite/0008_discard.sql"),
    },
    Migration {
        version: 9,
        name: "globally unique delivery ids",
        sql: include_str!("../migrations/sqlite/0009_delivery_uid.sql"),
    },
    Migration {
        version: 10,
        name: "rejected inbound requests",
        sql: include_str!("../migrations/sqlite/0010_rejected.sql"),
    },
    Migration {
        version: 11,
        name: "event trace context and forwarded headers",
        sql: include_str!("../migrations/sqlite/0011_event_context.sql"),
    },
    Migration {
        version: 12,
        name: "job runs and pauses",
        sql: include_str!("../migrations/sqlite/0012_jobs.sql"),
    },
    Migration {
        version: 13,
        name: "asynchronous operation calls",
        sql: include_str!("../migrations/sqlite/0013_async_calls.sql"),
    },
    Migration {
        version: 14,
        name: "entities and sync checkpoints",
        sql: include_str!("../migrations/sqlite/0014_entities.sql"),
    },
    Migration {
        version: 15,
        name: "asynchronous call callbacks",
        sql: include_str!("../migrations/sqlite/0015_call_callbacks.sql"),
    },
    Migration {
        version: 16,
        name: "shared quotas, circuits and learned shapes",
        sql: include_str!("../migrations/sqlite/0016_shared_limits.sql"),
    },
    Migration {
        version: 17,
        name: "erasure by data subject",
        sql: include_str!("../migrations/sqlite/0017_erasure.sql"),
    },
    Migration {
        version: 18,
        name: "audit log archive",
        sql: include_str!("../migrations/sqlite/0018_audit_start.sql"),
    },
];

pub(crate) const POSTGRES: &[Migration] = &[
    Migration {
        version: 1,
        name: "events, deliveries, attempts",
        sql: include_str!("../migrations/postgres/0001_init.sql"),
    },
    Migration {
        version: 2,
        name: "ordering lanes, stale deliveries, destination state",
        sql: include_str!("../migrations/postgres/0002_ordering_replay.sql"),
    },
    Migration {
        version: 3,
        name: "vault: sealed secrets and master key checks",
        sql: include_str!("../migrations/postgres/0003_vault.sql"),
    },
    Migration {
        version: 4,
        name: "connections (token state, refresh lease) and API tokens",
        sql: include_str!("../migrations/postgres/0004_connections.sql"),
    },
    Migration {
        version: 5,
        name: "quarantined deliveries",
        sql: include_str!("../migrations/postgres/0005_quarantine.sql"),
    },
    Migration {
        version: 6,
        name: "schema drift records",
        sql: include_str!("../migrations/postgres/0006_drift.sql"),
    },
    Migration {
        version: 7,
        name: "audit log, per-minute history, alerts",
        sql: include_str!("../migrations/postgres/0007_operations.sql"),
    },
    Migration {
        version: 8,
        name: "discarded deliveries",
        sql: include_str!("../migrations/postgres/0008_discard.sql"),
    },
    Migration {
        version: 9,
        name: "globally unique delivery ids",
        sql: include_str!("../migrations/postgres/0009_delivery_uid.sql"),
    },
    Migration {
        version: 10,
        name: "rejected inbound requests",
        sql: include_str!("../migrations/postgres/0010_rejected.sql"),
    },
    Migration {
        version: 11,
        name: "event trace context and forwarded headers",
        sql: include_str!("../migrations/postgres/0011_event_context.sql"),
    },
    Migration {
        version: 12,
        name: "job runs and pauses",
        sql: include_str!("../migrations/postgres/0012_jobs.sql"),
    },
    Migration {
        version: 13,
        name: "asynchronous operation calls",
        sql: include_str!("../migrations/postgres/0013_async_calls.sql"),
    },
    Migration {
        version: 14,
        name: "entities and sync checkpoints",
        sql: include_str!("../migrations/postgres/0014_entities.sql"),
    },
    Migration {
        version: 15,
        name: "asynchronous call callbacks",
        sql: include_str!("../migrations/postgres/0015_call_callbacks.sql"),
    },
    Migration {
        version: 16,
        name: "shared quotas, circuits and learned shapes",
        sql: include_str!("../migrations/postgres/0016_shared_limits.sql"),
    },
    Migration {
        version: 17,
        name: "no foreign keys on the queue tables",
        sql: include_str!("../migrations/postgres/0017_queue_shape.sql"),
    },
    Migration {
        version: 18,
        name: "erasure by data subject",
        sql: include_str!("../migrations/postgres/0018_erasure.sql"),
    },
    Migration {
        version: 19,
        name: "audit log archive",
        sql: include_str!("../migrations/postgres/0019_audit_start.sql"),
    },
];

/// The table that records applied migrations, in SQL both backends accept.
pub(crate) const HISTORY_TABLE: &str = "CREATE TABLE IF NOT EXISTS junction_migrations (
    version BIGINT PRIMARY KEY,
    name TEXT NOT NULL,
    applied_at BIGINT NOT NULL
)";

/// Checks that the database is not ahead of this binary.
pub(crate) fn check_not_newer(applied: i64, known: &[Migration]) -> Result<(), crate::StoreError> {
    let newest = known.last().map(|m| m.version).unwrap_or(0);
    if applied > newest {
        return Err(crate::StoreError::Migration(format!(
            "the database schema is at version {applied}, newer than this junction binary knows ({newest}); upgrade junction"
        )));
    }
    Ok(())
}
