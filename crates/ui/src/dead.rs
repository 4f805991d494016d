//! `/ui/dead-letters` and `/ui/quarantine`, with replay.

use std::sync::Arc;

use axum::extract::{Path, Query, State};
use axum::response::{IntoResponse, Redirect, Response};
use axum::Extension;
use junction_server::{ApiError, AppState};
use junction_store::DeadFilter;
use maud::html;
use serde::Deserialize;

use crate::layout::{badge, page, when};
use crate::Ui;

#[derive(Debug, Default, Deserialize)]
pub struct Params {
    destination: Option<String>,
    source: Option<String>,
    /// Set after a replay: the delivery replayed.
    replayed: Option<i64>,
    /// Set after a discard: the delivery discarded.
    discarded: Option<i64>,
}

pub async fn dead_letters(state: State<AppState>, q: Query<Params>) -> Result<Response, ApiError> {
    list(state, q, false).await
}

pub async fn quarantine(state: State<AppState>, q: Query<Params>) -> Result<Response, ApiError> {
    list(state, q, true).await
}

async fn list(
    State(state): State<AppState>,
    Query(q): Query<Params>,
    quarantined: bool,
) -> Result<Response, ApiError> {
    let filter = DeadFilter {
        quarantined,
        destination: q.destination.clone().filter(|s| !s.is_empty()),
        source: q.source.clone().filter(|s| !s.is_empty()),
        ..Default::default()
    };
    let rows = state.store.dead_letters(&filter, 0, 200).await?;
    let (title, href) = if quarantined {
        ("Quarantine", "/ui/quarantine")
    } else {
        ("Dead letters", "/ui/dead-letters")
    };
    let flash = q
        .replayed
        .map(|id| format!("Delivery #{id} replayed: it is due now."))
        .or(q
            .discarded
            .map(|id| format!("Delivery #{id} discarded: it will not be sent.")));
    let body = html! {
        p.muted {
            @if quarantined { "Deliveries whose mapping failed or whose output broke the destination's model. Fix the mapping, restart, then replay." }
            @else { "Deliveries that used every attempt or were refused for good. Replay sends them again now." }
        }
        @if rows.is_empty() { p.empty #none { "Nothing here." } } @else {
            table #dead {
                thead { tr { th { "Delivery" } th { "Destination" } th { "Event" } th { "Type" } th.num { "Attempts" } th { "Reason" } th { "Since (UTC)" } th {} } }
                tbody { @for r in &rows {
                    @let d = &r.delivery;
                    tr data-delivery=(d.id) {
                        td { a href={"/ui/deliveries/" (d.id)} { "#" (d.id) } }
                        td { a href={"/ui/destinations/" (d.destination)} { (d.destination) } }
                        td { code { (r.external_id) } }
                        td { (r.event_type) }
                        td.num { (d.attempts) }
                        td { (badge(d.state.as_str())) " " (d.dead_reason.clone().unwrap_or_default()) }
                        td { (d.finished_at.map(when).unwrap_or_default()) }
                        td.actions {
                            form method="post" action={"/ui/deliveries/" (d.id) "/replay"} { button type="submit" { "Replay" } }
                            form method="post" action={"/ui/deliveries/" (d.id) "/discard"} { button.secondary type="submit" { "Discard" } }
                        }
                    }
                } }
            }
        }
    };
    Ok(page(title, href, flash.as_deref(), None, body))
}

/// Where to go back to after acting on delivery `id`: its list.
async fn list_of(state: &AppState, id: i64) -> Result<&'static str, ApiError> {
    let quarantined = state
        .store
        .delivery(id)
        .await?
        .is_some_and(|d| d.state.as_str() == "quarantined");
    Ok(if quarantined {
        "/ui/quarantine"
    } else {
        "/ui/dead-letters"
    })
}

pub async fn replay(
    Extension(ui): Extension<Arc<Ui>>,
    State(state): State<AppState>,
    Path(id): Path<i64>,
) -> Result<Response, ApiError> {
    let back = list_of(&state, id).await?;
    ui.engine.replay_delivery(id).await.map_err(ApiError)?;
    Ok(Redirect::to(&format!("{back}?replayed={id}")).into_response())
}

pub async fn discard(
    Extension(ui): Extension<Arc<Ui>>,
    actor: Option<Extension<junction_server::admin::Actor>>,
    State(state): State<AppState>,
    Path(id): Path<i64>,
) -> Result<Response, ApiError> {
    let back = list_of(&state, id).await?;
    let by = actor.map_or_else(|| "an operator".to_owned(), |a| a.0.id.clone());
    ui.engine
        .discard_delivery(id, &by)
        .await
        .map_err(ApiError)?;
    Ok(Redirect::to(&format!("{back}?discarded={id}")).into_response())
}
