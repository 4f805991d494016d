//! Signing in to the dashboard with an API token (kept in an HttpOnly, SameSite=Strict cookie).
//! Posts that ride on the cookie are checked to come from this origin by the admin guard.

use std::sync::Arc;

use axum::extract::ConnectInfo;
use axum::response::{IntoResponse, Redirect, Response};
use axum::{Extension, Form};
use junction_server::admin::{AdminAccess, SESSION_COOKIE};
use maud::html;
use serde::Deserialize;

use crate::layout::page;

pub async fn form() -> Response {
    login_page(None)
}

fn login_page(error: Option<&str>) -> Response {
    let body = html! {
        div.login {
            p { "Sign in with an API token that has a role (" code { "junction tokens create NAME --role viewer" } ")." }
            @if let Some(e) = error { p.flash role="alert" { (e) } }
            form method="post" action="/ui/login" {
                label for="token" { "API token" }
                input #token type="password" name="token" autocomplete="off" required;
                button type="submit" { "Sign in" }
            }
        }
    };
    page("Sign in", "", None, None, body)
}

#[derive(Deserialize)]
pub struct Login {
    token: String,
}

pub async fn submit(
    Extension(access): Extension<Arc<AdminAccess>>,
    peer: Option<Extension<ConnectInfo<std::net::SocketAddr>>>,
    Form(f): Form<Login>,
) -> Response {
    let origin = peer.map_or_else(|| "unknown".into(), |p| p.0 .0.ip().to_string());
    let token = f.token.trim();
    match access.authenticate(token, &origin).await {
        Ok(actor) => {
            tracing::info!(actor = %actor.id, %origin, "dashboard sign-in");
            let cookie = format!(
                "{SESSION_COOKIE}={token}; Path=/; HttpOnly; SameSite=Strict; Max-Age=43200"
            );
            ([(http::header::SET_COOKIE, cookie)], Redirect::to("/ui/")).into_response()
        }
        Err(e) => {
            let mut r = login_page(Some(&format!("{e}")));
            *r.status_mut() = http::StatusCode::UNAUTHORIZED;
            r
        }
    }
}

pub async fn logout() -> Response {
    let cookie = format!("{SESSION_COOKIE}=; Path=/; HttpOnly; SameSite=Strict; Max-Age=0");
    (
        [(http::header::SET_COOKIE, cookie)],
        Redirect::to("/ui/login"),
    )
        .into_response()
}
