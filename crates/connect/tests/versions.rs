//! A connector with two API versions (the mock's `/v1` and `/v2`: v2 renamed `email` to
//! `email_address`, made times ISO 8601 and nested the address) and a rollout between them:
//! shadowing finds the renamed fields, a canary with a broken mapping rolls back by itself, a
//! canary is sticky by entity key over 10,000 calls, and `switch` moves every call.

mod support;

use std::collections::{BTreeMap, BTreeSet};
use std::time::Duration;

use futures_util::StreamExt;

use junction_mock::MockConfig;
use serde_json::{json, Value};
use support::*;

/// The config with `{ROLLOUT}` set and `{V2_MAP}` the mapping v2's `get_customer` answers with.
fn config(rollout: &str, v2_map: &str) -> String {
    r#"
models:
  customer@1:
    schema:
      type: object
      required: [id, email, name]
      properties:
        id: { type: string }
        email: { type: string }
        name: { type: string }
mappings:
  customer_from_v1:
    to: customer@1
    jq: '{id, email, name}'
  customer_from_v2:
    to: customer@1
    jq: '{id, email: .email_address, name}'
connectors:
  crm:
    base_url: "{MOCK}"
    versions:
      v1: { path: /v1 }
      v2:
        path: /v2
        operations:
          get_customer: { response: { map: {V2_MAP}, model: customer@1 } }
    rollout: {ROLLOUT}
    operations:
      get_customer:
        path: /customers/{id}
        response: { map: customer_from_v1, model: customer@1 }
      get_customer_raw:
        path: /customers/{id}
"#
    .replace("{ROLLOUT}", rollout)
    .replace("{V2_MAP}", v2_map)
}

async fn hub(rollout: &str, v2_map: &str) -> Env {
    let mock = MockConfig {
        customers: 500,
        ..Default::default()
    };
    start(&config(rollout, v2_map), mock, &[]).await
}

fn id(i: usize) -> String {
    format!("cus_{:06}", i % 500 + 1)
}

/// `GET /ops/crm/{op}?id=…`: status, the version that served it, the body.
async fn get(env: &Env, op: &str, id: &str) -> (u16, String, Value) {
    let r = env.call(&format!("/ops/crm/{op}?id={id}")).await;
    let status = r.status().as_u16();
    let version = r
        .headers()
        .get("x-junction-version")
        .map(|v| v.to_str().unwrap().to_owned())
        .unwrap_or_default();
    (status, version, r.json().await.unwrap_or(Value::Null))
}

