//! Chaos on several processes (short and bounded, in CI): three `junction serve` on one
//! PostgreSQL database take signed webhooks from three provider streams and send `/proxy` calls
//! to a quota-limited vendor, while one hub after another is SIGKILLed and restarted and one is
//! SIGSTOPped past its 5 s leases and resumed (it must not finish the work it lost), and then the
//! database goes away for a while (every connection cut, new ones refused, as in a restart):
//! webhooks are answered 503 with `Retry-After`, never 2xx, and the hubs recover by themselves.
//! Afterwards every
//! acknowledged event is at the sink under one idempotency key (a receiver that dedupes on it
//! sees each once), the `fifo` route kept each entity key's order, and the vendor never saw more
//! than its limit in any second.

mod support;

use std::process::Command;
use std::time::Duration;

use junction_mock::{HeaderStyle, Limit, Mock, MockConfig, QuotaConfig};
use serde_json::json;
use support::*;

const WHSEC: &str = "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw";
const EVENTS: usize = 600;
const LIMIT: u32 = 30;
/// Entity keys per provider stream (the streams share them).
const KEYS: usize = 40;

fn config(sink: &str, vendor: &str) -> String {
    format!(
        r#"
server:
  shutdown_grace: 1s
delivery:
  lease: 5s
  poll_interval: 200ms
sources:
  crm:
    kind: webhook
    verify: {{ preset: standard_webhooks, secrets: [ env:CHAOS_WHSEC ] }}
    event: {{ key: .data.object.id, sequence: .sequence }}
destinations:
  sink:
    url: "{sink}/sink/chaos"
    timeout: 2s
    retry: {{ attempts: 50, base: 100ms, max: 1s }}
routes:
  r:
    from: crm
    ordering: fifo
    to: [ sink ]
connectors:
  crm:
    base_url: "{vendor}/v2"
    quotas: [ {LIMIT}/s ]
    concurrency: 8
    max_wait: 5s
    timeouts: {{ total: 10s }}
"#
    )
}

