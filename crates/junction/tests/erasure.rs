//! Erasure by data subject on a running hub: `junction erase` removes every event about the
//! subject (dead letters included) and the samples quoting it, the erasure is audited without
//! the identifier, and a later webhook about the subject is acknowledged and not stored.

mod support;

use std::time::{Duration, Instant};

use serde_json::{json, Value};
use support::*;

const TOKEN: &str = "admin-token-for-erasure";

async fn get(http: &reqwest::Client, base: &str, path: &str) -> Value {
    let res = http
        .get(format!("{base}{path}"))
        .bearer_auth(TOKEN)
        .send()
        .await
        .unwrap();
    assert!(res.status().is_success(), "{path}: {}", res.status());
    res.json().await.unwrap()
}

async fn send(http: &reqwest::Client, base: &str, body: &Value) -> (u16, Value) {
    let res = http
        .post(format!("{base}/webhooks/crm"))
        .body(body.to_string())
        .send()
        .await
        .unwrap();
    let status = res.status().as_u16();
    (status, res.json().await.unwrap_or(Value::Null))
}

fn customer(id: &str, who: &str, email: &str) -> Value {
    json!({ "id": id, "type": "customer.updated", "data": { "customer": who, "email": email, "name": "A Person" } })
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn erasing_a_data_subject_through_the_cli_removes_its_events_and_keeps_them_out() {
    let dir = tempfile::tempdir().unwrap();
    let closed = free_port();
    let yaml = format!(
        r#"
store: {{ url: "sqlite://{}/j.db" }}
sources:
  crm:
    kind: webhook
    verify: {{ preset: none }}
    event: {{ id: .id, type: .type, subject: "[.data.customer, .data.email]" }}
destinations:
  billing:
    url: "http://127.0.0.1:{closed}/hook"
    retry: {{ attempts: 1 }}
routes:
  r: {{ from: crm, to: [ billing ] }}
"#,
        dir.path().display()
    );
    let path = write_config(dir.path(), &yaml);
    let hub = Served::start(&path, &[("JUNCTION_ADMIN_TOKEN", TOKEN)]);
    let http = reqwest::Client::new();
    for i in 0..5 {
        let (status, _) = send(
            &http,
            &hub.base,
            &customer(&format!("a{i}"), "cus_alice", "alice@example.com"),
        )
        .await;
        assert_eq!(status, 202);
    }
    for i in 0..3 {
        let (status, _) = send(
            &http,
            &hub.base,
            &customer(&format!("b{i}"), "cus_bob", "bob@example.com"),
        )
        .await;
        assert_eq!(status, 202);
    }
    // A refused request quoting Alice is kept as a sample for the request inspector (her
    // email is masked in it as it is kept; her customer id is not personal data by its shape).
    let res = http
        .post(format!("{}/webhooks/crm", hub.base))
        .body(r#"{"data": {"customer": "cus_alice", "email": "alice@example.com"}"#)
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 400);
    // Every delivery fails once and becomes a dead letter.
    let deadline = Instant::now() + Duration::from_secs(20);
    while get(&http, &hub.base, "/api/v1/dead-letters").await["items"]
        .as_array()
        .unwrap()
        .len()
        < 8
    {
        assert!(Instant::now() < deadline, "dead letters never appeared");
        tokio::time::sleep(Duration::from_millis(100)).await;
    }

    // Erasure needs an admin: no token, no erasure.
    let (code, _, err) = against(
        &hub.base,
        None,
        &[
            "erase",
            "--subject",
            "alice@example.com",
            "--reason",
            "GDPR #1",
        ],
    );
    assert_eq!(code, Some(1), "{err}");
    let (code, out, err) = against(
        &hub.base,
        Some(TOKEN),
        &[
            "erase",
            "--subject",
            "cus_alice",
            "--reason",
            "GDPR request #1",
            "-o",
            "json",
        ],
    );
    assert_eq!(code, Some(0), "{err}");
    let done: Value = serde_json::from_str(&out).unwrap();
    assert_eq!(done["erased"]["events"], 5, "{done}");
    assert_eq!(done["erased"]["deliveries"], 5, "{done}");
    assert_eq!(done["erased"]["rejected"], 1, "{done}");
    let hash = done["subject_hash"].as_str().unwrap().to_owned();
    assert_eq!(hash.len(), 64);

    let events = get(&http, &hub.base, "/api/v1/events?source=crm").await;
    let ids: Vec<&str> = events["events"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| e["event_id"].as_str().unwrap())
        .collect();
    assert_eq!(ids.len(), 3, "{ids:?}");
    assert!(ids.iter().all(|id| id.starts_with('b')), "{ids:?}");
    let dead = get(&http, &hub.base, "/api/v1/dead-letters").await;
    assert_eq!(dead["items"].as_array().unwrap().len(), 3);
    let rejected = get(&http, &hub.base, "/api/v1/rejected").await;
    assert!(!rejected.to_string().contains("alice"), "{rejected}");

    // The provider sends Alice again (a retry, a new change): acknowledged, not stored.
    let (status, body) = send(
        &http,
        &hub.base,
        &customer("a9", "cus_alice", "alice@example.com"),
    )
    .await;
    assert_eq!((status, &body["erased"]), (200, &json!(true)), "{body}");
    let events = get(&http, &hub.base, "/api/v1/events?source=crm").await;
    assert_eq!(events["events"].as_array().unwrap().len(), 3);

    // Kept and audited with who and why — by hash, never the identifier.
    let kept = get(&http, &hub.base, "/api/v1/erasures").await;
    let item = &kept["items"][0];
    assert_eq!(
        (item["subject_hash"].as_str(), item["reason"].as_str()),
        (Some(hash.as_str()), Some("GDPR request #1"))
    );
    assert_eq!(item["actor"], "env-admin-token");
    let audit = get(&http, &hub.base, "/api/v1/audit?limit=100").await;
    let text = audit.to_string();
    assert!(
        text.contains("subject.erase") && text.contains(&hash),
        "{text}"
    );
    assert!(
        !text.contains("cus_alice"),
        "the audit log names the subject: {text}"
    );
    hub.kill();
}
