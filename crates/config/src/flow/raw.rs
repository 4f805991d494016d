//! The event sections of `junction.yaml` as written: sources (webhooks in), destinations (HTTP
//! endpoints out) and routes (which events go where, in what order).

use std::collections::BTreeMap;

use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

pub use crate::resilience::{RawCircuit, RawRetry};
use crate::units::HumanDuration;

/// A source: where events come from.
#[derive(Debug, Deserialize, Serialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct RawSource {
    /// A provider template whose `source:` part this source starts from (its verification
    /// preset and event fields); fields written here override it.
    #[serde(default)]
    pub template: Option<String>,
    /// The template's variables.
    #[serde(default)]
    pub vars: std::collections::BTreeMap<String, serde_json::Value>,
    /// `webhook`: providers POST events to `/webhooks/{name}`. `sync`: Junction pulls a
    /// connector's list operation on a schedule (a job with `sync: { source: … }`).
    pub kind: SourceKind,
    /// How each request proves it comes from the provider (webhook sources).
    #[serde(default)]
    pub verify: Option<RawVerify>,
    /// What a sync source pulls, and how its records become events.
    #[serde(default)]
    pub sync: Option<crate::flow::pull::RawPull>,
    /// A webhook source's safety net: the vendor's list operation that a `reconcile:` job reads
    /// and compares, per entity key, with the newest version webhooks brought (`event.key`,
    /// `event.sequence`); what webhooks missed is emitted through the same routes.
    #[serde(default)]
    pub reconcile: Option<crate::flow::pull::RawPull>,
    /// Where the event's id, type, entity key and sequence are found. Each is `header:NAME` or a
    /// jq expression over the JSON body (`.data.object.id`). The preset gives defaults.
    #[serde(default)]
    pub event: RawExtract,
    /// The body's format: `json` (default), `xml` or `form` (`application/x-www-form-urlencoded`).
    /// Other formats are decoded to JSON (see the README's XML convention) for extraction,
    /// routes' predicates and mappings, and delivered as JSON; the event keeps the body as received.
    #[serde(default)]
    pub format: BodyFormat,
    /// Provider headers kept with each event and sent on with every delivery of it
    /// (`[X-GitHub-Event, X-GitHub-Delivery]`), for receivers that read them. At most 16 names;
    /// a value longer than 1,024 bytes is not kept. Junction's own delivery headers
    /// (`webhook-*`, `junction-*`, `content-type`, …) and credentials (`authorization`,
    /// `cookie`) cannot be forwarded.
    #[serde(default)]
    pub forward_headers: Vec<String>,
    /// Webhooks this source accepts, per process (`[ 500/s ]`; `[]`: no limit); over it a
    /// request is answered 429 with `Retry-After` before it is verified. Default:
    /// `server.rate_limits.per_source`.
    #[serde(default)]
    pub rate_limits: Option<Vec<String>>,
    /// How long this source's delivered events are kept (default `delivery.retention`; `0s`
    /// keeps them).
    #[serde(default)]
    pub retention: Option<HumanDuration>,
    /// Seal this source's payloads and headers at rest (default `store.encrypt_payloads`).
    #[serde(default)]
    pub encrypt_payloads: Option<bool>,
    /// Accept only requests whose TLS client certificate carries one of these names (common
    /// name, DNS name or URI), besides `verify`. Needs `server.tls.client_ca`.
    #[serde(default)]
    pub client_certificate: Vec<String>,
}

/// A body format Junction decodes into JSON.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Deserialize, Serialize, JsonSchema)]
#[serde(rename_all = "snake_case")]
pub enum BodyFormat {
    #[default]
    Json,
    Xml,
    Form,
}

impl BodyFormat {
    /// Decodes a body into JSON text; `None` for JSON, which needs no decoding.
    pub fn to_json(self, body: &[u8]) -> Option<Result<Vec<u8>, String>> {
        use junction_transform::codec::{decode, Format};
        let format = match self {
            BodyFormat::Json => return None,
            BodyFormat::Xml => Format::Xml,
            BodyFormat::Form => Format::Form,
        };
        Some(decode(format, body).and_then(|v| serde_json::to_vec(&v).map_err(|e| e.to_string())))
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize, Serialize, JsonSchema)]
#[serde(rename_all = "snake_case")]
pub enum SourceKind {
    Webhook,
    Sync,
}

