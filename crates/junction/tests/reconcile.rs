//! Reconciliation that proves it: 10,000 customers change at the mock vendor, whose webhooks
//! drop 5 %, duplicate 2 % and reorder 10 %; after one reconciliation pass the warehouse holds,
//! for every customer, the vendor's current version — 0 missing — and no customer's version ever
//! went backwards there — 0 stale overwrites. On SQLite with one hub, and on PostgreSQL with two
//! hubs sharing the webhooks.

mod support;

use std::collections::HashMap;
use std::time::{Duration, Instant};

use junction_mock::{Mock, MockConfig};
use serde_json::{json, Value};
use support::*;

const ADMIN: &str = "admin-token";
const WHSEC: &str = SINK_WHSEC;
const CUSTOMERS: usize = 10_000;
const CHANGES: usize = 10_000;

fn config(mock: &str, store: &str) -> String {
    format!(
        r#"
store: {{ url: "{store}" }}
sources:
  crm:
    kind: webhook
    verify: {{ preset: standard_webhooks, secrets: [ env:WHSEC ] }}
    event: {{ type: .type, key: .data.object.id, sequence: .data.object.version }}
    reconcile:
      connector: crm
      operation: list_customers
      type: customer.updated
      version: .version
      # The event a webhook would have carried, so routes and the warehouse see one shape.
      shape: '{{type: "customer.updated", data: {{object: .}}}}'
connectors:
  crm:
    base_url: "{mock}/v2"
    operations:
      list_customers:
        path: /customers
        query: [ updated_since ]
        paginate: {{ style: cursor, records: data, param: starting_after, next: next_cursor, has_more: has_more, size_param: limit, page_size: 1000, max_pages: 1000, max_records: 1000000 }}
destinations:
  warehouse: {{ url: "{mock}/sink/warehouse", concurrency: 32 }}
routes:
  to-warehouse: {{ from: crm, to: [ warehouse ], ordering: latest }}
jobs:
  crm-reconcile: {{ every: 366d, missed: skip, timeout: 5m, reconcile: {{ source: crm, full: true }} }}
"#
    )
}

async fn mock() -> Mock {
    Mock::start(
        MockConfig {
            customers: CUSTOMERS,
            record_limit: 200_000,
            ..Default::default()
        },
        "127.0.0.1:0".parse().unwrap(),
    )
    .await
    .unwrap()
}

/// `count` changes at the vendor, announced to `hub` by lossy webhooks.
async fn change(http: &reqwest::Client, mock: &Mock, hub: &str, count: usize, seed: u64) -> Value {
    let r = http
        .post(format!("{}/_mock/changes", mock.url()))
        .json(&json!({
            "target": format!("{hub}/webhooks/crm"),
            "scheme": { "kind": "standard_webhooks" },
            "secret": WHSEC,
            "count": count,
            "drop": 0.05,
            "duplicates": 0.02,
            "out_of_order": 0.10,
            "concurrency": 32,
            "seed": seed,
            "id_offset": seed * 1_000_000,
        }))
        .timeout(Duration::from_secs(300))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 200);
    r.json().await.unwrap()
}

/// Runs the reconciliation on `hub` and waits for the run after `after` to finish.
async fn reconcile(http: &reqwest::Client, hub: &str, after: i64) -> Value {
    let r = http
        .post(format!("{hub}/api/v1/jobs/crm-reconcile/run"))
        .bearer_auth(ADMIN)
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 202);
    finished_run(http, hub, ADMIN, "crm-reconcile", after).await
}

/// Waits until the warehouse holds every customer at the vendor's version; fails on a version
/// that went backwards.
async fn warehouse_matches_the_vendor(mock: &Mock) {
    let truth: HashMap<String, u64> = mock.state.customer_versions().into_iter().collect();
    let until = Instant::now() + Duration::from_secs(120);
    loop {
        let (_, got) = mock.state.received.snapshot();
        let mut newest: HashMap<String, u64> = HashMap::new();
        for d in got
            .iter()
            .filter(|d| d.path == "/sink/warehouse" && d.answered == 200)
        {
            let v: Value = serde_json::from_str(&d.body).unwrap();
            let o = &v["data"]["object"];
            let (id, version) = (o["id"].as_str().unwrap(), o["version"].as_u64().unwrap());
            let seen = newest.entry(id.to_owned()).or_default();
            assert!(
                version >= *seen,
                "stale overwrite: {id} went from version {seen} to {version}"
            );
            *seen = version;
        }
        let wrong: Vec<(&String, &u64, Option<&u64>)> = truth
            .iter()
            .filter(|(id, v)| newest.get(*id) != Some(v))
            .map(|(id, v)| (id, v, newest.get(id)))
            .take(5)
            .collect();
        if wrong.is_empty() {
            return;
        }
        assert!(
            Instant::now() < until,
            "the warehouse differs from the vendor, e.g. (id, vendor, warehouse): {wrong:?}"
        );
        tokio::time::sleep(Duration::from_millis(250)).await;
    }
}

async fn prove(store: &str, hubs: usize) {
    let mock = mock().await;
    let http = reqwest::Client::new();
    let dir = tempfile::tempdir().unwrap();
    let path = write_config(dir.path(), &config(&mock.url(), store));
    let env = [("JUNCTION_ADMIN_TOKEN", ADMIN), ("WHSEC", WHSEC)];
    let served: Vec<Served> = (0..hubs).map(|_| Served::start(&path, &env)).collect();
    // The changes, their webhooks spread over the hubs.
    let per = CHANGES / hubs;
    let sends = served
        .iter()
        .enumerate()
        .map(|(i, h)| change(&http, &mock, &h.base, per, 1 + i as u64));
    let mut dropped = 0;
    for sent in futures_util::future::join_all(sends).await {
        dropped += sent["dropped"].as_u64().unwrap();
    }
    assert!(dropped > 0);
    let run = reconcile(&http, &served[0].base, 0).await;
    assert_eq!(run["state"], "succeeded", "{run}");
    let r = &run["result"];
    assert!(r["reconcile"] == true && r["records"] == CUSTOMERS, "{r}");
    // Customers no webhook announced are missing; those whose last webhooks were dropped are
    // stale; the rest were up to date.
    let (missing, stale) = (r["missing"].as_u64().unwrap(), r["stale"].as_u64().unwrap());
    assert!(missing > 0 && stale > 0, "{r}");
    assert_eq!(r["missed"].as_u64().unwrap(), missing + stale);
    assert_eq!(r["extra"], 0, "{r}");
    warehouse_matches_the_vendor(&mock).await;
    // What reconciliation emitted says so.
    let (_, got) = mock.state.received.snapshot();
    let marked = got
        .iter()
        .filter(|d| d.headers.get("junction-origin").map(String::as_str) == Some("reconciliation"))
        .count() as u64;
    assert_eq!(marked, missing + stale, "{r}");
    // A second pass finds nothing: every change is known.
    let again = reconcile(&http, &served[0].base, run["id"].as_i64().unwrap()).await;
    assert_eq!(again["result"]["missed"], 0, "{again}");
    for h in served {
        h.terminate();
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn reconciliation_leaves_no_change_missed_and_no_version_overwritten_on_sqlite() {
    let dir = tempfile::tempdir().unwrap();
    prove(&format!("sqlite://{}/j.db", dir.path().display()), 1).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn reconciliation_holds_with_two_hubs_on_postgres() {
    let Some(db) = junction_testkit::postgres::TestDb::create().await else {
        return;
    };
    prove(&db.url, 2).await;
}
