//! `GET /api/v1/connectors`: each connector's circuit, quota use and connections' token state —
//! never a credential.

use std::sync::Arc;

use axum::Json;
use junction_server::ApiError;
use serde_json::{json, Value};
use tokio::time::Instant;

use junction_server::errors::ErrorBody;

use crate::Hub;

/// The OpenAPI path of the connectors endpoint.
#[derive(utoipa::OpenApi)]
#[openapi(paths(connectors))]
pub struct ApiDoc;

#[utoipa::path(get, path = "/api/v1/connectors", tag = "connectors", summary = "Connectors: circuit, quotas, connections' token state", responses((status = 200, description = "OK", body = Object), (status = 400, description = "Invalid parameters", body = ErrorBody), (status = 401, description = "No or unknown token", body = ErrorBody), (status = 403, description = "The token's role is too low", body = ErrorBody), (status = 503, description = "The store is unavailable", body = ErrorBody)), security(("bearer" = [])))]
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

impl crate::Hub {
    /// Each connector's largest share (0–1) of a quota window in use now; 1 while calls are
    /// paused by the vendor.
    pub fn quota_use(&self) -> Vec<(String, f64)> {
        let now = Instant::now();
        let mut out: Vec<(String, f64)> = self
            .connectors
            .iter()
            .filter_map(|(name, rt)| {
                let q = rt.quota().snapshot(now);
                let used = q
                    .windows
                    .iter()
                    .filter(|(w, _, _)| w.limit > 0)
                    .map(|(w, used, _)| *used as f64 / w.limit as f64)
                    .fold(None, |m: Option<f64>, x| Some(m.map_or(x, |m| m.max(x))));
                let used = if q.paused_for.is_some() {
                    Some(1.0)
                } else {
                    used
                };
                used.map(|u| (name.clone(), u))
            })
            .collect();
        out.sort_by(|a, b| a.0.cmp(&b.0));
        out
    }
}

/// What the dashboard shows of a connector right now, in this process.
#[derive(Debug, Clone)]
pub struct ConnectorHealth {
    pub name: String,
    pub circuit: &'static str,
    pub auth: Option<&'static str>,
    /// The fullest quota window's share in use (0–1), if the connector has quotas.
    pub quota_use: Option<f64>,
    pub paused_s: Option<f64>,
}

impl crate::Hub {
    pub fn health(&self) -> Vec<ConnectorHealth> {
        let now = Instant::now();
        let used: std::collections::HashMap<String, f64> = self.quota_use().into_iter().collect();
        let mut out: Vec<ConnectorHealth> = self
            .connectors
            .iter()
            .map(|(name, rt)| ConnectorHealth {
                name: name.clone(),
                circuit: rt.circuit.state(now).as_str(),
                auth: rt.cfg.auth.as_ref().map(|a| a.kind()),
                quota_use: used.get(name).copied(),
                paused_s: rt
                    .quota()
                    .snapshot(now)
                    .paused_for
                    .filter(|d| !d.is_zero())
                    .map(|d| d.as_secs_f64()),
            })
            .collect();
        out.sort_by(|a, b| a.name.cmp(&b.name));
        out
    }
}
