//! `GET /api/v1/deliveries`: every delivery, newest first, by state, destination, route,
//! source and time, paged past any limit — the list behind the dashboard's deliveries page.

use axum::extract::{Query, State};
use axum::Json;
use junction_core::{Code, Error};
use junction_server::errors::ErrorBody;
use junction_server::{ApiError, AppState};
use junction_store::{DeliveryFilter, DeliveryRecord, DeliveryState};
use serde::{Deserialize, Serialize};

/// The most deliveries one page holds.
pub const MAX_PAGE: usize = 500;

/// Which deliveries, newest first. Empty values mean "any" (as a search form sends them).
#[derive(Debug, Default, Clone, Deserialize, utoipa::IntoParams)]
#[into_params(parameter_in = Query)]
#[serde(deny_unknown_fields)]
pub struct DeliveryQuery {
    /// `pending`, `delivered`, `dead`, `quarantined`, `stale` or `discarded`.
    pub state: Option<String>,
    pub destination: Option<String>,
    pub route: Option<String>,
    /// The event's source.
    pub source: Option<String>,
    /// Created at or after: RFC 3339 time or Unix ms.
    pub since: Option<String>,
    /// Created before: RFC 3339 time or Unix ms.
    pub until: Option<String>,
    /// The next page: deliveries with a smaller id (`next_before` of the previous page).
    pub before: Option<i64>,
    /// At most this many (default 50, at most 500).
    pub limit: Option<usize>,
}

impl DeliveryQuery {
    pub fn filter(&self) -> Result<DeliveryFilter, ApiError> {
        let some = |s: &Option<String>| s.clone().filter(|v| !v.is_empty());
        let state = match some(&self.state) {
            None => None,
            Some(s) => Some(DeliveryState::parse(&s).ok_or_else(|| {
                ApiError(
                    Error::downstream(Code::BadRequest, format!("`{s}` is not a delivery state"))
                        .with_hint(
                            "one of: pending, delivered, dead, quarantined, stale, discarded",
                        ),
                )
            })?),
        };
        Ok(DeliveryFilter {
            state,
            destination: some(&self.destination),
            route: some(&self.route),
            source: some(&self.source),
            since: crate::http::time_param("since", &some(&self.since))?,
            until: crate::http::time_param("until", &some(&self.until))?,
            before_id: self.before,
        })
    }

    pub fn limit(&self) -> usize {
        self.limit.unwrap_or(50).clamp(1, MAX_PAGE)
    }
}

/// One delivery of an event to a destination.
#[derive(Debug, Serialize, Deserialize, utoipa::ToSchema)]
pub struct DeliveryItem {
    pub id: i64,
    /// The stored event's id.
    pub event: i64,
    pub route: String,
    pub destination: String,
    /// `pending`, `delivered`, `dead`, `quarantined`, `stale` or `discarded`.
    pub state: String,
    /// Attempts started so far.
    pub attempts: i32,
    /// When it is next due, unix ms (while pending).
    pub next_attempt_at: i64,
    /// The last attempt's HTTP status.
    pub last_status: Option<i32>,
    pub last_error: Option<String>,
    /// Why it was dead-lettered, quarantined or discarded.
    pub dead_reason: Option<String>,
    pub created_at: i64,
    pub finished_at: Option<i64>,
}

impl From<&DeliveryRecord> for DeliveryItem {
    fn from(d: &DeliveryRecord) -> Self {
        Self {
            id: d.id,
            event: d.event_id,
            route: d.route.clone(),
            destination: d.destination.clone(),
            state: d.state.as_str().to_owned(),
            attempts: d.attempts,
            next_attempt_at: d.next_attempt_at,
            last_status: d.last_status,
            last_error: d.last_error.clone(),
            dead_reason: d.dead_reason.clone(),
            created_at: d.created_at,
            finished_at: d.finished_at,
        }
    }
}

/// A page of deliveries.
#[derive(Debug, Serialize, Deserialize, utoipa::ToSchema)]
pub struct DeliveryList {
    pub deliveries: Vec<DeliveryItem>,
    /// Pass as `before` for the next page; absent on the last one.
    pub next_before: Option<i64>,
}

/// Deliveries matching `q`, with the cursor of the next page.
pub async fn find(
    state: &AppState,
    q: &DeliveryQuery,
) -> Result<(Vec<DeliveryRecord>, Option<i64>), ApiError> {
    let limit = q.limit();
    let found = state.store.deliveries(&q.filter()?, limit).await?;
    let next = (found.len() == limit)
        .then(|| found.last().map(|d| d.id))
        .flatten();
    Ok((found, next))
}

/// Deliveries, newest first, by state, destination, route, source and time.
#[utoipa::path(get, path = "/api/v1/deliveries", tag = "deliveries", summary = "Search deliveries by state, destination, route, source and time", params(DeliveryQuery), responses((status = 200, description = "OK", body = DeliveryList), (status = 400, description = "Invalid parameters", body = ErrorBody), (status = 401, description = "No or unknown token", body = ErrorBody), (status = 403, description = "The token's role is too low", body = ErrorBody), (status = 503, description = "The store is unavailable", body = ErrorBody)), security(("bearer" = [])))]
pub(crate) async fn list(
    State(state): State<AppState>,
    Query(q): Query<DeliveryQuery>,
) -> Result<Json<DeliveryList>, ApiError> {
    let (found, next_before) = find(&state, &q).await?;
    Ok(Json(DeliveryList {
        deliveries: found.iter().map(DeliveryItem::from).collect(),
        next_before,
    }))
}
