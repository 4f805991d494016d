//! `/ui/jobs`: every job — schedule, paused, next run, the last run — with run now, pause and
//! resume, and the latest runs of all jobs with what each found.

use std::sync::Arc;

use axum::extract::{Path, Query, State};
use axum::response::{IntoResponse, Redirect, Response};
use axum::Extension;
use junction_core::time::now_ms;
use junction_server::{ApiError, AppState};
use maud::html;
use serde::Deserialize;

use crate::layout::{badge, page, when};
use crate::Ui;

/// Runs shown under the jobs.
const RUNS: usize = 50;

#[derive(Deserialize, Default)]
pub struct Done {
    #[serde(default)]
    done: Option<String>,
}

pub async fn list(
    State(state): State<AppState>,
    Query(done): Query<Done>,
) -> Result<Response, ApiError> {
    let config = state.config();
    let paused = state.store.paused_jobs().await?;
    let runs = state.store.job_runs(None, RUNS).await?;
    let now = now_ms();
    let flash = match done.done.as_deref() {
        Some("run") => Some("Run started."),
        Some("pause") => Some("Paused: no scheduled run starts until it is resumed."),
        Some("resume") => Some("Resumed."),
        _ => None,
    };
    let body = html! {
        @if config.jobs.is_empty() { p.empty { "No jobs: add a " code { "jobs:" } " section to the config (syncs of " code { "kind: sync" } " sources, contract probes of connectors' operations)." } } @else {
            table #jobs {
                thead { tr { th { "Job" } th { "Kind" } th { "Schedule" } th { "State" } th { "Next run (UTC)" } th { "Last run" } th { "" } } }
                tbody { @for job in config.jobs.values() {
                    @let is_paused = paused.contains(&job.name);
                    @let last = runs.iter().find(|r| r.job == job.name);
                    tr {
                        td { code { (job.name) } }
                        td { (job.work.kind()) }
                        td { (job.schedule.text()) }
                        td { @if is_paused { (badge("paused")) } @else { (badge("active")) } }
                        td { @if is_paused { "–" } @else { (job.schedule.next(now, job.offset_ms).map(when).unwrap_or_else(|| "–".into())) } }
                        td { @match last { Some(r) => { (badge(r.state.as_str())) " " (when(r.started_at)) }, None => { span.muted { "not in the latest runs" } } } }
                        td { div.actions {
                            form method="post" action={"/ui/jobs/" (job.name) "/run"} { button type="submit" { "Run now" } }
                            @if is_paused {
                                form method="post" action={"/ui/jobs/" (job.name) "/resume"} { button.secondary type="submit" { "Resume" } }
                            } @else {
                                form method="post" action={"/ui/jobs/" (job.name) "/pause"} { button.secondary type="submit" { "Pause" } }
                            }
                        } }
                    }
                } }
            }
        }
        h2 { "Latest runs" }
        @if runs.is_empty() { p.empty { "No run yet." } } @else {
            table #runs {
                thead { tr { th.num { "Run" } th { "Job" } th { "Trigger" } th { "State" } th { "Started (UTC)" } th.num { "Took" } th { "Progress / found" } th { "Process" } th { "Error" } } }
                tbody { @for r in &runs {
                    tr {
                        td.num { (r.id) }
                        td { code { (r.job) } }
                        td { (r.trigger) }
                        td { (badge(r.state.as_str())) }
                        td { (when(r.started_at)) }
                        td.num { @match r.finished_at { Some(f) => { (format!("{} ms", f - r.started_at)) }, None => { "–" } } }
                        td.found { (found(r)) }
                        td { span.muted { (r.owner) } }
                        td { (r.error.clone().unwrap_or_default()) }
                    }
                } }
            }
        }
    };
    Ok(page("Jobs", "/ui/jobs", flash, Some(10), body))
}

/// A sync run's progress while it runs (a bar when the list's size is known) and what it found;
/// a probe's calls.
pub(crate) fn found(r: &junction_store::JobRun) -> maud::Markup {
    let running = r.state == junction_store::RunState::Running;
    let text = if running { &r.progress } else { &r.result };
    let v: serde_json::Value = serde_json::from_str(text).unwrap_or_default();
    let n = |k: &str| v[k].as_u64().unwrap_or(0);
    if v.get("lane").is_some() {
        return html! {
            @if running {
                @if let Some(max) = v["expected"].as_u64().filter(|m| *m > 0) {
                    progress value=(n("records").min(max)) max=(max) {}
                    " "
                }
            }
            (n("records")) " records, " (n("pages")) " pages"
            @if v["reconcile"] == true {
                @if !running {
                    ": " strong { (n("missing")) " missing, " (n("stale")) " stale" }
                    @if v.get("extra").is_some() { ", " (n("extra")) " extra" }
                }
            } @else if !running || n("new") + n("changed") + n("deleted") > 0 {
                ": " (n("new")) " new, " (n("changed")) " changed, " (n("deleted")) " deleted"
            }
            @if n("skipped") > 0 { ", " strong { (n("skipped")) " skipped" } }
            @if v["resumed"] == true { " " span.muted { "(resumed)" } }
        };
    }
    match v["calls"].as_array() {
        Some(calls) => html! {
            (calls.iter().filter(|c| c["ok"] == true).count()) "/" (calls.len()) " calls answered"
        },
        None => html! { "–" },
    }
}

fn known(state: &AppState, name: &str) -> Result<(), ApiError> {
    if state.config().jobs.contains_key(name) {
        return Ok(());
    }
    Err(crate::destination::unknown(
        name,
        state.config().jobs.keys().map(String::as_str),
        "job",
    ))
}

pub async fn run(
    State(state): State<AppState>,
    Extension(ui): Extension<Arc<Ui>>,
    Path(name): Path<String>,
) -> Result<Response, ApiError> {
    known(&state, &name)?;
    ui.engine.scheduler.run_now(&name, false).await?;
    Ok(Redirect::to("/ui/jobs?done=run").into_response())
}

pub async fn pause(
    State(state): State<AppState>,
    actor: Option<Extension<junction_server::admin::Actor>>,
    Path(name): Path<String>,
) -> Result<Response, ApiError> {
    known(&state, &name)?;
    let by = actor.map_or_else(|| "an operator".to_owned(), |a| a.0.id.clone());
    state.store.pause_job(&name, &by, now_ms()).await?;
    Ok(Redirect::to("/ui/jobs?done=pause").into_response())
}

pub async fn resume(
    State(state): State<AppState>,
    Path(name): Path<String>,
) -> Result<Response, ApiError> {
    known(&state, &name)?;
    state.store.resume_job(&name).await?;
    Ok(Redirect::to("/ui/jobs?done=resume").into_response())
}
