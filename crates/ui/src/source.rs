//! `/ui/sources/{name}`: one webhook source — how it verifies and reads events (never a
//! secret), the last hour per minute, its routes, recent events, refused requests grouped by
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
    let body = html! {
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
