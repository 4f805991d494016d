//! Job runs on SQLite.

use rusqlite::{params, Connection, OptionalExtension};

use crate::jobs::{self, JobRun, NewRun, RunState};
use crate::StoreError;

fn p(n: usize) -> String {
    format!("?{n}")
}

fn row(r: &rusqlite::Row<'_>) -> rusqlite::Result<JobRun> {
    let state: String = r.get(4)?;
    Ok(JobRun {
        id: r.get(0)?,
        job: r.get(1)?,
        slot: r.get(2)?,
        trigger: r.get(3)?,
        state: RunState::parse(&state),
        owner: r.get(5)?,
        started_at: r.get(6)?,
        heartbeat_at: r.get(7)?,
        finished_at: r.get(8)?,
        progress: r.get(9)?,
        result: r.get(10)?,
        error: r.get(11)?,
    })
}

pub(super) fn start(c: &mut Connection, run: &NewRun) -> Result<Option<i64>, StoreError> {
    let id = c
        .prepare_cached(&jobs::insert(&p))?
        .query_row(
            params![run.job, run.slot, run.trigger.as_str(), run.owner, run.now],
            |r| r.get(0),
        )
        .optional()?;
    Ok(id)
}

pub(super) fn finish(
    c: &mut Connection,
    id: i64,
    state: RunState,
    result: &str,
    error: Option<&str>,
    now: i64,
) -> Result<bool, StoreError> {
    let tx = c.transaction()?;
    let job: Option<String> = tx
        .prepare_cached("SELECT job FROM job_runs WHERE id = ?1")?
        .query_row(params![id], |r| r.get(0))
        .optional()?;
    let n = tx.prepare_cached(&jobs::finish(&p))?.execute(params![
        id,
        state.as_str(),
        result,
        error,
        now
    ])?;
    if let Some(job) = job {
        tx.prepare_cached(&jobs::trim(&p))?.execute(params![job])?;
    }
    tx.commit()?;
    Ok(n > 0)
}

pub(super) fn beat(
    c: &mut Connection,
    id: i64,
    progress: &str,
    now: i64,
) -> Result<bool, StoreError> {
    Ok(c.prepare_cached(&jobs::beat(&p))?
        .execute(params![id, progress, now])?
        > 0)
}

pub(super) fn fail_stale(c: &mut Connection, before: i64, now: i64) -> Result<u64, StoreError> {
    Ok(c.prepare_cached(&jobs::fail_stale(&p))?
        .execute(params![before, now])? as u64)
}

pub(super) fn list(
    c: &Connection,
    job: Option<&str>,
    limit: usize,
) -> Result<Vec<JobRun>, StoreError> {
    let mut stmt = c.prepare_cached(&jobs::list(&p))?;
    let rows = stmt.query_map(params![job, limit as i64], row)?;
    Ok(rows.collect::<Result<_, _>>()?)
}

pub(super) fn run(c: &Connection, id: i64) -> Result<Option<JobRun>, StoreError> {
    Ok(c.prepare_cached(&jobs::run(&p))?
        .query_row(params![id], row)
        .optional()?)
}

pub(super) fn last_slot(c: &Connection, job: &str) -> Result<Option<i64>, StoreError> {
    Ok(c.prepare_cached(&jobs::last_slot(&p))?
        .query_row(params![job], |r| r.get(0))?)
}

pub(super) fn pause(
    c: &mut Connection,
    job: &str,
    actor: &str,
    now: i64,
) -> Result<bool, StoreError> {
    Ok(c.prepare_cached(&jobs::pause(&p))?
        .execute(params![job, now, actor])?
        > 0)
}

pub(super) fn resume(c: &mut Connection, job: &str) -> Result<bool, StoreError> {
    Ok(c.prepare_cached(&jobs::resume(&p))?.execute(params![job])? > 0)
}

pub(super) fn paused(c: &Connection) -> Result<Vec<String>, StoreError> {
    let mut stmt = c.prepare_cached(jobs::PAUSED)?;
    let rows = stmt.query_map([], |r| r.get(0))?;
    Ok(rows.collect::<Result<_, _>>()?)
}
