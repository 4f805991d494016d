//! The admin API's own routes: who am I, API tokens, secrets' metadata, the audit log.

use std::sync::Arc;

use axum::extract::{Path, Query};
use axum::response::{IntoResponse, Response};
use axum::routing::{delete, get};
use axum::{Extension, Json, Router};
use http::StatusCode;
use junction_core::time::now_ms;
use junction_core::{Code, Error};
use junction_store::ApiToken;
use serde::Deserialize;
use std::collections::BTreeMap;

use serde_json::json;

use super::bodies::*;
use super::{Actor, AdminAccess};
use crate::errors::ErrorBody;
use crate::{api_tokens, ApiError, AppState};

/// The OpenAPI paths of these routes.
#[derive(utoipa::OpenApi)]
#[openapi(
    paths(
        whoami,
        list_tokens,
        create_token,
        revoke_token,
        secrets,
        audit,
        verify,
        stats,
        alerts,
        events,
        event,
        sources,
        routes_list
    ),
    components(schemas(
        ErrorBody,
        TokenItem,
        TokenList,
        SecretItem,
        SecretList,
        AuditEntry,
        AuditList,
        AuditVerdict,
        StatsPoint,
        StatsSeries,
        Stats,
        AlertItem,
        AlertList,
        EventItem,
        EventList,
        EventDelivery,
        EventDetail,
        PickView,
        VerifyView,
        ExtractView,
        SourceItem,
        SourceList,
        RouteItem,
        RouteList,
        WhoAmI
    ))
)]
pub struct ApiDoc;

/// `/api/v1/whoami`, `/api/v1/tokens`, `/api/v1/secrets`, `/api/v1/audit`: to be mounted
/// behind [`super::guard`].
pub fn routes(access: Arc<AdminAccess>) -> Router<AppState> {
    Router::new()
        .route("/api/v1/whoami", get(whoami))
        .route("/api/v1/tokens", get(list_tokens).post(create_token))
        .route("/api/v1/tokens/{id}", delete(revoke_token))
        .route("/api/v1/secrets", get(secrets))
        .route("/api/v1/audit", get(audit))
        .route("/api/v1/audit/verify", get(verify))
        .route("/api/v1/stats", get(stats))
        .route("/api/v1/alerts", get(alerts))
        .route("/api/v1/events", get(events))
        .route("/api/v1/sources", get(sources))
        .route("/api/v1/routes", get(routes_list))
        .route("/api/v1/events/{id}", get(event))
        .layer(Extension(access))
}

type Access = Extension<Arc<AdminAccess>>;

#[utoipa::path(get, path = "/api/v1/whoami", tag = "admin", summary = "Who the caller is, and their role", responses((status = 200, description = "OK", body = WhoAmI), (status = 400, description = "Invalid parameters", body = ErrorBody), (status = 401, description = "No or unknown token", body = ErrorBody), (status = 403, description = "The token's role is too low", body = ErrorBody), (status = 503, description = "The store is unavailable", body = ErrorBody)), security(("bearer" = [])))]
async fn whoami(Extension(actor): Extension<Actor>) -> Json<WhoAmI> {
    Json(WhoAmI {
        id: actor.id,
        role: actor.role.as_str().to_owned(),
        origin: actor.origin,
    })
}

#[utoipa::path(get, path = "/api/v1/tokens", tag = "admin", summary = "API tokens (never their values)", responses((status = 200, description = "OK", body = TokenList), (status = 400, description = "Invalid parameters", body = ErrorBody), (status = 401, description = "No or unknown token", body = ErrorBody), (status = 403, description = "The token's role is too low", body = ErrorBody), (status = 503, description = "The store is unavailable", body = ErrorBody)), security(("bearer" = [])))]
async fn list_tokens(Extension(access): Access) -> Result<Json<TokenList>, ApiError> {
    let tokens = access.store().api_tokens().await?;
    Ok(Json(TokenList {
        tokens: tokens.iter().map(TokenItem::from).collect(),
    }))
}

#[derive(Debug, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
struct NewToken {
    #[schema(min_length = 1)]
    name: String,
    /// `proxy:CONNECTOR:METHOD` or `role:viewer|operator|admin`.
    #[schema(min_items = 1)]
    scopes: Vec<String>,
    /// A lifetime such as `90d`.
    #[serde(default)]
    expires_in: Option<String>,
}

