//! Asynchronous request/reply: `Prefer: respond-async` (or `respond_async: true`) answers 202
//! with a status URL at once; the status URL answers the state, then 303 to the answer the
//! synchronous call would have given; only the caller's token reads it; a call whose process
//! died is run again when that is safe, and otherwise ends as `outcome_unknown`, never sent twice.

mod support;

use std::time::{Duration, Instant};

use junction_mock::MockConfig;
use junction_store::NewCall;
use serde_json::{json, Value};
use support::*;

const CONFIG: &str = r#"
models:
  customer@1:
    schema: { type: object, required: [id, email], properties: { email: { type: string } } }
mappings:
  customer_from_crm: { to: customer@1, jq: '{id, email: .email_address, name}' }
connectors:
  crm:
    base_url: "{MOCK}/v2"
    operations:
      get_customer: { path: "/customers/{id}", response: { map: customer_from_crm, model: customer@1 } }
      slow_customer: { path: "/customers/{id}", respond_async: true }
      create_customer: { method: POST, path: /customers }
"#;

async fn hub() -> Env {
    let mock = MockConfig {
        customers: 5,
        ..Default::default()
    };
    start(CONFIG, mock, &[]).await
}

/// Follows a call's status URL until it answers 303; the answer it leads to.
async fn answer_of(env: &Env, token: &str, status_url: &str) -> (u16, Value) {
    let http = reqwest::Client::builder()
        .redirect(reqwest::redirect::Policy::none())
        .build()
        .unwrap();
    let until = Instant::now() + Duration::from_secs(20);
    loop {
        let r = http
            .get(format!("{}{status_url}", env.url))
            .bearer_auth(token)
            .send()
            .await
            .unwrap();
        if r.status() == 303 {
            let to = r.headers()["location"].to_str().unwrap().to_owned();
            let a = http
                .get(format!("{}{to}", env.url))
                .bearer_auth(token)
                .send()
                .await
                .unwrap();
            let status = a.status().as_u16();
            return (status, a.json().await.unwrap_or(Value::Null));
        }
        assert_eq!(r.status(), 200);
        let body: Value = r.json().await.unwrap();
        assert!(
            matches!(body["state"].as_str(), Some("queued" | "running")),
            "{body}"
        );
        assert!(Instant::now() < until, "{body}");
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

#[tokio::test]
async fn prefer_respond_async_answers_202_then_the_same_answer_at_the_status_url() {
    let env = hub().await;
    let r = env
        .post("/ops/crm/get_customer")
        .header("prefer", "respond-async, wait=10")
        .json(&json!({ "id": "cus_000002" }))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 202);
    assert_eq!(r.headers()["preference-applied"], "respond-async");
    let location = r.headers()["location"].to_str().unwrap().to_owned();
    let body: Value = r.json().await.unwrap();
    assert_eq!(body["status_url"], json!(location));
    let (status, answer) = answer_of(&env, &env.token, &location).await;
    assert_eq!(status, 200, "{answer}");
    let sync: Value = env
        .post("/ops/crm/get_customer")
        .json(&json!({ "id": "cus_000002" }))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(answer, sync);
    // Only the token that made the call reads it.
    let other = env.token_with("op:*:*").await;
    let r = env
        .http
        .get(format!("{}{location}", env.url))
        .bearer_auth(&other)
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 404);
    // A vendor's refusal is kept as it is answered synchronously.
    let r = env
        .post("/ops/crm/get_customer")
        .header("prefer", "respond-async")
        .json(&json!({ "id": "cus_missing" }))
        .send()
        .await
        .unwrap();
    let location = r.headers()["location"].to_str().unwrap().to_owned();
    let (status, answer) = answer_of(&env, &env.token, &location).await;
    assert_eq!(status, 404, "{answer}");
    assert_eq!(answer["error"]["code"], "upstream_refused");
}

#[tokio::test]
async fn bad_input_is_refused_at_once_and_a_slow_operation_is_always_asynchronous() {
    let env = hub().await;
    let r = env
        .post("/ops/crm/get_customer")
        .header("prefer", "respond-async")
        .json(&json!({ "name": "no id" }))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 400, "checked before it is accepted");
    let r = env
        .get("/ops/crm/get_customer?id=cus_000001&all=true")
        .header("prefer", "respond-async")
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 400);
    // `respond_async: true`: no header needed.
    let r = env
        .get("/ops/crm/slow_customer?id=cus_000003")
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 202);
    let location = r.headers()["location"].to_str().unwrap().to_owned();
    let (status, answer) = answer_of(&env, &env.token, &location).await;
    assert_eq!(status, 200);
    assert_eq!(answer["id"], "cus_000003");
    // Unknown or malformed ids are a plain 404.
    assert_eq!(env.status("/ops/calls/call_nope").await, 404);
    assert_eq!(
        env.status(&format!("/ops/calls/{}", "x".repeat(500))).await,
        404
    );
}

