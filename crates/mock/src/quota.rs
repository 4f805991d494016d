//! Rate limits the way providers enforce them: fixed windows (per second, minute, day…), per
//! credential or global, answered with 429 and `Retry-After`, and advertised on every answer in
//! the IETF draft format (`RateLimit-Policy` / `RateLimit`) or the `X-RateLimit-*` one.
//! Windows are aligned to the mock's start on its clock (tokio time, so tests can pause it).

use std::collections::HashMap;
use std::sync::Mutex;
use std::time::Duration;

use tokio::time::Instant;

/// One limit: `limit` requests per `window`, counted per credential or for everyone.
#[derive(Debug, Clone)]
pub struct Limit {
    pub limit: u32,
    pub window: Duration,
    pub per_key: bool,
}

impl Limit {
    /// Parses `200/s`, `1000/min`, `50000/day`, `10/5s`, with an optional `:global`.
    pub fn parse(text: &str) -> Result<Limit, String> {
        let (spec, global) = match text.strip_suffix(":global") {
            Some(s) => (s, true),
            None => (text, false),
        };
        let (limit, window) = junction_config::units::parse_rate(spec)?;
        Ok(Limit {
            limit,
            window,
            per_key: !global,
        })
    }
}

/// Which rate-limit headers answers carry.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum HeaderStyle {
    /// `RateLimit-Policy: "60s";q=100;w=60` and `RateLimit: "60s";r=42;t=17`.
    #[default]
    Draft,
    /// `X-RateLimit-Limit`, `X-RateLimit-Remaining`, `X-RateLimit-Reset` (unix seconds).
    XRateLimit,
    /// No headers: the client must discover limits from 429s alone.
    None,
    /// GitHub's: `X-RateLimit-Limit/Remaining/Reset` (Unix) with `-Used` and `-Resource`.
    Github,
    /// HubSpot's: `X-HubSpot-RateLimit-Max`, `-Remaining`, `-Interval-Milliseconds`.
    Hubspot,
    /// Shopify's: `X-Shopify-Shop-Api-Call-Limit: used/limit`.
    Shopify,
    /// Zendesk's: `X-Rate-Limit` and `X-Rate-Limit-Remaining`.
    Zendesk,
    /// Salesforce's: `Sforce-Limit-Info: api-usage=used/limit`.
    Salesforce,
    /// Xero's: `X-MinLimit-Remaining` (and `X-DayLimit-Remaining`, `X-AppMinLimit-Remaining`).
    Xero,
}

#[derive(Debug, Clone, Default)]
pub struct QuotaConfig {
    pub limits: Vec<Limit>,
    pub headers: HeaderStyle,
    /// Count each limit over a sliding window (the last `window` before each request) instead
    /// of fixed windows: the strictest way a vendor counts.
    pub sliding: bool,
}

/// The outcome of counting one request.
pub struct Decision {
    /// `Some(wait)` when the request is over a limit.
    pub retry_after: Option<Duration>,
    pub headers: Vec<(String, String)>,
}

pub struct Quotas {
    started: Instant,
    /// (limit index, key) → (window number, count).
    counts: Mutex<HashMap<(usize, String), (u64, u32)>>,
    /// Sliding windows: (limit index, key) → admission times (µs since start), at most `limit`.
    times: Mutex<HashMap<(usize, String), std::collections::VecDeque<u64>>>,
}

impl Default for Quotas {
    fn default() -> Self {
        Self {
            started: Instant::now(),
            counts: Mutex::default(),
            times: Mutex::default(),
        }
    }
}

impl Quotas {
    pub fn clear(&self) {
        self.counts
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .clear();
        self.times.lock().unwrap_or_else(|p| p.into_inner()).clear();
    }

    /// A sliding-window count: admits unless `limit` requests arrived in the last `window`.
    fn admit_sliding(&self, cfg: &QuotaConfig, key: &str) -> Decision {
        let now_us = Instant::now().duration_since(self.started).as_micros() as u64;
        let mut times = self.times.lock().unwrap_or_else(|p| p.into_inner());
        let mut over: Option<Duration> = None;
        let mut slots = Vec::with_capacity(cfg.limits.len());
        for (i, l) in cfg.limits.iter().enumerate() {
            let window_us = l.window.as_micros() as u64;
            let key = (
                i,
                if l.per_key {
                    key.to_owned()
                } else {
                    String::new()
                },
            );
            let seen = times.entry(key.clone()).or_default();
            while seen.front().is_some_and(|t| t + window_us <= now_us) {
                seen.pop_front();
            }
            if seen.len() >= l.limit as usize {
                let free_in = seen.front().map_or(0, |t| t + window_us - now_us);
                let wait = Duration::from_micros(free_in);
                over = Some(over.map_or(wait, |o| o.max(wait)));
            }
            slots.push(key);
        }
        if over.is_none() {
            for key in slots {
                times.entry(key).or_default().push_back(now_us);
            }
        }
        Decision {
            retry_after: over.map(|d| d.max(Duration::from_secs(1))),
            headers: Vec::new(),
        }
    }

