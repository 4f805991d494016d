//! The admin API's OpenAPI 3.1 document, assembled from the handlers' annotations in each crate
//! and served at `/api/v1/openapi.json`.

use utoipa::openapi::security::{HttpAuthScheme, HttpBuilder, SecurityScheme};
use utoipa::OpenApi;

/// The whole document.
pub fn document() -> utoipa::openapi::OpenApi {
    let mut doc = junction_server::admin::ApiDoc::openapi();
    doc.merge(junction_engine::http::ApiDoc::openapi());
    doc.merge(junction_connect::ApiDoc::openapi());
    doc.merge(junction_connect::ProxyDoc::openapi());
    doc.merge(junction_connect::OpsDoc::openapi());
    doc.merge(super::reload::ApiDoc::openapi());
    doc.merge(junction_server::rollouts::ApiDoc::openapi());
    doc.merge(junction_engine::jobs::http::ApiDoc::openapi());
    doc.info = utoipa::openapi::InfoBuilder::new()
        .title("Junction admin API")
        .version(env!("CARGO_PKG_VERSION"))
        .description(Some(
            "Operate a Junction hub: dead letters and replay, quarantine, deliveries, destinations, \
             connectors, events, drift, alerts, the audit log, API tokens. Authenticate with an API \
             token that has a role (`junction tokens create NAME --role viewer|operator|admin`) as a \
             bearer token. Viewers read; operators also act; admins also manage tokens and read \
             secrets' metadata and the audit log. Errors are `{\"error\":{\"code\",\"message\",\"hint\"}}`.",
        ))
        .build();
    let components = doc.components.get_or_insert_with(Default::default);
    components.add_security_scheme(
        "bearer",
        SecurityScheme::Http(
            HttpBuilder::new()
                .scheme(HttpAuthScheme::Bearer)
                .description(Some("a Junction API token (`jct_…`) with a role scope"))
                .build(),
        ),
    );
    doc
}

/// `GET /api/v1/openapi.json`.
pub fn routes() -> axum::Router<junction_server::AppState> {
    let json = document().to_json().unwrap_or_else(|_| "{}".into());
    axum::Router::new().route(
        "/api/v1/openapi.json",
        axum::routing::get(move || {
            let json = json.clone();
            async move { ([(http_header(), "application/json")], json) }
        }),
    )
}

fn http_header() -> axum::http::HeaderName {
    axum::http::header::CONTENT_TYPE
}

#[cfg(test)]
mod tests {
    #[test]
    fn every_admin_route_is_documented() {
        let doc = super::document();
        let paths: Vec<&String> = doc.paths.paths.keys().collect();
        for p in [
            "/api/v1/dead-letters",
            "/api/v1/deliveries/{id}/replay",
            "/api/v1/connectors",
            "/api/v1/tokens/{id}",
            "/api/v1/audit/verify",
            "/api/v1/events",
            "/api/v1/alerts",
            "/api/v1/stats",
            "/api/v1/sources",
            "/api/v1/routes",
        ] {
            assert!(
                paths.iter().any(|x| x.as_str() == p),
                "{p} missing from {paths:?}"
            );
        }
        assert!(doc.to_json().unwrap().contains("\"openapi\":\"3.1.0\""));
    }
}
