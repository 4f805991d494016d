//! A sliding-window counter in sub-buckets: counts what happened in roughly the last `span`.

use std::time::Duration;

use tokio::time::Instant;

/// Counts events in `buckets` slots of `span / buckets` each. `sum` covers the current slot and
/// the `buckets` before it, so it always includes every event of the last `span` (and at most
/// one slot more): a limit checked against it is never exceeded over any interval of `span`.
#[derive(Debug, Clone)]
pub(crate) struct SlidingCount {
    origin: Instant,
    slot: Duration,
    /// (slot number, count), ring-indexed by slot number.
    ring: Vec<(u64, u64)>,
}

impl SlidingCount {
    pub fn new(origin: Instant, span: Duration, buckets: u32) -> Self {
        let buckets = buckets.max(1);
        let slot = (span / buckets).max(Duration::from_micros(1));
        Self {
            origin,
            slot,
            ring: vec![(u64::MAX, 0); buckets as usize + 1],
        }
    }

    fn slot_of(&self, t: Instant) -> u64 {
        (t.saturating_duration_since(self.origin).as_nanos() / self.slot.as_nanos()) as u64
    }

    fn live(&self, now: Instant) -> impl Iterator<Item = (u64, u64)> + '_ {
        let cur = self.slot_of(now);
        let oldest = cur.saturating_sub(self.ring.len() as u64 - 1);
        self.ring
            .iter()
            .copied()
            .filter(move |(s, n)| *s != u64::MAX && *s >= oldest && *s <= cur && *n > 0)
    }

    pub fn sum(&self, now: Instant) -> u64 {
        self.live(now).map(|(_, n)| n).sum()
    }

    pub fn add(&mut self, now: Instant, n: u64) {
        let cur = self.slot_of(now);
        let len = self.ring.len() as u64;
        let cell = &mut self.ring[(cur % len) as usize];
        if cell.0 != cur {
            *cell = (cur, 0);
        }
        cell.1 += n;
    }

    /// Takes back `n` counted lately (newest first, never below zero): what a call was counted
    /// for beyond what it cost.
    pub fn remove(&mut self, now: Instant, mut n: u64) {
        let mut live: Vec<u64> = self.live(now).map(|(s, _)| s).collect();
        live.sort_unstable_by(|a, b| b.cmp(a));
        let len = self.ring.len() as u64;
        for s in live {
            if n == 0 {
                break;
            }
            let cell = &mut self.ring[(s % len) as usize];
            let take = cell.1.min(n);
            cell.1 -= take;
            n -= take;
        }
    }

    /// The earliest time at which `sum` drops below `limit` (now if it already is).
    pub fn free_at(&self, now: Instant, limit: u64) -> Instant {
        let mut live: Vec<(u64, u64)> = self.live(now).collect();
        live.sort_unstable();
        let mut sum: u64 = live.iter().map(|(_, n)| n).sum();
        let len = self.ring.len() as u64;
        for (s, n) in live {
            if sum < limit {
                break;
            }
            sum -= n;
            if sum < limit {
                // Slot `s` stops counting once the current slot is `s + len`.
                return self.origin + self.slot * u32::try_from(s + len).unwrap_or(u32::MAX);
            }
        }
        now
    }

    /// Forgets everything counted.
    pub fn clear(&mut self) {
        for cell in &mut self.ring {
            *cell = (u64::MAX, 0);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test(start_paused = true)]
    async fn counts_roll_off_after_the_span() {
        let t0 = Instant::now();
        let mut c = SlidingCount::new(t0, Duration::from_secs(1), 10);
        c.add(t0, 3);
        c.add(t0 + Duration::from_millis(500), 2);
        assert_eq!(c.sum(t0 + Duration::from_millis(900)), 5);
        // The first slot counts until a whole span and one slot have passed.
        assert_eq!(c.sum(t0 + Duration::from_millis(1_050)), 5);
        assert_eq!(c.sum(t0 + Duration::from_millis(1_100)), 2);
        let mid = t0 + Duration::from_millis(500);
        assert_eq!(c.free_at(mid, 5), t0 + Duration::from_millis(1_100));
        assert_eq!(c.free_at(mid, 6), mid);
        assert_eq!(c.sum(t0 + Duration::from_secs(3)), 0);
    }
}