    /// Counts a request from `key` against every limit; refuses it (without counting) if any is spent.
    pub fn admit(&self, cfg: &QuotaConfig, key: &str) -> Decision {
        if cfg.limits.is_empty() {
            return Decision {
                retry_after: None,
                headers: Vec::new(),
            };
        }
        if cfg.sliding {
            return self.admit_sliding(cfg, key);
        }
        let elapsed = Instant::now().duration_since(self.started);
        let mut counts = self.counts.lock().unwrap_or_else(|p| p.into_inner());
        // (limit, used after this request, time to reset)
        let mut state = Vec::with_capacity(cfg.limits.len());
        let mut over: Option<Duration> = None;
        for (i, l) in cfg.limits.iter().enumerate() {
            let window_ms = l.window.as_millis().max(1) as u64;
            let now_ms = elapsed.as_millis() as u64;
            let window = now_ms / window_ms;
            let reset = Duration::from_millis((window + 1) * window_ms - now_ms);
            let slot_key = (
                i,
                if l.per_key {
                    key.to_owned()
                } else {
                    String::new()
                },
            );
            let used = match counts.get(&slot_key) {
                Some((w, n)) if *w == window => *n,
                _ => 0,
            };
            if used >= l.limit {
                over = Some(over.map_or(reset, |o| o.max(reset)));
            }
            state.push((i, slot_key, window, used, reset));
        }
        if over.is_none() {
            for (_, slot_key, window, used, _) in &state {
                counts.insert(slot_key.clone(), (*window, used + 1));
            }
        }
        let counted = if over.is_none() { 1 } else { 0 };
        // Advertise the limit closest to running out.
        let (i, _, _, used, reset) = state
            .iter()
            .min_by_key(|(i, _, _, used, _)| cfg.limits[*i].limit.saturating_sub(*used + counted))
            .cloned()
            .expect("at least one limit");
        let limit = &cfg.limits[i];
        let remaining = limit.limit.saturating_sub(used + counted);
        let reset_s = reset.as_secs() + u64::from(reset.subsec_nanos() > 0);
        let headers = match cfg.headers {
            HeaderStyle::Draft => {
                let policy: Vec<String> = cfg
                    .limits
                    .iter()
                    .map(|l| {
                        format!(
                            "\"{}s\";q={};w={}",
                            l.window.as_secs(),
                            l.limit,
                            l.window.as_secs()
                        )
                    })
                    .collect();
                vec![
                    ("ratelimit-policy".into(), policy.join(", ")),
                    (
                        "ratelimit".into(),
                        format!("\"{}s\";r={remaining};t={reset_s}", limit.window.as_secs()),
                    ),
                ]
            }
            HeaderStyle::XRateLimit | HeaderStyle::Github => {
                let epoch = std::time::SystemTime::now()
                    .duration_since(std::time::UNIX_EPOCH)
                    .map(|d| d.as_secs())
                    .unwrap_or(0);
                let mut h = vec![
                    ("x-ratelimit-limit".into(), limit.limit.to_string()),
                    ("x-ratelimit-remaining".into(), remaining.to_string()),
                    ("x-ratelimit-reset".into(), (epoch + reset_s).to_string()),
                ];
                if cfg.headers == HeaderStyle::Github {
                    h.push((
                        "x-ratelimit-used".into(),
                        (limit.limit - remaining).to_string(),
                    ));
                    h.push(("x-ratelimit-resource".into(), "core".into()));
                }
                h
            }
            HeaderStyle::Hubspot => vec![
                ("x-hubspot-ratelimit-max".into(), limit.limit.to_string()),
                (
                    "x-hubspot-ratelimit-remaining".into(),
                    remaining.to_string(),
                ),
                (
                    "x-hubspot-ratelimit-interval-milliseconds".into(),
                    limit.window.as_millis().to_string(),
                ),
            ],
            HeaderStyle::Shopify => vec![(
                "x-shopify-shop-api-call-limit".into(),
                format!("{}/{}", limit.limit - remaining, limit.limit),
            )],
            HeaderStyle::Xero => vec![
                ("x-minlimit-remaining".into(), remaining.to_string()),
                (
                    "x-daylimit-remaining".into(),
                    (5000 - (limit.limit - remaining).min(5000)).to_string(),
                ),
                (
                    "x-appminlimit-remaining".into(),
                    (10000 - (limit.limit - remaining).min(10000)).to_string(),
                ),
            ],
            HeaderStyle::Salesforce => vec![(
                "sforce-limit-info".into(),
                format!("api-usage={}/{}", limit.limit - remaining, limit.limit),
            )],
            HeaderStyle::Zendesk => vec![
                ("x-rate-limit".into(), limit.limit.to_string()),
                ("x-rate-limit-remaining".into(), remaining.to_string()),
            ],
            HeaderStyle::None => Vec::new(),
        };
        Decision {
            retry_after: over,
            headers,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn cfg() -> QuotaConfig {
        QuotaConfig {
            limits: vec![
                Limit {
                    limit: 3,
                    window: Duration::from_secs(1),
                    per_key: true,
                },
                Limit {
                    limit: 5,
                    window: Duration::from_secs(60),
                    per_key: false,
                },
            ],
            headers: HeaderStyle::Draft,
            sliding: false,
        }
    }

    #[tokio::test(start_paused = true)]
    async fn the_request_at_the_limit_passes_and_the_next_is_refused_until_the_window_resets() {
        let q = Quotas::default();
        let cfg = cfg();
        for expected_remaining in [2, 1, 0] {
            let d = q.admit(&cfg, "a");
            assert!(d.retry_after.is_none());
            assert!(
                d.headers[1].1.contains(&format!("r={expected_remaining};")),
                "{:?}",
                d.headers
            );
        }
        let refused = q.admit(&cfg, "a");
        assert_eq!(refused.retry_after, Some(Duration::from_secs(1)));
        // Another key has its own per-second budget, but shares the global one.
        assert!(q.admit(&cfg, "b").retry_after.is_none());
        tokio::time::advance(Duration::from_secs(1)).await;
        assert!(
            q.admit(&cfg, "a").retry_after.is_none(),
            "a new second, a new budget"
        );
        // Global: 5 per minute were used (3 + 1 + 1); the next is refused until the minute ends.
        let d = q.admit(&cfg, "b");
        assert_eq!(d.retry_after, Some(Duration::from_secs(59)));
        assert!(d.headers[0].1.contains("\"60s\";q=5;w=60"));
    }
}

#[cfg(test)]
mod sliding {
    use super::*;

    #[tokio::test(start_paused = true)]
    async fn a_sliding_window_counts_the_last_window_before_each_request() {
        let q = Quotas::default();
        let cfg = QuotaConfig {
            limits: vec![Limit::parse("3/s:global").unwrap()],
            sliding: true,
            ..Default::default()
        };
        for _ in 0..3 {
            assert!(q.admit(&cfg, "a").retry_after.is_none());
            tokio::time::advance(Duration::from_millis(300)).await;
        }
        // 900 ms: three in the last second.
        assert!(q.admit(&cfg, "a").retry_after.is_some());
        tokio::time::advance(Duration::from_millis(100)).await;
        // 1000 ms: the first has left the window; a fixed window would have reset too, but at
        // 1300 ms a fixed window would allow three more where a sliding one allows one.
        assert!(q.admit(&cfg, "a").retry_after.is_none());
        assert!(q.admit(&cfg, "b").retry_after.is_some(), "global");
    }
}

#[cfg(test)]
mod parse {
    use super::Limit;
    use std::time::Duration;

    #[test]
    fn limits_parse_as_written() {
        let q = Limit::parse("200/s").unwrap();
        assert_eq!(
            (q.limit, q.window, q.per_key),
            (200, Duration::from_secs(1), true)
        );
        let q = Limit::parse("50000/day:global").unwrap();
        assert_eq!(
            (q.limit, q.window, q.per_key),
            (50_000, Duration::from_secs(86_400), false)
        );
        assert_eq!(
            Limit::parse("10/5s").unwrap().window,
            Duration::from_secs(5)
        );
        assert!(Limit::parse("ten/s").is_err());
        assert!(Limit::parse("0/s").is_err());
        assert!(Limit::parse("200").is_err());
    }
}
