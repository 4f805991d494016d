//! The `server`, `store` and `telemetry` sections as written.

use std::collections::BTreeMap;

use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

use crate::units::{ByteSize, HumanDuration};

/// The HTTP server.
#[derive(Debug, Deserialize, Serialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct RawServer {
    /// Address and port to listen on. `--listen` and `JUNCTION_LISTEN` override it.
    #[serde(default = "default_listen")]
    pub listen: String,
    /// Largest request body accepted; larger ones are answered 413.
    #[serde(default = "default_body_limit")]
    pub body_limit: ByteSize,
    /// How long one request may take before it is answered 503.
    #[serde(default = "default_request_timeout")]
    pub request_timeout: HumanDuration,
    /// On SIGTERM/SIGINT: how long in-flight requests and work may take to finish.
    #[serde(default = "default_shutdown_grace")]
    pub shutdown_grace: HumanDuration,
    /// How long a connection may wait for a request's headers to arrive complete: on a new
    /// connection, and from one answer to the next request on a keep-alive connection (so it is
    /// also the idle keep-alive timeout). A slower or idle connection is closed.
    #[serde(default = "default_header_timeout")]
    pub header_timeout: HumanDuration,
    /// Most client connections open at once; beyond it new connections are closed at once, so
    /// file descriptors remain for the store, vendors and `/healthz`.
    #[serde(default = "default_server_max_connections")]
    pub max_connections: u32,
    /// Host names (as in the `Host` header, without port) besides loopback addresses and
    /// `localhost` under which the dashboard's cookie and token-less loopback admin access are
    /// honoured, e.g. `junction.internal.example`. Requests under any other name need a bearer
    /// token: a page on another site cannot reach the admin API by rebinding its DNS name.
    #[serde(default)]
    pub hosts: Vec<String>,
    /// The address end users' browsers reach this hub at (`https://junction.example.com`): the
    /// base of connect-session links and of the OAuth callback (`{public_url}/connect/callback`,
    /// to register at each vendor). Needed for guided OAuth connect only.
    #[serde(default)]
    pub public_url: Option<String>,
    /// Serve HTTPS (TLS 1.2 and 1.3 only) instead of plain HTTP.
    #[serde(default)]
    pub tls: Option<RawTls>,
    /// How many requests each caller may make, per process: over it the request is answered
    /// 429 with `Retry-After` before any work is done.
    #[serde(default)]
    pub rate_limits: RawRateLimits,
    /// Personal data in logs, attempt excerpts, quarantine reasons, rejected-request samples, and
    /// events as viewers see them.
    #[serde(default)]
    pub pii: RawPii,
    /// How long the audit log keeps its entries in the database: older ones are moved to files
    /// in `archive` (the hash chain goes on from them). Kept forever without it.
    #[serde(default)]
    pub audit: Option<RawAuditRetention>,
}

/// `server.audit`: `{ retention: 365d, archive: ./audit-archive }`.
#[derive(Debug, Deserialize, Serialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct RawAuditRetention {
    /// How long entries stay in the database (at least 1 day).
    pub retention: crate::units::HumanDuration,
    /// The folder the older entries are written to, as JSON lines, before they are deleted
    /// (relative to the config file's folder; created with mode 0700).
    pub archive: String,
}

/// Masking of personal data (emails, card numbers, phone numbers, national ids, and fields
/// named like them) wherever the hub shows or logs text it did not write.
#[derive(Debug, Deserialize, Serialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct RawPii {
    /// Mask it (default true).
    #[serde(default = "default_true")]
    pub mask: bool,
    /// More field names whose values are personal data (`loyalty_id`), beside the built-in
    /// ones (`email`, `phone`, `ssn`, `iban`, `date_of_birth`, …). Matched at any depth.
    #[serde(default)]
    pub fields: Vec<String>,
}

impl Default for RawPii {
    fn default() -> Self {
        Self {
            mask: true,
            fields: Vec::new(),
        }
    }
}

fn default_true() -> bool {
    true
}

/// Inbound rate limits, each a list of windows (`[ 100/s, 10000/h ]`; `[]`: none).
#[derive(Debug, Deserialize, Serialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct RawRateLimits {
    /// Webhooks each source accepts (a source's own `rate_limits` replaces it).
    #[serde(default = "default_per_source")]
    pub per_source: Vec<String>,
    /// Requests each API token makes (`/proxy`, operations, the admin API).
    #[serde(default = "default_per_token")]
    pub per_token: Vec<String>,
}

impl Default for RawRateLimits {
    fn default() -> Self {
        Self {
            per_source: default_per_source(),
            per_token: default_per_token(),
        }
    }
}

fn default_per_source() -> Vec<String> {
    vec!["5000/s".into()]
}

fn default_per_token() -> Vec<String> {
    vec!["5000/s".into()]
}

