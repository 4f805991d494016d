//! Deliveries into a vendor's API, as a user runs them: `junction serve` takes signed webhooks
//! from one provider, maps each event and delivers it into another vendor's API through a
//! connector's operation — OAuth (tokens expiring during the run), a shared quota, the
//! connector's idempotency header — with per-key order, through an outage.

mod support;

use std::collections::{BTreeMap, BTreeSet};
use std::time::{Duration, Instant};

use junction_mock::{AuthConfig, HeaderStyle, Limit, Mock, MockConfig, QuotaConfig};
use serde_json::{json, Value};
use support::*;

const KEY: &str = "v1:q83vEjRWeJCrze8SNFZ4kKvN7xI0VniQq83vEjRWeJA=";
const WHSEC: &str = "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw";
const EVENTS: usize = 200;
const KEYS: usize = 10;

fn config(dir: &std::path::Path, mock: &str) -> String {
    format!(
        r#"
store: {{ url: "sqlite://{dir}/j.db" }}
sources:
  shop:
    kind: webhook
    verify: {{ preset: standard_webhooks, secrets: [ env:WHSEC ] }}
    event: {{ key: .data.object.id, sequence: .sequence }}
mappings:
  event_to_customer:
    jq: '{{id: .data.object.id, name: ("seq " + (.sequence | tostring)), sequence: .sequence}}'
models:
  # What the vendor is expected to answer; it never sends `nickname`: drift, not a failure.
  crm_ack@1:
    schema: {{ type: object, required: [ id, nickname ] }}
connectors:
  crm:
    base_url: "{mock}/v2"
    auth:
      kind: oauth2_client_credentials
      token_url: "{mock}/oauth/token"
      client_id: mock_client
      client_secret: env:CRM_SECRET
    quotas: [ 40/s ]
    retry: {{ idempotency_header: Idempotency-Key }}
    # Opens while the vendor is down; deliveries wait for it, then probe after half a second.
    circuit: {{ error_rate: 50%, window: 2s, min_calls: 5, open_for: 500ms }}
    operations:
      update_customer:
        method: PATCH
        path: /customers/{{id}}
        headers: {{ sequence: X-Sequence }}
        response: {{ model: crm_ack@1 }}
destinations:
  crm_customers:
    connector: crm
    operation: update_customer
    concurrency: 8
    retry: {{ attempts: 100, base: 50ms, max: 400ms }}
    circuit: {{ failures: 1000, open_for: 100ms }}
routes:
  r: {{ from: shop, ordering: fifo, map: event_to_customer, to: [ crm_customers ] }}
"#,
        dir = dir.display()
    )
}

async fn mock(config: MockConfig) -> Mock {
    Mock::start(config, "127.0.0.1:0".parse().unwrap())
        .await
        .unwrap()
}

/// Sets how the provider's API misbehaves (the chaos format).
async fn chaos(http: &reqwest::Client, mock: &str, chaos: Value) {
    let r = http
        .put(format!("{mock}/_mock/chaos"))
        .json(&chaos)
        .send()
        .await
        .unwrap();
    assert!(r.status().is_success());
}

/// What the mock received under `path`, in arrival order.
async fn requests(http: &reqwest::Client, mock: &str, path: &str) -> Vec<Value> {
    let log: Value = http
        .get(format!("{mock}/_mock/requests?path={path}"))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    log["requests"].as_array().cloned().unwrap_or_default()
}

