//! `jobs:` — work Junction does on a schedule: as written, checked and resolved in one place,
//! with the slot arithmetic every process shares (a slot is the scheduled time a run is for; the
//! processes that find one due race to insert it, and one wins).
//!
//! ```yaml
//! jobs:
//!   crm-contract:
//!     every: 1h                # or cron: "0 * * * *" (UTC)
//!     jitter: 1m               # a fixed offset per job within this, so hubs do not all call at :00
//!     missed: run_once         # or skip: a slot that came due while no hub ran
//!     probe:
//!       connector: crm
//!       calls:
//!         - { operation: get_customer, input: { id: cus_000001 } }
//!         - { operation: list_customers }
//! ```

use std::collections::BTreeMap;
use std::str::FromStr;
use std::time::Duration;

use schemars::JsonSchema;
use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};

use crate::error::ConfigError;
use crate::units::HumanDuration;
use crate::yaml::{push, Document};

/// One job.
#[derive(Debug, Deserialize, Serialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct RawJob {
    /// Run every this long (`15m`, `1h`, `1d`), on slots aligned to the epoch (plus the jitter).
    #[serde(default)]
    pub every: Option<HumanDuration>,
    /// Or a cron pattern, in UTC: `0 * * * *` (minute hour day month weekday; an optional sixth
    /// leading field for seconds).
    #[serde(default)]
    pub cron: Option<String>,
    /// Slots are shifted by a fixed offset within this (derived from the job's name), so jobs
    /// on the same schedule do not all call their vendors at once. Default 0.
    #[serde(default)]
    pub jitter: Option<HumanDuration>,
    /// A slot that came due while no hub ran: `run_once` (the default: the latest such slot runs
    /// once when a hub starts) or `skip`.
    #[serde(default)]
    pub missed: Missed,
    /// A run still going after this long is failed. Default 10m.
    #[serde(default)]
    pub timeout: Option<HumanDuration>,
    /// A contract probe: read-only calls of a connector's operations, their answers checked
    /// against the operations' response models and the shapes learned from earlier answers.
    #[serde(default)]
    pub probe: Option<RawProbe>,
    /// A sync: a pass over a `kind: sync` source's list.
    #[serde(default)]
    pub sync: Option<RawSyncJob>,
    /// A reconciliation: a pass over the list a webhook source names in its `reconcile:`,
    /// emitting what its webhooks missed.
    #[serde(default)]
    pub reconcile: Option<RawSyncJob>,
}

/// Which sync source a job pulls, and how.
#[derive(Debug, Deserialize, Serialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct RawSyncJob {
    pub source: String,
    /// A full pass: the whole list, and deletions detected. Default: incremental when the
    /// source has `since:`, full otherwise.
    #[serde(default)]
    pub full: Option<bool>,
}

#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Deserialize, Serialize, JsonSchema)]
#[serde(rename_all = "snake_case")]
pub enum Missed {
    #[default]
    RunOnce,
    Skip,
}

/// What a probe calls.
#[derive(Debug, Deserialize, Serialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct RawProbe {
    pub connector: String,
    pub calls: Vec<RawProbeCall>,
}

/// One call of a probe.
#[derive(Debug, Deserialize, Serialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct RawProbeCall {
    pub operation: String,
    /// The operation's parameters (`{ id: cus_000001 }`).
    #[serde(default)]
    pub input: Map<String, Value>,
    /// Allow an operation that writes (a POST the vendor documents as safe, such as a search).
    /// Probes only read unless told.
    #[serde(default)]
    pub safe: bool,
}

/// When a job runs.
#[derive(Debug, Clone, PartialEq)]
pub enum Schedule {
    Every(Duration),
    Cron(Box<croner::Cron>),
}

impl Schedule {
    /// The latest slot at or before `now_ms`, shifted by `offset_ms` (`None` when a cron pattern
    /// has no earlier occurrence).
    pub fn due(&self, now_ms: i64, offset_ms: i64) -> Option<i64> {
        let t = now_ms - offset_ms;
        let slot = match self {
            Schedule::Every(d) => {
                let every = (d.as_millis() as i64).max(1);
                t.div_euclid(every) * every
            }
            Schedule::Cron(c) => {
                // Whole seconds: a cron slot is on the second.
                let at = chrono::DateTime::from_timestamp(t.div_euclid(1000), 0)?;
                c.find_previous_occurrence(&at, true).ok()?.timestamp() * 1000
            }
        };
        Some(slot + offset_ms)
    }

