//! Syncs: a pass over a `kind: sync` source's list, page by page, each record an event.
//!
//! A pass reads the connector's paginated operation from where the last committed page left
//! it. Each page's records are judged against what the source knows of their entities (new,
//! newer, unchanged, older; see `junction_store::syncs`) and written with the pass's checkpoint
//! in one transaction, so a process killed between pages resumes after the last page it
//! committed, nothing lost and nothing emitted twice.
//!
//! Incremental passes ask only for what changed since the vendor's clock (its `Date` header)
//! at the start of the last complete pass, less the lookback: a record updated while a pass
//! pages is asked for again by the next one, whatever its place in the list, and a record
//! sharing the boundary's second is read twice and emitted once. Full passes read the whole
//! list and then emit `deleted` events for the entities it no longer shows — unless they are
//! more than the source's `max_percent` of all it knows, which waits for an operator.

use junction_config::{Pull, Route, Source};
use junction_store::{Store, StoreError, SyncPage};
use serde::{Deserialize, Serialize};
use serde_json::{json, Map, Value};

use crate::dispatch::{PageFuture, Pulled};

/// Reads one page of the source's list (the hub in `junction serve`; a simulated vendor in
/// tests).
pub trait Pager: Send + Sync {
    fn page<'a>(&'a self, input: Map<String, Value>, cursor: Option<&'a str>) -> PageFuture<'a>;
}

/// Most deletions written per transaction.
const DELETE_BATCH: usize = 500;

/// Where a source's walk stands: what the checkpoint row holds.
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
struct State {
    /// Incremental: the vendor time (ms) the next pass asks from.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    since: Option<i64>,
    /// Incremental by the vendor's cursor: the page the next pass starts from.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    resume: Option<String>,
    /// The pass under way, if one was cut short.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pass: Option<Pass>,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
struct Pass {
    /// Junction's clock when the pass began: entities not listed since are absent.
    started_at: i64,
    /// The vendor's clock at its first page.
    vendor_start: Option<i64>,
    /// What the pass asks from (incremental).
    since: Option<i64>,
    /// The next page's cursor (`None`: the first).
    cursor: Option<String>,
    /// The list is read; deletions (full passes) remain.
    walked: bool,
    /// Not kept in the checkpoint: each run reports its own pages.
    #[serde(skip)]
    report: Report,
}

impl Pass {
    fn new(source: &str, lane: &str, now: i64, since: Option<i64>) -> Self {
        Pass {
            started_at: now,
            vendor_start: None,
            since,
            cursor: None,
            walked: false,
            report: Report {
                source: source.to_owned(),
                lane: lane.to_owned(),
                ..Default::default()
            },
        }
    }
}

/// What a pass did: kept as the run's result and shown as its progress.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Report {
    pub source: String,
    /// `incremental` or `full`.
    pub lane: String,
    pub pages: u64,
    pub records: u64,
    pub new: u64,
    pub changed: u64,
    pub unchanged: u64,
    pub older: u64,
    pub deleted: u64,
    /// Records without a usable key (or too long a one): not emitted.
    pub skipped: u64,
    /// The pass went on from a checkpoint a stopped run left.
    pub resumed: bool,
    /// The vendor time asked from (incremental), RFC 3339.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub since: Option<String>,
    /// Why the first skipped record was skipped.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub skipped_why: Option<String>,
    /// A reconciliation: `missed` changes webhooks did not bring — `missing` (an entity no
    /// webhook brought) plus `stale` (webhooks brought an older version) — and, for full passes,
    /// `extra` (entities webhooks brought that the list does not show; nothing is deleted).
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub reconcile: bool,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub missed: Option<u64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub missing: Option<u64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub stale: Option<u64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub extra: Option<u64>,
    /// Full passes: about how many records the list holds (the entities known at the start),
    /// for a progress bar.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub expected: Option<u64>,
    /// Full passes: entities known, and how many the list no longer shows.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub known: Option<u64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub absent: Option<u64>,
}

/// Why a pass stopped.
#[derive(Debug)]
pub enum Failed {
    /// The vendor (or the connector) answered an error: the status and body.
    Vendor(u16, Value),
    Store(StoreError),
    /// More deletions than the source allows without confirmation.
    TooManyDeletions {
        absent: u64,
        known: u64,
        max: f64,
    },
}

