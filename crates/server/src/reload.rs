//! The outcome of the last config reload, for the admin API, the dashboard and the alert that
//! fires while the file on disk is not what the hub runs.

use std::sync::Mutex;

/// What one reload did.
#[derive(Debug, Clone, serde::Serialize, serde::Deserialize, utoipa::ToSchema)]
pub struct ReloadOutcome {
    /// When it ran, Unix ms.
    pub at_ms: i64,
    /// What started it: `file` (a watched file changed), `signal` (SIGHUP), `api`.
    pub trigger: String,
    /// The new config runs (false: the running one was kept).
    pub applied: bool,
    /// Why it was refused, each a located config error or a start-up refusal.
    pub errors: Vec<String>,
    /// Changes that take effect only after a restart (the listener, the store, telemetry,
    /// delivery settings, a destination's concurrency or circuit policy).
    pub restart_needed: Vec<String>,
    /// What changed and runs now (sources, routes, mappings, models, alerts, destinations'
    /// settings, rebuilt connectors).
    pub changed: Vec<String>,
}

/// The last reload, if any.
#[derive(Debug, Default)]
pub struct ReloadStatus {
    last: Mutex<Option<ReloadOutcome>>,
}

impl ReloadStatus {
    pub fn record(&self, outcome: ReloadOutcome) {
        metrics::counter!(
            "junction_config_reloads_total",
            "outcome" => if outcome.applied { "applied" } else { "refused" }
        )
        .increment(1);
        metrics::gauge!("junction_config_reload_failed").set(if outcome.applied {
            0.0
        } else {
            1.0
        });
        *self.last.lock().unwrap_or_else(|p| p.into_inner()) = Some(outcome);
    }

    pub fn last(&self) -> Option<ReloadOutcome> {
        self.last.lock().unwrap_or_else(|p| p.into_inner()).clone()
    }

    /// The errors of the last reload while it was refused (the hub runs an older config than
    /// the file's).
    pub fn failing(&self) -> Option<ReloadOutcome> {
        self.last().filter(|o| !o.applied)
    }
}
