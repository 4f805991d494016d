//! The `connectors:` section as written: third-party APIs Junction calls for internal services
//! (`/proxy/{connector}/…`), with their credentials, quotas, retries, circuit and cache.

use std::collections::BTreeMap;

use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

pub use crate::connect::operation::{RawMessage, RawOperation, RawPaginate};
pub use crate::resilience::{Fallback, RawCircuit, RawRetry};
use crate::units::{ByteSize, HumanDuration, Ratio};

/// One third-party API.
#[derive(Debug, Deserialize, Serialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct RawConnector {
    /// A provider template this connector starts from: a built-in one (`hubspot`, `stripe`, …;
    /// `junction connectors templates` lists them) or a file (`./templates/acme.yaml`). Fields
    /// written here override the template's.
    #[serde(default)]
    pub template: Option<String>,
    /// The template's variables (`junction connectors template NAME` lists them).
    #[serde(default)]
    pub vars: BTreeMap<String, serde_json::Value>,
    /// `rest` (the default): `/proxy/{connector}/{path}` relays HTTP calls. `soap`:
    /// `POST /proxy/{connector}/{operation}` with JSON becomes a SOAP call and a JSON answer.
    #[serde(default)]
    pub kind: ConnectorKind,
    /// SOAP settings (for `kind: soap`).
    #[serde(default)]
    pub soap: Option<RawSoap>,
    /// The API's root, e.g. `https://api.example.com/v1`. Its host is the only host calls may
    /// reach, and its path the prefix they cannot leave.
    pub base_url: String,
    /// The API version to pin: `{ header: API-Version, value: "2024-06-01" }` or `{ path: /v2 }`.
    #[serde(default)]
    pub version: Option<RawVersion>,
    /// Headers sent with every call (use `${VAR}` for non-secret values; credentials go in `auth`).
    #[serde(default)]
    pub headers: BTreeMap<String, String>,
    /// Time limits of each call.
    #[serde(default)]
    pub timeouts: RawTimeouts,
    /// How Junction authenticates to the API.
    #[serde(default)]
    pub auth: Option<RawAuth>,
    /// Rate limits Junction keeps to, e.g. `[ 10/s, 1000/min, 50000/day ]`. A call over quota
    /// waits (in arrival order) up to `max_wait`, then is answered 429 by Junction.
    #[serde(default)]
    pub quotas: Vec<String>,
    /// A margin added to every quota window's length (none by default). A call counts in the
    /// windows from its admission until its answer and for a whole window after, which keeps
    /// any API that counts a call between receiving and answering it within the quota; a
    /// margin covers one that counts later than it answers. It costs `quota_jitter / window`
    /// of throughput (5 % of a per-second quota with 50ms).
    #[serde(default = "default_quota_jitter")]
    pub quota_jitter: HumanDuration,
    /// Rate limits of each connection (each tenant's own account), besides `quotas` for the
    /// whole connector: a vendor that limits per account (HubSpot: 100 calls per 10 seconds per
    /// account) is written here, so one tenant's burst never spends another's. The vendor's
    /// rate-limit headers then teach each connection's quota. A connector without connections
    /// per tenant has one, `default`.
    #[serde(default)]
    pub connection_quotas: Vec<String>,
    /// A destination (under `destinations:`) told of each connection's changes: connected
    /// (an end user connected or reconnected), needs re-authorization (the vendor keeps refusing
    /// its refresh), revoked. For connectors whose credentials are tokens (OAuth2, JWT bearer).
    #[serde(default)]
    pub connection_events: Option<String>,
    /// The vendor's own rate-limit headers, when it does not send the standard `RateLimit` or
    /// `X-RateLimit-Remaining`/`-Reset`: `{ remaining: X-HubSpot-RateLimit-Remaining, window:
    /// 10s }` or `{ used_of_limit: X-Shopify-Shop-Api-Call-Limit, window: 1s }`. Junction then
    /// pauses when the vendor says nothing is left, as with the standard headers.
    #[serde(default)]
    pub rate_limit_headers: Option<RawRateLimitHeaders>,
    /// A vendor that meters by cost (points per call, by endpoint or by what a query touched):
    /// `quotas` count points, each operation says what it costs (`cost: 50`), and here is what a
    /// call without one costs and where the vendor's answer says what a call really cost and
    /// how many points are left (Shopify GraphQL: `actual: extensions.cost.actualQueryCost`,
    /// `left: extensions.cost.throttleStatus.currentlyAvailable`).
    #[serde(default)]
    pub cost: Option<RawCost>,
    /// A vendor that answers errors with `200` (GraphQL's `errors`): an answer to an
    /// operation carrying them is an error, not a result — `rate_limited` codes a 429 the
    /// caller may retry, others a 502 `upstream_refused` quoting the vendor.
    #[serde(default)]
    pub errors_in_answer: Option<RawAnswerErrors>,
    /// Allow a base URL on a link-local address (169.254.0.0/16, fe80::/10) or a cloud metadata
    /// name: those serve instance credentials, so they are refused unless said explicitly.
    #[serde(default)]
    pub allow_link_local: bool,
    /// TLS towards the API: `ca` (a PEM file of the authorities to trust instead of the
    /// platform's), `client_cert` and `client_key` (`secret:NAME`) for mutual TLS.
    #[serde(default)]
    pub tls: Option<crate::outbound_tls::RawOutboundTls>,
    /// Most calls in flight to this API at once.
    #[serde(default = "default_concurrency")]
    pub concurrency: u32,
    /// How long a call may wait for quota or a concurrency slot before Junction answers 429.
    #[serde(default = "default_max_wait")]
    pub max_wait: HumanDuration,
    /// When a failed call is tried again.
    #[serde(default)]
    pub retry: RawRetry,
    /// When to stop calling a failing API for a while.
    #[serde(default)]
    pub circuit: RawCircuit,
    /// Caching of GET responses (off unless set).
    #[serde(default)]
    pub cache: Option<RawCache>,
    /// Named calls (`get_customer: { method: GET, path: "/customers/{id}" }`), called by
    /// internal services at `POST /ops/{connector}/{operation}` in canonical shapes.
    #[serde(default)]
    pub operations: BTreeMap<String, RawOperation>,
    /// Resources of unified categories this connector serves, by its operations:
    /// `"crm/contacts": { list: list_contacts, get: get_contact }`. `GET /unified/crm/contacts?
    /// connection=NAME` then answers the same canonical records whichever connector it names;
    /// every connector serving a resource must answer the same model.
    #[serde(default)]
    pub unified: BTreeMap<String, RawUnified>,
    /// Several API versions side by side (`v1: { path: /v1 }`, `v2: { header: API-Version,
    /// value: "2024-06-01", operations: {…} }`), each with its own operations' mappings; the
    /// `rollout` says which one calls use. Replaces `version`.
    #[serde(default)]
    pub versions: BTreeMap<String, crate::connect::versions::RawApiVersion>,
    /// How calls move from the `stable` version to the `candidate`: `pin`, `shadow`, `canary`
    /// (sticky by entity key or caller), `switch`, with an automatic rollback.
    #[serde(default)]
    pub rollout: Option<crate::rollout::RawRollout>,
}

