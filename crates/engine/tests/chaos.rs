//! Misbehaving receivers: a chaotic sink (failures, hangs, dropped connections) and a 30-second
//! outage. Bounded runs; the long soaks live in `bench/`.

mod support;

use std::time::{Duration, Instant};

use junction_store::DeliveryState;
use serde_json::json;
use support::*;

const CHAOS: &str = r#"
sources:
  crm:
    kind: webhook
    verify: { preset: standard_webhooks, secrets: [ env:WHSEC ] }
destinations:
  flaky:
    url: "{sink}/flaky"
    timeout: 500ms
    retry: { attempts: 6, base: 20ms, max: 200ms }
    circuit: { failures: 50, probe_after: 200ms }
routes:
  r:
    from: crm
    to: [ flaky ]
"#;

on_both!(every_delivery_ends_delivered_or_dead_under_chaos);

async fn every_delivery_ends_delivered_or_dead_under_chaos(url: String) {
    let mock = mock().await;
    set_sink(
        &mock,
        json!({ "seed": 11, "errors": [[503, 0.3]], "hang": 0.1, "reset": 0.1 }),
    )
    .await;
    let hub = Hub::start(CHAOS, &url, &mock).await;
    let events = 200;
    let mut req = stream(hub.url("/webhooks/crm"), events);
    req.concurrency = 16;
    emit(&mock, req).await;
    all_settled(&hub, Duration::from_secs(60)).await;
    let (mut delivered, mut dead, mut attempts) = (0, 0, 0);
    for event in 1..=events as i64 {
        for d in hub.store().deliveries_of(event).await.unwrap() {
            attempts += d.attempts;
            match d.state {
                DeliveryState::Delivered => delivered += 1,
                DeliveryState::Dead => {
                    dead += 1;
                    assert!(d.dead_reason.is_some(), "a dead letter keeps its reason");
                }
                other => panic!("delivery {} ended {other:?}", d.id),
            }
        }
    }
    assert_eq!(delivered + dead, events);
    assert!(
        delivered >= events * 9 / 10,
        "most get through: {delivered} delivered, {dead} dead"
    );
    assert_eq!(
        delivered_ids(&mock).len(),
        delivered,
        "every delivered one reached the sink"
    );
    let amplification = attempts as f64 / events as f64;
    println!(
        "chaos: {events} deliveries, {delivered} delivered, {dead} dead, {attempts} attempts, retry amplification {amplification:.2}"
    );
    assert!(
        amplification < 3.0,
        "retry amplification {amplification:.2}"
    );
    hub.stop().await;
}

const OUTAGE: &str = r#"
sources:
  crm:
    kind: webhook
    verify: { preset: standard_webhooks, secrets: [ env:WHSEC ] }
destinations:
  down:
    url: "{proxy}/sink/down"
routes:
  r:
    from: crm
    to: [ down ]
"#;

/// The destination is unreachable for 30 s under steady traffic (default retry and circuit).
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn after_a_30s_outage_the_backlog_arrives_within_10s_with_bounded_attempts() {
    let Some((_db, url)) = DbGuard::new(Db::Sqlite).await else {
        return;
    };
    let mock = mock().await;
    let proxy = junction_testkit::proxy::Proxy::start(mock.addr.to_string()).await;
    let yaml = OUTAGE.replace("{proxy}", &format!("http://127.0.0.1:{}", proxy.port));
    let hub = Hub::start_raw(&yaml, &url).await;
    let rate = 40.0;
    let total = (rate * 40.0) as usize;
    let mut req = stream(hub.url("/webhooks/crm"), total);
    req.rate_per_s = Some(rate);
    req.background = true;
    emit(&mock, req).await;
    tokio::time::sleep(Duration::from_secs(3)).await;
    proxy.cut();
    let cut_at = junction_core::time::now_ms();
    tokio::time::sleep(Duration::from_secs(30)).await;
    proxy.restore();
    let back_at = junction_core::time::now_ms();
    let restored = Instant::now();
    // Everything accepted up to now must arrive within 10 s of the return.
    let accepted_before: usize = mock
        .state
        .sent
        .snapshot()
        .1
        .iter()
        .filter(|s| s.status == 202)
        .count();
    wait_for(
        Duration::from_secs(10),
        "the backlog to drain after the outage",
        || delivered_ids(&mock).len() >= accepted_before,
    )
    .await;
    let drained = restored.elapsed();
    // Attempts during the outage: the first failures, then one probe at a time.
    let store = hub.store().clone();
    let mut outage_attempts = 0;
    for event in 1..=total as i64 {
        for d in store.deliveries_of(event).await.unwrap() {
            for a in store.attempts(d.id).await.unwrap() {
                if a.record.started_at >= cut_at && a.record.started_at < back_at {
                    outage_attempts += 1;
                }
            }
        }
    }
    // Intake kept its rate: every event sent during the outage was answered 2xx.
    let sent = mock.state.sent.snapshot().1;
    let during: Vec<_> = sent
        .iter()
        .filter(|s| s.at_ms >= cut_at && s.at_ms < back_at)
        .collect();
    assert!(
        during.len() as f64 >= rate * 25.0,
        "intake during the outage: {}",
        during.len()
    );
    assert!(
        during.iter().all(|s| s.status == 202),
        "every event was accepted during the outage"
    );
    println!(
        "outage: {} events accepted during 30 s, {outage_attempts} attempts while down, backlog of {accepted_before} drained {drained:?} after the return",
        during.len()
    );
    assert!(
        outage_attempts <= 80,
        "attempts during the outage: {outage_attempts}"
    );
    // Let the stream finish and everything settle.
    wait_for(Duration::from_secs(30), "every event to arrive", || {
        delivered_ids(&mock).len() >= total
    })
    .await;
    hub.stop().await;
}