/// HTTPS on the listener. The files are read again when they change (a renewed certificate
/// takes effect without a restart or a dropped connection).
#[derive(Debug, Deserialize, Serialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct RawTls {
    /// PEM file with the certificate chain, the server's own certificate first. Paths are
    /// relative to the config file's folder.
    pub cert: String,
    /// PEM file with the private key (PKCS#8, PKCS#1 or SEC1).
    pub key: String,
    /// PEM file with the certificate authorities whose client certificates are accepted: with
    /// it, every connection must present a valid client certificate (mutual TLS).
    #[serde(default)]
    pub client_ca: Option<String>,
    /// What callers holding a client certificate may do without an API token, by the name the
    /// certificate carries (its common name, a DNS name or a URI such as a SPIFFE id):
    /// `billing: { scopes: [ "proxy:crm:GET", "op:crm:*" ] }`. Needs `client_ca`.
    #[serde(default)]
    pub clients: std::collections::BTreeMap<String, RawTlsClient>,
}

/// One client-certificate identity's permissions.
#[derive(Debug, Deserialize, Serialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct RawTlsClient {
    /// Scopes, as for API tokens: `proxy:CONNECTOR:METHOD`, `op:CONNECTOR:OPERATION`,
    /// `role:viewer|operator|admin`.
    pub scopes: Vec<String>,
}

impl Default for RawServer {
    fn default() -> Self {
        Self {
            listen: default_listen(),
            body_limit: default_body_limit(),
            request_timeout: default_request_timeout(),
            shutdown_grace: default_shutdown_grace(),
            header_timeout: default_header_timeout(),
            max_connections: default_server_max_connections(),
            hosts: Vec::new(),
            public_url: None,
            tls: None,
            rate_limits: RawRateLimits::default(),
            pii: RawPii::default(),
            audit: None,
        }
    }
}

/// The store: the only queue. Events, deliveries and attempts are written in one transaction.
#[derive(Debug, Deserialize, Serialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct RawStore {
    /// `sqlite://PATH` (embedded, the default) or `postgres://USER@HOST:PORT/DB`.
    /// `JUNCTION_DATABASE_URL` overrides it.
    #[serde(default = "default_store_url")]
    pub url: String,
    /// Most connections Junction opens to PostgreSQL (SQLite uses one writer and a few readers).
    #[serde(default = "default_max_connections")]
    pub max_connections: u32,
    /// How long to wait for the database when connecting.
    #[serde(default = "default_connect_timeout")]
    pub connect_timeout: HumanDuration,
    /// Seal event payloads, their stored headers and attempts' response excerpts at rest with a
    /// data key the vault keeps (needs JUNCTION_MASTER_KEY); a source's `encrypt_payloads`
    /// overrides it. Default false.
    #[serde(default)]
    pub encrypt_payloads: bool,
}

impl Default for RawStore {
    fn default() -> Self {
        Self {
            url: default_store_url(),
            max_connections: default_max_connections(),
            connect_timeout: default_connect_timeout(),
            encrypt_payloads: false,
        }
    }
}

/// Logs, traces and metrics.
#[derive(Debug, Deserialize, Serialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct RawTelemetry {
    /// `json` (one object per line), `pretty` (for people), or `auto`: pretty on a terminal, json otherwise.
    #[serde(default)]
    pub log_format: crate::LogFormat,
    /// Log filter, e.g. `info` or `info,junction_store=debug`. `JUNCTION_LOG` overrides it.
    #[serde(default = "default_log_level")]
    pub log_level: String,
    /// Export traces over OTLP/HTTP when set.
    #[serde(default)]
    pub otlp: Option<RawOtlp>,
}

impl Default for RawTelemetry {
    fn default() -> Self {
        Self {
            log_format: crate::LogFormat::default(),
            log_level: default_log_level(),
            otlp: None,
        }
    }
}

/// OpenTelemetry trace export over OTLP/HTTP (protobuf).
#[derive(Debug, Deserialize, Serialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct RawOtlp {
    /// Collector URL, e.g. `http://127.0.0.1:4318` (`/v1/traces` is added when missing).
    pub endpoint: String,
    /// `service.name` of the exported spans.
    #[serde(default = "default_service_name")]
    pub service_name: String,
    /// Fraction of new traces sampled (0.0 to 1.0); a sampled parent is always followed.
    #[serde(default = "default_sample_ratio")]
    pub sample_ratio: f64,
    /// Extra headers sent to the collector (e.g. an API key: use `${VAR}`).
    #[serde(default)]
    pub headers: BTreeMap<String, String>,
    /// Timeout of one export.
    #[serde(default = "default_export_timeout")]
    pub timeout: HumanDuration,
}

fn default_listen() -> String {
    "127.0.0.1:8080".into()
}

fn default_body_limit() -> ByteSize {
    ByteSize(1 << 20)
}

fn default_request_timeout() -> HumanDuration {
    HumanDuration(std::time::Duration::from_secs(30))
}

fn default_shutdown_grace() -> HumanDuration {
    HumanDuration(std::time::Duration::from_secs(30))
}

fn default_header_timeout() -> HumanDuration {
    HumanDuration(std::time::Duration::from_secs(10))
}

fn default_server_max_connections() -> u32 {
    10_000
}

fn default_store_url() -> String {
    "sqlite://./data/junction.db".into()
}

fn default_max_connections() -> u32 {
    16
}

fn default_connect_timeout() -> HumanDuration {
    HumanDuration(std::time::Duration::from_secs(5))
}

fn default_log_level() -> String {
    "info".into()
}

fn default_service_name() -> String {
    "junction".into()
}

fn default_sample_ratio() -> f64 {
    1.0
}

fn default_export_timeout() -> HumanDuration {
    HumanDuration(std::time::Duration::from_secs(10))
}
