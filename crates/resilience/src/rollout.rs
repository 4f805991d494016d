//! Rollouts: moving calls from a stable arm to a candidate — a connector's next API version, a
//! route's next mapping — without betting everything on it.
//!
//! A rollout is in one [`Mode`]: `pin` (every call on the stable arm), `shadow` (served by the
//! stable arm, the candidate run beside it and compared), `canary` (a share of calls on the
//! candidate, chosen by a hash of a sticky key so one customer or caller never flips between
//! arms), or `switch` (every call on the candidate). Callers report each arm's outcomes; when
//! the candidate's failure rate over the window exceeds the stable arm's by more than the
//! margin, the rollout rolls back — every later call goes to the stable arm — and the trip is
//! reported once, for the alert and the audit log. It stays rolled back until an operator
//! resumes it (or changes it in the config).
//!
//! No I/O, tokio's clock: tests pause time.

use std::sync::Mutex;
use std::time::Duration;

use tokio::time::Instant;

use crate::window::SlidingCount;

/// Basis points: a canary's share is `0..=10_000` of 10,000 calls.
pub const WHOLE: u16 = 10_000;

/// How calls are split between the arms.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Mode {
    Pin,
    Shadow,
    /// The candidate's share, in basis points (of [`WHOLE`]).
    Canary(u16),
    Switch,
}

impl Mode {
    pub fn as_str(self) -> &'static str {
        match self {
            Mode::Pin => "pin",
            Mode::Shadow => "shadow",
            Mode::Canary(_) => "canary",
            Mode::Switch => "switch",
        }
    }
}

/// When a candidate is taken out of service.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct RollbackPolicy {
    /// How much worse than the stable arm's failure rate (a share, 0.05 = five points) the
    /// candidate's may be.
    pub margin: f64,
    /// The window both rates are measured over.
    pub window: Duration,
    /// Candidate calls in the window before it is judged.
    pub min_calls: u32,
}

impl Default for RollbackPolicy {
    fn default() -> Self {
        Self {
            margin: 0.05,
            window: Duration::from_secs(60),
            min_calls: 20,
        }
    }
}

/// One arm of a rollout.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Arm {
    Stable,
    Candidate,
}

/// What one call does: the arm that serves it, and whether the candidate runs beside it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Plan {
    pub serve: Arm,
    pub shadow: bool,
}

/// Why and when a rollout rolled back.
#[derive(Debug, Clone, PartialEq)]
pub struct RolledBack {
    /// Wall-clock milliseconds.
    pub at_ms: i64,
    pub why: String,
}

/// One arm's outcomes over the window.
#[derive(Debug, Clone)]
struct Counts {
    calls: SlidingCount,
    failed: SlidingCount,
}

impl Counts {
    fn new(now: Instant, window: Duration) -> Self {
        Self {
            calls: SlidingCount::new(now, window, 12),
            failed: SlidingCount::new(now, window, 12),
        }
    }

    fn add(&mut self, now: Instant, ok: bool) {
        self.calls.add(now, 1);
        if !ok {
            self.failed.add(now, 1);
        }
    }

    fn read(&self, now: Instant) -> (u64, u64) {
        (self.calls.sum(now), self.failed.sum(now))
    }
}

struct Inner {
    stable: Counts,
    candidate: Counts,
    rolled_back: Option<RolledBack>,
}

/// A rollout between two named arms.
pub struct Rollout {
    name: String,
    stable: String,
    candidate: String,
    mode: Mode,
    rollback: RollbackPolicy,
    inner: Mutex<Inner>,
}

/// A snapshot, for the admin API, the dashboard and the alert.
#[derive(Debug, Clone, PartialEq)]
pub struct Status {
    pub name: String,
    pub stable: String,
    pub candidate: String,
    pub mode: Mode,
    /// Calls and failures of each arm over the window: `(calls, failed)`.
    pub stable_counts: (u64, u64),
    pub candidate_counts: (u64, u64),
    pub rolled_back: Option<RolledBack>,
}

impl Rollout {
    pub fn new(
        name: impl Into<String>,
        stable: impl Into<String>,
        candidate: impl Into<String>,
        mode: Mode,
        rollback: RollbackPolicy,
    ) -> Self {
        let now = Instant::now();
        Self {
            name: name.into(),
            stable: stable.into(),
            candidate: candidate.into(),
            mode,
            rollback,
            inner: Mutex::new(Inner {
                stable: Counts::new(now, rollback.window),
                candidate: Counts::new(now, rollback.window),
                rolled_back: None,
            }),
        }
    }

