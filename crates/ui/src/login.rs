//! Signing in to the dashboard with an API token (kept in an HttpOnly, SameSite=Strict cookie).
//! Posts that ride on the cookie are checked to come from this origin by the admin guard; the
//! sign-in and sign-out forms check it themselves (they are reachable without a session).

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

/// A sign-in or sign-out another site's page sent: refused with the form, so a visitor cannot be
/// signed in to an attacker's session (login CSRF) or signed out.
fn cross_site() -> Response {
    let mut r = login_page(Some(
        "this form must be sent from Junction's own sign-in page",
    ));
    *r.status_mut() = http::StatusCode::FORBIDDEN;
    r
}

pub async fn submit(
    Extension(access): Extension<Arc<AdminAccess>>,
    peer: Option<Extension<ConnectInfo<std::net::SocketAddr>>>,
    tls: Option<Extension<junction_server::tls::OverTls>>,
    headers: http::HeaderMap,
    Form(f): Form<Login>,
) -> Response {
    if !junction_server::admin::same_origin(&headers) {
        return cross_site();
    }
    let origin = peer.map_or_else(|| "unknown".into(), |p| p.0 .0.ip().to_string());
    let token = f.token.trim();
    match access.authenticate(token, &origin).await {
        Ok(actor) => {
            tracing::info!(actor = %actor.id, %origin, "dashboard sign-in");
            // Over HTTPS the browser must never send it over plain HTTP.
            let secure = if tls.is_some() { "; Secure" } else { "" };
            let cookie = format!(
                "{SESSION_COOKIE}={token}; Path=/; HttpOnly; SameSite=Strict; Max-Age=43200{secure}"
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

pub async fn logout(headers: http::HeaderMap) -> Response {
    if !junction_server::admin::same_origin(&headers) {
        return cross_site();
    }
    let cookie = format!("{SESSION_COOKIE}=; Path=/; HttpOnly; SameSite=Strict; Max-Age=0");
    (
        [(http::header::SET_COOKIE, cookie)],
        Redirect::to("/ui/login"),
    )
        .into_response()
}
