//! The last calls through each connector, in this process: what the connector page and
//! `GET /api/v1/connectors/{name}` show (status, latency, attempts, cache, time waited for the
//! quota). Bounded: the newest [`KEEP`] per connector; the path is cut at [`MAX_PATH`] bytes and
//! the query is never kept (it may carry keys or personal data).

use std::cell::Cell;
use std::collections::VecDeque;
use std::sync::Mutex;
use std::time::Duration;

/// Calls kept per connector.
pub const KEEP: usize = 50;
/// The longest path kept.
pub const MAX_PATH: usize = 256;

/// One call through a connector.
#[derive(Debug, Clone, PartialEq, serde::Serialize, serde::Deserialize, utoipa::ToSchema)]
pub struct RecentCall {
    /// When it started, unix ms.
    pub at_ms: i64,
    pub method: String,
    /// The path under the connector, as received, without its query.
    pub path: String,
    pub connection: String,
    /// The vendor's status (or the cache's); absent when the call failed before an answer.
    pub status: Option<u16>,
    /// Junction's error code when there was no answer (`circuit_open`, `quota_exhausted`,
    /// `upstream_timeout`, …).
    pub error: Option<String>,
    pub latency_ms: f64,
    /// Requests sent upstream (0 when served from the cache).
    pub attempts: u32,
    /// `HIT`, `MISS`, `REVALIDATED`, `COALESCED`, `STALE`, `BYPASS`; absent on an error.
    pub cache: Option<String>,
    /// Time spent waiting for a concurrency slot and the quota.
    pub quota_wait_ms: f64,
}

/// A connector's recent calls, newest last.
#[derive(Default)]
pub struct Recent(Mutex<VecDeque<RecentCall>>);

impl Recent {
    pub fn push(&self, mut call: RecentCall) {
        if call.path.len() > MAX_PATH {
            let mut cut = MAX_PATH;
            while !call.path.is_char_boundary(cut) {
                cut -= 1;
            }
            call.path.truncate(cut);
            call.path.push('…');
        }
        let mut calls = self.0.lock().unwrap_or_else(|p| p.into_inner());
        if calls.len() >= KEEP {
            calls.pop_front();
        }
        calls.push_back(call);
    }

    /// Newest first.
    pub fn list(&self) -> Vec<RecentCall> {
        let calls = self.0.lock().unwrap_or_else(|p| p.into_inner());
        calls.iter().rev().cloned().collect()
    }
}

tokio::task_local! {
    /// Time the current call has waited for admission, summed over its attempts.
    static WAITED: Cell<Duration>;
}

/// Runs `f` with a fresh admission-wait counter; returns its output and the time waited.
pub async fn measuring_wait<T>(f: impl std::future::Future<Output = T>) -> (T, Duration) {
    WAITED
        .scope(Cell::new(Duration::ZERO), async {
            let out = f.await;
            (out, WAITED.with(Cell::get))
        })
        .await
}

/// Adds to the current call's admission wait (nothing outside [`measuring_wait`]).
pub fn waited(d: Duration) {
    let _ = WAITED.try_with(|w| w.set(w.get() + d));
}

#[cfg(test)]
mod tests {
    use super::*;

    fn call(i: usize, path: &str) -> RecentCall {
        RecentCall {
            at_ms: i as i64,
            method: "GET".into(),
            path: path.into(),
            connection: "default".into(),
            status: Some(200),
            error: None,
            latency_ms: 1.0,
            attempts: 1,
            cache: Some("BYPASS".into()),
            quota_wait_ms: 0.0,
        }
    }

    #[test]
    fn only_the_newest_calls_are_kept_newest_first_with_long_paths_cut() {
        let r = Recent::default();
        for i in 0..KEEP + 10 {
            r.push(call(i, "/v1/customers"));
        }
        r.push(call(1000, &"é".repeat(400)));
        let list = r.list();
        assert_eq!(list.len(), KEEP);
        assert_eq!(list[0].at_ms, 1000);
        assert_eq!(list[1].at_ms, (KEEP + 9) as i64);
        assert!(list[0].path.len() <= MAX_PATH + '…'.len_utf8());
        assert!(list[0].path.ends_with('…'));
    }

    #[tokio::test]
    async fn the_admission_wait_is_summed_per_call() {
        let ((), w) = measuring_wait(async {
            waited(Duration::from_millis(5));
            waited(Duration::from_millis(7));
        })
        .await;
        assert_eq!(w, Duration::from_millis(12));
        waited(Duration::from_secs(1)); // outside a call: ignored, no panic
    }
}
