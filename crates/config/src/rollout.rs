//! `rollout:` — moving a connector to its next API version (under `connectors:`), or a route to
//! its next mapping (under `routes:`), in steps: `pin`, `shadow`, `canary`, `switch`, with an
//! automatic rollback when the candidate does worse than the stable arm.

use std::time::Duration;

use junction_resilience::rollout::{Mode, RollbackPolicy, WHOLE};
use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

use crate::error::ConfigError;
use crate::units::{HumanDuration, Ratio};
use crate::yaml::{push, Document};

/// A move from a stable arm to a candidate.
#[derive(Debug, Deserialize, Serialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct RawRollout {
    /// Connectors: the version calls use today (a name under `versions:`). Routes: leave it
    /// out; the route's `map` is the stable arm.
    #[serde(default)]
    pub stable: Option<String>,
    /// The version (connectors) or mapping (routes) being moved to.
    pub candidate: String,
    /// `pin`: every call on the stable arm. `shadow`: served by the stable arm, the candidate
    /// run beside it (reads only) and its answer compared; differences are recorded as drift.
    /// `canary`: `percent` of keys on the candidate. `switch`: every call on the candidate.
    #[serde(default)]
    pub mode: RawMode,
    /// `canary`: the share of keys on the candidate (`10%`).
    #[serde(default)]
    pub percent: Option<Ratio>,
    /// `canary`: what keeps calls on one arm. `key` (the default): the entity — a delivery's
    /// event key, or an operation call's `key_field` parameter; `caller`: the API token.
    #[serde(default)]
    pub sticky: Sticky,
    /// The operation parameter holding the entity key (`sticky: key`). Default `id`; a call
    /// without it sticks by its caller.
    #[serde(default)]
    pub key_field: Option<String>,
    /// When the candidate is taken out of service by itself.
    #[serde(default)]
    pub rollback: RawRollback,
}

#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Deserialize, Serialize, JsonSchema)]
#[serde(rename_all = "snake_case")]
pub enum RawMode {
    #[default]
    Pin,
    Shadow,
    Canary,
    Switch,
}

/// What keeps a canary's calls on one arm.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Deserialize, Serialize, JsonSchema)]
#[serde(rename_all = "snake_case")]
pub enum Sticky {
    #[default]
    Key,
    Caller,
}

/// The automatic rollback: when the candidate's failure rate over `window` exceeds the stable
/// arm's by more than `margin` (after `min_calls` candidate calls), every call returns to the
/// stable arm, the `rollout_rolled_back` alert fires and the audit log says why.
#[derive(Debug, Default, Deserialize, Serialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct RawRollback {
    /// How many points worse the candidate may be. Default 5%.
    #[serde(default)]
    pub margin: Option<Ratio>,
    /// The window both rates are measured over (1s to 1h). Default 1m.
    #[serde(default)]
    pub window: Option<HumanDuration>,
    /// Candidate calls in the window before it is judged. Default 20.
    #[serde(default)]
    pub min_calls: Option<u32>,
}

/// A resolved rollout.
#[derive(Debug, Clone, PartialEq)]
pub struct Rollout {
    pub stable: String,
    pub candidate: String,
    pub mode: Mode,
    pub sticky: Sticky,
    pub key_field: String,
    pub rollback: RollbackPolicy,
}

/// Where the rollout is written: what its arms are.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Arms {
    /// API versions of a connector: `stable` is required.
    Versions,
    /// Mappings of a route: `stable` is the route's `map`.
    Mappings,
}

