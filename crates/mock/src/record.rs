//! Every request the mock receives, with its arrival time: the ground truth a test checks a client
//! against (did it ever exceed a limit? did it send the credentials?).

use std::collections::{BTreeMap, VecDeque};
use std::sync::Mutex;

use serde::Serialize;

#[derive(Debug, Clone, Serialize)]
pub struct Recorded {
    /// Arrival, in ms since the Unix epoch.
    pub at_ms: i64,
    /// Arrival, in µs since the mock started (for rate checks finer than a millisecond).
    pub at_us: u64,
    pub method: String,
    pub path: String,
    pub query: Option<String>,
    pub headers: BTreeMap<String, String>,
}

/// A bounded log: the newest `limit` requests, and how many arrived in all.
pub struct Log {
    limit: usize,
    inner: Mutex<(u64, VecDeque<Recorded>)>,
}

impl Log {
    pub fn new(limit: usize) -> Self {
        Self {
            limit,
            inner: Mutex::new((0, VecDeque::new())),
        }
    }

    pub fn push(&self, r: Recorded) {
        let mut g = self.inner.lock().unwrap_or_else(|p| p.into_inner());
        g.0 += 1;
        if g.1.len() >= self.limit {
            g.1.pop_front();
        }
        g.1.push_back(r);
    }

    /// The total count and the kept requests.
    pub fn snapshot(&self) -> (u64, Vec<Recorded>) {
        let g = self.inner.lock().unwrap_or_else(|p| p.into_inner());
        (g.0, g.1.iter().cloned().collect())
    }

    /// The most requests kept that arrived within any interval of `window`: what a vendor
    /// counting a sliding window saw at its busiest.
    pub fn most_in_any(&self, window: std::time::Duration) -> usize {
        self.most_in_any_path(window, "")
    }

    /// The most requests under `prefix` that arrived within any `window`.
    pub fn most_in_any_path(&self, window: std::time::Duration, prefix: &str) -> usize {
        let mut at: Vec<u64> = self
            .snapshot()
            .1
            .iter()
            .filter(|r| r.path.starts_with(prefix))
            .map(|r| r.at_us)
            .collect();
        at.sort_unstable();
        let w = u64::try_from(window.as_micros()).unwrap_or(u64::MAX);
        let (mut first, mut most) = (0, 0);
        for i in 0..at.len() {
            while at[i] - at[first] >= w {
                first += 1;
            }
            most = most.max(i + 1 - first);
        }
        most
    }

    pub fn clear(&self) {
        *self.inner.lock().unwrap_or_else(|p| p.into_inner()) = (0, VecDeque::new());
    }
}
