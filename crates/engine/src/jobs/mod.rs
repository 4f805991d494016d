//! Jobs: work on a schedule, without a leader. Every process computes each job's due slot from
//! the running config and tries to insert a run for `(job, slot)`; the store's unique constraint
//! lets exactly one process win, on SQLite as on PostgreSQL. The winner runs it, beating a
//! heartbeat into the run's row; a run whose owner stops beating is failed by any process's
//! sweep. Operators run, pause and resume jobs through `/api/v1/jobs` and `junction jobs`.

pub mod http;
mod probe;
mod records;
pub mod sync;

use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use junction_config::{Job, Missed, Work};
use junction_core::time::now_ms;
use junction_server::AppState;
use junction_store::{NewRun, RunState, StoreError, Trigger};
use serde_json::{json, Value};

use crate::dispatch::{Operations, Wakers};

/// How often a running run says it is alive, and how long without it before it is failed.
const HEARTBEAT: Duration = Duration::from_secs(5);
const STALE: Duration = Duration::from_secs(30);
/// How often the scheduler looks at the clock (a slot starts within this of coming due).
const TICK: Duration = Duration::from_millis(500);
/// Most one warning this often while the store does not answer.
const WARN_EVERY: Duration = Duration::from_secs(30);

/// The scheduler of this process.
pub struct Scheduler {
    state: AppState,
    operations: Option<Arc<dyn Operations>>,
    /// Woken when a sync's page created deliveries.
    wakers: Arc<Wakers>,
    /// The last slot this process tried per job (it tries each slot once).
    tried: Mutex<HashMap<String, i64>>,
    /// When this process started: a slot due before it is a missed one.
    started_at: i64,
    /// One pass at a time per pulled source in this process: a second run (a manual one during
    /// a scheduled one, an incremental during a full) waits for the first instead of walking
    /// the same pages beside it.
    passes: Mutex<HashMap<String, Arc<tokio::sync::Mutex<()>>>>,
}

/// What one run ended with.
pub struct Ended {
    pub ok: bool,
    pub result: Value,
    pub error: Option<String>,
}

impl Scheduler {
    pub fn new(
        state: &AppState,
        operations: Option<Arc<dyn Operations>>,
        wakers: Arc<Wakers>,
    ) -> Arc<Self> {
        Arc::new(Self {
            state: state.clone(),
            operations,
            wakers,
            tried: Mutex::default(),
            started_at: now_ms(),
            passes: Mutex::default(),
        })
    }

    /// Runs the schedule until the process stops.
    pub fn spawn(self: &Arc<Self>) {
        let me = self.clone();
        let task = tokio::spawn(async move {
            let (mut swept, mut warned) = (0i64, 0i64);
            loop {
                if me.state.health.shutting_down() {
                    return;
                }
                let now = now_ms();
                // Nothing to sweep (and no write every few seconds) in a config without jobs.
                let sweep = now - swept >= HEARTBEAT.as_millis() as i64
                    && !me.state.config().jobs.is_empty();
                let mut failed = None;
                if sweep {
                    swept = now;
                    if let Err(e) = me
                        .state
                        .store
                        .fail_stale_runs(now - STALE.as_millis() as i64, now)
                        .await
                    {
                        failed = Some(e);
                    }
                }
                if let Err(e) = me.tick(now).await {
                    failed = Some(e);
                }
                // While the store is away, say so once in a while, not twice a second.
                if let Some(e) = failed {
                    if now - warned >= WARN_EVERY.as_millis() as i64 {
                        warned = now;
                        tracing::warn!(error = %e, "the job schedule could not be read or swept; retrying");
                    }
                }
                tokio::time::sleep(TICK).await;
            }
        });
        self.state.on_shutdown(Box::new(move |_| {
            Box::pin(async move {
                task.abort();
            })
        }));
    }

    /// Starts the runs that came due since the last tick.
    pub async fn tick(&self, now: i64) -> Result<(), StoreError> {
        let config = self.state.config();
        if config.jobs.is_empty() {
            return Ok(());
        }
        let paused = self.state.store.paused_jobs().await?;
        for job in config.jobs.values() {
            if paused.contains(&job.name) {
                continue;
            }
            let Some(due) = job.schedule.due(now, job.offset_ms) else {
                continue;
            };
            let first = {
                let mut tried = self.tried.lock().unwrap_or_else(|p| p.into_inner());
                match tried.insert(job.name.clone(), due) {
                    Some(last) if last == due => continue,
                    last => last.is_none(),
                }
            };
            let trigger = if due >= self.started_at || !first {
                Trigger::Schedule
            } else if job.missed == Missed::Skip {
                continue;
            } else {
                Trigger::Missed
            };
            self.start(job, due, trigger, now, false).await?;
        }
        Ok(())
    }