/// Checks and resolves a `rollout:`; the arms' names are checked by the caller, which knows
/// them. `stable` is the route's `map` for [`Arms::Mappings`].
pub(crate) fn rollout(
    doc: &Document,
    ptr: &str,
    raw: &RawRollout,
    arms: Arms,
    route_map: Option<&str>,
    errs: &mut Vec<ConfigError>,
) -> Option<Rollout> {
    let before = errs.len();
    let stable = match (arms, &raw.stable, route_map) {
        (Arms::Versions, Some(s), _) => s.clone(),
        (Arms::Versions, None, _) => {
            errs.push(doc.error_at(
                ptr,
                "a connector's rollout names its `stable` version",
                Some("e.g. rollout: { stable: v1, candidate: v2, mode: shadow }".into()),
            ));
            String::new()
        }
        (Arms::Mappings, Some(_), _) => {
            errs.push(doc.error_at(
                &push(ptr, "stable"),
                "a route's stable mapping is its `map`",
                Some("remove `stable`".into()),
            ));
            String::new()
        }
        (Arms::Mappings, None, Some(m)) => m.to_owned(),
        (Arms::Mappings, None, None) => {
            errs.push(doc.error_at(
                ptr,
                "a mapping rollout moves a route from its `map` to the candidate, but the route has no `map`",
                Some("set the route's `map` (the stable mapping)".into()),
            ));
            String::new()
        }
    };
    if raw.candidate == stable {
        errs.push(doc.error_at(
            &push(ptr, "candidate"),
            format!("the candidate is the stable arm `{stable}`"),
            Some("name the version or mapping being moved to".into()),
        ));
    }
    let mode = match (raw.mode, raw.percent) {
        (RawMode::Canary, Some(p)) => Mode::Canary((p.0 * f64::from(WHOLE)).round() as u16),
        (RawMode::Canary, None) => {
            errs.push(doc.error_at(
                ptr,
                "a canary needs its `percent`",
                Some("e.g. percent: 10%".into()),
            ));
            Mode::Pin
        }
        (other, Some(_)) => {
            errs.push(doc.error_at(
                &push(ptr, "percent"),
                format!(
                    "`percent` applies to `mode: canary`, not `{}`",
                    mode_name(other)
                ),
                Some("remove it, or set mode: canary".into()),
            ));
            Mode::Pin
        }
        (RawMode::Pin, None) => Mode::Pin,
        (RawMode::Shadow, None) => Mode::Shadow,
        (RawMode::Switch, None) => Mode::Switch,
    };
    if arms == Arms::Mappings && raw.sticky == Sticky::Caller {
        errs.push(doc.error_at(
            &push(ptr, "sticky"),
            "deliveries have no caller: a route's canary sticks by the event's key",
            Some("remove `sticky`".into()),
        ));
    }
    if arms == Arms::Mappings && raw.key_field.is_some() {
        errs.push(doc.error_at(
            &push(ptr, "key_field"),
            "a route's canary sticks by the event's key (the source's `event.key`)",
            Some("remove `key_field`".into()),
        ));
    }
    let key_field = raw.key_field.clone().unwrap_or_else(|| "id".into());
    if key_field.is_empty() || key_field.len() > 64 {
        errs.push(doc.error_at(
            &push(ptr, "key_field"),
            "`key_field` names a parameter (1 to 64 characters)",
            None,
        ));
    }
    let d = RollbackPolicy::default();
    let rb = &raw.rollback;
    let window = rb.window.map_or(d.window, |w| w.0);
    if !(Duration::from_secs(1)..=Duration::from_secs(3600)).contains(&window) {
        errs.push(doc.error_at(
            &push(&push(ptr, "rollback"), "window"),
            "the rollback window is between 1s and 1h",
            Some("the rollback happens within one window of the candidate going bad".into()),
        ));
    }
    let min_calls = rb.min_calls.unwrap_or(d.min_calls);
    if !(1..=1_000_000).contains(&min_calls) {
        errs.push(doc.error_at(
            &push(&push(ptr, "rollback"), "min_calls"),
            "min_calls is between 1 and 1000000",
            None,
        ));
    }
    if errs.len() > before {
        return None;
    }
    Some(Rollout {
        stable,
        candidate: raw.candidate.clone(),
        mode,
        sticky: raw.sticky,
        key_field,
        rollback: RollbackPolicy {
            margin: rb.margin.map_or(d.margin, |m| m.0),
            window,
            min_calls,
        },
    })
}

fn mode_name(m: RawMode) -> &'static str {
    match m {
        RawMode::Pin => "pin",
        RawMode::Shadow => "shadow",
        RawMode::Canary => "canary",
        RawMode::Switch => "switch",
    }
}
