//! Job runs: the types of the `Jobs` aggregate and its SQL, the same on both backends.

/// How a run started.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Trigger {
    /// Its slot came due.
    Schedule,
    /// The slot came due while no hub ran; run once at start.
    Missed,
    /// An operator asked (`junction jobs run`, `POST /api/v1/jobs/{name}/run`).
    Manual,
}

impl Trigger {
    pub fn as_str(self) -> &'static str {
        match self {
            Trigger::Schedule => "schedule",
            Trigger::Missed => "missed",
            Trigger::Manual => "manual",
        }
    }
}

/// Where a run stands.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum RunState {
    Running,
    Succeeded,
    Failed,
}

impl RunState {
    pub fn as_str(self) -> &'static str {
        match self {
            RunState::Running => "running",
            RunState::Succeeded => "succeeded",
            RunState::Failed => "failed",
        }
    }

    pub fn parse(s: &str) -> RunState {
        match s {
            "running" => RunState::Running,
            "succeeded" => RunState::Succeeded,
            _ => RunState::Failed,
        }
    }
}

/// A run to start: `slot` is the scheduled time it is for (unix ms; a manual run's is its own
/// start, negated, so it never takes a scheduled slot).
#[derive(Debug, Clone)]
pub struct NewRun {
    pub job: String,
    pub slot: i64,
    pub trigger: Trigger,
    pub owner: String,
    pub now: i64,
}

/// A stored run.
#[derive(Debug, Clone, PartialEq)]
pub struct JobRun {
    pub id: i64,
    pub job: String,
    pub slot: i64,
    pub trigger: String,
    pub state: RunState,
    pub owner: String,
    pub started_at: i64,
    pub heartbeat_at: i64,
    pub finished_at: Option<i64>,
    /// JSON: how far a running job is.
    pub progress: String,
    /// JSON: what a finished run found.
    pub result: String,
    pub error: Option<String>,
}

/// Runs kept per job; older ones are deleted as new ones finish.
pub const KEEP_RUNS: i64 = 200;

pub(crate) const COLUMNS: &str =
    "id, job, slot, trigger, state, owner, started_at, heartbeat_at, finished_at, progress, result, error";

pub(crate) fn insert(p: &dyn Fn(usize) -> String) -> String {
    format!(
        "INSERT INTO job_runs (job, slot, trigger, state, owner, started_at, heartbeat_at)
         VALUES ({}, {}, {}, 'running', {}, {n}, {n})
         ON CONFLICT (job, slot) DO NOTHING RETURNING id",
        p(1),
        p(2),
        p(3),
        p(4),
        n = p(5)
    )
}

/// Finishes run `p(1)` (still running): state, result, error, at.
pub(crate) fn finish(p: &dyn Fn(usize) -> String) -> String {
    format!(
        "UPDATE job_runs SET state = {}, result = {}, error = {}, finished_at = {n}, heartbeat_at = {n}
         WHERE id = {} AND state = 'running'",
        p(2),
        p(3),
        p(4),
        p(1),
        n = p(5)
    )
}

/// Keeps the newest [`KEEP_RUNS`] finished runs of job `p(1)`.
pub(crate) fn trim(p: &dyn Fn(usize) -> String) -> String {
    format!(
        "DELETE FROM job_runs WHERE job = {j} AND state <> 'running' AND id < (
           SELECT COALESCE(MIN(id), 0) FROM (
             SELECT id FROM job_runs WHERE job = {j} ORDER BY id DESC LIMIT {KEEP_RUNS}
           ) AS newest
         )",
        j = p(1)
    )
}

pub(crate) fn beat(p: &dyn Fn(usize) -> String) -> String {
    format!(
        "UPDATE job_runs SET progress = {}, heartbeat_at = {} WHERE id = {} AND state = 'running'",
        p(2),
        p(3),
        p(1)
    )
}

/// Fails runs whose owner stopped beating before `p(1)`.
pub(crate) fn fail_stale(p: &dyn Fn(usize) -> String) -> String {
    format!(
        "UPDATE job_runs SET state = 'failed', finished_at = {n},
           error = 'the process running it stopped (no heartbeat)'
         WHERE state = 'running' AND heartbeat_at < {}",
        p(1),
        n = p(2)
    )
}

/// Runs of job `p(1)` (or every job when NULL), newest first, at most `p(2)`.
pub(crate) fn list(p: &dyn Fn(usize) -> String) -> String {
    format!(
        "SELECT {COLUMNS} FROM job_runs WHERE ({j} IS NULL OR job = {j}) ORDER BY id DESC LIMIT {}",
        p(2),
        j = p(1)
    )
}

pub(crate) fn run(p: &dyn Fn(usize) -> String) -> String {
    format!("SELECT {COLUMNS} FROM job_runs WHERE id = {}", p(1))
}

/// The latest scheduled slot of job `p(1)` that has a run.
pub(crate) fn last_slot(p: &dyn Fn(usize) -> String) -> String {
    format!(
        "SELECT MAX(slot) FROM job_runs WHERE job = {} AND slot >= 0",
        p(1)
    )
}

pub(crate) fn pause(p: &dyn Fn(usize) -> String) -> String {
    format!(
        "INSERT INTO job_pauses (job, at, actor) VALUES ({}, {}, {}) ON CONFLICT (job) DO NOTHING",
        p(1),
        p(2),
        p(3)
    )
}

pub(crate) fn resume(p: &dyn Fn(usize) -> String) -> String {
    format!("DELETE FROM job_pauses WHERE job = {}", p(1))
}

pub(crate) const PAUSED: &str = "SELECT job FROM job_pauses ORDER BY job";
