//! HTTP for the event paths: `POST /webhooks/{source}` and the delivery admin endpoints under
//! `/api/v1` (dead letters, replay, deliveries, destinations).
//!
//! Admin access (roles, the audit log) is checked by `junction_server::admin::guard`, mounted by
//! whoever assembles the server.

use std::sync::Arc;

use axum::body::Bytes;
use axum::extract::{Path, Query, State};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use axum::{Json, Router};
use http::{HeaderMap, StatusCode};
use junction_core::time::now_ms;
use junction_core::{Code, Error};
use junction_server::errors::ErrorBody;
use junction_server::{ApiError, AppState};
use junction_store::DeadFilter;
use serde::Deserialize;
use serde_json::Value;

use crate::bodies::*;
use crate::Engine;

/// The OpenAPI paths of the delivery admin endpoints.
#[derive(utoipa::OpenApi)]
#[openapi(
    paths(
        webhook,
        list_dead,
        list_quarantined,
        replay_many,
        replay_quarantined,
        drift,
        crate::browse::list,
        delivery,
        replay_one,
        discard_one,
        discard_many,
        discard_quarantined,
        destinations,
        enable,
        disable,
        rejected,
        erase,
        erasures,
        retention
    ),
    components(schemas(
        RejectedItem,
        RejectedList,
        DeliveryItem,
        DeliveryList,
        DriftItem,
        DriftList,
        DeadItem,
        DeadList,
        Replayed,
        Discarded,
        ReplayedOne,
        DiscardedOne,
        AttemptItem,
        DeliveryDetail,
        DestinationItem,
        DestinationList,
        DestinationSwitched,
        ErasureRequest,
        ErasedItem,
        ErasureDone,
        ErasureItem,
        ErasureList,
        RetentionItem,
        RetentionList,
        crate::ingest::Accepted
    ))
)]
pub struct ApiDoc;

/// `POST /webhooks/{source}`: public, authenticated by each source's verifier.
pub fn routes(engine: Arc<Engine>) -> Router<AppState> {
    Router::new()
        .route("/webhooks/{source}", post(webhook))
        .layer(axum::Extension(engine))
}

/// The delivery admin endpoints under `/api/v1`: to be mounted behind the admin guard
/// (`junction_server::admin::guard`).
pub fn admin_routes(engine: Arc<Engine>) -> Router<AppState> {
    crate::jobs::http::routes(engine.scheduler.clone())
        .route("/api/v1/dead-letters", get(list_dead))
        .route("/api/v1/dead-letters/replay", post(replay_many))
        .route("/api/v1/quarantine", get(list_quarantined))
        .route("/api/v1/drift", get(drift))
        .route("/api/v1/quarantine/replay", post(replay_quarantined))
        .route("/api/v1/deliveries", get(crate::browse::list))
        .route("/api/v1/deliveries/{id}", get(delivery))
        .route("/api/v1/deliveries/{id}/replay", post(replay_one))
        .route("/api/v1/deliveries/{id}/discard", post(discard_one))
        .route("/api/v1/dead-letters/discard", post(discard_many))
        .route("/api/v1/quarantine/discard", post(discard_quarantined))
        .route("/api/v1/destinations", get(destinations))
        .route("/api/v1/destinations/{name}/enable", post(enable))
        .route("/api/v1/destinations/{name}/disable", post(disable))
        .route("/api/v1/rejected", get(rejected))
        .route("/api/v1/erasures", get(erasures).post(erase))
        .route("/api/v1/retention", get(retention))
        .layer(axum::Extension(engine))
}

type Eng = axum::Extension<Arc<Engine>>;

/// A provider's webhook: verified by the source's preset (signature, timestamp, credentials),
/// its id, type, key and sequence read, matched to routes, and stored with its deliveries in
/// one transaction before the answer. A repeat of an id already stored answers 200 and stores
/// nothing. Authenticated by the source's verification, not by an API token.
#[utoipa::path(post, path = "/webhooks/{source}", tag = "webhooks", summary = "Receive a provider's webhook",
    params(("source" = String, Path, description = "The source's name under `sources:`")),
    request_body(content = Vec<u8>, description = "The provider's body, as it signed it (JSON, XML or form, per the source's `format`)", content_type = "application/octet-stream"),
    responses(
        (status = 202, description = "Verified and durably stored with its deliveries", body = crate::ingest::Accepted),
        (status = 200, description = "A repeat of an event already stored, or an event about an erased data subject: nothing new was written", body = crate::ingest::Accepted),
        (status = 400, description = "The body cannot be read (not the source's format, or no event id where one is required)", body = ErrorBody),
        (status = 401, description = "The signature, timestamp or credentials do not verify", body = ErrorBody),
        (status = 404, description = "No source of that name", body = ErrorBody),
        (status = 413, description = "The body is larger than `server.body_limit`", body = ErrorBody),
        (status = 429, description = "The source is over its `rate_limits`: nothing was checked or stored; retry after `Retry-After`", body = ErrorBody),
        (status = 503, description = "The store is unavailable: nothing was stored; the provider should retry", body = ErrorBody)),
    security(()))]
