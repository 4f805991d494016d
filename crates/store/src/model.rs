//! What the store holds: events, deliveries and attempts, and the requests that change them.
//!
//! Times are milliseconds since the Unix epoch (`i64`), given by the caller, so every decision
//! about due-ness and lease expiry is testable without waiting. Nodes sharing one database
//! must keep their clocks in sync (NTP); leases are tens of seconds, far above clock skew.

use std::time::Duration;

/// An inbound event with the deliveries its routes matched: appended in one transaction.
#[derive(Debug, Clone, PartialEq)]
pub struct NewEvent {
    /// The source it came from (`stripe`).
    pub source: String,
    /// The id the source gave it; `(source, external_id)` is unique, a repeat is a duplicate.
    pub external_id: String,
    /// Its type (`customer.updated`).
    pub event_type: String,
    /// The entity it is about, for ordering (`cus_123`).
    pub entity_key: Option<String>,
    /// Its position among the entity's events (a sequence number or timestamp), for ordering.
    pub sequence: Option<i64>,
    /// When Junction received it.
    pub received_at: i64,
    /// The body, as received.
    pub payload: Vec<u8>,
    /// The trace it arrived in, continued by every delivery attempt.
    pub context: EventContext,
    /// One delivery per matched route and destination.
    pub deliveries: Vec<NewDelivery>,
    /// Keep the entity's newest version (`entity_key`, `sequence`) with the event, in the same
    /// transaction: a webhook source that is reconciled against the vendor's list.
    pub tracked: bool,
    /// The data subjects it is about, as [`subject_hash`]es (at most [`MAX_SUBJECTS`]), so an
    /// erasure finds it.
    pub subjects: Vec<[u8; 32]>,
}

/// Which sources' events a purge deletes.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Sources {
    All,
    Only(String),
    /// Every source but these (those with a retention of their own).
    Except(Vec<String>),
}

/// Most data subjects kept per event.
pub const MAX_SUBJECTS: usize = 8;

/// How a data subject's identifier (a customer id, an email) is kept: SHA-256 of it (trimmed,
/// domain-separated), never the identifier itself. Anyone who already knows an identifier can
/// confirm it was seen or erased; nobody can read one back.
pub fn subject_hash(id: &str) -> [u8; 32] {
    use sha2::Digest;
    let mut h = sha2::Sha256::new();
    h.update(b"junction-subject:v1:");
    h.update(id.trim().as_bytes());
    h.finalize().into()
}

/// One erasure: every trace of a data subject.
#[derive(Debug, Clone)]
pub struct Erase {
    pub subject: [u8; 32],
    /// The identifier itself, to find it where no index points (rejected-request samples, drift
    /// details, asynchronous calls' inputs and answers); `None` for a sweep by hash only.
    pub value: Option<String>,
    pub actor: String,
    pub reason: String,
    pub at: i64,
    /// Keep the erasure (`false` for a sweep repeating one already kept).
    pub record: bool,
}

/// What an erasure removed.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct ErasedCounts {
    pub events: u64,
    pub deliveries: u64,
    pub attempts: u64,
    pub entities: u64,
    pub rejected: u64,
    pub drift: u64,
    pub calls: u64,
}

impl ErasedCounts {
    pub fn total(&self) -> u64 {
        self.events + self.rejected + self.drift + self.calls + self.entities
    }
}

/// A kept erasure: the subject's hash, who asked, why, when and what went.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ErasureRecord {
    pub id: i64,
    pub subject: [u8; 32],
    pub at: i64,
    pub actor: String,
    pub reason: String,
    pub erased: ErasedCounts,
}

/// One delivery of an event to one destination, due at `due_at`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NewDelivery {
    pub route: String,
    pub destination: String,
    pub due_at: i64,
    /// The route's ordering. Ordered deliveries of events with an entity key form a lane per
    /// (route, destination, key), taken in sequence order (the event's sequence, else its
    /// received-at time; ties by arrival).
    pub ordering: Ordering,
}

/// How a route orders the deliveries of one entity.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub enum Ordering {
    /// In parallel, no order.
    #[default]
    None,
    /// Strictly in sequence order per key: a delivery waits until every earlier one of its key is
    /// delivered. A dead-lettered one blocks its key until it is replayed.
    Fifo,
    /// One at a time per key in sequence order; a delivery older than the newest delivered for
    /// its key ends `stale` instead of being sent.
    Latest,
}

impl Ordering {
    pub(crate) fn code(self) -> i32 {
        match self {
            Ordering::None => 0,
            Ordering::Fifo => 1,
            Ordering::Latest => 2,
        }
    }

    pub fn as_str(self) -> &'static str {
        match self {
            Ordering::None => "none",
            Ordering::Fifo => "fifo",
            Ordering::Latest => "latest",
        }
    }
}

