//! The validated `server`, `store` and `telemetry` sections.

use std::net::SocketAddr;
use std::path::PathBuf;
use std::time::Duration;

use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

pub use junction_core::DatabaseUrl;

/// The HTTP server.
#[derive(Debug, Clone)]
pub struct Server {
    pub listen: SocketAddr,
    pub body_limit: usize,
    pub request_timeout: Duration,
    pub shutdown_grace: Duration,
    pub header_timeout: Duration,
    pub max_connections: usize,
    /// Lower-case host names honoured for ambient admin access, besides loopback and `localhost`.
    pub hosts: Vec<String>,
    /// Where end users' browsers reach the hub (connect sessions and the OAuth callback).
    pub public_url: Option<url::Url>,
    /// HTTPS instead of HTTP.
    pub tls: Option<Tls>,
    /// Webhooks each source accepts (unless the source sets its own), per process.
    pub per_source: Vec<crate::Rate>,
    /// Requests each API token makes, per process.
    pub per_token: Vec<crate::Rate>,
    /// Mask personal data (`server.pii.mask`) …
    pub pii_mask: bool,
    /// … and these field names beside the built-in ones.
    pub pii_fields: Vec<String>,
    /// `server.audit`: entries older than `retention` move to files in `archive`.
    pub audit: Option<AuditRetention>,
}

/// How long the audit log keeps entries in the database, and where older ones go.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AuditRetention {
    pub retention: Duration,
    pub archive: PathBuf,
}

/// The listener's TLS files (absolute, or relative to the working directory).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Tls {
    pub cert: PathBuf,
    pub key: PathBuf,
    /// Client certificates are required and checked against these authorities.
    pub client_ca: Option<PathBuf>,
    /// Space-separated scopes by the name a client certificate carries (`server.tls.clients`).
    pub clients: std::collections::BTreeMap<String, String>,
}

/// The store: what `junction_store::open` takes.
pub type Store = junction_core::StoreOptions;

/// Logs and traces.
#[derive(Debug, Clone)]
pub struct Telemetry {
    pub log_format: LogFormat,
    pub log_level: String,
    pub otlp: Option<Otlp>,
}

/// How log lines are written.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Deserialize, Serialize, JsonSchema)]
#[serde(rename_all = "snake_case")]
pub enum LogFormat {
    /// Pretty on a terminal, JSON otherwise.
    #[default]
    Auto,
    /// One JSON object per line.
    Json,
    /// Human-readable lines.
    Pretty,
}

/// OTLP/HTTP trace export.
#[derive(Debug, Clone)]
pub struct Otlp {
    /// Full traces endpoint, ending in `/v1/traces`.
    pub endpoint: url::Url,
    pub service_name: String,
    pub sample_ratio: f64,
    pub headers: Vec<(String, String)>,
    pub timeout: Duration,
}