#[tokio::test]
async fn a_call_whose_process_died_is_run_again_if_safe_and_otherwise_ends_outcome_unknown() {
    let env = hub().await;
    let caller = env
        .hub
        .tokens
        .verify(Some(&format!("Bearer {}", env.token)))
        .await
        .unwrap()
        .id
        .clone();
    let now = junction_core::time::now_ms();
    for (uid, op, input) in [
        ("call_read", "get_customer", json!({ "id": "cus_000004" })),
        (
            "call_write",
            "create_customer",
            json!({ "name": "Ada", "email_address": "a@example.com" }),
        ),
    ] {
        env.store
            .queue_call(NewCall {
                uid: uid.into(),
                connector: "crm".into(),
                operation: op.into(),
                connection: "default".into(),
                caller: caller.clone(),
                input: input.to_string(),
                owner: None,
                callback: None,
                now: now - 120_000,
            })
            .await
            .unwrap();
        // A process took it a minute ago and died before its answer was kept.
        let taken = env
            .store
            .take_call(uid, "dead-node", now - 60_000, now - 90_000)
            .await
            .unwrap();
        assert!(taken.is_some());
    }
    let (status, answer) = answer_of(&env, &env.token, "/ops/calls/call_read").await;
    assert_eq!(status, 200, "a read is run again: {answer}");
    assert_eq!(answer["id"], "cus_000004");
    let (status, answer) = answer_of(&env, &env.token, "/ops/calls/call_write").await;
    assert_eq!(status, 502, "{answer}");
    assert_eq!(answer["error"]["code"], "outcome_unknown");
    assert!(
        env.received("/v2/customers")
            .await
            .iter()
            .all(|r| r["method"] != "POST"),
        "the create was not sent again"
    );
    let call = env.store.get_call("call_write").await.unwrap().unwrap();
    assert_eq!(call.tries, 2);
}

#[tokio::test]
async fn a_jobs_calls_never_open_the_circuit_real_traffic_does() {
    use junction_engine::dispatch::Operations;
    let mock = MockConfig {
        customers: 5,
        ..Default::default()
    };
    let env = start(
        &CONFIG.replace(
            "    base_url: \"{MOCK}/v2\"\n",
            "    base_url: \"{MOCK}/v2\"\n    retry: { attempts: 1 }\n    circuit: { error_rate: 50%, min_calls: 2, open_for: 10m }\n",
        ),
        mock,
        &[],
    )
    .await;
    env.chaos(json!({ "errors": [[500, 1.0]] })).await;
    for _ in 0..10 {
        let (status, _) = env
            .hub
            .call(
                "crm",
                "get_customer",
                json!({ "id": "cus_000001" }).as_object().unwrap().clone(),
            )
            .await;
        assert_eq!(status, 502);
    }
    let rt = env.hub.connector("crm").unwrap();
    let now = tokio::time::Instant::now();
    assert_eq!(
        rt.circuit.state(now).level(),
        0.0,
        "probes left the circuit closed"
    );
    for _ in 0..3 {
        env.post("/ops/crm/get_customer")
            .json(&json!({ "id": "cus_000001" }))
            .send()
            .await
            .unwrap();
    }
    assert!(
        rt.circuit.state(tokio::time::Instant::now()).level() > 0.0,
        "real calls opened it"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn asynchronous_calls_running_in_a_hub_are_bounded() {
    use futures_util::StreamExt;
    let env = hub().await;
    // The slow system takes every request and does not answer: calls pile up running.
    env.chaos(json!({ "hang": 1.0 })).await;
    let accept = |i: usize| {
        let env = &env;
        async move {
            env.post("/ops/crm/get_customer")
                .header("prefer", "respond-async")
                .json(&json!({ "id": format!("cus_{i}") }))
                .send()
                .await
                .unwrap()
                .status()
                .as_u16()
        }
    };
    let statuses: Vec<u16> = futures_util::stream::iter((0..1024).map(accept))
        .buffer_unordered(32)
        .collect()
        .await;
    assert!(statuses.iter().all(|s| *s == 202));
    let r = env
        .post("/ops/crm/get_customer")
        .header("prefer", "respond-async")
        .json(&json!({ "id": "cus_000001" }))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 503);
    assert!(r.headers().contains_key("retry-after"));
    let body: Value = r.json().await.unwrap();
    assert!(
        body["error"]["message"].as_str().unwrap().contains("1024"),
        "{body}"
    );
}
