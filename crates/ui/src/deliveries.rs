//! `/ui/deliveries` (search by state, destination, route, source and time, paged) and
//! `/ui/deliveries/{id}` (the timeline of attempts).

use axum::extract::{Path, Query, State};
use axum::response::Response;
use junction_engine::browse::{self, DeliveryQuery};
use junction_server::{ApiError, AppState};
use maud::html;

use crate::events::not_found;
use crate::layout::{badge, page, when};

const STATES: [&str; 6] = [
    "pending",
    "delivered",
    "dead",
    "quarantined",
    "stale",
    "discarded",
];

pub async fn list(
    State(state): State<AppState>,
    Query(q): Query<DeliveryQuery>,
) -> Result<Response, ApiError> {
    let (found, next) = browse::find(&state, &q).await?;
    let v = |o: &Option<String>| o.clone().unwrap_or_default();
    let chosen = v(&q.state);
    let older = next.map(|before| {
        let mut url = url::form_urlencoded::Serializer::new(String::new());
        for (k, val) in [
            ("state", &q.state),
            ("destination", &q.destination),
            ("route", &q.route),
            ("source", &q.source),
            ("since", &q.since),
            ("until", &q.until),
        ] {
            if let Some(val) = val.as_deref().filter(|s| !s.is_empty()) {
                url.append_pair(k, val);
            }
        }
        url.append_pair("before", &before.to_string());
        format!("/ui/deliveries?{}", url.finish())
    });
    let body = html! {
        form.filters method="get" action="/ui/deliveries" {
            select name="state" {
                option value="" { "any state" }
                @for s in STATES { option value=(s) selected[chosen == s] { (s) } }
            }
            input name="destination" placeholder="destination" value=(v(&q.destination));
            input name="route" placeholder="route" value=(v(&q.route));
            input name="source" placeholder="source" value=(v(&q.source));
            input name="since" placeholder="since (2026-01-31T12:00:00Z)" value=(v(&q.since));
            input name="until" placeholder="until" value=(v(&q.until));
            button type="submit" { "Search" }
        }
        @if found.is_empty() { p.empty { "No deliveries match." } } @else {
            table #deliveries {
                thead { tr { th { "Delivery" } th { "Created (UTC)" } th { "Route" } th { "Destination" } th { "State" } th.num { "Attempts" } th.num { "Last status" } th { "Reason / last error" } } }
                tbody { @for d in &found {
                    tr {
                        td { a href={"/ui/deliveries/" (d.id)} { "#" (d.id) } }
                        td { (when(d.created_at)) }
                        td { (d.route) } td { a href={"/ui/destinations/" (d.destination)} { (d.destination) } } td { (badge(d.state.as_str())) }
                        td.num { (d.attempts) }
                        td.num { (d.last_status.map(|s| s.to_string()).unwrap_or_default()) }
                        td { (d.dead_reason.clone().or(d.last_error.clone()).unwrap_or_default()) }
                    }
                } }
            }
            @if let Some(url) = older { p { a #older href=(url) { "Older →" } } }
        }
    };
    Ok(page("Deliveries", "/ui/deliveries", None, None, body))
}

pub async fn delivery(
    State(state): State<AppState>,
    Path(id): Path<i64>,
) -> Result<Response, ApiError> {
    let d = state
        .store
        .delivery(id)
        .await?
        .ok_or_else(|| not_found("delivery", id))?;
    let mut attempts = state.store.attempts(id).await?;
    // A replay numbers its attempts afresh: the timeline is in time order.
    attempts.sort_by_key(|a| a.record.started_at);
    let event = state.store.event(d.event_id).await?;
    let state_name = d.state.as_str();
    let replayable = matches!(state_name, "dead" | "quarantined");
    let body = html! {
        p {
            (badge(state_name)) " to " strong { (d.destination) } " by route " (d.route)
            @if let Some(e) = &event { " · event " a href={"/ui/events/" (e.id)} { (e.external_id) } " (" (e.event_type) ")" }
        }
        @if let Some(r) = &d.dead_reason { p { strong { "Reason: " } (r) } }
        @if replayable {
            div.actions {
                form method="post" action={"/ui/deliveries/" (d.id) "/replay"} { button type="submit" { "Replay" } }
                form method="post" action={"/ui/deliveries/" (d.id) "/discard"} { button.secondary type="submit" { "Discard" } }
            }
        }
        h2 { "Timeline" }
        ol.timeline #timeline {
            @if let Some(e) = &event { li { (when(e.received_at)) " — received and stored" } }
            @for a in &attempts {
                li class=(if a.outcome == "delivered" { "ok" } else { "bad" }) {
                    (when(a.record.started_at)) " — attempt " (a.attempt) ": " (badge(&a.outcome))
                    @if let Some(s) = a.record.status { " HTTP " (s) }
                    " in " (a.record.duration_ms) " ms"
                    @if let Some(err) = a.record.error.as_ref().filter(|e| a.record.status.is_none_or(|s| **e != format!("HTTP {s}"))) { br; span.muted { (err) } }
                    @if let Some(x) = &a.record.response_excerpt { pre { (x) } }
                }
            }
            @if attempts.is_empty() { li { span.muted { "No attempt yet." } } }
        }
    };
    Ok(page(
        &format!("Delivery #{id}"),
        "/ui/deliveries",
        None,
        None,
        body,
    ))
}
