//! The sink: records every delivery, and misbehaves on request.

use std::time::Duration;

use junction_mock::{Mock, MockConfig};
use serde_json::{json, Value};

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

async fn received(mock: &Mock) -> Value {
    reqwest::get(format!("{}/_mock/deliveries-received", mock.url()))
        .await
        .unwrap()
        .json()
        .await
        .unwrap()
}

async fn set_sink(mock: &Mock, setting: Value) {
    let res = reqwest::Client::new()
        .put(format!("{}/_mock/sink", mock.url()))
        .json(&setting)
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 200);
}

#[tokio::test]
async fn every_delivery_is_recorded_with_its_idempotency_key() {
    let mock = start().await;
    let c = reqwest::Client::new();
    for (i, key) in ["msg_1", "msg_2", "msg_1"].iter().enumerate() {
        let res = c
            .post(format!("{}/sink/billing", mock.url()))
            .header("webhook-id", *key)
            .json(&json!({ "n": i }))
            .send()
            .await
            .unwrap();
        assert_eq!(res.status(), 200);
    }
    let got = received(&mock).await;
    assert_eq!(got["total"], 3);
    let d = got["deliveries"].as_array().unwrap();
    let keys: Vec<&str> = d
        .iter()
        .map(|d| d["idempotency_key"].as_str().unwrap())
        .collect();
    assert_eq!(keys, ["msg_1", "msg_2", "msg_1"]);
    assert_eq!(d[1]["body"], "{\"n\":1}");
    assert_eq!(d[0]["path"], "/sink/billing");
    assert_eq!(d[0]["answered"], 200);
}

#[tokio::test]
async fn the_sink_answers_410_429_and_failures_as_told() {
    let mock = start().await;
    let c = reqwest::Client::builder()
        .timeout(Duration::from_millis(300))
        .build()
        .unwrap();
    let url = format!("{}/sink/hooks", mock.url());

    set_sink(&mock, json!({ "errors": [[410, 1.0]] })).await;
    assert_eq!(c.post(&url).body("{}").send().await.unwrap().status(), 410);

    set_sink(&mock, json!({ "errors": [[429, 1.0]] })).await;
    let res = c.post(&url).body("{}").send().await.unwrap();
    assert_eq!(res.status(), 429);
    assert_eq!(res.headers()["retry-after"], "1");

    set_sink(&mock, json!({ "hang": 1.0 })).await;
    assert!(c
        .post(&url)
        .body("{}")
        .send()
        .await
        .unwrap_err()
        .is_timeout());

    set_sink(&mock, json!({ "seed": 5, "errors": [[503, 0.3]] })).await;
    let mut first = Vec::new();
    for _ in 0..100 {
        first.push(
            c.post(&url)
                .body("{}")
                .send()
                .await
                .unwrap()
                .status()
                .as_u16(),
        );
    }
    set_sink(&mock, json!({ "seed": 5, "errors": [[503, 0.3]] })).await;
    let mut again = Vec::new();
    for _ in 0..100 {
        again.push(
            c.post(&url)
                .body("{}")
                .send()
                .await
                .unwrap()
                .status()
                .as_u16(),
        );
    }
    assert_eq!(first, again, "the same seed, the same failures");
    assert!(first.contains(&503) && first.contains(&200));

    // The provider API is unaffected by the sink's setting.
    assert_eq!(
        reqwest::get(format!("{}/v1/customers/cus_000001", mock.url()))
            .await
            .unwrap()
            .status(),
        200
    );
    let got = received(&mock).await;
    assert_eq!(got["total"], 203);
    let answered: Vec<u64> = got["deliveries"]
        .as_array()
        .unwrap()
        .iter()
        .map(|d| d["answered"].as_u64().unwrap())
        .collect();
    assert_eq!(&answered[..3], &[410, 429, 0]);
}

#[tokio::test]
async fn turning_provider_chaos_off_leaves_the_sink_alone() {
    let mock = start().await;
    set_sink(&mock, json!({ "errors": [[410, 1.0]] })).await;
    reqwest::Client::new()
        .post(format!("{}/sink/x", mock.url()))
        .body("{}")
        .send()
        .await
        .unwrap();
    reqwest::Client::new()
        .delete(format!("{}/_mock/chaos", mock.url()))
        .send()
        .await
        .unwrap();
    assert_eq!(received(&mock).await["total"], 1, "deliveries are kept");
    let res = reqwest::Client::new()
        .post(format!("{}/sink/x", mock.url()))
        .body("{}")
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 410, "the sink setting is kept");
}
