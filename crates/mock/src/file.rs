//! `mock.yaml`: the mock provider's settings in a file (`junction mock --config mock.yaml`).
//! Every field is optional; command-line flags win over the file.
//!
//! ```yaml
//! listen: 127.0.0.1:9090
//! seed: 42
//! customers: 10000
//! auth:
//!   required: true
//!   token_ttl: 15m
//!   advertise_expires_in: false
//!   token_delay: 0s
//!   clients: [ { id: app, secret: ${APP_SECRET}, scopes: [customers:read] } ]
//! quotas: [ 200/s, 50000/day:global ]
//! rate_limit_headers: x          # draft | x | none
//! quota_window: sliding          # fixed (default) | sliding
//! chaos: { seed: 1, errors: [[503, 0.1]] }
//! sink: { errors: [[429, 0.2]] }
//! ```

use std::net::SocketAddr;

use serde::Deserialize;

use crate::{AuthConfig, Chaos, HeaderStyle, Limit, MockConfig, OAuthClient, QuotaConfig};

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct MockFile {
    pub listen: Option<SocketAddr>,
    pub seed: Option<u64>,
    pub customers: Option<usize>,
    pub record_limit: Option<usize>,
    pub auth: Option<AuthFile>,
    #[serde(default)]
    pub quotas: Vec<String>,
    pub rate_limit_headers: Option<HeadersFile>,
    /// `fixed` (windows aligned to the mock's start, the default) or `sliding` (the last
    /// window before each request: the strictest way a vendor counts).
    pub quota_window: Option<QuotaWindowFile>,
    pub chaos: Option<Chaos>,
    pub sink: Option<Chaos>,
    /// Speak as a vendor (`stripe`, `github`, `hubspot`, `shopify`, `slack`, `zendesk`).
    pub persona: Option<String>,
}

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct AuthFile {
    #[serde(default)]
    pub required: bool,
    pub api_keys: Option<Vec<String>>,
    pub basic: Option<BasicFile>,
    pub clients: Option<Vec<ClientFile>>,
    pub token_ttl: Option<String>,
    pub advertise_expires_in: Option<bool>,
    pub token_delay: Option<String>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct BasicFile {
    pub username: String,
    pub password: String,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ClientFile {
    pub id: String,
    pub secret: String,
    pub scopes: Option<Vec<String>>,
}

#[derive(Debug, Clone, Copy, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum HeadersFile {
    Draft,
    X,
    None,
}

impl From<HeadersFile> for HeaderStyle {
    fn from(h: HeadersFile) -> Self {
        match h {
            HeadersFile::Draft => HeaderStyle::Draft,
            HeadersFile::X => HeaderStyle::XRateLimit,
            HeadersFile::None => HeaderStyle::None,
        }
    }
}

impl MockFile {
    /// The configuration this file describes (defaults for what it leaves out).
    pub fn into_config(self) -> Result<MockConfig, String> {
        let mut c = MockConfig::default();
        if let Some(s) = self.seed {
            c.seed = s;
        }
        if let Some(n) = self.customers {
            c.customers = n;
        }
        if let Some(n) = self.record_limit {
            c.record_limit = n.max(1);
        }
        if let Some(a) = self.auth {
            c.auth = auth(a)?;
        }
        c.quotas = QuotaConfig {
            limits: self
                .quotas
                .iter()
                .map(|q| Limit::parse(q))
                .collect::<Result<_, _>>()?,
            headers: self
                .rate_limit_headers
                .map(HeaderStyle::from)
                .unwrap_or_default(),
            sliding: matches!(self.quota_window, Some(QuotaWindowFile::Sliding)),
        };
        c.chaos = self.chaos.unwrap_or_default();
        c.chaos.validate().map_err(|e| format!("chaos: {e}"))?;
        c.sink = self.sink.unwrap_or_default();
        c.sink.validate().map_err(|e| format!("sink: {e}"))?;
        c.persona = self
            .persona
            .map(|p| p.parse::<crate::Persona>())
            .transpose()?;
        Ok(c)
    }
}

fn auth(a: AuthFile) -> Result<AuthConfig, String> {
    let mut out = AuthConfig {
        required: a.required,
        ..Default::default()
    };
    if let Some(keys) = a.api_keys {
        out.api_keys = keys;
    }
    if let Some(b) = a.basic {
        out.basic = Some((b.username, b.password));
    }
    if let Some(clients) = a.clients {
        out.clients = clients
            .into_iter()
            .map(|c| OAuthClient {
                id: c.id,
                secret: c.secret,
                scopes: c
                    .scopes
                    .unwrap_or_else(|| crate::ALL_SCOPES.iter().map(|s| s.to_string()).collect()),
            })
            .collect();
    }
    if let Some(ttl) = a.token_ttl {
        out.token_ttl =
            humantime::parse_duration(&ttl).map_err(|e| format!("auth.token_ttl `{ttl}`: {e}"))?;
    }
    if let Some(adv) = a.advertise_expires_in {
        out.advertise_expires_in = adv;
    }
    if let Some(d) = a.token_delay {
        out.token_delay =
            humantime::parse_duration(&d).map_err(|e| format!("auth.token_delay `{d}`: {e}"))?;
    }
    Ok(out)
}

/// How quota windows are counted.
#[derive(Debug, Clone, Copy, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum QuotaWindowFile {
    Fixed,
    Sliding,
}