/// Signature verification of inbound webhooks.
#[derive(Debug, Deserialize, Serialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct RawVerify {
    /// The provider's scheme: `standard_webhooks`, `stripe`, `github`, `shopify`, `slack`, `hmac`
    /// (generic, configured below), `basic` (HTTP basic auth) or `none` (explicitly unverified).
    pub preset: VerifyPreset,
    /// Signing secrets, each `env:NAME` (never written inline). Several are accepted at once while
    /// a secret is rotated. Standard Webhooks secrets are `whsec_…` (base64).
    #[serde(default)]
    pub secrets: Vec<String>,
    /// Standard Webhooks `v1a` (Ed25519) public keys, each `env:NAME` holding `whpk_…` (base64).
    #[serde(default)]
    pub public_keys: Vec<String>,
    /// How far a signed timestamp may be from now before the request is refused as a replay.
    #[serde(default = "default_tolerance")]
    pub tolerance: HumanDuration,
    /// `hmac`: the header carrying the signature, e.g. `X-Signature`.
    #[serde(default)]
    pub header: Option<String>,
    /// `hmac`: text before the signature in the header, e.g. `sha256=`.
    #[serde(default)]
    pub prefix: Option<String>,
    /// `hmac`: how the signature is written.
    #[serde(default)]
    pub encoding: Option<SignatureEncoding>,
    /// `hmac`: the hash.
    #[serde(default)]
    pub algorithm: Option<HmacAlgorithm>,
    /// `hmac`: what is signed, with `{body}`, `{timestamp}` and `{header:NAME}` placeholders.
    /// Default `{body}`.
    #[serde(default)]
    pub signed_content: Option<String>,
    /// `hmac`: the header carrying the signed timestamp (Unix seconds), checked against `tolerance`.
    #[serde(default)]
    pub timestamp_header: Option<String>,
    /// `basic`: the expected user name.
    #[serde(default)]
    pub username: Option<String>,
    /// `basic`: the expected password, `env:NAME`.
    #[serde(default)]
    pub password: Option<String>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize, Serialize, JsonSchema)]
#[serde(rename_all = "snake_case")]
pub enum VerifyPreset {
    StandardWebhooks,
    Stripe,
    Github,
    Shopify,
    Slack,
    Hmac,
    Basic,
    None,
}

#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Deserialize, Serialize, JsonSchema)]
#[serde(rename_all = "snake_case")]
pub enum SignatureEncoding {
    #[default]
    Hex,
    Base64,
}

#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Deserialize, Serialize, JsonSchema)]
#[serde(rename_all = "snake_case")]
pub enum HmacAlgorithm {
    Sha1,
    #[default]
    Sha256,
    Sha512,
}

/// Where the event's fields are: `header:NAME` or a jq expression over the body.
#[derive(Debug, Default, Deserialize, Serialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct RawExtract {
    /// The provider's event id; a repeat is a duplicate. Without one (and no preset default) the
    /// SHA-256 of the body is the id, so identical bodies are duplicates.
    #[serde(default)]
    pub id: Option<String>,
    /// The event type, matched by routes' `types`.
    #[serde(default, rename = "type")]
    pub event_type: Option<String>,
    /// The entity the event is about, for ordering (`.data.object.customer`).
    #[serde(default)]
    pub key: Option<String>,
    /// The event's position among its entity's events: an integer, or an RFC 3339 timestamp.
    #[serde(default)]
    pub sequence: Option<String>,
    /// The data subject the event is about (`.data.object.customer`), so `junction erase
    /// --subject` finds it: a string or number, or an array of them (`[.customer.id,
    /// .customer.email]`, at most 8). Only its SHA-256 is kept.
    #[serde(default)]
    pub subject: Option<String>,
}

/// An HTTP endpoint routes deliver to.
#[derive(Debug, Deserialize, Serialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct RawDestination {
    /// `http://` or `https://` URL (or `connector` and `operation` instead).
    #[serde(default)]
    pub url: Option<String>,
    /// Deliver into a vendor's API: the connector (its credentials, quota, retries, circuit)…
    #[serde(default)]
    pub connector: Option<String>,
    /// …and its operation the event's body is the input of (parameters by name, request model
    /// and mapping).
    #[serde(default)]
    pub operation: Option<String>,
    /// The connection of a multi-tenant connector (`oauth2_refresh_token`) to deliver with
    /// (default `default`).
    #[serde(default)]
    pub connection: Option<String>,
    /// HTTP method of a URL destination (default POST).
    #[serde(default)]
    pub method: Option<String>,
    /// Extra headers sent with every delivery (use `${VAR}` for credentials).
    #[serde(default)]
    pub headers: BTreeMap<String, String>,
    /// How long one attempt may take.
    #[serde(default = "default_timeout")]
    pub timeout: HumanDuration,
    /// Most attempts in flight at once, per process.
    #[serde(default = "default_concurrency")]
    pub concurrency: u32,
    /// Sign deliveries with Standard Webhooks headers.
    #[serde(default)]
    pub signing: Option<RawSigning>,
    /// When to try again.
    #[serde(default)]
    pub retry: RawRetry,
    /// When to stop trying for a while.
    #[serde(default)]
    pub circuit: RawCircuit,
    /// The older place of `retry.statuses` (extra 4xx statuses to retry); still read.
    #[serde(default)]
    pub retry_statuses: Vec<u16>,
    /// TLS towards a URL destination: `ca` (a PEM file of the authorities to trust instead of
    /// the platform's), `client_cert` and `client_key` (`secret:NAME`) for mutual TLS.
    #[serde(default)]
    pub tls: Option<crate::outbound_tls::RawOutboundTls>,
    /// The model (`customer@2`) every delivery's body must satisfy; a body that does not is
    /// quarantined instead of sent.
    #[serde(default)]
    pub model: Option<String>,
    /// How long this destination's dead letters are kept (default `delivery.dead_letter_retention`).
    #[serde(default)]
    pub dead_letter_retention: Option<HumanDuration>,
    /// How long its quarantined deliveries are kept (default `delivery.quarantine_retention`).
    #[serde(default)]
    pub quarantine_retention: Option<HumanDuration>,
}

