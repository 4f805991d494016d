//! The crash test: `junction serve` is SIGKILLed at random moments while a provider sends signed
//! events at a high rate, and restarted each time. Every event the hub answered 2xx must reach
//! the sink (zero missing), and every copy of one event at the sink carries one idempotency key.
//! On SQLite and on PostgreSQL.

mod support;

use std::collections::BTreeSet;
use std::time::{Duration, Instant};

use junction_mock::{Mock, MockConfig};
use rand::Rng;
use serde_json::json;
use support::*;

const WHSEC: &str = "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw";

fn config(sink: &str) -> String {
    format!(
        r#"
server:
  shutdown_grace: 2s
delivery:
  lease: 5s
  poll_interval: 200ms
sources:
  crm:
    kind: webhook
    verify: {{ preset: standard_webhooks, secrets: [ env:CRASH_WHSEC ] }}
destinations:
  sink:
    url: "{sink}/sink/crash"
    timeout: 2s
    retry: {{ attempts: 50, base: 100ms, max: 1s }}
routes:
  r:
    from: crm
    to: [ sink ]
"#
    )
}

async fn crash_and_restart(database_url: &str) {
    let mock = Mock::start(
        MockConfig {
            customers: 1,
            record_limit: 1_000_000,
            ..Default::default()
        },
        "127.0.0.1:0".parse().unwrap(),
    )
    .await
    .unwrap();
    let dir = tempfile::tempdir().unwrap();
    let path = write_config(dir.path(), &config(&mock.url()));
    let port = free_port();
    let env = [
        ("JUNCTION_DATABASE_URL", database_url),
        ("CRASH_WHSEC", WHSEC),
        ("JUNCTION_LOG", "warn"),
    ];
    let mut hub = Some(Served::start_on(&path, &env, port));
    let events = 2000;
    // A steady stream with the provider's own retries covering the hub's restarts.
    let res = reqwest::Client::new()
        .post(format!("{}/_mock/webhooks/send", mock.url()))
        .json(&json!({
            "target": format!("http://127.0.0.1:{port}/webhooks/crm"),
            "scheme": { "kind": "standard_webhooks" }, "secret": WHSEC,
            "count": events, "rate_per_s": 250.0, "attempts": 40, "background": true,
            "duplicates": 0.05, "seed": 9,
        }))
        .send()
        .await
        .unwrap();
    assert!(res.status().is_success());
    let mut rng = rand::rng();
    for _ in 0..5 {
        tokio::time::sleep(Duration::from_millis(rng.random_range(400..1200))).await;
        hub.take().unwrap().kill();
        tokio::time::sleep(Duration::from_millis(rng.random_range(50..300))).await;
        hub = Some(Served::start_on(&path, &env, port));
    }
    // Wait for the stream to end, then for every acknowledged event at the sink.
    let acked = acknowledged(&mock, events, 40).await;
    assert!(
        acked.len() >= events * 9 / 10,
        "most events were acknowledged: {}",
        acked.len()
    );
    let got = all_arrived(&mock, &acked).await;
    for (event, keys) in &got {
        assert_eq!(keys.len(), 1, "event {event} arrived under keys {keys:?}");
    }
    let copies = mock.state.received.snapshot().0;
    println!(
        "crash test: {} acknowledged, all {} at the sink, {copies} deliveries received (duplicates carry one key each)",
        acked.len(),
        got.len()
    );
    let _ = hub.take().unwrap().terminate();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn crash_test_sqlite_no_acknowledged_event_is_lost() {
    let dir = tempfile::tempdir().unwrap();
    let url = format!("sqlite://{}", dir.path().join("crash.db").display());
    crash_and_restart(&url).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn crash_test_postgres_no_acknowledged_event_is_lost() {
    let Some(db) = junction_testkit::postgres::TestDb::create().await else {
        return;
    };
    crash_and_restart(&db.url.clone()).await;
}

/// Deliveries a killed hub was sending (its leases still held) are delivered by the restarted
/// hub within 10 s of the restart: the lease is short and renewed, not as long as an attempt.
async fn takeover_after_kill(database_url: &str) {
    let mock = Mock::start(MockConfig::default(), "127.0.0.1:0".parse().unwrap())
        .await
        .unwrap();
    let sink = mock.url();
    let http = reqwest::Client::new();
    // The receiver hangs: every attempt of the first hub is in flight when it dies.
    let set_sink = |body: serde_json::Value| {
        let http = http.clone();
        let url = format!("{sink}/_mock/sink");
        async move {
            let r = http.put(url).json(&body).send().await.unwrap();
            assert!(r.status().is_success());
        }
    };
    set_sink(json!({ "hang": 1.0 })).await;
    let dir = tempfile::tempdir().unwrap();
    let yaml = format!(
        r#"
sources:
  crm:
    kind: webhook
    verify: {{ preset: none }}
destinations:
  sink:
    url: "{sink}/sink/takeover"
    timeout: 60s
    concurrency: 16
routes:
  r:
    from: crm
    to: [ sink ]
"#
    );
    let path = write_config(dir.path(), &yaml);
    let port = free_port();
    let env = [
        ("JUNCTION_DATABASE_URL", database_url),
        ("JUNCTION_LOG", "warn"),
    ];
    let hub = Served::start_on(&path, &env, port);
    let n = 10;
    for i in 0..n {
        let r = http
            .post(format!("http://127.0.0.1:{port}/webhooks/crm"))
            .body(format!("{{\"id\":\"evt_{i}\"}}"))
            .send()
            .await
            .unwrap();
        assert!(r.status().is_success());
    }
    // Wait until every delivery reached the hanging sink: all are leased and in flight.
    let deadline = Instant::now() + Duration::from_secs(20);
    while mock.state.received.snapshot().0 < n {
        assert!(Instant::now() < deadline, "the deliveries never started");
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    // Longer than the lease (6 s): renewed while the attempts run, so none is sent twice.
    tokio::time::sleep(Duration::from_secs(8)).await;
    assert_eq!(
        mock.state.received.snapshot().0,
        n,
        "an attempt in flight past its lease was taken again: the lease was not renewed"
    );
    hub.kill();
    set_sink(json!({})).await;
    let restarted = Instant::now();
    let hub = Served::start_on(&path, &env, port);
    loop {
        let delivered: BTreeSet<String> = mock
            .state
            .received
            .snapshot()
            .1
            .into_iter()
            .filter(|d| d.answered == 200)
            .filter_map(|d| d.headers.get("junction-event-id").cloned())
            .collect();
        if delivered.len() == n as usize {
            break;
        }
        assert!(
            restarted.elapsed() < Duration::from_secs(10),
            "{} of {n} held deliveries delivered 10 s after the restart",
            delivered.len()
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    println!(
        "takeover: {n} deliveries held by the killed hub delivered {:.1} s after the restart",
        restarted.elapsed().as_secs_f64()
    );
    let _ = hub.terminate();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn deliveries_held_by_a_killed_hub_are_taken_over_within_ten_seconds_sqlite() {
    let dir = tempfile::tempdir().unwrap();
    let url = format!("sqlite://{}", dir.path().join("takeover.db").display());
    takeover_after_kill(&url).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn deliveries_held_by_a_killed_hub_are_taken_over_within_ten_seconds_postgres() {
    let Some(db) = junction_testkit::postgres::TestDb::create().await else {
        return;
    };
    takeover_after_kill(&db.url.clone()).await;
}
