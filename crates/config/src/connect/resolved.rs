//! Connectors, validated: every URL parsed, every secret reference collected, every default applied.

use std::collections::BTreeMap;
use std::time::Duration;

pub use crate::connect::operation::{
    BodyEncoding, BodyPosition, Message, Operation, PageStyle, Paginate,
};
pub use crate::connect::raw::{CacheMode, ClientAuth, JwtAlgorithm};
pub use crate::connect::versions::{ApiVersion, Versions};
pub use crate::flow::raw::{HmacAlgorithm, SignatureEncoding};
pub use crate::rollout::{Rollout, Sticky};
use crate::Secret;

/// One third-party API.
#[derive(Debug, Clone)]
pub struct Connector {
    pub name: String,
    /// Scheme, host and port: the only origin calls may reach.
    pub base_url: url::Url,
    /// The path prefix calls cannot leave, without a trailing `/` (`""` for the root), including
    /// a version path pin.
    pub base_path: String,
    /// A version header to send (`API-Version: 2024-06-01`).
    pub version_header: Option<(http::HeaderName, http::HeaderValue)>,
    /// Static headers of every call (never credentials).
    pub headers: http::HeaderMap,
    pub timeouts: Timeouts,
    pub auth: Option<OutboundAuth>,
    pub quotas: Vec<Rate>,
    /// Each connection's own limits (per tenant account), besides `quotas`.
    pub connection_quotas: Vec<Rate>,
    /// The destination told of each connection's changes.
    pub connection_events: Option<String>,
    /// The vendor's own rate-limit headers, read beside the standard ones.
    pub rate_limit_headers: Option<junction_resilience::VendorHeaders>,
    /// What calls cost at a vendor that meters by cost.
    pub cost: Cost,
    /// Where the vendor writes errors into a successful answer (GraphQL).
    pub errors_in_answer: Option<AnswerErrors>,
    /// Arrival jitter each quota window allows for (see `quota_jitter` in the config).
    pub quota_jitter: Duration,
    pub concurrency: u32,
    pub max_wait: Duration,
    pub retry: junction_resilience::RetryPolicy,
    /// The vendor's idempotency header (`Idempotency-Key`), added to POST and PATCH calls.
    pub idempotency_header: Option<http::HeaderName>,
    pub circuit: junction_resilience::CircuitPolicy,
    /// While the circuit is open, GETs get the last good cached answer (`fallback: stale`).
    pub stale_fallback: bool,
    pub cache: Option<Cache>,
    pub operations: BTreeMap<String, Operation>,
    /// Several API versions and the rollout between them; `None`: the one version `base_path`
    /// and `version_header` pin.
    pub versions: Option<crate::connect::versions::Versions>,
    /// `Some` for a SOAP connector: operations are called by name, JSON in and out.
    pub soap: Option<Soap>,
    /// The authorities trusted and the client certificate presented (`tls:`).
    pub tls: crate::OutboundTls,
    /// Unified resources (`crm/contacts`) this connector serves, by its operations.
    pub unified: BTreeMap<String, Unified>,
}

/// What a call costs in the quotas' points, and where the vendor says what it really cost.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Cost {
    /// Points of a call that names no cost (every `/proxy` call, operations without `cost`).
    pub default: u32,
    /// What the call really cost.
    pub actual: Option<CostField>,
    /// Points the vendor says are left.
    pub left: Option<CostField>,
    /// The vendor's limit those points are left of (which of `quotas` it speaks of).
    pub limit: Option<CostField>,
}

impl Default for Cost {
    fn default() -> Self {
        Self {
            default: 1,
            actual: None,
            left: None,
            limit: None,
        }
    }
}

impl Cost {
    /// Whether anything is read from answers.
    pub fn reads_answers(&self) -> bool {
        self.actual.is_some() || self.left.is_some()
    }
}

/// Where a vendor writes errors into a successful answer.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AnswerErrors {
    /// The field with the errors, its name as written in JSON (for a quick look before parsing).
    pub field: Vec<String>,
    pub code: Vec<String>,
    pub message: Vec<String>,
    pub rate_limited: Vec<String>,
}

/// Where an answer carries a figure: a header, or a field of its JSON body.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum CostField {
    Header(http::HeaderName),
    /// A dotted path (`extensions.cost.actualQueryCost`).
    Body(Vec<String>),
}

