//! The request inspector: every inbound request refused at intake (bad or missing signature,
//! stale timestamp, too large, unknown source, bad body) is kept — the newest [`KEEP`] per
//! source, masked — so an operator can see why a provider's webhooks fail instead of a counter.
//!
//! Bounded on every side an attacker reaches: refusals for names no source has share one bucket
//! (`""`), each source records at most [`PER_SECOND`] a second (a flood is counted, not stored),
//! headers are capped in number and length with credential-bearing values masked, and the body
//! is an excerpt with known secrets masked. Writing never delays the answer.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};

use junction_store::{RejectedRequest, Store};

/// Refused requests kept per source.
pub const KEEP: usize = 50;
/// Refused requests recorded per source per second; more are counted only.
const PER_SECOND: u32 = 5;
/// Bytes of the body kept.
const BODY_EXCERPT: usize = 2048;
/// Headers kept, and characters of each value.
const MAX_HEADERS: usize = 40;
const MAX_VALUE: usize = 200;

/// Header names whose values are credentials (or signatures, which prove one): never kept.
fn credential(name: &str) -> bool {
    const WORDS: [&str; 9] = [
        "authorization",
        "cookie",
        "signature",
        "token",
        "secret",
        "hmac",
        "api-key",
        "apikey",
        "password",
    ];
    WORDS.iter().any(|w| name.contains(w))
}

/// What was refused, as intake saw it.
pub struct Refusal<'a> {
    /// The configured source, or `None` for a name no source has.
    pub source: Option<&'a str>,
    pub reason: &'static str,
    pub status: u16,
    pub detail: String,
    pub headers: &'a http::HeaderMap,
    pub body: &'a [u8],
    /// The body's size (it may not all be here: a body over the limit is not read to its end).
    pub size: usize,
}

pub struct Inspector {
    store: Arc<dyn Store>,
    /// Per bucket: the second and how many were recorded in it. Keys are configured source names
    /// and `""`: a closed set.
    budget: Mutex<HashMap<String, (i64, u32)>>,
}

impl Inspector {
    pub fn new(store: Arc<dyn Store>) -> Self {
        Self {
            store,
            budget: Mutex::default(),
        }
    }

    /// Keeps `r` (in the background) unless its source has used this second's budget.
    pub fn record(&self, r: Refusal<'_>, now_ms: i64) {
        let bucket = r.source.unwrap_or("");
        {
            let mut b = self.budget.lock().unwrap_or_else(|p| p.into_inner());
            let second = now_ms.div_euclid(1000);
            let entry = b.entry(bucket.to_owned()).or_insert((second, 0));
            if entry.0 != second {
                *entry = (second, 0);
            }
            if entry.1 >= PER_SECOND {
                metrics::counter!("junction_rejected_unrecorded_total").increment(1);
                return;
            }
            entry.1 += 1;
        }
        let row = RejectedRequest {
            id: 0,
            source: bucket.to_owned(),
            at_ms: now_ms,
            reason: r.reason.to_owned(),
            status: i32::from(r.status),
            detail: junction_core::mask::mask(&r.detail).into_owned(),
            headers: masked_headers(r.headers),
            body: excerpt(r.body),
            size: r.size as i64,
        };
        let store = self.store.clone();
        tokio::spawn(async move {
            if let Err(e) = store.record_rejected(row, KEEP).await {
                tracing::debug!(error = %e, "a refused request could not be kept for the inspector");
            }
        });
    }
}

fn masked_headers(headers: &http::HeaderMap) -> Vec<(String, String)> {
    headers
        .iter()
        .take(MAX_HEADERS)
        .map(|(name, value)| {
            let name = name.as_str().to_owned();
            let value = if credential(&name) {
                "***".to_owned()
            } else {
                let text = String::from_utf8_lossy(value.as_bytes());
                let text: String = text.chars().take(MAX_VALUE).collect();
                junction_core::mask::mask(&text).into_owned()
            };
            (name, value)
        })
        .collect()
}

fn excerpt(body: &[u8]) -> String {
    let cut = &body[..body.len().min(BODY_EXCERPT)];
    let text = String::from_utf8_lossy(cut);
    junction_core::mask::mask(&text).into_owned()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn credentials_are_masked_and_headers_and_bodies_bounded() {
        let mut h = http::HeaderMap::new();
        h.insert("webhook-signature", "v1,abc".parse().unwrap());
        h.insert("authorization", "Bearer xyz".parse().unwrap());
        h.insert("x-shopify-hmac-sha256", "zzz".parse().unwrap());
        h.insert("x-github-event", "push".parse().unwrap());
        h.insert("x-long", "a".repeat(1000).parse().unwrap());
        let kept = masked_headers(&h);
        let get = |n: &str| kept.iter().find(|(k, _)| k == n).map(|(_, v)| v.as_str());
        assert_eq!(get("webhook-signature"), Some("***"));
        assert_eq!(get("authorization"), Some("***"));
        assert_eq!(get("x-shopify-hmac-sha256"), Some("***"));
        assert_eq!(get("x-github-event"), Some("push"));
        assert_eq!(get("x-long").map(str::len), Some(MAX_VALUE));
        assert_eq!(excerpt(&vec![b'x'; 10_000]).len(), BODY_EXCERPT);
    }
}
