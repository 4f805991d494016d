//! Every verifier against random signature headers built from the pieces real and hostile ones
//! are made of: each is refused with a reason, none panics, none is accepted.

use junction_auth::{build, Request};
use junction_config::{load_str, Overrides};
use rand::{Rng, SeedableRng};

const SOURCES: &str = r#"
sources:
  sw: { kind: webhook, verify: { preset: standard_webhooks, secrets: [ env:WHSEC ] } }
  stripe: { kind: webhook, verify: { preset: stripe, secrets: [ env:PLAIN ] } }
  github: { kind: webhook, verify: { preset: github, secrets: [ env:PLAIN ] } }
  shopify: { kind: webhook, verify: { preset: shopify, secrets: [ env:PLAIN ] } }
  slack: { kind: webhook, verify: { preset: slack, secrets: [ env:PLAIN ] } }
  generic: { kind: webhook, verify: { preset: hmac, secrets: [ env:PLAIN ], header: X-Sig, prefix: "sha256=", timestamp_header: X-Ts, signed_content: "{timestamp}.{body}" } }
  basic: { kind: webhook, verify: { preset: basic, username: u, password: env:PLAIN } }
"#;

const HEADERS: &[&str] = &[
    "webhook-id",
    "webhook-timestamp",
    "webhook-signature",
    "stripe-signature",
    "x-hub-signature-256",
    "x-shopify-hmac-sha256",
    "x-slack-signature",
    "x-slack-request-timestamp",
    "x-sig",
    "x-ts",
    "authorization",
];

const PIECES: &[&str] = &[
    "t=",
    "v1=",
    "v0=",
    "v1,",
    "v1a,",
    "sha256=",
    "v0=",
    ",",
    " ",
    "=",
    ":",
    ";",
    "Basic ",
    "0",
    "1700000000",
    "-9223372036854775808",
    "9223372036854775807",
    "99999999999999999999",
    "deadbeef",
    "DEADBEEF",
    "g0hM9SsE+OTPJTGt/tmIKtSyZlE3uFJELVlNIOLJ1OE=",
    "==",
    "%%",
    "\t",
    "whsec_",
    "dTpw",
    "é",
    "\u{7f}",
];

fn value(rng: &mut impl Rng) -> String {
    (0..rng.random_range(0..10))
        .map(|_| PIECES[rng.random_range(0..PIECES.len())])
        .collect()
}

#[test]
fn random_signature_headers_are_refused_never_accepted_never_a_panic() {
    let env = |name: &str| match name {
        "WHSEC" => Some("whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw".to_owned()),
        "PLAIN" => Some("a-shared-secret".to_owned()),
        _ => None,
    };
    let config = load_str(SOURCES, "junction.yaml", &Overrides::default(), &env).unwrap();
    let verifiers: Vec<_> = config
        .flows
        .sources
        .values()
        .map(|s| (s.name.clone(), build(&s.verify)))
        .collect();
    let mut rng = rand::rngs::StdRng::seed_from_u64(16);
    for _ in 0..5_000 {
        let mut headers = http::HeaderMap::new();
        for name in HEADERS {
            if rng.random_bool(0.7) {
                if let Ok(v) = http::HeaderValue::from_str(&value(&mut rng)) {
                    headers.insert(*name, v);
                }
            }
        }
        let now = [0, 1_700_000_000, i64::MAX, i64::MIN][rng.random_range(0..4)];
        let req = Request {
            headers: &headers,
            body: b"{\"id\":\"evt_1\"}",
            now,
        };
        for (name, v) in &verifiers {
            assert!(v.verify(&req).is_err(), "{name} accepted {headers:?}");
        }
    }
}
