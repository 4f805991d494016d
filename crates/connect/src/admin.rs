//! `GET /api/v1/connectors`: each connector's circuit, quota use and connections' token state —
//! never a credential.

use std::sync::Arc;

use axum::Json;
use junction_server::ApiError;
use serde_json::{json, Value};
use tokio::time::Instant;

use crate::Hub;

pub async fn connectors(
    axum::Extension(hub): axum::Extension<Arc<Hub>>,
) -> Result<Json<Value>, ApiError> {
    let connections = hub.store.connections().await?;
    let now = Instant::now();
    let mut names: Vec<&String> = hub.connectors.keys().collect();
    names.sort();
    let list: Vec<Value> = names
        .into_iter()
        .map(|name| {
            let rt = &hub.connectors[name];
            let q = rt.quota().snapshot(now);
            let windows: Vec<Value> = q
                .windows
                .iter()
                .map(|(w, used, learned)| {
                    json!({ "limit": w.limit, "window_s": w.window.as_secs_f64(), "used": used, "learned": learned })
                })
                .collect();
            let conns: Vec<Value> = connections
                .iter()
                .filter(|c| &c.connector == name)
                .map(|c| {
                    json!({
                        "name": c.name, "state": c.state, "expires_at_ms": c.expires_at,
                        "refresh_at_ms": c.refresh_at, "failures": c.failures, "last_error": c.last_error,
                    })
                })
                .collect();
            json!({
                "name": name,
                "base_url": format!("{}{}", rt.cfg.base_url.origin().ascii_serialization(), rt.cfg.base_path),
                "auth": rt.cfg.auth.as_ref().map(|a| a.kind()),
                "circuit": rt.circuit.state(now).as_str(),
                "quota": {
                    "windows": windows,
                    "paused_for_s": q.paused_for.map(|d| d.as_secs_f64()),
                    "upstream_remaining": q.upstream_remaining,
                },
                "connections": conns,
            })
        })
        .collect();
    Ok(Json(json!({ "connectors": list })))
}