async fn webhook(
    axum::Extension(engine): Eng,
    Path(source): Path<String>,
    client: Option<axum::Extension<junction_server::tls::ClientNames>>,
    headers: HeaderMap,
    body: Bytes,
) -> Result<Response, ApiError> {
    let client = client.as_ref().map(|c| &c.0);
    let accepted = engine
        .ingest
        .accept(&source, &headers, &body, client, now_ms())
        .await
        .map_err(|e| ApiError(e.into()))?;
    let status = if accepted.duplicate || accepted.erased {
        StatusCode::OK
    } else {
        StatusCode::ACCEPTED
    };
    Ok((status, Json(accepted)).into_response())
}

/// Erases every trace of one data subject: the events the sources' `event.subject` tied to it
/// with their deliveries, dead letters, quarantine, attempts and excerpts, tracked entities, and
/// the rejected-request samples, drift details and asynchronous calls containing the
/// identifier. Admin only; audited (who, why, the subject's hash — never the identifier). Later
/// events about the subject are acknowledged and not stored.
#[utoipa::path(post, path = "/api/v1/erasures", tag = "data", summary = "Erase a data subject", request_body = ErasureRequest, responses((status = 200, description = "Erased", body = ErasureDone), (status = 400, description = "Invalid request", body = ErrorBody), (status = 401, description = "No or unknown token", body = ErrorBody), (status = 403, description = "The token's role is too low", body = ErrorBody), (status = 503, description = "The store is unavailable: nothing was erased", body = ErrorBody)), security(("bearer" = [])))]
async fn erase(
    State(state): State<AppState>,
    actor: Option<axum::Extension<junction_server::admin::Actor>>,
    body: Bytes,
) -> Result<Json<ErasureDone>, ApiError> {
    let hint = r#"send {"subject": "cus_123", "reason": "GDPR request #42"}"#;
    let req: ErasureRequest = serde_json::from_slice(&body).map_err(|e| {
        // serde's message can quote the input: never echo the identifier back.
        let why = if e.is_data() {
            "unexpected or missing fields"
        } else {
            "not JSON"
        };
        ApiError(
            Error::downstream(Code::BadRequest, format!("invalid erasure request: {why}"))
                .with_hint(hint),
        )
    })?;
    let (id, origin) = actor.map_or_else(
        || ("an operator".to_owned(), "unknown".to_owned()),
        |a| (a.0.id.clone(), a.0.origin.clone()),
    );
    let (subject_hash, erased) = crate::erase::erase(
        state.store.as_ref(),
        &req.subject,
        &req.reason,
        crate::erase::Requester {
            actor: &id,
            origin: &origin,
        },
    )
    .await
    .map_err(ApiError)?;
    Ok(Json(ErasureDone {
        subject_hash,
        erased: erased.into(),
    }))
}

