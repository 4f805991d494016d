//! Chaos over real HTTP: injected errors replay under a seed; hangs, resets, malformed and drifted
//! bodies look to a client the way real failures do.

use std::time::{Duration, Instant};

use junction_mock::{Mock, MockConfig};
use serde_json::{json, Value};

async fn start() -> Mock {
    Mock::start(
        MockConfig {
            customers: 50,
            ..Default::default()
        },
        "127.0.0.1:0".parse().unwrap(),
    )
    .await
    .unwrap()
}

async fn set(mock: &Mock, chaos: Value) -> reqwest::StatusCode {
    reqwest::Client::new()
        .put(format!("{}/_mock/chaos", mock.url()))
        .json(&chaos)
        .send()
        .await
        .unwrap()
        .status()
}

async fn statuses(mock: &Mock, n: usize) -> Vec<u16> {
    let c = reqwest::Client::new();
    let mut out = Vec::with_capacity(n);
    for _ in 0..n {
        out.push(
            c.get(format!("{}/v2/customers/cus_000001", mock.url()))
                .send()
                .await
                .unwrap()
                .status()
                .as_u16(),
        );
    }
    out
}

#[tokio::test]
async fn injected_errors_replay_exactly_under_a_seed() {
    let mock = start().await;
    let setting = json!({ "seed": 1, "errors": [[503, 0.3], [500, 0.1]] });
    assert_eq!(set(&mock, setting.clone()).await, 200);
    let first = statuses(&mock, 300).await;
    assert_eq!(set(&mock, setting).await, 200);
    let again = statuses(&mock, 300).await;
    assert_eq!(first, again, "the same seed gives the same sequence");
    let count = |s: u16| first.iter().filter(|x| **x == s).count();
    assert!(
        (60..=120).contains(&count(503)),
        "~30 % 503: {}",
        count(503)
    );
    assert!((15..=50).contains(&count(500)), "~10 % 500: {}", count(500));
    assert_eq!(count(200) + count(503) + count(500), 300);

    let res = reqwest::Client::new()
        .delete(format!("{}/_mock/chaos", mock.url()))
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 200);
    assert!(
        statuses(&mock, 20).await.iter().all(|s| *s == 200),
        "chaos off"
    );
    assert_eq!(
        set(&mock, json!({ "hang": 0.8, "reset": 0.8 })).await,
        400,
        "rates over 1 are refused"
    );
    assert_eq!(set(&mock, json!({ "typo": 1 })).await, 400);
}

#[tokio::test]
async fn malformed_and_drifted_bodies_come_with_200() {
    let mock = start().await;
    let url = format!("{}/v2/customers/cus_000002", mock.url());
    let normal: Value = reqwest::get(&url).await.unwrap().json().await.unwrap();

    set(&mock, json!({ "malformed": 1.0 })).await;
    let res = reqwest::get(&url).await.unwrap();
    assert_eq!(res.status(), 200);
    let text = res.text().await.unwrap();
    assert!(
        serde_json::from_str::<Value>(&text).is_err(),
        "unparsable: {text}"
    );

    set(&mock, json!({ "drift": 1.0, "seed": 3 })).await;
    let mut drifted = 0;
    for _ in 0..10 {
        let res = reqwest::get(&url).await.unwrap();
        assert_eq!(res.status(), 200);
        let body: Value = res.json().await.unwrap();
        assert_eq!(
            body["id"], normal["id"],
            "the resource is still recognisable"
        );
        if body != normal {
            drifted += 1;
        }
    }
    assert_eq!(
        drifted, 10,
        "every answer drifted: a field changed type or disappeared"
    );
}

#[tokio::test]
async fn hangs_resets_and_latency_look_like_real_failures() {
    let mock = start().await;
    let url = format!("{}/v1/customers/cus_000003", mock.url());
    let c = reqwest::Client::builder()
        .timeout(Duration::from_millis(300))
        .build()
        .unwrap();

    set(&mock, json!({ "hang": 1.0 })).await;
    let err = c.get(&url).send().await.unwrap_err();
    assert!(err.is_timeout(), "{err}");

    set(&mock, json!({ "reset": 1.0 })).await;
    let outcome = match c.get(&url).send().await {
        Ok(res) => res.bytes().await.map(|_| ()),
        Err(e) => Err(e),
    };
    assert!(outcome.is_err(), "the connection dropped mid-answer");

    set(&mock, json!({ "latency_ms": [120, 0] })).await;
    let started = Instant::now();
    let res = reqwest::get(&url).await.unwrap();
    assert_eq!(res.status(), 200);
    assert!(started.elapsed() >= Duration::from_millis(120));
}
