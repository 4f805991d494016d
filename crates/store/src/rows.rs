//! Row → record conversions, written once for both backends' row types.

/// Builds a [`crate::DeliveryRecord`] from a row with the `DELIVERY_COLUMNS`.
macro_rules! delivery_from_row {
    ($r:expr) => {{
        let r = $r;
        let state: String = r.try_get("state")?;
        crate::DeliveryRecord {
            id: r.try_get("id")?,
            event_id: r.try_get("event_id")?,
            route: r.try_get("route")?,
            destination: r.try_get("destination")?,
            state: crate::DeliveryState::parse(&state).ok_or_else(|| {
                crate::StoreError::Internal(format!("unknown delivery state `{state}`"))
            })?,
            attempts: r.try_get("attempts")?,
            next_attempt_at: r.try_get("next_attempt_at")?,
            lease_owner: r.try_get("lease_owner")?,
            lease_epoch: r.try_get("lease_epoch")?,
            last_status: r.try_get("last_status")?,
            last_error: r.try_get("last_error")?,
            dead_reason: r.try_get("dead_reason")?,
            created_at: r.try_get("created_at")?,
            finished_at: r.try_get("finished_at")?,
        }
    }};
}

/// Builds a [`crate::StoredEvent`] from a row with the `EVENT_COLUMNS` (its id as `event_id`).
macro_rules! event_from_row {
    ($r:expr) => {{
        let r = $r;
        crate::StoredEvent {
            id: r.try_get("event_id")?,
            source: r.try_get("source")?,
            external_id: r.try_get("external_id")?,
            event_type: r.try_get("event_type")?,
            entity_key: r.try_get("entity_key")?,
            sequence: r.try_get("sequence")?,
            received_at: r.try_get("received_at")?,
            payload: crate::at_rest::open_payload(r.try_get("payload")?)?,
            context: crate::EventContext::from_columns(
                r.try_get("traceparent")?,
                crate::at_rest::open_text(crate::at_rest::Kind::Headers, r.try_get("headers")?)?,
            )?,
        }
    }};
}

/// Builds an [`crate::AttemptRecord`] from an `attempts` row.
macro_rules! attempt_from_row {
    ($r:expr) => {{
        let r = $r;
        crate::AttemptRecord {
            delivery_id: r.try_get("delivery_id")?,
            attempt: r.try_get("attempt")?,
            outcome: r.try_get("outcome")?,
            record: crate::Attempt {
                started_at: r.try_get("started_at")?,
                duration_ms: r.try_get("duration_ms")?,
                status: r.try_get("status")?,
                error: r.try_get("error")?,
                response_excerpt: crate::at_rest::open_text(
                    crate::at_rest::Kind::Excerpt,
                    r.try_get("response_excerpt")?,
                )?,
            },
        }
    }};
}

pub(crate) use {attempt_from_row, delivery_from_row, event_from_row};

/// `try_get` by column name on SQLite rows, so the macros above read both backends' rows.
pub(crate) trait SqliteRowExt {
    fn try_get<T: rusqlite::types::FromSql>(&self, column: &str) -> rusqlite::Result<T>;
}

impl SqliteRowExt for rusqlite::Row<'_> {
    fn try_get<T: rusqlite::types::FromSql>(&self, column: &str) -> rusqlite::Result<T> {
        self.get(column)
    }
}

pub(crate) const DELIVERY_COLUMNS: &str = "id, event_id, route, destination, state, attempts, next_attempt_at, lease_owner, lease_epoch, last_status, last_error, dead_reason, created_at, finished_at";
/// `DELIVERY_COLUMNS` of `deliveries d` in a join.
pub(crate) const DELIVERY_COLUMNS_OF_D: &str = "d.id, d.event_id, d.route, d.destination, d.state, d.attempts, d.next_attempt_at, d.lease_owner, d.lease_epoch, d.last_status, d.last_error, d.dead_reason, d.created_at, d.finished_at";
pub(crate) const EVENT_COLUMNS: &str =
    "id AS event_id, source, external_id, event_type, entity_key, sequence, received_at, payload, traceparent, headers";
pub(crate) const ATTEMPT_COLUMNS: &str =
    "delivery_id, attempt, outcome, started_at, duration_ms, status, error, response_excerpt";
