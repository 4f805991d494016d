//! Rollouts as a user runs them, with `junction serve`: a route's candidate mapping canaried on
//! the delivery path rolls back by itself when it quarantines (alert, audit log, nothing lost),
//! a shadowed mapping's differences are drift, and deliveries into a connector with two API
//! versions stick to one version per entity key.

mod support;

use std::collections::{BTreeMap, BTreeSet};
use std::time::{Duration, Instant};

use junction_mock::{Mock, MockConfig};
use serde_json::{json, Value};
use support::*;

const WHSEC: &str = "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw";
const ADMIN: &str = "admin-token";

async fn mock(customers: usize) -> Mock {
    let config = MockConfig {
        customers,
        ..Default::default()
    };
    Mock::start(config, "127.0.0.1:0".parse().unwrap())
        .await
        .unwrap()
}

fn serve(dir: &std::path::Path, body: &str) -> Served {
    let yaml = format!(
        r#"
store: {{ url: "sqlite://{dir}/j.db" }}
sources:
  shop:
    kind: webhook
    verify: {{ preset: standard_webhooks, secrets: [ env:WHSEC ] }}
    event: {{ key: .data.object.id, sequence: .sequence }}
alerts: {{ evaluate_every: 1s }}
{body}"#,
        dir = dir.display()
    );
    let path = write_config(dir, &yaml);
    Served::start(&path, &[("WHSEC", WHSEC), ("JUNCTION_ADMIN_TOKEN", ADMIN)])
}

/// Sends `count` signed events over `keys` entity keys from the mock to the hub.
async fn send(http: &reqwest::Client, mock: &str, hub: &str, count: usize, keys: usize) {
    let sent = http
        .post(format!("{mock}/_mock/webhooks/send"))
        .json(&json!({ "target": format!("{hub}/webhooks/shop"),
            "scheme": { "kind": "standard_webhooks" }, "secret": WHSEC,
            "count": count, "keys": keys, "concurrency": 4, "seed": 7 }))
        .send()
        .await
        .unwrap();
    assert!(sent.status().is_success(), "{}", sent.text().await.unwrap());
}

async fn admin(http: &reqwest::Client, hub: &str, path: &str) -> Value {
    http.get(format!("{hub}{path}"))
        .bearer_auth(ADMIN)
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap()
}

