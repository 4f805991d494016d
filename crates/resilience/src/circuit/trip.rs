//! When a circuit trips: after a run of consecutive failures (as a destination's circuit does),
//! when the share of failed or slow calls over a sliding window passes a threshold (as a
//! connector's does), or either.

use std::time::Duration;

use tokio::time::Instant;

use crate::window::SlidingCount;

/// The trip conditions; either one opens the circuit. Neither set: it never opens.
#[derive(Debug, Clone, Copy, PartialEq, Default)]
pub struct Trip {
    /// Consecutive failed calls.
    pub consecutive: Option<u32>,
    /// Failure and slow-call rates over a window.
    pub rate: Option<RateTrip>,
}

#[derive(Debug, Clone, Copy, PartialEq)]
pub struct RateTrip {
    /// Share of failed calls over `window` that opens the circuit.
    pub error_rate: f64,
    /// A call slower than this counts as slow.
    pub slow_call: Option<Duration>,
    /// Share of slow calls over `window` that opens the circuit.
    pub slow_rate: f64,
    pub window: Duration,
    /// Calls needed in the window before the rates count.
    pub min_calls: u32,
}

const BUCKETS: u32 = 10;

/// What the trip conditions count while the circuit is closed.
pub(super) struct Counts {
    consecutive: u32,
    window: Option<Windowed>,
}

struct Windowed {
    calls: SlidingCount,
    failures: SlidingCount,
    slow: SlidingCount,
}

impl Counts {
    pub(super) fn new(trip: &Trip, origin: Instant) -> Self {
        Self {
            consecutive: 0,
            window: trip.rate.map(|r| {
                let count = || SlidingCount::new(origin, r.window, BUCKETS);
                Windowed {
                    calls: count(),
                    failures: count(),
                    slow: count(),
                }
            }),
        }
    }

    pub(super) fn clear(&mut self) {
        self.consecutive = 0;
        if let Some(w) = &mut self.window {
            w.calls.clear();
            w.failures.clear();
            w.slow.clear();
        }
    }

    /// Counts one call; true when the circuit should open.
    pub(super) fn add(&mut self, trip: &Trip, now: Instant, ok: bool, elapsed: Duration) -> bool {
        self.consecutive = if ok {
            0
        } else {
            self.consecutive.saturating_add(1)
        };
        let by_run = trip
            .consecutive
            .is_some_and(|n| self.consecutive >= n.max(1));
        let by_rate = match (&trip.rate, &mut self.window) {
            (Some(r), Some(w)) => w.add(r, now, ok, elapsed),
            _ => false,
        };
        by_run || by_rate
    }
}

impl Windowed {
    fn add(&mut self, r: &RateTrip, now: Instant, ok: bool, elapsed: Duration) -> bool {
        self.calls.add(now, 1);
        if !ok {
            self.failures.add(now, 1);
        }
        if r.slow_call.is_some_and(|limit| elapsed >= limit) {
            self.slow.add(now, 1);
        }
        let calls = self.calls.sum(now);
        if calls < u64::from(r.min_calls) {
            return false;
        }
        let failed = self.failures.sum(now) as f64 / calls as f64;
        let slowed = self.slow.sum(now) as f64 / calls as f64;
        failed >= r.error_rate || (r.slow_call.is_some() && slowed >= r.slow_rate)
    }
}
