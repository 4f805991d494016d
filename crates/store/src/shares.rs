//! What processes on one database share: each connector's quota split into leased shares, and
//! circuits one process opened that the others honour.
//!
//! **Shares.** Every process renews its share of a quota about every second, in a transaction
//! that locks the quota's row. A holder's row keeps its *claim* — the larger of the share it was
//! granted and the part of any window its calls occupy or may still occupy (the share it held
//! when it asked: it sends under that one until the answer arrives) — until its lease has lapsed and
//! its calls have left every window (`expires_at + hold_ms`). A renewal grants at most what the
//! other holders' claims leave, so the claims, and with them the calls in any window, never
//! sum above the limit; within that, shares follow demand by max-min fairness (an idle process
//! gets what it uses, the busy ones split the rest). Times are the database's clock, so
//! processes on machines with skewed clocks agree on whose lease has lapsed.

/// The whole of a quota: shares are parts of it (see `junction_resilience::quota::WHOLE`).
pub const WHOLE: u32 = 1_000_000;

/// At most this many learned windows are kept per quota (a vendor names one or two).
pub const MAX_LEARNED: usize = 8;

/// One process's renewal of its share of a quota.
#[derive(Debug, Clone)]
pub struct ShareRequest {
    /// The quota: `connector:NAME`.
    pub quota: String,
    /// Who holds the share: one connector's runtime in one process.
    pub holder: String,
    /// The share it would use.
    pub want: u32,
    /// The share its calls still occupy.
    pub usage: u32,
    /// How long the lease runs.
    pub ttl_ms: i64,
    /// How long after the lease lapses its calls may still be counted in a window (the longest
    /// window plus the arrival jitter).
    pub hold_ms: i64,
    /// A pause still to run (`Retry-After`): every holder pauses until then.
    pub pause_ms: i64,
    /// Windows learned from the vendor: (limit, window in ms).
    pub learned: Vec<(u32, i64)>,
}

/// What a renewal granted.
#[derive(Debug, Clone, PartialEq)]
pub struct ShareGrant {
    pub share: u32,
    /// The lease runs this long from the renewal's start.
    pub ttl_ms: i64,
    /// The quota's pause still to run, if any.
    pub paused_for_ms: Option<i64>,
    /// Every window learned by any holder.
    pub learned: Vec<(u32, i64)>,
    /// Holders counted, this one included.
    pub holders: u32,
}

/// A holder's row as stored.
#[derive(Debug, Clone)]
pub struct Holder {
    pub holder: String,
    pub claim: u32,
    pub want: u32,
    pub expires_at: i64,
    pub hold_ms: i64,
}

impl Holder {
    /// Whether its claim still counts at `now`.
    pub fn counts(&self, now: i64) -> bool {
        self.expires_at.saturating_add(self.hold_ms) > now
    }

    /// Whether its lease is live (it takes part in the fair split).
    pub fn live(&self, now: i64) -> bool {
        self.expires_at > now
    }
}

/// The renewal's decision: the share granted, and the claim the requester's row keeps.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Decision {
    pub share: u32,
    pub claim: u32,
    pub holders: u32,
}

/// Grants `req.holder` its fair part of the quota, within what the others' claims leave.
pub fn decide(req: &ShareRequest, rows: &[Holder], now: i64) -> Decision {
    let others: Vec<&Holder> = rows
        .iter()
        .filter(|h| h.holder != req.holder && h.counts(now))
        .collect();
    let taken: u64 = others.iter().map(|h| u64::from(h.claim.min(WHOLE))).sum();
    let free = u64::from(WHOLE).saturating_sub(taken);
    let mut wants: Vec<u32> = others
        .iter()
        .filter(|h| h.live(now))
        .map(|h| h.want.min(WHOLE))
        .collect();
    wants.push(req.want.min(WHOLE));
    let fair = fair_part(&wants, req.want.min(WHOLE));
    let share = u32::try_from(u64::from(fair).min(free)).unwrap_or(0);
    Decision {
        share,
        claim: share.max(req.usage.min(WHOLE)),
        holders: u32::try_from(wants.len()).unwrap_or(u32::MAX),
    }
}

