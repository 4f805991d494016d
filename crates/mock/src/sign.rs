//! Webhook signatures in the schemes providers use, so the mock's webhooks look like the real
//! thing to a verifier (Junction's, or any library's):
//! - Standard Webhooks `v1`: `webhook-id`, `webhook-timestamp`, `webhook-signature: v1,<base64>` over
//!   `{id}.{timestamp}.{body}`, keyed by the base64 key after `whsec_`;
//! - Stripe: `Stripe-Signature: t=<ts>,v1=<hex>` over `{ts}.{body}`;
//! - GitHub: `X-Hub-Signature-256: sha256=<hex>` over the body;
//! - Shopify: `X-Shopify-Hmac-Sha256: <base64>` over the body;
//! - Slack: `X-Slack-Signature: v0=<hex>` over `v0:{ts}:{body}`, with `X-Slack-Request-Timestamp`;
//! - Zendesk: `X-Zendesk-Webhook-Signature: <base64>` over `{timestamp}{body}`, the timestamp
//!   (ISO 8601) in `X-Zendesk-Webhook-Signature-Timestamp`;
//! - Jira: `X-Hub-Signature: sha256=<hex>` over the body, the delivery's id in
//!   `X-Atlassian-Webhook-Identifier`;
//! - Intercom: `X-Hub-Signature: sha1=<hex>` over the body (HMAC-SHA1);
//! - generic HMAC: a header, a prefix, hex or base64, and a signed-content template.
//!
//! All are HMAC-SHA256 but Intercom's.

use base64::Engine;
use hmac::{Hmac, Mac};
use serde::{Deserialize, Serialize};
use sha2::Sha256;

/// A signature scheme.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum Scheme {
    StandardWebhooks,
    Stripe,
    Github,
    Shopify,
    Slack,
    Zendesk,
    Jira,
    Intercom,
    /// `template` may use `{id}`, `{timestamp}` and `{body}`.
    Generic {
        header: String,
        prefix: String,
        base64: bool,
        template: String,
    },
}

fn mac(key: &[u8], parts: &[&[u8]]) -> Vec<u8> {
    let mut m = Hmac::<Sha256>::new_from_slice(key).expect("HMAC takes keys of any length");
    for p in parts {
        m.update(p);
    }
    m.finalize().into_bytes().to_vec()
}

fn b64(bytes: &[u8]) -> String {
    base64::engine::general_purpose::STANDARD.encode(bytes)
}

