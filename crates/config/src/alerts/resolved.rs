//! Validated alert rules and sinks, with the built-in rules.

use std::collections::BTreeMap;
use std::time::Duration;

use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

/// What a rule measures, per subject.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Deserialize, Serialize, JsonSchema)]
#[serde(rename_all = "snake_case")]
pub enum Signal {
    /// A connector's failed calls (5xx, 429, no answer) / calls, over `over`.
    ConnectorErrorRate,
    /// A connector's 95th percentile call latency in milliseconds, over `over`.
    ConnectorLatencyP95,
    /// Calls the vendor refused with 401/403, over `over`.
    ConnectorAuthFailures,
    /// 1 while a connection needs re-authorisation (its token refresh keeps failing).
    ConnectionNeedsReauth,
    /// The largest share (0–1) of a connector's quota window in use.
    QuotaUse,
    /// Deliveries dead-lettered over `over`, per destination.
    DeadLetters,
    /// 1 while a destination is disabled.
    DestinationDisabled,
    /// Schema drift records seen over `over` (new, missing or retyped fields, contract breaks).
    SchemaDrift,
    /// `Deprecation` / `Sunset` headers seen over `over`.
    Deprecation,
    /// 1 while the last config reload was refused: the hub runs an older config than its file.
    ConfigReloadFailed,
    /// 1 while a rollout (API versions, mappings) is rolled back: its candidate did worse than
    /// the stable arm, and every call went back to the stable arm.
    RolloutRolledBack,
    /// A job's runs that failed in a row, newest first.
    JobFailing,
    /// How many of its intervals a job has gone without a run (paused jobs are not judged).
    JobNotRun,
    /// Changes a source's webhooks missed (missing or stale entities) that reconciliation runs
    /// finished over `over` found, per source.
    WebhooksMissed,
    /// 1 while a certificate in use (`server`: the one `server.tls` serves; `client_ca`: the
    /// authorities client certificates are checked against) expires within `over`, or has.
    CertificateExpiring,
}

impl Signal {
    pub fn as_str(self) -> &'static str {
        match self {
            Signal::ConnectorErrorRate => "connector_error_rate",
            Signal::ConnectorLatencyP95 => "connector_latency_p95",
            Signal::ConnectorAuthFailures => "connector_auth_failures",
            Signal::ConnectionNeedsReauth => "connection_needs_reauth",
            Signal::QuotaUse => "quota_use",
            Signal::DeadLetters => "dead_letters",
            Signal::DestinationDisabled => "destination_disabled",
            Signal::SchemaDrift => "schema_drift",
            Signal::Deprecation => "deprecation",
            Signal::ConfigReloadFailed => "config_reload_failed",
            Signal::RolloutRolledBack => "rollout_rolled_back",
            Signal::JobFailing => "job_failing",
            Signal::JobNotRun => "job_not_run",
            Signal::WebhooksMissed => "webhooks_missed",
            Signal::CertificateExpiring => "certificate_expiring",
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize, Serialize, JsonSchema)]
#[serde(rename_all = "snake_case")]
pub enum Severity {
    Info,
    Warning,
    Critical,
}

impl Severity {
    pub fn as_str(self) -> &'static str {
        match self {
            Severity::Info => "info",
            Severity::Warning => "warning",
            Severity::Critical => "critical",
        }
    }
}

#[derive(Debug, Clone, PartialEq)]
pub struct AlertRule {
    pub name: String,
    pub signal: Signal,
    /// Empty: every subject.
    pub subjects: Vec<String>,
    pub above: f64,
    pub over: Duration,
    pub for_: Duration,
    pub resolve_after: Duration,
    pub min_calls: u64,
    pub severity: Severity,
}

impl AlertRule {
    /// Whether the rule watches `subject` (exact, or a prefix ending in `*`).
    pub fn watches(&self, subject: &str) -> bool {
        self.subjects.is_empty()
            || self.subjects.iter().any(|p| match p.strip_suffix('*') {
                Some(prefix) => subject.starts_with(prefix),
                None => p == subject,
            })
    }
}

#[derive(Debug, Clone, PartialEq)]
pub enum SinkKind {
    Webhook {
        url: url::Url,
        headers: BTreeMap<String, String>,
    },
    Slack {
        url: url::Url,
    },
    Log,
}

#[derive(Debug, Clone, PartialEq)]
pub struct Sink {
    pub name: String,
    pub kind: SinkKind,
}

#[derive(Debug, Clone, PartialEq)]
pub struct Alerts {
    pub evaluate_every: Duration,
    pub rules: Vec<AlertRule>,
    pub sinks: Vec<Sink>,
}

impl Default for Alerts {
    fn default() -> Self {
        Self {
            evaluate_every: Duration::from_secs(15),
            rules: builtin_rules(),
            sinks: Vec::new(),
        }
    }
}

const MIN: u64 = 60;

/// The rules that run unless `alerts.defaults: false`, drawn from common practice.
pub fn builtin_rules() -> Vec<AlertRule> {
    let rule = |name: &str, signal, above, over_s: u64, for_s: u64, severity| AlertRule {
        name: name.into(),
        signal,
        subjects: Vec::new(),
        above,
        over: Duration::from_secs(over_s),
        for_: Duration::from_secs(for_s),
        resolve_after: Duration::from_secs(2 * MIN),
        min_calls: 20,
        severity,
    };
    use Severity::*;
    use Signal::*;
    vec![
        rule(
            "connector_error_rate",
            ConnectorErrorRate,
            0.05,
            5 * MIN,
            0,
            Warning,
        ),
        rule(
            "connector_latency_p95",
            ConnectorLatencyP95,
            3000.0,
            5 * MIN,
            0,
            Warning,
        ),
        rule(
            "connector_auth_failures",
            ConnectorAuthFailures,
            0.0,
            5 * MIN,
            0,
            Warning,
        ),
        rule(
            "connection_needs_reauth",
            ConnectionNeedsReauth,
            0.0,
            0,
            0,
            Critical,
        ),
        rule("quota_use", QuotaUse, 0.8, 0, MIN, Warning),
        rule("dead_letters", DeadLetters, 0.0, 10 * MIN, 0, Warning),
        rule(
            "destination_disabled",
            DestinationDisabled,
            0.0,
            0,
            0,
            Critical,
        ),
        rule("schema_drift", SchemaDrift, 0.0, 60 * MIN, 0, Warning),
        rule("deprecation", Deprecation, 0.0, 24 * 60 * MIN, 0, Info),
        rule(
            "config_reload_failed",
            ConfigReloadFailed,
            0.0,
            0,
            0,
            Warning,
        ),
        rule(
            "rollout_rolled_back",
            RolloutRolledBack,
            0.0,
            0,
            0,
            Critical,
        ),
        rule("job_failing", JobFailing, 2.0, 0, 0, Warning),
        rule("job_not_run", JobNotRun, 2.0, 0, 0, Warning),
        rule("webhooks_missed", WebhooksMissed, 0.0, 60 * MIN, 0, Warning),
        rule(
            "certificate_expiring",
            CertificateExpiring,
            0.0,
            30 * 24 * 60 * MIN,
            0,
            Warning,
        ),
    ]
}
