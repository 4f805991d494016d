//! Every rollout of the running config in one place — connectors moving between API versions,
//! routes moving between mappings: their state survives a reload that leaves them as they were,
//! a rollback is logged, written to the audit log and seen by the `rollout_rolled_back` alert,
//! and operators list and resume them at `/api/v1/rollouts`.

use std::collections::BTreeMap;
use std::sync::{Arc, Mutex};

use axum::extract::Path;
use axum::routing::{get, post};
use axum::{Json, Router};
use junction_core::{Code, Error};
use junction_resilience::rollout::{Arm, RolledBack, Rollout};
use junction_store::{NewAudit, Store};
use serde::Serialize;

use crate::errors::ErrorBody;
use crate::{ApiError, AppState};

/// The rollouts of this process, by name (`connector:crm`, `route:customer-updates`).
pub struct Board {
    store: Arc<dyn Store>,
    map: Mutex<BTreeMap<String, Arc<Tracked>>>,
}

/// A rollout with its metric handles (registered once, not per call) and the store its
/// rollback is audited in. Reads as the [`Rollout`] it holds.
pub struct Tracked {
    rollout: Rollout,
    store: Arc<dyn Store>,
    /// Stable ok, stable failed, candidate ok, candidate failed.
    calls: [metrics::Counter; 4],
    rollbacks: metrics::Counter,
}

impl std::ops::Deref for Tracked {
    type Target = Rollout;

    fn deref(&self) -> &Rollout {
        &self.rollout
    }
}

impl Tracked {
    fn new(rollout: Rollout, store: Arc<dyn Store>) -> Self {
        // Rollout names come from the config: a closed set.
        let name = rollout.name().to_owned();
        let calls = [
            ("stable", "ok"),
            ("stable", "failed"),
            ("candidate", "ok"),
            ("candidate", "failed"),
        ]
        .map(|(arm, outcome)| {
            metrics::counter!("junction_rollout_calls_total", "rollout" => name.clone(), "arm" => arm, "outcome" => outcome)
        });
        let rollbacks = metrics::counter!("junction_rollout_rollbacks_total", "rollout" => name);
        Self {
            rollout,
            store,
            calls,
            rollbacks,
        }
    }

    /// Counts one outcome of `arm`; a rollback it causes is logged and audited (in the
    /// background: the call that tripped it does not wait for the store).
    pub fn record(&self, arm: Arm, ok: bool) {
        let i = match arm {
            Arm::Stable => 0,
            Arm::Candidate => 2,
        } + usize::from(!ok);
        self.calls[i].increment(1);
        if let Some(back) = self.rollout.record(arm, ok, tokio::time::Instant::now()) {
            self.roll_back(back);
        }
    }

    fn roll_back(&self, back: RolledBack) {
        let r = &self.rollout;
        tracing::error!(rollout = r.name(), why = %back.why, "rollout rolled back: every call returns to the stable arm");
        self.rollbacks.increment(1);
        let entry = NewAudit {
            at: back.at_ms,
            actor: "hub".into(),
            action: "rollout.rollback".into(),
            target: r.name().to_owned(),
            origin: "local".into(),
            detail: serde_json::json!({
                "why": back.why,
                "stable": r.arm_name(Arm::Stable),
                "candidate": r.arm_name(Arm::Candidate),
                "mode": r.mode().as_str(),
            })
            .to_string(),
        };
        let store = self.store.clone();
        tokio::spawn(async move {
            if let Err(e) = store.append_audit(entry).await {
                tracing::warn!(error = %e, "the rollback could not be written to the audit log");
            }
        });
    }
}

