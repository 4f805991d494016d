//! `/ui/destinations/{name}`: one destination — its settings (never a secret), state, the last
//! hour per minute, errors grouped by reason, its recent deliveries — and the actions on it:
//! disable or enable, replay its dead letters.

use std::sync::Arc;

use axum::extract::{Path, State};
use axum::response::{IntoResponse, Redirect, Response};
use axum::Extension;
use junction_core::{Code, Error};
use junction_server::{ApiError, AppState};
use junction_store::{DeadFilter, DeliveryFilter, DeliveryState};
use junction_telemetry::history::{destination as d, Kind};
use maud::html;

use crate::chart::timeline;
use crate::data::{fact, grouped, quantiles, History};
use crate::layout::{badge, circuit_badge, duration, page, when};
use crate::Ui;

/// A retention as the page says it (`zero` says what no retention means).
fn kept(d: std::time::Duration, zero: &str) -> String {
    let secs = d.as_secs();
    if d.is_zero() {
        zero.into()
    } else if secs >= 86_400 && secs % 86_400 == 0 {
        format!("{}d", secs / 86_400)
    } else {
        duration(d)
    }
}

/// The most dead letters one click replays.
const REPLAY_LIMIT: usize = 10_000;

pub async fn show(
    State(state): State<AppState>,
    Extension(ui): Extension<Arc<Ui>>,
    Path(name): Path<String>,
    flash: axum::extract::Query<Flash>,
) -> Result<Response, ApiError> {
    let config = state.config();
    let dest = config.flows.destinations.get(&name).ok_or_else(|| {
        unknown(
            &name,
            config.flows.destinations.keys().map(String::as_str),
            "destination",
        )
    })?;
    let status = ui
        .engine
        .dispatcher
        .status()
        .into_iter()
        .find(|s| s.name == name);
    let store = state.store.as_ref();
    let now = junction_core::time::now_ms();
    let stats = store
        .destination_stats(now)
        .await?
        .into_iter()
        .find(|s| s.destination == name);
    let disabled = store.disabled().await?.into_iter().find(|x| x.name == name);
    let recent = store
        .deliveries(
            &DeliveryFilter {
                destination: Some(name.clone()),
                ..Default::default()
            },
            200,
        )
        .await?;
    let errors = grouped(recent.iter().filter_map(|x| {
        (x.state != DeliveryState::Delivered)
            .then(|| x.dead_reason.clone().or(x.last_error.clone()))
            .flatten()
    }));
    let h = History::load(store, 60).await?;
    let t = h.total(Kind::Destination, &name, 60);
    let routes: Vec<_> = config
        .flows
        .routes
        .values()
        .filter(|r| r.to.contains(&name))
        .collect();
    let dead = stats.as_ref().map_or(0, |s| s.dead);
    let off = disabled.is_some() || status.as_ref().is_some_and(|s| s.disabled);
    let target = dest.target.describe();
    let method = match dest.target {
        junction_config::Target::Url(_) => dest.method.as_str(),
        junction_config::Target::Operation { .. } => "into",
    };
    let body = html! {
        @if let Some(f) = flash.0.text() { p.flash { (f) } }
        dl.facts #facts {
            (fact("State", html! {
                @if off { (badge("disabled")) @if let Some(d) = &disabled { " " span.muted { (d.reason) } } }
                @else { (circuit_badge(status.as_ref().map_or("closed", |s| s.circuit))) }
            }))
            (fact("Sends to", html! { (method) " " code { (target) } }))
            (fact("In flight", html! { (status.as_ref().map_or(0, |s| s.in_flight)) " of " (dest.concurrency) }))
            (fact("Pending (due now) / dead", html! {
                (stats.as_ref().map_or(0, |s| s.pending)) " (" (stats.as_ref().map_or(0, |s| s.due)) ") / "
                @if dead > 0 { a href={"/ui/dead-letters?destination=" (name)} { (dead) } } @else { "0" }
            }))
            (fact("Retries", html! {
                (crate::policy::retry(&dest.retry))
            }))
            (fact("Circuit", html! {
                (crate::policy::circuit(&dest.circuit))
            }))
            (fact("Timeout", html! { (duration(dest.timeout)) }))
            (fact("Kept", html! {
                "delivered " (kept(config.delivery.retention, "forever")) "; dead letters "
                (kept(dest.parked_retention(&config.delivery, false), "until replayed or discarded")) "; quarantined "
                (kept(dest.parked_retention(&config.delivery, true), "until replayed or discarded"))
            }))
            (fact("Signing", html! {
                @if dest.signing.is_empty() { "unsigned" } @else { "Standard Webhooks, " (dest.signing.len()) " key(s)" }
            }))
            (fact("Extra headers", html! {
                @if dest.headers.is_empty() { "none" } @else { @for (i, (k, _)) in dest.headers.iter().enumerate() { @if i > 0 { ", " } code { (k) } } }
            }))
            (fact("Delivered / failed attempts (1h)", html! { (t.count(d::DELIVERED)) " / " (t.count(d::FAILED)) }))
            (fact("End to end p50 / p95 / p99 (1h)", quantiles(&t)))
        }
        div.actions #actions {
            @if off {
                form method="post" action={"/ui/destinations/" (name) "/enable"} { button type="submit" { "Enable" } }
            } @else {
                form method="post" action={"/ui/destinations/" (name) "/disable"} { button.secondary type="submit" { "Disable" } }
            }
            @if dead > 0 {
                form method="post" action={"/ui/destinations/" (name) "/replay"} { button type="submit" { "Replay " (dead) " dead letter(s)" } }
            }
        }
        h2 { "Delivered and failed, per minute" }
        (timeline(&h.per_minute(Kind::Destination, &name, d::DELIVERED), &h.per_minute(Kind::Destination, &name, d::FAILED), h.first, "delivered (line) and failed attempts (bars) per minute"))
        h2 { "Routes" }
        @if routes.is_empty() { p.empty { "No route delivers here." } } @else {
            p { @for (i, r) in routes.iter().enumerate() { @if i > 0 { ", " } strong { (r.name) } " from " a href={"/ui/sources/" (r.from)} { (r.from) } } }
        }
        h2 { "Errors by reason (last 200 deliveries)" }
        @if errors.is_empty() { p.empty { "No failed delivery among the last 200." } } @else {
            table #errors {
                thead { tr { th { "Reason" } th.num { "Deliveries" } } }
                tbody { @for (reason, n) in &errors { tr { td { (reason) } td.num { (n) } } } }
            }
        }
        h2 { "Recent deliveries" }
        @if recent.is_empty() { p.empty { "Nothing delivered here yet." } } @else {
            table #recent {
                thead { tr { th { "Delivery" } th { "Created (UTC)" } th { "Route" } th { "State" } th.num { "Attempts" } th.num { "Last status" } } }
                tbody { @for x in recent.iter().take(20) {
                    tr {
                        td { a href={"/ui/deliveries/" (x.id)} { "#" (x.id) } }
                        td { (when(x.created_at)) } td { (x.route) } td { (badge(x.state.as_str())) }
                        td.num { (x.attempts) } td.num { (x.last_status.map(|s| s.to_string()).unwrap_or_default()) }
                    }
                } }
            }
            p { a href={"/ui/deliveries?destination=" (name)} { "All deliveries to " (name) " →" } }
        }
    };
    Ok(page(
        &format!("Destination {name}"),
        "/ui/",
        None,
        None,
        body,
    ))
}