#[utoipa::path(post, path = "/api/v1/tokens", tag = "admin", summary = "Create an API token; its value is shown once", request_body = NewToken, responses((status = 201, description = "Created: `token` is the value, shown this once", body = TokenItem), (status = 400, description = "Invalid parameters", body = ErrorBody), (status = 401, description = "No or unknown token", body = ErrorBody), (status = 403, description = "The token's role is too low", body = ErrorBody), (status = 503, description = "The store is unavailable", body = ErrorBody)), security(("bearer" = [])))]
async fn create_token(
    Extension(access): Access,
    Extension(actor): Extension<Actor>,
    body: axum::body::Bytes,
) -> Result<Response, ApiError> {
    let bad =
        |m: String, hint: &str| ApiError(Error::downstream(Code::BadRequest, m).with_hint(hint));
    let req: NewToken = serde_json::from_slice(&body).map_err(|e| {
        bad(
            format!("invalid token request: {e}"),
            r#"send {"name": "billing", "scopes": ["proxy:crm:GET", "role:viewer"], "expires_in": "90d"}"#,
        )
    })?;
    if req.name.trim().is_empty() || req.scopes.is_empty() {
        return Err(bad(
            "a token needs a name and at least one scope".into(),
            "scopes are proxy:CONNECTOR:METHOD or role:viewer|operator|admin",
        ));
    }
    if let Some(s) = req.scopes.iter().find(|s| !api_tokens::valid_scope(s)) {
        return Err(bad(
            format!("invalid scope `{s}`"),
            "scopes are proxy:CONNECTOR:METHOD (methods in capitals, * for any) or role:viewer|operator|admin",
        ));
    }
    let now = now_ms();
    let expires_at = match &req.expires_in {
        Some(e) => Some(
            now + junction_core::time::ms(humantime::parse_duration(e).map_err(|err| {
                bad(
                    format!("invalid expires_in `{e}`: {err}"),
                    "e.g. 90d or 12h",
                )
            })?),
        ),
        None => None,
    };
    let (text, id, hash) = api_tokens::generate();
    let token = ApiToken {
        id,
        name: req.name,
        token_hash: hash,
        scopes: req.scopes.join(" "),
        created_at: now,
        expires_at,
        revoked_at: None,
    };
    // Which token this was, as the CLI records it: the request's own entry names only the route.
    access
        .audit(
            &actor,
            "token.create",
            &token.id,
            json!({ "name": token.name, "scopes": req.scopes, "expires_at": expires_at }),
        )
        .await?;
    access.store().add_api_token(token.clone()).await?;
    let mut body = TokenItem::from(&token);
    body.token = Some(text);
    Ok((StatusCode::CREATED, Json(body)).into_response())
}

#[utoipa::path(delete, path = "/api/v1/tokens/{id}", tag = "admin", summary = "Revoke an API token", params(("id" = String, Path, description = "The token id")), responses((status = 204, description = "Revoked"), (status = 404, description = "Not found", body = ErrorBody), (status = 400, description = "Invalid parameters", body = ErrorBody), (status = 401, description = "No or unknown token", body = ErrorBody), (status = 403, description = "The token's role is too low", body = ErrorBody), (status = 503, description = "The store is unavailable", body = ErrorBody)), security(("bearer" = [])))]
async fn revoke_token(
    Extension(access): Access,
    Path(id): Path<String>,
) -> Result<StatusCode, ApiError> {
    if access.store().revoke_api_token(&id, now_ms()).await? {
        Ok(StatusCode::NO_CONTENT)
    } else {
        Err(ApiError(
            Error::downstream(Code::NotFound, format!("no active API token `{id}`"))
                .with_hint("GET /api/v1/tokens lists them"),
        ))
    }
}

#[utoipa::path(get, path = "/api/v1/secrets", tag = "admin", summary = "Secrets' names, versions and dates (never values)", responses((status = 200, description = "OK", body = SecretList), (status = 400, description = "Invalid parameters", body = ErrorBody), (status = 401, description = "No or unknown token", body = ErrorBody), (status = 403, description = "The token's role is too low", body = ErrorBody), (status = 503, description = "The store is unavailable", body = ErrorBody)), security(("bearer" = [])))]
async fn secrets(Extension(access): Access) -> Result<Json<SecretList>, ApiError> {
    let secrets = access
        .store()
        .secrets()
        .await?
        .iter()
        .map(|s| SecretItem {
            name: s.name.clone(),
            version: s.version,
            master_key_version: s.master_version,
            created_at_ms: s.created_at,
            updated_at_ms: s.updated_at,
        })
        .collect();
    Ok(Json(SecretList { secrets }))
}

