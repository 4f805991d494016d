//! Queue-to-quota: a call takes a share of every window before it is sent, or learns when to
//! ask again. A call counts in every window from when it is admitted until it is answered, and
//! for a whole window from then ([`QuotaState::try_reserve`]); windows are sliding. A vendor
//! counts a call at some moment between its arrival and its answer, so however long the call
//! waited before it left (a token refresh, a busy thread), travelled, or sat in the vendor's own
//! queue, the calls it counts in any of its windows were all counted together here when the
//! last of them was admitted: a configured quota is never broken as the vendor counts it,
//! whatever its window's alignment. Each window is kept over its length plus a small margin
//! (`jitter`) for vendors whose clocks or windows are coarser.
//!
//! The upstream teaches the quota as it answers ([`Signal`]): `Retry-After` pauses every call
//! until then; `RateLimit-Policy` adds the upstream's real windows when they are stricter than
//! the configured ones; `remaining: 0` while our own windows still have room (someone else
//! shares the upstream's quota) pauses until the upstream's reset; and with no window known at
//! all, the remaining count itself is the budget until reset.
//!
//! Several processes on one database split a quota into leased **shares** ([`LocalQuota::shared`]):
//! each enforces its share of every window in memory (no round trip per call) and renews it
//! about every second ([`LocalQuota::ask`] → the store's fair split → [`LocalQuota::grant`]). A
//! share is a fraction of every window; a process without a live lease sends nothing, so the
//! shares of live processes never sum above the limit (the store keeps that sum).

use std::sync::Mutex;
use std::time::Duration;

use tokio::time::Instant;

use crate::window::SlidingCount;

/// Sub-buckets per window: a window is counted over at most 1 % more than its length.
const BUCKETS: u32 = 100;

/// The margin added to every window by default. See [`LocalQuota::with_jitter`].
pub const DEFAULT_JITTER: Duration = Duration::ZERO;

/// One limit: `limit` calls per `window`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Window {
    pub limit: u32,
    pub window: Duration,
}

/// What an upstream's answer said about its limits.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Signal {
    /// `Retry-After` of a 429 or 503: pause every call this long.
    pub retry_after: Option<Duration>,
    /// The upstream's windows (`RateLimit-Policy: "1s";q=500;w=1`).
    pub policies: Vec<Window>,
    /// Calls left and time to reset (`RateLimit: …;r=42;t=17` or `X-RateLimit-Remaining/Reset`).
    pub remaining: Option<Remaining>,
}

/// Calls the upstream still allows before its window resets.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Remaining {
    pub left: u64,
    pub reset: Duration,
    /// The window it refers to, when the header names one.
    pub window: Option<Duration>,
}

/// A quota's state, for metrics and the admin API.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct QuotaSnapshot {
    /// (window, calls counted in it now, learned from the upstream)
    pub windows: Vec<(Window, u64, bool)>,
    /// How long calls are paused for (by `Retry-After` or an exhausted upstream quota).
    pub paused_for: Option<Duration>,
    /// What the upstream last reported as remaining.
    pub upstream_remaining: Option<u64>,
}

