//! Alerts end to end on a real store: two processes evaluating the same rules notify each
//! change once, to every sink, and a failing sink is retried.

use std::sync::{Arc, Mutex};
use std::time::Duration;

use axum::routing::post;
use junction_config::{AlertRule, Alerts, DatabaseUrl, Severity, Signal, Sink, SinkKind};
use junction_store::{open, Options};
use serde_json::Value;

struct NoQuota;

impl junction_alerts::Live for NoQuota {
    fn quota_use(&self) -> Vec<(String, f64)> {
        Vec::new()
    }
}

type Seen = Arc<Mutex<Vec<(String, Value)>>>;

/// A sink server: records every body by path; `/hook` fails its first request.
async fn sinks() -> (String, Seen) {
    let seen: Seen = Arc::default();
    let failed_once = Arc::new(Mutex::new(false));
    let (s1, s2) = (seen.clone(), seen.clone());
    let app = axum::Router::new()
        .route(
            "/hook",
            post(move |axum::Json(v): axum::Json<Value>| async move {
                let mut f = failed_once.lock().unwrap();
                if !*f {
                    *f = true;
                    return http_status(500);
                }
                s1.lock().unwrap().push(("hook".into(), v));
                http_status(204)
            }),
        )
        .route(
            "/slack",
            post(move |axum::Json(v): axum::Json<Value>| async move {
                s2.lock().unwrap().push(("slack".into(), v));
                http_status(200)
            }),
        );
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let base = format!("http://{}", listener.local_addr().unwrap());
    tokio::spawn(async move { axum::serve(listener, app).await.unwrap() });
    (base, seen)
}

fn http_status(code: u16) -> axum::http::StatusCode {
    axum::http::StatusCode::from_u16(code).unwrap()
}

async fn wait_for(seen: &Seen, what: impl Fn(&[(String, Value)]) -> bool) {
    let deadline = tokio::time::Instant::now() + Duration::from_secs(10);
    while !what(&seen.lock().unwrap()) {
        assert!(
            tokio::time::Instant::now() < deadline,
            "{:?}",
            seen.lock().unwrap()
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

fn count(seen: &Seen, sink: &str, state: &str) -> usize {
    seen.lock()
        .unwrap()
        .iter()
        .filter(|(s, v)| {
            s == sink
                && match sink {
                    "hook" => v["state"] == state,
                    _ => v["text"].as_str().unwrap().contains(if state == "firing" {
                        "CRITICAL"
                    } else {
                        "RESOLVED"
                    }),
                }
        })
        .count()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn each_change_is_notified_once_to_every_sink_however_many_processes_evaluate() {
    let dir = tempfile::tempdir().unwrap();
    let store = open(&Options {
        url: DatabaseUrl::Sqlite(dir.path().join("j.db")),
        max_connections: 4,
        connect_timeout: Duration::from_secs(5),
    })
    .await
    .unwrap();
    let (base, seen) = sinks().await;
    let alerts = Alerts {
        evaluate_every: Duration::from_millis(100),
        rules: vec![AlertRule {
            name: "destination_disabled".into(),
            signal: Signal::DestinationDisabled,
            subjects: vec![],
            above: 0.0,
            over: Duration::ZERO,
            for_: Duration::ZERO,
            resolve_after: Duration::from_millis(300),
            min_calls: 0,
            severity: Severity::Critical,
        }],
        sinks: vec![
            Sink {
                name: "ops".into(),
                kind: SinkKind::Webhook {
                    url: format!("{base}/hook").parse().unwrap(),
                    headers: [("x-team".to_owned(), "payments".to_owned())].into(),
                },
            },
            Sink {
                name: "slack".into(),
                kind: SinkKind::Slack {
                    url: format!("{base}/slack").parse().unwrap(),
                },
            },
        ],
    };
    let a = tokio::spawn(junction_alerts::run_for_tests(
        store.clone(),
        alerts.clone(),
        Arc::new(NoQuota),
    ));
    let b = tokio::spawn(junction_alerts::run_for_tests(
        store.clone(),
        alerts,
        Arc::new(NoQuota),
    ));

    store
        .set_disabled("billing", Some("the endpoint answered 410 Gone"), 1)
        .await
        .unwrap();
    wait_for(&seen, |s| s.len() >= 2).await;
    tokio::time::sleep(Duration::from_millis(800)).await;
    assert_eq!(
        count(&seen, "hook", "firing"),
        1,
        "{:?}",
        seen.lock().unwrap()
    );
    assert_eq!(count(&seen, "slack", "firing"), 1);
    let hook = seen
        .lock()
        .unwrap()
        .iter()
        .find(|(s, _)| s == "hook")
        .unwrap()
        .1
        .clone();
    assert_eq!(hook["alert"], "destination_disabled/billing");
    assert_eq!(hook["severity"], "critical");
    let firing = store.alerts().await.unwrap();
    assert_eq!(
        (firing[0].state.as_str(), firing[0].fired_count),
        ("firing", 1)
    );

    store.set_disabled("billing", None, 2).await.unwrap();
    wait_for(&seen, |s| s.len() >= 4).await;
    tokio::time::sleep(Duration::from_millis(800)).await;
    assert_eq!(count(&seen, "hook", "resolved"), 1);
    assert_eq!(count(&seen, "slack", "resolved"), 1);
    assert_eq!(
        store.alerts().await.unwrap()[0].state,
        junction_store::AlertState::Resolved
    );
    a.abort();
    b.abort();
}

/// A process whose config is reloaded with a new rule: `alerts()` answers the new rules.
struct Reloaded(Alerts);

impl junction_alerts::Live for Reloaded {
    fn quota_use(&self) -> Vec<(String, f64)> {
        Vec::new()
    }
    fn alerts(&self) -> Option<Alerts> {
        Some(self.0.clone())
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn rules_added_by_a_config_reload_are_evaluated_without_a_restart() {
    let dir = tempfile::tempdir().unwrap();
    let store = open(&Options {
        url: DatabaseUrl::Sqlite(dir.path().join("j.db")),
        max_connections: 4,
        connect_timeout: Duration::from_secs(5),
    })
    .await
    .unwrap();
    let started_with = Alerts {
        evaluate_every: Duration::from_millis(50),
        rules: Vec::new(),
        sinks: Vec::new(),
    };
    let mut reloaded = started_with.clone();
    reloaded.rules.push(AlertRule {
        name: "destination_disabled".into(),
        signal: Signal::DestinationDisabled,
        subjects: vec![],
        above: 0.0,
        over: Duration::ZERO,
        for_: Duration::ZERO,
        resolve_after: Duration::from_secs(60),
        min_calls: 0,
        severity: Severity::Critical,
    });
    store
        .set_disabled("billing", Some("the endpoint answered 410 Gone"), 1)
        .await
        .unwrap();
    let task = tokio::spawn(junction_alerts::run_for_tests(
        store.clone(),
        started_with,
        Arc::new(Reloaded(reloaded)),
    ));
    let deadline = tokio::time::Instant::now() + Duration::from_secs(10);
    loop {
        let alerts = store.alerts().await.unwrap();
        if alerts.iter().any(|a| {
            a.rule == "destination_disabled" && a.state == junction_store::AlertState::Firing
        }) {
            break;
        }
        assert!(
            tokio::time::Instant::now() < deadline,
            "the reloaded rule never fired: {alerts:?}"
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    task.abort();
}