impl std::fmt::Display for Failed {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Failed::Vendor(status, body) => {
                let message = body
                    .pointer("/error/message")
                    .and_then(Value::as_str)
                    .unwrap_or("failed");
                write!(f, "the list answered {status}: {message}")
            }
            Failed::Store(e) => write!(f, "the store: {e}"),
            Failed::TooManyDeletions { absent, known, max } => write!(
                f,
                "the list no longer shows {absent} of {known} entities ({:.1} %), more than the {max} % a pass deletes on its own; nothing was deleted: check the vendor, then run the job with --confirm-deletions",
                *absent as f64 * 100.0 / (*known).max(1) as f64
            ),
        }
    }
}

impl From<StoreError> for Failed {
    fn from(e: StoreError) -> Self {
        Failed::Store(e)
    }
}

/// One source's passes: a sync source's, or a webhook source's reconciliation.
pub struct Syncer<'a> {
    pub store: &'a dyn Store,
    pub source: &'a Source,
    pub pull: &'a Pull,
    /// A reconciliation: what the list shows is compared with what webhooks brought, and
    /// nothing is deleted.
    pub reconcile: bool,
    /// Junction's clock (ms).
    pub clock: &'a (dyn Fn() -> i64 + Send + Sync),
    /// What turns the records into events (shared with the mapping threads).
    records: std::sync::Arc<super::records::Records>,
}

impl<'a> Syncer<'a> {
    /// `source`'s syncer, with the routes of `config` that take its events.
    pub fn new(
        store: &'a dyn Store,
        config: &junction_config::Config,
        source: &'a Source,
        clock: &'a (dyn Fn() -> i64 + Send + Sync),
    ) -> Option<Self> {
        let routes: Vec<Route> = config
            .flows
            .routes
            .values()
            .filter(|r| r.from == source.name)
            .cloned()
            .collect();
        let (pull, reconcile) = match (&source.pull, &source.reconcile) {
            (Some(p), _) => (p, false),
            (None, Some(p)) => (p, true),
            (None, None) => return None,
        };
        let shape = pull.shape.clone().map(|p| {
            junction_transform::Mapping::new("shape", p, junction_transform::Limits::default())
        });
        let records = std::sync::Arc::new(super::records::Records {
            source: source.name.clone(),
            pull: pull.clone(),
            routes,
            shape,
            reconcile,
            subject: source.event.subject.clone(),
        });
        Some(Self {
            store,
            source,
            pull,
            reconcile,
            clock,
            records,
        })
    }

