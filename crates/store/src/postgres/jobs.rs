//! Job runs on PostgreSQL.

use sqlx::postgres::PgRow;
use sqlx::{PgPool, Row};

use crate::jobs::{self, JobRun, NewRun, RunState};
use crate::StoreError;

fn p(n: usize) -> String {
    format!("${n}")
}

fn row(r: &PgRow) -> Result<JobRun, StoreError> {
    let state: String = r.try_get(4)?;
    Ok(JobRun {
        id: r.try_get(0)?,
        job: r.try_get(1)?,
        slot: r.try_get(2)?,
        trigger: r.try_get(3)?,
        state: RunState::parse(&state),
        owner: r.try_get(5)?,
        started_at: r.try_get(6)?,
        heartbeat_at: r.try_get(7)?,
        finished_at: r.try_get(8)?,
        progress: r.try_get(9)?,
        result: r.try_get(10)?,
        error: r.try_get(11)?,
    })
}

pub(super) async fn start(pool: &PgPool, run: &NewRun) -> Result<Option<i64>, StoreError> {
    let row = sqlx::query(&jobs::insert(&p))
        .bind(&run.job)
        .bind(run.slot)
        .bind(run.trigger.as_str())
        .bind(&run.owner)
        .bind(run.now)
        .fetch_optional(pool)
        .await?;
    Ok(match row {
        Some(r) => Some(r.try_get(0)?),
        None => None,
    })
}

pub(super) async fn finish(
    pool: &PgPool,
    id: i64,
    state: RunState,
    result: &str,
    error: Option<&str>,
    now: i64,
) -> Result<bool, StoreError> {
    let mut tx = pool.begin().await?;
    let job: Option<String> = sqlx::query("SELECT job FROM job_runs WHERE id = $1")
        .bind(id)
        .fetch_optional(&mut *tx)
        .await?
        .map(|r| r.try_get(0))
        .transpose()?;
    let n = sqlx::query(&jobs::finish(&p))
        .bind(id)
        .bind(state.as_str())
        .bind(result)
        .bind(error)
        .bind(now)
        .execute(&mut *tx)
        .await?
        .rows_affected();
    if let Some(job) = job {
        sqlx::query(&jobs::trim(&p))
            .bind(job)
            .execute(&mut *tx)
            .await?;
    }
    tx.commit().await?;
    Ok(n > 0)
}

pub(super) async fn beat(
    pool: &PgPool,
    id: i64,
    progress: &str,
    now: i64,
) -> Result<bool, StoreError> {
    Ok(sqlx::query(&jobs::beat(&p))
        .bind(id)
        .bind(progress)
        .bind(now)
        .execute(pool)
        .await?
        .rows_affected()
        > 0)
}

pub(super) async fn fail_stale(pool: &PgPool, before: i64, now: i64) -> Result<u64, StoreError> {
    Ok(sqlx::query(&jobs::fail_stale(&p))
        .bind(before)
        .bind(now)
        .execute(pool)
        .await?
        .rows_affected())
}

pub(super) async fn list(
    pool: &PgPool,
    job: Option<String>,
    limit: usize,
) -> Result<Vec<JobRun>, StoreError> {
    let rows = sqlx::query(&jobs::list(&p))
        .bind(job)
        .bind(limit as i64)
        .fetch_all(pool)
        .await?;
    rows.iter().map(row).collect()
}

pub(super) async fn run(pool: &PgPool, id: i64) -> Result<Option<JobRun>, StoreError> {
    let r = sqlx::query(&jobs::run(&p))
        .bind(id)
        .fetch_optional(pool)
        .await?;
    r.as_ref().map(row).transpose()
}

pub(super) async fn last_slot(pool: &PgPool, job: &str) -> Result<Option<i64>, StoreError> {
    let r = sqlx::query(&jobs::last_slot(&p))
        .bind(job)
        .fetch_one(pool)
        .await?;
    Ok(r.try_get::<Option<i64>, _>(0)?)
}

pub(super) async fn pause(
    pool: &PgPool,
    job: &str,
    actor: &str,
    now: i64,
) -> Result<bool, StoreError> {
    Ok(sqlx::query(&jobs::pause(&p))
        .bind(job)
        .bind(now)
        .bind(actor)
        .execute(pool)
        .await?
        .rows_affected()
        > 0)
}

pub(super) async fn resume(pool: &PgPool, job: &str) -> Result<bool, StoreError> {
    Ok(sqlx::query(&jobs::resume(&p))
        .bind(job)
        .execute(pool)
        .await?
        .rows_affected()
        > 0)
}

pub(super) async fn paused(pool: &PgPool) -> Result<Vec<String>, StoreError> {
    let rows = sqlx::query(jobs::PAUSED).fetch_all(pool).await?;
    rows.iter()
        .map(|r| r.try_get(0).map_err(StoreError::from))
        .collect()
}