/// What appending an event did.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Appended {
    /// The event is new: it and its deliveries are durably committed.
    Created { event_id: i64, deliveries: usize },
    /// The source already sent this id: nothing was written; `event_id` is the first copy's.
    Duplicate { event_id: i64 },
    /// The event is about a data subject whose data was erased: nothing was written.
    Erased,
}

impl Appended {
    /// The stored event's id (0 for an erased subject's: none was stored).
    pub fn event_id(&self) -> i64 {
        match self {
            Appended::Created { event_id, .. } | Appended::Duplicate { event_id } => *event_id,
            Appended::Erased => 0,
        }
    }

    pub fn is_duplicate(&self) -> bool {
        matches!(self, Appended::Duplicate { .. })
    }
}

/// A request to claim due deliveries for one worker.
#[derive(Debug, Clone)]
pub struct Claim {
    /// Who claims (node and worker); recorded on the rows for operators.
    pub owner: String,
    /// Most deliveries to claim.
    pub limit: usize,
    /// How long the claim holds before the deliveries become claimable again.
    pub lease: Duration,
    /// Now, in ms.
    pub now: i64,
    /// Only this destination's deliveries (each destination's dispatcher claims its own).
    pub destination: Option<String>,
}

/// Proof of holding a delivery. A newer claim of the same delivery raises the epoch, so a worker
/// whose lease expired can no longer complete, fail or extend it (fencing).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Lease {
    pub delivery_id: i64,
    pub epoch: i64,
    /// The delivery is ordered `latest`: delivering it records its sequence as the newest of
    /// its lane (other deliveries skip that bookkeeping).
    pub latest: bool,
}

/// A claimed delivery with its event.
#[derive(Debug, Clone, PartialEq)]
pub struct Claimed {
    pub lease: Lease,
    /// The delivery's public id, sent as `webhook-id` and `Idempotency-Key`: unique across
    /// databases and hubs, the same on every attempt and replay (see [`delivery_uid`]).
    pub uid: String,
    pub route: String,
    pub destination: String,
    /// The number of this attempt (1 for the first). Raised by every claim, so a delivery whose
    /// worker keeps crashing still runs out of attempts.
    pub attempt: i32,
    pub event: StoredEvent,
}

/// An event as stored.
#[derive(Debug, Clone, PartialEq)]
pub struct StoredEvent {
    pub id: i64,
    pub source: String,
    pub external_id: String,
    pub event_type: String,
    pub entity_key: Option<String>,
    pub sequence: Option<i64>,
    pub received_at: i64,
    pub payload: Vec<u8>,
    pub context: EventContext,
}

/// What an event carries beside its body, for its receivers.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct EventContext {
    /// The W3C `traceparent` of the request that brought it: each delivery attempt is a child of
    /// it, so one trace spans webhook → queue → destination.
    pub traceparent: Option<String>,
    /// Provider headers its source forwards to destinations (`x-github-event`), lower-case names
    /// in the order received.
    pub headers: Vec<(String, String)>,
}

impl EventContext {
    /// The headers as stored: a JSON object, or `None` when there are none.
    pub(crate) fn headers_json(&self) -> Option<String> {
        if self.headers.is_empty() {
            return None;
        }
        let map: serde_json::Map<String, serde_json::Value> = self
            .headers
            .iter()
            .map(|(k, v)| (k.clone(), serde_json::Value::String(v.clone())))
            .collect();
        Some(serde_json::Value::Object(map).to_string())
    }

    /// Reads the stored form back.
    pub(crate) fn from_columns(
        traceparent: Option<String>,
        headers: Option<String>,
    ) -> Result<Self, crate::StoreError> {
        let headers = match headers {
            None => Vec::new(),
            Some(text) => {
                let map: serde_json::Map<String, serde_json::Value> = serde_json::from_str(&text)
                    .map_err(|e| {
                    crate::StoreError::Internal(format!("an event's stored headers: {e}"))
                })?;
                map.into_iter()
                    .filter_map(|(k, v)| Some((k, v.as_str()?.to_owned())))
                    .collect()
            }
        };
        Ok(Self {
            traceparent,
            headers,
        })
    }
}

/// What happened on one attempt, recorded with its outcome.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Attempt {
    pub started_at: i64,
    pub duration_ms: i64,
    /// The destination's HTTP status, if it answered.
    pub status: Option<i32>,
    /// Why it failed, if it did.
    pub error: Option<String>,
    /// A masked excerpt of the response body.
    pub response_excerpt: Option<String>,
}

/// How an attempt ended.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Outcome {
    /// The destination accepted it: the delivery is `delivered`.
    Delivered,
    /// Try again at `next_at`.
    Retry { next_at: i64 },
    /// No more attempts: the delivery is `dead` with this reason.
    Dead { reason: String },
    /// Not sent: the route's mapping failed on the event, or the body broke the destination's
    /// model. The delivery is `quarantined` with the errors, until replayed.
    Quarantined { reason: String },
}