    /// The first slot after `now_ms`, shifted by `offset_ms`.
    pub fn next(&self, now_ms: i64, offset_ms: i64) -> Option<i64> {
        let t = now_ms - offset_ms;
        let slot = match self {
            Schedule::Every(d) => {
                let every = (d.as_millis() as i64).max(1);
                (t.div_euclid(every) + 1) * every
            }
            Schedule::Cron(c) => {
                let at = chrono::DateTime::from_timestamp(t.div_euclid(1000), 0)?;
                c.find_next_occurrence(&at, false).ok()?.timestamp() * 1000
            }
        };
        Some(slot + offset_ms)
    }

    /// The schedule as written.
    pub fn text(&self) -> String {
        match self {
            Schedule::Every(d) => format!("every {}", humantime::format_duration(*d)),
            Schedule::Cron(c) => format!("cron {}", c.pattern),
        }
    }

    /// About how long between two runs (for "not run for twice its interval").
    pub fn period_ms(&self, now_ms: i64) -> i64 {
        match (self.due(now_ms, 0), self.next(now_ms, 0)) {
            (Some(a), Some(b)) => b - a,
            _ => 0,
        }
    }
}

/// A resolved job.
#[derive(Debug, Clone, PartialEq)]
pub struct Job {
    pub name: String,
    pub schedule: Schedule,
    /// The job's fixed offset within its jitter.
    pub offset_ms: i64,
    pub missed: Missed,
    pub timeout: Duration,
    pub work: Work,
}

/// What a job does.
#[derive(Debug, Clone, PartialEq)]
pub enum Work {
    Probe(Probe),
    Sync(SyncJob),
    Reconcile(SyncJob),
}

impl Work {
    pub fn kind(&self) -> &'static str {
        match self {
            Work::Probe(_) => "probe",
            Work::Sync(_) => "sync",
            Work::Reconcile(_) => "reconcile",
        }
    }
}

/// A pass over a sync source.
#[derive(Debug, Clone, PartialEq)]
pub struct SyncJob {
    pub source: String,
    pub full: bool,
}

#[derive(Debug, Clone, PartialEq)]
pub struct Probe {
    pub connector: String,
    pub calls: Vec<ProbeCall>,
}

#[derive(Debug, Clone, PartialEq)]
pub struct ProbeCall {
    pub operation: String,
    pub input: Map<String, Value>,
}

/// Most jobs in a config, calls in a probe, bytes of a call's input.
const MAX_JOBS: usize = 256;
const MAX_CALLS: usize = 32;
const MAX_INPUT: usize = 16 * 1024;

fn job_name(name: &str) -> bool {
    !name.is_empty()
        && name.len() <= 64
        && name
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'-' | b'_' | b'.'))
}

/// The job's offset within `jitter`: the same in every process (FNV-1a of its name).
fn offset(name: &str, jitter: Duration) -> i64 {
    let span = jitter.as_millis() as u64;
    if span == 0 {
        return 0;
    }
    let mut h: u64 = 0xcbf2_9ce4_8422_2325;
    for b in name.bytes() {
        h ^= u64::from(b);
        h = h.wrapping_mul(0x0000_0100_0000_01b3);
    }
    (h % span) as i64
}

pub(crate) fn resolve_jobs(
    doc: &Document,
    connectors: &BTreeMap<String, crate::connect::resolved::Connector>,
    flows: &crate::flow::resolved::Flows,
    errs: &mut Vec<ConfigError>,
) -> BTreeMap<String, Job> {
    let raw: BTreeMap<String, RawJob> = crate::check::entries(doc, "jobs", errs);
    if raw.len() > MAX_JOBS {
        errs.push(doc.error_at("/jobs", format!("at most {MAX_JOBS} jobs"), None));
    }
    raw.into_iter()
        .filter_map(|(name, raw)| {
            let ptr = push("/jobs", &name);
            job(doc, &ptr, &name, raw, connectors, flows, errs).map(|j| (name, j))
        })
        .collect()
}

