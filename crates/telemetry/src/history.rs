//! Per-minute history: the figures behind the dashboard's charts and the alert rules.
//!
//! Each series (a connector, a source, a destination) has cumulative counters and a latency
//! histogram in atomics: recording is a relaxed add, with no lock and no allocation on the hot
//! path. A flusher (in the server) snapshots the series every few seconds and writes, per
//! minute, the difference since the minute began; readers merge the rows of every process.
//!
//! Latencies go into logarithmic buckets (as DDSketch does): bucket `i` holds `(γ^(i-1), γ^i]`
//! ms with `γ = (1+α)/(1-α)`, so a quantile read back as its bucket's midpoint is within `α`
//! (1 %) of the true value, whatever the distribution; buckets of several processes or minutes
//! add up exactly. Stored sparse, as `{"index": count}`.

use std::collections::{BTreeMap, HashMap};
use std::sync::atomic::{AtomicU64, Ordering::Relaxed};
use std::sync::{Arc, Mutex};

/// What a series describes.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Kind {
    Connector,
    Source,
    Destination,
}

impl Kind {
    pub fn as_str(self) -> &'static str {
        match self {
            Kind::Connector => "connector",
            Kind::Source => "source",
            Kind::Destination => "destination",
        }
    }

    pub fn parse(s: &str) -> Option<Self> {
        match s {
            "connector" => Some(Kind::Connector),
            "source" => Some(Kind::Source),
            "destination" => Some(Kind::Destination),
            _ => None,
        }
    }

    /// The names of this kind's counters, by index.
    pub fn counters(self) -> &'static [&'static str] {
        match self {
            Kind::Connector => &connector::NAMES,
            Kind::Source => &source::NAMES,
            Kind::Destination => &destination::NAMES,
        }
    }
}

/// A connector's counters: every call through `/proxy`, and its credentials' answers.
pub mod connector {
    pub const CALLS: usize = 0;
    /// 5xx answers, 429s and calls with no answer.
    pub const ERRORS: usize = 1;
    pub const AUTH_OK: usize = 2;
    pub const AUTH_FAILED: usize = 3;
    /// Calls refused after waiting `max_wait` for quota.
    pub const QUOTA_REJECTED: usize = 4;
    pub const NAMES: [&str; 5] = [
        "calls",
        "errors",
        "auth_ok",
        "auth_failed",
        "quota_rejected",
    ];
}

/// A source's counters: webhooks received and what became of them.
pub mod source {
    pub const RECEIVED: usize = 0;
    pub const ACCEPTED: usize = 1;
    pub const DUPLICATES: usize = 2;
    pub const REJECTED: usize = 3;
    pub const NAMES: [&str; 4] = ["received", "accepted", "duplicates", "rejected"];
}

/// A destination's counters: delivery attempts' outcomes.
pub mod destination {
    pub const DELIVERED: usize = 0;
    /// Attempts that failed and will be retried.
    pub const FAILED: usize = 1;
    pub const DEAD: usize = 2;
    pub const QUARANTINED: usize = 3;
    pub const NAMES: [&str; 4] = ["delivered", "failed", "dead", "quarantined"];
}

const COUNTERS: usize = 5;

/// Relative error of a quantile.
pub const ALPHA: f64 = 0.01;
/// Ratio between consecutive bucket bounds.
const GAMMA: f64 = (1.0 + ALPHA) / (1.0 - ALPHA);
/// Lowest and highest bucket index: 1 µs and about 10 hours; latencies outside are counted in
/// the end buckets.
const MIN_INDEX: i32 = -346;
const MAX_INDEX: i32 = 871;
pub const BUCKETS: usize = (MAX_INDEX - MIN_INDEX + 1) as usize;

/// The bucket of a latency in ms.
fn index_of(ms: f64) -> i32 {
    if ms.is_nan() || ms <= 0.0 {
        return MIN_INDEX;
    }
    (ms.ln() / GAMMA.ln())
        .ceil()
        .clamp(MIN_INDEX as f64, MAX_INDEX as f64) as i32
}

/// A bucket's value: the point within `α` of everything in it.
fn value_of(index: i32) -> f64 {
    2.0 * GAMMA.powi(index) / (GAMMA + 1.0)
}

/// Old rows (before the logarithmic buckets) held counts per fixed bound, in this order.
const OLD_BOUNDS_MS: [f64; 16] = [
    1.0, 2.0, 5.0, 10.0, 20.0, 50.0, 100.0, 200.0, 500.0, 1000.0, 2000.0, 3000.0, 5000.0, 10000.0,
    30000.0, 60000.0,
];