/// Waits until `f` holds (shadow calls finish in the background).
async fn until(mut f: impl FnMut() -> bool) {
    for _ in 0..100 {
        if f() {
            return;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    panic!("not within 5s");
}

#[tokio::test]
async fn shadow_answers_from_the_pinned_version_and_finds_the_renamed_fields() {
    let env = hub(
        "{ stable: v1, candidate: v2, mode: shadow }",
        "customer_from_v2",
    )
    .await;
    let (status, version, body) = get(&env, "get_customer_raw", "cus_000007").await;
    assert_eq!((status, version.as_str()), (200, "v1"), "{body}");
    assert!(body.get("email").is_some(), "answered by v1: {body}");
    // The candidate was called with the same input, on its own path.
    until(|| {
        env.hub
            .drift()
            .records()
            .iter()
            .any(|r| r.subject == "crm/get_customer_raw@v2")
    })
    .await;
    assert_eq!(env.received("/v2/customers/cus_000007").await.len(), 1);
    let records = env.hub.drift().records();
    let found: BTreeMap<&str, &str> = records
        .iter()
        .filter(|r| r.subject == "crm/get_customer_raw@v2")
        .map(|r| (r.path.as_str(), r.detail.as_str()))
        .collect();
    assert_eq!(
        found.get("/email"),
        Some(&"v1 has a string here, v2 has none"),
        "{found:?}"
    );
    assert_eq!(
        found.get("/email_address"),
        Some(&"v2 has a string here, v1 has none")
    );
    assert!(found.contains_key("/created"), "{found:?}");
    assert!(
        records
            .iter()
            .filter(|r| r.kind == junction_transform::drift::Kind::Differs)
            .all(|r| !r.detail.contains('@')),
        "drift details never quote values"
    );
    // v1 announces its end (`Deprecation`, `Sunset`): an operation's call records it too.
    assert!(
        records
            .iter()
            .any(|r| r.kind == junction_transform::drift::Kind::Deprecated
                && r.subject.starts_with("crm GET /v1/customers")
                && r.detail.contains("Sunset")),
        "{records:#?}"
    );

    // With v2's own mapping, both versions give the same canonical customer: no difference.
    for i in 0..20 {
        let (status, version, _) = get(&env, "get_customer", &id(i)).await;
        assert_eq!((status, version.as_str()), (200, "v1"));
    }
    until(|| {
        env.hub
            .rollouts()
            .get("connector:crm")
            .is_some_and(|r| r.status().candidate_counts.0 >= 21)
    })
    .await;
    assert!(
        !env.hub
            .drift()
            .records()
            .iter()
            .any(|r| r.subject == "crm/get_customer@v2"),
        "a correct v2 mapping shows no difference"
    );
}

#[tokio::test]
async fn a_canary_with_a_broken_mapping_rolls_back_by_itself() {
    // v2 answers through v1's mapping: `email` is missing, the model breaks, the call is a 502.
    let env = hub(
        "{ stable: v1, candidate: v2, mode: canary, percent: 50%, rollback: { min_calls: 10, window: 1m } }",
        "customer_from_v1",
    )
    .await;
    let mut failed = 0;
    for i in 0..100 {
        let (status, version, body) = get(&env, "get_customer", &id(i)).await;
        match version.as_str() {
            "v2" => {
                assert_eq!(status, 502, "{body}");
                failed += 1;
            }
            _ => assert_eq!(status, 200, "{body}"),
        }
    }
    assert_eq!(
        failed, 10,
        "the rollout rolled back at its tenth failed candidate call"
    );
    let rollout = env.hub.rollouts().get("connector:crm").unwrap();
    let back = rollout.rolled_back().expect("rolled back");
    assert!(back.why.contains("v2 failed 10 of 10"), "{}", back.why);
    // Every call since is on v1, and answers.
    for i in 100..300 {
        let (status, version, _) = get(&env, "get_customer", &id(i)).await;
        assert_eq!((status, version.as_str()), (200, "v1"));
    }
    // The audit log says why.
    let mut audited = None;
    for _ in 0..50 {
        let log = env.store.audit_newest(10).await.unwrap();
        audited = log.into_iter().find(|e| e.action == "rollout.rollback");
        if audited.is_some() {
            break;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    let audited = audited.expect("an audit entry");
    assert_eq!(audited.target, "connector:crm");
    assert_eq!(audited.actor, "hub");
    assert!(audited.detail.contains("v2 failed"), "{}", audited.detail);
    // An operator puts it back in service; calls go to v2 again for its keys.
    assert!(rollout.resume());
    let versions: BTreeSet<String> = futures_util::future::join_all((0..40).map(|i| {
        let env = &env;
        async move { get(env, "get_customer", &id(i)).await.1 }
    }))
    .await
    .into_iter()
    .collect();
    assert!(versions.contains("v2"), "{versions:?}");
}

#[tokio::test]
async fn a_canary_is_sticky_by_entity_key_over_10000_calls() {
    let env = hub(
        "{ stable: v1, candidate: v2, mode: canary, percent: 30%, sticky: key, key_field: id }",
        "customer_from_v2",
    )
    .await;
    let seen = std::sync::Mutex::new(BTreeMap::<String, BTreeSet<String>>::new());
    let calls = (0..10_000usize).map(|i| {
        let (env, seen) = (&env, &seen);
        async move {
            let key = id(i % 250);
            let (status, version, body) = get(env, "get_customer", &key).await;
            assert_eq!(status, 200, "{body}");
            assert_eq!(body["id"], json!(key));
            seen.lock().unwrap().entry(key).or_default().insert(version);
        }
    });
    futures_util::stream::iter(calls)
        .buffer_unordered(32)
        .collect::<Vec<()>>()
        .await;
    let seen = seen.into_inner().unwrap();
    assert_eq!(seen.len(), 250);
    let flipped: Vec<&String> = seen
        .iter()
        .filter(|(_, v)| v.len() != 1)
        .map(|(k, _)| k)
        .collect();
    assert!(
        flipped.is_empty(),
        "keys served by both versions: {flipped:?}"
    );
    let on_v2 = seen.values().filter(|v| v.contains("v2")).count();
    assert!(
        (40..=110).contains(&on_v2),
        "30% canary put {on_v2} of 250 keys on v2"
    );
    let status = env.hub.rollouts().get("connector:crm").unwrap().status();
    assert!(status.rolled_back.is_none());
}

#[tokio::test]
async fn switch_moves_every_call_and_proxy_follows_the_current_version() {
    let env = hub(
        "{ stable: v1, candidate: v2, mode: switch }",
        "customer_from_v2",
    )
    .await;
    for i in 0..20 {
        let (status, version, body) = get(&env, "get_customer", &id(i)).await;
        assert_eq!((status, version.as_str()), (200, "v2"), "{body}");
        assert!(body["email"].is_string(), "mapped from v2: {body}");
    }
    let r = env.call("/proxy/crm/customers/cus_000003").await;
    assert_eq!(r.status(), 200);
    let raw: Value = r.json().await.unwrap();
    assert!(
        raw.get("email_address").is_some(),
        "/proxy reached v2: {raw}"
    );
    assert_eq!(env.received("/v1/").await.len(), 0);
}

#[tokio::test]
async fn jobs_and_asynchronous_calls_use_the_current_version() {
    use junction_engine::dispatch::Operations;
    let env = hub(
        "{ stable: v1, candidate: v2, mode: pin }",
        "customer_from_v2",
    )
    .await;
    let input = json!({ "id": "cus_000005" }).as_object().unwrap().clone();
    let (status, body) = env.hub.call("crm", "get_customer", input).await;
    assert_eq!(status, 200, "{body}");
    assert_eq!(env.received("/v1/customers/cus_000005").await.len(), 1);
    let r = env
        .post("/ops/crm/get_customer")
        .header("prefer", "respond-async")
        .json(&json!({ "id": "cus_000004" }))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 202);
    for _ in 0..100 {
        if !env.received("/v1/customers/cus_000004").await.is_empty() {
            return;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    panic!("the asynchronous call did not reach v1");
}
