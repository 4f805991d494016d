//! Exponential backoff with full jitter: after failed attempt `n` (1-based) the next one waits a
//! uniformly random time in `[0, min(max, base·2^(n-1))]`, so a crowd of failed deliveries
//! spreads out instead of retrying in lockstep. A `Retry-After` from the destination is a floor,
//! capped so one answer cannot park a delivery for days.

use std::time::Duration;

use junction_config::Retry;
use rand::Rng;

/// The wait before the attempt after failed attempt `attempt`.
pub fn delay(
    retry: &Retry,
    attempt: u32,
    retry_after: Option<Duration>,
    rng: &mut impl Rng,
) -> Duration {
    let exp = attempt.saturating_sub(1).min(40);
    let cap = retry
        .base
        .checked_mul(1u32 << exp.min(31))
        .unwrap_or(retry.max)
        .min(retry.max);
    let jittered = Duration::from_millis(rng.random_range(0..=cap.as_millis() as u64));
    match retry_after {
        Some(ra) => jittered.max(ra.min(retry.retry_after_cap)),
        None => jittered,
    }
}

/// The longest the whole schedule can take (every wait at its cap), for docs and checks.
pub fn longest_span(retry: &Retry) -> Duration {
    (1..retry.attempts)
        .map(|n| {
            retry
                .base
                .checked_mul(1u32 << (n - 1).min(31))
                .unwrap_or(retry.max)
                .min(retry.max)
        })
        .sum()
}

#[cfg(test)]
mod tests {
    use super::*;
    use rand::SeedableRng;

    fn retry() -> Retry {
        Retry {
            attempts: 20,
            base: Duration::from_secs(5),
            max: Duration::from_secs(6 * 3600),
            retry_after_cap: Duration::from_secs(3600),
        }
    }

    #[test]
    fn delays_stay_under_a_doubling_cap_and_spread_out() {
        let mut rng = rand::rngs::StdRng::seed_from_u64(7);
        for attempt in 1..=25 {
            let cap = Duration::from_secs(5 * (1u64 << (attempt - 1).min(20)))
                .min(Duration::from_secs(6 * 3600));
            let samples: Vec<_> = (0..200)
                .map(|_| delay(&retry(), attempt, None, &mut rng))
                .collect();
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
        let d = delay(&retry(), 1, Some(Duration::from_secs(120)), &mut rng);
        assert!(d >= Duration::from_secs(120));
        let d = delay(&retry(), 1, Some(Duration::from_secs(86_400)), &mut rng);
        assert_eq!(d, Duration::from_secs(3600));
    }

    #[test]
    fn the_default_schedule_spans_about_a_day_then_dead() {
        let span = longest_span(&retry());
        // Full jitter averages half of each cap: about a day on average, two at most.
        assert!(
            span >= Duration::from_secs(40 * 3600) && span <= Duration::from_secs(56 * 3600),
            "{span:?}"
        );
    }
}