#[derive(Debug, Deserialize, utoipa::IntoParams)]
#[into_params(parameter_in = Query)]
#[serde(deny_unknown_fields)]
struct AuditQuery {
    /// Entries after this sequence number, oldest first; without it, the newest first.
    after: Option<i64>,
    limit: Option<usize>,
}

#[utoipa::path(get, path = "/api/v1/audit", tag = "admin", summary = "The audit log, newest first or after a sequence number", params(AuditQuery), responses((status = 200, description = "OK", body = AuditList), (status = 400, description = "Invalid parameters", body = ErrorBody), (status = 401, description = "No or unknown token", body = ErrorBody), (status = 403, description = "The token's role is too low", body = ErrorBody), (status = 503, description = "The store is unavailable", body = ErrorBody)), security(("bearer" = [])))]
async fn audit(
    Extension(access): Access,
    Query(q): Query<AuditQuery>,
) -> Result<Json<AuditList>, ApiError> {
    let limit = q.limit.unwrap_or(100).clamp(1, 1000);
    let entries = match q.after {
        Some(after) => access.store().audit_after(after, limit).await?,
        None => access.store().audit_newest(limit).await?,
    };
    Ok(Json(AuditList {
        entries: entries.into_iter().map(AuditEntry::from).collect(),
    }))
}

#[utoipa::path(get, path = "/api/v1/audit/verify", tag = "admin", summary = "Verify the audit log's hash chain", responses((status = 200, description = "OK", body = AuditVerdict), (status = 400, description = "Invalid parameters", body = ErrorBody), (status = 401, description = "No or unknown token", body = ErrorBody), (status = 403, description = "The token's role is too low", body = ErrorBody), (status = 503, description = "The store is unavailable", body = ErrorBody)), security(("bearer" = [])))]
async fn verify(Extension(access): Access) -> Result<Json<AuditVerdict>, ApiError> {
    let head = access.store().audit_head().await?;
    let (ok, entries, error) =
        match junction_store::ops::verify_audit(access.store().as_ref()).await? {
            Ok(n) => (true, Some(n), None),
            Err(b) => (false, None, Some(b.to_string())),
        };
    Ok(Json(AuditVerdict {
        ok,
        entries,
        error,
        head: head.as_ref().map(|h| h.0),
        head_hash: head.map(|h| h.1),
    }))
}

#[derive(Debug, Deserialize, utoipa::IntoParams)]
#[into_params(parameter_in = Query)]
#[serde(deny_unknown_fields)]
struct StatsQuery {
    /// How far back, in minutes (default 60, at most 2880).
    minutes: Option<i64>,
    /// `connector`, `source` or `destination`; default all.
    kind: Option<String>,
}

/// Per-minute history of every series, merged across processes.
#[utoipa::path(get, path = "/api/v1/stats", tag = "observe", summary = "Per-minute history of connectors, sources and destinations", params(StatsQuery), responses((status = 200, description = "OK", body = Stats), (status = 400, description = "Invalid parameters", body = ErrorBody), (status = 401, description = "No or unknown token", body = ErrorBody), (status = 403, description = "The token's role is too low", body = ErrorBody), (status = 503, description = "The store is unavailable", body = ErrorBody)), security(("bearer" = [])))]
async fn stats(
    Extension(access): Access,
    Query(q): Query<StatsQuery>,
) -> Result<Json<Stats>, ApiError> {
    use junction_telemetry::history;
    let span = q.minutes.unwrap_or(60).clamp(1, 2880);
    let since = history::minute_of(now_ms()) - (span - 1) * history::MINUTE_MS;
    let merged = crate::history::merged(access.store().as_ref(), since).await?;
    Ok(Json(Stats {
        since_ms: since,
        series: series(&merged, since, q.kind.as_deref()),
    }))
}

/// The counters of `f`, by name.
fn counts(
    f: &junction_telemetry::history::Figures,
    kind: junction_telemetry::history::Kind,
) -> BTreeMap<String, u64> {
    kind.counters()
        .iter()
        .enumerate()
        .map(|(i, name)| ((*name).to_owned(), f.count(i)))
        .collect()
}

/// The series of `merged`: totals, p95 and per-minute points.
fn series(
    merged: &junction_telemetry::history::Merged,
    since: i64,
    kind: Option<&str>,
) -> Vec<StatsSeries> {
    use junction_telemetry::history;
    merged
        .iter()
        .filter(|((k, _), _)| kind.is_none_or(|want| k.as_str() == want))
        .map(|((k, name), minutes)| {
            let total = history::total(minutes, since);
            StatsSeries {
                kind: k.as_str().to_owned(),
                name: name.clone(),
                totals: counts(&total, *k),
                p95_ms: total.quantile_ms(0.95),
                points: minutes
                    .range(since..)
                    .map(|(m, f)| StatsPoint {
                        minute_ms: *m,
                        p95_ms: f.quantile_ms(0.95),
                        counts: counts(f, *k),
                    })
                    .collect(),
            }
        })
        .collect()
}