/// The end of one attempt: which lease, what happened, what next.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Finish {
    pub lease: Lease,
    pub attempt: Attempt,
    pub outcome: Outcome,
    /// When the outcome is recorded.
    pub now: i64,
}

pub use crate::states::{ConnectionState, DeliveryState};

/// A delivery as stored.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DeliveryRecord {
    pub id: i64,
    pub event_id: i64,
    pub route: String,
    pub destination: String,
    pub state: DeliveryState,
    /// Attempts started so far.
    pub attempts: i32,
    /// When it is next due (or, while leased, when the lease expires).
    pub next_attempt_at: i64,
    pub lease_owner: Option<String>,
    pub lease_epoch: i64,
    pub last_status: Option<i32>,
    pub last_error: Option<String>,
    pub dead_reason: Option<String>,
    pub created_at: i64,
    pub finished_at: Option<i64>,
}

/// One recorded attempt.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AttemptRecord {
    pub delivery_id: i64,
    pub attempt: i32,
    pub outcome: String,
    pub record: Attempt,
}

/// Queue depth, for metrics and readiness.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct QueueStats {
    /// Pending deliveries (due, waiting or leased).
    pub pending: i64,
    /// Pending and due now (not leased).
    pub due: i64,
    /// Dead-lettered deliveries waiting for an operator.
    pub dead: i64,
    /// Quarantined deliveries (mapping or model failures) waiting for an operator.
    pub quarantined: i64,
    /// When the oldest due delivery became due, if any.
    pub oldest_due_at: Option<i64>,
}

/// Which dead letters to list or replay. Every field narrows; an empty filter matches all.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct DeadFilter {
    /// Quarantined deliveries instead of dead letters.
    pub quarantined: bool,
    /// These deliveries only.
    pub ids: Vec<i64>,
    pub source: Option<String>,
    pub destination: Option<String>,
    pub route: Option<String>,
    pub event_type: Option<String>,
    /// Dead-lettered at or after (ms).
    pub since: Option<i64>,
    /// Dead-lettered before (ms).
    pub until: Option<i64>,
    /// The reason or last error contains this text.
    pub error: Option<String>,
}

/// Which deliveries to find, newest first.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct DeliveryFilter {
    pub state: Option<DeliveryState>,
    pub destination: Option<String>,
    pub route: Option<String>,
    /// The event's source.
    pub source: Option<String>,
    /// Created at or after (ms).
    pub since: Option<i64>,
    /// Created before (ms).
    pub until: Option<i64>,
    /// Deliveries with a smaller id only (the next page).
    pub before_id: Option<i64>,
}

/// Which events to find, newest first.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct EventFilter {
    pub source: Option<String>,
    pub event_type: Option<String>,
    pub entity_key: Option<String>,
    /// The provider's event id.
    pub external_id: Option<String>,
    /// Received at or after (ms).
    pub since: Option<i64>,
    /// Received before (ms).
    pub until: Option<i64>,
    /// Events with a smaller id only (the next page).
    pub before_id: Option<i64>,
}

/// One dead letter with what an operator needs to decide about it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DeadLetter {
    pub delivery: DeliveryRecord,
    pub source: String,
    pub external_id: String,
    pub event_type: String,
    pub entity_key: Option<String>,
    pub received_at: i64,
}

/// Queue depth of one destination.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct DestinationStats {
    pub destination: String,
    pub pending: i64,
    pub due: i64,
    pub dead: i64,
    pub oldest_due_at: Option<i64>,
}

/// A destination switched off (by a 410 Gone or an operator) until re-enabled.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DisabledDestination {
    pub name: String,
    pub disabled_at: i64,
    pub reason: String,
}

/// A master key version the vault knows: `check` is a known value sealed under it, so a wrong
/// key is refused before it seals or opens anything.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct VaultKey {
    pub version: i64,
    pub check: Vec<u8>,
    pub created_at: i64,
}

/// A secret as the store holds it: sealed. `ciphertext` is the value sealed under the secret's
/// own data key; `wrapped_key` is that data key sealed under master key `master_version`.
#[derive(Clone, PartialEq, Eq)]
pub struct SealedSecret {
    pub name: String,
    /// Counts the secret's values: 1 when first set, +1 on every later set.
    pub version: i64,
    pub master_version: i64,
    pub wrapped_key: Vec<u8>,
    pub ciphertext: Vec<u8>,
    pub created_at: i64,
    pub updated_at: i64,
}

impl std::fmt::Debug for SealedSecret {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SealedSecret")
            .field("name", &self.name)
            .field("version", &self.version)
            .field("master_version", &self.master_version)
            .finish_non_exhaustive()
    }
}