    pub fn name(&self) -> &str {
        &self.name
    }

    /// The arm's name (`v1`, a mapping's name).
    pub fn arm_name(&self, arm: Arm) -> &str {
        match arm {
            Arm::Stable => &self.stable,
            Arm::Candidate => &self.candidate,
        }
    }

    pub fn mode(&self) -> Mode {
        self.mode
    }

    /// Whether two rollouts are set up alike (a config reload that leaves a rollout as it was
    /// keeps its state, a rolled-back one stays rolled back).
    pub fn same_setup(&self, other: &Rollout) -> bool {
        self.name == other.name
            && self.stable == other.stable
            && self.candidate == other.candidate
            && self.mode == other.mode
            && self.rollback == other.rollback
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, Inner> {
        self.inner.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// The plan of a call whose sticky key is `key` (an entity's key, a caller's id): the same
    /// key always lands on the same arm while the rollout is unchanged.
    pub fn plan(&self, key: &[u8]) -> Plan {
        let stable = Plan {
            serve: Arm::Stable,
            shadow: false,
        };
        if self.lock().rolled_back.is_some() {
            return stable;
        }
        match self.mode {
            Mode::Pin => stable,
            Mode::Shadow => Plan {
                serve: Arm::Stable,
                shadow: true,
            },
            Mode::Switch => Plan {
                serve: Arm::Candidate,
                shadow: false,
            },
            Mode::Canary(share) => Plan {
                serve: if bucket(&self.name, key) < share {
                    Arm::Candidate
                } else {
                    Arm::Stable
                },
                shadow: false,
            },
        }
    }

    /// Counts one call's outcome on `arm`. Returns the rollback, once, when this outcome makes
    /// the candidate worse than the stable arm by more than the margin.
    pub fn record(&self, arm: Arm, ok: bool, now: Instant) -> Option<RolledBack> {
        let mut inner = self.lock();
        match arm {
            Arm::Stable => inner.stable.add(now, ok),
            Arm::Candidate => inner.candidate.add(now, ok),
        }
        if arm == Arm::Stable || inner.rolled_back.is_some() || self.mode == Mode::Pin {
            return None;
        }
        let (calls, failed) = inner.candidate.read(now);
        if calls < u64::from(self.rollback.min_calls.max(1)) {
            return None;
        }
        let (s_calls, s_failed) = inner.stable.read(now);
        let rate = failed as f64 / calls as f64;
        let stable_rate = if s_calls == 0 {
            0.0
        } else {
            s_failed as f64 / s_calls as f64
        };
        if rate <= stable_rate + self.rollback.margin {
            return None;
        }
        let back = RolledBack {
            at_ms: junction_now_ms(),
            why: format!(
                "{} failed {failed} of {calls} calls ({:.0}%) in the last {}s, against {:.0}% for {} ({s_failed} of {s_calls}); the margin is {:.0} points",
                self.candidate,
                rate * 100.0,
                self.rollback.window.as_secs(),
                stable_rate * 100.0,
                self.stable,
                self.rollback.margin * 100.0
            ),
        };
        inner.rolled_back = Some(back.clone());
        Some(back)
    }

    /// Puts a rolled-back rollout back in service, its counts cleared. False if it was not.
    pub fn resume(&self) -> bool {
        let mut inner = self.lock();
        let now = Instant::now();
        let was = inner.rolled_back.take().is_some();
        inner.stable = Counts::new(now, self.rollback.window);
        inner.candidate = Counts::new(now, self.rollback.window);
        was
    }

    pub fn rolled_back(&self) -> Option<RolledBack> {
        self.lock().rolled_back.clone()
    }

    pub fn status(&self) -> Status {
        let inner = self.lock();
        let now = Instant::now();
        Status {
            name: self.name.clone(),
            stable: self.stable.clone(),
            candidate: self.candidate.clone(),
            mode: self.mode,
            stable_counts: inner.stable.read(now),
            candidate_counts: inner.candidate.read(now),
            rolled_back: inner.rolled_back.clone(),
        }
    }
}

fn junction_now_ms() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_millis() as i64)
        .unwrap_or(0)
}

/// The key's bucket in `0..WHOLE`: FNV-1a over the rollout's name and the key, so it is the
/// same in every process and every release (a canary does not reshuffle on an upgrade), and
/// two rollouts split the same keys independently.
pub fn bucket(rollout: &str, key: &[u8]) -> u16 {
    const OFFSET: u64 = 0xcbf2_9ce4_8422_2325;
    const PRIME: u64 = 0x0000_0100_0000_01b3;
    let mut h = OFFSET;
    for b in rollout.bytes().chain([0xff]).chain(key.iter().copied()) {
        h ^= u64::from(b);
        h = h.wrapping_mul(PRIME);
    }
    // Fold the high bits in: FNV's low bits alone spread short keys poorly.
    h ^= h >> 32;
    (h % u64::from(WHOLE)) as u16
}