/// One series' cumulative figures.
pub struct Series {
    pub kind: Kind,
    pub name: String,
    counters: [AtomicU64; COUNTERS],
    hist: Box<[AtomicU64; BUCKETS]>,
}

impl Series {
    pub fn add(&self, counter: usize, n: u64) {
        self.counters[counter].fetch_add(n, Relaxed);
    }

    pub fn observe_ms(&self, ms: f64) {
        let i = (index_of(ms) - MIN_INDEX) as usize;
        self.hist[i].fetch_add(1, Relaxed);
    }

    /// The cumulative figures now.
    pub fn snapshot(&self) -> Figures {
        Figures {
            counts: self.counters.iter().map(|c| c.load(Relaxed)).collect(),
            hist: self
                .hist
                .iter()
                .enumerate()
                .filter_map(|(i, c)| {
                    let n = c.load(Relaxed);
                    (n > 0).then_some((i as i32 + MIN_INDEX, n))
                })
                .collect(),
        }
    }
}

/// Counters and latency buckets (index → count, only those with a count), cumulative or for a
/// span of time.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Figures {
    pub counts: Vec<u64>,
    pub hist: BTreeMap<i32, u64>,
}

impl Figures {
    /// `self - earlier`, bucket by bucket.
    pub fn since(&self, earlier: &Figures) -> Figures {
        let sub = |a: &[u64], b: &[u64]| {
            a.iter()
                .enumerate()
                .map(|(i, x)| x.saturating_sub(b.get(i).copied().unwrap_or(0)))
                .collect()
        };
        Figures {
            counts: sub(&self.counts, &earlier.counts),
            hist: self
                .hist
                .iter()
                .filter_map(|(i, n)| {
                    let d = n.saturating_sub(earlier.hist.get(i).copied().unwrap_or(0));
                    (d > 0).then_some((*i, d))
                })
                .collect(),
        }
    }

    pub fn add(&mut self, other: &Figures) {
        let add = |a: &mut Vec<u64>, b: &[u64]| {
            if a.len() < b.len() {
                a.resize(b.len(), 0);
            }
            for (x, y) in a.iter_mut().zip(b) {
                *x += y;
            }
        };
        add(&mut self.counts, &other.counts);
        for (i, n) in &other.hist {
            *self.hist.entry(*i).or_insert(0) += n;
        }
    }

    pub fn is_zero(&self) -> bool {
        self.counts
            .iter()
            .chain(self.hist.values())
            .all(|x| *x == 0)
    }

    pub fn count(&self, i: usize) -> u64 {
        self.counts.get(i).copied().unwrap_or(0)
    }

    /// The `q` quantile of the latencies in ms, within [`ALPHA`] of the true one (`None`
    /// without observations).
    pub fn quantile_ms(&self, q: f64) -> Option<f64> {
        let total: u64 = self.hist.values().sum();
        if total == 0 {
            return None;
        }
        let rank = (q * total as f64).ceil().max(1.0) as u64;
        let mut seen = 0;
        for (i, n) in &self.hist {
            seen += n;
            if seen >= rank {
                return Some(value_of(*i));
            }
        }
        None
    }

    /// The buckets as stored: `{"index": count}`.
    pub fn hist_json(&self) -> String {
        let m: serde_json::Map<String, serde_json::Value> = self
            .hist
            .iter()
            .map(|(i, n)| (i.to_string(), (*n).into()))
            .collect();
        serde_json::Value::Object(m).to_string()
    }

    /// The counters as a JSON object by name.
    pub fn counts_json(&self, kind: Kind) -> serde_json::Value {
        let mut m = serde_json::Map::new();
        for (i, name) in kind.counters().iter().enumerate() {
            m.insert((*name).into(), self.count(i).into());
        }
        serde_json::Value::Object(m)
    }

    /// Parses a stored row's counters and histogram (unknown names are ignored).
    pub fn from_stored(kind: Kind, counts: &str, hist: &str) -> Figures {
        let obj: serde_json::Map<String, serde_json::Value> =
            serde_json::from_str(counts).unwrap_or_default();
        let counts = kind
            .counters()
            .iter()
            .map(|n| obj.get(*n).and_then(|v| v.as_u64()).unwrap_or(0))
            .collect();
        let hist = match serde_json::from_str::<serde_json::Value>(hist) {
            Ok(serde_json::Value::Object(m)) => m
                .iter()
                .filter_map(|(k, v)| Some((k.parse::<i32>().ok()?, v.as_u64()?)))
                .filter(|(i, _)| (MIN_INDEX..=MAX_INDEX).contains(i))
                .collect(),
            // A row written before the logarithmic buckets: each count at its bucket's bound.
            Ok(serde_json::Value::Array(old)) => {
                let mut m = BTreeMap::new();
                for (n, bound) in old.iter().zip(OLD_BOUNDS_MS) {
                    if let Some(n) = n.as_u64().filter(|n| *n > 0) {
                        *m.entry(index_of(bound)).or_insert(0) += n;
                    }
                }
                m
            }
            _ => BTreeMap::new(),
        };
        Figures { counts, hist }
    }
}