/// What the hub keeps and for how long: delivered events, each destination's dead letters and
/// quarantined deliveries, rejected-request samples, answered asynchronous calls, per-minute
/// history, erasures and the audit log.
#[utoipa::path(get, path = "/api/v1/retention", tag = "data", summary = "What is kept, for how long", responses((status = 200, description = "OK", body = RetentionList), (status = 401, description = "No or unknown token", body = ErrorBody), (status = 403, description = "The token's role is too low", body = ErrorBody)), security(("bearer" = [])))]
async fn retention(State(state): State<AppState>) -> Json<RetentionList> {
    let config = state.config();
    let timed = |what: &str,
                 destination: Option<&str>,
                 d: std::time::Duration,
                 zero: &str,
                 setting: String| {
        RetentionItem {
            what: what.into(),
            destination: destination.map(str::to_owned),
            source: None,
            kept: if d.is_zero() {
                zero.into()
            } else {
                humantime::format_duration(d).to_string()
            },
            seconds: (!d.is_zero()).then_some(d.as_secs()),
            setting,
        }
    };
    let fixed = |what: &str, kept: String, seconds: Option<u64>| RetentionItem {
        what: what.into(),
        destination: None,
        source: None,
        kept,
        seconds,
        setting: "fixed".into(),
    };
    let mut items = vec![timed(
        "delivered events (with their deliveries and attempts)",
        None,
        config.delivery.retention,
        "forever",
        "delivery.retention".into(),
    )];
    for s in config.flows.sources.values() {
        if let Some(own) = s.retention {
            let mut item = timed(
                "delivered events (with their deliveries and attempts)",
                None,
                own,
                "forever",
                format!("sources.{}.retention", s.name),
            );
            item.source = Some(s.name.clone());
            items.push(item);
        }
    }
    for d in config.flows.destinations.values() {
        for (quarantined, what, own, global) in [
            (
                false,
                "dead letters",
                d.dead_letter_retention,
                "dead_letter_retention",
            ),
            (
                true,
                "quarantined deliveries",
                d.quarantine_retention,
                "quarantine_retention",
            ),
        ] {
            let setting = if own.is_some() {
                format!("destinations.{}.{global}", d.name)
            } else {
                format!("delivery.{global}")
            };
            items.push(timed(
                what,
                Some(&d.name),
                d.parked_retention(&config.delivery, quarantined),
                "until replayed or discarded",
                setting,
            ));
        }
    }
    let h = junction_server::history::KEEP;
    let calls = junction_store::async_calls::KEEP_ANSWERED;
    items.extend([
        fixed(
            "rejected requests",
            format!("the newest {} per source", junction_server::inspect::KEEP),
            None,
        ),
        fixed(
            "answered asynchronous calls",
            humantime::format_duration(calls).to_string(),
            Some(calls.as_secs()),
        ),
        fixed(
            "per-minute history",
            humantime::format_duration(h).to_string(),
            Some(h.as_secs()),
        ),
        fixed(
            "erasures (the subject's hash, who, why)",
            "forever".into(),
            None,
        ),
    ]);
    items.push(match &config.server.audit {
        Some(a) => RetentionItem {
            kept: format!(
                "{} in the database, then in {}",
                humantime::format_duration(a.retention),
                a.archive.display()
            ),
            seconds: Some(a.retention.as_secs()),
            setting: "server.audit".into(),
            ..fixed("audit log (hash-chained)", String::new(), None)
        },
        None => fixed("audit log (hash-chained)", "forever".into(), None),
    });
    Json(RetentionList { items })
}

/// How many erasures to list.
#[derive(Debug, Default, Deserialize, utoipa::IntoParams)]
#[into_params(parameter_in = Query)]
#[serde(deny_unknown_fields)]
pub struct ErasuresParams {
    /// At most this many, newest first (default 100, at most 1,000).
    #[serde(default)]
    pub limit: Option<usize>,
}

/// The erasures kept, newest first: the subject's hash, who, why, when and what went.
#[utoipa::path(get, path = "/api/v1/erasures", tag = "data", summary = "Erasures done", params(ErasuresParams), responses((status = 200, description = "OK", body = ErasureList), (status = 400, description = "Invalid parameters", body = ErrorBody), (status = 401, description = "No or unknown token", body = ErrorBody), (status = 403, description = "The token's role is too low", body = ErrorBody), (status = 503, description = "The store is unavailable", body = ErrorBody)), security(("bearer" = [])))]
async fn erasures(
    State(state): State<AppState>,
    Query(p): Query<ErasuresParams>,
) -> Result<Json<ErasureList>, ApiError> {
    let limit = p.limit.unwrap_or(100).clamp(1, 1000);
    let items = state.store.erasures(limit).await?;
    Ok(Json(ErasureList {
        items: items.into_iter().map(Into::into).collect(),
    }))
}

/// Which refused requests: of one source (`""` for names no source has), newest first.
#[derive(Debug, Default, Deserialize, utoipa::IntoParams)]
#[into_params(parameter_in = Query)]
#[serde(deny_unknown_fields)]
pub struct RejectedParams {
    #[serde(default)]
    pub source: Option<String>,
    /// At most this many (default 100, at most 500).
    #[serde(default)]
    pub limit: Option<usize>,
}