/// Polls the admin API at `path` until `done` holds (up to 20 s).
async fn admin_until(
    http: &reqwest::Client,
    hub: &str,
    path: &str,
    done: impl Fn(&Value) -> bool,
) -> Value {
    let until = Instant::now() + Duration::from_secs(20);
    loop {
        let v = admin(http, hub, path).await;
        if done(&v) {
            return v;
        }
        assert!(Instant::now() < until, "{path}: {v}");
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_mapping_canary_that_quarantines_rolls_back_by_itself_alerts_and_loses_nothing() {
    let mock = mock(1).await;
    let m = mock.url();
    let http = reqwest::Client::new();
    let dir = tempfile::tempdir().unwrap();
    // The candidate reads a field the events do not have: its output breaks the model.
    let hub = serve(
        dir.path(),
        &format!(
            r#"
models:
  order@1:
    schema: {{ type: object, required: [customer, sequence], properties: {{ customer: {{ type: string }} }} }}
mappings:
  to_order: {{ to: order@1, jq: '{{customer: .data.object.id, sequence}}' }}
  to_order_next: {{ to: order@1, jq: '{{customer: .data.object.customer_id, sequence}}' }}
destinations:
  orders: {{ url: "{m}/sink/orders", model: order@1, concurrency: 1 }}
routes:
  r:
    from: shop
    map: to_order
    rollout: {{ candidate: to_order_next, mode: canary, percent: 50%, rollback: {{ min_calls: 5 }} }}
    to: [ orders ]
"#
        ),
    );
    send(&http, &m, &hub.base, 100, 20).await;
    let quarantined = admin_until(&http, &hub.base, "/api/v1/rollouts", |v| {
        v["rollouts"][0]["rolled_back_at_ms"].is_i64()
    })
    .await;
    let r = &quarantined["rollouts"][0];
    assert_eq!(r["name"], "route:r");
    assert_eq!(
        (r["stable"].as_str(), r["candidate"].as_str()),
        (Some("to_order"), Some("to_order_next"))
    );
    let why = r["rolled_back_why"].as_str().unwrap();
    assert!(why.contains("to_order_next failed 5 of 5"), "{why}");
    // Every event is accounted for: delivered by the stable mapping, or quarantined by the
    // candidate before the rollback (five, one at a time).
    let received = sink_until(&http, &m, "/sink/orders", |all| all.len() >= 95).await;
    assert_eq!(received.len(), 95);
    assert!(received.iter().all(|d| {
        let body: Value = serde_json::from_str(d["body"].as_str().unwrap()).unwrap();
        body["customer"].is_string()
    }));
    let q = admin(&http, &hub.base, "/api/v1/quarantine").await;
    assert_eq!(q["items"].as_array().map(Vec::len), Some(5), "{q}");
    // Replayed, they go through the stable mapping now.
    let replayed = http
        .post(format!("{}/api/v1/quarantine/replay", hub.base))
        .bearer_auth(ADMIN)
        .json(&json!({}))
        .send()
        .await
        .unwrap();
    assert!(replayed.status().is_success());
    sink_until(&http, &m, "/sink/orders", |all| all.len() == 100).await;
    // The alert fires and the audit log says why.
    let alerts = admin_until(&http, &hub.base, "/api/v1/alerts", |v| {
        v["alerts"].as_array().unwrap().iter().any(|a| {
            a["rule"] == "rollout_rolled_back"
                && a["subject"] == "route:r"
                && a["state"] == "firing"
        })
    })
    .await;
    assert!(
        alerts.to_string().contains("to_order_next failed"),
        "{alerts}"
    );
    let audit = admin(&http, &hub.base, "/api/v1/audit?limit=50").await;
    let entry = audit["entries"]
        .as_array()
        .unwrap()
        .iter()
        .find(|e| e["action"] == "rollout.rollback")
        .cloned()
        .unwrap_or_else(|| panic!("{audit}"));
    assert_eq!(entry["target"], "route:r");
    assert_eq!(entry["actor"], "hub");
    // An operator resumes it (audited as any admin write).
    let resumed = http
        .post(format!("{}/api/v1/rollouts/route:r/resume", hub.base))
        .bearer_auth(ADMIN)
        .send()
        .await
        .unwrap();
    assert_eq!(resumed.status(), 200);
    let again = http
        .post(format!("{}/api/v1/rollouts/route:r/resume", hub.base))
        .bearer_auth(ADMIN)
        .send()
        .await
        .unwrap();
    assert_eq!(again.status(), 409);
    hub.terminate();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_shadowed_mapping_delivers_nothing_of_its_own_and_its_differences_are_drift() {
    let mock = mock(1).await;
    let m = mock.url();
    let http = reqwest::Client::new();
    let dir = tempfile::tempdir().unwrap();
    let hub = serve(
        dir.path(),
        &format!(
            r#"
mappings:
  to_order: {{ jq: '{{customer: .data.object.id, sequence}}' }}
  to_order_renamed: {{ jq: '{{customer_id: .data.object.id, sequence}}' }}
destinations:
  orders: {{ url: "{m}/sink/shadow" }}
routes:
  r:
    from: shop
    map: to_order
    rollout: {{ candidate: to_order_renamed, mode: shadow }}
    to: [ orders ]
"#
        ),
    );
    send(&http, &m, &hub.base, 20, 5).await;
    let received = sink_until(&http, &m, "/sink/shadow", |all| all.len() >= 20).await;
    assert!(received
        .iter()
        .all(|d| d["body"].as_str().unwrap().contains("\"customer\"")));
    let drift = admin_until(&http, &hub.base, "/api/v1/drift", |v| {
        v.to_string().contains("r@to_order_renamed")
    })
    .await;
    let paths: BTreeSet<String> = drift["items"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|d| d["subject"] == "r@to_order_renamed")
        .map(|d| {
            format!(
                "{} {}",
                d["path"].as_str().unwrap(),
                d["kind"].as_str().unwrap()
            )
        })
        .collect();
    assert_eq!(
        paths,
        BTreeSet::from([
            "/customer differs".to_owned(),
            "/customer_id differs".to_owned()
        ]),
        "{drift}"
    );
    let rollouts = admin(&http, &hub.base, "/api/v1/rollouts").await;
    assert_eq!(rollouts["rollouts"][0]["candidate_calls"], 20, "{rollouts}");
    assert!(rollouts["rollouts"][0]["rolled_back_at_ms"].is_null());
    hub.terminate();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn deliveries_into_a_versioned_connector_stick_to_one_version_per_key() {
    const KEYS: usize = 16;
    let mock = mock(KEYS).await;
    let m = mock.url();
    let http = reqwest::Client::new();
    let dir = tempfile::tempdir().unwrap();
    let hub = serve(
        dir.path(),
        &format!(
            r#"
mappings:
  event_to_customer: {{ jq: '{{id: .data.object.id, name: ("seq " + (.sequence | tostring))}}' }}
connectors:
  crm:
    base_url: "{m}"
    versions:
      v1: {{ path: /v1 }}
      v2: {{ path: /v2 }}
    rollout: {{ stable: v1, candidate: v2, mode: canary, percent: 50% }}
    operations:
      update_customer: {{ method: PATCH, path: "/customers/{{id}}" }}
destinations:
  crm_customers: {{ connector: crm, operation: update_customer }}
routes:
  r: {{ from: shop, ordering: fifo, map: event_to_customer, to: [ crm_customers ] }}
"#
        ),
    );
    send(&http, &m, &hub.base, 160, KEYS).await;
    let until = Instant::now() + Duration::from_secs(30);
    let patches = loop {
        let log: Value = http
            .get(format!("{m}/_mock/requests?path=/v"))
            .send()
            .await
            .unwrap()
            .json()
            .await
            .unwrap();
        let patches: Vec<Value> = log["requests"]
            .as_array()
            .unwrap()
            .iter()
            .filter(|r| r["method"] == "PATCH")
            .cloned()
            .collect();
        if patches.len() >= 160 {
            break patches;
        }
        assert!(Instant::now() < until, "{} of 160 delivered", patches.len());
        tokio::time::sleep(Duration::from_millis(200)).await;
    };
    let mut versions: BTreeMap<String, BTreeSet<String>> = BTreeMap::new();
    for p in &patches {
        let path = p["path"].as_str().unwrap();
        let (version, key) = (&path[1..3], path.rsplit('/').next().unwrap());
        versions
            .entry(key.to_owned())
            .or_default()
            .insert(version.to_owned());
    }
    assert_eq!(versions.len(), KEYS);
    assert!(
        versions.values().all(|v| v.len() == 1),
        "a key was delivered to both versions: {versions:?}"
    );
    let on_v2 = versions.values().filter(|v| v.contains("v2")).count();
    assert!(
        (1..KEYS).contains(&on_v2),
        "both versions take keys: {versions:?}"
    );
    let rollouts = admin(&http, &hub.base, "/api/v1/rollouts").await;
    let r = &rollouts["rollouts"][0];
    assert_eq!(r["name"], "connector:crm");
    assert_eq!(r["percent"], 50.0);
    hub.terminate();
}