/// A hub's series, one per connector, source and destination (bounded by the config's names);
/// held on the hub's state, not globally, so several hubs in one process keep their own.
#[derive(Default)]
pub struct Registry(Mutex<HashMap<(Kind, String), Arc<Series>>>);

impl Registry {
    /// The series for `kind`/`name`, created at first use; callers keep the `Arc`.
    pub fn series(&self, kind: Kind, name: &str) -> Arc<Series> {
        let mut r = self.0.lock().unwrap_or_else(|p| p.into_inner());
        r.entry((kind, name.to_owned()))
            .or_insert_with(|| {
                Arc::new(Series {
                    kind,
                    name: name.to_owned(),
                    counters: Default::default(),
                    hist: Box::new(std::array::from_fn(|_| AtomicU64::new(0))),
                })
            })
            .clone()
    }

    /// Every series there is.
    pub fn all(&self) -> Vec<Arc<Series>> {
        let r = self.0.lock().unwrap_or_else(|p| p.into_inner());
        let mut v: Vec<_> = r.values().cloned().collect();
        v.sort_by(|a, b| (a.kind, &a.name).cmp(&(b.kind, &b.name)));
        v
    }
}

pub const MINUTE_MS: i64 = 60_000;

/// The start of the minute holding `ms`.
pub fn minute_of(ms: i64) -> i64 {
    ms - ms.rem_euclid(MINUTE_MS)
}

/// Turns cumulative snapshots into per-minute rows: call [`Minutes::tick`] every few seconds.
#[derive(Default)]
pub struct Minutes {
    /// Per series: the minute being filled and the figures when it began.
    base: BTreeMap<(Kind, String), (i64, Figures)>,
}

/// One row to write: this process's figures for a series in a minute.
#[derive(Debug, Clone, PartialEq)]
pub struct MinuteFigures {
    pub minute: i64,
    pub kind: Kind,
    pub name: String,
    pub figures: Figures,
}

impl Minutes {
    /// The rows to write at `now_ms`: for each series, the current minute so far, and, when a
    /// minute has just ended, that minute's last figures (what arrived since the previous tick
    /// is counted in the minute that just ended).
    pub fn tick(&mut self, now_ms: i64, series: &[Arc<Series>]) -> Vec<MinuteFigures> {
        let minute = minute_of(now_ms);
        let mut out = Vec::new();
        for s in series {
            let now = s.snapshot();
            let key = (s.kind, s.name.clone());
            let (start, base) = self
                .base
                .entry(key)
                .or_insert_with(|| (minute, Figures::default()));
            let delta = now.since(base);
            if *start != minute {
                if !delta.is_zero() {
                    out.push(MinuteFigures {
                        minute: *start,
                        kind: s.kind,
                        name: s.name.clone(),
                        figures: delta,
                    });
                }
                *start = minute;
                *base = now;
            } else if !delta.is_zero() {
                out.push(MinuteFigures {
                    minute,
                    kind: s.kind,
                    name: s.name.clone(),
                    figures: delta,
                });
            }
        }
        out
    }
}

/// Stored rows of every process, merged: per series, per minute.
pub type Merged = BTreeMap<(Kind, String), BTreeMap<i64, Figures>>;

/// Merges stored rows `(minute, kind, name, counts, hist)` of every process.
pub fn merge<'a>(
    rows: impl IntoIterator<Item = (i64, &'a str, &'a str, &'a str, &'a str)>,
) -> Merged {
    let mut out: Merged = BTreeMap::new();
    for (minute, kind, name, counts, hist) in rows {
        let Some(kind) = Kind::parse(kind) else {
            continue;
        };
        out.entry((kind, name.to_owned()))
            .or_default()
            .entry(minute)
            .or_default()
            .add(&Figures::from_stored(kind, counts, hist));
    }
    out
}

/// The sum of a series' minutes from `since` on.
pub fn total(minutes: &BTreeMap<i64, Figures>, since: i64) -> Figures {
    let mut t = Figures::default();
    for (_, f) in minutes.range(since..) {
        t.add(f);
    }
    t
}

#[cfg(test)]
mod tests {
    use super::*;

    fn series(kind: Kind, name: &str) -> Arc<Series> {
        Registry::default().series(kind, name)
    }

