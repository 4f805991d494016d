//! Before a delivery is sent: the route's mapping turns the event's body into the destination's
//! shape, and the destination's model checks it. Either failing quarantines the delivery (kept
//! with the errors, replayable once the mapping or model is fixed): a half-valid body is never
//! sent, and nothing is lost. Both run on the mapping threads, off the async runtime.

use std::sync::Arc;

use junction_config::{BodyFormat, Mapping, Model};
use junction_transform::describe;

/// What a route does to bodies bound for one destination.
#[derive(Debug, Clone, Default)]
pub(crate) struct Shape {
    /// The source's body format: anything but JSON is decoded to JSON first.
    pub format: BodyFormat,
    pub mapping: Option<Mapping>,
    pub model: Option<Arc<Model>>,
    /// The route's move from `mapping` to a candidate mapping.
    pub rollout: Option<Arc<MappingRollout>>,
}

/// A route's rollout between its mapping and a candidate: which one maps each event (sticky by
/// its key), each one's outcomes counted for the rollback, differences found by shadowing
/// recorded as drift.
pub(crate) struct MappingRollout {
    pub candidate: Mapping,
    pub rollout: Arc<junction_server::rollouts::Tracked>,
    pub route: String,
    pub drift: Arc<junction_transform::drift::Tracker>,
}

impl std::fmt::Debug for MappingRollout {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("MappingRollout")
            .field("rollout", &self.rollout.name())
            .field("candidate", &self.candidate.name)
            .finish()
    }
}

/// Why a body was not sent.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Quarantine {
    /// `input`, `program`, `no_output`, `output` (the mapping), `validation` (the model), or
    /// `crashed` (handling it stopped the process twice).
    pub kind: &'static str,
    pub reason: String,
}

impl Shape {
    pub fn is_identity(&self) -> bool {
        self.format == BodyFormat::Json && self.mapping.is_none() && self.model.is_none()
    }

    /// The body to send for the event keyed `key`, by the mapping its rollout picks (the
    /// route's own without one); `None` when it is the event's body unchanged.
    pub async fn apply_keyed(
        &self,
        payload: &[u8],
        key: &[u8],
    ) -> Result<Option<Vec<u8>>, Quarantine> {
        use junction_resilience::rollout::Arm;
        let Some(r) = &self.rollout else {
            return self.apply(payload).await;
        };
        let plan = r.rollout.plan(key);
        let stable = Shape {
            rollout: None,
            ..self.clone()
        };
        let candidate = Shape {
            mapping: Some(r.candidate.clone()),
            ..stable.clone()
        };
        let served = match plan.serve {
            Arm::Stable => stable.apply(payload).await,
            Arm::Candidate => candidate.apply(payload).await,
        };
        r.rollout.record(plan.serve, served.is_ok());
        if plan.shadow {
            let shadow = candidate.apply(payload).await;
            r.rollout.record(Arm::Candidate, shadow.is_ok());
            if let (Ok(a), Ok(b)) = (&served, &shadow) {
                let json = |o: &Option<Vec<u8>>| {
                    serde_json::from_slice::<serde_json::Value>(o.as_deref().unwrap_or(payload))
                        .ok()
                };
                if let (Some(a), Some(b)) = (json(a), json(b)) {
                    let drifts = junction_transform::drift::differences(
                        &a,
                        &b,
                        r.rollout.arm_name(Arm::Stable),
                        &r.candidate.name,
                    );
                    let subject = format!("{}@{}", r.route, r.candidate.name);
                    r.drift
                        .record("route", &subject, &drifts, junction_core::time::now_ms());
                }
            }
        }
        served
    }

    /// The body to send: `None` when it is the event's body unchanged.
    pub async fn apply(&self, payload: &[u8]) -> Result<Option<Vec<u8>>, Quarantine> {
        if self.is_identity() {
            return Ok(None);
        }
        let me = self.clone();
        let payload = payload.to_vec();
        junction_transform::pool::run(move || me.apply_here(&payload))
            .await
            .unwrap_or_else(|e| {
                Err(Quarantine {
                    kind: "program",
                    reason: e,
                })
            })
    }

    fn apply_here(&self, payload: &[u8]) -> Result<Option<Vec<u8>>, Quarantine> {
        let decoded = match self.format.to_json(payload) {
            None => None,
            Some(Ok(json)) => Some(json),
            Some(Err(e)) => {
                return Err(Quarantine {
                    kind: "input",
                    reason: format!("the body cannot be decoded: {e}"),
                })
            }
        };
        let payload = decoded.as_deref().unwrap_or(payload);
        let mapped = match &self.mapping {
            None => decoded.clone(),
            Some(m) => {
                let mut out = Vec::with_capacity(payload.len());
                m.map_json(payload, &mut out).map_err(|e| Quarantine {
                    kind: e.kind(),
                    reason: format!("mapping `{}`: {e}", m.name),
                })?;
                Some(out)
            }
        };
        if let Some(model) = &self.model {
            let body = mapped.as_deref().unwrap_or(payload);
            model.validate_json(body).map_err(|errs| Quarantine {
                kind: "validation",
                reason: format!("the body breaks {}: {}", model.id, describe(&errs)),
            })?;
        }
        Ok(mapped)
    }
}
