//! Syncs as a user runs them: `junction serve` pulls the mock vendor's customers on a schedule
//! into events delivered like webhooks', a change at the vendor arrives once, a sync source takes
//! no webhooks, and a full refresh deletes what the vendor no longer lists — past the source's
//! share only when an operator confirms with `junction jobs run --confirm-deletions`.

mod support;

use std::time::Duration;

use junction_mock::{Mock, MockConfig};
use serde_json::{json, Value};
use support::*;

const ADMIN: &str = "admin-token";

fn config(mock: &str, store: &str) -> String {
    format!(
        r#"
store: {{ url: "{store}" }}
models:
  customer@1:
    schema: {{ type: object, required: [id, email, name, updated] }}
mappings:
  crm_customer: {{ to: customer@1, jq: '{{id, email: .email_address, name, updated}}' }}
connectors:
  crm:
    base_url: "{mock}/v2"
    operations:
      list_customers:
        path: /customers
        query: [ updated_since ]
        paginate: {{ style: cursor, records: data, param: starting_after, next: next_cursor, has_more: has_more, size_param: limit, page_size: 2 }}
        response: {{ map: crm_customer, model: customer@1 }}
sources:
  customers:
    kind: sync
    sync:
      connector: crm
      operation: list_customers
      entity: customer
      version: .updated
      since: {{ param: updated_since, lookback: 2s }}
destinations:
  warehouse: {{ url: "{mock}/sink/customers" }}
routes:
  to-warehouse: {{ from: customers, to: [ warehouse ], ordering: latest }}
jobs:
  crm-sync: {{ every: 1s, sync: {{ source: customers }} }}
  crm-refresh: {{ every: 1d, missed: skip, sync: {{ source: customers, full: true }} }}
"#
    )
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_sync_pulls_changes_into_deliveries_and_a_full_refresh_deletes_within_its_guard() {
    let mock = Mock::start(
        MockConfig {
            customers: 5,
            ..Default::default()
        },
        "127.0.0.1:0".parse().unwrap(),
    )
    .await
    .unwrap();
    let http = reqwest::Client::new();
    let dir = tempfile::tempdir().unwrap();
    let db = format!("sqlite://{}/j.db", dir.path().display());
    let path = write_config(dir.path(), &config(&mock.url(), &db));
    let hub = Served::start(&path, &[("JUNCTION_ADMIN_TOKEN", ADMIN)]);

    // The first pass: every customer, once, in the canonical shape.
    let got = sink_until(&http, &mock.url(), "/sink/customers", |d| d.len() >= 5).await;
    let first: Value = serde_json::from_str(got[0]["body"].as_str().unwrap()).unwrap();
    assert!(
        first["email"].is_string() && first["updated"].is_string(),
        "{first}"
    );
    // Later passes ask only for what changed: nothing new arrives.
    tokio::time::sleep(Duration::from_millis(2500)).await;
    let got = sink_until(&http, &mock.url(), "/sink/customers", |_| true).await;
    assert_eq!(got.len(), 5, "{got:?}");

    // A change at the vendor arrives once.
    let r = http
        .patch(format!("{}/v2/customers/cus_000002", mock.url()))
        .json(&json!({ "name": "Renamed Ltd" }))
        .send()
        .await
        .unwrap();
    assert!(r.status().is_success(), "{}", r.text().await.unwrap());
    let got = sink_until(&http, &mock.url(), "/sink/customers", |d| d.len() >= 6).await;
    assert!(got[5]["body"].as_str().unwrap().contains("Renamed Ltd"));
    tokio::time::sleep(Duration::from_millis(2500)).await;
    let got = sink_until(&http, &mock.url(), "/sink/customers", |_| true).await;
    assert_eq!(got.len(), 6, "emitted once: {got:?}");

    // A sync source takes no webhooks.
    let r = http
        .post(format!("{}/webhooks/customers", hub.base))
        .body("{}")
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 404);
    let body: Value = r.json().await.unwrap();
    assert!(
        body["error"]["message"]
            .as_str()
            .unwrap()
            .contains("sync source"),
        "{body}"
    );

    // A full refresh: nothing changed, nothing deleted.
    let (code, out, err) = against(&hub.base, Some(ADMIN), &["jobs", "run", "crm-refresh"]);
    assert_eq!(code, Some(0), "{out}{err}");
    let run = finished_run(&http, &hub.base, ADMIN, "crm-refresh", 0).await;
    assert_eq!(run["state"], "succeeded", "{run}");
    assert_eq!(run["result"]["unchanged"], 5, "{run}");
    assert_eq!(run["result"]["deleted"], 0);

    // Two of five gone at the vendor (40 %, past the default 10 %): refused, nothing deleted.
    for id in ["cus_000004", "cus_000005"] {
        let r = http
            .delete(format!("{}/v2/customers/{id}", mock.url()))
            .send()
            .await
            .unwrap();
        assert!(r.status().is_success());
    }
    let last = run["id"].as_i64().unwrap();
    let (code, _, _) = against(&hub.base, Some(ADMIN), &["jobs", "run", "crm-refresh"]);
    assert_eq!(code, Some(0));
    let run = finished_run(&http, &hub.base, ADMIN, "crm-refresh", last).await;
    assert_eq!(run["state"], "failed", "{run}");
    let error = run["error"].as_str().unwrap();
    assert!(
        error.contains("2 of 5") && error.contains("--confirm-deletions"),
        "{error}"
    );
    let got = sink_until(&http, &mock.url(), "/sink/customers", |_| true).await;
    assert_eq!(got.len(), 6);

    // Confirmed: the two deletions are delivered.
    let last = run["id"].as_i64().unwrap();
    let (code, out, err) = against(
        &hub.base,
        Some(ADMIN),
        &["jobs", "run", "crm-refresh", "--confirm-deletions"],
    );
    assert_eq!(code, Some(0), "{out}{err}");
    let run = finished_run(&http, &hub.base, ADMIN, "crm-refresh", last).await;
    assert_eq!(run["state"], "succeeded", "{run}");
    assert_eq!(run["result"]["deleted"], 2, "{run}");
    let got = sink_until(&http, &mock.url(), "/sink/customers", |d| d.len() >= 8).await;
    let deleted: Vec<Value> = got[6..]
        .iter()
        .map(|d| serde_json::from_str(d["body"].as_str().unwrap()).unwrap())
        .collect();
    assert!(deleted.iter().all(|d| d["deleted"] == true), "{deleted:?}");
    let mut keys: Vec<&str> = deleted.iter().map(|d| d["key"].as_str().unwrap()).collect();
    keys.sort();
    assert_eq!(keys, ["cus_000004", "cus_000005"]);

    // The dashboard: the source's page says what it pulls and how its jobs ran; the jobs page
    // what each pass found.
    let page = |path: &'static str| {
        let (http, base) = (http.clone(), hub.base.clone());
        async move {
            let r = http
                .get(format!("{base}{path}"))
                .bearer_auth(ADMIN)
                .send()
                .await
                .unwrap();
            assert_eq!(r.status(), 200, "{path}");
            r.text().await.unwrap()
        }
    };
    let source = page("/ui/sources/customers").await;
    for says in [
        "Pulls",
        "list_customers",
        "customer.deleted",
        "Sync jobs",
        "crm-refresh",
        "2 deleted",
    ] {
        assert!(source.contains(says), "{says}: {source}");
    }
    let jobs = page("/ui/jobs").await;
    assert!(jobs.contains("5 records, 3 pages"), "{jobs}");
    hub.terminate();
}
