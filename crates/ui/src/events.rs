//! `/ui/events` (search) and `/ui/events/{id}` (payload, trace, kept headers and deliveries).

use axum::extract::{Path, Query, State};
use axum::response::Response;
use junction_core::{Code, Error};
use junction_server::admin::EventQuery;
use junction_server::{ApiError, AppState};
use maud::html;

use crate::layout::{badge, page, when};

pub async fn list(
    State(state): State<AppState>,
    Query(q): Query<EventQuery>,
) -> Result<Response, ApiError> {
    let limit = q.limit.unwrap_or(50).clamp(1, 500);
    let events = state.store.events(&q.filter(), limit).await?;
    let v = |o: &Option<String>| o.clone().unwrap_or_default();
    let next = (events.len() == limit)
        .then(|| events.last().map(|e| e.id))
        .flatten();
    let body = html! {
        form.filters method="get" action="/ui/events" {
            input name="source" placeholder="source" value=(v(&q.source));
            input name="type" placeholder="event type" value=(v(&q.event_type));
            input name="key" placeholder="entity key" value=(v(&q.key));
            input name="id" placeholder="provider event id" value=(v(&q.id));
            button type="submit" { "Search" }
        }
        @if events.is_empty() { p.empty { "No events match." } } @else {
            table #events {
                thead { tr { th { "Received (UTC)" } th { "Source" } th { "Type" } th { "Key" } th.num { "Seq" } th { "Provider id" } th.num { "Size" } } }
                tbody { @for e in &events {
                    tr {
                        td { a href={"/ui/events/" (e.id)} { (when(e.received_at)) } }
                        td { (e.source) } td { (e.event_type) } td { (e.entity_key.clone().unwrap_or_default()) }
                        td.num { (e.sequence.map(|s| s.to_string()).unwrap_or_default()) }
                        td { code { (e.external_id) } } td.num { (e.payload.len()) " B" }
                    }
                } }
            }
            @if let Some(before) = next {
                p { a href={"/ui/events?before=" (before) "&source=" (v(&q.source)) "&type=" (v(&q.event_type)) "&key=" (v(&q.key))} { "Older →" } }
            }
        }
    };
    Ok(page("Events", "/ui/events", None, None, body))
}

pub async fn one(
    State(state): State<AppState>,
    actor: Option<axum::Extension<junction_server::admin::Actor>>,
    Path(id): Path<i64>,
) -> Result<Response, ApiError> {
    let e = state
        .store
        .event(id)
        .await?
        .ok_or_else(|| not_found("event", id))?;
    let deliveries = state.store.deliveries_of(id).await?;
    let payload =
        match junction_server::admin::payload_view(&e.payload, actor.as_ref().map(|a| &a.0)) {
            serde_json::Value::String(text) => text,
            v => serde_json::to_string_pretty(&v).unwrap_or_default(),
        };
    let body = html! {
        table {
            tr { th { "Source" } td { a href={"/ui/sources/" (e.source)} { (e.source) } } }
            tr { th { "Type" } td { (e.event_type) } }
            tr { th { "Provider id" } td { code { (e.external_id) } } }
            tr { th { "Key / sequence" } td { (e.entity_key.clone().unwrap_or_default()) " / " (e.sequence.map(|s| s.to_string()).unwrap_or_default()) } }
            tr { th { "Received (UTC)" } td { (when(e.received_at)) } }
            @if let Some(tp) = &e.context.traceparent {
                tr { th { "Trace" } td { code #trace { (tp) } } }
            }
            @for (name, value) in &e.context.headers {
                tr.header { th { "Header " code { (name) } } td { code { (value) } } }
            }
        }
        h2 { "Deliveries" }
        @if deliveries.is_empty() { p.empty { "No route matched this event." } } @else {
            table #deliveries {
                thead { tr { th { "Delivery" } th { "Route" } th { "Destination" } th { "State" } th.num { "Attempts" } th { "Last error" } } }
                tbody { @for d in &deliveries {
                    tr {
                        td { a href={"/ui/deliveries/" (d.id)} { "#" (d.id) } }
                        td { (d.route) } td { a href={"/ui/destinations/" (d.destination)} { (d.destination) } } td { (badge(d.state.as_str())) }
                        td.num { (d.attempts) }
                        td { (d.dead_reason.clone().or(d.last_error.clone()).unwrap_or_default()) }
                    }
                } }
            }
        }
        h2 { "Payload" }
        pre { (payload) }
    };
    Ok(page(
        &format!("Event {}", e.external_id),
        "/ui/events",
        None,
        None,
        body,
    ))
}

pub(crate) fn not_found(what: &str, id: i64) -> ApiError {
    ApiError(Error::downstream(Code::NotFound, format!("no {what} {id}")))
}
