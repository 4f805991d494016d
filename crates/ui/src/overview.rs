//! `/ui/`: every connector, source and destination at a glance, with the last hour per minute.

use std::collections::BTreeSet;
use std::sync::Arc;

use axum::extract::{Query, State};
use axum::response::Response;
use axum::Extension;
use junction_server::{ApiError, AppState};
use junction_telemetry::history::{connector as c, destination as d, source as s, Kind};
use maud::html;
use serde::Deserialize;

use crate::chart::spark;
use crate::data::{percent, History};
use crate::layout::{badge, circuit_badge, page, seconds};
use crate::Ui;

#[derive(Debug, Default, Deserialize)]
pub struct Params {
    /// Reload every this many seconds (0: never). Default 15.
    refresh: Option<u32>,
}

pub async fn show(
    State(state): State<AppState>,
    Extension(ui): Extension<Arc<Ui>>,
    Query(p): Query<Params>,
) -> Result<Response, ApiError> {
    let store = state.store.as_ref();
    let h = History::load(store, 60).await?;
    let alerts = store.alerts().await?;
    let firing: Vec<_> = alerts
        .iter()
        .filter(|a| a.state == junction_store::AlertState::Firing)
        .collect();
    let dest_stats = store
        .destination_stats(junction_core::time::now_ms())
        .await?;
    let disabled = store.disabled().await?;
    let connections = store.connections().await?;
    let connectors = ui.hub.health();
    let reload_failed = state.reload.failing();
    let sources: BTreeSet<String> = state
        .config()
        .flows
        .sources
        .keys()
        .cloned()
        .chain(h.names(Kind::Source))
        .collect();
    let destinations = ui.engine.dispatcher.status();

    let body = html! {
        @if let Some(r) = &reload_failed {
            div.alerts-banner #reload-failed {
                strong { "The config on disk was refused" }
                " (" (crate::layout::when(r.at_ms)) ", " (r.trigger) "): the hub keeps running the previous one. Fix these and save the file again:"
                ul {
                    @for e in r.errors.iter().take(10) { li { code { (e) } } }
                }
            }
        }
        @if !firing.is_empty() {
            div.alerts-banner #firing {
                strong { a href="/ui/alerts" { (firing.len()) " alert(s) firing" } } ": "
                @for (i, a) in firing.iter().take(6).enumerate() {
                    @if i > 0 { " · " }
                    span title=(a.message) { (a.rule) " " strong { (a.subject) } }
                }
                @if firing.len() > 6 { " · …" }
            }
        }
        h2 { "Connectors" }
        @if connectors.is_empty() { p.empty { "No connectors configured." } } @else {
            table #connectors {
                thead { tr {
                    th { "Connector" } th { "State" } th.num { "Calls/min (5m)" } th.num { "Error rate (5m)" }
                    th.num { "p95 (5m)" } th.num { "Auth success (1h)" } th.num { "Quota headroom" } th { "Calls, last hour" }
                } }
                tbody { @for k in &connectors {
                    @let t5 = h.total(Kind::Connector, &k.name, 5);
                    @let t60 = h.total(Kind::Connector, &k.name, 60);
                    @let auth_total = t60.count(c::AUTH_OK) + t60.count(c::AUTH_FAILED);
                    @let reauth = connections.iter().any(|x| x.connector == k.name && x.state == junction_store::ConnectionState::NeedsReauth);
                    tr data-connector=(k.name) {
                        td { a href={"/ui/connectors/" (k.name)} { strong { (k.name) } } @if let Some(a) = k.auth { " " span.muted { (a) } } @if reauth { " " (badge("needs_reauth")) } }
                        td { (circuit_badge(k.circuit)) }
                        td.num { (format!("{:.1}", t5.count(c::CALLS) as f64 / 5.0)) }
                        td.num { (percent(t5.count(c::ERRORS), t5.count(c::CALLS))) }
                        td.num { (t5.quantile_ms(0.95).map_or("–".into(), |v| format!("{v:.0} ms"))) }
                        td.num { (percent(t60.count(c::AUTH_OK), auth_total)) }
                        td.num {
                            @match (k.quota_use, k.paused_s) {
                                (_, Some(p)) => { (badge("paused")) " " (seconds(p)) }
                                (Some(u), None) => { (format!("{:.0}%", (1.0 - u).max(0.0) * 100.0)) }
                                (None, None) => { span.muted { "no quota" } }
                            }
                        }
                        td { (spark(&h.per_minute(Kind::Connector, &k.name, c::CALLS), &h.per_minute(Kind::Connector, &k.name, c::ERRORS), "calls and errors per minute")) }
                    }
                } }
            }
        }
        h2 { "Sources" }
        @if sources.is_empty() { p.empty { "No sources configured." } } @else {
            table #sources {
                thead { tr { th { "Source" } th.num { "Received (1h)" } th.num { "Duplicates" } th.num { "Rejected" } th { "Received, last hour" } } }
                tbody { @for name in &sources {
                    @let t = h.total(Kind::Source, name, 60);
                    tr data-source=(name) {
                        td { a href={"/ui/sources/" (name)} { strong { (name) } } }
                        td.num { (t.count(s::RECEIVED)) }
                        td.num { (t.count(s::DUPLICATES)) }
                        td.num { (t.count(s::REJECTED)) }
                        td { (spark(&h.per_minute(Kind::Source, name, s::RECEIVED), &h.per_minute(Kind::Source, name, s::REJECTED), "received and rejected per minute")) }
                    }
                } }
            }
        }
        h2 { "Destinations" }
        @if destinations.is_empty() { p.empty { "No destinations configured." } } @else {
            table #destinations {
                thead { tr {
                    th { "Destination" } th { "State" } th.num { "Delivered (1h)" } th.num { "Failed attempts (1h)" }
                    th.num { "Pending" } th.num { "Dead" } th.num { "p95 end to end (1h)" } th { "Delivered, last hour" }
                } }
                tbody { @for x in &destinations {
                    @let t = h.total(Kind::Destination, &x.name, 60);
                    @let st = dest_stats.iter().find(|s| s.destination == x.name);
                    @let off = x.disabled || disabled.iter().any(|d| d.name == x.name);
                    @let dead = st.map_or(0, |s| s.dead);
                    tr data-destination=(x.name) {
                        td { a href={"/ui/destinations/" (x.name)} { strong { (x.name) } } }
                        td { @if off { (badge("disabled")) } @else { (circuit_badge(x.circuit)) } }
                        td.num { (t.count(d::DELIVERED)) }
                        td.num { (t.count(d::FAILED)) }
                        td.num { (st.map_or(0, |s| s.pending)) }
                        td.num { @if dead > 0 { a href={"/ui/dead-letters?destination=" (x.name)} { (dead) } } @else { "0" } }
                        td.num { (t.quantile_ms(0.95).map_or("–".into(), |v| format!("{v:.0} ms"))) }
                        td { (spark(&h.per_minute(Kind::Destination, &x.name, d::DELIVERED), &h.per_minute(Kind::Destination, &x.name, d::FAILED), "delivered and failed per minute")) }
                    }
                } }
            }
        }
        p.muted { "Figures are per minute across every process, kept for 48 hours. This page reloads every " (p.refresh.unwrap_or(15)) " s." }
    };
    let refresh = match p.refresh {
        Some(0) => None,
        Some(s) => Some(s.max(5)),
        None => Some(15),
    };
    Ok(page("Overview", "/ui/", None, refresh, body))
}
