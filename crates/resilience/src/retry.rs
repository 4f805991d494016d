//! When to try a failed call again: exponential backoff with full jitter, and a retry budget so
//! that an outage cannot multiply the load on a vendor.

use std::collections::VecDeque;
use std::sync::Mutex;
use std::time::Duration;

use rand::Rng;
use tokio::time::Instant;

/// Exponential backoff with full jitter: the n-th retry waits a random time in
/// `[0, min(max, base · 2ⁿ⁻¹)]` (the AWS architecture blog's "full jitter").
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Backoff {
    pub base: Duration,
    pub max: Duration,
}

impl Backoff {
    /// The upper bound of the wait before retry number `retry` (1 for the first retry).
    pub fn ceiling(&self, retry: u32) -> Duration {
        let factor = 1u32
            .checked_shl(retry.saturating_sub(1).min(31))
            .unwrap_or(u32::MAX);
        self.base.saturating_mul(factor).min(self.max)
    }

    /// A random wait before retry number `retry`.
    pub fn delay(&self, retry: u32, rng: &mut impl Rng) -> Duration {
        let ceiling = self.ceiling(retry);
        if ceiling.is_zero() {
            return ceiling;
        }
        Duration::from_nanos(rng.random_range(0..=ceiling.as_nanos() as u64))
    }
}

/// Retries allowed: at most `ratio` of the calls of the last ten seconds, plus `floor` per
/// second whatever the traffic (so a quiet connector can still retry).
pub struct RetryBudget {
    ratio: f64,
    floor: u32,
    inner: Mutex<VecDeque<(Instant, bool)>>,
}

const SPAN: Duration = Duration::from_secs(10);

impl RetryBudget {
    pub fn new(ratio: f64, floor: u32) -> Self {
        Self {
            ratio,
            floor,
            inner: Mutex::new(VecDeque::new()),
        }
    }

    fn trimmed(&self, now: Instant) -> std::sync::MutexGuard<'_, VecDeque<(Instant, bool)>> {
        let mut q = self.inner.lock().unwrap_or_else(|p| p.into_inner());
        while q
            .front()
            .is_some_and(|(t, _)| now.duration_since(*t) >= SPAN)
        {
            q.pop_front();
        }
        q
    }

    /// Records a first attempt (a call).
    pub fn deposit(&self, now: Instant) {
        let mut q = self.trimmed(now);
        // Bound memory under extreme rates: the oldest entries matter least.
        if q.len() >= 1 << 20 {
            q.pop_front();
        }
        q.push_back((now, false));
    }

    /// Takes one retry from the budget; false when it is spent.
    pub fn withdraw(&self, now: Instant) -> bool {
        let mut q = self.trimmed(now);
        let retries = q.iter().filter(|(_, r)| *r).count() as f64;
        let calls = q.iter().filter(|(_, r)| !*r).count() as f64;
        let allowed = self.ratio * calls + f64::from(self.floor) * SPAN.as_secs_f64();
        if retries + 1.0 > allowed {
            return false;
        }
        q.push_back((now, true));
        true
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn backoff_doubles_up_to_max_and_jitters_below_the_ceiling() {
        let b = Backoff {
            base: Duration::from_millis(100),
            max: Duration::from_secs(1),
        };
        assert_eq!(b.ceiling(1), Duration::from_millis(100));
        assert_eq!(b.ceiling(2), Duration::from_millis(200));
        assert_eq!(b.ceiling(4), Duration::from_millis(800));
        assert_eq!(b.ceiling(5), Duration::from_secs(1));
        assert_eq!(b.ceiling(60), Duration::from_secs(1));
        let mut rng = rand::rng();
        let delays: Vec<Duration> = (0..200).map(|_| b.delay(3, &mut rng)).collect();
        assert!(delays.iter().all(|d| *d <= Duration::from_millis(400)));
        let distinct: std::collections::BTreeSet<_> = delays.iter().collect();
        assert!(distinct.len() > 100, "full jitter spreads the waits");
    }

    #[tokio::test(start_paused = true)]
    async fn retry_budget_caps_retries_at_a_share_of_calls_plus_a_floor() {
        let budget = RetryBudget::new(0.2, 1);
        let now = Instant::now();
        for _ in 0..100 {
            budget.deposit(now);
        }
        // 20 % of 100 calls plus 1/s over 10 s.
        let granted = (0..100).filter(|_| budget.withdraw(now)).count();
        assert_eq!(granted, 30);
        // Ten seconds later the window has emptied: only the floor is left.
        tokio::time::advance(SPAN).await;
        let later = Instant::now();
        let granted = (0..100).filter(|_| budget.withdraw(later)).count();
        assert_eq!(granted, 10);
    }
}
