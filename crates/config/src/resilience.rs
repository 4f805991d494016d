//! The one `retry:` / `circuit:` shape of every outbound target — a destination, a connector —
//! and its resolution into `junction-resilience`'s policies. Fields left out take the target's
//! defaults ([`Target`]): a destination's retries are scheduled over about a day and its circuit
//! counts consecutive failures; a connector's retries happen within the caller's request, under
//! a budget, and its circuit watches the failure rate over a window.

use std::time::Duration;

use junction_resilience::{
    Backoff, BudgetPolicy, CircuitPolicy, Classes, RateTrip, RetryPolicy, Trip,
};
use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

use crate::error::ConfigError;
use crate::units::{HumanDuration, Ratio};
use crate::yaml::{push, Document};

/// Retries of failed attempts: exponential backoff with full jitter. Unset fields take the
/// target's defaults.
#[derive(Debug, Default, Deserialize, Serialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct RawRetry {
    /// Attempts in all, the first included. Destinations: 20 (about a day), then the delivery
    /// is dead-lettered. Connectors: 3 (1 to 10; 1 = no retry).
    #[serde(default)]
    pub attempts: Option<u32>,
    /// The first backoff's upper bound; each later one doubles. Destinations 5s, connectors 100ms.
    #[serde(default)]
    pub base: Option<HumanDuration>,
    /// The largest backoff. Destinations 6h, connectors 5s.
    #[serde(default)]
    pub max: Option<HumanDuration>,
    /// The longest `Retry-After` honoured. Destinations 1h (a longer one waits 1h); connectors
    /// 30s (a longer one ends the call with the vendor's answer).
    #[serde(default)]
    pub retry_after_cap: Option<HumanDuration>,
    /// 4xx statuses to retry besides 408, 425 and 429 (5xx other than 501 and 505 always are).
    #[serde(default)]
    pub statuses: Vec<u16>,
    /// Connectors: retries may add at most this share of calls (over 10 s), so an outage
    /// cannot multiply load. Default 20%.
    #[serde(default)]
    pub budget: Option<Ratio>,
    /// Connectors: retries always allowed per second, whatever the budget. Default 5.
    #[serde(default)]
    pub budget_floor: Option<u32>,
    /// Connectors: the vendor supports idempotency keys in this header (`Idempotency-Key`):
    /// Junction adds one to POST and PATCH calls that lack it, which makes them safe to retry.
    #[serde(default)]
    pub idempotency_header: Option<String>,
}

/// The circuit breaker: it opens after `failures` consecutive failures or when the share of
/// failed (or slow) calls over `window` passes `error_rate` (`slow_rate`), stays open for
/// `open_for`, then lets `probes` calls through. Unset fields take the target's defaults.
#[derive(Debug, Default, Deserialize, Serialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct RawCircuit {
    /// Consecutive failed attempts that open the circuit. Destinations: 5; connectors: unset.
    #[serde(default)]
    pub failures: Option<u32>,
    /// Share of failed calls over `window` that opens the circuit. Connectors: 50%;
    /// destinations: unset (setting any rate field turns the rate trip on).
    #[serde(default)]
    pub error_rate: Option<Ratio>,
    /// A call slower than this counts as slow.
    #[serde(default)]
    pub slow_call: Option<HumanDuration>,
    /// Share of slow calls over `window` that opens the circuit. Default 100%.
    #[serde(default)]
    pub slow_rate: Option<Ratio>,
    /// The sliding window the rates are measured over. Default 30s.
    #[serde(default)]
    pub window: Option<HumanDuration>,
    /// Calls needed in the window before the rates count. Default 20.
    #[serde(default)]
    pub min_calls: Option<u32>,
    /// How long the circuit stays open before probes are let through. Destinations 5s,
    /// connectors 15s. (`probe_after` is the same field's older name.)
    #[serde(default, alias = "probe_after")]
    pub open_for: Option<HumanDuration>,
    /// Probe calls that must succeed to close it again. Default 1.
    #[serde(default)]
    pub probes: Option<u32>,
    /// Connectors: while open, `none` (fail fast with 503) or `stale` (serve the last good
    /// cached GET response, marked `X-Junction-Stale: true`).
    #[serde(default)]
    pub fallback: Fallback,
}

