//! An asynchronous call survives `kill -9` of the hub running it: another hub on the same
//! database takes it over and answers it at the same status URL (a read is safe to run again).

mod support;

use std::time::{Duration, Instant};

use junction_mock::{Mock, MockConfig};
use serde_json::{json, Value};
use support::*;

const KEY: &str = "v1:q83vEjRWeJCrze8SNFZ4kKvN7xI0VniQq83vEjRWeJA=";

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_async_call_survives_kill_9_of_its_hub() {
    let mock = Mock::start(
        MockConfig {
            customers: 3,
            ..Default::default()
        },
        "127.0.0.1:0".parse().unwrap(),
    )
    .await
    .unwrap();
    let m = mock.url();
    let http = reqwest::Client::builder()
        .redirect(reqwest::redirect::Policy::none())
        .build()
        .unwrap();
    let dir = tempfile::tempdir().unwrap();
    let config = write_config(
        dir.path(),
        &format!(
            r#"
store: {{ url: "sqlite://{d}/j.db" }}
connectors:
  erp:
    base_url: "{m}/v2"
    timeouts: {{ attempt: 60s, total: 120s }}
    operations:
      get_customer: {{ path: "/customers/{{id}}" }}
"#,
            d = dir.path().display()
        ),
    );
    let (code, token, err) = cli(
        &config,
        KEY,
        &["tokens", "create", "svc", "--scope", "op:erp:*"],
        "",
    );
    assert_eq!(code, Some(0), "{err}");
    let token = token.trim().to_owned();
    // The slow system takes the request and does not answer.
    let r = http
        .put(format!("{m}/_mock/chaos"))
        .json(&json!({ "hang": 1.0 }))
        .send()
        .await
        .unwrap();
    assert!(r.status().is_success());
    let a = Served::start(&config, &[("JUNCTION_MASTER_KEY", KEY)]);
    let r = http
        .post(format!("{}/ops/erp/get_customer", a.base))
        .bearer_auth(&token)
        .header("prefer", "respond-async")
        .json(&json!({ "id": "cus_000002" }))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 202);
    let status_url = r.headers()["location"].to_str().unwrap().to_owned();
    let until = Instant::now() + Duration::from_secs(10);
    while mock
        .state
        .log
        .snapshot()
        .1
        .iter()
        .all(|r| r.path != "/v2/customers/cus_000002")
    {
        assert!(Instant::now() < until, "the call never reached the vendor");
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    a.kill();
    // The system recovers; another hub on the same database takes the call over.
    http.delete(format!("{m}/_mock/chaos"))
        .send()
        .await
        .unwrap();
    let b = Served::start(&config, &[("JUNCTION_MASTER_KEY", KEY)]);
    let until = Instant::now() + Duration::from_secs(60);
    let answer = loop {
        let r = http
            .get(format!("{}{status_url}", b.base))
            .bearer_auth(&token)
            .send()
            .await
            .unwrap();
        if r.status() == 303 {
            let to = r.headers()["location"].to_str().unwrap().to_owned();
            let a = http
                .get(format!("{}{to}", b.base))
                .bearer_auth(&token)
                .send()
                .await
                .unwrap();
            assert_eq!(a.status(), 200);
            break a.json::<Value>().await.unwrap();
        }
        assert_eq!(r.status(), 200);
        assert!(
            Instant::now() < until,
            "not taken over: {}",
            r.text().await.unwrap()
        );
        tokio::time::sleep(Duration::from_millis(500)).await;
    };
    assert_eq!(answer["id"], "cus_000002");
    let calls = mock
        .state
        .log
        .snapshot()
        .1
        .iter()
        .filter(|r| r.path == "/v2/customers/cus_000002")
        .count();
    assert_eq!(calls, 2, "sent once by each hub");
    b.terminate();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_async_calls_answer_is_delivered_signed_to_its_callback_destination() {
    let mock = Mock::start(
        MockConfig {
            customers: 3,
            ..Default::default()
        },
        "127.0.0.1:0".parse().unwrap(),
    )
    .await
    .unwrap();
    let m = mock.url();
    let http = reqwest::Client::new();
    let dir = tempfile::tempdir().unwrap();
    let config = write_config(
        dir.path(),
        &format!(
            r#"
store: {{ url: "sqlite://{d}/j.db" }}
connectors:
  erp:
    base_url: "{m}/v2"
    operations:
      get_customer: {{ path: "/customers/{{id}}" }}
destinations:
  erp-results:
    url: "{m}/sink/results"
    signing: {{ secrets: [ env:SINK_WHSEC ] }}
"#,
            d = dir.path().display()
        ),
    );
    let (code, token, err) = cli(
        &config,
        KEY,
        &["tokens", "create", "svc", "--scope", "op:erp:*"],
        "",
    );
    assert_eq!(code, Some(0), "{err}");
    let token = token.trim().to_owned();
    let hub = Served::start(
        &config,
        &[("JUNCTION_MASTER_KEY", KEY), ("SINK_WHSEC", SINK_WHSEC)],
    );
    let call = |headers: Vec<(&'static str, &'static str)>| {
        let mut r = http
            .post(format!("{}/ops/erp/get_customer", hub.base))
            .bearer_auth(&token)
            .json(&json!({ "id": "cus_000002" }));
        for (k, v) in headers {
            r = r.header(k, v);
        }
        r.send()
    };
    // A callback names a configured destination, and only for an asynchronous call.
    let r = call(vec![
        ("prefer", "respond-async"),
        ("junction-callback", "http://evil.example"),
    ])
    .await
    .unwrap();
    assert_eq!(r.status(), 400);
    let body: Value = r.json().await.unwrap();
    assert!(
        body["error"]["hint"]
            .as_str()
            .unwrap()
            .contains("erp-results"),
        "{body}"
    );
    let r = call(vec![("junction-callback", "erp-results")])
        .await
        .unwrap();
    assert_eq!(r.status(), 400);
    let r = call(vec![
        ("prefer", "respond-async"),
        ("junction-callback", "erp-results"),
    ])
    .await
    .unwrap();
    assert_eq!(r.status(), 202);
    let id = r.json::<Value>().await.unwrap()["id"]
        .as_str()
        .unwrap()
        .to_owned();
    let got = sink_until(&http, &m, "/sink/results", |d| !d.is_empty()).await;
    let result: Value = serde_json::from_str(got[0]["body"].as_str().unwrap()).unwrap();
    assert_eq!(result["id"], id.as_str());
    assert_eq!(result["status"], 200);
    assert_eq!(result["answer"]["id"], "cus_000002");
    // Signed like every delivery of that destination.
    assert!(got[0]["headers"]["webhook-signature"]
        .as_str()
        .is_some_and(|s| s.starts_with("v1,")));
    hub.terminate();
}