/// The customers' names at the mock (read with its API key).
async fn names(http: &reqwest::Client, mock: &str) -> BTreeMap<String, String> {
    let mut out = BTreeMap::new();
    for i in 1..=KEYS {
        let id = format!("cus_{i:06}");
        let v: Value = http
            .get(format!("{mock}/v2/customers/{id}"))
            .header("x-api-key", "mock_key_1")
            .send()
            .await
            .unwrap()
            .json()
            .await
            .unwrap_or_default();
        out.insert(id, v["name"].as_str().unwrap_or_default().to_owned());
    }
    out
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn webhooks_are_delivered_into_a_vendors_api_once_in_order_within_its_quota_through_an_outage(
) {
    let mock = mock(MockConfig {
        customers: KEYS,
        auth: AuthConfig {
            required: true,
            token_ttl: Duration::from_secs(2),
            ..Default::default()
        },
        quotas: QuotaConfig {
            // Per credential: the test's own reads (with the API key) are not the hub's.
            limits: vec![Limit::parse("40/s").unwrap()],
            headers: HeaderStyle::Draft,
            sliding: false,
        },
        ..Default::default()
    })
    .await;
    let m = mock.url();
    let http = reqwest::Client::new();
    let dir = tempfile::tempdir().unwrap();
    let path = write_config(dir.path(), &config(dir.path(), &m));
    let hub = Served::start(
        &path,
        &[
            ("WHSEC", WHSEC),
            ("CRM_SECRET", "mock_secret"),
            ("JUNCTION_MASTER_KEY", KEY),
        ],
    );
    // The vendor is down when the events arrive; they wait in the queue, in order.
    chaos(&http, &m, json!({ "errors": [[503, 1.0]] })).await;
    let sent = http
        .post(format!("{m}/_mock/webhooks/send"))
        .json(&json!({ "target": format!("{}/webhooks/shop", hub.base),
            "scheme": { "kind": "standard_webhooks" }, "secret": WHSEC,
            "count": EVENTS, "keys": KEYS, "duplicates": 0.1, "concurrency": 8, "seed": 3 }))
        .send()
        .await
        .unwrap();
    assert!(sent.status().is_success(), "{}", sent.text().await.unwrap());
    tokio::time::sleep(Duration::from_secs(2)).await;
    let up = http
        .delete(format!("{m}/_mock/chaos"))
        .send()
        .await
        .unwrap();
    assert!(up.status().is_success());

    // Every key ends at its last event's name.
    let mut last: BTreeMap<String, u64> = BTreeMap::new();
    for i in 0..EVENTS {
        // The mock cycles keys over the events and numbers them from 1.
        let key = format!("cus_{:06}", i % KEYS + 1);
        last.insert(key, i as u64 + 1);
    }
    let until = Instant::now() + Duration::from_secs(60);
    loop {
        let got = names(&http, &m).await;
        if last
            .iter()
            .all(|(k, s)| got.get(k).is_some_and(|n| *n == format!("seq {s}")))
        {
            break;
        }
        assert!(
            Instant::now() < until,
            "not all delivered: {got:?} want {last:?}"
        );
        tokio::time::sleep(Duration::from_millis(500)).await;
    }

    // The vendor's own log: each delivery's key and sequence, in arrival order.
    let requests = requests(&http, &m, "/v2/customers").await;
    let patches: Vec<&Value> = requests.iter().filter(|r| r["method"] == "PATCH").collect();
    let mut per_key: BTreeMap<String, Vec<u64>> = BTreeMap::new();
    let mut by_idempotency: BTreeMap<String, BTreeSet<String>> = BTreeMap::new();
    for r in &patches {
        let key = r["path"]
            .as_str()
            .unwrap()
            .rsplit('/')
            .next()
            .unwrap()
            .to_owned();
        let seq: u64 = r["headers"]["x-sequence"]
            .as_str()
            .unwrap()
            .parse()
            .unwrap();
        let idem = r["headers"]["idempotency-key"]
            .as_str()
            .expect("every call keyed");
        by_idempotency
            .entry(idem.to_owned())
            .or_default()
            .insert(format!("{key}/{seq}"));
        let seqs = per_key.entry(key).or_default();
        if seqs.last() != Some(&seq) {
            seqs.push(seq);
        }
    }
    // Once each: one key per event, and a key is only ever repeated for the same event.
    assert_eq!(by_idempotency.len(), EVENTS, "one delivery per event");
    assert!(by_idempotency.values().all(|s| s.len() == 1));
    // In per-key order: the sequences a key received never go backwards.
    for (key, seqs) in &per_key {
        assert!(seqs.windows(2).all(|w| w[0] < w[1]), "{key}: {seqs:?}");
        assert_eq!(seqs.len(), EVENTS / KEYS, "{key}: every event: {seqs:?}");
    }
    // Never above the vendor's quota, in its own one-second windows.
    let mut per_window: BTreeMap<u64, usize> = BTreeMap::new();
    for r in &patches {
        *per_window
            .entry(r["at_us"].as_u64().unwrap() / 1_000_000)
            .or_default() += 1;
    }
    assert!(per_window.values().all(|n| *n <= 40), "{per_window:?}");
    // Tokens expired during the run and were refreshed, not fatal.
    let tokens: Value = http
        .get(format!("{m}/_mock/tokens"))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert!(tokens["issued"].as_array().unwrap().len() >= 2, "{tokens}");
    // The vendor took every delivery, but its answers break the expected model: drift.
    let drift: Value = http
        .get(format!("{}/api/v1/drift", hub.base))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert!(
        drift.to_string().contains("crm/update_customer") && drift.to_string().contains("nickname"),
        "{drift}"
    );
    let (_, logs) = hub.terminate();
    assert!(
        !logs.contains("mock_secret"),
        "a secret leaked into the logs"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_create_without_an_idempotency_header_is_never_repeated_blindly() {
    let mock = mock(MockConfig {
        customers: 1,
        ..Default::default()
    })
    .await;
    let m = mock.url();
    let http = reqwest::Client::new();
    // The vendor takes every request and never answers.
    chaos(&http, &m, json!({ "hang": 1.0 })).await;
    let dir = tempfile::tempdir().unwrap();
    let yaml = format!(
        r#"
store: {{ url: "sqlite://{dir}/j.db" }}
sources:
  shop:
    kind: webhook
    verify: {{ preset: standard_webhooks, secrets: [ env:WHSEC ] }}
mappings:
  event_to_customer:
    jq: '{{name: .data.object.id, email_address: "a@example.com"}}'
connectors:
  crm:
    base_url: "{m}/v2"
    timeouts: {{ attempt: 300ms, total: 1s }}
    operations:
      create_customer: {{ method: POST, path: /customers }}
destinations:
  crm_new:
    connector: crm
    operation: create_customer
    timeout: 1s
    retry: {{ attempts: 5, base: 10ms, max: 20ms }}
routes:
  r: {{ from: shop, map: event_to_customer, to: [ crm_new ] }}
"#,
        dir = dir.path().display()
    );
    let path = write_config(dir.path(), &yaml);
    let hub = Served::start(
        &path,
        &[("WHSEC", WHSEC), ("JUNCTION_ADMIN_TOKEN", "admin-token")],
    );
    let sent = http
        .post(format!("{m}/_mock/webhooks/send"))
        .json(&json!({ "target": format!("{}/webhooks/shop", hub.base),
            "scheme": { "kind": "standard_webhooks" }, "secret": WHSEC, "count": 1 }))
        .send()
        .await
        .unwrap();
    assert!(sent.status().is_success());
    let until = Instant::now() + Duration::from_secs(20);
    let dead = loop {
        let list: Value = http
            .get(format!("{}/api/v1/dead-letters", hub.base))
            .bearer_auth("admin-token")
            .send()
            .await
            .unwrap()
            .json()
            .await
            .unwrap();
        if let Some(d) = list["items"].as_array().and_then(|i| i.first()) {
            break d.clone();
        }
        assert!(Instant::now() < until, "not dead-lettered: {list}");
        tokio::time::sleep(Duration::from_millis(200)).await;
    };
    let reason = dead["dead_reason"].as_str().unwrap_or_default();
    assert!(reason.contains("outcome unknown"), "{dead}");
    assert_eq!(dead["attempts"], 1, "not retried: {dead}");
    let posts = requests(&http, &m, "/v2/customers")
        .await
        .iter()
        .filter(|r| r["method"] == "POST")
        .count();
    assert_eq!(posts, 1, "the vendor saw the create once");
    hub.kill();
}