/// One inbound request refused at intake, masked.
#[derive(Debug, serde::Serialize, serde::Deserialize, utoipa::ToSchema)]
pub struct RejectedItem {
    pub id: i64,
    /// The source it was sent to; empty for a name no source has.
    pub source: String,
    pub at_ms: i64,
    /// `bad_signature`, `timestamp_outside_window`, `missing_signature`, `malformed_signature`,
    /// `bad_credentials`, `client_certificate`, `too_large`, `unknown_source`, `bad_body`.
    pub reason: String,
    pub status: i32,
    /// What it was answered.
    pub detail: String,
    /// `[name, value]` pairs; credential-bearing values are `***`.
    pub headers: Vec<Vec<String>>,
    /// The start of the body (2 KiB), known secrets masked.
    pub body: String,
    /// The body's size in bytes.
    pub size: i64,
}

#[derive(Debug, serde::Serialize, serde::Deserialize, utoipa::ToSchema)]
pub struct RejectedList {
    pub items: Vec<RejectedItem>,
}

impl From<junction_store::RejectedRequest> for RejectedItem {
    fn from(r: junction_store::RejectedRequest) -> Self {
        Self {
            id: r.id,
            source: r.source,
            at_ms: r.at_ms,
            reason: r.reason,
            status: r.status,
            detail: r.detail,
            headers: r.headers.into_iter().map(|(k, v)| vec![k, v]).collect(),
            body: r.body,
            size: r.size,
        }
    }
}

/// Inbound requests refused at intake (the newest 50 per source): why, when, masked headers and
/// a body excerpt.
#[utoipa::path(get, path = "/api/v1/rejected", tag = "events", summary = "Refused inbound requests: the request inspector", params(RejectedParams), responses((status = 200, description = "OK", body = RejectedList), (status = 400, description = "Invalid parameters", body = ErrorBody), (status = 401, description = "No or unknown token", body = ErrorBody), (status = 403, description = "The token's role is too low", body = ErrorBody), (status = 503, description = "The store is unavailable", body = ErrorBody)), security(("bearer" = [])))]
async fn rejected(
    State(state): State<AppState>,
    Query(p): Query<RejectedParams>,
) -> Result<Json<RejectedList>, ApiError> {
    let limit = p.limit.unwrap_or(100).clamp(1, 500);
    let items = state.store.rejected(p.source, limit).await?;
    Ok(Json(RejectedList {
        items: items.into_iter().map(RejectedItem::from).collect(),
    }))
}

/// A dead-letter filter as query parameters or a JSON body.
#[derive(Debug, Default, Deserialize, utoipa::IntoParams, utoipa::ToSchema)]
#[into_params(parameter_in = Query)]
#[serde(deny_unknown_fields)]
pub struct FilterParams {
    #[serde(default)]
    pub source: Option<String>,
    #[serde(default)]
    pub destination: Option<String>,
    #[serde(default)]
    pub route: Option<String>,
    #[serde(default)]
    pub event_type: Option<String>,
    /// RFC 3339 time or Unix ms.
    #[serde(default)]
    pub since: Option<String>,
    #[serde(default)]
    pub until: Option<String>,
    #[serde(default)]
    pub error: Option<String>,
    /// These deliveries only (in a JSON body; not a query parameter).
    #[serde(default)]
    #[param(ignore)]
    pub ids: Option<Vec<i64>>,
    #[serde(default)]
    pub after: Option<i64>,
    #[serde(default)]
    pub limit: Option<usize>,
}

pub(crate) fn time_param(name: &str, v: &Option<String>) -> Result<Option<i64>, ApiError> {
    let Some(v) = v else { return Ok(None) };
    if let Ok(ms) = v.parse::<i64>() {
        return Ok(Some(ms));
    }
    humantime::parse_rfc3339_weak(v)
        .map(|t| {
            Some(
                t.duration_since(std::time::UNIX_EPOCH)
                    .map(|d| d.as_millis() as i64)
                    .unwrap_or(0),
            )
        })
        .map_err(|_| {
            ApiError(
                Error::downstream(Code::BadRequest, format!("`{name}` is not a time: `{v}`"))
                    .with_hint(
                        "write an RFC 3339 time (2026-01-31T12:00:00Z) or Unix milliseconds",
                    ),
            )
        })
}

impl FilterParams {
    fn filter(&self, quarantined: bool) -> Result<DeadFilter, ApiError> {
        Ok(DeadFilter {
            quarantined,
            ids: self.ids.clone().unwrap_or_default(),
            source: self.source.clone(),
            destination: self.destination.clone(),
            route: self.route.clone(),
            event_type: self.event_type.clone(),
            since: time_param("since", &self.since)?,
            until: time_param("until", &self.until)?,
            error: self.error.clone(),
        })
    }
}