/// Standard Webhooks signing of deliveries (`webhook-id`, `webhook-timestamp`, `webhook-signature`).
#[derive(Debug, Deserialize, Serialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct RawSigning {
    /// Signing secrets (`env:NAME`, each `whsec_…` base64). With several, every delivery carries
    /// one signature per secret, so the receiver can rotate.
    pub secrets: Vec<String>,
}

/// A route: events from one source, of some types, to destinations.
#[derive(Debug, Deserialize, Serialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct RawRoute {
    /// The source's name.
    pub from: String,
    /// Event types, with `*` as a wildcard (`customer.*`). Default: all.
    #[serde(default = "default_types")]
    pub types: Vec<String>,
    /// A jq predicate over the body; the event goes this way only when it is true.
    #[serde(default, rename = "where")]
    pub filter: Option<String>,
    /// `none` (parallel), `fifo` (strict order per entity key) or `latest` (skip events older
    /// than the newest delivered for their key).
    #[serde(default)]
    pub ordering: OrderingMode,
    /// Ordered routes: hold each event this long before its first attempt, so events that arrive
    /// slightly out of order are put back in order.
    #[serde(default)]
    pub reorder_window: Option<HumanDuration>,
    /// Destination names.
    pub to: Vec<String>,
    /// A mapping (under `mappings:`) applied to the event's body before delivery. An event the
    /// mapping fails on, or whose output breaks the mapping's model, is quarantined, not sent.
    #[serde(default)]
    pub map: Option<String>,
    /// Moves the route from its `map` to a `candidate` mapping: `shadow` (both run, the
    /// candidate's output compared and differences recorded as drift), `canary` (`percent` of
    /// event keys mapped by the candidate), `switch`; rolled back by itself when the candidate
    /// quarantines more than the stable mapping.
    #[serde(default)]
    pub rollout: Option<crate::rollout::RawRollout>,
}

#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Deserialize, Serialize, JsonSchema)]
#[serde(rename_all = "snake_case")]
pub enum OrderingMode {
    #[default]
    None,
    Fifo,
    Latest,
}

fn default_tolerance() -> HumanDuration {
    HumanDuration(std::time::Duration::from_secs(300))
}
fn default_timeout() -> HumanDuration {
    HumanDuration(std::time::Duration::from_secs(10))
}
fn default_concurrency() -> u32 {
    32
}
fn default_types() -> Vec<String> {
    vec!["*".into()]
}

/// How this process runs deliveries.
#[derive(Debug, Deserialize, Serialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct RawDelivery {
    /// How often each destination looks for due work when nothing woke it (other processes'
    /// events, retries coming due). Events received by this process start at once.
    #[serde(default = "default_poll")]
    pub poll_interval: HumanDuration,
    /// How long a claimed delivery is held before another process may take it; renewed every
    /// third of it while the attempt runs, so this is how soon the work of a process that died
    /// is taken over. Default 6s; at least 5s.
    #[serde(default = "default_lease")]
    pub lease: HumanDuration,
    /// Delivered events, their deliveries and attempts are deleted after this long (dead letters
    /// and quarantined deliveries are kept for their own retention). `0s` keeps everything.
    #[serde(default = "default_retention")]
    pub retention: HumanDuration,
    /// A dead letter not replayed or discarded within this long is discarded (reason
    /// `expired …`), so its `fifo` key flows again, and then deleted with its event like a
    /// delivered one. A destination's `dead_letter_retention` overrides it. `0s` keeps them until
    /// an operator acts. Default 90d.
    #[serde(default = "default_parked_retention")]
    pub dead_letter_retention: HumanDuration,
    /// The same for quarantined deliveries (`quarantine_retention` per destination). Default 90d.
    #[serde(default = "default_parked_retention")]
    pub quarantine_retention: HumanDuration,
}

impl Default for RawDelivery {
    fn default() -> Self {
        Self {
            poll_interval: default_poll(),
            lease: default_lease(),
            retention: default_retention(),
            dead_letter_retention: default_parked_retention(),
            quarantine_retention: default_parked_retention(),
        }
    }
}

fn default_poll() -> HumanDuration {
    HumanDuration(std::time::Duration::from_millis(500))
}
fn default_lease() -> HumanDuration {
    HumanDuration(std::time::Duration::from_secs(6))
}
fn default_retention() -> HumanDuration {
    HumanDuration(std::time::Duration::from_secs(7 * 24 * 3600))
}
fn default_parked_retention() -> HumanDuration {
    HumanDuration(std::time::Duration::from_secs(90 * 24 * 3600))
}
