//! Validated sources, destinations and routes. jq expressions are compiled, secrets are read,
//! URLs parsed: the engine never sees an unchecked value.

use std::collections::BTreeMap;
use std::sync::{Arc, OnceLock};
use std::time::Duration;

use junction_transform::Program;

pub use crate::secrets::{HeaderText, Secret, VaultRef};

pub use crate::flow::raw::{
    BodyFormat, HmacAlgorithm, OrderingMode, SignatureEncoding, VerifyPreset,
};

/// A destination's Standard Webhooks signing keys, decoded once when first used (a key from
/// the vault is only known after start-up binds it).
#[derive(Debug, Clone, Default)]
pub struct SigningKeys {
    secrets: Vec<Secret>,
    decoded: Arc<OnceLock<Vec<Vec<u8>>>>,
}

impl SigningKeys {
    pub(crate) fn new(secrets: Vec<Secret>) -> Self {
        Self {
            secrets,
            decoded: Default::default(),
        }
    }

    pub fn keys(&self) -> &[Vec<u8>] {
        self.decoded.get_or_init(|| {
            self.secrets
                .iter()
                .filter_map(|s| crate::standard_key(s.expose()).ok())
                .collect()
        })
    }

    pub fn is_empty(&self) -> bool {
        self.secrets.is_empty()
    }

    pub fn len(&self) -> usize {
        self.secrets.len()
    }
}

/// A webhook source.
#[derive(Debug, Clone)]
pub struct Source {
    pub name: String,
    /// What a `kind: sync` source pulls (`None` for a webhook source).
    pub pull: Option<crate::flow::pull::Pull>,
    /// What a webhook source is reconciled against (its `reconcile:`).
    pub reconcile: Option<crate::flow::pull::Pull>,
    /// How a webhook source's requests are verified (a sync source takes no requests).
    pub verify: Verify,
    pub event: Extract,
    /// The body's format; anything but JSON is decoded to JSON after verification.
    pub format: crate::flow::raw::BodyFormat,
    /// Lower-case names of the provider headers kept with each event and forwarded.
    pub forward_headers: Vec<String>,
    /// The source's own inbound rate limits; `None`: `server.rate_limits.per_source`.
    pub rate_limits: Option<Vec<crate::Rate>>,
    /// Its own retention of delivered events; `None`: `delivery.retention`.
    pub retention: Option<Duration>,
    /// Its payloads and headers sealed at rest; `None`: `store.encrypt_payloads`.
    pub encrypt_payloads: Option<bool>,
    /// Names one of which the caller's client certificate must carry (empty: any caller).
    pub client_certificate: Vec<String>,
}

/// The most headers a source may forward.
pub const MAX_FORWARD_HEADERS: usize = 16;
/// The longest forwarded header value kept; a longer one is left out.
pub const MAX_FORWARD_HEADER_VALUE: usize = 1024;

/// Headers a source cannot forward: the ones each delivery sets itself, the ones that frame the
/// request, and credentials meant for Junction.
pub fn reserved_forward_header(name: &str) -> bool {
    const EXACT: &[&str] = &[
        "authorization",
        "proxy-authorization",
        "cookie",
        "host",
        "content-type",
        "content-length",
        "content-encoding",
        "transfer-encoding",
        "connection",
        "keep-alive",
        "upgrade",
        "te",
        "trailer",
        "expect",
        "user-agent",
        "idempotency-key",
        "traceparent",
        "tracestate",
    ];
    EXACT.contains(&name) || name.starts_with("webhook-") || name.starts_with("junction-")
}

/// How a source's requests are verified.
#[derive(Debug, Clone)]
pub struct Verify {
    pub preset: VerifyPreset,
    pub secrets: Vec<Secret>,
    pub public_keys: Vec<Secret>,
    pub tolerance: Duration,
    pub header: Option<String>,
    pub prefix: String,
    pub encoding: SignatureEncoding,
    pub algorithm: HmacAlgorithm,
    pub signed_content: String,
    pub timestamp_header: Option<String>,
    pub username: Option<String>,
    pub password: Option<Secret>,
}

impl Verify {
    /// Nothing verified (a source that takes no requests).
    pub fn none() -> Self {
        Verify {
            preset: VerifyPreset::None,
            secrets: Vec::new(),
            public_keys: Vec::new(),
            tolerance: Duration::ZERO,
            header: None,
            prefix: String::new(),
            encoding: SignatureEncoding::default(),
            algorithm: HmacAlgorithm::default(),
            signed_content: "{body}".into(),
            timestamp_header: None,
            username: None,
            password: None,
        }
    }
}

/// Where one event field comes from.
#[derive(Debug, Clone, PartialEq)]
pub enum Pick {
    /// A request header (case-insensitive).
    Header(String),
    /// A jq expression over the JSON body.
    Jq(Program),
}

impl Pick {
    /// True when the body must be JSON to read this field.
    pub fn needs_body(&self) -> bool {
        matches!(self, Pick::Jq(_))
    }
}

/// Where the event's fields are found; `None` means "not given".
#[derive(Debug, Clone, Default)]
pub struct Extract {
    /// `None`: the SHA-256 of the body is the id.
    pub id: Option<Pick>,
    pub event_type: Option<Pick>,
    pub key: Option<Pick>,
    pub sequence: Option<Pick>,
    /// The data subject(s) the event is about, for erasure.
    pub subject: Option<Pick>,
}