impl Board {
    pub fn new(store: Arc<dyn Store>) -> Self {
        Self {
            store,
            map: Mutex::default(),
        }
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, BTreeMap<String, Arc<Tracked>>> {
        self.map.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// The rollout as the config sets it up now: the running one when it is set up alike (its
    /// counts and a rollback kept), else `fresh`.
    pub fn adopt(&self, fresh: Rollout) -> Arc<Tracked> {
        let mut map = self.lock();
        if let Some(running) = map.get(fresh.name()) {
            if running.same_setup(&fresh) {
                return running.clone();
            }
        }
        let fresh = Arc::new(Tracked::new(fresh, self.store.clone()));
        map.insert(fresh.name().to_owned(), fresh.clone());
        fresh
    }

    /// Forgets rollouts whose name `keep` refuses (a reload removed them). Only names with
    /// `prefix` are considered: connectors and routes are reloaded by different owners.
    pub fn retain(&self, prefix: &str, keep: impl Fn(&str) -> bool) {
        self.lock()
            .retain(|name, _| !name.starts_with(prefix) || keep(name));
    }

    pub fn all(&self) -> Vec<Arc<Tracked>> {
        self.lock().values().cloned().collect()
    }

    pub fn get(&self, name: &str) -> Option<Arc<Tracked>> {
        self.lock().get(name).cloned()
    }

    /// The rollouts rolled back now: `(name, why)`.
    pub fn rolled_back(&self) -> Vec<(String, String)> {
        self.all()
            .iter()
            .filter_map(|r| r.rolled_back().map(|b| (r.name().to_owned(), b.why)))
            .collect()
    }
}

/// One rollout, as the admin API shows it.
#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct RolloutItem {
    /// `connector:NAME` or `route:NAME`.
    pub name: String,
    pub stable: String,
    pub candidate: String,
    /// `pin`, `shadow`, `canary` or `switch`.
    pub mode: String,
    /// The canary's share of keys on the candidate (0–100).
    pub percent: Option<f64>,
    /// Calls and failures of each arm over the rollback window.
    pub stable_calls: u64,
    pub stable_failed: u64,
    pub candidate_calls: u64,
    pub candidate_failed: u64,
    /// Set while rolled back: every call goes to the stable arm.
    pub rolled_back_at_ms: Option<i64>,
    pub rolled_back_why: Option<String>,
}

#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct RolloutList {
    pub rollouts: Vec<RolloutItem>,
}

impl From<&Rollout> for RolloutItem {
    fn from(r: &Rollout) -> Self {
        let s = r.status();
        RolloutItem {
            name: s.name,
            stable: s.stable,
            candidate: s.candidate,
            mode: s.mode.as_str().to_owned(),
            percent: match s.mode {
                junction_resilience::rollout::Mode::Canary(bp) => Some(f64::from(bp) / 100.0),
                _ => None,
            },
            stable_calls: s.stable_counts.0,
            stable_failed: s.stable_counts.1,
            candidate_calls: s.candidate_counts.0,
            candidate_failed: s.candidate_counts.1,
            rolled_back_at_ms: s.rolled_back.as_ref().map(|b| b.at_ms),
            rolled_back_why: s.rolled_back.map(|b| b.why),
        }
    }
}

/// The OpenAPI paths of these routes.
#[derive(utoipa::OpenApi)]
#[openapi(paths(list, resume), components(schemas(RolloutItem, RolloutList)))]
pub struct ApiDoc;

/// `/api/v1/rollouts`: to be mounted behind the admin guard.
pub fn routes() -> Router<AppState> {
    Router::new()
        .route("/api/v1/rollouts", get(list))
        .route("/api/v1/rollouts/{name}/resume", post(resume))
}

#[utoipa::path(get, path = "/api/v1/rollouts", tag = "admin", summary = "Rollouts between API versions and mappings, with each arm's outcomes", responses((status = 200, description = "OK", body = RolloutList), (status = 401, description = "No or unknown token", body = ErrorBody), (status = 403, description = "The token's role is too low", body = ErrorBody)), security(("bearer" = [])))]
async fn list(axum::extract::State(state): axum::extract::State<AppState>) -> Json<RolloutList> {
    Json(RolloutList {
        rollouts: state
            .rollouts
            .all()
            .iter()
            .map(|r| RolloutItem::from(&***r))
            .collect(),
    })
}

#[utoipa::path(post, path = "/api/v1/rollouts/{name}/resume", tag = "admin", summary = "Put a rolled-back rollout back in service (its counts cleared)", params(("name" = String, Path, description = "`connector:NAME` or `route:NAME`")), responses((status = 200, description = "Resumed", body = RolloutItem), (status = 404, description = "No such rollout", body = ErrorBody), (status = 409, description = "It is not rolled back", body = ErrorBody), (status = 401, description = "No or unknown token", body = ErrorBody), (status = 403, description = "The token's role is too low", body = ErrorBody)), security(("bearer" = [])))]
async fn resume(
    axum::extract::State(state): axum::extract::State<AppState>,
    Path(name): Path<String>,
) -> Result<Json<RolloutItem>, ApiError> {
    let Some(r) = state.rollouts.get(&name) else {
        let names: Vec<String> = state
            .rollouts
            .all()
            .iter()
            .map(|r| r.name().to_owned())
            .collect();
        return Err(ApiError(
            Error::downstream(Code::NotFound, format!("no rollout `{name}`")).with_hint(
                if names.is_empty() {
                    "the config declares no rollout".to_owned()
                } else {
                    format!("rollouts: {}", names.join(", "))
                },
            ),
        ));
    };
    if !r.resume() {
        return Err(ApiError(
            Error::downstream(
                Code::Conflict,
                format!("rollout `{name}` is not rolled back"),
            )
            .with_hint("it is in service; change its mode in the config to move it"),
        ));
    }
    Ok(Json(RolloutItem::from(&**r)))
}