#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Deserialize, Serialize, JsonSchema)]
#[serde(rename_all = "snake_case")]
pub enum Fallback {
    #[default]
    None,
    Stale,
}

/// Which kind of target a `retry:` / `circuit:` belongs to: its defaults and its limits.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Target {
    /// Deliveries, retried on a schedule, for as long as a day.
    Destination,
    /// Calls, retried within the caller's request.
    Connector,
}

struct Defaults {
    attempts: u32,
    attempts_max: u32,
    base: Duration,
    max: Duration,
    retry_after_cap: Duration,
    failures: Option<u32>,
    rate: bool,
    open_for: Duration,
}

const fn secs(s: u64) -> Duration {
    Duration::from_secs(s)
}

impl Target {
    fn defaults(self) -> Defaults {
        match self {
            Target::Destination => Defaults {
                attempts: 20,
                attempts_max: 1000,
                base: secs(5),
                max: secs(6 * 3600),
                retry_after_cap: secs(3600),
                failures: Some(5),
                rate: false,
                open_for: secs(5),
            },
            Target::Connector => Defaults {
                attempts: 3,
                attempts_max: 10,
                base: Duration::from_millis(100),
                max: secs(5),
                retry_after_cap: secs(30),
                failures: None,
                rate: true,
                open_for: secs(15),
            },
        }
    }

    fn name(self) -> &'static str {
        match self {
            Target::Destination => "destinations",
            Target::Connector => "connectors",
        }
    }
}

/// Where a resolver reports: the document, the field's JSON pointer, the error list.
struct At<'a> {
    doc: &'a Document,
    ptr: String,
    errs: &'a mut Vec<ConfigError>,
}

impl At<'_> {
    /// An error at `field` (a path below this section, `/`-separated; empty: the section).
    fn error(&mut self, field: &str, message: String, hint: Option<&str>) {
        let ptr = field
            .split('/')
            .filter(|f| !f.is_empty())
            .fold(self.ptr.clone(), |p, f| push(&p, f));
        self.errs
            .push(self.doc.error_at(&ptr, message, hint.map(str::to_owned)));
    }

    /// A field that only another kind of target has.
    fn not_here(&mut self, field: &str, set: bool, target: Target, only: Target) {
        if set && target != only {
            self.error(
                field,
                format!("`{field}` applies to {} only", only.name()),
                Some("remove it"),
            );
        }
    }
}