/// A connector's (or connection's) quota state.
///
/// A window's limit counts **points**: a call costs one unless it says otherwise (a vendor that
/// meters by cost charges an endpoint several, or a query what it touched). A call reserves
/// what it may cost ([`QuotaState::try_reserve_cost`]); once the vendor says what it really
/// cost, [`QuotaState::true_up`] counts that instead.
pub trait QuotaState: Send + Sync + 'static {
    /// Takes one call's place in every window, counted for a whole window from now, or returns
    /// when to ask again.
    fn try_acquire(&self, now: Instant) -> Result<(), Instant> {
        self.try_reserve(now)?;
        self.settled(now);
        Ok(())
    }
    /// Takes one call's place until it is settled ([`QuotaState::settled`]): it counts in every
    /// window however long it waits for credentials, a connection or its answer, then for a
    /// whole window from then. A window counted from admission alone would let calls that were
    /// delayed after it reach the vendor together with the calls admitted after them.
    fn try_reserve(&self, now: Instant) -> Result<(), Instant> {
        self.try_reserve_cost(now, 1)
    }
    /// As [`QuotaState::try_reserve`], for a call that costs `cost` points (at most a window's
    /// whole limit: a costlier call is counted as the whole window, never refused forever).
    fn try_reserve_cost(&self, now: Instant, cost: u32) -> Result<(), Instant>;
    /// A reserved call was answered, failed, or was given up after its request may have left:
    /// it counts for a whole window from now.
    fn settled(&self, now: Instant) {
        self.settled_cost(now, 1)
    }
    fn settled_cost(&self, now: Instant, cost: u32);
    /// A reserved call was given up before its request left: its place is free again.
    fn unsent(&self) {
        self.unsent_cost(1)
    }
    fn unsent_cost(&self, cost: u32);
    /// A settled call that reserved `reserved` points really cost `actual` (the vendor said so
    /// in its answer): the difference is counted, or given back, now.
    fn true_up(&self, now: Instant, reserved: u32, actual: u32);
    /// The vendor says `left` points remain of its limit (`limit` when it says which): a window
    /// of that limit (else the first configured) counts at least what the vendor has counted.
    /// Only ever raises the count: someone else spending the vendor's points is seen, and our
    /// own calls not yet in the vendor's figure are never forgotten.
    fn vendor_left(&self, now: Instant, left: u64, limit: Option<u64>);
    /// Learns from an upstream answer; `in_flight` counts other calls sent and not yet answered.
    fn observe(&self, now: Instant, signal: &Signal, in_flight: u64);
    fn snapshot(&self, now: Instant) -> QuotaSnapshot;
}

/// The quota of one process.
pub struct LocalQuota {
    inner: Mutex<Inner>,
    /// Quotas that follow this one's share (each connection's own, [`LocalQuota::follow`]):
    /// the largest part of a window they occupy, reported with this quota's usage at renewal.
    dependents: Mutex<Option<Dependents>>,
}

/// The largest part of any window (of [`WHOLE`]) the quotas following a share occupy now.
pub type Dependents = std::sync::Arc<dyn Fn(Instant) -> u32 + Send + Sync>;

struct Inner {
    origin: Instant,
    /// Added to every window's span: see [`LocalQuota::with_jitter`].
    jitter: Duration,
    configured: Vec<(Window, SlidingCount)>,
    learned: Vec<(Window, SlidingCount)>,
    paused_until: Option<Instant>,
    /// With no window known: the upstream's remaining calls until its reset.
    budget: Option<(i64, Instant)>,
    last_remaining: Option<u64>,
    /// This process's share of a quota split between processes; `None`: the whole quota.
    share: Option<Share>,
    /// Calls admitted and not yet settled: they count in every window until they are.
    pending: u64,
}

/// The whole of a quota, in shares: a share of `WHOLE / 4` is a quarter of every window.
pub const WHOLE: u32 = 1_000_000;

/// The least share a process asks for, even idle: its first calls need not wait for a renewal.
const LEAST_WANT: u32 = WHOLE / 100;

/// How soon a call refused for want of a share asks again (a renewal may have granted one).
const SHARE_POLL: Duration = Duration::from_millis(50);

/// How soon a call refused because calls admitted and not yet answered fill a window asks again
/// (each then counts in the sliding windows, whose own times are known).
const PENDING_POLL: Duration = Duration::from_millis(10);

/// A leased share and the demand seen since the last renewal.
struct Share {
    ppm: u32,
    /// The share counts until then (this process's clock, measured from before it asked, so
    /// it lapses here no later than in the store).
    lease_until: Instant,
    acquired: u64,
    refused: u64,
    since: Instant,
}

/// What a process holding a share tells the store at renewal.
#[derive(Debug, Clone, PartialEq)]
pub struct ShareAsk {
    /// The share it would use (of [`WHOLE`]): all of it when callers waited for want of one.
    pub want: u32,
    /// The share its calls occupy or may still occupy: the largest part of any window counted
    /// now, and at least the share held now. The store keeps at least this for the process
    /// until those calls have left every window.
    pub usage: u32,
    /// A pause the vendor ordered (`Retry-After`, an exhausted quota) still to run.
    pub paused_for: Option<Duration>,
    /// Windows learned from the vendor's headers.
    pub learned: Vec<Window>,
    /// How long after this process's last call it may still count in a window: the longest
    /// window's span.
    pub hold: Duration,
}

/// What the store granted.
#[derive(Debug, Clone, PartialEq)]
pub struct ShareGrant {
    pub share: u32,
    /// When the lease lapses (this process's clock).
    pub lease_until: Instant,
    /// A pause another process was ordered.
    pub paused_for: Option<Duration>,
    /// Windows any process learned.
    pub learned: Vec<Window>,
}

