//! The typed answers of the admin API's own routes, as the OpenAPI document describes them.

use std::collections::BTreeMap;

use junction_store::ApiToken;
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

/// An API token — never its value (except once, on creation).
#[derive(Debug, Serialize, Deserialize, ToSchema)]
pub struct TokenItem {
    pub id: String,
    pub name: String,
    /// `proxy:CONNECTOR:METHOD` or `role:viewer|operator|admin`.
    pub scopes: Vec<String>,
    pub created_at_ms: i64,
    pub expires_at_ms: Option<i64>,
    pub revoked_at_ms: Option<i64>,
    /// The token itself: in the answer to its creation only.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub token: Option<String>,
}

impl From<&ApiToken> for TokenItem {
    fn from(t: &ApiToken) -> Self {
        Self {
            id: t.id.clone(),
            name: t.name.clone(),
            scopes: t.scopes.split_whitespace().map(str::to_owned).collect(),
            created_at_ms: t.created_at,
            expires_at_ms: t.expires_at,
            revoked_at_ms: t.revoked_at,
            token: None,
        }
    }
}

#[derive(Debug, Serialize, Deserialize, ToSchema)]
pub struct TokenList {
    pub tokens: Vec<TokenItem>,
}

/// A vault secret's metadata — never its value.
#[derive(Debug, Serialize, Deserialize, ToSchema)]
pub struct SecretItem {
    pub name: String,
    pub version: i64,
    pub master_key_version: i64,
    pub created_at_ms: i64,
    pub updated_at_ms: i64,
}

#[derive(Debug, Serialize, Deserialize, ToSchema)]
pub struct SecretList {
    pub secrets: Vec<SecretItem>,
}

/// One entry of the hash-chained audit log.
#[derive(Debug, Serialize, Deserialize, ToSchema)]
pub struct AuditEntry {
    pub seq: i64,
    /// Unix ms.
    pub at: i64,
    pub actor: String,
    pub action: String,
    pub target: String,
    pub origin: String,
    /// JSON text.
    pub detail: String,
    pub prev_hash: String,
    pub hash: String,
}

impl From<junction_store::ops::AuditRecord> for AuditEntry {
    fn from(r: junction_store::ops::AuditRecord) -> Self {
        Self {
            seq: r.seq,
            at: r.at,
            actor: r.actor,
            action: r.action,
            target: r.target,
            origin: r.origin,
            detail: r.detail,
            prev_hash: r.prev_hash,
            hash: r.hash,
        }
    }
}

#[derive(Debug, Serialize, Deserialize, ToSchema)]
pub struct AuditList {
    pub entries: Vec<AuditEntry>,
}

/// Whether every audit entry still holds.
#[derive(Debug, Serialize, Deserialize, ToSchema)]
pub struct AuditVerdict {
    pub ok: bool,
    /// Entries checked (when `ok`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub entries: Option<u64>,
    /// The first entry that was changed, deleted or unlinked (when not `ok`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub error: Option<String>,
    pub head: Option<i64>,
    pub head_hash: Option<String>,
}

/// One minute of a series: its counters (named by the series' kind) and p95.
#[derive(Debug, Serialize, Deserialize, ToSchema)]
pub struct StatsPoint {
    pub minute_ms: i64,
    pub p95_ms: Option<f64>,
    /// `calls`, `errors`, … for a connector; `received`, `accepted`, … for a source;
    /// `delivered`, `failed`, `dead` for a destination.
    #[serde(flatten)]
    pub counts: BTreeMap<String, u64>,
}

/// The per-minute history of one connector, source or destination.
#[derive(Debug, Serialize, Deserialize, ToSchema)]
pub struct StatsSeries {
    /// `connector`, `source` or `destination`.
    pub kind: String,
    pub name: String,
    pub totals: BTreeMap<String, u64>,
    pub p95_ms: Option<f64>,
    pub points: Vec<StatsPoint>,
}

#[derive(Debug, Serialize, Deserialize, ToSchema)]
pub struct Stats {
    pub since_ms: i64,
    pub series: Vec<StatsSeries>,
}

/// An alert as every process sees it.
#[derive(Debug, Serialize, Deserialize, ToSchema)]
pub struct AlertItem {
    /// `rule/subject`.
    pub key: String,
    pub rule: String,
    pub subject: String,
    /// `info`, `warning` or `critical`.
    pub severity: String,
    /// `firing` or `resolved`.
    pub state: String,
    /// The measured value now (while firing), else when it last changed.
    pub value: f64,
    pub message: String,
    /// When it entered its state, unix ms.
    pub since: i64,
    pub updated_at: i64,
    /// How many times it has fired.
    pub fired_count: i64,
}

impl From<junction_store::ops::AlertRecord> for AlertItem {
    fn from(a: junction_store::ops::AlertRecord) -> Self {
        Self {
            key: a.key,
            rule: a.rule,
            subject: a.subject,
            severity: a.severity,
            state: a.state.to_string(),
            value: a.value,
            message: a.message,
            since: a.since,
            updated_at: a.updated_at,
            fired_count: a.fired_count,
        }
    }
}

