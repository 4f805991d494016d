//! `/ui/connections`: every connection of every connector — each tenant's account — with its
//! token state (never a token), a connection that needs re-authorization first, filtered by
//! tenant with `?name=`.

use std::sync::Arc;

use axum::extract::{Query, State};
use axum::response::Response;
use axum::Extension;
use junction_server::{ApiError, AppState};
use maud::html;
use serde::Deserialize;

use crate::layout::{badge, page, when};
use crate::Ui;

#[derive(Deserialize, Default)]
pub struct Filter {
    #[serde(default)]
    name: Option<String>,
}

pub async fn list(
    State(state): State<AppState>,
    Extension(ui): Extension<Arc<Ui>>,
    Query(filter): Query<Filter>,
) -> Result<Response, ApiError> {
    let name = filter.name.filter(|n| !n.is_empty() && n.len() <= 64);
    let mut rows: Vec<_> = state
        .store
        .connections()
        .await?
        .into_iter()
        .filter(|c| name.as_ref().is_none_or(|n| &c.name == n))
        .collect();
    // Those that need someone first, then by connector and name.
    rows.sort_by(|a, b| {
        let fine = |c: &junction_store::Connection| {
            c.state != junction_store::ConnectionState::NeedsReauth
        };
        (fine(a), &a.connector, &a.name).cmp(&(fine(b), &b.connector, &b.name))
    });
    let remaining = |connector: &str, connection: &str| {
        ui.hub
            .connector(connector)
            .and_then(|rt| rt.connection_upstream_remaining(connection))
    };
    let body = html! {
        form.filter method="get" action="/ui/connections" {
            label for="name" { "Tenant" } " "
            input #name type="text" name="name" value=(name.clone().unwrap_or_default()) maxlength="64";
            " " button type="submit" { "Show" }
        }
        @if rows.is_empty() {
            p.empty { "No connections" @if name.is_some() { " of this name" } ". End users connect their accounts through a connect session (" code { "POST /api/v1/connect-sessions" } "); an operator seeds one with " code { "junction connections set-token" } "." }
        } @else {
            table #connections {
                thead { tr { th { "Connector" } th { "Connection" } th { "State" } th { "Token expires (UTC)" } th.num { "Refresh failures" } th.num { "Vendor says left" } th { "Last error" } } }
                tbody { @for c in &rows {
                    tr {
                        td { a href={"/ui/connectors/" (c.connector)} { (c.connector) } }
                        td { code { (c.name) } }
                        td { (badge(&c.state.to_string())) }
                        td { (c.expires_at.map(when).unwrap_or_else(|| "–".into())) }
                        td.num { (c.failures) }
                        td.num { (remaining(&c.connector, &c.name).map(|r| r.to_string()).unwrap_or_else(|| "–".into())) }
                        td { (c.last_error.clone().unwrap_or_default()) }
                    }
                } }
            }
            p.muted { "A connection that needs re-authorization is repaired by its user through a new connect session: the same connection, its name unchanged." }
        }
    };
    Ok(page("Connections", "/ui/connections", None, None, body))
}