/// Every alert, firing first.
#[utoipa::path(get, path = "/api/v1/alerts", tag = "observe", summary = "Alerts, firing first", responses((status = 200, description = "OK", body = AlertList), (status = 400, description = "Invalid parameters", body = ErrorBody), (status = 401, description = "No or unknown token", body = ErrorBody), (status = 403, description = "The token's role is too low", body = ErrorBody), (status = 503, description = "The store is unavailable", body = ErrorBody)), security(("bearer" = [])))]
async fn alerts(Extension(access): Access) -> Result<Json<AlertList>, ApiError> {
    let all = access.store().alerts().await?;
    Ok(Json(AlertList {
        firing: all
            .iter()
            .filter(|a| a.state == junction_store::AlertState::Firing)
            .count(),
        alerts: all.into_iter().map(AlertItem::from).collect(),
    }))
}

#[derive(Debug, Default, Deserialize, utoipa::IntoParams)]
#[into_params(parameter_in = Query)]
#[serde(deny_unknown_fields)]
pub struct EventQuery {
    pub source: Option<String>,
    #[serde(rename = "type")]
    pub event_type: Option<String>,
    pub key: Option<String>,
    /// The provider's event id.
    pub id: Option<String>,
    /// Received at or after, unix ms.
    pub since: Option<i64>,
    /// Received before, unix ms.
    pub until: Option<i64>,
    /// The next page: events with a smaller stored id.
    pub before: Option<i64>,
    pub limit: Option<usize>,
}

impl EventQuery {
    pub fn filter(&self) -> junction_store::EventFilter {
        let some = |s: &Option<String>| s.clone().filter(|v| !v.is_empty());
        junction_store::EventFilter {
            source: some(&self.source),
            event_type: some(&self.event_type),
            entity_key: some(&self.key),
            external_id: some(&self.id),
            since: self.since,
            until: self.until,
            before_id: self.before,
        }
    }
}

/// Events, newest first, by source, type, key, provider id and time.
#[utoipa::path(get, path = "/api/v1/events", tag = "events", summary = "Search events by source, type, key, provider id and time", params(EventQuery), responses((status = 200, description = "OK", body = EventList), (status = 400, description = "Invalid parameters", body = ErrorBody), (status = 401, description = "No or unknown token", body = ErrorBody), (status = 403, description = "The token's role is too low", body = ErrorBody), (status = 503, description = "The store is unavailable", body = ErrorBody)), security(("bearer" = [])))]
async fn events(
    Extension(access): Access,
    Query(q): Query<EventQuery>,
) -> Result<Json<EventList>, ApiError> {
    let limit = q.limit.unwrap_or(50).clamp(1, 500);
    let found = access.store().events(&q.filter(), limit).await?;
    let next = (found.len() == limit)
        .then(|| found.last().map(|e| e.id))
        .flatten();
    Ok(Json(EventList {
        events: found.iter().map(EventItem::from).collect(),
        next_before: next,
    }))
}

/// One event with its payload and every delivery of it.
#[utoipa::path(get, path = "/api/v1/events/{id}", tag = "events", summary = "One event with its payload and deliveries", params(("id" = i64, Path, description = "The stored event id")), responses((status = 200, description = "OK", body = EventDetail), (status = 404, description = "Not found", body = ErrorBody), (status = 400, description = "Invalid parameters", body = ErrorBody), (status = 401, description = "No or unknown token", body = ErrorBody), (status = 403, description = "The token's role is too low", body = ErrorBody), (status = 503, description = "The store is unavailable", body = ErrorBody)), security(("bearer" = [])))]
async fn event(
    Extension(access): Access,
    actor: Option<Extension<super::Actor>>,
    Path(id): Path<i64>,
) -> Result<Json<EventDetail>, ApiError> {
    let e = access.store().event(id).await?.ok_or_else(|| {
        ApiError(
            Error::downstream(Code::NotFound, format!("no event {id}"))
                .with_hint("GET /api/v1/events lists them (ids are the stored ids)"),
        )
    })?;
    let deliveries = access.store().deliveries_of(id).await?;
    Ok(Json(EventDetail {
        event: EventItem::from(&e),
        traceparent: e.context.traceparent.clone(),
        headers: e.context.headers.iter().cloned().collect(),
        payload: super::payload_view(&e.payload, actor.as_ref().map(|a| &a.0)),
        deliveries: deliveries
            .iter()
            .map(|d| EventDelivery {
                id: d.id,
                route: d.route.clone(),
                destination: d.destination.clone(),
                state: d.state.as_str().to_owned(),
                attempts: d.attempts,
                last_status: d.last_status,
                last_error: d.last_error.clone(),
                dead_reason: d.dead_reason.clone(),
            })
            .collect(),
    }))
}