/// The operations behind one unified resource.
#[derive(Debug, Deserialize, Serialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct RawUnified {
    /// The paginated operation that lists the resource.
    #[serde(default)]
    pub list: Option<String>,
    /// The operation that reads one by id (it takes exactly one parameter: the id).
    #[serde(default)]
    pub get: Option<String>,
}

/// Where a vendor writes errors into a successful answer.
#[derive(Debug, Deserialize, Serialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct RawAnswerErrors {
    /// The field with the errors (default `errors`): a list of them, or one. Absent, `null`,
    /// `false` or empty: no error.
    #[serde(default)]
    pub field: Option<String>,
    /// In each error, its code (default `extensions.code`).
    #[serde(default)]
    pub code: Option<String>,
    /// In each error, its message (default `message`).
    #[serde(default)]
    pub message: Option<String>,
    /// Codes that mean the vendor's rate limit or cost budget is spent (Shopify: `THROTTLED`).
    #[serde(default)]
    pub rate_limited: Vec<String>,
}

/// What calls cost and where the vendor says so.
#[derive(Debug, Deserialize, Serialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct RawCost {
    /// Points of a call that names no cost (`/proxy` calls, operations without `cost`).
    #[serde(default = "default_cost")]
    pub default: u32,
    /// Where an answer says what the call really cost: a field of its JSON body
    /// (`extensions.cost.actualQueryCost`, operations only) or `header:NAME`.
    #[serde(default)]
    pub actual: Option<String>,
    /// Where an answer says how many points are left (`header:NAME` or a body field).
    #[serde(default)]
    pub left: Option<String>,
    /// Where it says the limit those points are left of, when `quotas` has several windows.
    #[serde(default)]
    pub limit: Option<String>,
}

fn default_cost() -> u32 {
    1
}