/// What an action on the page did, shown on return.
#[derive(Debug, Default, serde::Deserialize)]
pub struct Flash {
    replayed: Option<usize>,
    enabled: Option<u8>,
    disabled: Option<u8>,
}

impl Flash {
    fn text(&self) -> Option<String> {
        if let Some(n) = self.replayed {
            return Some(format!("{n} dead letter(s) replayed: they are due now."));
        }
        if self.enabled.is_some() {
            return Some("Enabled: its waiting deliveries are due now.".into());
        }
        self.disabled
            .map(|_| "Disabled: deliveries wait until it is enabled again.".into())
    }
}

pub async fn replay(
    State(state): State<AppState>,
    Extension(ui): Extension<Arc<Ui>>,
    Path(name): Path<String>,
) -> Result<Response, ApiError> {
    known(&state, &name)?;
    let filter = DeadFilter {
        destination: Some(name.clone()),
        ..Default::default()
    };
    let ids = state
        .store
        .replay(&filter, REPLAY_LIMIT, junction_core::time::now_ms())
        .await?;
    ui.engine.dispatcher.wake_all();
    tracing::info!(destination = %name, replayed = ids.len(), "dead letters replayed from the dashboard");
    Ok(Redirect::to(&format!("/ui/destinations/{name}?replayed={}", ids.len())).into_response())
}

pub async fn enable(
    State(state): State<AppState>,
    Extension(ui): Extension<Arc<Ui>>,
    Path(name): Path<String>,
) -> Result<Response, ApiError> {
    known(&state, &name)?;
    ui.engine.dispatcher.enable(&name).await?;
    tracing::info!(destination = %name, "destination enabled from the dashboard");
    Ok(Redirect::to(&format!("/ui/destinations/{name}?enabled=1")).into_response())
}

pub async fn disable(
    State(state): State<AppState>,
    Extension(ui): Extension<Arc<Ui>>,
    actor: Option<Extension<junction_server::admin::Actor>>,
    Path(name): Path<String>,
) -> Result<Response, ApiError> {
    known(&state, &name)?;
    let by = actor.map_or_else(|| "an operator".to_owned(), |a| a.0.id.clone());
    ui.engine
        .dispatcher
        .disable(&name, &format!("disabled by {by}"))
        .await;
    Ok(Redirect::to(&format!("/ui/destinations/{name}?disabled=1")).into_response())
}

fn known(state: &AppState, name: &str) -> Result<(), ApiError> {
    let config = state.config();
    if config.flows.destinations.contains_key(name) {
        return Ok(());
    }
    Err(unknown(
        name,
        config.flows.destinations.keys().map(String::as_str),
        "destination",
    ))
}

/// A 404 for a name the config does not have, with the nearest one.
pub(crate) fn unknown<'a>(
    name: &str,
    names: impl IntoIterator<Item = &'a str>,
    what: &str,
) -> ApiError {
    let mut err = Error::downstream(Code::NotFound, format!("no {what} named `{name}`"));
    if let Some(near) = junction_config::nearest(name, names) {
        err = err.with_hint(format!("did you mean `{near}`?"));
    }
    ApiError(err)
}
