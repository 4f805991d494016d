//! When to try a failed call again: exponential backoff with full jitter (the AWS architecture
//! blog's "full jitter"). The n-th retry waits a uniformly random time in
//! `[0, min(max, base · 2ⁿ⁻¹)]`, so a crowd of failed calls spreads out instead of retrying in
//! lockstep. Used by connector calls (immediate retries) and destinations (scheduled ones).

use std::time::Duration;

use rand::Rng;

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
        Duration::from_nanos(rng.random_range(0..=ceiling.as_nanos().min(u64::MAX as u128) as u64))
    }

    /// The wait before retry number `retry` when the target may have said when to come back:
    /// its `Retry-After` is a floor, capped at `cap` so one answer cannot park work for days.
    pub fn delay_after(
        &self,
        retry: u32,
        retry_after: Option<Duration>,
        cap: Duration,
        rng: &mut impl Rng,
    ) -> Duration {
        let jittered = self.delay(retry, rng);
        match retry_after {
            Some(ra) => jittered.max(ra.min(cap)),
            None => jittered,
        }
    }

    /// The longest a schedule of `attempts` attempts can wait in all (every wait at its
    /// ceiling), for docs and checks.
    pub fn longest(&self, attempts: u32) -> Duration {
        (1..attempts).map(|n| self.ceiling(n)).sum()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use rand::SeedableRng;

    fn destination_default() -> Backoff {
        Backoff {
            base: Duration::from_secs(5),
            max: Duration::from_secs(6 * 3600),
        }
    }

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

    #[test]
    fn delays_stay_under_a_doubling_cap_and_spread_out() {
        let mut rng = rand::rngs::StdRng::seed_from_u64(7);
        let b = destination_default();
        for attempt in 1..=25 {
            let cap = Duration::from_secs(5 * (1u64 << (attempt - 1).min(20)))
                .min(Duration::from_secs(6 * 3600));
            let samples: Vec<_> = (0..200).map(|_| b.delay(attempt, &mut rng)).collect();
            assert!(samples.iter().all(|d| *d <= cap), "attempt {attempt}");
            let distinct: std::collections::HashSet<_> = samples.iter().collect();
            assert!(
                distinct.len() > 100,
                "full jitter spreads attempt {attempt}"
            );
        }
    }

    #[test]
    fn retry_after_is_a_capped_floor() {
        let mut rng = rand::rngs::StdRng::seed_from_u64(1);
        let b = destination_default();
        let cap = Duration::from_secs(3600);
        let d = b.delay_after(1, Some(Duration::from_secs(120)), cap, &mut rng);
        assert!(d >= Duration::from_secs(120));
        let d = b.delay_after(1, Some(Duration::from_secs(86_400)), cap, &mut rng);
        assert_eq!(d, Duration::from_secs(3600));
    }

    #[test]
    fn the_default_destination_schedule_spans_about_a_day_then_dead() {
        let span = destination_default().longest(20);
        // Full jitter averages half of each cap: about a day on average, two at most.
        assert!(
            span >= Duration::from_secs(40 * 3600) && span <= Duration::from_secs(56 * 3600),
            "{span:?}"
        );
    }
}