    /// Runs one pass (or finishes the one a stopped run left) to its end. `progress` sees the
    /// report after every page; `woken` each destination that got deliveries.
    pub async fn pass(
        &self,
        pager: &dyn Pager,
        full: bool,
        confirm: bool,
        progress: &mut (dyn FnMut(&Report) + Send),
        woken: &(dyn Fn(&str) + Send + Sync),
    ) -> Result<Report, Failed> {
        let lane = if full { "full" } else { "incremental" };
        let name = &self.source.name;
        let mut state: State = match self.store.sync_checkpoint(name, lane).await? {
            Some(text) => serde_json::from_str(&text).unwrap_or_default(),
            None => State::default(),
        };
        let mut pass = match state.pass.take() {
            // This run's report counts this run's pages (the stopped run's result has its own).
            Some(mut p) => {
                p.report = Report {
                    source: name.clone(),
                    lane: lane.into(),
                    resumed: true,
                    ..Default::default()
                };
                p
            }
            None => {
                let mut p = Pass::new(
                    name,
                    lane,
                    (self.clock)(),
                    if full { None } else { state.since },
                );
                if !full && self.pull.resume_cursor {
                    p.cursor = state.resume.clone();
                }
                p
            }
        };
        // The first page this run asks for (a resumed pass's refused cursor starts it over).
        let mut fresh_run = true;
        pass.report.since = pass
            .since
            .map(|s| junction_config::TimeFormat::Rfc3339.write(s));
        // The next page, fetched while the last one was written.
        let mut prefetched: Option<Result<Pulled, (u16, Value)>> = None;
        while !pass.walked {
            let fetched = match prefetched.take() {
                Some(p) => p,
                None => pager.page(self.input(&pass), pass.cursor.as_deref()).await,
            };
            let page = match fetched {
                Ok(p) => p,
                // A cursor kept across runs can go stale (the record it names was deleted):
                // a resumed pass the vendor refuses to continue starts over, once.
                Err((status, _))
                    if fresh_run
                        && pass.cursor.is_some()
                        && (400..500).contains(&status)
                        && status != 429 =>
                {
                    tracing::warn!(source = %name, status, "the vendor refused the checkpoint's cursor; the pass starts over");
                    fresh_run = false;
                    pass = Pass::new(
                        name,
                        lane,
                        (self.clock)(),
                        if full { None } else { state.since },
                    );
                    continue;
                }
                Err((status, body)) => return Err(Failed::Vendor(status, body)),
            };
            fresh_run = false;
            if pass.vendor_start.is_none() {
                pass.vendor_start = Some(page.vendor_now.unwrap_or_else(|| (self.clock)()));
            }
            let now = (self.clock)();
            let (records, report) = {
                let (made, lines, mut report) = (
                    self.records.clone(),
                    page.lines,
                    std::mem::take(&mut pass.report),
                );
                junction_transform::pool::run(move || {
                    let records = made.records(&lines, now, &mut report);
                    (records, report)
                })
                .await
                .map_err(|e| Failed::Store(StoreError::Internal(e)))?
            };
            pass.report = report;
            pass.report.pages += 1;
            let read_at = std::mem::replace(&mut pass.cursor, page.next);
            pass.walked = pass.cursor.is_none();
            let mut next = state.clone();
            if pass.walked && !full {
                // The next pass asks from this one's start, less the lookback.
                let lookback = self
                    .pull
                    .since
                    .as_ref()
                    .map_or(0, |s| junction_core::time::ms(s.lookback));
                next.since = pass.vendor_start.map(|v| v - lookback);
                // The page this pass ended on: where the vendor's cursor goes on from.
                if self.pull.resume_cursor {
                    next.resume = read_at;
                }
                next.pass = None;
            } else {
                next.pass = Some(pass.clone());
            }
            let write = self.store.sync_page(SyncPage {
                source: name.clone(),
                records,
                checkpoint: Some((lane.into(), checkpoint(&next))),
                now,
            });
            let outcome = match pass.cursor.as_deref() {
                // Reading the next page is safe before this one is committed: only the
                // checkpoint says where a pass stands.
                Some(cursor) => {
                    let (written, fetched) =
                        tokio::join!(write, pager.page(self.input(&pass), Some(cursor)));
                    prefetched = Some(fetched);
                    written?
                }
                None => write.await?,
            };
            count(&mut pass.report, &outcome);
            for d in &outcome.destinations {
                woken(d);
            }
            state = next;
            progress(&pass.report);
        }
        if full {
            self.deletions(&mut pass, confirm, woken).await?;
            state.pass = None;
            let done = SyncPage {
                source: name.clone(),
                records: Vec::new(),
                checkpoint: Some((lane.into(), checkpoint(&state))),
                now: (self.clock)(),
            };
            self.store.sync_page(done).await?;
        }
        if self.reconcile {
            let r = &mut pass.report;
            r.reconcile = true;
            (r.missing, r.stale, r.extra) = (Some(r.new), Some(r.changed), r.absent);
            r.missed = Some(r.new + r.changed);
        }
        Ok(pass.report)
    }

    /// The operation's input for the pass's pages: the fixed input, and where an incremental
    /// pass asks from.
    fn input(&self, pass: &Pass) -> Map<String, Value> {
        let mut input = self.pull.input.clone();
        if let (Some(s), Some(since)) = (&self.pull.since, pass.since) {
            input.insert(s.param.clone(), Value::String(s.format.write(since)));
        }
        input
    }

    /// Emits `deleted` for what the finished full pass did not list, within the guard.
    async fn deletions(
        &self,
        pass: &mut Pass,
        confirm: bool,
        woken: &(dyn Fn(&str) + Send + Sync),
    ) -> Result<(), Failed> {
        let name = &self.source.name;
        let (known, absent) = self.store.entity_counts(name, pass.started_at).await?;
        pass.report.known = Some(known);
        pass.report.absent = Some(absent);
        let Some(max) = self.pull.max_delete_percent else {
            return Ok(());
        };
        if absent == 0 {
            return Ok(());
        }
        if absent as f64 * 100.0 > max * known as f64 && !confirm {
            // The pass is over: the next one reads the list again, and deletes if the vendor
            // still does not show them and an operator confirmed.
            let state = State::default();
            let done = SyncPage {
                source: name.clone(),
                records: Vec::new(),
                checkpoint: Some(("full".into(), checkpoint(&state))),
                now: (self.clock)(),
            };
            self.store.sync_page(done).await?;
            return Err(Failed::TooManyDeletions { absent, known, max });
        }
        let mut after = String::new();
        loop {
            let keys = self
                .store
                .absent_entities(name, pass.started_at, &after, DELETE_BATCH)
                .await?;
            let Some(last) = keys.last() else { break };
            after = last.clone();
            let now = (self.clock)();
            let records = keys
                .into_iter()
                .map(|k| self.records.deletion(k, now))
                .collect();
            let outcome = self
                .store
                .sync_page(SyncPage {
                    source: name.clone(),
                    records,
                    checkpoint: None,
                    now,
                })
                .await?;
            count(&mut pass.report, &outcome);
            for d in &outcome.destinations {
                woken(d);
            }
        }
        Ok(())
    }
}

