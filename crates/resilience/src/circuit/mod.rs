//! One circuit breaker for every outbound target — a connector's vendor, a destination. Its
//! policy says when it trips ([`Trip`]: consecutive failures, a failure or slow-call rate over a
//! sliding window, or both); the state machine is shared: open for `open_for` (calls fail fast
//! without reaching the target), then `probes` calls go through half-open; if they all succeed
//! it closes, if one fails it opens again.
//!
//! [`Circuit::allow`] hands out a [`Permit`] that reports its call's outcome; a probe's permit
//! dropped without a report (the caller went away, or had nothing to send after all) frees its
//! slot. A dispatcher that sends a batch under one closed-circuit permit reports the other calls
//! with [`Circuit::record`].

mod trip;

use std::sync::{Arc, Mutex};
use std::time::Duration;

use tokio::time::Instant;

pub use trip::{RateTrip, Trip};

/// When the circuit opens and how it recovers.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct CircuitPolicy {
    pub trip: Trip,
    /// How long it stays open before probes are let through.
    pub open_for: Duration,
    /// Probe calls that must succeed to close it again.
    pub probes: u32,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum CircuitState {
    Closed,
    Open,
    HalfOpen,
}

impl CircuitState {
    pub fn as_str(self) -> &'static str {
        match self {
            CircuitState::Closed => "closed",
            CircuitState::Open => "open",
            CircuitState::HalfOpen => "half_open",
        }
    }

    /// 0 closed, 1 half-open, 2 open: the gauge's value.
    pub fn level(self) -> f64 {
        match self {
            CircuitState::Closed => 0.0,
            CircuitState::HalfOpen => 1.0,
            CircuitState::Open => 2.0,
        }
    }
}

/// What may be sent now.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Admit {
    /// A normal call (closed circuit).
    Call,
    /// A half-open probe: report it with `probe: true`.
    Probe,
    /// Nothing for this long (open, or every probe is out).
    Wait(Duration),
}

/// A change worth telling operators (and, on `Closed`, waking a backlog).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Transition {
    Opened,
    Closed,
}

pub struct Circuit {
    policy: CircuitPolicy,
    inner: Mutex<Inner>,
}

enum Mode {
    Closed,
    Open { until: Instant },
    HalfOpen { out: u32, ok: u32 },
}

struct Inner {
    mode: Mode,
    counts: trip::Counts,
}

/// Leave to make one call. Report its outcome with [`Permit::record`]; a probe dropped without
/// a report (the caller went away) frees its slot.
pub struct Permit {
    circuit: Arc<Circuit>,
    probe: bool,
    done: bool,
}

/// How long a caller waits while every probe is out (their verdict may come at any moment).
const PROBE_VERDICT_POLL: Duration = Duration::from_millis(100);

impl Circuit {
    pub fn new(policy: CircuitPolicy) -> Self {
        let policy = CircuitPolicy {
            probes: policy.probes.max(1),
            ..policy
        };
        Self {
            inner: Mutex::new(Inner {
                mode: Mode::Closed,
                counts: trip::Counts::new(&policy.trip, Instant::now()),
            }),
            policy,
        }
    }

    pub fn policy(&self) -> &CircuitPolicy {
        &self.policy
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, Inner> {
        self.inner.lock().unwrap_or_else(|p| p.into_inner())
    }

    pub fn state(&self, now: Instant) -> CircuitState {
        match self.lock().mode {
            Mode::Closed => CircuitState::Closed,
            Mode::Open { until } if now < until => CircuitState::Open,
            Mode::Open { .. } | Mode::HalfOpen { .. } => CircuitState::HalfOpen,
        }
    }

    /// What may be sent now; an open circuit whose time is up hands out probes.
    fn admit(&self, now: Instant) -> Admit {
        let mut c = self.lock();
        if let Mode::Open { until } = c.mode {
            if now < until {
                return Admit::Wait(until - now);
            }
            c.mode = Mode::HalfOpen { out: 0, ok: 0 };
        }
        match &mut c.mode {
            Mode::Closed => Admit::Call,
            Mode::HalfOpen { out, ok } if *out + *ok < self.policy.probes => {
                *out += 1;
                Admit::Probe
            }
            // Every probe is out: the others wait for their verdict.
            Mode::HalfOpen { .. } | Mode::Open { .. } => {
                Admit::Wait(PROBE_VERDICT_POLL.min(self.policy.open_for))
            }
        }
    }

    /// A permit to call now, or how long until the circuit may let a call through.
    pub fn allow(self: &Arc<Self>, now: Instant) -> Result<Permit, Duration> {
        let probe = match self.admit(now) {
            Admit::Call => false,
            Admit::Probe => true,
            Admit::Wait(d) => return Err(d),
        };
        Ok(Permit {
            circuit: self.clone(),
            probe,
            done: false,
        })
    }

    /// Records the outcome of a call made while the circuit was closed without a permit of
    /// its own (one of a batch sent under one): `ok` false for a failure that counts against
    /// the target (see [`crate::outcome`]). Calls let through before the circuit opened do not
    /// count once it is open.
    pub fn record(&self, now: Instant, ok: bool, elapsed: Duration) -> Option<Transition> {
        self.settle(now, false, ok, elapsed)
    }

    fn settle(&self, now: Instant, probe: bool, ok: bool, elapsed: Duration) -> Option<Transition> {
        let p = self.policy;
        let mut c = self.lock();
        if probe {
            let Mode::HalfOpen { out, ok: good } = &mut c.mode else {
                return None;
            };
            *out = out.saturating_sub(1);
            if !ok {
                c.mode = Mode::Open {
                    until: now + p.open_for,
                };
                return None;
            }
            *good += 1;
            if *good < p.probes {
                return None;
            }
            c.mode = Mode::Closed;
            c.counts.clear();
            return Some(Transition::Closed);
        }
        if !matches!(c.mode, Mode::Closed) {
            return None;
        }
        if c.counts.add(&p.trip, now, ok, elapsed) {
            c.mode = Mode::Open {
                until: now + p.open_for,
            };
            return Some(Transition::Opened);
        }
        None
    }

    /// When it reopens to probes, if it is open now.
    pub fn open_until(&self, now: Instant) -> Option<Instant> {
        match self.lock().mode {
            Mode::Open { until } if until > now => Some(until),
            _ => None,
        }
    }

    pub fn is_closed(&self) -> bool {
        matches!(self.lock().mode, Mode::Closed)
    }

    /// Holds the circuit open until `until`, as another process found the target failing;
    /// `false` when it already was open as long. Probes out settle as calls of an open circuit.
    pub fn hold_open(&self, until: Instant) -> bool {
        let mut c = self.lock();
        if matches!(c.mode, Mode::Open { until: u } if u >= until) {
            return false;
        }
        c.mode = Mode::Open { until };
        true
    }

    /// Closes the circuit, as another process's probe found the target well again; `false`
    /// when it was closed.
    pub fn release(&self) -> bool {
        let mut c = self.lock();
        if matches!(c.mode, Mode::Closed) {
            return false;
        }
        c.mode = Mode::Closed;
        c.counts.clear();
        true
    }

    fn free_probe(&self) {
        if let Mode::HalfOpen { out, .. } = &mut self.lock().mode {
            *out = out.saturating_sub(1);
        }
    }
}

impl Permit {
    /// Whether this call is a half-open probe.
    pub fn is_probe(&self) -> bool {
        self.probe
    }