fn pick_view(p: &Option<junction_config::Pick>) -> Option<PickView> {
    p.as_ref().map(|p| match p {
        junction_config::Pick::Header(h) => PickView {
            header: Some(h.clone()),
            jq: None,
        },
        junction_config::Pick::Jq(prog) => PickView {
            header: None,
            jq: Some(prog.code().to_owned()),
        },
    })
}

/// A config enum's name as written in `junction.yaml`.
fn word<T: serde::Serialize>(v: &T) -> String {
    serde_json::to_value(v)
        .ok()
        .and_then(|v| v.as_str().map(str::to_owned))
        .unwrap_or_default()
}

/// Sources as configured (never their secrets), the routes reading them, and the last five
/// minutes' figures.
#[utoipa::path(get, path = "/api/v1/sources", tag = "events", summary = "Sources: verification, extraction, routes, last 5 minutes", responses((status = 200, description = "OK", body = SourceList), (status = 400, description = "Invalid parameters", body = ErrorBody), (status = 401, description = "No or unknown token", body = ErrorBody), (status = 403, description = "The token's role is too low", body = ErrorBody), (status = 503, description = "The store is unavailable", body = ErrorBody)), security(("bearer" = [])))]
async fn sources(
    axum::extract::State(state): axum::extract::State<AppState>,
) -> Result<Json<SourceList>, ApiError> {
    use junction_telemetry::history;
    let since = history::minute_of(now_ms()) - 4 * history::MINUTE_MS;
    let merged = crate::history::merged(state.store.as_ref(), since).await?;
    let config = state.config();
    let flows = &config.flows;
    let sources = flows
        .sources
        .values()
        .map(|s| SourceItem {
            name: s.name.clone(),
            kind: if s.pull.is_some() { "sync" } else { "webhook" }.into(),
            path: s.pull.is_none().then(|| format!("/webhooks/{}", s.name)),
            pulls: s
                .pull
                .as_ref()
                .map(|p| format!("{}/{}", p.connector, p.operation)),
            verify: VerifyView {
                preset: word(&s.verify.preset),
                secrets: s.verify.secrets.len(),
                tolerance_s: s.verify.tolerance.as_secs(),
            },
            format: word(&s.format),
            event: ExtractView {
                id: pick_view(&s.event.id),
                event_type: pick_view(&s.event.event_type),
                key: pick_view(&s.event.key),
                sequence: pick_view(&s.event.sequence),
            },
            forward_headers: s.forward_headers.clone(),
            routes: flows
                .routes
                .values()
                .filter(|r| r.from == s.name)
                .map(|r| r.name.clone())
                .collect(),
            last_5_minutes: merged
                .get(&(history::Kind::Source, s.name.clone()))
                .map(|m| counts(&history::total(m, since), history::Kind::Source)),
        })
        .collect();
    Ok(Json(SourceList { sources }))
}

/// Routes as configured: source, event types, predicate, ordering, mapping, destinations.
#[utoipa::path(get, path = "/api/v1/routes", tag = "events", summary = "Routes: what goes where, in what order, in what shape", responses((status = 200, description = "OK", body = RouteList), (status = 400, description = "Invalid parameters", body = ErrorBody), (status = 401, description = "No or unknown token", body = ErrorBody), (status = 403, description = "The token's role is too low", body = ErrorBody), (status = 503, description = "The store is unavailable", body = ErrorBody)), security(("bearer" = [])))]
async fn routes_list(
    axum::extract::State(state): axum::extract::State<AppState>,
) -> Json<RouteList> {
    let routes = state
        .config()
        .flows
        .routes
        .values()
        .map(|r| RouteItem {
            name: r.name.clone(),
            from: r.from.clone(),
            types: r.types.clone(),
            filter: r.filter.as_ref().map(|p| p.code().to_owned()),
            ordering: word(&r.ordering),
            map: r.map.clone(),
            to: r.to.clone(),
        })
        .collect();
    Json(RouteList { routes })
}