/// A vendor's own rate-limit headers.
#[derive(Debug, Deserialize, Serialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct RawRateLimitHeaders {
    /// The header with the calls left.
    #[serde(default)]
    pub remaining: Option<String>,
    /// Or the header with `used/limit` (`32/40`).
    #[serde(default)]
    pub used_of_limit: Option<String>,
    /// The header saying when the count resets.
    #[serde(default)]
    pub reset: Option<String>,
    /// How `reset` counts: `seconds` (from now, the default), `milliseconds`, `unix`.
    #[serde(default)]
    pub reset_unit: ResetUnit,
    /// The window the count refers to, also the wait when nothing is left and no `reset`
    /// header says how long.
    pub window: HumanDuration,
}

/// How a vendor's reset header counts.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Deserialize, Serialize, JsonSchema)]
#[serde(rename_all = "snake_case")]
pub enum ResetUnit {
    #[default]
    Seconds,
    Milliseconds,
    Unix,
}

/// How the API version is pinned.
#[derive(Debug, Deserialize, Serialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct RawVersion {
    /// A header carrying the version (`Stripe-Version`, `API-Version`).
    #[serde(default)]
    pub header: Option<String>,
    /// The header's value.
    #[serde(default)]
    pub value: Option<String>,
    /// Or a path prefix added after the base URL (`/v2`).
    #[serde(default)]
    pub path: Option<String>,
}

/// Time limits of a call.
#[derive(Debug, Deserialize, Serialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct RawTimeouts {
    /// Establishing a connection.
    #[serde(default = "default_connect")]
    pub connect: HumanDuration,
    /// One attempt, from sending to the end of the response headers.
    #[serde(default = "default_attempt")]
    pub attempt: HumanDuration,
    /// The whole call: quota wait, every attempt and backoff.
    #[serde(default = "default_total")]
    pub total: HumanDuration,
}

impl Default for RawTimeouts {
    fn default() -> Self {
        Self {
            connect: default_connect(),
            attempt: default_attempt(),
            total: default_total(),
        }
    }
}

/// Outbound authentication. Secrets are `secret:NAME` (the vault) or `env:NAME`.
#[derive(Debug, Deserialize, Serialize, JsonSchema)]
#[serde(tag = "kind", rename_all = "snake_case", deny_unknown_fields)]
pub enum RawAuth {
    /// A static key in a header (`header: X-Api-Key`) or a query parameter (`query: api_key`).
    ApiKey {
        #[serde(default)]
        header: Option<String>,
        #[serde(default)]
        query: Option<String>,
        key: String,
    },
    /// HTTP basic.
    Basic { username: String, password: String },
    /// A static bearer token.
    Bearer { token: String },
    /// OAuth2 client credentials grant (RFC 6749 §4.4).
    Oauth2ClientCredentials(RawOAuth),
    /// OAuth2 refresh token grant; seed the refresh token with `junction connections set-token`.
    Oauth2RefreshToken(RawOAuth),
    /// JWT bearer assertion grant (RFC 7523), service-account style.
    JwtBearer(RawJwtBearer),
    /// HMAC signature of each request in a header.
    Hmac(RawHmacSigning),
}

/// An OAuth2 token endpoint and client.
#[derive(Debug, Deserialize, Serialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct RawOAuth {
    pub token_url: String,
    /// The vendor's authorization endpoint (refresh token grant): end users connect their own
    /// accounts through a connect session (authorization code with PKCE), each as a connection.
    #[serde(default)]
    pub authorize_url: Option<String>,
    pub client_id: String,
    /// `secret:NAME` or `env:NAME`. Optional for public clients (refresh token grant).
    #[serde(default)]
    pub client_secret: Option<String>,
    #[serde(default)]
    pub scopes: Vec<String>,
    /// How the client authenticates at the token endpoint.
    #[serde(default)]
    pub client_auth: ClientAuth,
    #[serde(flatten)]
    pub lifetime: RawTokenLifetime,
}

/// When tokens are refreshed.
#[derive(Debug, Deserialize, Serialize, JsonSchema)]
pub struct RawTokenLifetime {
    /// Fraction of a token's lifetime after which it is refreshed (before it expires).
    #[serde(default = "default_refresh_at")]
    pub refresh_at: Ratio,
    /// The lifetime assumed when the provider does not say (`expires_in` missing).
    #[serde(default = "default_lifetime")]
    pub default_lifetime: HumanDuration,
    /// Failed refreshes in a row after which the connection needs re-authorisation.
    #[serde(default = "default_reauth_after")]
    pub reauth_after: u32,
}

#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Deserialize, Serialize, JsonSchema)]
#[serde(rename_all = "snake_case")]
pub enum ClientAuth {
    /// HTTP basic with the client id and secret (RFC 6749's recommendation).
    #[default]
    Basic,
    /// `client_id` and `client_secret` in the form body.
    Body,
}

