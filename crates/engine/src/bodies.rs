//! The typed answers of the delivery admin endpoints, as the OpenAPI document describes them.

use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

pub use crate::browse::{DeliveryItem, DeliveryList};

/// A schema drift or deprecation record, merged across processes.
#[derive(Debug, Serialize, Deserialize, ToSchema)]
pub struct DriftItem {
    /// `source` or `connector`.
    pub scope: String,
    /// `crm/customer.updated`, `erp/GetCustomer`, `crm GET /v1/customers/{id}`.
    pub subject: String,
    pub path: String,
    /// `new_field`, `missing_field`, `type_changed`, `contract`, `unexpected_body`, `deprecated`.
    pub kind: String,
    pub detail: String,
    pub first_seen: i64,
    pub last_seen: i64,
    pub count: i64,
}

#[derive(Debug, Serialize, Deserialize, ToSchema)]
pub struct DriftList {
    pub items: Vec<DriftItem>,
}

/// A dead (or quarantined) delivery with its event's metadata.
#[derive(Debug, Serialize, Deserialize, ToSchema)]
pub struct DeadItem {
    #[serde(flatten)]
    pub delivery: DeliveryItem,
    pub source: String,
    /// The provider's event id.
    pub event_id: String,
    pub event_type: String,
    pub entity_key: Option<String>,
    pub received_at: i64,
}

impl From<&junction_store::DeadLetter> for DeadItem {
    fn from(d: &junction_store::DeadLetter) -> Self {
        Self {
            delivery: DeliveryItem::from(&d.delivery),
            source: d.source.clone(),
            event_id: d.external_id.clone(),
            event_type: d.event_type.clone(),
            entity_key: d.entity_key.clone(),
            received_at: d.received_at,
        }
    }
}

#[derive(Debug, Serialize, Deserialize, ToSchema)]
pub struct DeadList {
    /// Oldest first.
    pub items: Vec<DeadItem>,
    /// Pass as `after` for the next page; absent on the last one.
    pub next_after: Option<i64>,
}

/// What a replay by filter did.
#[derive(Debug, Serialize, Deserialize, ToSchema)]
pub struct Replayed {
    pub replayed: usize,
    pub ids: Vec<i64>,
}

/// What a discard by filter did.
#[derive(Debug, Serialize, Deserialize, ToSchema)]
pub struct Discarded {
    pub discarded: usize,
    pub ids: Vec<i64>,
}

/// One delivery replayed.
#[derive(Debug, Serialize, Deserialize, ToSchema)]
pub struct ReplayedOne {
    pub replayed: bool,
    pub id: i64,
}

/// One delivery discarded.
#[derive(Debug, Serialize, Deserialize, ToSchema)]
pub struct DiscardedOne {
    pub discarded: bool,
    pub id: i64,
}

/// One attempt of a delivery.
#[derive(Debug, Serialize, Deserialize, ToSchema)]
pub struct AttemptItem {
    pub attempt: i32,
    /// `delivered`, `retry`, `dead`, `quarantined`.
    pub outcome: String,
    pub started_at: i64,
    pub duration_ms: i64,
    pub status: Option<i32>,
    pub error: Option<String>,
    /// The start of the receiver's answer.
    pub response_excerpt: Option<String>,
}

/// A delivery with its event's metadata and every attempt.
#[derive(Debug, Serialize, Deserialize, ToSchema)]
pub struct DeliveryDetail {
    #[serde(flatten)]
    pub delivery: DeliveryItem,
    pub source: Option<String>,
    pub event_id: Option<String>,
    pub event_type: Option<String>,
    pub entity_key: Option<String>,
    pub sequence: Option<i64>,
    pub received_at: Option<i64>,
    pub history: Vec<AttemptItem>,
}