fn job(
    doc: &Document,
    ptr: &str,
    name: &str,
    raw: RawJob,
    connectors: &BTreeMap<String, crate::connect::resolved::Connector>,
    flows: &crate::flow::resolved::Flows,
    errs: &mut Vec<ConfigError>,
) -> Option<Job> {
    let before = errs.len();
    if !job_name(name) {
        errs.push(doc.error_at(
            ptr,
            format!("`{name}`: a job's name is 1 to 64 letters, digits, `.`, `-` or `_`"),
            None,
        ));
    }
    let schedule = match (raw.every, &raw.cron) {
        (Some(d), None) => {
            if !(Duration::from_secs(1)..=Duration::from_secs(366 * 86_400)).contains(&d.0) {
                errs.push(doc.error_at(
                    &push(ptr, "every"),
                    "`every` is between 1s and 366d",
                    None,
                ));
            }
            Schedule::Every(d.0)
        }
        (None, Some(text)) => {
            match croner::Cron::from_str(text) {
                Ok(c) => Schedule::Cron(Box::new(c)),
                Err(e) => {
                    errs.push(doc.error_at(
                    &push(ptr, "cron"),
                    format!("`{text}` is not a cron pattern: {e}"),
                    Some("minute hour day-of-month month day-of-week, e.g. \"0 * * * *\" (UTC)".into()),
                ));
                    return None;
                }
            }
        }
        _ => {
            errs.push(doc.error_at(
                ptr,
                "a job runs `every` an interval or on a `cron` pattern (one of them)",
                Some("e.g. every: 1h".into()),
            ));
            return None;
        }
    };
    let jitter = raw.jitter.map_or(Duration::ZERO, |j| j.0);
    let period = schedule.period_ms(0).max(1) as u128;
    if jitter.as_millis() >= period {
        errs.push(doc.error_at(
            &push(ptr, "jitter"),
            "the jitter must be shorter than the time between two runs",
            None,
        ));
    }
    let timeout = raw.timeout.map_or(Duration::from_secs(600), |t| t.0);
    if !(Duration::from_secs(1)..=Duration::from_secs(86_400)).contains(&timeout) {
        errs.push(doc.error_at(
            &push(ptr, "timeout"),
            "`timeout` is between 1s and 1d",
            None,
        ));
    }
    let given = [
        raw.probe.is_some(),
        raw.sync.is_some(),
        raw.reconcile.is_some(),
    ];
    let work = match (raw.probe, raw.sync, raw.reconcile) {
        (Some(p), None, None) => Work::Probe(probe(doc, &push(ptr, "probe"), p, connectors, errs)),
        (None, Some(s), None) => Work::Sync(sync(doc, &push(ptr, "sync"), s, flows, false, errs)),
        (None, None, Some(s)) => {
            Work::Reconcile(sync(doc, &push(ptr, "reconcile"), s, flows, true, errs))
        }
        _ if given.iter().any(|g| *g) => {
            errs.push(doc.error_at(
                ptr,
                "a job does one thing: `probe`, `sync` or `reconcile`",
                Some("declare one job for each".into()),
            ));
            return None;
        }
        _ => {
            errs.push(doc.error_at(
                ptr,
                "a job says what it does",
                Some("add `probe: { connector: …, calls: [ { operation: … } ] }`, `sync: { source: … }` or `reconcile: { source: … }`".into()),
            ));
            return None;
        }
    };
    if errs.len() > before {
        return None;
    }
    Some(Job {
        name: name.to_owned(),
        offset_ms: offset(name, jitter),
        schedule,
        missed: raw.missed,
        timeout,
        work,
    })
}

/// A sync's or a reconciliation's job: its source must pull (or, for `reconcile`, be a webhook
/// source with `reconcile:`).
fn sync(
    doc: &Document,
    ptr: &str,
    raw: RawSyncJob,
    flows: &crate::flow::resolved::Flows,
    reconcile: bool,
    errs: &mut Vec<ConfigError>,
) -> SyncJob {
    let pull = |s: &crate::flow::resolved::Source| {
        if reconcile {
            s.reconcile.clone()
        } else {
            s.pull.clone()
        }
    };
    let declared = doc.value.get("sources").and_then(|s| s.get(&raw.source));
    let sptr = push(ptr, "source");
    match (flows.sources.get(&raw.source), declared) {
        (Some(s), _) => match pull(s) {
            None if reconcile => errs.push(doc.error_at(
                &sptr,
                format!(
                    "`{}` has no `reconcile:`: nothing says which list to compare its webhooks with",
                    raw.source
                ),
                Some("give the webhook source `reconcile: { connector: …, operation: …, version: … }`".into()),
            )),
            None => errs.push(doc.error_at(
                &sptr,
                format!(
                    "`{}` is a webhook source: only a `kind: sync` source is pulled",
                    raw.source
                ),
                Some("to catch what its webhooks missed, give it `reconcile:` and run a `reconcile:` job".into()),
            )),
            Some(p) if raw.full == Some(false) && !p.incremental() => errs.push(doc.error_at(
                &push(ptr, "full"),
                format!(
                    "`{}` has no `since:` (nor `resume_cursor`), so every pass reads the whole list",
                    raw.source
                ),
                Some("give the source's list `since:` to pull only what changed".into()),
            )),
            Some(_) => {}
        },
        // A source that is declared but broken has its own errors.
        (None, Some(_)) => {}
        (None, None) => {
            let names: Vec<&str> = flows
                .sources
                .values()
                .filter(|s| pull(s).is_some())
                .map(|s| s.name.as_str())
                .collect();
            errs.push(doc.error_at(
                &sptr,
                format!("no source `{}`", raw.source),
                Some(if names.is_empty() {
                    "declare a `kind: sync` source (or a webhook source with `reconcile:`) under `sources:`".into()
                } else {
                    format!("sources: {}", names.join(", "))
                }),
            ));
        }
    }
    let incremental = flows
        .sources
        .get(&raw.source)
        .and_then(pull)
        .is_some_and(|p| p.incremental());
    SyncJob {
        full: raw.full.unwrap_or(!incremental),
        source: raw.source,
    }
}