/// Max-min fair split of the whole between `wants`: what the one wanting `mine` gets. Those
/// wanting less than an equal part get what they want; the rest split what is left equally.
pub fn fair_part(wants: &[u32], mine: u32) -> u32 {
    let mut sorted = wants.to_vec();
    sorted.sort_unstable();
    let mut left = u64::from(WHOLE);
    let n = sorted.len() as u64;
    for (i, w) in sorted.iter().enumerate() {
        let equal = left / (n - i as u64);
        if u64::from(*w) >= equal {
            // Everyone from here on wants at least an equal part of what is left.
            return u32::try_from(equal.min(u64::from(mine))).unwrap_or(0);
        }
        if *w == mine {
            return mine;
        }
        left -= u64::from(*w);
    }
    mine.min(u32::try_from(left).unwrap_or(WHOLE))
}

/// The stored form of learned windows: `limit/window_ms` joined by commas.
pub fn encode_learned(windows: &[(u32, i64)]) -> String {
    windows
        .iter()
        .map(|(l, w)| format!("{l}/{w}"))
        .collect::<Vec<_>>()
        .join(",")
}

pub fn decode_learned(text: &str) -> Vec<(u32, i64)> {
    text.split(',')
        .filter_map(|item| {
            let (l, w) = item.split_once('/')?;
            Some((l.parse().ok()?, w.parse().ok()?))
        })
        .filter(|(l, w)| *l > 0 && *w > 0)
        .take(MAX_LEARNED)
        .collect()
}

/// The stored windows with `new` ones merged in: per window length the stricter limit, at
/// most [`MAX_LEARNED`] (the shortest windows kept).
pub fn merge_learned(stored: &[(u32, i64)], new: &[(u32, i64)]) -> Vec<(u32, i64)> {
    let mut by_window = std::collections::BTreeMap::new();
    for (l, w) in stored.iter().chain(new).filter(|(l, w)| *l > 0 && *w > 0) {
        by_window
            .entry(*w)
            .and_modify(|x: &mut u32| *x = (*x).min(*l))
            .or_insert(*l);
    }
    by_window
        .into_iter()
        .take(MAX_LEARNED)
        .map(|(w, l)| (l, w))
        .collect()
}

/// A circuit's shared state: opened by one process, honoured by all until `open_until`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct OpenCircuit {
    /// `connector:NAME` or `destination:NAME`.
    pub name: String,
    /// How long it stays open from now (the database's clock).
    pub open_for_ms: i64,
    /// The holder that opened it.
    pub by: String,
}

/// SQL shared by both backends (`p(n)` writes the n-th placeholder).
pub(crate) mod sql {
    pub fn ensure(p: &dyn Fn(usize) -> String) -> String {
        format!(
            "INSERT INTO quotas (name, paused_until, learned) VALUES ({}, 0, '') ON CONFLICT (name) DO NOTHING",
            p(1)
        )
    }

    pub fn holders(p: &dyn Fn(usize) -> String) -> String {
        format!(
            "SELECT holder, claim, want, expires_at, hold_ms FROM quota_shares WHERE quota = {}",
            p(1)
        )
    }

    pub fn forget(p: &dyn Fn(usize) -> String) -> String {
        format!(
            "DELETE FROM quota_shares WHERE quota = {} AND expires_at + hold_ms <= {}",
            p(1),
            p(2)
        )
    }

    pub fn upsert(p: &dyn Fn(usize) -> String) -> String {
        format!(
            "INSERT INTO quota_shares (quota, holder, claim, want, expires_at, hold_ms)
             VALUES ({}, {}, {}, {}, {}, {})
             ON CONFLICT (quota, holder) DO UPDATE SET claim = excluded.claim, want = excluded.want,
                 expires_at = excluded.expires_at, hold_ms = excluded.hold_ms",
            p(1),
            p(2),
            p(3),
            p(4),
            p(5),
            p(6)
        )
    }

    pub fn set_quota(p: &dyn Fn(usize) -> String) -> String {
        format!(
            "UPDATE quotas SET paused_until = {}, learned = {} WHERE name = {}",
            p(1),
            p(2),
            p(3)
        )
    }

    pub fn open_circuit(p: &dyn Fn(usize) -> String) -> String {
        format!(
            "INSERT INTO circuits (name, open_until, opened_by) VALUES ({}, {}, {})
             ON CONFLICT (name) DO UPDATE SET open_until = excluded.open_until, opened_by = excluded.opened_by
             WHERE circuits.open_until < excluded.open_until",
            p(1),
            p(2),
            p(3)
        )
    }