/// Schema drift seen by every process: per source event type, connector operation and endpoint,
/// most recently seen first.
#[utoipa::path(get, path = "/api/v1/drift", tag = "observe", summary = "Schema drift and deprecation notices", responses((status = 200, description = "OK", body = DriftList), (status = 400, description = "Invalid parameters", body = ErrorBody), (status = 401, description = "No or unknown token", body = ErrorBody), (status = 403, description = "The token's role is too low", body = ErrorBody), (status = 503, description = "The store is unavailable", body = ErrorBody)), security(("bearer" = [])))]
async fn drift(State(state): State<AppState>) -> Result<Json<DriftList>, ApiError> {
    let items = crate::maintain::drift(state.store.as_ref(), &state.drift, 1000)
        .await?
        .into_iter()
        .map(|r| DriftItem {
            scope: r.scope,
            subject: r.subject,
            path: r.path,
            kind: r.kind,
            detail: r.detail,
            first_seen: r.first_seen,
            last_seen: r.last_seen,
            count: r.count,
        })
        .collect();
    Ok(Json(DriftList { items }))
}

#[utoipa::path(get, path = "/api/v1/dead-letters", tag = "deliveries", summary = "Dead letters, by filter", params(FilterParams), responses((status = 200, description = "OK", body = DeadList), (status = 400, description = "Invalid parameters", body = ErrorBody), (status = 401, description = "No or unknown token", body = ErrorBody), (status = 403, description = "The token's role is too low", body = ErrorBody), (status = 503, description = "The store is unavailable", body = ErrorBody)), security(("bearer" = [])))]
async fn list_dead(
    State(state): State<AppState>,
    Query(p): Query<FilterParams>,
) -> Result<Json<DeadList>, ApiError> {
    list(&state, &p, false).await
}

/// Deliveries whose mapping failed or whose body broke the destination's model.
#[utoipa::path(get, path = "/api/v1/quarantine", tag = "deliveries", summary = "Quarantined deliveries, by filter", params(FilterParams), responses((status = 200, description = "OK", body = DeadList), (status = 400, description = "Invalid parameters", body = ErrorBody), (status = 401, description = "No or unknown token", body = ErrorBody), (status = 403, description = "The token's role is too low", body = ErrorBody), (status = 503, description = "The store is unavailable", body = ErrorBody)), security(("bearer" = [])))]
async fn list_quarantined(
    State(state): State<AppState>,
    Query(p): Query<FilterParams>,
) -> Result<Json<DeadList>, ApiError> {
    list(&state, &p, true).await
}

async fn list(
    state: &AppState,
    p: &FilterParams,
    quarantined: bool,
) -> Result<Json<DeadList>, ApiError> {
    let limit = p.limit.unwrap_or(100).clamp(1, 1000);
    let items = state
        .store
        .dead_letters(&p.filter(quarantined)?, p.after.unwrap_or(0), limit)
        .await?;
    let next = (items.len() == limit).then(|| items.last().map(|d| d.delivery.id));
    Ok(Json(DeadList {
        items: items.iter().map(DeadItem::from).collect(),
        next_after: next.flatten(),
    }))
}

#[utoipa::path(post, path = "/api/v1/dead-letters/replay", tag = "deliveries", summary = "Replay dead letters matching a filter", request_body = FilterParams, responses((status = 200, description = "OK", body = Replayed), (status = 400, description = "Invalid parameters", body = ErrorBody), (status = 401, description = "No or unknown token", body = ErrorBody), (status = 403, description = "The token's role is too low", body = ErrorBody), (status = 503, description = "The store is unavailable", body = ErrorBody)), security(("bearer" = [])))]
async fn replay_many(
    State(state): State<AppState>,
    axum::Extension(engine): Eng,
    body: Bytes,
) -> Result<Json<Replayed>, ApiError> {
    replay(&state, &engine, &filter_body(&body)?, false).await
}