impl LocalQuota {
    /// A quota over `windows`, with the [`DEFAULT_JITTER`] margin (none).
    pub fn new(windows: &[Window]) -> Self {
        Self::with_jitter(windows, DEFAULT_JITTER)
    }

    /// A quota over `windows`, each counted over its length plus `jitter`: a margin for a vendor
    /// whose clock or windows are coarser than ours, at a cost of `jitter / window` of throughput.
    /// (Delays between admission and the vendor's count need none: a call counts until settled.)
    pub fn with_jitter(windows: &[Window], jitter: Duration) -> Self {
        let origin = Instant::now();
        let jitter = jitter.min(LONGEST_HINT);
        Self {
            dependents: Mutex::new(None),
            inner: Mutex::new(Inner {
                origin,
                jitter,
                configured: windows
                    .iter()
                    .map(|w| (*w, SlidingCount::new(origin, w.window + jitter, BUCKETS)))
                    .collect(),
                learned: Vec::new(),
                paused_until: None,
                budget: None,
                last_remaining: None,
                share: None,
                pending: 0,
            }),
        }
    }

    /// A quota split with other processes: nothing may be sent until a share is granted.
    pub fn shared(windows: &[Window], jitter: Duration) -> Self {
        let q = Self::with_jitter(windows, jitter);
        {
            let mut inner = q.lock();
            let origin = inner.origin;
            inner.share = Some(Share {
                ppm: 0,
                lease_until: origin,
                acquired: 0,
                refused: 0,
                since: origin,
            });
        }
        q
    }

    /// The share held now (of [`WHOLE`]); `None` for a quota not split.
    pub fn share(&self, now: Instant) -> Option<u32> {
        self.lock()
            .share
            .as_ref()
            .map(|s| if now < s.lease_until { s.ppm } else { 0 })
    }

    /// The share held and until when, for a quota split between processes.
    pub fn lease(&self) -> Option<(u32, Instant)> {
        self.lock().share.as_ref().map(|s| (s.ppm, s.lease_until))
    }

    /// Takes another quota's share as this one's (a quota made [`LocalQuota::shared`]): each
    /// connection's own quota is split between processes as its connector's is, so the
    /// processes' parts of it never add up to more than its limit.
    pub fn follow(&self, (ppm, lease_until): (u32, Instant)) {
        if let Some(s) = self.lock().share.as_mut() {
            s.ppm = ppm.min(WHOLE);
            s.lease_until = lease_until;
        }
    }

    /// A call of a quota following this share waited for want of it: at renewal, ask for all
    /// of it (as for a call of this quota refused).
    pub fn wanted(&self) {
        if let Some(s) = self.lock().share.as_mut() {
            s.refused += 1;
        }
    }

    /// Quotas that follow this one's share: what they occupy keeps this share from shrinking
    /// under their calls, and asks for more when they need it.
    pub fn set_dependents(&self, dependents: Dependents) {
        *self.dependents.lock().unwrap_or_else(|p| p.into_inner()) = Some(dependents);
    }

    /// The largest part of any window counted now (of [`WHOLE`]).
    pub fn usage(&self, now: Instant) -> u32 {
        self.lock().usage(now)
    }

    /// What to ask the store for at renewal; starts counting demand afresh.
    ///
    /// The usage reported is at least the share held now: until the store's answer is applied
    /// here, calls may still be sent under it, so the store must not give any of it to another
    /// process yet. A share therefore shrinks in the store one renewal after it shrank here.
    pub fn ask(&self, now: Instant) -> ShareAsk {
        // Read before this quota's lock: the dependents' own locks are never taken under it.
        let dependents = self
            .dependents
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .clone()
            .map_or(0, |d| d(now));
        let mut q = self.lock();
        let held = q
            .share
            .as_ref()
            .map_or(0, |s| if now < s.lease_until { s.ppm } else { 0 });
        let used = q.usage(now).max(dependents);
        let usage = used.max(held);
        let rate = q.rate_share(now);
        let paused_for = q
            .paused_until
            .filter(|p| *p > now)
            .map(|p| p.duration_since(now));
        let learned = q.learned.iter().map(|(w, _)| *w).collect();
        let no_windows = q.windows().next().is_none();
        let hold = q
            .windows()
            .map(|(w, _)| w.window + (w.window / 20).max(q.jitter))
            .max()
            .unwrap_or(q.jitter);
        let Some(share) = q.share.as_mut() else {
            return ShareAsk {
                want: WHOLE,
                usage,
                paused_for,
                learned,
                hold,
            };
        };
        // Without a window (no quota configured or learned yet) demand cannot be measured
        // against one: ask for all, so the processes split what the vendor says is left evenly.
        let want = if share.refused > 0 || no_windows {
            WHOLE
        } else {
            (used.saturating_mul(5) / 4)
                .max(rate.saturating_mul(3) / 2)
                .clamp(LEAST_WANT, WHOLE)
        };
        share.acquired = 0;
        share.refused = 0;
        share.since = now;
        ShareAsk {
            want,
            usage,
            paused_for,
            learned,
            hold,
        }
    }

