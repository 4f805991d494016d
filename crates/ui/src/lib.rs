//! The dashboard at `/ui/`: server-rendered HTML from the binary, one small stylesheet, no
//! script needed and nothing fetched from elsewhere, so it works offline and behind any
//! proxy. Pages read the same store and runtime state as the admin API; actions (replay) are
//! plain form posts that go through the admin guard, so roles and the audit log apply.
//!
//! Why server-rendered: every page is one request, testable with an HTTP client or a headless
//! browser, with no front-end build in a Rust workspace and no API shape to keep in step.
//! Charts are inline SVG drawn from the per-minute history.
#![forbid(unsafe_code)]

mod api;
mod chart;
mod connections;
mod connector;
mod data;
mod dead;
mod deliveries;
mod destination;
mod events;
mod jobs;
mod layout;
mod login;
mod notices;
mod overview;
mod policy;
mod source;

use std::sync::Arc;

use axum::routing::{get, post};
use axum::Router;
use junction_server::admin::AdminAccess;
use junction_server::AppState;

/// What the pages read.
pub struct Ui {
    pub engine: Arc<junction_engine::Engine>,
    pub hub: Arc<junction_connect::Hub>,
    /// The admin API's OpenAPI document, for the reference page.
    pub openapi: serde_json::Value,
}

tokio::task_local! {
    /// Whether the page being rendered was asked for with a dashboard session (so "Sign out"
    /// means something).
    static SIGNED_IN: bool;
}

/// Whether the page being rendered belongs to a signed-in session.
pub(crate) fn signed_in() -> bool {
    SIGNED_IN.try_with(|v| *v).unwrap_or(false)
}

async fn note_session(
    req: axum::extract::Request,
    next: axum::middleware::Next,
) -> axum::response::Response {
    let signed_in = junction_server::admin::session_cookie(&req).is_some();
    SIGNED_IN.scope(signed_in, next.run(req)).await
}

/// The pages behind the admin guard.
pub fn routes(ui: Arc<Ui>) -> Router<AppState> {
    Router::new()
        .route(
            "/ui",
            get(|| async { axum::response::Redirect::permanent("/ui/") }),
        )
        .route("/ui/", get(overview::show))
        .route("/ui/events", get(events::list))
        .route("/ui/events/{id}", get(events::one))
        .route("/ui/deliveries", get(deliveries::list))
        .route("/ui/deliveries/{id}", get(deliveries::delivery))
        .route("/ui/dead-letters", get(dead::dead_letters))
        .route("/ui/quarantine", get(dead::quarantine))
        .route("/ui/deliveries/{id}/replay", post(dead::replay))
        .route("/ui/deliveries/{id}/discard", post(dead::discard))
        .route("/ui/connectors/{name}", get(connector::show))
        .route("/ui/sources/{name}", get(source::show))
        .route("/ui/destinations/{name}", get(destination::show))
        .route("/ui/destinations/{name}/enable", post(destination::enable))
        .route(
            "/ui/destinations/{name}/disable",
            post(destination::disable),
        )
        .route("/ui/destinations/{name}/replay", post(destination::replay))
        .route("/ui/api", get(api::show))
        .route("/ui/drift", get(notices::drift))
        .route("/ui/rejected", get(notices::rejected))
        .route("/ui/alerts", get(notices::alerts))
        .route("/ui/jobs", get(jobs::list))
        .route("/ui/connections", get(connections::list))
        .route("/ui/jobs/{name}/run", post(jobs::run))
        .route("/ui/jobs/{name}/pause", post(jobs::pause))
        .route("/ui/jobs/{name}/resume", post(jobs::resume))
        .layer(axum::middleware::from_fn(note_session))
        .layer(axum::Extension(ui))
        .layer(axum::middleware::map_response(layout::protect))
}

/// The login page and the stylesheet: reachable without a session.
pub fn public_routes(access: Arc<AdminAccess>) -> Router<AppState> {
    Router::new()
        // A person who opens the hub's address lands on the dashboard (or its sign-in page).
        .route("/", get(|| async { axum::response::Redirect::to("/ui/") }))
        .route("/ui/login", get(login::form).post(login::submit))
        .route("/ui/logout", post(login::logout))
        .route("/ui/style.css", get(layout::stylesheet))
        .layer(axum::Extension(access))
        .layer(axum::middleware::map_response(layout::protect))
}