/// A replay's filter from its JSON body; every mistake is a 400 that says what to send.
fn filter_body(body: &[u8]) -> Result<FilterParams, ApiError> {
    let hint = r#"send a JSON filter such as {"destination": "billing", "since": "2026-01-31T00:00:00Z"}; {} replays every one"#;
    if body.iter().all(u8::is_ascii_whitespace) {
        return Err(ApiError(
            Error::downstream(Code::BadRequest, "a replay needs a JSON filter in its body")
                .with_hint(hint),
        ));
    }
    let bad = |why: String| ApiError(Error::downstream(Code::BadRequest, why).with_hint(hint));
    // An object only: a list would fill the filter's fields by position (and match everything).
    match serde_json::from_slice::<Value>(body) {
        Ok(v @ Value::Object(_)) => {
            serde_json::from_value(v).map_err(|e| bad(format!("invalid replay filter: {e}")))
        }
        Ok(_) => Err(bad("a replay filter must be a JSON object".into())),
        Err(e) => Err(bad(format!("invalid replay filter: {e}"))),
    }
}

/// Puts quarantined deliveries back in the queue: they are mapped and validated again with the
/// running config (after the mapping or model was fixed).
#[utoipa::path(post, path = "/api/v1/quarantine/replay", tag = "deliveries", summary = "Replay quarantined deliveries matching a filter", request_body = FilterParams, responses((status = 200, description = "OK", body = Replayed), (status = 400, description = "Invalid parameters", body = ErrorBody), (status = 401, description = "No or unknown token", body = ErrorBody), (status = 403, description = "The token's role is too low", body = ErrorBody), (status = 503, description = "The store is unavailable", body = ErrorBody)), security(("bearer" = [])))]
async fn replay_quarantined(
    State(state): State<AppState>,
    axum::Extension(engine): Eng,
    body: Bytes,
) -> Result<Json<Replayed>, ApiError> {
    replay(&state, &engine, &filter_body(&body)?, true).await
}

async fn replay(
    state: &AppState,
    engine: &Engine,
    p: &FilterParams,
    quarantined: bool,
) -> Result<Json<Replayed>, ApiError> {
    let limit = p.limit.unwrap_or(1000).clamp(1, 10_000);
    let ids = state
        .store
        .replay(&p.filter(quarantined)?, limit, now_ms())
        .await?;
    engine.dispatcher.wake_all();
    tracing::info!(replayed = ids.len(), quarantined, "deliveries replayed");
    Ok(Json(Replayed {
        replayed: ids.len(),
        ids,
    }))
}

#[utoipa::path(get, path = "/api/v1/deliveries/{id}", tag = "deliveries", summary = "A delivery with its attempts", params(("id" = i64, Path, description = "The delivery id")), responses((status = 200, description = "OK", body = DeliveryDetail), (status = 404, description = "Not found", body = ErrorBody), (status = 400, description = "Invalid parameters", body = ErrorBody), (status = 401, description = "No or unknown token", body = ErrorBody), (status = 403, description = "The token's role is too low", body = ErrorBody), (status = 503, description = "The store is unavailable", body = ErrorBody)), security(("bearer" = [])))]
async fn delivery(
    State(state): State<AppState>,
    Path(id): Path<i64>,
) -> Result<Json<DeliveryDetail>, ApiError> {
    let d = state
        .store
        .delivery(id)
        .await?
        .ok_or_else(|| not_found(id))?;
    let attempts = state.store.attempts(id).await?;
    let event = state.store.event(d.event_id).await?;
    Ok(Json(DeliveryDetail {
        delivery: DeliveryItem::from(&d),
        source: event.as_ref().map(|e| e.source.clone()),
        event_id: event.as_ref().map(|e| e.external_id.clone()),
        event_type: event.as_ref().map(|e| e.event_type.clone()),
        entity_key: event.as_ref().and_then(|e| e.entity_key.clone()),
        sequence: event.as_ref().and_then(|e| e.sequence),
        received_at: event.as_ref().map(|e| e.received_at),
        history: attempts
            .into_iter()
            .map(|a| AttemptItem {
                attempt: a.attempt,
                outcome: a.outcome,
                started_at: a.record.started_at,
                duration_ms: a.record.duration_ms,
                status: a.record.status,
                error: a.record.error,
                response_excerpt: a.record.response_excerpt,
            })
            .collect(),
    }))
}

fn not_found(id: i64) -> ApiError {
    ApiError(Error::downstream(
        Code::NotFound,
        format!("no delivery {id}"),
    ))
}

