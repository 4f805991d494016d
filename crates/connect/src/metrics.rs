//! A connector's metrics, registered once when it starts: building label sets and looking them
//! up on every call would cost more than the call's own bookkeeping.

use std::sync::Arc;

use junction_telemetry::history::{self, connector as h, Kind, Series};
use metrics::{Counter, Gauge, Histogram};

pub struct Metrics {
    /// Calls by answer class: 2xx, 3xx, 4xx, 5xx, and `error` (no answer from the vendor).
    calls: [Counter; 5],
    pub call_seconds: Histogram,
    pub upstream_seconds: Histogram,
    pub quota_wait_seconds: Histogram,
    /// From admission by the quota to the request leaving (credentials, a busy process).
    pub send_delay_seconds: Histogram,
    pub quota_rejected: Counter,
    pub quota_remaining: Gauge,
    pub attempts: Counter,
    pub retries: Counter,
    pub retries_refused: Counter,
    pub auth_ok: Counter,
    pub auth_rejected: Counter,
    pub circuit_state: Gauge,
    /// hit, miss, revalidated, coalesced, stale.
    cache: [Counter; 5],
    /// The per-minute history behind the dashboard and alerts.
    pub history: Arc<Series>,
}

impl Metrics {
    pub fn new(registry: &history::Registry, connector: &str) -> Self {
        let c = connector.to_owned();
        let class = |class: &'static str| metrics::counter!("junction_connector_calls_total", "connector" => c.clone(), "class" => class);
        let cache = |result: &'static str| metrics::counter!("junction_connector_cache_total", "connector" => c.clone(), "result" => result);
        let auth = |result: &'static str| metrics::counter!("junction_connector_auth_total", "connector" => c.clone(), "result" => result);
        Self {
            calls: [
                class("2xx"),
                class("3xx"),
                class("4xx"),
                class("5xx"),
                class("error"),
            ],
            call_seconds: metrics::histogram!("junction_connector_call_seconds", "connector" => c.clone()),
            upstream_seconds: metrics::histogram!("junction_connector_upstream_seconds", "connector" => c.clone()),
            quota_wait_seconds: metrics::histogram!("junction_connector_quota_wait_seconds", "connector" => c.clone()),
            send_delay_seconds: metrics::histogram!("junction_connector_send_delay_seconds", "connector" => c.clone()),
            quota_rejected: metrics::counter!("junction_connector_quota_rejected_total", "connector" => c.clone()),
            quota_remaining: metrics::gauge!("junction_connector_quota_remaining", "connector" => c.clone()),
            attempts: metrics::counter!("junction_connector_attempts_total", "connector" => c.clone()),
            retries: metrics::counter!("junction_connector_retries_total", "connector" => c.clone()),
            retries_refused: metrics::counter!("junction_connector_retries_refused_total", "connector" => c.clone()),
            auth_ok: auth("ok"),
            auth_rejected: auth("rejected"),
            circuit_state: metrics::gauge!("junction_connector_circuit_state", "connector" => c.clone()),
            cache: [
                cache("hit"),
                cache("miss"),
                cache("revalidated"),
                cache("coalesced"),
                cache("stale"),
            ],
            history: registry.series(Kind::Connector, connector),
        }
    }

    /// Counts a call by its status (`None`: no answer).
    pub fn call(&self, status: Option<u16>) {
        let i = match status {
            Some(200..=299) => 0,
            Some(300..=399) => 1,
            Some(400..=499) => 2,
            Some(_) => 3,
            None => 4,
        };
        self.calls[i].increment(1);
        self.history.add(h::CALLS, 1);
        if matches!(status, None | Some(429) | Some(500..)) {
            self.history.add(h::ERRORS, 1);
        }
    }

    pub fn auth(&self, ok: bool) {
        if ok {
            self.auth_ok.increment(1);
            self.history.add(h::AUTH_OK, 1);
        } else {
            self.auth_rejected.increment(1);
            self.history.add(h::AUTH_FAILED, 1);
        }
    }

    /// Counts a cache lookup's result (a bypass is not a lookup).
    pub fn cache(&self, result: crate::cache::Outcome) {
        use crate::cache::Outcome::*;
        let i = match result {
            Hit => 0,
            Miss => 1,
            Revalidated => 2,
            Coalesced => 3,
            Stale => 4,
            Bypass => return,
        };
        self.cache[i].increment(1);
    }
}

/// An operation's metrics, registered when its connector starts (labels from the config only).
pub struct OperationMetrics {
    /// Calls by outcome: ok (2xx), refused (4xx), failed (anything else).
    calls: [Counter; 3],
    seconds: Histogram,
}

impl OperationMetrics {
    /// One set per operation of the connector.
    pub fn for_connector(
        cfg: &junction_config::Connector,
    ) -> std::collections::HashMap<String, Self> {
        cfg.operations
            .keys()
            .map(|op| {
                let c = &cfg.name;
                let outcome = |outcome: &'static str| metrics::counter!("junction_operation_calls_total", "connector" => c.clone(), "operation" => op.clone(), "outcome" => outcome);
                let m = Self {
                    calls: [outcome("ok"), outcome("refused"), outcome("failed")],
                    seconds: metrics::histogram!("junction_operation_seconds", "connector" => c.clone(), "operation" => op.clone()),
                };
                (op.clone(), m)
            })
            .collect()
    }

    /// Counts one call by the status it was answered with, and its latency.
    pub fn call(&self, status: u16, seconds: f64) {
        let i = match status {
            200..=299 => 0,
            400..=499 => 1,
            _ => 2,
        };
        self.calls[i].increment(1);
        self.seconds.record(seconds);
    }
}
