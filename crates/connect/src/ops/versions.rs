//! Operation calls on a connector with several API versions: the rollout picks the version of
//! each call (sticky by the entity's key or the caller), the call is counted for the rollback,
//! and under `shadow` the candidate version answers the same read in the background, its
//! mapped answer compared with the stable one's (differences are drift records).

use std::sync::Arc;

use axum::body::Body;
use axum::response::Response;
use http::HeaderValue;
use junction_config::{ApiVersion, Operation, Sticky};
use junction_resilience::rollout::Plan;
use serde_json::{Map, Value};

use crate::runtime::Runtime;

/// The version one call goes to.
pub(super) struct Chosen {
    pub rollout: Arc<junction_server::rollouts::Tracked>,
    pub plan: Plan,
    pub version: ApiVersion,
    /// The operation as that version has it.
    pub op: Operation,
}

/// Most bytes of an answer read back to compare it under `shadow`.
const SHADOW_LIMIT: usize = 4 << 20;

/// The sticky key of a call: the entity's key parameter when the input has it, else the caller.
fn sticky_key(
    sticky: Sticky,
    key_field: &str,
    input: &Map<String, Value>,
    caller: &str,
) -> Vec<u8> {
    match (sticky, input.get(key_field)) {
        (Sticky::Key, Some(Value::String(s))) => s.as_bytes().to_vec(),
        (Sticky::Key, Some(v @ (Value::Number(_) | Value::Bool(_)))) => v.to_string().into_bytes(),
        _ => caller.as_bytes().to_vec(),
    }
}

/// The version `operation` is called on, for a connector with `versions:`.
pub(super) fn choose(
    rt: &Runtime,
    operation: &str,
    input: &Map<String, Value>,
    caller: &str,
) -> Option<Chosen> {
    let versions = rt.cfg.versions.as_ref()?;
    let rollout = rt.rollout.clone()?;
    let key = sticky_key(
        versions.rollout.sticky,
        &versions.rollout.key_field,
        input,
        caller,
    );
    let plan = rollout.plan(&key);
    let version = versions.list.get(rollout.arm_name(plan.serve))?.clone();
    let op = version.operations.get(operation)?.clone();
    Some(Chosen {
        rollout,
        plan,
        version,
        op,
    })
}

/// The candidate version of a shadowed call.
pub(super) fn candidate(rt: &Runtime, operation: &str) -> Option<(ApiVersion, Operation)> {
    let v = rt.cfg.versions.as_ref()?.candidate()?.clone();
    let op = v.operations.get(operation)?.clone();
    Some((v, op))
}

/// Adds the version's header pin to a request's headers.
pub(super) fn pin(version: &ApiVersion, headers: &mut http::HeaderMap) {
    if let Some((name, value)) = &version.header {
        headers.insert(name.clone(), value.clone());
    }
}

/// Marks the answer with the version that served it.
pub(super) fn mark(res: &mut Response, version: &str) {
    if let Ok(v) = HeaderValue::from_str(version) {
        res.headers_mut().insert("x-junction-version", v);
    }
}

/// Reads an answer's JSON and gives back an equal answer: the stable side of a shadow.
pub(super) async fn read_back(res: Response) -> (Response, Option<Value>) {
    let (parts, body) = res.into_parts();
    match axum::body::to_bytes(body, SHADOW_LIMIT).await {
        Ok(bytes) => {
            let json = serde_json::from_slice(&bytes).ok();
            (Response::from_parts(parts, Body::from(bytes)), json)
        }
        Err(_) => (Response::from_parts(parts, Body::empty()), None),
    }
}

/// What a page answer compares by: its records (a single answer is compared whole).
pub(super) fn comparable(v: Value, paginated: bool) -> Value {
    match v {
        Value::Object(mut m) if paginated => m.remove("data").unwrap_or(Value::Null),
        other => other,
    }
}