/// A destination's state: circuit, queue and dead letters.
#[derive(Debug, Serialize, Deserialize, ToSchema)]
pub struct DestinationItem {
    pub name: String,
    /// `closed` (healthy), `open` (failing: paused until a probe succeeds) or `half_open`.
    pub circuit: String,
    pub disabled: bool,
    pub disabled_reason: Option<String>,
    pub in_flight: usize,
    pub concurrency: usize,
    pub pending: i64,
    pub due: i64,
    pub dead: i64,
    pub oldest_due_at: Option<i64>,
}

#[derive(Debug, Serialize, Deserialize, ToSchema)]
pub struct DestinationList {
    pub items: Vec<DestinationItem>,
}

/// A destination enabled or disabled.
#[derive(Debug, Serialize, Deserialize, ToSchema)]
pub struct DestinationSwitched {
    pub name: String,
    pub disabled: bool,
}

/// An erasure request: who the data is about and why it goes.
#[derive(Debug, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct ErasureRequest {
    /// The identifier the sources' `event.subject` reads (a customer id, an email). Never
    /// stored or logged: only its SHA-256.
    pub subject: String,
    /// Why, for the audit log (a ticket, a request reference).
    pub reason: String,
}

/// What an erasure removed.
#[derive(Debug, Clone, Copy, Serialize, Deserialize, ToSchema)]
pub struct ErasedItem {
    pub events: u64,
    /// Deliveries of those events, dead letters and quarantined ones included.
    pub deliveries: u64,
    /// Their attempts, with the response excerpts.
    pub attempts: u64,
    /// Tracked entities (sync and reconciliation state) of those events' keys.
    pub entities: u64,
    /// Rejected-request samples that contained the identifier.
    pub rejected: u64,
    /// Schema drift details that contained it.
    pub drift: u64,
    /// Asynchronous calls whose input or answer contained it.
    pub calls: u64,
}

impl From<junction_store::ErasedCounts> for ErasedItem {
    fn from(c: junction_store::ErasedCounts) -> Self {
        Self {
            events: c.events,
            deliveries: c.deliveries,
            attempts: c.attempts,
            entities: c.entities,
            rejected: c.rejected,
            drift: c.drift,
            calls: c.calls,
        }
    }
}

/// An erasure done.
#[derive(Debug, Serialize, Deserialize, ToSchema)]
pub struct ErasureDone {
    /// The subject's SHA-256 (hex), as the erasure and the audit log keep it.
    pub subject_hash: String,
    pub erased: ErasedItem,
}

/// A kept erasure.
#[derive(Debug, Serialize, Deserialize, ToSchema)]
pub struct ErasureItem {
    pub id: i64,
    pub subject_hash: String,
    pub at: i64,
    pub actor: String,
    pub reason: String,
    pub erased: ErasedItem,
}

#[derive(Debug, Serialize, Deserialize, ToSchema)]
pub struct ErasureList {
    pub items: Vec<ErasureItem>,
}

impl From<junction_store::ErasureRecord> for ErasureItem {
    fn from(r: junction_store::ErasureRecord) -> Self {
        Self {
            id: r.id,
            subject_hash: hex::encode(r.subject),
            at: r.at,
            actor: r.actor,
            reason: r.reason,
            erased: r.erased.into(),
        }
    }
}

/// What the hub keeps, for how long, and the setting that says so.
#[derive(Debug, Serialize, Deserialize, ToSchema)]
pub struct RetentionItem {
    /// `delivered events`, `dead letters`, `quarantined deliveries`, `rejected requests`, …
    pub what: String,
    /// The destination it applies to, for dead letters and quarantined deliveries.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub destination: Option<String>,
    /// The source it applies to, for a source's own retention of delivered events.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub source: Option<String>,
    /// How long (`90days`), or a rule (`the newest 50 per source`, `forever`).
    pub kept: String,
    /// The seconds when it is a duration (`null`: no time limit).
    pub seconds: Option<u64>,
    /// The config setting, or `fixed`.
    pub setting: String,
}

#[derive(Debug, Serialize, Deserialize, ToSchema)]
pub struct RetentionList {
    pub items: Vec<RetentionItem>,
}