    /// Takes the share the store granted, with the pause and windows other processes learned.
    pub fn grant(&self, now: Instant, grant: &ShareGrant) {
        let mut q = self.lock();
        if let Some(s) = q.share.as_mut() {
            s.ppm = grant.share.min(WHOLE);
            s.lease_until = grant.lease_until;
        }
        if let Some(d) = grant.paused_for {
            let until = later(now, d);
            q.paused_until = Some(q.paused_until.map_or(until, |p| p.max(until)));
        }
        for w in &grant.learned {
            q.learn(now, *w, None, 0);
        }
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, Inner> {
        self.inner.lock().unwrap_or_else(|p| p.into_inner())
    }
}

impl Inner {
    fn windows(&self) -> impl Iterator<Item = &(Window, SlidingCount)> {
        self.configured.iter().chain(self.learned.iter())
    }

    /// This process's part of `limit`: all of it, or its live share.
    fn part(&self, now: Instant, limit: u64) -> u64 {
        match &self.share {
            None => limit,
            Some(s) if now < s.lease_until => limit * u64::from(s.ppm) / u64::from(WHOLE),
            Some(_) => 0,
        }
    }

    /// When every window has room for a call of `cost` points (now if they do).
    fn windows_free_at(&self, now: Instant, cost: u64) -> Instant {
        self.windows()
            .map(|(w, c)| {
                let limit = self.part(now, u64::from(w.limit));
                let room = limit.saturating_sub(self.pending);
                // A call dearer than the whole window waits for it to be empty.
                let cost = cost.clamp(1, limit.max(1));
                if limit == 0 {
                    // No share of it: ask again once a renewal may have granted one.
                    now + SHARE_POLL
                } else if room < cost {
                    now + PENDING_POLL
                } else if c.sum(now) + cost > room {
                    c.free_at(now, room + 1 - cost)
                } else {
                    now
                }
            })
            .fold(now, Instant::max)
    }

    /// The largest part of any window counted now (of [`WHOLE`]).
    fn usage(&self, now: Instant) -> u32 {
        self.windows()
            .map(|(w, c)| ratio(c.sum(now) + self.pending, u64::from(w.limit)))
            .max()
            .unwrap_or(0)
    }

    /// The share the calls admitted since the last renewal would need at their rate.
    fn rate_share(&self, now: Instant) -> u32 {
        let Some(s) = &self.share else { return 0 };
        let period = now.duration_since(s.since).max(Duration::from_millis(100));
        self.windows()
            .map(|(w, _)| {
                let calls = s.acquired as f64 * w.window.as_secs_f64() / period.as_secs_f64();
                ratio(calls as u64, u64::from(w.limit))
            })
            .max()
            .unwrap_or(0)
    }

