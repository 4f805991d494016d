//! `/api/v1/jobs`: each job with its schedule and last run, one job's runs, and an operator's
//! run now, pause and resume. Mounted behind the admin guard (writes need an operator, and are
//! audited by it).

use std::sync::Arc;

use axum::extract::{Path, Query, State};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use axum::{Extension, Json, Router};
use http::StatusCode;
use junction_config::Job;
use junction_core::time::now_ms;
use junction_core::{Code, Error};
use junction_server::errors::ErrorBody;
use junction_server::{ApiError, AppState};
use junction_store::JobRun;
use serde::{Deserialize, Serialize};
use serde_json::Value;
use utoipa::IntoParams;

use super::Scheduler;

/// Runs shown with one job.
const RUNS: usize = 50;

/// The OpenAPI paths of these routes.
#[derive(utoipa::OpenApi)]
#[openapi(
    paths(list, show, run, pause, resume),
    components(schemas(JobItem, JobList, RunItem, JobDetail, RunStarted))
)]
pub struct ApiDoc;

pub fn routes(scheduler: Arc<Scheduler>) -> Router<AppState> {
    Router::new()
        .route("/api/v1/jobs", get(list))
        .route("/api/v1/jobs/{name}", get(show))
        .route("/api/v1/jobs/{name}/run", post(run))
        .route("/api/v1/jobs/{name}/pause", post(pause))
        .route("/api/v1/jobs/{name}/resume", post(resume))
        .layer(Extension(scheduler))
}

/// One run of a job.
#[derive(Debug, Serialize, serde::Deserialize, utoipa::ToSchema)]
pub struct RunItem {
    pub id: i64,
    pub job: String,
    /// The scheduled time the run is for (unix ms); absent for a manual run.
    pub slot_ms: Option<i64>,
    /// `schedule`, `missed` (came due while no hub ran) or `manual`.
    pub trigger: String,
    /// `running`, `succeeded` or `failed`.
    pub state: String,
    /// The process that ran it.
    pub owner: String,
    pub started_at_ms: i64,
    pub finished_at_ms: Option<i64>,
    /// What the run found (a probe: each call's status, and for a broken one its errors and
    /// what uses the operation).
    #[schema(value_type = Object)]
    pub result: Value,
    pub error: Option<String>,
}

impl From<&JobRun> for RunItem {
    fn from(r: &JobRun) -> Self {
        RunItem {
            id: r.id,
            job: r.job.clone(),
            slot_ms: (r.slot >= 0).then_some(r.slot),
            trigger: r.trigger.clone(),
            state: r.state.as_str().to_owned(),
            owner: r.owner.clone(),
            started_at_ms: r.started_at,
            finished_at_ms: r.finished_at,
            result: serde_json::from_str(&r.result).unwrap_or(Value::Null),
            error: r.error.clone(),
        }
    }
}

/// One job.
#[derive(Debug, Serialize, serde::Deserialize, utoipa::ToSchema)]
pub struct JobItem {
    pub name: String,
    /// `probe`.
    pub kind: String,
    /// `every 1h`, `cron 0 * * * *`.
    pub schedule: String,
    pub paused: bool,
    /// When the next scheduled run starts (unix ms).
    pub next_run_at_ms: Option<i64>,
    pub last_run: Option<RunItem>,
}

#[derive(Debug, Serialize, serde::Deserialize, utoipa::ToSchema)]
pub struct JobList {
    pub jobs: Vec<JobItem>,
}

#[derive(Debug, Serialize, serde::Deserialize, utoipa::ToSchema)]
pub struct JobDetail {
    pub job: JobItem,
    /// Newest first.
    pub runs: Vec<RunItem>,
}

#[derive(Debug, Serialize, serde::Deserialize, utoipa::ToSchema)]
pub struct RunStarted {
    pub job: String,
    pub run_id: i64,
}

async fn item(state: &AppState, job: &Job, paused: bool) -> Result<JobItem, ApiError> {
    let last = state.store.job_runs(Some(job.name.clone()), 1).await?;
    Ok(JobItem {
        name: job.name.clone(),
        kind: job.work.kind().to_owned(),
        schedule: job.schedule.text(),
        paused,
        next_run_at_ms: job.schedule.next(now_ms(), job.offset_ms),
        last_run: last.first().map(RunItem::from),
    })
}

fn unknown(state: &AppState, name: &str) -> ApiError {
    let config = state.config();
    let names: Vec<&str> = config.jobs.keys().map(String::as_str).collect();
    ApiError(
        Error::downstream(Code::NotFound, format!("no job `{name}`")).with_hint(
            if names.is_empty() {
                "the config declares no `jobs:`".to_owned()
            } else {
                format!("jobs: {}", names.join(", "))
            },
        ),
    )
}

fn job_of(state: &AppState, name: &str) -> Result<Job, ApiError> {
    state
        .config()
        .jobs
        .get(name)
        .cloned()
        .ok_or_else(|| unknown(state, name))
}