/// The operations behind one unified resource of a connector.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Unified {
    /// The paginated list operation.
    pub list: Option<String>,
    /// The read-one operation and the parameter that takes the id.
    pub get: Option<(String, String)>,
    /// The canonical model both answer (`contact@1`), when they name one.
    pub model: Option<String>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Timeouts {
    pub connect: Duration,
    pub attempt: Duration,
    pub total: Duration,
}

/// `limit` calls per `window`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Rate {
    pub limit: u32,
    pub window: Duration,
}

impl std::fmt::Display for Rate {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            f,
            "{}/{}",
            self.limit,
            humantime::format_duration(self.window)
        )
    }
}

/// How Junction authenticates to the API.
#[derive(Debug, Clone)]
pub enum OutboundAuth {
    ApiKey {
        place: KeyPlace,
        key: Secret,
    },
    Basic {
        username: String,
        password: Secret,
    },
    Bearer {
        token: Secret,
    },
    OAuth2 {
        grant: Grant,
        oauth: OAuth,
    },
    JwtBearer {
        jwt: JwtBearer,
        lifetime: TokenLifetime,
    },
    Hmac(HmacSigning),
}

impl OutboundAuth {
    /// The scheme's name as written in the config (`oauth2_client_credentials`).
    pub fn kind(&self) -> &'static str {
        match self {
            OutboundAuth::ApiKey { .. } => "api_key",
            OutboundAuth::Basic { .. } => "basic",
            OutboundAuth::Bearer { .. } => "bearer",
            OutboundAuth::OAuth2 {
                grant: Grant::ClientCredentials,
                ..
            } => "oauth2_client_credentials",
            OutboundAuth::OAuth2 {
                grant: Grant::RefreshToken,
                ..
            } => "oauth2_refresh_token",
            OutboundAuth::JwtBearer { .. } => "jwt_bearer",
            OutboundAuth::Hmac(_) => "hmac",
        }
    }

    /// Whether the scheme obtains tokens that the token manager keeps and refreshes.
    pub fn uses_tokens(&self) -> bool {
        matches!(
            self,
            OutboundAuth::OAuth2 { .. } | OutboundAuth::JwtBearer { .. }
        )
    }

    /// Whether the credentials are seeded per connection (`junction connections set-token`).
    pub fn seeded(&self) -> bool {
        matches!(
            self,
            OutboundAuth::OAuth2 {
                grant: Grant::RefreshToken,
                ..
            }
        )
    }
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum KeyPlace {
    Header(String),
    Query(String),
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Grant {
    ClientCredentials,
    RefreshToken,
}

#[derive(Debug, Clone)]
pub struct OAuth {
    pub token_url: url::Url,
    /// Where end users authorize (guided connect); refresh token grant only.
    pub authorize_url: Option<url::Url>,
    pub client_id: String,
    pub client_secret: Option<Secret>,
    pub scopes: Vec<String>,
    pub client_auth: ClientAuth,
    pub lifetime: TokenLifetime,
}

#[derive(Debug, Clone, Copy, PartialEq)]
pub struct TokenLifetime {
    /// Fraction of the lifetime after which the token is refreshed.
    pub refresh_at: f64,
    pub default_lifetime: Duration,
    pub reauth_after: u32,
}

#[derive(Debug, Clone)]
pub struct JwtBearer {
    pub token_url: url::Url,
    pub issuer: String,
    pub subject: String,
    pub audience: String,
    pub private_key: Secret,
    pub algorithm: JwtAlgorithm,
    pub key_id: Option<String>,
    pub scopes: Vec<String>,
}

#[derive(Debug, Clone)]
pub struct HmacSigning {
    pub header: String,
    pub secret: Secret,
    pub algorithm: HmacAlgorithm,
    pub encoding: SignatureEncoding,
    pub prefix: String,
    pub signed: String,
    pub timestamp_header: Option<String>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Cache {
    /// `None`: RFC 9111 semantics; `Some(ttl)`: every 2xx GET kept for `ttl`.
    pub ttl: Option<Duration>,
    pub max_size: u64,
    pub max_entry: u64,
}

/// A SOAP connector's settings.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Soap {
    pub version: junction_transform::codec::soap::Version,
    pub namespace: Option<String>,
}
