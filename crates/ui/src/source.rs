//! `/ui/sources/{name}`: one source — how a webhook source verifies and reads events (never a
//! secret), what a sync source pulls and its sync jobs' runs, the last hour per minute, its routes, recent events, refused requests grouped by
//! reason, and the schema drift seen in its payloads.

use axum::extract::{Path, State};
use axum::response::Response;
use junction_config::Pick;
use junction_server::{ApiError, AppState};
use junction_store::EventFilter;
use junction_telemetry::history::{source as s, Kind};
use maud::html;

use crate::chart::timeline;
use crate::data::{fact, grouped, History};
use crate::destination::unknown;
use crate::layout::{badge, duration, page, when};

fn pick(p: &Option<Pick>, none: &str) -> maud::Markup {
    html! {
        @match p {
            Some(Pick::Header(h)) => { "header " code { (h) } }
            Some(Pick::Jq(j)) => { code { (j.code()) } }
            None => { span.muted { (none) } }
        }
    }
}

pub async fn show(
    State(state): State<AppState>,
    Path(name): Path<String>,
) -> Result<Response, ApiError> {
    let config = state.config();
    let source = config.flows.sources.get(&name).ok_or_else(|| {
        unknown(
            &name,
            config.flows.sources.keys().map(String::as_str),
            "source",
        )
    })?;
    let store = state.store.as_ref();
    let events = store
        .events(
            &EventFilter {
                source: Some(name.clone()),
                ..Default::default()
            },
            20,
        )
        .await?;
    let rejected = store.rejected(Some(name.clone()), 50).await?;
    let reasons = grouped(rejected.iter().map(|r| r.reason.clone()));
    let prefix = format!("{name}/");
    let drift: Vec<_> = junction_engine::maintain::drift(store, &state.drift, 500)
        .await?
        .into_iter()
        .filter(|r| r.scope == "source" && r.subject.starts_with(&prefix))
        .collect();
    let h = History::load(store, 60).await?;
    let t = h.total(Kind::Source, &name, 60);
    let routes: Vec<_> = config
        .flows
        .routes
        .values()
        .filter(|r| r.from == name)
        .collect();
    let v = &source.verify;
    // A sync source: what it pulls and its jobs' latest runs.
    let mut syncs = Vec::new();
    for job in config.jobs.values() {
        if matches!(&job.work, junction_config::Work::Sync(j) | junction_config::Work::Reconcile(j) if j.source == name)
        {
            let last = store.job_runs(Some(job.name.clone()), 1).await?;
            syncs.push((job, last.into_iter().next()));
        }
    }
    let pulled = source.pull.as_ref().map(|p| html! {
        dl.facts #facts {
            (fact("Pulls", html! { "connector " a href={"/ui/connectors/" (p.connector)} { (p.connector) } ", operation " code { (p.operation) } }))
            (fact("Events", html! { code { (p.event_type) } ", " code { (p.entity) ".deleted" } }))
            (fact("Entity key", html! { code { (p.key.code()) } }))
            (fact("Version", html! { @match &p.version { Some(v) => { code { (v.code()) } }, None => { span.muted { "none: a record is emitted when its content changes" } } } }))
            (fact("Incremental", html! { @match &p.since { Some(s) => { "by " code { (s.param) } ", lookback " (duration(s.lookback)) }, None => { "no: every pass reads the whole list" } } }))
            (fact("Deletions", html! { @match p.max_delete_percent { Some(m) => { "detected by full passes, at most " (m) " % without confirmation" }, None => { "not detected" } } }))
            (fact("Pulled / emitted (1h)", html! { (t.count(s::RECEIVED)) " / " (t.count(s::ACCEPTED)) }))
        }
        h2 { "Sync jobs" }
        (pass_jobs(&syncs, &name, "sync"))
    });
    let reconciled = source.reconcile.as_ref().map(|p| html! {
        h2 { "Reconciliation" }
        p { "Compared with " a href={"/ui/connectors/" (p.connector)} { (p.connector) } "'s " code { (p.operation) } " per entity key ("
            code { (p.key.code()) } ", version " @if let Some(v) = &p.version { code { (v.code()) } } "): what webhooks missed is emitted as "
            code { (p.event_type) } " with " code { "Junction-Origin: reconciliation" } "." }
        (pass_jobs(&syncs, &name, "reconcile"))
    });
    let body = html! {
        @if let Some(pulled) = pulled { (pulled) } @else {
        dl.facts #facts {
            (fact("Receives at", html! { "POST " code { "/webhooks/" (name) } }))
            (fact("Verification", html! {
                (format!("{:?}", v.preset).to_lowercase())
                @if !v.secrets.is_empty() { ", " (v.secrets.len()) " secret(s)" }
                @if v.tolerance.as_secs() > 0 { ", timestamps within " (duration(v.tolerance)) }
            }))
            (fact("Body", html! { (format!("{:?}", source.format).to_lowercase()) }))
            (fact("Event id", pick(&source.event.id, "SHA-256 of the body")))
            (fact("Type", pick(&source.event.event_type, "unknown")))
            (fact("Entity key", pick(&source.event.key, "none (no ordering)")))
            (fact("Sequence", pick(&source.event.sequence, "arrival")))
            (fact("Forwarded headers", html! {
                @if source.forward_headers.is_empty() { "none" }
                @else { @for (i, h) in source.forward_headers.iter().enumerate() { @if i > 0 { ", " } code { (h) } } }
            }))
            (fact("Received / duplicates / rejected (1h)", html! {
                (t.count(s::RECEIVED)) " / " (t.count(s::DUPLICATES)) " / " (t.count(s::REJECTED))
            }))
        }
        @if let Some(r) = reconciled { (r) }
        }
        h2 { "Received and rejected, per minute" }
        (timeline(&h.per_minute(Kind::Source, &name, s::RECEIVED), &h.per_minute(Kind::Source, &name, s::REJECTED), h.first, "received (line) and rejected (bars) per minute"))
        h2 { "Routes" }
        @if routes.is_empty() { p.empty { "No route takes its events: they are stored and go nowhere." } } @else {
            table #routes {
                thead { tr { th { "Route" } th { "Types" } th { "Ordering" } th { "To" } } }
                tbody { @for r in &routes {
                    tr {
                        td { strong { (r.name) } }
                        td { @if r.types.is_empty() { "all" } @else { (r.types.join(", ")) } }
                        td { (format!("{:?}", r.ordering).to_lowercase()) }
                        td { @for (i, to) in r.to.iter().enumerate() { @if i > 0 { ", " } a href={"/ui/destinations/" (to)} { (to) } } }
                    }
                } }
            }
        }
        h2 { "Refused requests by reason (newest " (rejected.len()) ")" }
        @if reasons.is_empty() { p.empty { "None refused." } } @else {
            table #reasons {
                thead { tr { th { "Reason" } th.num { "Requests" } } }
                tbody { @for (reason, n) in &reasons { tr { td { (badge(reason)) } td.num { (n) } } } }
            }
            p { a href="/ui/rejected" { "Inspect them →" } }
        }
        h2 { "Recent events" }
        @if events.is_empty() { p.empty { "No event received yet." } } @else {
            table #recent {
                thead { tr { th { "Received (UTC)" } th { "Type" } th { "Key" } th { "Provider id" } } }
                tbody { @for e in &events {
                    tr {
                        td { a href={"/ui/events/" (e.id)} { (when(e.received_at)) } }
                        td { (e.event_type) } td { (e.entity_key.clone().unwrap_or_default()) } td { code { (e.external_id) } }
                    }
                } }
            }
            p { a href={"/ui/events?source=" (name)} { "All its events →" } }
        }
        h2 { "Schema drift" }
        @if drift.is_empty() { p.empty { "Its payloads match the shape learned for them." } } @else {
            table #drift {
                thead { tr { th { "Subject" } th { "Path" } th { "Change" } th { "Detail" } th.num { "Seen" } th { "Last seen (UTC)" } } }
                tbody { @for r in &drift {
                    tr { td { (r.subject) } td { code { (r.path) } } td { (badge(&r.kind)) } td { (r.detail) } td.num { (r.count) } td { (when(r.last_seen)) } }
                } }
            }
        }
    };
    Ok(page(&format!("Source {name}"), "/ui/", None, None, body))
}