#[utoipa::path(post, path = "/api/v1/deliveries/{id}/discard", tag = "deliveries", summary = "Discard one dead or quarantined delivery: never sent, its fifo key flows again", params(("id" = i64, Path, description = "The delivery id")), responses((status = 200, description = "OK", body = DiscardedOne), (status = 404, description = "Not found", body = ErrorBody), (status = 409, description = "Not dead or quarantined", body = ErrorBody), (status = 400, description = "Invalid parameters", body = ErrorBody), (status = 401, description = "No or unknown token", body = ErrorBody), (status = 403, description = "The token's role is too low", body = ErrorBody), (status = 503, description = "The store is unavailable", body = ErrorBody)), security(("bearer" = [])))]
async fn discard_one(
    axum::Extension(engine): Eng,
    actor: Option<axum::Extension<junction_server::admin::Actor>>,
    Path(id): Path<i64>,
) -> Result<Json<DiscardedOne>, ApiError> {
    let by = actor.map_or_else(|| "an operator".to_owned(), |a| a.0.id);
    engine.discard_delivery(id, &by).await.map_err(ApiError)?;
    Ok(Json(DiscardedOne {
        discarded: true,
        id,
    }))
}

#[utoipa::path(post, path = "/api/v1/dead-letters/discard", tag = "deliveries", summary = "Discard dead letters matching a filter", request_body = FilterParams, responses((status = 200, description = "OK", body = Discarded), (status = 400, description = "Invalid parameters", body = ErrorBody), (status = 401, description = "No or unknown token", body = ErrorBody), (status = 403, description = "The token's role is too low", body = ErrorBody), (status = 503, description = "The store is unavailable", body = ErrorBody)), security(("bearer" = [])))]
async fn discard_many(
    State(state): State<AppState>,
    axum::Extension(engine): Eng,
    actor: Option<axum::Extension<junction_server::admin::Actor>>,
    body: Bytes,
) -> Result<Json<Discarded>, ApiError> {
    discard(&state, &engine, actor, &filter_body(&body)?, false).await
}

#[utoipa::path(post, path = "/api/v1/quarantine/discard", tag = "deliveries", summary = "Discard quarantined deliveries matching a filter", request_body = FilterParams, responses((status = 200, description = "OK", body = Discarded), (status = 400, description = "Invalid parameters", body = ErrorBody), (status = 401, description = "No or unknown token", body = ErrorBody), (status = 403, description = "The token's role is too low", body = ErrorBody), (status = 503, description = "The store is unavailable", body = ErrorBody)), security(("bearer" = [])))]
async fn discard_quarantined(
    State(state): State<AppState>,
    axum::Extension(engine): Eng,
    actor: Option<axum::Extension<junction_server::admin::Actor>>,
    body: Bytes,
) -> Result<Json<Discarded>, ApiError> {
    discard(&state, &engine, actor, &filter_body(&body)?, true).await
}

async fn discard(
    state: &AppState,
    engine: &Engine,
    actor: Option<axum::Extension<junction_server::admin::Actor>>,
    p: &FilterParams,
    quarantined: bool,
) -> Result<Json<Discarded>, ApiError> {
    let by = actor.map_or_else(|| "an operator".to_owned(), |a| a.0.id);
    let limit = p.limit.unwrap_or(1000).clamp(1, 10_000);
    let ids = state
        .store
        .discard(
            &p.filter(quarantined)?,
            limit,
            now_ms(),
            &format!("discarded by {by}"),
        )
        .await?;
    engine.dispatcher.wake_all();
    tracing::info!(discarded = ids.len(), quarantined, %by, "deliveries discarded");
    Ok(Json(Discarded {
        discarded: ids.len(),
        ids,
    }))
}

#[utoipa::path(post, path = "/api/v1/deliveries/{id}/replay", tag = "deliveries", summary = "Replay one dead or quarantined delivery", params(("id" = i64, Path, description = "The delivery id")), responses((status = 200, description = "OK", body = ReplayedOne), (status = 404, description = "Not found", body = ErrorBody), (status = 409, description = "Not dead or quarantined", body = ErrorBody), (status = 400, description = "Invalid parameters", body = ErrorBody), (status = 401, description = "No or unknown token", body = ErrorBody), (status = 403, description = "The token's role is too low", body = ErrorBody), (status = 503, description = "The store is unavailable", body = ErrorBody)), security(("bearer" = [])))]
async fn replay_one(
    axum::Extension(engine): Eng,
    Path(id): Path<i64>,
) -> Result<Json<ReplayedOne>, ApiError> {
    engine.replay_delivery(id).await.map_err(ApiError)?;
    Ok(Json(ReplayedOne { replayed: true, id }))
}

