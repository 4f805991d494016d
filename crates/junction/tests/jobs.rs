//! Jobs as a user runs them: contract probes on a schedule with `junction serve`, each slot run
//! once however many hubs share the database (two hub processes on PostgreSQL), a broken
//! contract reported with what uses the operation, and operators running, pausing and resuming
//! jobs with `junction jobs`.

mod support;

use std::collections::BTreeMap;
use std::time::{Duration, Instant};

use junction_mock::{Mock, MockConfig};
use serde_json::Value;
use support::*;

const ADMIN: &str = "admin-token";

fn config(mock: &str, store: &str) -> String {
    format!(
        r#"
store: {{ url: "{store}" }}
models:
  customer@1:
    schema: {{ type: object, required: [id, email, name], properties: {{ email: {{ type: string }} }} }}
mappings:
  customer_from_v2: {{ to: customer@1, jq: '{{id, email: .email_address, name}}' }}
  # Written for v1: v2 renamed `email`, so its answers break the model.
  customer_from_v1: {{ jq: '{{id, email, name}}' }}
connectors:
  crm:
    base_url: "{mock}/v2"
    operations:
      get_customer: {{ path: "/customers/{{id}}", response: {{ map: customer_from_v2, model: customer@1 }} }}
      get_customer_v1_shape: {{ path: "/customers/{{id}}", response: {{ map: customer_from_v1, model: customer@1 }} }}
      update_customer: {{ method: PATCH, path: "/customers/{{id}}" }}
destinations:
  crm_updates: {{ connector: crm, operation: get_customer_v1_shape }}
sources:
  shop: {{ kind: webhook, verify: {{ preset: none }} }}
routes:
  r: {{ from: shop, to: [ crm_updates ] }}
jobs:
  crm-contract:
    every: 1s
    probe:
      connector: crm
      calls:
        - {{ operation: get_customer, input: {{ id: cus_000001 }} }}
  crm-broken:
    every: 1s
    probe:
      connector: crm
      calls:
        - {{ operation: get_customer_v1_shape, input: {{ id: cus_000002 }} }}
"#
    )
}

async fn mock() -> Mock {
    let config = MockConfig {
        customers: 5,
        ..Default::default()
    };
    Mock::start(config, "127.0.0.1:0".parse().unwrap())
        .await
        .unwrap()
}

async fn get(http: &reqwest::Client, base: &str, path: &str) -> Value {
    http.get(format!("{base}{path}"))
        .bearer_auth(ADMIN)
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap()
}

