//! `/ui/connectors/{name}`: one connector — its settings (never a credential), circuit and quota
//! now, connections' token state, the last hour per minute, its recent calls in this process
//! with errors grouped, and the drift and deprecation notices seen on its endpoints.

use std::sync::Arc;

use axum::extract::{Path, State};
use axum::response::Response;
use axum::Extension;
use junction_server::{ApiError, AppState};
use junction_telemetry::history::{connector as c, Kind};
use maud::html;

use crate::chart::timeline;
use crate::data::{fact, grouped, quantiles, History};
use crate::layout::{badge, circuit_badge, duration, page, seconds, when};
use crate::notices::notice;
use crate::Ui;

pub async fn show(
    State(state): State<AppState>,
    Extension(ui): Extension<Arc<Ui>>,
    Path(name): Path<String>,
) -> Result<Response, ApiError> {
    let detail = ui.hub.detail(&name).await?;
    let config = state.config();
    let Some(cfg) = config.connectors.get(&name) else {
        // Added to the config since the hub started: the running hub does not have it yet.
        return Err(crate::destination::unknown(
            &name,
            config.connectors.keys().map(String::as_str),
            "connector",
        ));
    };
    let store = state.store.as_ref();
    // `crm GET /customers/{id}` (proxy calls) and `crm/get_customer` (operations).
    let (spaced, slashed) = (format!("{name} "), format!("{name}/"));
    let records: Vec<_> = junction_engine::maintain::drift(store, &state.drift, 500)
        .await?
        .into_iter()
        .filter(|r| {
            r.scope == "connector"
                && (r.subject.starts_with(&spaced) || r.subject.starts_with(&slashed))
        })
        .collect();
    let rollout = ui
        .hub
        .connector(&name)
        .and_then(|rt| rt.rollout.as_ref().map(|r| r.status()));
    // The jobs probing this connector, with their last run.
    let mut probes = Vec::new();
    for job in config.jobs.values() {
        let junction_config::Work::Probe(p) = &job.work else {
            continue;
        };
        if p.connector == name {
            let last = store.job_runs(Some(job.name.clone()), 1).await?;
            probes.push((
                job.name.clone(),
                job.schedule.text(),
                last.into_iter().next(),
            ));
        }
    }
    let (deprecations, drift): (Vec<_>, Vec<_>) =
        records.iter().partition(|r| r.kind == "deprecated");
    let h = History::load(store, 60).await?;
    let t5 = h.total(Kind::Connector, &name, 5);
    let t60 = h.total(Kind::Connector, &name, 60);
    let k = &detail.connector;
    let calls = &detail.recent_calls;
    let errors = grouped(calls.iter().filter_map(|x| match (x.status, &x.error) {
        (_, Some(e)) => Some(e.clone()),
        (Some(s), None) if s >= 400 => Some(format!("HTTP {s}")),
        _ => None,
    }));
    let body = html! {
        dl.facts #facts {
            (fact("Circuit", circuit_badge(&k.circuit)))
            (fact("Base URL", html! { code { (k.base_url) } }))
            (fact("Auth", html! { (k.auth.clone().unwrap_or_else(|| "none".into())) }))
            @if let Some((h, v)) = &cfg.version_header { (fact("Version pin", html! { code { (h) ": " (v.to_str().unwrap_or("…")) } })) }
            (fact("Quota", html! {
                @if k.quota.windows.is_empty() { "none" }
                @for (i, w) in k.quota.windows.iter().enumerate() {
                    @if i > 0 { br; }
                    (w.used) " of " (w.limit) " per " (seconds(w.window_s)) @if w.learned { " " span.muted { "(learned)" } }
                }
                @if let Some(p) = k.quota.paused_for_s.filter(|p| *p > 0.0) { br; (badge("paused")) " for " (seconds(p)) }
                @if let Some(r) = k.quota.upstream_remaining { br; span.muted { "vendor says " (r) " left" } }
                @if let Some(s) = k.quota.share.filter(|_| !k.quota.windows.is_empty()) {
                    br; span.muted { "this process holds " (format!("{:.0} %", s * 100.0)) " of it; the other processes on the database hold the rest" }
                }
            }))
            (fact("Concurrency", html! { (cfg.concurrency) " calls" }))
            (fact("Retries", html! {
                (crate::policy::retry(&cfg.retry))
            }))
            (fact("Circuit policy", html! {
                (crate::policy::circuit(&cfg.circuit))
            }))
            (fact("Timeouts", html! {
                "connect " (duration(cfg.timeouts.connect)) ", attempt " (duration(cfg.timeouts.attempt)) ", total " (duration(cfg.timeouts.total))
            }))
            (fact("Cache", html! { @if cfg.cache.is_some() { "on" } @else { "off" } }))
            (fact("Calls/min (5m) · errors", html! {
                (format!("{:.1}", t5.count(c::CALLS) as f64 / 5.0)) " · " (crate::data::percent(t5.count(c::ERRORS), t5.count(c::CALLS)))
            }))
            (fact("Latency p50 / p95 / p99 (1h)", quantiles(&t60)))
        }
        @if !k.connections.is_empty() {
            h2 { "Connections" }
            table #connections {
                thead { tr { th { "Connection" } th { "State" } th { "Token expires (UTC)" } th.num { "Refresh failures" } th { "Last error" } } }
                tbody { @for x in &k.connections {
                    tr {
                        td { (x.name) } td { (badge(&x.state)) }
                        td { (x.expires_at_ms.map(when).unwrap_or_else(|| "–".into())) }
                        td.num { (x.failures) } td { (x.last_error.clone().unwrap_or_default()) }
                    }
                } }
            }
        }
        h2 { "Operations" }
        @if cfg.operations.is_empty() { p.empty { "No operations: services call this connector through /proxy only." } } @else {
            p.muted { "Called at " code { "POST /ops/" (name) "/OPERATION" } " with the scope " code { "op:" (name) ":OPERATION" } "; described in " a href={ "/api/v1/connectors/" (name) "/openapi.json" } { "an OpenAPI document" } "." }
            table #operations {
                thead { tr { th { "Operation" } th { "Sends" } th { "Parameters" } th { "Request" } th { "Response" } th { "Pages" } } }
                tbody { @for (op_name, op) in &cfg.operations {
                    tr {
                        td { code { (op_name) } @if let Some(s) = &op.summary { br; span.muted { (s) } } }
                        td { @if cfg.soap.is_some() { "SOAP " code { (op.action) } } @else { (op.method) " " code { (op.path) } } }
                        td { (op.params().collect::<Vec<_>>().join(", ")) }
                        td { (message(&op.request)) }
                        td { (message(&op.response)) }
                        td { (op.paginate.as_ref().map_or("–", |p| p.style.as_str())) }
                    }
                } }
            }
        }
        @if let Some(v) = &cfg.versions {
            h2 { "Versions" }
            table #versions {
                thead { tr { th { "Version" } th { "Pin" } th { "Role" } th.num { "Calls (window)" } th.num { "Failed" } } }
                tbody { @for (vname, version) in &v.list {
                    @let role = if *vname == v.rollout.stable { "stable" } else if *vname == v.rollout.candidate { "candidate" } else { "" };
                    @let counts = rollout.as_ref().map(|r| if role == "stable" { r.stable_counts } else if role == "candidate" { r.candidate_counts } else { (0, 0) });
                    tr {
                        td { code { (vname) } }
                        td { @if let Some((h, val)) = &version.header { code { (h) ": " (val.to_str().unwrap_or("…")) } } @else { code { (version.path) } } }
                        td { (role) }
                        td.num { (counts.map_or(0, |c| c.0)) }
                        td.num { (counts.map_or(0, |c| c.1)) }
                    }
                } }
            }
            @if let Some(r) = &rollout {
                p #rollout {
                    "Rollout: " (badge(r.mode.as_str()))
                    @if let junction_resilience::rollout::Mode::Canary(bp) = r.mode { " " (format!("{:.1}", f64::from(bp) / 100.0)) "% of keys on " code { (r.candidate) } }
                    @if let Some(b) = &r.rolled_back { " " (badge("rolled back")) " at " (when(b.at_ms)) ": " (b.why) " — resume with " code { "POST /api/v1/rollouts/connector:" (name) "/resume" } }
                }
            }
        }
        @if !probes.is_empty() {
            h2 { "Contract probes" }
            table #probes {
                thead { tr { th { "Job" } th { "Schedule" } th { "Last run" } th { "Error" } } }
                tbody { @for (job, schedule, last) in &probes {
                    tr {
                        td { a href="/ui/jobs" { code { (job) } } }
                        td { (schedule) }
                        td { @match last { Some(r) => { (badge(r.state.as_str())) " " (when(r.started_at)) }, None => { "not run yet" } } }
                        td { (last.as_ref().and_then(|r| r.error.clone()).unwrap_or_default()) }
                    }
                } }
            }
        }
        h2 { "Calls and errors, per minute" }
        (timeline(&h.per_minute(Kind::Connector, &name, c::CALLS), &h.per_minute(Kind::Connector, &name, c::ERRORS), h.first, "calls (line) and errors (bars) per minute"))
        h2 { "Errors (last " (calls.len()) " calls)" }
        @if errors.is_empty() { p.empty { "No failed call among the recent ones." } } @else {
            table #errors {
                thead { tr { th { "Error" } th.num { "Calls" } } }
                tbody { @for (e, n) in &errors { tr { td { (e) } td.num { (n) } } } }
            }
        }
        h2 { "Recent calls (this process)" }
        @if calls.is_empty() { p.empty { "No call through this connector since the hub started." } } @else {
            table #calls {
                thead { tr { th { "At (UTC)" } th { "Call" } th { "Connection" } th.num { "Status" } th.num { "Latency" } th.num { "Attempts" } th { "Cache" } th.num { "Quota wait" } } }
                tbody { @for x in calls {
                    tr {
                        td { (when(x.at_ms)) }
                        td { (x.method) " " code { (x.path) } }
                        td { (x.connection) }
                        td.num { @match (x.status, &x.error) {
                            (Some(s), _) => { @if s >= 400 { span.bad-text { (s) } } @else { (s) } }
                            (None, Some(e)) => { (badge(e)) }
                            (None, None) => { "–" }
                        } }
                        td.num { (format!("{:.0} ms", x.latency_ms)) }
                        td.num { (x.attempts) }
                        td { (x.cache.clone().unwrap_or_default()) }
                        td.num { @if x.quota_wait_ms >= 1.0 { (format!("{:.0} ms", x.quota_wait_ms)) } @else { "–" } }
                    }
                } }
            }
        }
        h2 { "Deprecation and sunset notices" }
        @if deprecations.is_empty() { p.empty { "The vendor has announced no deprecation on the endpoints called." } } @else {
            table #deprecations {
                thead { tr { th { "Endpoint" } th { "Notice" } th { "Last seen (UTC)" } } }
                tbody { @for r in &deprecations { tr { td { (r.subject) } td { (notice(&r.detail, junction_core::time::now_ms())) } td { (when(r.last_seen)) } } } }
            }
        }
        h2 { "Schema drift" }
        @if drift.is_empty() { p.empty { "Its answers match the shapes learned for them." } } @else {
            table #drift {
                thead { tr { th { "Endpoint" } th { "Path" } th { "Change" } th { "Detail" } th.num { "Seen" } th { "Last seen (UTC)" } } }
                tbody { @for r in &drift {
                    tr { td { (r.subject) } td { code { (r.path) } } td { (badge(&r.kind)) } td { (r.detail) } td.num { (r.count) } td { (when(r.last_seen)) } }
                } }
            }
        }
    };
    Ok(page(&format!("Connector {name}"), "/ui/", None, None, body))
}

/// An operation's message: its mapping and model, or a dash.
fn message(m: &junction_config::Message) -> String {
    match (&m.map, &m.model) {
        (None, None) => "–".into(),
        (Some(map), None) => format!("map {map}"),
        (None, Some(model)) => model.to_string(),
        (Some(map), Some(model)) => format!("map {map} → {model}"),
    }
}