/// An HTTP destination.
#[derive(Debug, Clone)]
pub struct Destination {
    pub name: String,
    /// Where deliveries go: a URL, or a connector's operation.
    pub target: Target,
    /// `POST`, `PUT` or `PATCH` (URL destinations).
    pub method: http::Method,
    /// Extra headers of every delivery; credentials among them come from `env:` or the vault.
    pub headers: Vec<(http::HeaderName, HeaderText)>,
    pub timeout: Duration,
    pub concurrency: usize,
    /// Standard Webhooks signing secrets (decoded key bytes); empty means unsigned.
    pub signing: SigningKeys,
    /// Attempts, backoff and which answers are retried (`retry.statuses` included).
    pub retry: junction_resilience::RetryPolicy,
    pub circuit: junction_resilience::CircuitPolicy,
    /// The model every body sent here must satisfy.
    pub model: Option<junction_transform::ModelRef>,
    /// Overrides of `delivery.dead_letter_retention` and `.quarantine_retention`.
    pub dead_letter_retention: Option<Duration>,
    pub quarantine_retention: Option<Duration>,
    /// The authorities trusted and the client certificate presented (`tls:`, URL targets).
    pub tls: crate::OutboundTls,
}

impl Destination {
    /// How long its dead letters (or quarantined deliveries) are kept: its own setting, else
    /// `delivery`'s. Zero keeps them until an operator acts.
    pub fn parked_retention(&self, delivery: &Delivery, quarantined: bool) -> Duration {
        if quarantined {
            self.quarantine_retention
                .unwrap_or(delivery.quarantine_retention)
        } else {
            self.dead_letter_retention
                .unwrap_or(delivery.dead_letter_retention)
        }
    }
}

/// Where a destination's deliveries go.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Target {
    /// An HTTP endpoint, sent the event with Standard Webhooks headers.
    Url(url::Url),
    /// A connector's operation (checked to exist at load): the delivery goes through the
    /// connector's credentials (of `connection`), quota, retries and circuit.
    Operation {
        connector: String,
        operation: String,
        connection: String,
    },
}

impl Target {
    /// As shown to operators: the URL without its query, or `connector crm, operation upsert`.
    pub fn describe(&self) -> String {
        match self {
            Target::Url(u) => format!("{}{}", u.origin().ascii_serialization(), u.path()),
            Target::Operation {
                connector,
                operation,
                connection,
            } if connection == "default" => {
                format!("connector {connector}, operation {operation}")
            }
            Target::Operation {
                connector,
                operation,
                connection,
            } => format!("connector {connector}, operation {operation}, connection {connection}"),
        }
    }
}

/// A route.
#[derive(Debug, Clone)]
pub struct Route {
    pub name: String,
    pub from: String,
    /// Type patterns, `*` matching any run of characters.
    pub types: Vec<String>,
    pub filter: Option<Program>,
    pub ordering: OrderingMode,
    pub reorder_window: Duration,
    pub to: Vec<String>,
    /// The mapping applied before delivery (a name under `mappings:`).
    pub map: Option<String>,
    /// A move from `map` to a candidate mapping.
    pub rollout: Option<crate::rollout::Rollout>,
}

impl Route {
    /// Whether `event_type` matches one of the route's patterns.
    pub fn matches_type(&self, event_type: &str) -> bool {
        self.types.iter().any(|p| glob(p, event_type))
    }
}

/// Delivery worker settings.
#[derive(Debug, Clone)]
pub struct Delivery {
    pub poll_interval: Duration,
    pub lease: Duration,
    pub retention: Duration,
    /// Zero: kept until an operator acts.
    pub dead_letter_retention: Duration,
    pub quarantine_retention: Duration,
}

/// Sources, destinations and routes together.
#[derive(Debug, Clone, Default)]
pub struct Flows {
    pub sources: BTreeMap<String, Source>,
    pub destinations: BTreeMap<String, Destination>,
    pub routes: BTreeMap<String, Route>,
}

/// `*` matches any run of characters (dots included); everything else matches itself.
pub fn glob(pattern: &str, text: &str) -> bool {
    let parts: Vec<&str> = pattern.split('*').collect();
    if parts.len() == 1 {
        return pattern == text;
    }
    let (first, last) = (parts[0], parts[parts.len() - 1]);
    if !text.starts_with(first) || text.len() < first.len() + last.len() || !text.ends_with(last) {
        return false;
    }
    let mut rest = &text[first.len()..text.len() - last.len()];
    for mid in &parts[1..parts.len() - 1] {
        match rest.find(mid) {
            Some(i) => rest = &rest[i + mid.len()..],
            None => return false,
        }
    }
    true
}

#[cfg(test)]
mod tests {
    use super::glob;

    #[test]
    fn globs_match_like_shells_without_separators() {
        assert!(glob("*", "anything.at.all"));
        assert!(glob("customer.*", "customer.updated"));
        assert!(!glob("customer.*", "order.updated"));
        assert!(glob("*.created", "invoice.payment.created"));
        assert!(glob("a*b*c", "a--b--c"));
        assert!(!glob("a*b*c", "a--c--b"));
        assert!(glob("exact", "exact"));
        assert!(!glob("ab*ba", "aba"));
    }
}