/// The headers that sign `body` (sent as event `id` at unix `timestamp`) under `secret`.
pub fn sign(
    scheme: &Scheme,
    secret: &str,
    id: &str,
    timestamp: i64,
    body: &[u8],
) -> Result<Vec<(String, String)>, String> {
    let ts = timestamp.to_string();
    Ok(match scheme {
        Scheme::StandardWebhooks => {
            let key = base64::engine::general_purpose::STANDARD
                .decode(secret.strip_prefix("whsec_").unwrap_or(secret))
                .map_err(|e| format!("a Standard Webhooks secret is base64 after `whsec_`: {e}"))?;
            let sig = mac(&key, &[id.as_bytes(), b".", ts.as_bytes(), b".", body]);
            vec![
                ("webhook-id".into(), id.into()),
                ("webhook-timestamp".into(), ts),
                ("webhook-signature".into(), format!("v1,{}", b64(&sig))),
            ]
        }
        Scheme::Stripe => {
            let sig = mac(secret.as_bytes(), &[ts.as_bytes(), b".", body]);
            vec![(
                "stripe-signature".into(),
                format!("t={ts},v1={}", hex::encode(sig)),
            )]
        }
        Scheme::Github => vec![
            ("x-github-delivery".into(), id.into()),
            (
                "x-hub-signature-256".into(),
                format!("sha256={}", hex::encode(mac(secret.as_bytes(), &[body]))),
            ),
        ],
        Scheme::Shopify => vec![
            ("x-shopify-webhook-id".into(), id.into()),
            (
                "x-shopify-hmac-sha256".into(),
                b64(&mac(secret.as_bytes(), &[body])),
            ),
        ],
        Scheme::Slack => {
            let sig = mac(secret.as_bytes(), &[b"v0:", ts.as_bytes(), b":", body]);
            vec![
                ("x-slack-request-timestamp".into(), ts),
                (
                    "x-slack-signature".into(),
                    format!("v0={}", hex::encode(sig)),
                ),
            ]
        }
        Scheme::Zendesk => {
            let at = humantime::format_rfc3339_seconds(
                std::time::UNIX_EPOCH + std::time::Duration::from_secs(timestamp.max(0) as u64),
            )
            .to_string();
            let sig = mac(secret.as_bytes(), &[at.as_bytes(), body]);
            vec![
                ("x-zendesk-webhook-id".into(), id.into()),
                ("x-zendesk-webhook-signature-timestamp".into(), at),
                ("x-zendesk-webhook-signature".into(), b64(&sig)),
            ]
        }
        Scheme::Intercom => {
            let mut m = Hmac::<sha1::Sha1>::new_from_slice(secret.as_bytes())
                .expect("HMAC takes keys of any length");
            m.update(body);
            vec![(
                "x-hub-signature".into(),
                format!("sha1={}", hex::encode(m.finalize().into_bytes())),
            )]
        }
        Scheme::Jira => vec![
            ("x-atlassian-webhook-identifier".into(), id.into()),
            (
                "x-hub-signature".into(),
                format!("sha256={}", hex::encode(mac(secret.as_bytes(), &[body]))),
            ),
        ],
        Scheme::Generic {
            header,
            prefix,
            base64,
            template,
        } => {
            let body_text = std::str::from_utf8(body)
                .map_err(|_| "the generic template needs a UTF-8 body".to_string())?;
            let content = template
                .replace("{id}", id)
                .replace("{timestamp}", &ts)
                .replace("{body}", body_text);
            let sig = mac(secret.as_bytes(), &[content.as_bytes()]);
            let encoded = if *base64 { b64(&sig) } else { hex::encode(sig) };
            vec![
                ("x-webhook-id".into(), id.into()),
                ("x-webhook-timestamp".into(), ts),
                (header.to_ascii_lowercase(), format!("{prefix}{encoded}")),
            ]
        }
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn header<'a>(h: &'a [(String, String)], name: &str) -> &'a str {
        &h.iter().find(|(k, _)| k == name).unwrap().1
    }

    /// An HMAC computed here, directly from each provider's documented formula.
    fn hmac256(key: &[u8], content: &[u8]) -> Vec<u8> {
        let mut m = Hmac::<Sha256>::new_from_slice(key).unwrap();
        m.update(content);
        m.finalize().into_bytes().to_vec()
    }

    #[test]
    fn standard_webhooks_matches_the_published_vector() {
        let h = sign(
            &Scheme::StandardWebhooks,
            "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw",
            "msg_p5jXN8AQM9LWM0D4loKWxJek",
            1614265330,
            br#"{"test": 2432232314}"#,
        )
        .unwrap();
        assert_eq!(
            header(&h, "webhook-signature"),
            "v1,g0hM9SsE+OTPJTGt/tmIKtSyZlE3uFJELVlNIOLJ1OE="
        );
        assert_eq!(header(&h, "webhook-timestamp"), "1614265330");
    }

    #[test]
    fn github_matches_its_documented_example() {
        let h = sign(
            &Scheme::Github,
            "It's a Secret to Everybody",
            "d1",
            0,
            b"Hello, World!",
        )
        .unwrap();
        assert_eq!(
            header(&h, "x-hub-signature-256"),
            "sha256=757107ea0eb2509fc211221cce984b8a37570b6d7586c22c46f4379c8b043e17"
        );
    }

    #[test]
    fn stripe_shopify_slack_and_generic_follow_their_formulas() {
        let (secret, body, ts) = ("s3cret", br#"{"id":"evt_1"}"#.as_slice(), 1_700_000_000);
        let h = sign(&Scheme::Stripe, secret, "evt_1", ts, body).unwrap();
        let expected = hex::encode(hmac256(
            secret.as_bytes(),
            format!("{ts}.{}", std::str::from_utf8(body).unwrap()).as_bytes(),
        ));
        assert_eq!(
            header(&h, "stripe-signature"),
            format!("t={ts},v1={expected}")
        );

        let h = sign(&Scheme::Shopify, secret, "wh_1", ts, body).unwrap();
        assert_eq!(
            header(&h, "x-shopify-hmac-sha256"),
            base64::engine::general_purpose::STANDARD.encode(hmac256(secret.as_bytes(), body))
        );

        let h = sign(&Scheme::Slack, secret, "x", ts, body).unwrap();
        let expected = hex::encode(hmac256(
            secret.as_bytes(),
            format!("v0:{ts}:{}", std::str::from_utf8(body).unwrap()).as_bytes(),
        ));
        assert_eq!(header(&h, "x-slack-signature"), format!("v0={expected}"));
        assert_eq!(header(&h, "x-slack-request-timestamp"), ts.to_string());

        let scheme = Scheme::Generic {
            header: "X-Signature".into(),
            prefix: "sha256=".into(),
            base64: true,
            template: "{timestamp}.{body}".into(),
        };
        let h = sign(&scheme, secret, "id_1", ts, body).unwrap();
        let expected = base64::engine::general_purpose::STANDARD.encode(hmac256(
            secret.as_bytes(),
            format!("{ts}.{}", std::str::from_utf8(body).unwrap()).as_bytes(),
        ));
        assert_eq!(header(&h, "x-signature"), format!("sha256={expected}"));
    }

    #[test]
    fn a_standard_webhooks_secret_must_be_base64() {
        assert!(sign(
            &Scheme::StandardWebhooks,
            "whsec_not base64!",
            "m",
            1,
            b"{}"
        )
        .is_err());
    }
}
