//! A destination's circuit breaker. After `failures` consecutive failed attempts it opens: the
//! destination's deliveries stay queued (no attempts burnt) until `probe_after` has passed, then
//! one probe goes out. A successful probe closes the circuit and the caller wakes the whole
//! backlog, so a recovered destination drains at once; a failed probe opens it again.
//!
//! Time is `tokio::time::Instant`, so tests run on paused time.

use std::time::Duration;

use tokio::time::Instant;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum State {
    Closed,
    Open {
        until: Instant,
    },
    /// One probe is in flight.
    HalfOpen,
}

/// What the dispatcher may send now.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Allow {
    /// As much as concurrency allows.
    Any,
    /// Exactly one probe.
    Probe,
    /// Nothing until `Instant` (or until a probe in flight answers: `None`).
    Wait(Option<Instant>),
}

/// A change worth telling operators (and, on `Closed`, waking the backlog).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Transition {
    Opened,
    Closed,
}

#[derive(Debug)]
pub struct Circuit {
    failures: u32,
    probe_after: Duration,
    consecutive: u32,
    state: State,
}

impl Circuit {
    pub fn new(failures: u32, probe_after: Duration) -> Self {
        Self {
            failures: failures.max(1),
            probe_after,
            consecutive: 0,
            state: State::Closed,
        }
    }

    pub fn state(&self) -> State {
        self.state
    }

    /// What may be sent now. Moving from open to half-open hands out the single probe.
    pub fn allow(&mut self, now: Instant) -> Allow {
        match self.state {
            State::Closed => Allow::Any,
            State::HalfOpen => Allow::Wait(None),
            State::Open { until } if now >= until => {
                self.state = State::HalfOpen;
                Allow::Probe
            }
            State::Open { until } => Allow::Wait(Some(until)),
        }
    }

    /// A probe was handed out but nothing was due to send: back to open, probe again later.
    pub fn probe_unused(&mut self, now: Instant) {
        if self.state == State::HalfOpen {
            self.state = State::Open {
                until: now + self.probe_after,
            };
        }
    }

    /// Records an attempt's result: `true` when the destination answered in a way that shows it
    /// is up (delivered, or a permanent 4xx about this payload).
    pub fn record(&mut self, up: bool, now: Instant) -> Option<Transition> {
        if up {
            self.consecutive = 0;
            let was_open = self.state != State::Closed;
            self.state = State::Closed;
            return was_open.then_some(Transition::Closed);
        }
        self.consecutive = self.consecutive.saturating_add(1);
        match self.state {
            State::HalfOpen => {
                self.state = State::Open {
                    until: now + self.probe_after,
                };
                None
            }
            State::Closed if self.consecutive >= self.failures => {
                self.state = State::Open {
                    until: now + self.probe_after,
                };
                Some(Transition::Opened)
            }
            _ => None,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test(start_paused = true)]
    async fn opens_after_consecutive_failures_then_probes_and_closes() {
        let mut c = Circuit::new(3, Duration::from_secs(5));
        let now = Instant::now();
        assert_eq!(c.record(false, now), None);
        assert_eq!(c.record(true, now), None, "a success resets the count");
        assert_eq!(c.record(false, now), None);
        assert_eq!(c.record(false, now), None);
        assert_eq!(c.record(false, now), Some(Transition::Opened));
        assert_eq!(
            c.allow(Instant::now()),
            Allow::Wait(Some(now + Duration::from_secs(5)))
        );
        tokio::time::advance(Duration::from_secs(5)).await;
        assert_eq!(c.allow(Instant::now()), Allow::Probe);
        assert_eq!(
            c.allow(Instant::now()),
            Allow::Wait(None),
            "one probe at a time"
        );
        // The probe fails: open again for another period.
        assert_eq!(c.record(false, Instant::now()), None);
        assert!(matches!(c.allow(Instant::now()), Allow::Wait(Some(_))));
        tokio::time::advance(Duration::from_secs(5)).await;
        assert_eq!(c.allow(Instant::now()), Allow::Probe);
        assert_eq!(c.record(true, Instant::now()), Some(Transition::Closed));
        assert_eq!(c.allow(Instant::now()), Allow::Any);
    }

    #[tokio::test(start_paused = true)]
    async fn an_unused_probe_waits_another_period() {
        let mut c = Circuit::new(1, Duration::from_secs(2));
        c.record(false, Instant::now());
        tokio::time::advance(Duration::from_secs(2)).await;
        assert_eq!(c.allow(Instant::now()), Allow::Probe);
        c.probe_unused(Instant::now());
        assert!(matches!(c.allow(Instant::now()), Allow::Wait(Some(_))));
    }
}
