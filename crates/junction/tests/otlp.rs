//! Traces: the W3C `traceparent` of a request is followed, and its spans reach an OTLP collector.

mod support;

use std::sync::{Arc, Mutex};

use axum::routing::post;
use support::{write_config, Served};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn spans_are_exported_over_otlp_with_the_callers_trace_id() {
    // A collector that keeps every export it receives.
    let received: Arc<Mutex<Vec<u8>>> = Arc::default();
    let sink = received.clone();
    let app = axum::Router::new().route(
        "/v1/traces",
        post(move |body: axum::body::Bytes| {
            let sink = sink.clone();
            async move {
                sink.lock().unwrap().extend_from_slice(&body);
                ""
            }
        }),
    );
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let collector = listener.local_addr().unwrap();
    tokio::spawn(async move { axum::serve(listener, app).await });

    let dir = tempfile::tempdir().unwrap();
    let yaml = format!(
        "store:\n  url: sqlite://{}/j.db\ntelemetry:\n  log_format: json\n  otlp:\n    endpoint: http://{collector}\n    service_name: junction-test\n",
        dir.path().display()
    );
    let served = Served::start(&write_config(dir.path(), &yaml), &[]);
    let trace_id = "4bf92f3577b34da6a3ce929d0e0e4736";
    let res = reqwest::Client::new()
        .get(format!("{}/healthz", served.base))
        .header("traceparent", format!("00-{trace_id}-00f067aa0ba902b7-01"))
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 200);
    let (code, logs) = served.terminate();
    assert_eq!(code, Some(0), "{logs}");

    let body = received.lock().unwrap().clone();
    let id_bytes: Vec<u8> = (0..16)
        .map(|i| u8::from_str_radix(&trace_id[2 * i..2 * i + 2], 16).unwrap())
        .collect();
    assert!(
        !body.is_empty(),
        "the collector received no export; logs:\n{logs}"
    );
    assert!(
        body.windows(16).any(|w| w == id_bytes.as_slice()),
        "the exported spans carry the caller's trace id"
    );
    assert!(
        String::from_utf8_lossy(&body).contains("junction-test"),
        "service.name is set"
    );
}
