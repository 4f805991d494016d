//! Sending alert changes: every change goes to the log; each configured sink gets a POST
//! (JSON for a webhook, `{"text"}` for Slack-compatible ones), retried with backoff, never
//! blocking the next evaluation.

use std::time::Duration;

use junction_config::{Sink, SinkKind};
use serde_json::{json, Value};

use crate::evaluate::Change;

/// Attempts per sink and notification.
pub const ATTEMPTS: u32 = 4;

/// What a notification says.
#[derive(Debug, Clone, PartialEq)]
pub struct Notice {
    pub change: Change,
    pub at_ms: i64,
    /// How many times this alert has fired (1 for the first time).
    pub fired_count: i64,
}

impl Notice {
    pub fn state(&self) -> &'static str {
        if self.change.fire {
            "firing"
        } else {
            "resolved"
        }
    }

    /// The generic webhook body.
    pub fn json(&self) -> Value {
        let c = &self.change;
        json!({
            "alert": format!("{}/{}", c.rule, c.subject),
            "rule": c.rule, "subject": c.subject, "severity": c.severity, "state": self.state(),
            "value": c.value, "message": c.message, "at_ms": self.at_ms,
            "fired_count": self.fired_count,
        })
    }

    /// The Slack-compatible body.
    pub fn slack(&self) -> Value {
        let c = &self.change;
        let mark = match (c.fire, c.severity) {
            (false, _) => ":white_check_mark: RESOLVED",
            (true, "critical") => ":rotating_light: CRITICAL",
            (true, "warning") => ":warning: WARNING",
            (true, _) => ":information_source: INFO",
        };
        json!({ "text": format!("{mark} [{}] {}", c.rule, c.message) })
    }
}

pub struct Notifier {
    sinks: Vec<Sink>,
    http: reqwest::Client,
}

impl Notifier {
    pub fn new(sinks: Vec<Sink>) -> Self {
        let http = reqwest::Client::builder()
            .timeout(Duration::from_secs(10))
            .redirect(reqwest::redirect::Policy::none())
            .build()
            .unwrap_or_default();
        Self { sinks, http }
    }

    /// Logs `n` and sends it to every sink; returns once every sink succeeded or gave up.
    pub async fn send(&self, n: &Notice) {
        let c = &n.change;
        if c.fire {
            tracing::warn!(alert = %format!("{}/{}", c.rule, c.subject), severity = c.severity, value = c.value, "alert firing: {}", c.message);
        } else {
            tracing::info!(alert = %format!("{}/{}", c.rule, c.subject), "alert resolved: {}", c.message);
        }
        futures_util::future::join_all(self.sinks.iter().map(|s| self.send_to(s, n))).await;
    }

    async fn send_to(&self, sink: &Sink, n: &Notice) {
        let (url, body, headers) = match &sink.kind {
            SinkKind::Log => return,
            SinkKind::Webhook { url, headers } => (url, n.json(), Some(headers)),
            SinkKind::Slack { url } => (url, n.slack(), None),
        };
        let mut delay = Duration::from_millis(500);
        for attempt in 1..=ATTEMPTS {
            let mut req = self.http.post(url.clone()).json(&body);
            for (k, v) in headers.into_iter().flatten() {
                req = req.header(k, v);
            }
            let outcome = match req.send().await {
                Ok(r) if r.status().is_success() => Ok(()),
                Ok(r) => Err(format!("answered {}", r.status().as_u16())),
                Err(e) => Err(e.without_url().to_string()),
            };
            match outcome {
                Ok(()) => {
                    metrics::counter!("junction_alert_notifications_total", "sink" => sink.name.clone(), "result" => "sent").increment(1);
                    return;
                }
                Err(why) if attempt == ATTEMPTS => {
                    metrics::counter!("junction_alert_notifications_total", "sink" => sink.name.clone(), "result" => "failed").increment(1);
                    tracing::error!(sink = %sink.name, %why, "cannot send an alert notification; giving up");
                }
                Err(why) => {
                    tracing::warn!(sink = %sink.name, %why, attempt, "alert notification failed; retrying");
                    tokio::time::sleep(delay).await;
                    delay *= 2;
                }
            }
        }
    }
}
