//! Standard Webhooks signing of outbound deliveries: `webhook-id`, `webhook-timestamp` and
//! `webhook-signature` (`v1,<base64 HMAC-SHA256 of {id}.{timestamp}.{body}>`, one per key,
//! space-separated, so receivers can rotate keys).

use base64::Engine as _;
use hmac::{Hmac, Mac};
use sha2::Sha256;

/// The `webhook-signature` value for `body` sent as `id` at Unix second `timestamp`.
pub fn standard_signature(keys: &[Vec<u8>], id: &str, timestamp: i64, body: &[u8]) -> String {
    let ts = timestamp.to_string();
    keys.iter()
        .map(|key| {
            let mut m = Hmac::<Sha256>::new_from_slice(key).expect("HMAC takes keys of any length");
            m.update(id.as_bytes());
            m.update(b".");
            m.update(ts.as_bytes());
            m.update(b".");
            m.update(body);
            format!(
                "v1,{}",
                base64::engine::general_purpose::STANDARD.encode(m.finalize().into_bytes())
            )
        })
        .collect::<Vec<_>>()
        .join(" ")
}
