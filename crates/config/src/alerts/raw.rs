//! `alerts:` as written.

use std::collections::BTreeMap;

use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

use crate::alerts::resolved::{Severity, Signal};
use crate::units::HumanDuration;

/// Alert rules and where their notifications go. Without this section the built-in rules run and
/// notify the log.
#[derive(Debug, Default, Deserialize, Serialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct RawAlerts {
    /// How often the rules are evaluated. Default 15s.
    #[serde(default)]
    pub evaluate_every: Option<HumanDuration>,
    /// Whether the built-in rules run (a rule of the same name replaces one). Default true.
    #[serde(default)]
    pub defaults: Option<bool>,
    /// Rules by name.
    #[serde(default)]
    pub rules: BTreeMap<String, RawAlertRule>,
    /// Where firing and resolved alerts are sent, besides the log.
    #[serde(default)]
    pub sinks: BTreeMap<String, RawSink>,
}

/// One rule: fires for each subject whose signal stays above a threshold.
#[derive(Debug, Deserialize, Serialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct RawAlertRule {
    /// What is measured. Default: the built-in rule of the same name's.
    #[serde(default)]
    pub signal: Option<Signal>,
    /// Connectors, sources or destinations the rule watches (`*` ends a prefix). Default all.
    #[serde(default)]
    pub subjects: Vec<String>,
    /// The threshold: the rule fires when the signal is above it.
    #[serde(default)]
    pub above: Option<f64>,
    /// The window rates, counts and latencies are measured over.
    #[serde(default)]
    pub over: Option<HumanDuration>,
    /// How long the condition must hold before the alert fires. Default 0s.
    #[serde(default, rename = "for")]
    pub for_: Option<HumanDuration>,
    /// How long the condition must be clear before the alert resolves. Default 2m.
    #[serde(default)]
    pub resolve_after: Option<HumanDuration>,
    /// Rates and latencies are judged only with at least this many calls in the window.
    /// Default 20.
    #[serde(default)]
    pub min_calls: Option<u64>,
    #[serde(default)]
    pub severity: Option<Severity>,
    /// `false` turns the rule (e.g. a built-in one) off.
    #[serde(default)]
    pub enabled: Option<bool>,
}

/// Where notifications go.
#[derive(Debug, Deserialize, Serialize, JsonSchema)]
#[serde(tag = "kind", rename_all = "snake_case", deny_unknown_fields)]
pub enum RawSink {
    /// POSTs each change as JSON.
    Webhook {
        url: String,
        #[serde(default)]
        headers: BTreeMap<String, String>,
    },
    /// POSTs `{"text": …}` to a Slack-compatible incoming webhook.
    Slack { url: String },
    /// Logs each change (the log always gets them; this names it explicitly).
    Log {},
}
