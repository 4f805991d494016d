//! A circuit breaker per connector: it opens when the share of failed (or slow) calls over a
//! sliding window passes a threshold once the window holds enough calls, stays open for a while
//! (calls fail fast without reaching the vendor), then lets a few probe calls through: if they
//! succeed it closes, if one fails it opens again.

use std::sync::{Arc, Mutex};
use std::time::Duration;

use tokio::time::Instant;

use crate::window::SlidingCount;

#[derive(Debug, Clone, Copy, PartialEq)]
pub struct CircuitPolicy {
    pub error_rate: f64,
    pub slow_call: Option<Duration>,
    pub slow_rate: f64,
    pub window: Duration,
    pub min_calls: u32,
    pub open_for: Duration,
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
    calls: SlidingCount,
    failures: SlidingCount,
    slow: SlidingCount,
}

/// Leave to make one call. Report its outcome with [`Permit::record`]; a probe dropped without
/// a report (the caller went away) frees its slot.
pub struct Permit {
    circuit: Arc<Circuit>,
    probe: bool,
    done: bool,
}

const BUCKETS: u32 = 10;

impl Circuit {
    pub fn new(policy: CircuitPolicy) -> Self {
        let origin = Instant::now();
        let count = || SlidingCount::new(origin, policy.window, BUCKETS);
        Self {
            policy,
            inner: Mutex::new(Inner {
                mode: Mode::Closed,
                calls: count(),
                failures: count(),
                slow: count(),
            }),
        }
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

    /// A permit to call now, or how long until the circuit may let a call through.
    pub fn allow(self: &Arc<Self>, now: Instant) -> Result<Permit, Duration> {
        let mut c = self.lock();
        if let Mode::Open { until } = c.mode {
            if now < until {
                return Err(until - now);
            }
            c.mode = Mode::HalfOpen { out: 0, ok: 0 };
        }
        let probes = self.policy.probes;
        let probe = match &mut c.mode {
            Mode::Closed => false,
            Mode::HalfOpen { out, ok } if *out + *ok < probes => {
                *out += 1;
                true
            }
            // Every probe is out: the others wait for their verdict.
            Mode::HalfOpen { .. } | Mode::Open { .. } => {
                return Err(Duration::from_millis(100).min(self.policy.open_for))
            }
        };
        Ok(Permit {
            circuit: self.clone(),
            probe,
            done: false,
        })
    }

    fn settle(&self, now: Instant, probe: bool, ok: bool, elapsed: Duration) {
        let p = self.policy;
        let mut c = self.lock();
        if probe {
            if let Mode::HalfOpen { out, ok: good } = &mut c.mode {
                *out = out.saturating_sub(1);
                if !ok {
                    c.mode = Mode::Open {
                        until: now + p.open_for,
                    };
                } else {
                    *good += 1;
                    if *good >= p.probes {
                        c.mode = Mode::Closed;
                        c.calls.clear();
                        c.failures.clear();
                        c.slow.clear();
                    }
                }
            }
            return;
        }
        if !matches!(c.mode, Mode::Closed) {
            // Calls let through before the circuit opened do not count twice.
            return;
        }
        c.calls.add(now, 1);
        if !ok {
            c.failures.add(now, 1);
        }
        let slow = p.slow_call.is_some_and(|limit| elapsed >= limit);
        if slow {
            c.slow.add(now, 1);
        }
        let calls = c.calls.sum(now);
        if calls < u64::from(p.min_calls) {
            return;
        }
        let failed = c.failures.sum(now) as f64 / calls as f64;
        let slowed = c.slow.sum(now) as f64 / calls as f64;
        if failed >= p.error_rate || (p.slow_call.is_some() && slowed >= p.slow_rate) {
            c.mode = Mode::Open {
                until: now + p.open_for,
            };
        }
    }
}

impl Permit {
    /// Whether this call is a half-open probe.
    pub fn is_probe(&self) -> bool {
        self.probe
    }

    /// Reports the call's outcome: `ok` false for a failure that counts against the vendor
    /// (5xx, timeout, connection error), and how long it took.
    pub fn record(mut self, now: Instant, ok: bool, elapsed: Duration) {
        self.done = true;
        self.circuit.settle(now, self.probe, ok, elapsed);
    }
}

impl Drop for Permit {
    fn drop(&mut self) {
        if !self.done && self.probe {
            if let Mode::HalfOpen { out, .. } = &mut self.circuit.lock().mode {
                *out = out.saturating_sub(1);
            }
        }
    }
}