/// RFC 7523 JWT bearer grant.
#[derive(Debug, Deserialize, Serialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct RawJwtBearer {
    pub token_url: String,
    /// `iss` of the assertion (the service account).
    pub issuer: String,
    /// `sub` of the assertion; default: the issuer.
    #[serde(default)]
    pub subject: Option<String>,
    /// `aud` of the assertion; default: the token URL.
    #[serde(default)]
    pub audience: Option<String>,
    /// The signing key: a PEM private key (RS256, ES256) or a shared secret (HS256), by reference.
    pub private_key: String,
    #[serde(default)]
    pub algorithm: JwtAlgorithm,
    /// `kid` header of the assertion.
    #[serde(default)]
    pub key_id: Option<String>,
    #[serde(default)]
    pub scopes: Vec<String>,
    #[serde(flatten)]
    pub lifetime: RawTokenLifetime,
}

#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Deserialize, Serialize, JsonSchema)]
pub enum JwtAlgorithm {
    #[default]
    RS256,
    ES256,
    HS256,
}

/// HMAC request signing.
#[derive(Debug, Deserialize, Serialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct RawHmacSigning {
    /// The header carrying the signature.
    pub header: String,
    /// The key, by reference.
    pub secret: String,
    #[serde(default)]
    pub algorithm: crate::flow::raw::HmacAlgorithm,
    #[serde(default)]
    pub encoding: crate::flow::raw::SignatureEncoding,
    /// Text before the signature, e.g. `sha256=`.
    #[serde(default)]
    pub prefix: Option<String>,
    /// What is signed: `{method}`, `{path}` (with the query), `{timestamp}` (Unix seconds) and
    /// `{body}` placeholders.
    #[serde(default = "default_signed")]
    pub signed: String,
    /// A header carrying the timestamp that was signed.
    #[serde(default)]
    pub timestamp_header: Option<String>,
}

/// Caching of GET responses.
#[derive(Debug, Deserialize, Serialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct RawCache {
    /// `http`: RFC 9111 (Cache-Control, ETag and Last-Modified revalidation); `ttl`: keep every
    /// 2xx GET response for `ttl` whatever its headers say.
    #[serde(default)]
    pub mode: CacheMode,
    /// With `mode: ttl`.
    #[serde(default)]
    pub ttl: Option<HumanDuration>,
    /// Memory the cache may use.
    #[serde(default = "default_cache_size")]
    pub max_size: ByteSize,
    /// Largest response kept.
    #[serde(default = "default_cache_entry")]
    pub max_entry: ByteSize,
}

#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Deserialize, Serialize, JsonSchema)]
#[serde(rename_all = "snake_case")]
pub enum CacheMode {
    #[default]
    Http,
    Ttl,
}

/// What kind of API a connector speaks.
#[derive(Debug, Default, Clone, Copy, PartialEq, Eq, Deserialize, Serialize, JsonSchema)]
#[serde(rename_all = "snake_case")]
pub enum ConnectorKind {
    #[default]
    Rest,
    Soap,
}

/// SOAP settings.
#[derive(Debug, Default, Deserialize, Serialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct RawSoap {
    /// `"1.1"` (default) or `"1.2"`.
    #[serde(default)]
    pub version: Option<String>,
    /// The service's namespace, declared on every request's body element.
    #[serde(default)]
    pub namespace: Option<String>,
}

fn secs(s: u64) -> HumanDuration {
    HumanDuration(std::time::Duration::from_secs(s))
}
fn default_concurrency() -> u32 {
    64
}
fn default_max_wait() -> HumanDuration {
    secs(30)
}
fn default_quota_jitter() -> HumanDuration {
    HumanDuration(std::time::Duration::ZERO)
}
fn default_connect() -> HumanDuration {
    secs(5)
}
fn default_attempt() -> HumanDuration {
    secs(10)
}
// Below the server's default request_timeout (30s), so the connector's own deadline answers first.
fn default_total() -> HumanDuration {
    secs(25)
}
fn default_refresh_at() -> Ratio {
    Ratio(0.8)
}
fn default_lifetime() -> HumanDuration {
    secs(3600)
}
fn default_reauth_after() -> u32 {
    3
}
fn default_signed() -> String {
    "{method}\n{path}\n{timestamp}\n{body}".into()
}
fn default_cache_size() -> ByteSize {
    ByteSize(16 << 20)
}
fn default_cache_entry() -> ByteSize {
    ByteSize(1 << 20)
}
