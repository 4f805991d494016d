//! Inbound verifiers: one per scheme, chosen by the source's `verify.preset`.

mod basic;
mod common;
mod github;
mod hmac_generic;
mod none;
mod shopify;
mod slack;
mod standard;
mod stripe;

use junction_config::{Verify, VerifyPreset};

/// What a verifier sees of a request.
pub struct Request<'a> {
    pub headers: &'a http::HeaderMap,
    pub body: &'a [u8],
    /// Now, in Unix seconds.
    pub now: i64,
}

impl Request<'_> {
    /// A header's value as text (`None` if absent or not visible ASCII).
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers.get(name).and_then(|v| v.to_str().ok())
    }
}

/// Why a request was refused. `reason()` is the machine-readable code used in answers and
/// metrics; the message never contains a secret or an expected signature.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Rejection {
    /// A header the scheme needs is absent.
    Missing(&'static str),
    /// The header is there but cannot be read (wrong format).
    Malformed(String),
    /// No signature matches any active secret.
    BadSignature,
    /// The signed timestamp is too far from now.
    OutsideWindow { timestamp: i64, now: i64 },
    /// Basic auth credentials are wrong.
    BadCredentials,
    /// The source accepts only callers whose client certificate carries one of its names
    /// (`client_certificate`); this connection's did not, or had none.
    ClientCertificate(String),
}

impl Rejection {
    pub fn reason(&self) -> &'static str {
        match self {
            Rejection::Missing(_) => "missing_signature",
            Rejection::Malformed(_) => "malformed_signature",
            Rejection::BadSignature => "bad_signature",
            Rejection::OutsideWindow { .. } => "timestamp_outside_window",
            Rejection::BadCredentials => "bad_credentials",
            Rejection::ClientCertificate(_) => "client_certificate",
        }
    }
}

impl std::fmt::Display for Rejection {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Rejection::Missing(h) => write!(f, "the `{h}` header is missing"),
            Rejection::Malformed(m) => write!(f, "the signature header is malformed: {m}"),
            Rejection::BadSignature => f.write_str("no signature matches an active secret"),
            Rejection::OutsideWindow { timestamp, now } => write!(
                f,
                "the signed timestamp {timestamp} is {}s from now, outside the tolerance window",
                now.abs_diff(*timestamp)
            ),
            Rejection::BadCredentials => f.write_str("the credentials are wrong"),
            Rejection::ClientCertificate(why) => write!(f, "{why}"),
        }
    }
}

/// Checks that a request comes from the provider.
pub trait Verifier: Send + Sync {
    fn verify(&self, req: &Request<'_>) -> Result<(), Rejection>;
}

/// The verifier for a source's `verify` settings (already validated by the config).
pub fn build(v: &Verify) -> Box<dyn Verifier> {
    let secrets = || {
        v.secrets
            .iter()
            .map(|s| s.expose().as_bytes().to_vec())
            .collect()
    };
    let tolerance = v.tolerance.as_secs() as i64;
    match v.preset {
        VerifyPreset::StandardWebhooks => Box::new(standard::StandardWebhooks::new(v)),
        VerifyPreset::Stripe => Box::new(stripe::Stripe {
            secrets: secrets(),
            tolerance,
        }),
        VerifyPreset::Github => Box::new(github::github(secrets())),
        VerifyPreset::Shopify => Box::new(shopify::shopify(secrets())),
        VerifyPreset::Slack => Box::new(slack::Slack {
            secrets: secrets(),
            tolerance,
        }),
        VerifyPreset::Hmac => Box::new(hmac_generic::GenericHmac::new(v)),
        VerifyPreset::Basic => Box::new(basic::Basic::new(v)),
        VerifyPreset::None => Box::new(none::Unverified),
    }
}