    pub fn close_circuit(p: &dyn Fn(usize) -> String) -> String {
        format!(
            "UPDATE circuits SET open_until = 0, opened_by = {} WHERE name = {}",
            p(2),
            p(1)
        )
    }

    pub fn open_circuits(p: &dyn Fn(usize) -> String) -> String {
        format!(
            "SELECT name, open_until - {now}, opened_by FROM circuits WHERE open_until > {now} ORDER BY name LIMIT 10000",
            now = p(1)
        )
    }
}

/// The quota's row after a renewal: its pause (the later of the stored one and the
/// requester's) and learned windows merged.
pub fn next_quota_row(
    stored_pause: i64,
    stored_learned: &str,
    req: &ShareRequest,
    now: i64,
) -> (i64, Vec<(u32, i64)>) {
    let pause = if req.pause_ms > 0 {
        stored_pause.max(now.saturating_add(req.pause_ms))
    } else {
        stored_pause
    };
    let learned = merge_learned(&decode_learned(stored_learned), &req.learned);
    (pause, learned)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn holder(name: &str, claim: u32, want: u32, expires_at: i64) -> Holder {
        Holder {
            holder: name.into(),
            claim,
            want,
            expires_at,
            hold_ms: 2_000,
        }
    }

    fn req(name: &str, want: u32, usage: u32) -> ShareRequest {
        ShareRequest {
            quota: "connector:crm".into(),
            holder: name.into(),
            want,
            usage,
            ttl_ms: 5_000,
            hold_ms: 2_000,
            pause_ms: 0,
            learned: vec![],
        }
    }

    #[test]
    fn fair_parts_give_the_small_wants_theirs_and_split_the_rest() {
        assert_eq!(fair_part(&[WHOLE, WHOLE, WHOLE], WHOLE), WHOLE / 3);
        assert_eq!(fair_part(&[10_000, WHOLE, WHOLE], WHOLE), 495_000);
        assert_eq!(fair_part(&[10_000, WHOLE, WHOLE], 10_000), 10_000);
        assert_eq!(fair_part(&[WHOLE], WHOLE), WHOLE);
        assert_eq!(fair_part(&[100, 200], 200), 200);
    }

    #[test]
    fn a_grant_never_takes_what_other_claims_hold() {
        // A busy holder holds everything; a newcomer gets nothing until it shrinks.
        let rows = vec![holder("a", WHOLE, WHOLE, 10_000)];
        let d = decide(&req("b", WHOLE, 0), &rows, 1_000);
        assert_eq!(d.share, 0);
        // It shrinks to its fair half (its calls in the window still claim 60 %).
        let d = decide(&req("a", WHOLE, 600_000), &rows, 1_000);
        assert_eq!((d.share, d.claim), (WHOLE, WHOLE), "alone in the live set");
        let rows = vec![
            holder("a", 600_000, WHOLE, 10_000),
            holder("b", 0, WHOLE, 10_000),
        ];
        assert_eq!(
            decide(&req("a", WHOLE, 600_000), &rows, 1_000).claim,
            600_000
        );
        assert_eq!(decide(&req("b", WHOLE, 0), &rows, 1_000).share, 400_000);
    }

    #[test]
    fn a_lapsed_lease_counts_until_its_calls_leave_the_window() {
        let rows = vec![holder("dead", 500_000, WHOLE, 1_000)];
        // Lapsed at 1 000, held 2 000 more: still counted at 2 999.
        assert_eq!(decide(&req("b", WHOLE, 0), &rows, 2_999).share, 500_000);
        assert_eq!(decide(&req("b", WHOLE, 0), &rows, 3_000).share, WHOLE);
    }

    #[test]
    fn learned_windows_merge_to_the_stricter_and_stay_bounded() {
        let merged = merge_learned(&[(100, 1_000)], &[(80, 1_000), (5_000, 60_000)]);
        assert_eq!(merged, vec![(80, 1_000), (5_000, 60_000)]);
        let many: Vec<(u32, i64)> = (1..100).map(|i| (10, i * 1_000)).collect();
        assert_eq!(merge_learned(&[], &many).len(), MAX_LEARNED);
        assert_eq!(decode_learned(&encode_learned(&merged)), merged);
        assert_eq!(decode_learned("x/1,0/5,7/0,3/4"), vec![(3, 4)]);
    }
}
