//! Schema drift caught on the outbound path, from the mock's schema-changing chaos: after the
//! first answers teach an endpoint's shape, a field that disappears or changes type is recorded
//! (with its path, first and last seen, and a count), and a 2xx that claims JSON but is not is
//! recorded as an unexpected body.

mod support;

use std::time::Duration;

use junction_mock::MockConfig;
use junction_transform::drift::{Kind, LEARN};
use serde_json::json;
use support::*;

const CONFIG: &str = r#"
connectors:
  driftcrm:
    base_url: "{MOCK}"
    retry: { attempts: 1 }
"#;

const SUBJECT: &str = "driftcrm GET /v1/customers/{id}";

/// The shape drifts recorded for the endpoint (its v1 deprecation is another test's).
fn kinds(env: &Env) -> Vec<Kind> {
    env.hub
        .drift()
        .records()
        .into_iter()
        .filter(|r| r.subject == SUBJECT && r.kind != Kind::Deprecated)
        .map(|r| r.kind)
        .collect()
}

async fn wait_for_kind(env: &Env, kind: Kind) {
    for _ in 0..100 {
        if kinds(env).contains(&kind) {
            return;
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    panic!(
        "no {kind:?} drift recorded: {:?}",
        env.hub.drift().records()
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn drift_of_each_kind_is_detected_from_the_mocks_schema_chaos() {
    let env = start(
        CONFIG,
        MockConfig {
            customers: 50,
            ..Default::default()
        },
        &[],
    )
    .await;
    for i in 1..=LEARN + 5 {
        assert_eq!(
            env.status(&format!("/proxy/driftcrm/v1/customers/cus_{i:06}"))
                .await,
            200
        );
    }
    tokio::time::sleep(Duration::from_millis(100)).await;
    assert!(
        kinds(&env).is_empty(),
        "a steady shape does not drift: {:?}",
        env.hub.drift().records()
    );

    // Every answer now has one field removed or retyped (which one depends on the seed).
    env.chaos(json!({ "drift": 1.0, "seed": 7 })).await;
    for i in 1..=40 {
        let _ = env
            .status(&format!("/proxy/driftcrm/v1/customers/cus_{i:06}"))
            .await;
    }
    wait_for_kind(&env, Kind::MissingField).await;
    wait_for_kind(&env, Kind::TypeChanged).await;

    // Answers are sampled once a subject has learned: a lasting change is seen within a few.
    env.chaos(json!({ "malformed": 1.0 })).await;
    for _ in 0..junction_transform::drift::SAMPLE {
        let _ = env.status("/proxy/driftcrm/v1/customers/cus_000001").await;
    }
    wait_for_kind(&env, Kind::UnexpectedBody).await;

    let records: Vec<_> = env
        .hub
        .drift()
        .records()
        .into_iter()
        .filter(|r| r.subject == SUBJECT && r.kind != Kind::Deprecated)
        .collect();
    assert!(records
        .iter()
        .all(|r| r.first_seen <= r.last_seen && r.count >= 1));
    assert!(
        records
            .iter()
            .any(|r| r.kind == Kind::TypeChanged && r.detail.contains("was ")),
        "{records:#?}"
    );
}

/// The mock's `/v1` answers carry `Deprecation` and `Sunset`: the endpoint is recorded as
/// deprecated, with the dates the vendor gave.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn deprecation_and_sunset_headers_are_recorded_for_their_endpoint() {
    let env = start(
        &CONFIG.replace("driftcrm", "depcrm"),
        MockConfig {
            customers: 5,
            ..Default::default()
        },
        &[],
    )
    .await;
    assert_eq!(
        env.status("/proxy/depcrm/v1/customers/cus_000001").await,
        200
    );
    assert_eq!(
        env.status("/proxy/depcrm/v2/customers/cus_000001").await,
        200
    );
    let deprecated: Vec<_> = env
        .hub
        .drift()
        .records()
        .into_iter()
        .filter(|r| r.kind == Kind::Deprecated)
        .collect();
    assert_eq!(deprecated.len(), 1, "{deprecated:#?}");
    assert_eq!(deprecated[0].subject, "depcrm GET /v1/customers/{id}");
    assert!(
        deprecated[0].detail.contains("Sunset: Sat, 31 Jan 2027"),
        "{deprecated:#?}"
    );
}