fn checkpoint(state: &State) -> String {
    serde_json::to_string(state).unwrap_or_else(|_| "{}".into())
}

fn count(r: &mut Report, o: &junction_store::PageOutcome) {
    r.new += o.new;
    r.changed += o.changed;
    r.unchanged += o.unchanged;
    r.older += o.older;
    r.deleted += o.deleted;
}

/// What a sync run in `junction serve` works with.
pub(super) struct Context<'a> {
    pub store: &'a dyn Store,
    pub config: &'a junction_config::Config,
    pub history: &'a junction_telemetry::history::Registry,
    pub wakers: &'a crate::dispatch::Wakers,
    pub ops: std::sync::Arc<dyn crate::dispatch::Operations>,
}

/// The hub's pages of a pull's operation.
struct HubPager<'a> {
    ops: &'a dyn crate::dispatch::Operations,
    pull: &'a Pull,
}

impl Pager for HubPager<'_> {
    fn page<'a>(&'a self, input: Map<String, Value>, cursor: Option<&'a str>) -> PageFuture<'a> {
        self.ops.page(crate::dispatch::PageCall {
            connector: &self.pull.connector,
            operation: &self.pull.operation,
            connection: &self.pull.connection,
            input,
            cursor,
        })
    }
}

impl Context<'_> {
    /// One pass over `source`, as a job run: its report as the result (and, meanwhile, the
    /// progress), counted in metrics and the source's history.
    pub(super) async fn run(
        &self,
        source: &Source,
        full: bool,
        confirm: bool,
        progress: &std::sync::Mutex<String>,
    ) -> super::Ended {
        let clock = junction_core::time::now_ms;
        let Some(syncer) = Syncer::new(self.store, self.config, source, &clock) else {
            return super::Ended {
                ok: false,
                result: json!({}),
                error: Some(format!("`{}` neither syncs nor is reconciled", source.name)),
            };
        };
        let pager = HubPager {
            ops: self.ops.as_ref(),
            pull: syncer.pull,
        };
        let mut seen = |r: &Report| {
            *progress.lock().unwrap_or_else(|p| p.into_inner()) =
                serde_json::to_string(r).unwrap_or_default();
        };
        let wake = |d: &str| self.wakers.wake(d);
        let outcome = syncer.pass(&pager, full, confirm, &mut seen, &wake).await;
        let series = self
            .history
            .series(junction_telemetry::history::Kind::Source, &source.name);
        let report = match &outcome {
            Ok(r) => r.clone(),
            Err(_) => serde_json::from_str(&progress.lock().unwrap_or_else(|p| p.into_inner()))
                .unwrap_or_default(),
        };
        let emitted = report.new + report.changed + report.deleted;
        series.add(
            junction_telemetry::history::source::RECEIVED,
            report.records,
        );
        series.add(junction_telemetry::history::source::ACCEPTED, emitted);
        for (outcome, n) in [
            ("new", report.new),
            ("changed", report.changed),
            ("unchanged", report.unchanged),
            ("older", report.older),
            ("deleted", report.deleted),
            ("skipped", report.skipped),
        ] {
            if n > 0 {
                metrics::counter!("junction_sync_records_total", "source" => source.name.clone(), "outcome" => outcome)
                    .increment(n);
            }
        }
        if report.reconcile {
            for (kind, n) in [
                ("missing", report.missing),
                ("stale", report.stale),
                ("extra", report.extra),
            ] {
                if let Some(n) = n.filter(|n| *n > 0) {
                    metrics::counter!("junction_reconcile_found_total", "source" => source.name.clone(), "kind" => kind)
                        .increment(n);
                }
            }
            if report.missed.is_some_and(|m| m > 0) {
                tracing::warn!(source = %source.name, missing = report.missing.unwrap_or(0), stale = report.stale.unwrap_or(0), "reconciliation found changes the source's webhooks missed; they were emitted");
            }
        }
        match outcome {
            Ok(r) => super::Ended {
                ok: true,
                result: serde_json::to_value(&r).unwrap_or_default(),
                error: None,
            },
            Err(e) => super::Ended {
                ok: false,
                result: serde_json::to_value(&report).unwrap_or_default(),
                error: Some(e.to_string()),
            },
        }
    }
}