    #[test]
    fn minutes_hold_what_happened_in_them_and_quantiles_come_from_buckets() {
        let s = series(Kind::Connector, "history-test");
        let mut m = Minutes::default();
        let t0 = 1_700_000_080_000; // 40 s into a minute
        let start = minute_of(t0);
        s.add(connector::CALLS, 10);
        s.add(connector::ERRORS, 1);
        for ms in [3.0, 4.0, 40.0, 40.0, 900.0] {
            s.observe_ms(ms);
        }
        let rows = m.tick(t0, std::slice::from_ref(&s));
        assert_eq!(rows.len(), 1);
        assert_eq!(rows[0].minute, start);
        assert_eq!(rows[0].figures.count(connector::CALLS), 10);
        let near = |got: Option<f64>, want: f64| {
            let got = got.unwrap();
            assert!(
                (got - want).abs() <= want * ALPHA,
                "{got} is not within 1% of {want}"
            );
        };
        near(rows[0].figures.quantile_ms(0.5), 40.0);
        near(rows[0].figures.quantile_ms(0.95), 900.0);

        // Later in the same minute: the row is the whole minute so far (it replaces the last).
        s.add(connector::CALLS, 5);
        let rows = m.tick(t0 + 10_000, std::slice::from_ref(&s));
        assert_eq!(rows[0].figures.count(connector::CALLS), 15);

        // The minute ends: its row is closed; the next minute starts from zero.
        s.add(connector::CALLS, 2);
        let rows = m.tick(t0 + 25_000, std::slice::from_ref(&s));
        assert_eq!(rows.len(), 1);
        assert_eq!(
            (rows[0].minute, rows[0].figures.count(connector::CALLS)),
            (start, 17)
        );
        assert!(m.tick(t0 + 30_000, std::slice::from_ref(&s)).is_empty());
        s.add(connector::CALLS, 1);
        let rows = m.tick(t0 + 35_000, &[s]);
        assert_eq!(
            (rows[0].minute, rows[0].figures.count(connector::CALLS)),
            (start + MINUTE_MS, 1)
        );

        let stored = Figures::from_stored(
            Kind::Connector,
            &rows[0].figures.counts_json(Kind::Connector).to_string(),
            "[0,1]",
        );
        assert_eq!(stored.count(connector::CALLS), 1);
        near(stored.quantile_ms(0.99), 2.0);
    }

    /// The exact `q` quantile of sorted values (nearest rank).
    fn exact(sorted: &[f64], q: f64) -> f64 {
        let rank = (q * sorted.len() as f64).ceil().max(1.0) as usize;
        sorted[rank - 1]
    }

    #[test]
    fn quantiles_of_a_known_distribution_are_within_two_percent_and_merge_across_processes() {
        // A long-tailed latency distribution (log-normal around 80 ms), from a fixed seed,
        // recorded by two "processes" and merged as the dashboard merges stored rows.
        let mut state = 0x2545_f491_4f6c_dd1du64;
        let mut uniform = move || {
            state ^= state << 13;
            state ^= state >> 7;
            state ^= state << 17;
            (state >> 11) as f64 / (1u64 << 53) as f64
        };
        let mut values = Vec::new();
        let (a, b) = (
            series(Kind::Destination, "quantile-test-a"),
            series(Kind::Destination, "quantile-test-b"),
        );
        for i in 0..20_000 {
            // Box-Muller: a standard normal from two uniforms.
            let z = (-2.0 * uniform().max(1e-12).ln()).sqrt()
                * (2.0 * std::f64::consts::PI * uniform()).cos();
            let ms = (80f64.ln() + 0.9 * z).exp();
            values.push(ms);
            if i % 2 == 0 { &a } else { &b }.observe_ms(ms);
        }
        values.sort_by(f64::total_cmp);
        let mut merged = Figures::default();
        for s in [&a, &b] {
            let row = s.snapshot();
            merged.add(&Figures::from_stored(
                Kind::Destination,
                "{}",
                &row.hist_json(),
            ));
        }
        for q in [0.5, 0.9, 0.95, 0.99, 0.999] {
            let (got, want) = (merged.quantile_ms(q).unwrap(), exact(&values, q));
            assert!(
                (got - want).abs() <= want * 0.02,
                "p{}: {got:.2} ms, exact {want:.2} ms",
                q * 100.0
            );
        }
        // The end buckets hold what is beyond them; nothing panics on odd input.
        let s = series(Kind::Destination, "quantile-test-edges");
        for ms in [0.0, -1.0, f64::NAN, 1e-9, 1e12] {
            s.observe_ms(ms);
        }
        assert_eq!(s.snapshot().hist.values().sum::<u64>(), 5);
    }
}