#[derive(Debug, Serialize, Deserialize, ToSchema)]
pub struct AlertList {
    /// How many are firing.
    pub firing: usize,
    /// Firing first.
    pub alerts: Vec<AlertItem>,
}

/// An event's metadata.
#[derive(Debug, Serialize, Deserialize, ToSchema)]
pub struct EventItem {
    /// The stored id.
    pub id: i64,
    pub source: String,
    /// The provider's event id.
    pub event_id: String,
    #[serde(rename = "type")]
    pub event_type: String,
    pub key: Option<String>,
    pub sequence: Option<i64>,
    pub received_at_ms: i64,
    /// The body's size in bytes.
    pub size: usize,
}

impl From<&junction_store::StoredEvent> for EventItem {
    fn from(e: &junction_store::StoredEvent) -> Self {
        Self {
            id: e.id,
            source: e.source.clone(),
            event_id: e.external_id.clone(),
            event_type: e.event_type.clone(),
            key: e.entity_key.clone(),
            sequence: e.sequence,
            received_at_ms: e.received_at,
            size: e.payload.len(),
        }
    }
}

#[derive(Debug, Serialize, Deserialize, ToSchema)]
pub struct EventList {
    pub events: Vec<EventItem>,
    /// Pass as `before` for the next page; absent on the last one.
    pub next_before: Option<i64>,
}

/// A delivery of an event, as listed with it.
#[derive(Debug, Serialize, Deserialize, ToSchema)]
pub struct EventDelivery {
    pub id: i64,
    pub route: String,
    pub destination: String,
    pub state: String,
    pub attempts: i32,
    pub last_status: Option<i32>,
    pub last_error: Option<String>,
    pub dead_reason: Option<String>,
}

/// One event: its metadata, trace, kept headers, payload and deliveries.
#[derive(Debug, Serialize, Deserialize, ToSchema)]
pub struct EventDetail {
    #[serde(flatten)]
    pub event: EventItem,
    /// The W3C `traceparent` it arrived in; every delivery attempt continues this trace.
    pub traceparent: Option<String>,
    /// Provider headers its source forwards to destinations.
    pub headers: BTreeMap<String, String>,
    /// The body: JSON as received, anything else as text.
    #[schema(value_type = Object)]
    pub payload: serde_json::Value,
    pub deliveries: Vec<EventDelivery>,
}

/// Where an event field is read: a header or a jq expression.
#[derive(Debug, Serialize, Deserialize, ToSchema)]
pub struct PickView {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub header: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub jq: Option<String>,
}

#[derive(Debug, Serialize, Deserialize, ToSchema)]
pub struct VerifyView {
    /// The verification preset (`standard_webhooks`, `stripe`, `github`, `hmac`, …).
    pub preset: String,
    /// How many secrets (never their values).
    pub secrets: usize,
    pub tolerance_s: u64,
}

#[derive(Debug, Serialize, Deserialize, ToSchema)]
pub struct ExtractView {
    pub id: Option<PickView>,
    #[serde(rename = "type")]
    pub event_type: Option<PickView>,
    pub key: Option<PickView>,
    pub sequence: Option<PickView>,
}

/// A source as configured (never its secrets), its routes and the last five minutes.
#[derive(Debug, Serialize, Deserialize, ToSchema)]
pub struct SourceItem {
    pub name: String,
    /// `webhook` or `sync`.
    pub kind: String,
    /// Where providers send: `/webhooks/NAME` (a sync source takes no requests: `null`).
    pub path: Option<String>,
    /// What a sync source pulls: `connector/operation`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub pulls: Option<String>,
    pub verify: VerifyView,
    /// `json`, `xml` or `form`.
    pub format: String,
    pub event: ExtractView,
    /// Provider headers kept with each event and forwarded.
    pub forward_headers: Vec<String>,
    pub routes: Vec<String>,
    pub last_5_minutes: Option<BTreeMap<String, u64>>,
}

#[derive(Debug, Serialize, Deserialize, ToSchema)]
pub struct SourceList {
    pub sources: Vec<SourceItem>,
}

/// A route as configured.
#[derive(Debug, Serialize, Deserialize, ToSchema)]
pub struct RouteItem {
    pub name: String,
    pub from: String,
    pub types: Vec<String>,
    /// The jq predicate, if any.
    #[serde(rename = "where")]
    pub filter: Option<String>,
    /// `none`, `fifo` or `latest`.
    pub ordering: String,
    /// The mapping applied on the way out.
    pub map: Option<String>,
    pub to: Vec<String>,
}

#[derive(Debug, Serialize, Deserialize, ToSchema)]
pub struct RouteList {
    pub routes: Vec<RouteItem>,
}

/// The caller.
#[derive(Debug, Serialize, Deserialize, ToSchema)]
pub struct WhoAmI {
    /// `token:<id>`, `env-admin-token` or `loopback`.
    pub id: String,
    /// `viewer`, `operator` or `admin`.
    pub role: String,
    /// The client's IP address.
    pub origin: String,
}
