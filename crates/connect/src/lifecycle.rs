//! A connection's life, told to the application: **connected** (an end user completed a
//! connect, or reconnected), **needs_reauth** (the vendor keeps refusing its refresh: calls fail
//! until it is reconnected) and **revoked** (an operator forgot it). Each change is an event
//! stored with its one delivery to a destination the config names — the connector's
//! `connection_events`, and a connect session's `notify` — then delivered like any event
//! (signed, retried, dead-lettered, replayable). The event's id makes a change that several
//! processes see at once one event.

use junction_core::time::now_ms;
use junction_store::Store;
use serde_json::{json, Map, Value};

/// The source and route of these events: names no config can declare (they hold a dot).
pub const SOURCE: &str = "connect.sessions";
const ROUTE: &str = "connect.notify";

/// What happened to a connection.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Change {
    Connected,
    NeedsReauth,
    Revoked,
}

impl Change {
    fn event_type(self) -> &'static str {
        match self {
            Change::Connected => "connection.connected",
            Change::NeedsReauth => "connection.needs_reauth",
            Change::Revoked => "connection.revoked",
        }
    }
}

/// One change of `connector`'s `connection`, for `destination`.
pub(crate) struct Told<'a> {
    pub change: Change,
    pub connector: &'a str,
    pub connection: &'a str,
    pub destination: &'a str,
    /// The same for every process that sees this change (a refresh epoch, a session).
    pub id: String,
    /// What else the application is told (the scopes granted, the vendor's last error).
    pub detail: Map<String, Value>,
}

/// Stores the change's event with its delivery; a failure to store is logged (the change itself
/// has happened, and the audit log and the connection's state still show it).
pub(crate) async fn tell(store: &dyn Store, t: Told<'_>) {
    let now = now_ms();
    let mut payload = json!({
        "event": t.change.event_type(),
        "connector": t.connector,
        "connection": t.connection,
        "tenant": t.connection,
        "at_ms": now,
    });
    if let Value::Object(p) = &mut payload {
        p.extend(t.detail);
    }
    let event = crate::Raised {
        source: SOURCE,
        route: ROUTE,
        id: format!("{}:{}", t.change.event_type(), t.id),
        event_type: t.change.event_type(),
        key: Some(format!("{}/{}", t.connector, t.connection)),
        payload,
        destination: t.destination,
    }
    .event(now);
    if let Err(e) = store.append(event).await {
        tracing::error!(error = %e, connector = t.connector, connection = t.connection, event = t.change.event_type(), "a connection's change could not be stored for the application");
    }
}