#[utoipa::path(get, path = "/api/v1/destinations", tag = "deliveries", summary = "Destinations: circuit, queue, dead letters", responses((status = 200, description = "OK", body = DestinationList), (status = 400, description = "Invalid parameters", body = ErrorBody), (status = 401, description = "No or unknown token", body = ErrorBody), (status = 403, description = "The token's role is too low", body = ErrorBody), (status = 503, description = "The store is unavailable", body = ErrorBody)), security(("bearer" = [])))]
async fn destinations(
    State(state): State<AppState>,
    axum::Extension(engine): Eng,
) -> Result<Json<DestinationList>, ApiError> {
    let stats = state.store.destination_stats(now_ms()).await?;
    let disabled = state.store.disabled().await?;
    let items = engine
        .dispatcher
        .status()
        .into_iter()
        .map(|s| {
            let st = stats.iter().find(|x| x.destination == s.name);
            let off = disabled.iter().find(|x| x.name == s.name);
            DestinationItem {
                disabled: off.is_some() || s.disabled,
                disabled_reason: off.map(|d| d.reason.clone()),
                circuit: s.circuit.to_owned(),
                in_flight: s.in_flight,
                concurrency: s.concurrency,
                pending: st.map_or(0, |x| x.pending),
                due: st.map_or(0, |x| x.due),
                dead: st.map_or(0, |x| x.dead),
                oldest_due_at: st.and_then(|x| x.oldest_due_at),
                name: s.name,
            }
        })
        .collect();
    Ok(Json(DestinationList { items }))
}

#[utoipa::path(post, path = "/api/v1/destinations/{name}/enable", tag = "deliveries", summary = "Enable a destination", params(("name" = String, Path, description = "The destination")), responses((status = 200, description = "OK", body = DestinationSwitched), (status = 404, description = "Not found", body = ErrorBody), (status = 400, description = "Invalid parameters", body = ErrorBody), (status = 401, description = "No or unknown token", body = ErrorBody), (status = 403, description = "The token's role is too low", body = ErrorBody), (status = 503, description = "The store is unavailable", body = ErrorBody)), security(("bearer" = [])))]
async fn enable(
    axum::Extension(engine): Eng,
    Path(name): Path<String>,
) -> Result<Json<DestinationSwitched>, ApiError> {
    if !engine.dispatcher.enable(&name).await? {
        return Err(unknown_destination(&name));
    }
    tracing::info!(destination = %name, "destination enabled");
    Ok(Json(DestinationSwitched {
        name,
        disabled: false,
    }))
}

#[utoipa::path(post, path = "/api/v1/destinations/{name}/disable", tag = "deliveries", summary = "Disable a destination: its deliveries wait", params(("name" = String, Path, description = "The destination")), responses((status = 200, description = "OK", body = DestinationSwitched), (status = 404, description = "Not found", body = ErrorBody), (status = 400, description = "Invalid parameters", body = ErrorBody), (status = 401, description = "No or unknown token", body = ErrorBody), (status = 403, description = "The token's role is too low", body = ErrorBody), (status = 503, description = "The store is unavailable", body = ErrorBody)), security(("bearer" = [])))]
async fn disable(
    axum::Extension(engine): Eng,
    actor: Option<axum::Extension<junction_server::admin::Actor>>,
    Path(name): Path<String>,
) -> Result<Json<DestinationSwitched>, ApiError> {
    let by = actor.map_or_else(|| "an operator".to_owned(), |a| a.0.id);
    if !engine
        .dispatcher
        .disable(&name, &format!("disabled by {by}"))
        .await
    {
        return Err(unknown_destination(&name));
    }
    Ok(Json(DestinationSwitched {
        name,
        disabled: true,
    }))
}

fn unknown_destination(name: &str) -> ApiError {
    ApiError(Error::downstream(
        Code::NotFound,
        format!("no destination named `{name}`"),
    ))
}

#[cfg(test)]
mod tests {
    use super::filter_body;

    #[test]
    fn a_replay_filter_must_be_a_json_object_or_nothing_is_replayed() {
        assert!(filter_body(b"{}").is_ok());
        assert_eq!(
            filter_body(br#"{"destination":"billing"}"#)
                .unwrap()
                .destination
                .as_deref(),
            Some("billing")
        );
        for bad in [
            &b""[..],
            b"  ",
            b"[null, null]",
            b"null",
            b"7",
            b"{\"nope\":1}",
            b"{",
        ] {
            let e = filter_body(bad).unwrap_err().0;
            assert_eq!(
                e.code().as_str(),
                "bad_request",
                "{}",
                String::from_utf8_lossy(bad)
            );
        }
    }
}
