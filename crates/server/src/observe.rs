//! The one middleware every request passes: request id, trace context, span, the request
//! timeout, panic catching, the JSON error body for every error answer, metrics and one log line.
//! One layer rather than five: each layer costs a boxed future and a cloned service per request,
//! which on `/proxy` and webhook intake is a measurable share of the hub's own work.

use std::panic::AssertUnwindSafe;
use std::time::{Duration, Instant};

use axum::extract::{MatchedPath, Request};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use futures_util::FutureExt;
use http::{HeaderName, HeaderValue};
use junction_telemetry::TraceParent;
use tracing::Instrument;
use tracing_opentelemetry::OpenTelemetrySpanExt;

pub(crate) static REQUEST_ID: HeaderName = HeaderName::from_static("x-request-id");

/// A request id we keep as given: 1 to 128 visible ASCII characters. Anything else is replaced.
fn valid_request_id(v: &HeaderValue) -> bool {
    let b = v.as_bytes();
    !b.is_empty() && b.len() <= 128 && b.iter().all(|c| c.is_ascii_graphic())
}

/// Routes whose successful answers are logged at debug, not info: probes and scrapes are noise.
fn quiet(route: &str) -> bool {
    matches!(route, "/healthz" | "/readyz" | "/metrics")
}

/// A request id: a UUIDv7 (time-ordered) whose random bits come from the thread's generator, not
/// a system call per request.
fn new_request_id() -> HeaderValue {
    let ms = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_millis() as u64)
        .unwrap_or(0);
    let id = uuid::Builder::from_unix_timestamp_millis(ms, &rand::random::<[u8; 10]>()).into_uuid();
    let mut buf = uuid::Uuid::encode_buffer();
    HeaderValue::from_str(id.hyphenated().encode_lower(&mut buf))
        .unwrap_or(HeaderValue::from_static("invalid"))
}

pub(crate) async fn edge(
    timeout: Duration,
    body_limit: usize,
    state: crate::AppState,
    mut req: Request,
    next: Next,
) -> Response {
    let started = Instant::now();
    let request_id = match req.headers().get(&REQUEST_ID) {
        Some(v) if valid_request_id(v) => v.clone(),
        _ => {
            let id = new_request_id();
            req.headers_mut().insert(REQUEST_ID.clone(), id.clone());
            id
        }
    };
    let route = req
        .extensions()
        .get::<MatchedPath>()
        .map(|m| m.as_str().to_owned())
        .unwrap_or_else(|| "unmatched".to_owned());
    let method = req.method().clone();
    let incoming = req
        .headers()
        .get("traceparent")
        .and_then(|v| v.to_str().ok())
        .and_then(TraceParent::parse);
    let span = tracing::info_span!(
        "request",
        method = %method,
        route = %route,
        path = %req.uri().path(),
        request_id = %request_id.to_str().unwrap_or_default(),
        trace_id = tracing::field::Empty,
    );
    if let Some(tp) = &incoming {
        span.record("trace_id", tp.trace_id.as_str());
        let _ = span.set_parent(junction_telemetry::parent_context(req.headers()));
    }
    let uri = req.uri().clone();
    // A webhook refused here (too large) is kept for the request inspector with its headers:
    // kept aside only when it may be (no length, or a length over the limit), not for every one.
    let may_be_too_large = req
        .headers()
        .get(http::header::CONTENT_LENGTH)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.parse::<usize>().ok())
        .is_none_or(|n| n > body_limit);
    let webhook_headers =
        (may_be_too_large && uri.path().starts_with("/webhooks/")).then(|| req.headers().clone());
    let handled = AssertUnwindSafe(tokio::time::timeout(timeout, next.run(req)))
        .catch_unwind()
        .instrument(span.clone())
        .await;
    let res = match handled {
        Ok(Ok(res)) => res,
        Ok(Err(_)) => crate::ApiError(
            junction_core::Error::new(
                junction_core::Code::Timeout,
                junction_core::Origin::Internal,
                "the request took too long",
            )
            .with_hint("raise server.request_timeout if this request is expected to be slow"),
        )
        .into_response(),
        Err(_) => {
            span.in_scope(|| tracing::error!("a request handler panicked"));
            http::StatusCode::INTERNAL_SERVER_ERROR.into_response()
        }
    };
    let mut res = crate::errors::normalize(&method, uri.path(), body_limit, res);
    if let (Some(headers), http::StatusCode::PAYLOAD_TOO_LARGE) = (&webhook_headers, res.status()) {
        too_large_webhook(&state, uri.path(), headers, body_limit);
    }
    let elapsed = started.elapsed();
    let status = res.status().as_u16();
    res.headers_mut().insert(REQUEST_ID.clone(), request_id);
    let (requests, duration) = handles(&method, &route, status);
    requests.increment(1);
    duration.record(elapsed.as_secs_f64());
    let latency_ms = elapsed.as_secs_f64() * 1000.0;
    span.in_scope(|| {
        if status >= 500 {
            tracing::warn!(status, latency_ms, "request failed");
        } else if quiet(&route) && status < 400 {
            tracing::debug!(status, latency_ms, "request");
        } else {
            tracing::info!(status, latency_ms, "request");
        }
    });
    res
}

type Handles = (metrics::Counter, metrics::Histogram);

/// The request metrics of one (method, route, status), registered once and reused: building
/// label strings and looking them up on every request cost more than the request's own work.
fn handles(method: &http::Method, route: &str, status: u16) -> Handles {
    use std::collections::HashMap;
    use std::sync::{OnceLock, RwLock};
    type Key = (&'static str, String, u16);
    static CACHE: OnceLock<RwLock<HashMap<Key, Handles>>> = OnceLock::new();
    let cache = CACHE.get_or_init(Default::default);
    // Every part of the key is from a closed set: methods outside the standard ones are `other`,
    // routes are the matched templates (or `unmatched`), statuses are the server's own.
    let method = junction_telemetry::metrics::method_label(method);
    let key = (method, route.to_owned(), status);
    if let Some(h) = cache.read().unwrap_or_else(|p| p.into_inner()).get(&key) {
        return h.clone();
    }
    let h = (
        metrics::counter!("junction_http_requests_total", "method" => method, "route" => route.to_owned(), "status" => status.to_string()),
        metrics::histogram!("junction_http_request_duration_seconds", "method" => method, "route" => route.to_owned()),
    );
    let mut w = cache.write().unwrap_or_else(|p| p.into_inner());
    w.entry(key).or_insert(h).clone()
}

/// Keeps a webhook refused for its size in the request inspector (no body: it was not read).
fn too_large_webhook(
    state: &crate::AppState,
    path: &str,
    headers: &http::HeaderMap,
    body_limit: usize,
) {
    let name = path.trim_start_matches("/webhooks/");
    let config = state.config();
    let source = config
        .flows
        .sources
        .get_key_value(name)
        .map(|(k, _)| k.as_str());
    let size = headers
        .get(http::header::CONTENT_LENGTH)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.parse().ok())
        .unwrap_or(0);
    state.inspector.record(
        crate::inspect::Refusal {
            source,
            reason: "too_large",
            status: 413,
            detail: format!(
                "the request body is larger than the server accepts ({})",
                junction_core::units::bytes_text(body_limit)
            ),
            headers,
            body: &[],
            size,
        },
        junction_core::time::now_ms(),
    );
}
