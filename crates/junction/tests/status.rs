//! `junction status`, `junction events` and `junction completions` against a running hub.

mod support;

use serde_json::Value;
use support::*;

const ADMIN: &str = "status-admin-token-9012";

fn junction(args: &[&str], server: &str, token: Option<&str>) -> (Option<i32>, String, String) {
    against(server, token, args)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn status_and_events_read_a_running_hub() {
    let dir = tempfile::tempdir().unwrap();
    let config = write_config(
        dir.path(),
        &format!(
            r#"store: {{ url: "sqlite://{}/j.db" }}
sources:
  crm: {{ kind: webhook, verify: {{ preset: none }}, event: {{ id: .id, type: .type, key: .customer }} }}
destinations:
  billing: {{ url: "http://127.0.0.1:9/sink", retry: {{ attempts: 1 }} }}
routes:
  r: {{ from: crm, to: [ billing ] }}
"#,
            dir.path().display()
        ),
    );
    let hub = Served::start(&config, &[("JUNCTION_ADMIN_TOKEN", ADMIN)]);
    let http = reqwest::Client::new();
    for i in 0..3 {
        let res = http
            .post(format!("{}/webhooks/crm", hub.base))
            .body(format!(
                r#"{{"id":"evt_{i}","type":"customer.updated","customer":"cus_{i}"}}"#
            ))
            .send()
            .await
            .unwrap();
        assert!(res.status().is_success());
    }

    let get = |path: &str| {
        let req = http.get(format!("{}{path}", hub.base)).bearer_auth(ADMIN);
        async move { req.send().await.unwrap().json::<Value>().await.unwrap() }
    };
    let routes = get("/api/v1/routes").await;
    assert_eq!(routes["routes"][0]["to"][0], "billing", "{routes}");
    let sources = get("/api/v1/sources").await;
    let crm = &sources["sources"][0];
    assert_eq!(
        (crm["name"].as_str(), crm["path"].as_str()),
        (Some("crm"), Some("/webhooks/crm"))
    );
    assert_eq!(crm["event"]["key"]["jq"], ".customer", "{sources}");
    assert_eq!(crm["routes"][0], "r");

    let (code, _, err) = junction(&["status"], &hub.base, None);
    assert_eq!(code, Some(1), "no token: refused");
    assert!(err.contains("401"), "{err}");
    let (code, out, err) = junction(&["status"], &hub.base, Some(ADMIN));
    assert_eq!(code, Some(0), "{err}");
    assert!(
        out.contains(": ready (sqlite store)") && out.contains("billing"),
        "{out}"
    );
    let (code, out, _) = junction(&["status", "-o", "json"], &hub.base, Some(ADMIN));
    assert_eq!(code, Some(0));
    let v: Value = serde_json::from_str(&out).unwrap();
    assert_eq!(v["ready"]["status"], "ready");
    assert_eq!(v["destinations"][0]["name"], "billing");

    let (code, out, err) = junction(
        &["events", "list", "--key", "cus_1", "-o", "json"],
        &hub.base,
        Some(ADMIN),
    );
    assert_eq!(code, Some(0), "{err}");
    let v: Value = serde_json::from_str(&out).unwrap();
    let events = v["events"].as_array().unwrap();
    assert_eq!(events.len(), 1);
    assert_eq!(events[0]["event_id"], "evt_1");
    let id = events[0]["id"].to_string();
    let (code, out, _) = junction(&["events", "show", &id], &hub.base, Some(ADMIN));
    assert_eq!(code, Some(0));
    assert!(
        out.contains("evt_1") && out.contains("billing") && out.contains("cus_1"),
        "{out}"
    );
    let (code, out, _) = junction(&["events", "list"], &hub.base, Some(ADMIN));
    assert_eq!(code, Some(0));
    assert_eq!(
        out.lines()
            .filter(|l| l.contains("customer.updated"))
            .count(),
        3,
        "{out}"
    );

    let base = hub.base.clone();
    hub.terminate();
    let (code, out, _) = junction(&["status"], &base, Some(ADMIN));
    assert_eq!(code, Some(1), "{out}");

    let out = bin().args(["completions", "bash"]).output().unwrap();
    assert!(out.status.success());
    let script = String::from_utf8_lossy(&out.stdout);
    assert!(
        script.contains("junction") && script.contains("dlq"),
        "{script}"
    );
}
