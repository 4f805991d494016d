//! `GET /api/v1/connectors` and `GET /api/v1/connectors/{name}`: each connector's circuit, quota
//! use, connections' token state and last calls — never a credential.

use std::sync::Arc;

use axum::extract::Path;
use axum::Json;
use junction_core::{Code, Error};
use junction_server::ApiError;
use serde::Serialize;
use tokio::time::Instant;

use crate::recent::RecentCall;

use junction_server::errors::ErrorBody;

use crate::Hub;

/// The OpenAPI paths of the connectors endpoints.
#[derive(utoipa::OpenApi)]
#[openapi(
    paths(
        connectors,
        connector,
        crate::ops::describe::list,
        crate::ops::describe::openapi,
        crate::guided::create_session,
        crate::guided::connections,
        crate::guided::revoke
    ),
    components(schemas(
        crate::ops::describe::OperationList,
        crate::ops::describe::OperationView,
        crate::ops::describe::MessageView,
        crate::ops::describe::OperationsDocument,
        crate::ops::describe::DocumentInfo,
        ConnectorList,
        ConnectorItem,
        ConnectorDetail,
        QuotaView,
        QuotaWindowView,
        ConnectionView,
        RecentCall,
        crate::guided::NewSession,
        crate::guided::SessionLink,
        crate::guided::ConnectionList,
        crate::guided::ConnectionItem
    ))
)]
pub struct ApiDoc;

/// Every connector.
#[derive(Debug, Serialize, serde::Deserialize, utoipa::ToSchema)]
pub struct ConnectorList {
    pub connectors: Vec<ConnectorItem>,
}

/// A connector's state in this process — never a credential.
#[derive(Debug, Serialize, serde::Deserialize, utoipa::ToSchema)]
pub struct ConnectorItem {
    pub name: String,
    pub base_url: String,
    /// The auth kind (`bearer`, `oauth2_client_credentials`, …); absent without auth.
    pub auth: Option<String>,
    /// `closed` (healthy), `open` (failing: calls refused until a probe succeeds) or `half_open`.
    pub circuit: String,
    pub quota: QuotaView,
    pub connections: Vec<ConnectionView>,
}

/// A connector with its last calls through this process, newest first.
#[derive(Debug, Serialize, serde::Deserialize, utoipa::ToSchema)]
pub struct ConnectorDetail {
    #[serde(flatten)]
    pub connector: ConnectorItem,
    pub recent_calls: Vec<RecentCall>,
}

#[derive(Debug, Serialize, serde::Deserialize, utoipa::ToSchema)]
pub struct QuotaView {
    pub windows: Vec<QuotaWindowView>,
    /// Calls are paused this long (the vendor's `Retry-After`, or its quota spent).
    pub paused_for_s: Option<f64>,
    /// What the vendor last reported as remaining.
    pub upstream_remaining: Option<u64>,
    /// The part of the quota this process holds (0–1), when it is split between the processes
    /// on one PostgreSQL database; absent when this process has all of it.
    pub share: Option<f64>,
}

#[derive(Debug, Serialize, serde::Deserialize, utoipa::ToSchema)]
pub struct QuotaWindowView {
    pub limit: u32,
    pub window_s: f64,
    /// Calls (or points, at a vendor that meters by cost) counted in the window now.
    pub used: u64,
    /// The limit was learned from the vendor's headers.
    pub learned: bool,
}

/// A connection's token state.
#[derive(Debug, Serialize, serde::Deserialize, utoipa::ToSchema)]
pub struct ConnectionView {
    pub name: String,
    /// `active`, or `needs_reauth` after repeated refresh failures.
    pub state: String,
    pub expires_at_ms: Option<i64>,
    pub refresh_at_ms: Option<i64>,
    pub failures: i64,
    pub last_error: Option<String>,
    /// With `connection_quotas`: the calls the vendor last said this connection has left.
    pub upstream_remaining: Option<u64>,
}

fn share_of_whole(share: u32) -> f64 {
    f64::from(share) / f64::from(junction_resilience::WHOLE)
}

