//! The crash test: `junction serve` is SIGKILLed at random moments while a provider sends signed
//! events at a high rate, and restarted each time. Every event the hub answered 2xx must reach
//! the sink (zero missing), and every copy of one event at the sink carries one idempotency key.
//! On SQLite and on PostgreSQL.

mod support;

use std::collections::{BTreeMap, BTreeSet};
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
    let deadline = Instant::now() + Duration::from_secs(60);
    let acked: BTreeSet<String> = loop {
        let (total, sent) = mock.state.sent.snapshot();
        let finished: BTreeSet<&str> = sent
            .iter()
            .filter(|s| (200..300).contains(&s.status) || s.attempt == 40)
            .map(|s| s.id.as_str())
            .collect();
        if finished.len() >= events || Instant::now() > deadline {
            assert!(total > 0);
            break sent
                .iter()
                .filter(|s| (200..300).contains(&s.status))
                .map(|s| s.id.clone())
                .collect();
        }
        tokio::time::sleep(Duration::from_millis(200)).await;
    };
    assert!(
        acked.len() >= events * 9 / 10,
        "most events were acknowledged: {}",
        acked.len()
    );
    let arrived = |mock: &Mock| -> BTreeMap<String, BTreeSet<String>> {
        let mut by_event: BTreeMap<String, BTreeSet<String>> = BTreeMap::new();
        for d in mock.state.received.snapshot().1 {
            if let Some(id) = d.headers.get("junction-event-id") {
                by_event
                    .entry(id.clone())
                    .or_default()
                    .insert(d.idempotency_key.clone().unwrap_or_default());
            }
        }
        by_event
    };
    let deadline = Instant::now() + Duration::from_secs(60);
    loop {
        let got = arrived(&mock);
        let missing: Vec<_> = acked.iter().filter(|id| !got.contains_key(*id)).collect();
        if missing.is_empty() {
            break;
        }
        assert!(
            Instant::now() < deadline,
            "{} acknowledged events never reached the sink, e.g. {:?}",
            missing.len(),
            &missing[..missing.len().min(5)]
        );
        tokio::time::sleep(Duration::from_millis(250)).await;
    }
    let got = arrived(&mock);
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