    fn learn(
        &mut self,
        now: Instant,
        policy: Window,
        remaining: Option<Remaining>,
        in_flight: u64,
    ) {
        let stricter_known = self
            .windows()
            .any(|(w, _)| w.window >= policy.window && w.limit <= policy.limit);
        if stricter_known {
            return;
        }
        // A learned window is counted over its length plus the jitter (as configured ones are),
        // and at least 5 % more: calls reach the upstream with varying delays.
        let policy = Window {
            window: policy.window.min(LONGEST_HINT),
            ..policy
        };
        let span = policy.window + (policy.window / 20).max(self.jitter);
        let mut count = SlidingCount::new(self.origin, span, BUCKETS);
        // Start from what the upstream says is used, plus the calls already on their way (sent
        // before we knew, and not in its count yet), so the first learned window is not overrun.
        // Split with other processes, this one's part of the vendor's count is its share.
        if let Some(r) = remaining.filter(|r| r.window.is_none_or(|w| w == policy.window)) {
            let used = self.part(now, u64::from(policy.limit).saturating_sub(r.left));
            count.add(now, used + in_flight);
        }
        self.learned.retain(|(w, _)| w.window != policy.window);
        self.learned.push((policy, count));
    }
}

/// `part / whole` in shares of [`WHOLE`], at most the whole.
fn ratio(part: u64, whole: u64) -> u32 {
    if whole == 0 {
        return 0;
    }
    u32::try_from((u128::from(part) * u128::from(WHOLE) / u128::from(whole)).min(u128::from(WHOLE)))
        .unwrap_or(WHOLE)
}

/// `now + d`, or as far as the clock goes (a [`Signal`] built by hand may hold any duration).
fn later(now: Instant, d: Duration) -> Instant {
    now.checked_add(d.min(LONGEST_HINT))
        .unwrap_or(now + Duration::from_secs(86_400))
}

impl QuotaState for LocalQuota {
    fn try_reserve_cost(&self, now: Instant, cost: u32) -> Result<(), Instant> {
        let cost = u64::from(cost.max(1));
        let mut q = self.lock();
        if let Some(p) = q.paused_until {
            if p > now {
                if let Some(s) = q.share.as_mut() {
                    s.refused += 1;
                }
                return Err(p);
            }
            q.paused_until = None;
        }
        let mut at = q.windows_free_at(now, cost);
        if let Some((left, reset)) = q.budget {
            if now >= reset {
                q.budget = None;
            } else if left <= 0 {
                at = at.max(reset);
            }
        }
        if at > now {
            if let Some(s) = q.share.as_mut() {
                s.refused += 1;
            }
            return Err(at);
        }
        q.pending += cost;
        if let Some(s) = q.share.as_mut() {
            s.acquired += cost;
        }
        if let Some((left, _)) = &mut q.budget {
            *left -= i64::try_from(cost).unwrap_or(i64::MAX);
        }
        Ok(())
    }

    fn settled_cost(&self, now: Instant, cost: u32) {
        let cost = u64::from(cost.max(1));
        let mut q = self.lock();
        let q = &mut *q;
        q.pending = q.pending.saturating_sub(cost);
        for (_, c) in q.configured.iter_mut().chain(q.learned.iter_mut()) {
            c.add(now, cost);
        }
    }

    fn unsent_cost(&self, cost: u32) {
        let mut q = self.lock();
        q.pending = q.pending.saturating_sub(u64::from(cost.max(1)));
    }

    fn true_up(&self, now: Instant, reserved: u32, actual: u32) {
        let mut q = self.lock();
        let q = &mut *q;
        // A figure beyond every window's limit says nothing more than "the whole window".
        let most = q.windows().map(|(w, _)| w.limit).max().unwrap_or(u32::MAX);
        let (reserved, actual) = (u64::from(reserved.max(1)), u64::from(actual.min(most)));
        if reserved == actual {
            return;
        }
        for (_, c) in q.configured.iter_mut().chain(q.learned.iter_mut()) {
            if actual > reserved {
                c.add(now, actual - reserved);
            } else {
                c.remove(now, reserved - actual);
            }
        }
        if let Some((left, _)) = &mut q.budget {
            let given_back =
                i64::try_from(reserved).unwrap_or(0) - i64::try_from(actual).unwrap_or(0);
            *left = left.saturating_add(given_back);
        }
    }

    fn vendor_left(&self, now: Instant, left: u64, limit: Option<u64>) {
        let mut q = self.lock();
        q.last_remaining = Some(left);
        let q = &mut *q;
        let pending = q.pending;
        let share = |limit: u64| match &q.share {
            None => limit,
            Some(s) if now < s.lease_until => limit * u64::from(s.ppm) / u64::from(WHOLE),
            Some(_) => 0,
        };
        let target = q
            .configured
            .iter()
            .position(|(w, _)| limit == Some(u64::from(w.limit)))
            .or((!q.configured.is_empty()).then_some(0));
        let Some(i) = target else { return };
        let w_limit = u64::from(q.configured[i].0.limit);
        // Split with other processes, this one's part of what the vendor counted is its share.
        let used = share(w_limit.saturating_sub(left));
        let c = &mut q.configured[i].1;
        let counted = c.sum(now) + pending;
        if used > counted {
            c.add(now, used - counted);
        }
    }

