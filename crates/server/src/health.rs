//! `/healthz`, `/readyz`, `/metrics`, and the store monitor behind readiness.

use std::time::Duration;

use axum::extract::State;
use axum::response::{IntoResponse, Response};
use axum::Json;
use http::{header, StatusCode};
use serde_json::json;

use crate::AppState;

/// How long a readiness check waits for the store.
const PING_TIMEOUT: Duration = Duration::from_secs(1);
/// How often the monitor checks the store between requests.
const MONITOR_EVERY: Duration = Duration::from_secs(2);

/// The process is alive (nothing else is checked: restarting would not help a database outage).
pub(crate) async fn healthz() -> Json<serde_json::Value> {
    Json(json!({ "status": "ok" }))
}

/// Ready to take traffic: config loaded (it is, or the process would not run), store reachable,
/// not shutting down. 503 with the failing check otherwise.
pub(crate) async fn readyz(State(state): State<AppState>) -> Response {
    let store = check_store(&state).await;
    let backend = state.store.backend().as_str();
    let mut checks = json!({ "config": "ok", "store": "ok" });
    let error = if state.health.shutting_down() {
        checks["shutdown"] = json!("in progress");
        Some(
            junction_core::Error::new(
                junction_core::Code::NotReady,
                junction_core::Origin::Internal,
                "the server is shutting down",
            )
            .with_hint("send traffic to another instance"),
        )
    } else if let Err(e) = &store {
        checks["store"] = json!(format!("unavailable: {e}"));
        Some(junction_core::Error::store_unavailable(
            junction_store::RETRY_AFTER,
        ))
    } else {
        None
    };
    match error {
        None => {
            Json(json!({ "status": "ready", "backend": backend, "checks": checks })).into_response()
        }
        Some(e) => {
            let mut body = e.to_body();
            body["status"] = json!("not_ready");
            body["backend"] = json!(backend);
            body["checks"] = checks;
            let retry = e
                .retry_after()
                .unwrap_or(junction_store::RETRY_AFTER)
                .as_secs()
                .to_string();
            (
                StatusCode::SERVICE_UNAVAILABLE,
                [(header::RETRY_AFTER, retry)],
                Json(body),
            )
                .into_response()
        }
    }
}

async fn check_store(state: &AppState) -> Result<(), String> {
    let result = match tokio::time::timeout(PING_TIMEOUT, state.store.ping()).await {
        Ok(Ok(())) => Ok(()),
        Ok(Err(e)) => Err(e.to_string()),
        Err(_) => Err(format!("no answer within {PING_TIMEOUT:?}")),
    };
    state.health.record_store(result.clone());
    result
}

/// Prometheus text exposition.
pub(crate) async fn metrics() -> Response {
    let body = junction_telemetry::metrics::handle().render();
    (
        [(
            header::CONTENT_TYPE,
            "text/plain; version=0.0.4; charset=utf-8",
        )],
        body,
    )
        .into_response()
}

/// Checks the store every few seconds so `junction_store_up` and the logs follow an outage
/// (and its end) even when nobody calls `/readyz`. Stops when `stop` fires.
pub(crate) fn spawn_monitor(state: AppState, mut stop: tokio::sync::watch::Receiver<bool>) {
    tokio::spawn(async move {
        let handle = junction_telemetry::metrics::handle();
        loop {
            tokio::select! {
                _ = tokio::time::sleep(MONITOR_EVERY) => {}
                _ = stop.changed() => return,
            }
            let _ = check_store(&state).await;
            handle.run_upkeep();
        }
    });
}