/// A connection: one set of credentials for a connector. Its tokens are vault secrets; this is
/// what is not secret about them.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct Connection {
    pub connector: String,
    pub name: String,
    /// `active`, or `needs_reauth` after repeated refresh failures (calls fail fast).
    pub state: ConnectionState,
    /// When the stored access token expires; `None` when there is none.
    pub expires_at: Option<i64>,
    /// When the stored access token should be refreshed.
    pub refresh_at: Option<i64>,
    /// Raised by every refresh lease; tokens persist only under the epoch their lease took.
    pub refresh_epoch: i64,
    /// A refresh in progress holds the lease until then; 0 when free.
    pub refresh_until: i64,
    /// Bumped whenever tokens are saved.
    pub token_version: i64,
    /// Refresh failures since the last success.
    pub failures: i64,
    pub last_error: Option<String>,
    pub updated_at: i64,
}

/// New tokens for a connection, with their sealed secrets, saved in one transaction.
#[derive(Debug, Clone)]
pub struct SaveTokens {
    pub connector: String,
    pub name: String,
    /// The refresh lease's epoch: the save is refused unless the row still has it (another
    /// process took over). `None` (seeding by an operator) saves unconditionally and raises the
    /// epoch, fencing off any refresh in progress.
    pub epoch: Option<i64>,
    pub expires_at: Option<i64>,
    pub refresh_at: Option<i64>,
    /// The token secrets (`conn.CONNECTOR.NAME.access`, `….refresh`), sealed by the vault.
    pub secrets: Vec<SealedSecret>,
    pub now: i64,
}

/// A hub API token. Only a hash of the token is stored.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct ApiToken {
    /// Public id, part of the token text (`jct_ID_SECRET`).
    pub id: String,
    /// What the operator called it.
    pub name: String,
    #[serde(skip)]
    pub token_hash: Vec<u8>,
    /// Space-separated scopes (`proxy:crm:GET proxy:erp:*`).
    pub scopes: String,
    pub created_at: i64,
    pub expires_at: Option<i64>,
    pub revoked_at: Option<i64>,
}

/// A failed refresh, recorded under the lease's epoch.
#[derive(Debug, Clone)]
pub struct RefreshFailed {
    pub connector: String,
    pub name: String,
    pub epoch: i64,
    pub error: String,
    /// Failures (counting this one) at which the connection turns `needs_reauth`; 1 marks it at
    /// once (the provider refused the grant).
    pub reauth_after: i64,
    pub now: i64,
}

/// An inbound request refused at intake, kept (masked) for the request inspector.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct RejectedRequest {
    pub id: i64,
    /// The source it was sent to (`""` for a name no source has).
    pub source: String,
    pub at_ms: i64,
    /// `bad_signature`, `timestamp_outside_window`, `missing_signature`, `malformed_signature`,
    /// `bad_credentials`, `client_certificate`, `too_large`, `unknown_source`, `bad_body`.
    pub reason: String,
    /// The status it was answered with.
    pub status: i32,
    /// The message it was answered with.
    pub detail: String,
    /// Its headers, credential-bearing values masked.
    pub headers: Vec<(String, String)>,
    /// The start of its body, secrets masked.
    pub body: String,
    /// Its body's size in bytes.
    pub size: i64,
}

/// A shape learned from payloads (see `junction_transform::drift`), as JSON.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LearnedShape {
    pub scope: String,
    pub subject: String,
    /// Payloads it was learned from.
    pub samples: i64,
    pub shape: String,
    pub saved_at: i64,
}

/// One schema drift (see `junction_transform::drift`): where, what, since when, how often.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DriftRecord {
    /// `source` or `connector`.
    pub scope: String,
    /// `crm/customer.updated`, `erp/GetCustomer`, `crm GET /v1/customers/{id}`.
    pub subject: String,
    pub path: String,
    /// `new_field`, `missing_field`, `type_changed`, `contract`, `unexpected_body`.
    pub kind: String,
    pub detail: String,
    pub first_seen: i64,
    pub last_seen: i64,
    pub count: i64,
}

/// A new delivery's public id: `msg_` and a UUIDv7 (time-ordered, 74 random bits), so it never
/// repeats across databases, resets or hubs delivering to the same receiver.
pub fn new_delivery_uid() -> String {
    let mut buf = uuid::Uuid::encode_buffer();
    let id = uuid::Uuid::now_v7();
    let mut s = String::with_capacity(36);
    s.push_str("msg_");
    s.push_str(id.simple().encode_lower(&mut buf));
    s
}

/// The public id of a claimed delivery: its stored uid, or for a delivery inserted before uids
/// were stored, the id its earlier attempts carried.
pub fn delivery_uid(uid: Option<String>, event_id: i64, delivery_id: i64) -> String {
    uid.unwrap_or_else(|| format!("msg_{event_id}_{delivery_id}"))
}