    fn observe(&self, now: Instant, signal: &Signal, in_flight: u64) {
        let mut q = self.lock();
        if let Some(ra) = signal.retry_after {
            let until = later(now, ra);
            q.paused_until = Some(q.paused_until.map_or(until, |p| p.max(until)));
        }
        for policy in &signal.policies {
            q.learn(now, *policy, signal.remaining, in_flight);
        }
        if let Some(r) = signal.remaining {
            q.last_remaining = Some(r.left);
            let has_windows = q.windows().next().is_some();
            if r.left == 0 && has_windows && q.share.is_none() && q.windows_free_at(now, 1) <= now {
                // Our windows have room but the upstream has none: it is shared, or stricter
                // than it says. Wait for its reset. (A quota split between processes expects
                // this: the others use the rest, and the shares already keep the sum within
                // the limit; a 429 still pauses them all.)
                let until = later(now, r.reset);
                q.paused_until = Some(q.paused_until.map_or(until, |p| p.max(until)));
            } else if !has_windows {
                // Split with other processes, this one may spend its share of what is left.
                let left = q.part(now, r.left);
                let left = i64::try_from(left).unwrap_or(i64::MAX);
                q.budget = Some((
                    left.saturating_sub(i64::try_from(in_flight).unwrap_or(0)),
                    later(now, r.reset),
                ));
            }
        }
    }

    fn snapshot(&self, now: Instant) -> QuotaSnapshot {
        let q = self.lock();
        QuotaSnapshot {
            windows: q
                .configured
                .iter()
                .map(|(w, c)| (*w, c.sum(now) + q.pending, false))
                .chain(
                    q.learned
                        .iter()
                        .map(|(w, c)| (*w, c.sum(now) + q.pending, true)),
                )
                .collect(),
            paused_for: q
                .paused_until
                .filter(|p| *p > now)
                .map(|p| p.duration_since(now)),
            upstream_remaining: q.last_remaining,
        }
    }
}

/// The longest time any rate-limit header may speak of (a window, a reset, a pause): longer
/// values are read as this. A monthly quota fits; `u64::MAX` seconds would overflow the clock.
pub const LONGEST_HINT: Duration = Duration::from_secs(31 * 86_400);

/// Parses the upstream's rate-limit headers into a [`Signal`]: `Retry-After` (seconds or an
/// HTTP date) on 429 and 503, draft-11 `RateLimit-Policy` / `RateLimit`, and
/// `X-RateLimit-Remaining` / `X-RateLimit-Reset` (seconds or a Unix time).
pub fn parse_signal(
    status: u16,
    header: &dyn Fn(&str) -> Option<String>,
    unix_now: u64,
    retry_after_cap: Duration,
) -> Signal {
    let retry_after_cap = retry_after_cap.min(LONGEST_HINT);
    let mut s = Signal::default();
    if status == 429 || status == 503 {
        let ra = header("retry-after").and_then(|v| parse_retry_after(&v, unix_now));
        s.retry_after = match (ra, status) {
            (Some(d), _) => Some(d.min(retry_after_cap)),
            // A 429 without a hint: back off a second rather than hammer.
            (None, 429) => Some(Duration::from_secs(1)),
            _ => None,
        };
    }
    if let Some(p) = header("ratelimit-policy") {
        s.policies = p.split(',').filter_map(parse_policy).collect();
    }
    if let Some(r) = header("ratelimit") {
        s.remaining = r
            .split(',')
            .filter_map(parse_remaining)
            .min_by_key(|r| r.left);
    } else if let (Some(left), Some(reset)) = (
        header("x-ratelimit-remaining").and_then(|v| v.trim().parse::<u64>().ok()),
        header("x-ratelimit-reset").and_then(|v| v.trim().parse::<u64>().ok()),
    ) {
        // A reset above a billion seconds is a Unix time; below, seconds from now.
        let reset = if reset > 1_000_000_000 {
            reset.saturating_sub(unix_now)
        } else {
            reset
        };
        s.remaining = Some(Remaining {
            left,
            reset: Duration::from_secs(reset),
            window: None,
        });
    }
    for w in &mut s.policies {
        w.window = w.window.min(LONGEST_HINT);
    }
    if let Some(r) = &mut s.remaining {
        r.reset = r.reset.min(LONGEST_HINT);
        r.window = r.window.map(|w| w.min(LONGEST_HINT));
    }
    s
}

/// A vendor's own rate-limit headers (`X-HubSpot-RateLimit-Remaining`,
/// `X-Shopify-Shop-Api-Call-Limit: 32/40`), read when an answer carries none of the standard
/// ones. Header names are lowercase.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct VendorHeaders {
    /// The header with the calls left.
    pub remaining: Option<String>,
    /// Or the header with `used/limit` (`32/40`, or named: `api-usage=18/5000`).
    pub used_of_limit: Option<String>,
    /// The header saying when the count resets, in `reset_unit`.
    pub reset: Option<String>,
    pub reset_unit: ResetUnit,
    /// The window the count refers to; the time to reset when no `reset` header says.
    pub window: Duration,
}