#[cfg(test)]
mod tests {
    use super::*;

    fn canary(share: u16) -> Rollout {
        Rollout::new(
            "crm",
            "v1",
            "v2",
            Mode::Canary(share),
            RollbackPolicy::default(),
        )
    }

    #[test]
    fn canary_is_sticky_by_key_and_takes_about_its_share() {
        let r = canary(1_000);
        let mut on_candidate = 0;
        for i in 0..10_000 {
            let key = format!("cus_{i}");
            let first = r.plan(key.as_bytes());
            for _ in 0..3 {
                assert_eq!(r.plan(key.as_bytes()), first, "{key} flipped arms");
            }
            if first.serve == Arm::Candidate {
                on_candidate += 1;
            }
        }
        assert!(
            (800..=1_200).contains(&on_candidate),
            "10% canary put {on_candidate} of 10,000 keys on the candidate"
        );
    }

    #[test]
    fn pin_shadow_and_switch_plans() {
        let plan = |m| Rollout::new("x", "a", "b", m, RollbackPolicy::default()).plan(b"k");
        assert_eq!(plan(Mode::Pin).serve, Arm::Stable);
        assert_eq!(
            plan(Mode::Shadow),
            Plan {
                serve: Arm::Stable,
                shadow: true
            }
        );
        assert_eq!(plan(Mode::Switch).serve, Arm::Candidate);
        assert_eq!(plan(Mode::Canary(0)).serve, Arm::Stable);
        assert_eq!(plan(Mode::Canary(WHOLE)).serve, Arm::Candidate);
    }

    #[tokio::test(start_paused = true)]
    async fn a_failing_candidate_rolls_back_once_and_every_call_returns_to_stable() {
        let r = canary(WHOLE / 2);
        let now = Instant::now();
        for _ in 0..50 {
            assert_eq!(r.record(Arm::Stable, true, now), None);
        }
        let mut trips = 0;
        for i in 0..19 {
            assert_eq!(r.record(Arm::Candidate, false, now), None, "call {i}");
        }
        for _ in 0..10 {
            if r.record(Arm::Candidate, false, now).is_some() {
                trips += 1;
            }
        }
        assert_eq!(trips, 1, "the rollback is reported once");
        let why = r.rolled_back().map(|b| b.why).unwrap_or_default();
        assert!(why.contains("v2 failed 20 of 20"), "{why}");
        for i in 0..1_000 {
            assert_eq!(r.plan(format!("k{i}").as_bytes()).serve, Arm::Stable);
        }
        assert!(r.resume());
        assert!(r.rolled_back().is_none());
    }

    #[tokio::test(start_paused = true)]
    async fn a_candidate_no_worse_than_stable_within_the_margin_stays() {
        let r = canary(WHOLE / 2);
        let now = Instant::now();
        // Both fail 10%: the vendor is having a bad day, not the candidate.
        for i in 0..200 {
            r.record(Arm::Stable, i % 10 != 0, now);
            assert_eq!(r.record(Arm::Candidate, i % 10 != 0, now), None);
        }
        assert!(r.rolled_back().is_none());
    }

    #[tokio::test(start_paused = true)]
    async fn failures_older_than_the_window_are_forgotten() {
        let r = canary(WHOLE / 2);
        let start = Instant::now();
        for _ in 0..15 {
            r.record(Arm::Candidate, false, start);
        }
        tokio::time::advance(Duration::from_secs(120)).await;
        let later = Instant::now();
        // 15 old failures are gone: 19 good calls and one failure are within the margin.
        for _ in 0..19 {
            assert_eq!(r.record(Arm::Candidate, true, later), None);
        }
        assert_eq!(r.record(Arm::Candidate, false, later), None);
        assert!(r.rolled_back().is_none());
    }

    #[test]
    fn buckets_spread_and_differ_between_rollouts() {
        let same = (0..1000)
            .filter(|i| {
                let k = format!("k{i}");
                bucket("a", k.as_bytes()) == bucket("b", k.as_bytes())
            })
            .count();
        assert!(same < 10, "{same} keys share a bucket across two rollouts");
        assert!((0..1000).all(|i| bucket("a", format!("{i}").as_bytes()) < WHOLE));
    }
}