    /// Reports the call's outcome: `ok` false for a failure that counts against the target,
    /// and how long it took.
    pub fn record(mut self, now: Instant, ok: bool, elapsed: Duration) -> Option<Transition> {
        self.done = true;
        self.circuit.settle(now, self.probe, ok, elapsed)
    }
}

impl Drop for Permit {
    fn drop(&mut self) {
        if !self.done && self.probe {
            self.circuit.free_probe();
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn consecutive(failures: u32, open_for: Duration) -> Circuit {
        Circuit::new(CircuitPolicy {
            trip: Trip {
                consecutive: Some(failures),
                rate: None,
            },
            open_for,
            probes: 1,
        })
    }

    #[tokio::test(start_paused = true)]
    async fn opens_after_consecutive_failures_then_probes_and_closes() {
        let c = Arc::new(consecutive(3, Duration::from_secs(5)));
        let now = Instant::now();
        let ms = Duration::from_millis(1);
        assert_eq!(c.record(now, false, ms), None);
        assert_eq!(c.record(now, true, ms), None, "a success resets");
        assert_eq!(c.record(now, false, ms), None);
        assert_eq!(c.record(now, false, ms), None);
        assert_eq!(c.record(now, false, ms), Some(Transition::Opened));
        assert_eq!(c.allow(Instant::now()).err(), Some(Duration::from_secs(5)));
        tokio::time::advance(Duration::from_secs(5)).await;
        let probe = c.allow(Instant::now()).unwrap();
        assert!(probe.is_probe());
        assert!(c.allow(Instant::now()).is_err(), "one probe at a time");
        // The probe fails: open again for another period.
        assert_eq!(probe.record(Instant::now(), false, ms), None);
        assert_eq!(c.state(Instant::now()), CircuitState::Open);
        tokio::time::advance(Duration::from_secs(5)).await;
        let probe = c.allow(Instant::now()).unwrap();
        assert!(probe.is_probe());
        assert_eq!(
            probe.record(Instant::now(), true, ms),
            Some(Transition::Closed)
        );
        assert!(!c.allow(Instant::now()).unwrap().is_probe());
    }

    #[tokio::test(start_paused = true)]
    async fn an_unused_probe_frees_its_slot_for_the_next_call() {
        let c = Arc::new(consecutive(1, Duration::from_secs(2)));
        c.record(Instant::now(), false, Duration::ZERO);
        tokio::time::advance(Duration::from_secs(2)).await;
        let unused = c.allow(Instant::now()).unwrap();
        assert!(unused.is_probe());
        drop(unused);
        assert_eq!(c.state(Instant::now()), CircuitState::HalfOpen);
        assert!(c.allow(Instant::now()).unwrap().is_probe());
    }

    #[tokio::test(start_paused = true)]
    async fn consecutive_and_rate_trips_combine_either_opens_it() {
        let c = Circuit::new(CircuitPolicy {
            trip: Trip {
                consecutive: Some(3),
                rate: Some(RateTrip {
                    error_rate: 0.5,
                    slow_call: None,
                    slow_rate: 1.0,
                    window: Duration::from_secs(10),
                    min_calls: 10,
                }),
            },
            open_for: Duration::from_secs(1),
            probes: 1,
        });
        let now = Instant::now();
        // Alternating failures never make three in a row, but reach half of ten calls.
        let mut opened = None;
        for i in 0..10 {
            opened = opened.or(c.record(now, i % 2 == 0, Duration::ZERO));
        }
        assert_eq!(opened, Some(Transition::Opened));
    }
}