fn item(
    name: &str,
    rt: &crate::Runtime,
    connections: &[junction_store::Connection],
    now: Instant,
) -> ConnectorItem {
    let q = rt.quota().snapshot(now);
    ConnectorItem {
        name: name.to_owned(),
        base_url: format!(
            "{}{}",
            rt.cfg.base_url.origin().ascii_serialization(),
            rt.cfg.base_path
        ),
        auth: rt.cfg.auth.as_ref().map(|a| a.kind().to_owned()),
        circuit: rt.circuit.state(now).as_str().to_owned(),
        quota: QuotaView {
            windows: q
                .windows
                .iter()
                .map(|(w, used, learned)| QuotaWindowView {
                    limit: w.limit,
                    window_s: w.window.as_secs_f64(),
                    used: *used,
                    learned: *learned,
                })
                .collect(),
            paused_for_s: q.paused_for.map(|d| d.as_secs_f64()),
            upstream_remaining: q.upstream_remaining,
            share: rt.quota.share(now).map(share_of_whole),
        },
        connections: connections
            .iter()
            .filter(|c| c.connector == name)
            .map(|c| ConnectionView {
                name: c.name.clone(),
                state: c.state.to_string(),
                expires_at_ms: c.expires_at,
                refresh_at_ms: c.refresh_at,
                failures: c.failures,
                last_error: c.last_error.clone(),
                upstream_remaining: rt.connection_remaining(&c.name, now),
            })
            .collect(),
    }
}

#[utoipa::path(get, path = "/api/v1/connectors", tag = "connectors", summary = "Connectors: circuit, quotas, connections' token state", responses((status = 200, description = "OK", body = ConnectorList), (status = 400, description = "Invalid parameters", body = ErrorBody), (status = 401, description = "No or unknown token", body = ErrorBody), (status = 403, description = "The token's role is too low", body = ErrorBody), (status = 503, description = "The store is unavailable", body = ErrorBody)), security(("bearer" = [])))]
pub async fn connectors(
    axum::Extension(hub): axum::Extension<Arc<Hub>>,
) -> Result<Json<ConnectorList>, ApiError> {
    let connections = hub.store.connections().await?;
    let now = Instant::now();
    let all = hub.connectors();
    let mut names: Vec<&String> = all.keys().collect();
    names.sort();
    Ok(Json(ConnectorList {
        connectors: names
            .into_iter()
            .map(|name| item(name, &all[name], &connections, now))
            .collect(),
    }))
}

/// One connector with its last calls through this process (the newest 50: method, path
/// without its query, status or error, latency, attempts, cache, time waited for the quota).
#[utoipa::path(get, path = "/api/v1/connectors/{name}", tag = "connectors", summary = "One connector with its recent calls", params(("name" = String, Path, description = "The connector's name")), responses((status = 200, description = "OK", body = ConnectorDetail), (status = 404, description = "No such connector", body = ErrorBody), (status = 401, description = "No or unknown token", body = ErrorBody), (status = 403, description = "The token's role is too low", body = ErrorBody), (status = 503, description = "The store is unavailable", body = ErrorBody)), security(("bearer" = [])))]
pub async fn connector(
    axum::Extension(hub): axum::Extension<Arc<Hub>>,
    Path(name): Path<String>,
) -> Result<Json<ConnectorDetail>, ApiError> {
    Ok(Json(hub.detail(&name).await?))
}

impl crate::Hub {
    /// One connector with its recent calls; 404 with the nearest name when there is none.
    pub async fn detail(&self, name: &str) -> Result<ConnectorDetail, ApiError> {
        let all = self.connectors();
        let Some(rt) = all.get(name) else {
            let mut err = Error::downstream(Code::NotFound, format!("no connector `{name}`"));
            if let Some(near) = junction_config::nearest(name, all.keys().map(String::as_str)) {
                err = err.with_hint(format!("did you mean `{near}`?"));
            }
            return Err(ApiError(err));
        };
        let connections = self.store.connections().await?;
        Ok(ConnectorDetail {
            connector: item(name, rt, &connections, Instant::now()),
            recent_calls: rt.recent.list(),
        })
    }

    /// Each connector's largest share (0–1) of a quota window in use now; 1 while calls are
    /// paused by the vendor.
    pub fn quota_use(&self) -> Vec<(String, f64)> {
        let now = Instant::now();
        let mut out: Vec<(String, f64)> = self
            .connectors()
            .iter()
            .filter_map(|(name, rt)| {
                let q = rt.quota().snapshot(now);
                // Against the whole limit, also when it is split between processes (one
                // process's part alone would look full on an idle process holding a sliver).
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
            .connectors()
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