fn signal(hub: &Served, sig: &str) {
    let ok = Command::new("kill")
        .args([sig, &hub.child.id().to_string()])
        .status()
        .unwrap()
        .success();
    assert!(ok, "kill {sig}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn cluster_chaos_three_hubs_killed_and_paused_lose_nothing_and_keep_the_quota() {
    let Some(db) = junction_testkit::postgres::TestDb::create().await else {
        return;
    };
    let sink = Mock::start(
        MockConfig {
            customers: 1,
            record_limit: 1_000_000,
            ..Default::default()
        },
        "127.0.0.1:0".parse().unwrap(),
    )
    .await
    .unwrap();
    let vendor = Mock::start(
        MockConfig {
            customers: 5,
            record_limit: 100_000,
            quotas: QuotaConfig {
                limits: vec![Limit::parse(&format!("{LIMIT}/s:global")).unwrap()],
                headers: HeaderStyle::Draft,
                sliding: true,
            },
            ..Default::default()
        },
        "127.0.0.1:0".parse().unwrap(),
    )
    .await
    .unwrap();
    let dir = tempfile::tempdir().unwrap();
    let path = write_config(dir.path(), &config(&sink.url(), &vendor.url()));
    // The hubs reach PostgreSQL through a proxy that can cut them off.
    let pg = junction_testkit::proxy::Proxy::start("127.0.0.1:5432".into()).await;
    let via_proxy = db.url.replace(":5432/", &format!(":{}/", pg.port));
    assert_ne!(via_proxy, db.url, "the test database is on 127.0.0.1:5432");
    let env = [
        ("JUNCTION_DATABASE_URL", via_proxy.as_str()),
        ("CHAOS_WHSEC", WHSEC),
        ("JUNCTION_LOG", "warn"),
    ];
    let ports = [free_port(), free_port(), free_port()];
    let mut hubs: Vec<Option<Served>> = ports
        .iter()
        .map(|p| Some(Served::start_on(&path, &env, *p)))
        .collect();
    let token = proxy_token(&db.url).await;
    let http = reqwest::Client::new();
    // Three provider streams, one per hub, with the provider's own retries covering the hubs'
    // restarts and pauses.
    for (i, port) in ports.iter().enumerate() {
        let res = http
            .post(format!("{}/_mock/webhooks/send", sink.url()))
            .json(&json!({
                "target": format!("http://127.0.0.1:{port}/webhooks/crm"),
                "scheme": { "kind": "standard_webhooks" }, "secret": WHSEC,
                "count": EVENTS, "rate_per_s": 80.0, "attempts": 40, "background": true,
                "duplicates": 0.05, "seed": i, "id_offset": i * 1_000_000, "keys": KEYS,
            }))
            .send()
            .await
            .unwrap();
        assert!(res.status().is_success());
    }
    // `/proxy` callers through every hub, ignoring failures (a hub may be down).
    let stop = std::sync::Arc::new(std::sync::atomic::AtomicBool::new(false));
    let mut callers = Vec::new();
    for (i, port) in ports.iter().cycle().take(12).enumerate() {
        let (http, token, stop) = (http.clone(), token.clone(), stop.clone());
        let url = format!(
            "http://127.0.0.1:{port}/proxy/crm/customers/cus_00000{}",
            1 + i % 5
        );
        callers.push(tokio::spawn(async move {
            while !stop.load(std::sync::atomic::Ordering::Relaxed) {
                let r = http
                    .get(&url)
                    .bearer_auth(&token)
                    .timeout(Duration::from_secs(3))
                    .send()
                    .await;
                if r.is_err() {
                    tokio::time::sleep(Duration::from_millis(50)).await;
                }
            }
        }));
    }
    // Chaos: SIGKILL and restart hubs 0 and 1 in turn; SIGSTOP hub 2 for 6 s, past its 5 s
    // lease: the others take its deliveries over, and what it was sending when it stopped
    // cannot be recorded by it once it resumes (its lease epoch is gone).
    tokio::time::sleep(Duration::from_millis(800)).await;
    signal(hubs[2].as_ref().unwrap(), "-STOP");
    for round in 0..6 {
        let n = round % 2;
        hubs[n].take().unwrap().kill();
        tokio::time::sleep(Duration::from_millis(300)).await;
        hubs[n] = Some(Served::start_on(&path, &env, ports[n]));
        tokio::time::sleep(Duration::from_millis(700)).await;
        if round == 5 {
            signal(hubs[2].as_ref().unwrap(), "-CONT");
        }
    }
    // The database goes away: a webhook is refused with 503 and Retry-After, never stored
    // half-way or acknowledged.
    pg.cut();
    tokio::time::sleep(Duration::from_millis(300)).await;
    let body = r#"{"id":"evt_outage","type":"customer.updated","sequence":1,"data":{"object":{"id":"cus_000001"}}}"#;
    let ts = junction_core::time::now_ms() / 1000;
    let signed = junction_mock::sign(
        &junction_mock::Scheme::StandardWebhooks,
        WHSEC,
        "evt_outage",
        ts,
        body.as_bytes(),
    )
    .unwrap();
    let mut req = http
        .post(format!("http://127.0.0.1:{}/webhooks/crm", ports[0]))
        .header("content-type", "application/json")
        .timeout(Duration::from_secs(15))
        .body(body);
    for (k, v) in &signed {
        req = req.header(k, v);
    }
    let refused = req.send().await.unwrap();
    assert_eq!(refused.status(), 503, "the database is down");
    assert!(refused.headers().contains_key("retry-after"));
    tokio::time::sleep(Duration::from_secs(2)).await;
    pg.restore();
    // Every stream ends (each event acknowledged or its attempts spent).
    let acked = acknowledged(&sink, 3 * EVENTS, 40).await;
    stop.store(true, std::sync::atomic::Ordering::Relaxed);
    for c in callers {
        let _ = c.await;
    }
    assert!(
        acked.len() >= 3 * EVENTS * 9 / 10,
        "most events were acknowledged: {}",
        acked.len()
    );
    // A delivery in flight in three processes that were killed is set aside as a suspected
    // cause of the crashes; on a fifo route it holds its key's later events. An operator
    // replays it; so does the test, and counts them.
    let suspected = replay_quarantined_until_delivered(&db.url, &sink, &acked).await;
    let got = all_arrived(&sink, &acked).await;
    for (event, keys) in &got {
        assert_eq!(keys.len(), 1, "event {event} arrived under keys {keys:?}");
    }
    let inversions = fifo_inversions(&db.url, &sink).await;
    assert!(
        inversions.is_empty(),
        "{} events of one key reached the sink before an earlier one stored before them, e.g. {:?}",
        inversions.len(),
        &inversions[..inversions.len().min(5)]
    );
    let calls = vendor.state.log.snapshot().0;
    let most = vendor.state.log.most_in_any(Duration::from_secs(1));
    assert!(calls > 0, "the vendor was called");
    assert!(
        most <= LIMIT as usize,
        "the vendor saw {most} calls in one second (limit {LIMIT})"
    );
    println!(
        "cluster chaos: {} acknowledged, all at the sink under one key each, in order per key ({suspected} replayed from quarantine); vendor {calls} calls, at most {most} in a second",
        acked.len()
    );
    for mut hub in hubs.into_iter().flatten() {
        hub.assert_running();
        let _ = hub.terminate();
    }
}

/// Replays deliveries quarantined as suspected crash causes until every acknowledged event has
/// reached the sink (at most a minute); how many were replayed. Any other quarantine fails.
async fn replay_quarantined_until_delivered(
    db: &str,
    sink: &Mock,
    acked: &std::collections::BTreeSet<String>,
) -> usize {
    let store = junction_store::open(&junction_store::Options {
        url: junction_config::parse_database_url(db).unwrap(),
        max_connections: 2,
        connect_timeout: Duration::from_secs(5),
    })
    .await
    .unwrap();
    let quarantined = junction_store::DeadFilter {
        quarantined: true,
        ..Default::default()
    };
    let mut replayed = 0;
    let deadline = std::time::Instant::now() + Duration::from_secs(60);
    while std::time::Instant::now() < deadline {
        for q in store.dead_letters(&quarantined, 0, 100).await.unwrap() {
            let reason = q.delivery.dead_reason.unwrap_or_default();
            assert!(
                reason.contains("ended without an outcome"),
                "quarantined for another reason: {reason}"
            );
        }
        replayed += store
            .replay(&quarantined, 100, junction_core::time::now_ms())
            .await
            .unwrap()
            .len();
        let arrived: std::collections::BTreeSet<String> = sink
            .state
            .received
            .snapshot()
            .1
            .iter()
            .filter_map(|d| d.headers.get("junction-event-id").cloned())
            .collect();
        if acked.is_subset(&arrived) {
            break;
        }
        tokio::time::sleep(Duration::from_millis(250)).await;
    }
    replayed
}

/// Pairs of events of one entity key, `(earlier, later)` by sequence, where the provider had
/// the earlier one's acknowledgement before the later one reached the hub, and yet the earlier
/// one first reached the sink after it: a break of the route's `fifo` order. (An event stored
/// after a later one was claimed may find it already sent; a repeated delivery after a lapsed
/// lease is a duplicate the receiver dedupes, so only first arrivals count.)
async fn fifo_inversions(db: &str, sink: &Mock) -> Vec<(String, String)> {
    /// (sequence, acknowledged at, received by the hub at, first arrival at the sink, id).
    type Seen<'a> = (i64, i64, i64, u64, &'a str);
    use sqlx::Connection;
    use std::collections::HashMap;
    let mut acked: HashMap<String, i64> = HashMap::new();
    for s in sink.state.sent.snapshot().1 {
        if (200..300).contains(&s.status) {
            let at = acked.entry(s.id.clone()).or_insert(s.answered_ms);
            *at = (*at).min(s.answered_ms);
        }
    }
    let mut first: HashMap<String, u64> = HashMap::new();
    for d in sink.state.received.snapshot().1 {
        if let Some(id) = d.headers.get("junction-event-id") {
            let at = first.entry(id.clone()).or_insert(d.at_us);
            *at = (*at).min(d.at_us);
        }
    }
    let mut c = sqlx::PgConnection::connect(db).await.unwrap();
    let stored: Vec<(String, String, i64, i64)> =
        sqlx::query_as("SELECT external_id, entity_key, sequence, received_at FROM events")
            .fetch_all(&mut c)
            .await
            .unwrap();
    let mut by_key: HashMap<&str, Vec<Seen>> = HashMap::new();
    for (id, key, seq, received) in &stored {
        if let (Some(acked), Some(arrived)) = (acked.get(id), first.get(id)) {
            by_key
                .entry(key)
                .or_default()
                .push((*seq, *acked, *received, *arrived, id));
        }
    }
    let mut broken = Vec::new();
    for events in by_key.values() {
        for a in events {
            for b in events {
                // Milliseconds on both sides: one more for the rounding.
                if a.0 < b.0 && a.1 + 1 < b.2 && a.3 > b.3 {
                    broken.push((a.4.to_owned(), b.4.to_owned()));
                }
            }
        }
    }
    broken
}

/// An API token with every proxy scope, made in the database the hubs share.
async fn proxy_token(url: &str) -> String {
    let store = junction_store::open(&junction_store::Options {
        url: junction_config::parse_database_url(url).unwrap(),
        max_connections: 2,
        connect_timeout: Duration::from_secs(5),
    })
    .await
    .unwrap();
    let (token, id, hash) = junction_connect::api_tokens::generate();
    store
        .add_api_token(junction_store::ApiToken {
            id,
            name: "chaos".into(),
            token_hash: hash,
            scopes: "proxy:*:*".into(),
            created_at: junction_core::time::now_ms(),
            expires_at: None,
            revoked_at: None,
        })
        .await
        .unwrap();
    token
}