/// How a vendor's reset header counts.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub enum ResetUnit {
    /// Seconds from now.
    #[default]
    Seconds,
    /// Milliseconds from now.
    Milliseconds,
    /// A Unix time in seconds.
    Unix,
}

impl VendorHeaders {
    /// The calls left and when they reset, as the vendor's headers say.
    pub fn read(
        &self,
        header: &dyn Fn(&str) -> Option<String>,
        unix_now: u64,
    ) -> Option<Remaining> {
        let left = match (&self.remaining, &self.used_of_limit) {
            (Some(h), _) => header(h)?.trim().parse::<u64>().ok()?,
            (None, Some(h)) => {
                let v = header(h)?;
                let v = v.rsplit_once('=').map_or(v.as_str(), |(_, n)| n);
                let (used, limit) = v.trim().split_once('/')?;
                let (used, limit) = (
                    used.trim().parse::<u64>().ok()?,
                    limit.trim().parse::<u64>().ok()?,
                );
                limit.saturating_sub(used)
            }
            (None, None) => return None,
        };
        let reset = self
            .reset
            .as_ref()
            .and_then(|h| header(h))
            .and_then(|v| v.trim().parse::<u64>().ok())
            .map(|n| match self.reset_unit {
                ResetUnit::Seconds => Duration::from_secs(n),
                ResetUnit::Milliseconds => Duration::from_millis(n),
                ResetUnit::Unix => Duration::from_secs(n.saturating_sub(unix_now)),
            })
            .unwrap_or(self.window);
        Some(Remaining {
            left,
            reset: reset.min(LONGEST_HINT),
            window: Some(self.window.min(LONGEST_HINT)),
        })
    }
}

/// `Retry-After`: delta-seconds or an HTTP date.
pub fn parse_retry_after(v: &str, unix_now: u64) -> Option<Duration> {
    let v = v.trim();
    if let Ok(s) = v.parse::<u64>() {
        return Some(Duration::from_secs(s));
    }
    let at = httpdate::parse_http_date(v)
        .ok()?
        .duration_since(std::time::UNIX_EPOCH)
        .ok()?;
    Some(Duration::from_secs(at.as_secs().saturating_sub(unix_now)))
}

/// One item of `RateLimit-Policy`: `"name";q=100;w=60`. Items without `q` or `w` are skipped.
fn parse_policy(item: &str) -> Option<Window> {
    let (mut q, mut w) = (None, None);
    for param in item.split(';').skip(1) {
        match param.trim().split_once('=') {
            Some(("q", v)) => q = v.trim().parse::<u32>().ok(),
            Some(("w", v)) => w = v.trim().parse::<u64>().ok(),
            _ => {}
        }
    }
    Some(Window {
        limit: q.filter(|q| *q > 0)?,
        window: Duration::from_secs(w.filter(|w| *w > 0)?),
    })
}

/// One item of `RateLimit`: `"name";r=42;t=17`. The name `"60s"` style is read as the window.
fn parse_remaining(item: &str) -> Option<Remaining> {
    let mut params = item.split(';');
    let name = params.next()?.trim().trim_matches('"');
    let window = name
        .strip_suffix('s')
        .and_then(|n| n.parse::<u64>().ok())
        .map(Duration::from_secs);
    let (mut r, mut t) = (None, None);
    for param in params {
        match param.trim().split_once('=') {
            Some(("r", v)) => r = v.trim().parse::<u64>().ok(),
            Some(("t", v)) => t = v.trim().parse::<u64>().ok(),
            _ => {}
        }
    }
    Some(Remaining {
        left: r?,
        reset: Duration::from_secs(t.unwrap_or(1)),
        window,
    })
}
