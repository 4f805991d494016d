//! The process-wide Prometheus recorder and the metrics every part of Junction shares.

use std::sync::OnceLock;

use metrics_exporter_prometheus::{Matcher, PrometheusBuilder, PrometheusHandle};

/// Latency buckets, in seconds: sub-millisecond store operations up to slow vendor calls.
const SECONDS: &[f64] = &[
    0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0,
];
const BATCH: &[f64] = &[1.0, 2.0, 4.0, 8.0, 16.0, 32.0, 64.0, 128.0, 256.0];

/// The Prometheus handle, installing the recorder on first use. Safe to call from many places
/// (and many tests in one process); only the first call installs.
pub fn handle() -> &'static PrometheusHandle {
    static HANDLE: OnceLock<PrometheusHandle> = OnceLock::new();
    HANDLE.get_or_init(|| {
        let builder = PrometheusBuilder::new()
            .set_buckets_for_metric(Matcher::Suffix("_seconds".into()), SECONDS)
            .and_then(|b| b.set_buckets_for_metric(Matcher::Suffix("_batch_size".into()), BATCH));
        let recorder = builder
            .map(|b| b.build_recorder())
            .unwrap_or_else(|_| PrometheusBuilder::new().build_recorder());
        let handle = recorder.handle();
        // Another recorder may already be installed (a test harness): keep ours for rendering.
        let _ = metrics::set_global_recorder(recorder);
        describe();
        metrics::gauge!("junction_build_info", "version" => env!("CARGO_PKG_VERSION")).set(1.0);
        handle
    })
}

fn describe() {
    use metrics::{describe_counter, describe_gauge, describe_histogram, Unit};
    describe_gauge!("junction_build_info", "Junction's version; always 1.");
    describe_counter!(
        "junction_http_requests_total",
        "HTTP requests answered, by method, route and status."
    );
    describe_histogram!(
        "junction_http_request_duration_seconds",
        Unit::Seconds,
        "HTTP request latency, by method and route."
    );
    describe_counter!(
        "junction_operation_calls_total",
        "Connector operations called through /ops, by connector, operation and outcome (ok, refused, failed)."
    );
    describe_histogram!(
        "junction_operation_seconds",
        Unit::Seconds,
        "Latency of a connector operation through /ops (a walk of every page: until its first page), by connector and operation."
    );
    describe_histogram!(
        "junction_store_op_seconds",
        Unit::Seconds,
        "Store operation latency, by backend and operation."
    );
    describe_histogram!(
        "junction_store_commit_seconds",
        Unit::Seconds,
        "Latency of one group commit."
    );
    describe_histogram!(
        "junction_store_commit_batch_size",
        "Writes per group commit."
    );
    describe_gauge!(
        "junction_store_up",
        "1 when the store answers, 0 when it does not."
    );
}

/// A request method as a label: the standard methods by name, anything else `other`. A method
/// is whatever token a client sends, so it never becomes a label (or a map key) as sent.
pub fn method_label(m: &http::Method) -> &'static str {
    use http::Method;
    match *m {
        Method::GET => "GET",
        Method::POST => "POST",
        Method::PUT => "PUT",
        Method::PATCH => "PATCH",
        Method::DELETE => "DELETE",
        Method::HEAD => "HEAD",
        Method::OPTIONS => "OPTIONS",
        Method::TRACE => "TRACE",
        Method::CONNECT => "CONNECT",
        _ => "other",
    }
}