/// `retry:` resolved: the policy, and (connectors) the idempotency header. `None` after
/// reporting every mistake.
pub(crate) fn retry(
    doc: &Document,
    ptr: &str,
    raw: &RawRetry,
    target: Target,
    errs: &mut Vec<ConfigError>,
) -> Option<(RetryPolicy, Option<http::HeaderName>)> {
    let before = errs.len();
    let d = target.defaults();
    let mut at = At {
        doc,
        ptr: ptr.to_owned(),
        errs,
    };
    let attempts = raw.attempts.unwrap_or(d.attempts);
    if !(1..=d.attempts_max).contains(&attempts) {
        at.error(
            "attempts",
            format!(
                "attempts must be between 1 and {}, got {attempts}",
                d.attempts_max
            ),
            Some("1 means no retry"),
        );
    }
    let backoff = Backoff {
        base: raw.base.map_or(d.base, |b| b.0),
        max: raw.max.map_or(d.max, |m| m.0),
    };
    if backoff.base.is_zero() || backoff.max < backoff.base {
        at.error(
            "",
            "retry needs 0 < base <= max".into(),
            Some("e.g. { base: 5s, max: 6h }"),
        );
    }
    for (i, s) in raw.statuses.iter().enumerate() {
        if !(400..500).contains(s) {
            at.error(
                &format!("statuses/{i}"),
                format!("{s} is not a 4xx status (every 5xx but 501 and 505 is retried already)"),
                None,
            );
        }
    }
    at.not_here("budget", raw.budget.is_some(), target, Target::Connector);
    at.not_here(
        "budget_floor",
        raw.budget_floor.is_some(),
        target,
        Target::Connector,
    );
    at.not_here(
        "idempotency_header",
        raw.idempotency_header.is_some(),
        target,
        Target::Connector,
    );
    let idempotency = raw.idempotency_header.as_deref().and_then(|h| {
        http::HeaderName::from_bytes(h.as_bytes())
            .map_err(|_| {
                at.error(
                    "idempotency_header",
                    format!("invalid header name `{h}`"),
                    None,
                )
            })
            .ok()
    });
    if at.errs.len() > before {
        return None;
    }
    let budget = (target == Target::Connector).then(|| {
        let d = BudgetPolicy::default();
        BudgetPolicy {
            ratio: raw.budget.map_or(d.ratio, |r| r.0),
            floor: raw.budget_floor.unwrap_or(d.floor),
        }
    });
    let policy = RetryPolicy {
        attempts,
        backoff,
        retry_after_cap: raw.retry_after_cap.map_or(d.retry_after_cap, |c| c.0),
        classes: Classes {
            // At most the hundred 4xx statuses, each once.
            also_retry: {
                let mut s = raw.statuses.clone();
                s.sort_unstable();
                s.dedup();
                s
            },
            throttling_trips: target == Target::Destination,
        },
        budget,
    };
    Some((policy, idempotency))
}

/// `circuit:` resolved: the policy, and whether a stale cached answer stands in while it is
/// open (connectors). `None` after reporting every mistake.
pub(crate) fn circuit(
    doc: &Document,
    ptr: &str,
    raw: &RawCircuit,
    target: Target,
    errs: &mut Vec<ConfigError>,
) -> Option<(CircuitPolicy, bool)> {
    let before = errs.len();
    let d = target.defaults();
    let mut at = At {
        doc,
        ptr: ptr.to_owned(),
        errs,
    };
    let rate_set = raw.error_rate.is_some()
        || raw.slow_call.is_some()
        || raw.slow_rate.is_some()
        || raw.window.is_some()
        || raw.min_calls.is_some();
    let rate = (d.rate || rate_set).then(|| RateTrip {
        error_rate: raw.error_rate.map_or(0.5, |r| r.0),
        slow_call: raw.slow_call.map(|s| s.0),
        slow_rate: raw.slow_rate.map_or(1.0, |r| r.0),
        window: raw.window.map_or(secs(30), |w| w.0),
        min_calls: raw.min_calls.unwrap_or(20),
    });
    let policy = CircuitPolicy {
        trip: Trip {
            consecutive: raw.failures.or(d.failures),
            rate,
        },
        open_for: raw.open_for.map_or(d.open_for, |o| o.0),
        probes: raw.probes.unwrap_or(1),
    };
    let mut positive = vec![
        ("failures", policy.trip.consecutive == Some(0)),
        ("open_for", policy.open_for.is_zero()),
        ("probes", policy.probes == 0),
    ];
    if let Some(r) = &policy.trip.rate {
        positive.extend([
            ("min_calls", r.min_calls == 0),
            ("window", r.window.is_zero()),
            ("error_rate", r.error_rate == 0.0),
        ]);
    }
    for (field, bad) in positive {
        if bad {
            at.error(field, format!("{field} must be greater than zero"), None);
        }
    }
    at.not_here(
        "fallback",
        raw.fallback != Fallback::None,
        target,
        Target::Connector,
    );
    if at.errs.len() > before {
        return None;
    }
    Some((policy, raw.fallback == Fallback::Stale))
}
