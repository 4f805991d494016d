//! Contract probes: each call of the probe made exactly as `/ops` makes it, so the answer is
//! checked against the operation's response model and the shape learned from earlier answers
//! (drift is recorded there). The run fails when any call fails, and its result names, for each
//! broken call, the operation, its mapping and model, and the schema errors.

use junction_config::Probe;
use serde_json::{json, Value};

use super::Ended;
use crate::dispatch::Operations;

pub(super) async fn run(
    ops: &dyn Operations,
    config: &junction_config::Config,
    p: &Probe,
) -> Ended {
    let mut calls = Vec::new();
    let mut broken = Vec::new();
    for call in &p.calls {
        let started = std::time::Instant::now();
        let (status, body) = ops
            .call(&p.connector, &call.operation, call.input.clone())
            .await;
        let ok = status < 400;
        let mut line = json!({
            "operation": call.operation,
            "status": status,
            "ok": ok,
            "ms": started.elapsed().as_millis() as u64,
        });
        if !ok {
            let error = body.get("error").cloned().unwrap_or(Value::Null);
            line["error"] = json!({
                "code": error.get("code"),
                "message": error.get("message"),
                "errors": error.get("errors"),
            });
            line["used_by"] = used_by(config, &p.connector, &call.operation);
            broken.push(format!(
                "{}: {}",
                call.operation,
                error
                    .get("message")
                    .and_then(Value::as_str)
                    .unwrap_or("failed")
            ));
        }
        calls.push(line);
    }
    Ended {
        ok: broken.is_empty(),
        result: json!({ "connector": p.connector, "calls": calls }),
        error: (!broken.is_empty()).then(|| broken.join("; ")),
    }
}

/// What depends on an operation's answer: its response mapping and model, and the destinations
/// (with the routes feeding them) that deliver into it.
fn used_by(config: &junction_config::Config, connector: &str, operation: &str) -> Value {
    let op = config
        .connectors
        .get(connector)
        .and_then(|c| c.operations.get(operation));
    let destinations: Vec<&str> = config
        .flows
        .destinations
        .values()
        .filter(|d| {
            matches!(&d.target, junction_config::Target::Operation { connector: c, operation: o, .. }
                if c == connector && o == operation)
        })
        .map(|d| d.name.as_str())
        .collect();
    let routes: Vec<&str> = config
        .flows
        .routes
        .values()
        .filter(|r| r.to.iter().any(|t| destinations.contains(&t.as_str())))
        .map(|r| r.name.as_str())
        .collect();
    json!({
        "mapping": op.and_then(|o| o.response.map.clone()),
        "model": op.and_then(|o| o.response.model.as_ref().map(|m| m.to_string())),
        "destinations": destinations,
        "routes": routes,
    })
}
