//! Inbound rate limits: how many webhooks each source accepts and how many requests each API
//! token makes, per process. Junction protects itself and its database: a caller over its limit
//! is answered 429 with `Retry-After` before any work is done (no signature checked, no row
//! written). The windows are the same sliding windows that keep calls out within a vendor's
//! quota ([`junction_resilience::LocalQuota`]), so a limit of `100/s` admits at most 100 requests
//! in any second.

use std::collections::HashMap;
use std::sync::{Arc, Mutex, RwLock};
use std::time::Duration;

use junction_config::Rate;
use junction_core::{Code, Error, Origin};
use junction_resilience::{LocalQuota, QuotaState, Window};
use tokio::time::Instant;

/// One caller's limit; `None` when it has no windows.
pub fn limiter(rates: &[Rate]) -> Option<LocalQuota> {
    if rates.is_empty() {
        return None;
    }
    let windows: Vec<Window> = rates
        .iter()
        .map(|r| Window {
            limit: r.limit,
            window: r.window,
        })
        .collect();
    Some(LocalQuota::with_jitter(&windows, Duration::ZERO))
}

/// Takes one request's place, or says how long to wait (whole seconds, at least one, as
/// `Retry-After` carries them).
pub fn admit(limit: &LocalQuota, now: Instant) -> Result<(), Duration> {
    limit.try_acquire(now).map_err(|at| {
        let wait = at.saturating_duration_since(now);
        Duration::from_secs(wait.as_secs() + u64::from(wait.subsec_nanos() > 0))
            .max(Duration::from_secs(1))
    })
}

/// The rates as written, for messages: `100/1s, 10000/1h`.
pub fn describe(rates: &[Rate]) -> String {
    rates
        .iter()
        .map(ToString::to_string)
        .collect::<Vec<_>>()
        .join(", ")
}

/// The answer to a caller over its limit.
pub fn refused(who: &str, rates: &[Rate], retry: Duration, setting: &str) -> Error {
    Error::new(
        Code::RateLimited,
        Origin::Downstream,
        format!(
            "{who} is over its rate limit ({} per process)",
            describe(rates)
        ),
    )
    .with_hint(format!(
        "retry after the Retry-After delay; if this volume is expected, raise `{setting}`"
    ))
    .with_retry_after(retry)
}

/// The same limit for each of many keys (API tokens): a key's windows are made when it is first
/// seen. Keys come from the token table, not from what callers send (a key is only admitted
/// after its token was verified), and [`PerKey::retain`] drops those no longer in it.
#[derive(Default)]
pub struct PerKey {
    rates: RwLock<Arc<Vec<Rate>>>,
    keys: Mutex<HashMap<String, LocalQuota>>,
}

impl PerKey {
    /// The rates every key gets; changing them starts every key afresh.
    pub fn set(&self, rates: &[Rate]) {
        let mut current = self.rates.write().unwrap_or_else(|p| p.into_inner());
        if current.as_slice() != rates {
            *current = Arc::new(rates.to_vec());
            self.keys.lock().unwrap_or_else(|p| p.into_inner()).clear();
        }
    }

    pub fn rates(&self) -> Arc<Vec<Rate>> {
        self.rates.read().unwrap_or_else(|p| p.into_inner()).clone()
    }

    /// Takes one request of `key`, or says how long to wait.
    pub fn admit(&self, key: &str, now: Instant) -> Result<(), Duration> {
        let rates = self.rates();
        if rates.is_empty() {
            return Ok(());
        }
        let mut keys = self.keys.lock().unwrap_or_else(|p| p.into_inner());
        if let Some(l) = keys.get(key) {
            return admit(l, now);
        }
        let Some(l) = limiter(&rates) else {
            return Ok(());
        };
        let admitted = admit(&l, now);
        keys.insert(key.to_owned(), l);
        admitted
    }

    /// Keeps only the keys `keep` says still exist.
    pub fn retain(&self, keep: impl Fn(&str) -> bool) {
        self.keys
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .retain(|k, _| keep(k));
    }

    /// Keys tracked now.
    pub fn len(&self) -> usize {
        self.keys.lock().unwrap_or_else(|p| p.into_inner()).len()
    }

    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn rate(limit: u32, secs: u64) -> Rate {
        Rate {
            limit,
            window: Duration::from_secs(secs),
        }
    }

    #[tokio::test(start_paused = true)]
    async fn a_key_over_its_limit_waits_whole_seconds_and_others_are_not_affected() {
        let keys = PerKey::default();
        keys.set(&[rate(3, 1)]);
        let now = Instant::now();
        for _ in 0..3 {
            keys.admit("a", now).unwrap();
        }
        // Free again 1.01 s on (a window and one of its hundred slots): Retry-After rounds up.
        assert_eq!(keys.admit("a", now), Err(Duration::from_secs(2)));
        keys.admit("b", now).unwrap();
        tokio::time::advance(Duration::from_millis(1_020)).await;
        keys.admit("a", Instant::now()).unwrap();
        keys.retain(|k| k == "b");
        assert_eq!(keys.len(), 1);
        // New rates start every key afresh; none: no limit.
        keys.set(&[]);
        assert!(keys.is_empty());
        for _ in 0..100 {
            keys.admit("a", Instant::now()).unwrap();
        }
    }
}