#[utoipa::path(get, path = "/api/v1/jobs", tag = "jobs", summary = "Jobs: schedule, paused, next and last run", responses((status = 200, description = "OK", body = JobList), (status = 401, description = "No or unknown token", body = ErrorBody), (status = 403, description = "The token's role is too low", body = ErrorBody), (status = 503, description = "The store is unavailable", body = ErrorBody)), security(("bearer" = [])))]
async fn list(State(state): State<AppState>) -> Result<Json<JobList>, ApiError> {
    let paused = state.store.paused_jobs().await?;
    let mut jobs = Vec::new();
    for job in state.config().jobs.values() {
        jobs.push(item(&state, job, paused.contains(&job.name)).await?);
    }
    Ok(Json(JobList { jobs }))
}

#[utoipa::path(get, path = "/api/v1/jobs/{name}", tag = "jobs", summary = "One job and its latest runs", params(("name" = String, Path, description = "The job's name under `jobs:`")), responses((status = 200, description = "OK", body = JobDetail), (status = 404, description = "No such job", body = ErrorBody), (status = 401, description = "No or unknown token", body = ErrorBody), (status = 403, description = "The token's role is too low", body = ErrorBody), (status = 503, description = "The store is unavailable", body = ErrorBody)), security(("bearer" = [])))]
async fn show(
    State(state): State<AppState>,
    Path(name): Path<String>,
) -> Result<Json<JobDetail>, ApiError> {
    let job = job_of(&state, &name)?;
    let paused = state.store.paused_jobs().await?.contains(&name);
    let runs = state.store.job_runs(Some(name), RUNS).await?;
    Ok(Json(JobDetail {
        job: item(&state, &job, paused).await?,
        runs: runs.iter().map(RunItem::from).collect(),
    }))
}

/// Options of a manual run.
#[derive(Debug, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
struct RunQuery {
    /// Let a sync's full pass delete more than its source's `max_percent` of the entities known.
    confirm_deletions: Option<bool>,
}

#[utoipa::path(post, path = "/api/v1/jobs/{name}/run", tag = "jobs", summary = "Run a job now (paused or not)", params(("name" = String, Path, description = "The job's name under `jobs:`"), RunQuery), responses((status = 202, description = "Started: follow it at GET /api/v1/jobs/{name}", body = RunStarted), (status = 400, description = "Invalid parameters", body = ErrorBody), (status = 404, description = "No such job", body = ErrorBody), (status = 401, description = "No or unknown token", body = ErrorBody), (status = 403, description = "The token's role is too low", body = ErrorBody), (status = 503, description = "The store is unavailable", body = ErrorBody)), security(("bearer" = [])))]
async fn run(
    State(state): State<AppState>,
    Extension(scheduler): Extension<Arc<Scheduler>>,
    actor: Option<Extension<junction_server::admin::Actor>>,
    Path(name): Path<String>,
    Query(q): Query<RunQuery>,
) -> Result<Response, ApiError> {
    job_of(&state, &name)?;
    let confirm = q.confirm_deletions.unwrap_or(false);
    if confirm {
        let by = actor.map_or_else(|| "an operator".to_owned(), |a| a.0.id);
        tracing::warn!(job = %name, by = %by, "a run was started with deletions confirmed");
    }
    let Some(id) = scheduler.run_now(&name, confirm).await? else {
        return Err(unknown(&state, &name));
    };
    let body = RunStarted {
        job: name,
        run_id: id,
    };
    Ok((StatusCode::ACCEPTED, Json(body)).into_response())
}

#[utoipa::path(post, path = "/api/v1/jobs/{name}/pause", tag = "jobs", summary = "Pause a job: no scheduled run starts until it is resumed (on every hub)", params(("name" = String, Path, description = "The job's name under `jobs:`")), responses((status = 200, description = "Paused (or already was)", body = JobItem), (status = 404, description = "No such job", body = ErrorBody), (status = 401, description = "No or unknown token", body = ErrorBody), (status = 403, description = "The token's role is too low", body = ErrorBody), (status = 503, description = "The store is unavailable", body = ErrorBody)), security(("bearer" = [])))]
async fn pause(
    State(state): State<AppState>,
    actor: Option<Extension<junction_server::admin::Actor>>,
    Path(name): Path<String>,
) -> Result<Json<JobItem>, ApiError> {
    let job = job_of(&state, &name)?;
    let by = actor.map_or_else(|| "an operator".to_owned(), |a| a.0.id);
    state.store.pause_job(&name, &by, now_ms()).await?;
    Ok(Json(item(&state, &job, true).await?))
}

#[utoipa::path(post, path = "/api/v1/jobs/{name}/resume", tag = "jobs", summary = "Resume a paused job", params(("name" = String, Path, description = "The job's name under `jobs:`")), responses((status = 200, description = "Resumed (or was not paused)", body = JobItem), (status = 404, description = "No such job", body = ErrorBody), (status = 401, description = "No or unknown token", body = ErrorBody), (status = 403, description = "The token's role is too low", body = ErrorBody), (status = 503, description = "The store is unavailable", body = ErrorBody)), security(("bearer" = [])))]
async fn resume(
    State(state): State<AppState>,
    Path(name): Path<String>,
) -> Result<Json<JobItem>, ApiError> {
    let job = job_of(&state, &name)?;
    state.store.resume_job(&name).await?;
    Ok(Json(item(&state, &job, false).await?))
}