    /// Inserts a run for `slot` and runs it, unless another process has it: its id.
    async fn start(
        &self,
        job: &Job,
        slot: i64,
        trigger: Trigger,
        now: i64,
        confirm: bool,
    ) -> Result<Option<i64>, StoreError> {
        let run = NewRun {
            job: job.name.clone(),
            slot,
            trigger,
            owner: self.state.node_id.to_string(),
            now,
        };
        let Some(id) = self.state.store.start_run(run).await? else {
            return Ok(None);
        };
        tracing::info!(job = %job.name, run = id, trigger = trigger.as_str(), "job run started");
        metrics::gauge!("junction_job_running", "job" => job.name.clone()).increment(1.0);
        let pass = match &job.work {
            Work::Sync(j) | Work::Reconcile(j) => Some(
                self.passes
                    .lock()
                    .unwrap_or_else(|p| p.into_inner())
                    .entry(j.source.clone())
                    .or_default()
                    .clone(),
            ),
            Work::Probe(_) => None,
        };
        let run = Run {
            pass,
            state: self.state.clone(),
            config: self.state.config(),
            job: job.clone(),
            id,
            ops: self.operations.clone(),
            wakers: self.wakers.clone(),
            confirm,
        };
        tokio::spawn(run.execute());
        Ok(Some(id))
    }

    /// Runs `name` now (an operator's request): the run's id. `confirm` lets a sync's full pass
    /// delete more than its source allows on its own.
    pub async fn run_now(&self, name: &str, confirm: bool) -> Result<Option<i64>, StoreError> {
        let config = self.state.config();
        let Some(job) = config.jobs.get(name) else {
            return Ok(None);
        };
        let now = now_ms();
        // A manual run's slot is its start, negated: never a scheduled slot.
        let mut slot = -now;
        loop {
            match self.start(job, slot, Trigger::Manual, now, confirm).await? {
                Some(id) => return Ok(Some(id)),
                // Two manual runs in the same millisecond: the next one down.
                None => slot -= 1,
            }
        }
    }
}

/// One run, started by this process.
struct Run {
    state: AppState,
    config: Arc<junction_config::Config>,
    job: Job,
    id: i64,
    ops: Option<Arc<dyn Operations>>,
    wakers: Arc<Wakers>,
    confirm: bool,
    /// Held while a sync or reconciliation passes over its source.
    pass: Option<Arc<tokio::sync::Mutex<()>>>,
}

impl Run {
    /// Runs to its end: the work within the job's timeout, a heartbeat (with the progress)
    /// meanwhile, the outcome written.
    async fn execute(self) {
        let (store, job, id) = (self.state.store.clone(), self.job.clone(), self.id);
        let progress = Arc::new(Mutex::new(String::from("{}")));
        // Stops beating when this task ends, however it ends: a run whose runner is gone must
        // go silent, so the sweep fails it.
        let beat = Beating({
            let (store, progress) = (store.clone(), progress.clone());
            tokio::spawn(async move {
                loop {
                    tokio::time::sleep(HEARTBEAT).await;
                    let now = progress.lock().unwrap_or_else(|p| p.into_inner()).clone();
                    let _ = store.beat_run(id, now, now_ms()).await;
                }
            })
        });
        let ended = match tokio::time::timeout(job.timeout, self.work(&progress)).await {
            Ok(e) => e,
            Err(_) => Ended {
                ok: false,
                result: json!({}),
                error: Some(format!(
                    "ran past the job's timeout ({})",
                    humantime::format_duration(job.timeout)
                )),
            },
        };
        drop(beat);
        let state = if ended.ok {
            RunState::Succeeded
        } else {
            RunState::Failed
        };
        metrics::gauge!("junction_job_running", "job" => job.name.clone()).decrement(1.0);
        metrics::counter!("junction_job_runs_total", "job" => job.name.clone(), "state" => state.as_str())
            .increment(1);
        if ended.ok {
            metrics::gauge!("junction_job_last_success_timestamp_seconds", "job" => job.name.clone())
                .set(now_ms() as f64 / 1000.0);
        } else {
            tracing::warn!(job = %job.name, run = id, error = ?ended.error, "job run failed");
        }
        let written = store
            .finish_run(id, state, ended.result.to_string(), ended.error, now_ms())
            .await;
        if let Err(e) = written {
            tracing::warn!(job = %job.name, run = id, error = %e, "the job run's outcome could not be written; it will be failed by the sweep");
        }
    }

    async fn work(&self, progress: &Arc<Mutex<String>>) -> Ended {
        let Some(ops) = &self.ops else {
            return Ended {
                ok: false,
                result: json!({}),
                error: Some("connectors are not running in this process".into()),
            };
        };
        match &self.job.work {
            Work::Probe(p) => probe::run(ops.as_ref(), &self.config, p).await,
            Work::Sync(j) | Work::Reconcile(j) => {
                let Some(source) = self.config.flows.sources.get(&j.source) else {
                    return Ended {
                        ok: false,
                        result: json!({}),
                        error: Some(format!("no source `{}`", j.source)),
                    };
                };
                let _one_at_a_time = match &self.pass {
                    Some(lock) => Some(lock.lock().await),
                    None => None,
                };
                let ctx = sync::Context {
                    store: self.state.store.as_ref(),
                    config: &self.config,
                    history: &self.state.history,
                    wakers: &self.wakers,
                    ops: ops.clone(),
                };
                ctx.run(source, j.full, self.confirm, progress).await
            }
        }
    }
}

/// A heartbeat task, stopped when dropped.
struct Beating(tokio::task::JoinHandle<()>);

impl Drop for Beating {
    fn drop(&mut self) {
        self.0.abort();
    }
}
