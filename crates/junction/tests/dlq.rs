//! `junction dlq` against a running hub: list, show and replay dead letters, with the admin token.

mod support;

use std::time::{Duration, Instant};

use junction_mock::{Mock, MockConfig};
use serde_json::{json, Value};
use support::*;

const WHSEC: &str = "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw";
const TOKEN: &str = "admin-token-for-tests";

fn dlq(base: &str, args: &[&str], token: Option<&str>) -> (Option<i32>, String, String) {
    against(base, token, &[&["dlq"], args].concat())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn dlq_lists_shows_and_replays_dead_letters() {
    let mock = Mock::start(
        MockConfig {
            customers: 1,
            ..Default::default()
        },
        "127.0.0.1:0".parse().unwrap(),
    )
    .await
    .unwrap();
    reqwest::Client::new()
        .put(format!("{}/_mock/sink", mock.url()))
        .json(&json!({ "errors": [[500, 1.0]] }))
        .send()
        .await
        .unwrap();
    let dir = tempfile::tempdir().unwrap();
    let yaml = format!(
        r#"
store: {{ url: "sqlite://{}/j.db" }}
sources:
  crm:
    kind: webhook
    verify: {{ preset: standard_webhooks, secrets: [ env:DLQ_WHSEC ] }}
destinations:
  billing:
    url: "{}/sink/billing"
    retry: {{ attempts: 2, base: 10ms, max: 20ms }}
routes:
  r: {{ from: crm, to: [ billing ] }}
"#,
        dir.path().display(),
        mock.url()
    );
    let path = write_config(dir.path(), &yaml);
    let hub = Served::start(
        &path,
        &[("DLQ_WHSEC", WHSEC), ("JUNCTION_ADMIN_TOKEN", TOKEN)],
    );
    let res = reqwest::Client::new()
        .post(format!("{}/_mock/webhooks/send", mock.url()))
        .json(&json!({ "target": format!("{}/webhooks/crm", hub.base), "scheme": { "kind": "standard_webhooks" }, "secret": WHSEC, "count": 3 }))
        .send()
        .await
        .unwrap();
    assert!(res.status().is_success());
    // Without the token the hub refuses, and the CLI says how to fix it.
    let (code, _, err) = dlq(&hub.base, &["list"], None);
    assert_eq!(code, Some(1));
    assert!(
        err.contains("401") && err.contains("JUNCTION_ADMIN_TOKEN"),
        "{err}"
    );
    let deadline = Instant::now() + Duration::from_secs(20);
    let items = loop {
        let (code, out, err) = dlq(&hub.base, &["list", "-o", "json"], Some(TOKEN));
        assert_eq!(code, Some(0), "{err}");
        let items: Vec<Value> = serde_json::from_str(&out).unwrap();
        if items.len() == 3 {
            break items;
        }
        assert!(
            Instant::now() < deadline,
            "dead letters never appeared: {out}"
        );
        tokio::time::sleep(Duration::from_millis(200)).await;
    };
    assert_eq!(items[0]["destination"], "billing");
    let (code, table, _) = dlq(
        &hub.base,
        &["list", "--destination", "billing"],
        Some(TOKEN),
    );
    assert_eq!(code, Some(0));
    assert!(
        table.contains("gave up after 2 attempts") && table.contains("evt_00000001"),
        "{table}"
    );
    let id = items[0]["id"].to_string();
    let (code, shown, _) = dlq(&hub.base, &["show", &id], Some(TOKEN));
    assert_eq!(code, Some(0));
    assert!(
        shown.contains("#1") && shown.contains("#2") && shown.contains("status 500"),
        "{shown}"
    );
    // An operator gives up on one: discarded, it is never sent and no longer listed.
    let (code, out, err) = dlq(&hub.base, &["discard", &id], Some(TOKEN));
    assert_eq!(code, Some(0), "{err}");
    assert!(out.contains("discarded 1"), "{out}");
    let (code, _, err) = dlq(&hub.base, &["discard"], Some(TOKEN));
    assert_eq!(code, Some(1));
    assert!(err.contains("--all to discard"), "{err}");
    let (code, out, _) = dlq(&hub.base, &["list", "-o", "json"], Some(TOKEN));
    assert_eq!(code, Some(0));
    assert_eq!(serde_json::from_str::<Vec<Value>>(&out).unwrap().len(), 2);
    let (code, _, err) = dlq(&hub.base, &["replay"], Some(TOKEN));
    assert_eq!(code, Some(1));
    assert!(err.contains("--all"), "{err}");
    // The receiver is fixed; replay everything.
    reqwest::Client::new()
        .put(format!("{}/_mock/sink", mock.url()))
        .json(&json!({}))
        .send()
        .await
        .unwrap();
    let (code, out, err) = dlq(&hub.base, &["replay", "--all", "-o", "json"], Some(TOKEN));
    assert_eq!(code, Some(0), "{err}");
    assert_eq!(serde_json::from_str::<Value>(&out).unwrap()["replayed"], 2);
    let deadline = Instant::now() + Duration::from_secs(10);
    loop {
        let ok = mock
            .state
            .received
            .snapshot()
            .1
            .iter()
            .filter(|d| d.answered == 200)
            .count();
        if ok == 2 {
            break;
        }
        assert!(
            Instant::now() < deadline,
            "replayed deliveries did not arrive"
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    let (code, out, _) = dlq(&hub.base, &["list"], Some(TOKEN));
    assert_eq!((code, out.trim()), (Some(0), "no dead letters match"));
    let _ = hub.terminate();
}