fn probe(
    doc: &Document,
    ptr: &str,
    raw: RawProbe,
    connectors: &BTreeMap<String, crate::connect::resolved::Connector>,
    errs: &mut Vec<ConfigError>,
) -> Probe {
    let connector = connectors.get(&raw.connector);
    // A connector that is declared but broken has its own errors: no second one here.
    let declared = doc
        .value
        .get("connectors")
        .and_then(|c| c.get(&raw.connector))
        .is_some();
    if connector.is_none() && !declared {
        let names: Vec<&str> = connectors.keys().map(String::as_str).collect();
        errs.push(doc.error_at(
            &push(ptr, "connector"),
            format!("no connector `{}`", raw.connector),
            Some(if names.is_empty() {
                "declare it under `connectors:`".into()
            } else {
                format!("connectors: {}", names.join(", "))
            }),
        ));
    }
    if raw.calls.is_empty() || raw.calls.len() > MAX_CALLS {
        errs.push(doc.error_at(
            &push(ptr, "calls"),
            format!("a probe makes 1 to {MAX_CALLS} calls"),
            None,
        ));
    }
    let mut calls = Vec::new();
    for (i, call) in raw.calls.into_iter().enumerate() {
        let cptr = push(&push(ptr, "calls"), &i.to_string());
        if let Some(c) = connector {
            match c.operations.get(&call.operation) {
                None => {
                    let known: Vec<&str> = c.operations.keys().map(String::as_str).collect();
                    errs.push(doc.error_at(
                        &push(&cptr, "operation"),
                        format!(
                            "connector `{}` has no operation `{}`",
                            c.name, call.operation
                        ),
                        Some(format!("operations: {}", known.join(", "))),
                    ));
                }
                Some(op) => {
                    let reads = c.soap.is_none() && op.reads();
                    if !reads && !call.safe {
                        errs.push(doc.error_at(
                            &push(&cptr, "operation"),
                            format!(
                                "`{}` may write (a {}): a probe only reads",
                                call.operation,
                                if c.soap.is_some() { "SOAP action".to_owned() } else { op.method.to_string() }
                            ),
                            Some("probe an operation that reads, or add `safe: true` if the vendor documents this call as safe".into()),
                        ));
                    }
                }
            }
        }
        if serde_json::to_vec(&call.input).map_or(0, |v| v.len()) > MAX_INPUT {
            errs.push(doc.error_at(
                &push(&cptr, "input"),
                format!("a probe call's input is at most {MAX_INPUT} bytes"),
                None,
            ));
        }
        calls.push(ProbeCall {
            operation: call.operation,
            input: call.input,
        });
    }
    Probe {
        connector: raw.connector,
        calls,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn interval_slots_are_aligned_and_shifted_by_the_offset() {
        let s = Schedule::Every(Duration::from_secs(60));
        assert_eq!(s.due(125_000, 0), Some(120_000));
        assert_eq!(s.next(125_000, 0), Some(180_000));
        assert_eq!(
            s.due(120_000, 0),
            Some(120_000),
            "a slot is due at its own time"
        );
        assert_eq!(s.due(125_000, 7_000), Some(67_000));
        assert_eq!(s.due(127_000, 7_000), Some(127_000));
        assert_eq!(s.period_ms(1_000_000), 60_000);
    }

    #[test]
    fn cron_slots_come_from_the_pattern_in_utc() {
        let s = Schedule::Cron(Box::new(croner::Cron::from_str("0 * * * *").unwrap()));
        let hour = 3_600_000;
        assert_eq!(s.due(5 * hour + 1_234, 0), Some(5 * hour));
        assert_eq!(s.next(5 * hour + 1_234, 0), Some(6 * hour));
        assert_eq!(s.period_ms(5 * hour + 1), hour);
        assert_eq!(s.text(), "cron 0 * * * *");
    }

    #[test]
    fn offsets_are_stable_and_within_the_jitter() {
        let j = Duration::from_secs(60);
        assert_eq!(offset("crm-contract", j), offset("crm-contract", j));
        assert!((0..60_000).contains(&offset("crm-contract", j)));
        assert_eq!(offset("x", Duration::ZERO), 0);
    }
}