/// The jobs of `kind` (`sync` or `reconcile`) over source `name`, with their last runs.
fn pass_jobs(
    jobs: &[(&junction_config::Job, Option<junction_store::JobRun>)],
    name: &str,
    kind: &str,
) -> maud::Markup {
    let jobs: Vec<_> = jobs.iter().filter(|(j, _)| j.work.kind() == kind).collect();
    html! {
        @if jobs.is_empty() { p.empty { "No job runs it: add one under " code { "jobs:" } " with " code { (kind) ": { source: " (name) " }" } "." } } @else {
            table #{(kind) "-jobs"} {
                thead { tr { th { "Job" } th { "Pass" } th { "Schedule" } th { "Last run" } th { "Progress / found" } } }
                tbody { @for (job, last) in &jobs {
                    tr {
                        td { a href="/ui/jobs" { code { (job.name) } } }
                        td { @if let junction_config::Work::Sync(j) | junction_config::Work::Reconcile(j) = &job.work { @if j.full { "full" } @else { "incremental" } } }
                        td { (job.schedule.text()) }
                        td { @match last { Some(r) => { (badge(r.state.as_str())) " " (when(r.started_at)) @if let Some(e) = &r.error { br; span.muted { (e) } } }, None => { span.muted { "not run yet" } } } }
                        td { @if let Some(r) = last { (crate::jobs::found(r)) } }
                    }
                } }
            }
        }
    }
}
