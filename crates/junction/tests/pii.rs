//! Personal data never reaches the logs, attempt excerpts or rejected-request samples, and
//! viewers see events with it masked (operators and admins see them as received).

mod support;

use std::time::{Duration, Instant};

use serde_json::{json, Value};
use support::*;
use tokio::io::{AsyncReadExt, AsyncWriteExt};

const ADMIN: &str = "admin-token-for-pii";
const EMAIL: &str = "alice.liddell@example.org";
const CARD: &str = "4111 1111 1111 1111";

/// A receiver that refuses every delivery quoting the customer back, as vendors' errors do.
async fn quoting_receiver() -> u16 {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let port = listener.local_addr().unwrap().port();
    tokio::spawn(async move {
        while let Ok((mut s, _)) = listener.accept().await {
            tokio::spawn(async move {
                let mut buf = vec![0u8; 65536];
                let _ = s.read(&mut buf).await;
                let body = format!(r#"{{"error":"customer {EMAIL} with card {CARD} is blocked"}}"#);
                let res = format!(
                    "HTTP/1.1 422 Unprocessable Entity\r\ncontent-type: application/json\r\ncontent-length: {}\r\nconnection: close\r\n\r\n{body}",
                    body.len()
                );
                let _ = s.write_all(res.as_bytes()).await;
            });
        }
    });
    port
}

async fn get(http: &reqwest::Client, url: String, token: &str) -> Value {
    let res = http.get(&url).bearer_auth(token).send().await.unwrap();
    assert!(res.status().is_success(), "{url}: {}", res.status());
    res.json().await.unwrap()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn personal_data_never_reaches_logs_excerpts_samples_or_viewers() {
    let dir = tempfile::tempdir().unwrap();
    let port = quoting_receiver().await;
    let yaml = format!(
        r#"
store: {{ url: "sqlite://{}/j.db" }}
telemetry: {{ log_format: json, log_level: debug }}
server: {{ pii: {{ fields: [ loyalty_id ] }} }}
sources:
  crm:
    kind: webhook
    verify: {{ preset: none }}
    event: {{ id: .id, type: .type }}
destinations:
  billing:
    url: "http://127.0.0.1:{port}/hook"
routes:
  r: {{ from: crm, to: [ billing ] }}
"#,
        dir.path().display()
    );
    let path = write_config(dir.path(), &yaml);
    let hub = Served::start(&path, &[("JUNCTION_ADMIN_TOKEN", ADMIN)]);
    let http = reqwest::Client::new();
    let event = json!({
        "id": "e1", "type": "customer.updated",
        "data": { "email": EMAIL, "card": CARD, "loyalty_id": "LOY-99177", "note": format!("write to {EMAIL}"), "plan": "pro" }
    });
    let res = http
        .post(format!("{}/webhooks/crm", hub.base))
        .body(event.to_string())
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 202);
    let stored = res.json::<Value>().await.unwrap()["event"]
        .as_i64()
        .unwrap();
    // A refused request quoting her is kept as a sample.
    let res = http
        .post(format!("{}/webhooks/crm", hub.base))
        .body(format!(r#"{{"id": "e2", "email": "{EMAIL}""#))
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 400);

    // The receiver's refusal (quoting her) is the dead letter's last answer.
    let deadline = Instant::now() + Duration::from_secs(20);
    let delivery = loop {
        let dead = get(&http, format!("{}/api/v1/dead-letters", hub.base), ADMIN).await;
        if let Some(d) = dead["items"].as_array().unwrap().first() {
            break d["id"].as_i64().unwrap();
        }
        assert!(Instant::now() < deadline, "no dead letter: {dead}");
        tokio::time::sleep(Duration::from_millis(100)).await;
    };
    let detail = get(
        &http,
        format!("{}/api/v1/deliveries/{delivery}", hub.base),
        ADMIN,
    )
    .await;
    let excerpt = detail["history"][0]["response_excerpt"]
        .as_str()
        .unwrap()
        .to_owned();
    assert!(
        excerpt.contains("***@example.org") && excerpt.contains("***1111"),
        "the excerpt is kept, masked: {excerpt}"
    );
    // Samples are kept in the background: wait for it.
    let deadline = Instant::now() + Duration::from_secs(10);
    let rejected = loop {
        let r = get(&http, format!("{}/api/v1/rejected", hub.base), ADMIN).await;
        if !r["items"].as_array().unwrap().is_empty() || Instant::now() > deadline {
            break r;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    };
    assert!(
        rejected["items"].as_array().unwrap().len() == 1,
        "{rejected}"
    );

    // A viewer sees the event with personal data masked; an admin sees it as received.
    let res = http
        .post(format!("{}/api/v1/tokens", hub.base))
        .bearer_auth(ADMIN)
        .json(&json!({ "name": "support-desk", "scopes": ["role:viewer"] }))
        .send()
        .await
        .unwrap();
    assert!(res.status().is_success());
    let viewer = res.json::<Value>().await.unwrap()["token"]
        .as_str()
        .unwrap()
        .to_owned();
    let seen = get(
        &http,
        format!("{}/api/v1/events/{stored}", hub.base),
        &viewer,
    )
    .await;
    let data = &seen["payload"]["data"];
    assert_eq!(
        (&data["email"], &data["loyalty_id"], &data["plan"]),
        (&json!("***"), &json!("***"), &json!("pro")),
        "{seen}"
    );
    assert_eq!(data["card"], "***1111");
    assert_eq!(data["note"], "write to ***@example.org");
    let page = http
        .get(format!("{}/ui/events/{stored}", hub.base))
        .bearer_auth(&viewer)
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    assert!(
        page.contains("***@example.org") && !page.contains(EMAIL),
        "{page}"
    );
    let seen = get(&http, format!("{}/api/v1/events/{stored}", hub.base), ADMIN).await;
    assert_eq!(seen["payload"]["data"]["email"], EMAIL);

    let (_, logs) = hub.terminate();
    assert!(
        logs.lines().count() > 10,
        "there were logs to check:\n{logs}"
    );
    for (what, leak) in [
        ("email", EMAIL),
        ("card", CARD),
        ("loyalty id", "LOY-99177"),
    ] {
        let lines: Vec<&str> = logs.lines().filter(|l| l.contains(leak)).collect();
        assert!(
            lines.is_empty(),
            "the {what} leaked into the logs:\n{}",
            lines.join("\n")
        );
    }
    let text = format!("{rejected}{excerpt}");
    assert!(!text.contains(EMAIL) && !text.contains(CARD), "{text}");
}