/// Runs of `job` as the admin API lists them, once at least `n` have finished.
async fn runs_until(http: &reqwest::Client, base: &str, job: &str, n: usize) -> Vec<Value> {
    let until = Instant::now() + Duration::from_secs(20);
    loop {
        let d = get(http, base, &format!("/api/v1/jobs/{job}")).await;
        let runs: Vec<Value> = d["runs"].as_array().cloned().unwrap_or_default();
        if runs.iter().filter(|r| r["state"] != "running").count() >= n {
            return runs;
        }
        assert!(Instant::now() < until, "{d}");
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn probes_run_on_schedule_and_a_broken_contract_is_reported_with_what_uses_it() {
    let mock = mock().await;
    let http = reqwest::Client::new();
    let dir = tempfile::tempdir().unwrap();
    let db = format!("sqlite://{}/j.db", dir.path().display());
    let path = write_config(dir.path(), &config(&mock.url(), &db));
    let hub = Served::start(&path, &[("JUNCTION_ADMIN_TOKEN", ADMIN)]);

    let good = runs_until(&http, &hub.base, "crm-contract", 2).await;
    let done: Vec<&Value> = good.iter().filter(|r| r["state"] != "running").collect();
    assert!(done.iter().all(|r| r["state"] == "succeeded"), "{good:?}");
    assert_eq!(done[0]["result"]["calls"][0]["status"], 200);
    // Each slot once: distinct, one second apart.
    let slots: Vec<i64> = good.iter().filter_map(|r| r["slot_ms"].as_i64()).collect();
    assert!(slots.windows(2).all(|w| w[0] > w[1]), "{slots:?}");

    let broken = runs_until(&http, &hub.base, "crm-broken", 1).await;
    let run = broken
        .iter()
        .find(|r| r["state"] == "failed")
        .expect("a failed run");
    let call = &run["result"]["calls"][0];
    assert_eq!(call["status"], 502, "{run}");
    assert_eq!(call["error"]["code"], "upstream_invalid");
    assert!(
        call["error"]["errors"].to_string().contains("email"),
        "{call}"
    );
    assert_eq!(call["used_by"]["mapping"], "customer_from_v1");
    assert_eq!(call["used_by"]["model"], "customer@1");
    assert_eq!(call["used_by"]["destinations"][0], "crm_updates");
    assert_eq!(call["used_by"]["routes"][0], "r");
    assert!(run["error"]
        .as_str()
        .unwrap()
        .contains("get_customer_v1_shape"));
    // The break is schema drift too.
    let drift = get(&http, &hub.base, "/api/v1/drift").await;
    assert!(
        drift.to_string().contains("crm/get_customer_v1_shape"),
        "{drift}"
    );

    // Operators: pause (no scheduled run starts), run now, resume.
    let (code, out, err) = against(&hub.base, Some(ADMIN), &["jobs", "pause", "crm-contract"]);
    assert_eq!(code, Some(0), "{out}{err}");
    assert!(out.contains("crm-contract is paused"), "{out}");
    tokio::time::sleep(Duration::from_millis(1500)).await;
    let before = get(&http, &hub.base, "/api/v1/jobs/crm-contract").await["runs"]
        .as_array()
        .unwrap()
        .len();
    tokio::time::sleep(Duration::from_millis(2500)).await;
    let after = get(&http, &hub.base, "/api/v1/jobs/crm-contract").await;
    assert_eq!(after["runs"].as_array().unwrap().len(), before, "{after}");
    assert_eq!(after["job"]["paused"], true);
    let (code, out, err) = against(&hub.base, Some(ADMIN), &["jobs", "run", "crm-contract"]);
    assert_eq!(code, Some(0), "{out}{err}");
    assert!(out.contains("started"), "{out}");
    let runs = runs_until(&http, &hub.base, "crm-contract", before + 1).await;
    assert_eq!(runs[0]["trigger"], "manual");
    assert!(runs[0]["slot_ms"].is_null());
    let (code, out, _) = against(&hub.base, Some(ADMIN), &["jobs", "resume", "crm-contract"]);
    assert_eq!(code, Some(0));
    assert!(out.contains("active"), "{out}");
    let (code, out, _) = against(&hub.base, Some(ADMIN), &["jobs", "show", "crm-broken"]);
    assert_eq!(code, Some(0));
    assert!(
        out.contains("get_customer_v1_shape") && out.contains("502"),
        "{out}"
    );
    let (code, out, _) = against(&hub.base, Some(ADMIN), &["jobs", "list"]);
    assert_eq!(code, Some(0));
    assert!(
        out.contains("crm-contract") && out.contains("every 1s"),
        "{out}"
    );
    let (_, _, err) = against(&hub.base, Some(ADMIN), &["jobs", "run", "nope"]);
    assert!(
        err.contains("no job `nope`") && err.contains("crm-broken"),
        "{err}"
    );
    // Operators can read runs; only operators start them.
    let viewer = http
        .post(format!("{}/api/v1/jobs/crm-contract/run", hub.base))
        .send()
        .await
        .unwrap();
    assert_eq!(viewer.status(), 401);
    hub.terminate();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn two_hubs_on_postgres_run_each_slot_once() {
    let Some(db) = junction_testkit::postgres::TestDb::create().await else {
        return;
    };
    let mock = mock().await;
    let http = reqwest::Client::new();
    let dir = tempfile::tempdir().unwrap();
    let path = write_config(dir.path(), &config(&mock.url(), &db.url));
    let a = Served::start(&path, &[("JUNCTION_ADMIN_TOKEN", ADMIN)]);
    let b = Served::start(&path, &[("JUNCTION_ADMIN_TOKEN", ADMIN)]);
    tokio::time::sleep(Duration::from_secs(5)).await;
    let runs = runs_until(&http, &a.base, "crm-contract", 3).await;
    let mut per_slot: BTreeMap<i64, usize> = BTreeMap::new();
    for r in runs.iter().filter(|r| r["trigger"] != "manual") {
        *per_slot.entry(r["slot_ms"].as_i64().unwrap()).or_default() += 1;
    }
    assert!(per_slot.len() >= 3, "{per_slot:?}");
    assert!(
        per_slot.values().all(|n| *n == 1),
        "a slot ran twice: {per_slot:?}"
    );
    // The mock saw one probe call per run.
    let calls = mock
        .state
        .log
        .snapshot()
        .1
        .iter()
        .filter(|r| r.path == "/v2/customers/cus_000001")
        .count();
    let finished = get(&http, &b.base, "/api/v1/jobs/crm-contract").await["runs"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|r| r["state"] != "running")
        .count();
    assert!(
        calls >= finished && calls <= finished + 2,
        "{calls} calls, {finished} runs"
    );
    a.terminate();
    b.terminate();
}
