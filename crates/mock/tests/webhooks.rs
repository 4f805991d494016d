//! Webhooks out: signed, duplicated, out of order, retried — and recorded as ground truth.

use std::collections::{HashMap, HashSet};

use base64::Engine;
use hmac::{Hmac, Mac};
use junction_mock::{Mock, MockConfig};
use serde_json::{json, Value};
use sha2::Sha256;

const SECRET: &str = "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw";

async fn start() -> Mock {
    Mock::start(
        MockConfig {
            customers: 1,
            ..Default::default()
        },
        "127.0.0.1:0".parse().unwrap(),
    )
    .await
    .unwrap()
}

/// Posts a send request to the mock.
async fn post_send(mock: &Mock, req: &Value) -> reqwest::Response {
    reqwest::Client::new()
        .post(format!("{}/_mock/webhooks/send", mock.url()))
        .json(req)
        .send()
        .await
        .unwrap()
}

async fn send(mock: &Mock, req: Value) -> Value {
    let res = post_send(mock, &req).await;
    assert_eq!(res.status(), 200);
    res.json().await.unwrap()
}

async fn get_json(mock: &Mock, path: &str) -> Value {
    reqwest::get(format!("{}{path}", mock.url()))
        .await
        .unwrap()
        .json()
        .await
        .unwrap()
}

/// Verifies a Standard Webhooks signature from its definition, independently of the mock's signer.
fn verify(headers: &Value, body: &str) -> bool {
    let key = base64::engine::general_purpose::STANDARD
        .decode(SECRET.trim_start_matches("whsec_"))
        .unwrap();
    let content = format!(
        "{}.{}.{body}",
        headers["webhook-id"].as_str().unwrap(),
        headers["webhook-timestamp"].as_str().unwrap()
    );
    let mut mac = Hmac::<Sha256>::new_from_slice(&key).unwrap();
    mac.update(content.as_bytes());
    let expected = format!(
        "v1,{}",
        base64::engine::general_purpose::STANDARD.encode(mac.finalize().into_bytes())
    );
    headers["webhook-signature"]
        .as_str()
        .unwrap()
        .split(' ')
        .any(|s| s == expected)
}

#[tokio::test]
async fn signed_events_arrive_with_duplicates_and_out_of_order() {
    let mock = start().await;
    let target = format!("{}/sink/hooks", mock.url());
    let req = json!({ "target": target, "scheme": { "kind": "standard_webhooks" }, "secret": SECRET,
                      "count": 60, "duplicates": 0.2, "out_of_order": 0.3, "seed": 11, "concurrency": 4 });
    let done = send(&mock, req).await;
    let got: Value = get_json(&mock, "/_mock/deliveries-received").await;
    let deliveries = got["deliveries"].as_array().unwrap();
    assert_eq!(done["attempts"].as_u64().unwrap(), deliveries.len() as u64);
    assert!(
        deliveries.len() > 60,
        "some events came twice: {}",
        deliveries.len()
    );
    let ids: HashSet<&str> = deliveries
        .iter()
        .map(|d| d["idempotency_key"].as_str().unwrap())
        .collect();
    assert_eq!(ids.len(), 60, "every event arrived");
    assert!(
        deliveries
            .iter()
            .all(|d| verify(&d["headers"], d["body"].as_str().unwrap())),
        "every signature verifies"
    );
    let sequences: Vec<u64> = deliveries
        .iter()
        .map(|d| {
            serde_json::from_str::<Value>(d["body"].as_str().unwrap()).unwrap()["sequence"]
                .as_u64()
                .unwrap()
        })
        .collect();
    assert!(
        sequences.windows(2).any(|w| w[0] > w[1]),
        "some arrived out of order"
    );
    let sent: Value = get_json(&mock, "/_mock/webhooks-sent").await;
    assert_eq!(
        sent["total"].as_u64().unwrap(),
        deliveries.len() as u64,
        "ground truth matches what arrived"
    );
}

#[tokio::test]
async fn the_provider_retries_what_the_target_refuses() {
    let mock = start().await;
    reqwest::Client::new()
        .put(format!("{}/_mock/sink", mock.url()))
        .json(&json!({ "errors": [[503, 1.0]] }))
        .send()
        .await
        .unwrap();
    let req = json!({ "target": format!("{}/sink/down", mock.url()), "scheme": { "kind": "github" }, "secret": "s",
                      "count": 5, "attempts": 3 });
    assert_eq!(send(&mock, req).await["attempts"], 15);
    let sent: Value = get_json(&mock, "/_mock/webhooks-sent").await;
    let mut per_event: HashMap<String, u64> = HashMap::new();
    for s in sent["sent"].as_array().unwrap() {
        assert_eq!(s["status"], 503);
        *per_event
            .entry(s["id"].as_str().unwrap().to_owned())
            .or_default() += 1;
    }
    assert!(per_event.values().all(|n| *n == 3), "{per_event:?}");
}

#[tokio::test]
async fn a_paced_background_stream_arrives_at_its_rate() {
    let mock = start().await;
    let req = json!({ "target": format!("{}/sink/stream", mock.url()), "scheme": { "kind": "stripe" }, "secret": "s",
                      "count": 40, "rate_per_s": 200.0, "background": true });
    let started = std::time::Instant::now();
    let res = post_send(&mock, &req).await;
    assert_eq!(res.status(), 202, "answered before sending");
    let mut total = 0;
    for _ in 0..100 {
        let got: Value = get_json(&mock, "/_mock/deliveries-received").await;
        total = got["total"].as_u64().unwrap();
        if total == 40 {
            break;
        }
        tokio::time::sleep(std::time::Duration::from_millis(20)).await;
    }
    assert_eq!(total, 40);
    // 40 events at 200/s take at least 39 intervals of 5 ms.
    assert!(
        started.elapsed() >= std::time::Duration::from_millis(190),
        "{:?}",
        started.elapsed()
    );
    let got: Value = get_json(&mock, "/_mock/deliveries-received").await;
    assert!(got["deliveries"][0]["headers"]["stripe-signature"]
        .as_str()
        .unwrap()
        .starts_with("t="));
}
