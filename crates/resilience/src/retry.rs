//! How a target's failed calls are tried again: the policy (attempts, backoff, the longest
//! `Retry-After` honoured, extra statuses to retry, a budget) and the retry budget itself, so
//! that an outage cannot multiply the load on a vendor.

use std::collections::VecDeque;
use std::sync::Mutex;
use std::time::Duration;

use tokio::time::Instant;

use crate::backoff::Backoff;

/// How one target (a connector, a destination) retries. The configuration's resolved form.
#[derive(Debug, Clone, PartialEq)]
pub struct RetryPolicy {
    /// Attempts in all (1 = no retry).
    pub attempts: u32,
    pub backoff: Backoff,
    /// The longest `Retry-After` honoured.
    pub retry_after_cap: Duration,
    /// How answers are judged (the statuses retried besides the default set).
    pub classes: crate::outcome::Classes,
    /// For immediate retries (connector calls): retries as a share of calls, plus a floor.
    pub budget: Option<BudgetPolicy>,
}

/// Retries may add at most `ratio` of the calls of the last ten seconds, plus `floor` per second.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct BudgetPolicy {
    pub ratio: f64,
    pub floor: u32,
}

/// 20 % of calls, plus 5 retries a second.
impl Default for BudgetPolicy {
    fn default() -> Self {
        Self {
            ratio: 0.2,
            floor: 5,
        }
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
    pub fn new(policy: BudgetPolicy) -> Self {
        Self {
            ratio: policy.ratio,
            floor: policy.floor,
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

    #[tokio::test(start_paused = true)]
    async fn retry_budget_caps_retries_at_a_share_of_calls_plus_a_floor() {
        let budget = RetryBudget::new(BudgetPolicy {
            ratio: 0.2,
            floor: 1,
        });
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
