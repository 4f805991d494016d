//! Quotas, retry budget and circuit breaker on paused tokio time.

use std::time::Duration;

use junction_resilience::quota::{self, parse_retry_after, parse_signal, Remaining};
use junction_resilience::*;
use tokio::time::{advance, Instant};

fn w(limit: u32, secs: u64) -> Window {
    Window {
        limit,
        window: Duration::from_secs(secs),
    }
}

/// Takes shares as fast as the quota allows for `span`, returning the admission times.
async fn drain(q: &LocalQuota, span: Duration) -> Vec<Instant> {
    let start = Instant::now();
    let mut admitted = Vec::new();
    while Instant::now() - start < span {
        match q.try_acquire(Instant::now()) {
            Ok(()) => admitted.push(Instant::now()),
            Err(at) => tokio::time::sleep_until(at).await,
        }
    }
    admitted
}

fn max_in_any(admitted: &[Instant], window: Duration) -> usize {
    (0..admitted.len())
        .map(|i| {
            admitted[i..]
                .iter()
                .take_while(|t| **t - admitted[i] < window)
                .count()
        })
        .max()
        .unwrap_or(0)
}

#[tokio::test(start_paused = true)]
async fn outbound_calls_stay_within_every_configured_window() {
    let q = LocalQuota::new(&[w(10, 1), w(25, 60)]);
    let admitted = drain(&q, Duration::from_secs(130)).await;
    assert_eq!(max_in_any(&admitted, Duration::from_secs(1)), 10);
    assert_eq!(max_in_any(&admitted, Duration::from_secs(60)), 25);
    // And the quota is used, not wasted: 25 per minute over two minutes and ten seconds.
    assert!(admitted.len() >= 3 * 25 - 1, "{}", admitted.len());
}

#[tokio::test(start_paused = true)]
async fn a_short_window_is_used_to_within_two_percent_of_its_rate() {
    let q = LocalQuota::with_jitter(&[w(500, 1)], Duration::ZERO);
    let admitted = drain(&q, Duration::from_secs(20)).await;
    assert!(max_in_any(&admitted, Duration::from_secs(1)) <= 500);
    assert!(
        admitted.len() >= 9_800,
        "{} of an ideal 10,000",
        admitted.len()
    );
    // The default allows 50 ms of arrival jitter: 500 per 1.05 s, within 2 % of that.
    let q = LocalQuota::new(&[w(500, 1)]);
    let admitted = drain(&q, Duration::from_secs(20)).await;
    assert!(max_in_any(&admitted, Duration::from_secs(1)) <= 500);
    let ideal = 20.0 / 1.05 * 500.0;
    assert!(
        admitted.len() as f64 >= ideal * 0.98,
        "{} of an ideal {ideal:.0}",
        admitted.len()
    );
}

/// The most arrivals in any interval of `window` (arrivals sorted).
fn max_arrivals_in_any(arrivals: &[Duration], window: Duration) -> usize {
    let mut most = 0;
    let mut j = 0;
    for i in 0..arrivals.len() {
        while arrivals[i] - arrivals[j] >= window {
            j += 1;
        }
        most = most.max(i - j + 1);
    }
    most
}

#[tokio::test(start_paused = true)]
async fn outbound_calls_stay_within_the_configured_quota_as_the_vendor_counts_it() {
    use rand::{Rng, SeedableRng};
    // 2,000 calls against 200/s, each counted by the vendor 0-50 ms after it was sent and
    // answered 0-20 ms after that: delays drawn at random, and delays chosen against us (calls
    // of even seconds take a fresh connection, +50 ms; those of odd seconds reuse one). A call
    // is settled when its answer is in. The vendor's own sliding 1 s window, and its fixed
    // windows at any alignment, never see more than 200.
    for model in 0..5u64 {
        let mut rng = rand::rngs::StdRng::seed_from_u64(model);
        let q = LocalQuota::new(&[w(200, 1)]);
        let start = Instant::now();
        let mut arrivals = Vec::with_capacity(2_000);
        // Answer times of the calls in flight.
        let mut answers: Vec<Instant> = Vec::new();
        while arrivals.len() < 2_000 {
            let now = Instant::now();
            answers.retain(|a| {
                let done = *a <= now;
                if done {
                    q.settled(*a);
                }
                !done
            });
            match q.try_reserve(now) {
                Ok(()) => {
                    let sent = now - start;
                    let delay = if model == 0 {
                        Duration::from_millis(if sent.as_secs() % 2 == 0 { 50 } else { 0 })
                    } else {
                        Duration::from_micros(rng.random_range(0..=50_000))
                    };
                    arrivals.push(sent + delay);
                    answers.push(now + delay + Duration::from_micros(rng.random_range(0..=20_000)));
                }
                Err(at) => {
                    let next = answers.iter().min().copied().unwrap_or(at).min(at);
                    tokio::time::sleep_until(next.max(now + Duration::from_micros(1))).await
                }
            }
        }
        arrivals.sort();
        let sliding = max_arrivals_in_any(&arrivals, Duration::from_secs(1));
        assert!(
            sliding <= 200,
            "model {model}: {sliding} in one sliding second"
        );
        for offset_ms in (0..1000).step_by(7) {
            let offset = Duration::from_millis(offset_ms);
            let mut per_window = std::collections::HashMap::new();
            for a in &arrivals {
                *per_window.entry((*a + offset).as_secs()).or_insert(0) += 1;
            }
            let most = per_window.values().max().copied().unwrap_or(0);
            assert!(
                most <= 200,
                "model {model}, alignment {offset_ms} ms: {most}"
            );
        }
        // And the quota is used: 2,000 calls in at most 1.06x the ideal 10 s (each call holds
        // its place for its answer's 0-70 ms more).
        let took = arrivals.last().copied().unwrap_or_default();
        assert!(took <= Duration::from_millis(10_600), "{took:?}");
    }
}

#[tokio::test(start_paused = true)]
async fn retry_after_pauses_every_call_until_it_passes() {
    let q = LocalQuota::new(&[w(100, 1)]);
    let now = Instant::now();
    assert!(q.try_acquire(now).is_ok());
    let signal = Signal {
        retry_after: Some(Duration::from_secs(3)),
        ..Default::default()
    };
    q.observe(now, &signal, 0);
    assert_eq!(q.try_acquire(now), Err(now + Duration::from_secs(3)));
    advance(Duration::from_secs(3)).await;
    assert!(q.try_acquire(Instant::now()).is_ok());
}

#[tokio::test(start_paused = true)]
async fn a_stricter_upstream_policy_is_learned_from_headers() {
    // Configured 100/s, but the upstream says 5 per second, 2 of them used.
    let q = LocalQuota::new(&[w(100, 1)]);
    let header = |name: &str| match name {
        "ratelimit-policy" => Some("\"1s\";q=5;w=1, \"60s\";q=1000;w=60".to_owned()),
        "ratelimit" => Some("\"1s\";r=3;t=1".to_owned()),
        _ => None,
    };
    let signal = parse_signal(200, &header, 0, Duration::from_secs(30));
    assert_eq!(signal.policies, vec![w(5, 1), w(1000, 60)]);
    let now = Instant::now();
    q.observe(now, &signal, 0);
    let admitted = (0..10).filter(|_| q.try_acquire(now).is_ok()).count();
    assert_eq!(admitted, 3, "5 per second, 2 already used upstream");
    let snap = q.snapshot(now);
    assert!(snap
        .windows
        .iter()
        .any(|(win, _, learned)| *learned && *win == w(5, 1)));
    let later = drain(&q, Duration::from_secs(10)).await;
    assert!(max_in_any(&later, Duration::from_secs(1)) <= 5);
}

#[tokio::test(start_paused = true)]
async fn an_exhausted_upstream_with_room_in_our_windows_pauses_until_its_reset() {
    let q = LocalQuota::new(&[w(100, 1)]);
    let now = Instant::now();
    let signal = Signal {
        remaining: Some(Remaining {
            left: 0,
            reset: Duration::from_secs(2),
            window: None,
        }),
        ..Default::default()
    };
    q.observe(now, &signal, 0);
    assert_eq!(q.try_acquire(now), Err(now + Duration::from_secs(2)));
}

#[tokio::test(start_paused = true)]
async fn with_no_window_known_the_upstream_remaining_is_the_budget() {
    let q = LocalQuota::new(&[]);
    let now = Instant::now();
    let header = |name: &str| match name {
        "x-ratelimit-remaining" => Some("5".to_owned()),
        "x-ratelimit-reset" => Some("1700000010".to_owned()),
        _ => None,
    };
    let signal = parse_signal(200, &header, 1_700_000_000, Duration::from_secs(30));
    assert_eq!(
        signal.remaining,
        Some(Remaining {
            left: 5,
            reset: Duration::from_secs(10),
            window: None
        })
    );
    // Two calls are already on their way: three are left.
    q.observe(now, &signal, 2);
    assert_eq!((0..10).filter(|_| q.try_acquire(now).is_ok()).count(), 3);
    assert_eq!(q.try_acquire(now), Err(now + Duration::from_secs(10)));
    advance(Duration::from_secs(10)).await;
    assert!(q.try_acquire(Instant::now()).is_ok());
}

#[test]
fn retry_after_is_read_as_seconds_or_an_http_date_and_capped() {
    assert_eq!(parse_retry_after("120", 0), Some(Duration::from_secs(120)));
    // RFC 9110's example date is 784111777.
    assert_eq!(
        parse_retry_after("Sun, 06 Nov 1994 08:49:37 GMT", 784_111_777 - 30),
        Some(Duration::from_secs(30))
    );
    assert_eq!(parse_retry_after("soon", 0), None);
    let header = |name: &str| (name == "retry-after").then(|| "86400".to_owned());
    let s = parse_signal(429, &header, 0, Duration::from_secs(60));
    assert_eq!(s.retry_after, Some(Duration::from_secs(60)));
    let none = |_: &str| None;
    assert_eq!(
        parse_signal(429, &none, 0, Duration::from_secs(60)).retry_after,
        Some(Duration::from_secs(1)),
        "a bare 429 still backs off"
    );
    assert_eq!(
        parse_signal(200, &header, 0, Duration::from_secs(60)).retry_after,
        None
    );
}

fn policy() -> CircuitPolicy {
    CircuitPolicy {
        trip: Trip {
            consecutive: None,
            rate: Some(RateTrip {
                error_rate: 0.5,
                slow_call: Some(Duration::from_secs(2)),
                slow_rate: 0.8,
                window: Duration::from_secs(10),
                min_calls: 4,
            }),
        },
        open_for: Duration::from_secs(5),
        probes: 2,
    }
}

fn call(c: &std::sync::Arc<Circuit>, ok: bool) -> Result<(), Duration> {
    let permit = c.allow(Instant::now())?;
    permit.record(Instant::now(), ok, Duration::from_millis(10));
    Ok(())
}

#[tokio::test(start_paused = true)]
async fn circuit_opens_on_error_rate_probes_after_open_for_and_closes() {
    let c = std::sync::Arc::new(Circuit::new(policy()));
    // Below min_calls nothing opens, whatever the rate.
    for _ in 0..3 {
        call(&c, false).unwrap();
    }
    assert_eq!(c.state(Instant::now()), CircuitState::Closed);
    call(&c, true).unwrap();
    // 3 of 4 failed ≥ 50 %: open.
    assert_eq!(c.state(Instant::now()), CircuitState::Open);
    assert_eq!(call(&c, true), Err(Duration::from_secs(5)));
    advance(Duration::from_secs(5)).await;
    assert_eq!(c.state(Instant::now()), CircuitState::HalfOpen);
    // Two probes go out; a third caller waits for their verdict.
    let now = Instant::now();
    let p1 = c.allow(now).unwrap();
    let p2 = c.allow(now).unwrap();
    assert!(p1.is_probe() && p2.is_probe());
    assert!(c.allow(now).is_err());
    p1.record(now, true, Duration::from_millis(5));
    assert_eq!(c.state(now), CircuitState::HalfOpen);
    p2.record(now, true, Duration::from_millis(5));
    assert_eq!(c.state(now), CircuitState::Closed);
    // Closed with a fresh window: one failure does not reopen it.
    call(&c, false).unwrap();
    assert_eq!(c.state(Instant::now()), CircuitState::Closed);
}

#[tokio::test(start_paused = true)]
async fn circuit_a_failed_probe_reopens_and_a_dropped_probe_frees_its_slot() {
    let c = std::sync::Arc::new(Circuit::new(CircuitPolicy {
        probes: 1,
        ..policy()
    }));
    for _ in 0..4 {
        call(&c, false).unwrap();
    }
    advance(Duration::from_secs(5)).await;
    {
        let _abandoned = c.allow(Instant::now()).unwrap();
        assert!(c.allow(Instant::now()).is_err());
    }
    let probe = c
        .allow(Instant::now())
        .expect("the abandoned probe's slot is free again");
    probe.record(Instant::now(), false, Duration::from_millis(5));
    assert_eq!(c.state(Instant::now()), CircuitState::Open);
}

#[tokio::test(start_paused = true)]
async fn circuit_opens_on_slow_calls_and_forgets_old_failures() {
    let c = std::sync::Arc::new(Circuit::new(policy()));
    for _ in 0..4 {
        let p = c.allow(Instant::now()).unwrap();
        p.record(Instant::now(), true, Duration::from_secs(3));
    }
    assert_eq!(
        c.state(Instant::now()),
        CircuitState::Open,
        "every call was slow"
    );
    let c = std::sync::Arc::new(Circuit::new(policy()));
    for _ in 0..3 {
        call(&c, false).unwrap();
    }
    // Those failures leave the window before the next calls arrive.
    advance(Duration::from_secs(12)).await;
    for _ in 0..4 {
        call(&c, true).unwrap();
    }
    call(&c, false).unwrap();
    assert_eq!(c.state(Instant::now()), CircuitState::Closed);
}

/// Random rate-limit headers built from the pieces real and hostile ones are made of.
fn hostile_header(rng: &mut impl rand::Rng) -> String {
    const PIECES: &[&str] = &[
        "0",
        "1",
        "60",
        "1000000001",
        "18446744073709551615",
        "18446744073709551616",
        "-1",
        "9999999999999999999999",
        "1e9",
        "\"1s\"",
        "\"60s\"",
        "\"default\"",
        "q=",
        "w=",
        "r=",
        "t=",
        ";",
        ",",
        "=",
        " ",
        "\"",
        "\u{0}",
        "é",
        "Wed, 21 Oct 2015 07:28:00 GMT",
        "Fri, 31 Dec 9999 23:59:59 GMT",
    ];
    (0..rng.random_range(0..12))
        .map(|_| PIECES[rng.random_range(0..PIECES.len())])
        .collect()
}

#[tokio::test(start_paused = true)]
async fn any_rate_limit_headers_parse_without_panic_and_stay_within_the_longest_hint() {
    use rand::{Rng, SeedableRng};
    let mut rng = rand::rngs::StdRng::seed_from_u64(16);
    let names = [
        "retry-after",
        "ratelimit-policy",
        "ratelimit",
        "x-ratelimit-remaining",
        "x-ratelimit-reset",
    ];
    for _ in 0..20_000 {
        let mut values: Vec<(&str, String)> = Vec::new();
        for n in names {
            if rng.random_bool(0.6) {
                values.push((n, hostile_header(&mut rng)));
            }
        }
        let header = |n: &str| values.iter().find(|(k, _)| *k == n).map(|(_, v)| v.clone());
        let status = [200, 429, 503][rng.random_range(0..3)];
        let unix_now = [0, 1_700_000_000, u64::MAX][rng.random_range(0..3)];
        let s = parse_signal(status, &header, unix_now, Duration::MAX);
        let longest = junction_resilience::quota::LONGEST_HINT;
        assert!(s.retry_after.is_none_or(|d| d <= longest), "{values:?}");
        assert!(s.policies.iter().all(|w| w.window <= longest), "{values:?}");
        assert!(s.remaining.is_none_or(|r| r.reset <= longest), "{values:?}");
        let q = LocalQuota::new(&[w(10, 1)]);
        q.observe(Instant::now(), &s, u64::MAX);
        let _ = q.try_acquire(Instant::now());
        let _ = q.snapshot(Instant::now());
    }
    // The two values the hardening review found: a reset and a Retry-After near u64::MAX.
    let huge = |n: &str| {
        matches!(
            n,
            "retry-after" | "x-ratelimit-reset" | "x-ratelimit-remaining"
        )
        .then(|| "18446744073709551615".to_owned())
    };
    let s = parse_signal(429, &huge, 0, Duration::MAX);
    let q = LocalQuota::new(&[]);
    q.observe(Instant::now(), &s, 0);
    assert!(
        q.try_acquire(Instant::now()).is_err(),
        "paused, not crashed"
    );
}

fn grant(share: u32, lease: Duration) -> ShareGrant {
    ShareGrant {
        share,
        lease_until: Instant::now() + lease,
        paused_for: None,
        learned: vec![],
    }
}

#[tokio::test(start_paused = true)]
async fn a_shared_quota_sends_only_its_share_and_nothing_once_its_lease_lapses() {
    let q = LocalQuota::shared(&[w(300, 1)], Duration::ZERO);
    assert!(
        q.try_acquire(Instant::now()).is_err(),
        "no share granted yet"
    );
    q.grant(
        Instant::now(),
        &grant(quota::WHOLE / 3, Duration::from_secs(6)),
    );
    let admitted = drain(&q, Duration::from_secs(5)).await;
    // A third of 300, rounded down: shares never round up past the limit.
    assert_eq!(max_in_any(&admitted, Duration::from_secs(1)), 99);
    assert!(admitted.len() >= 490, "{}", admitted.len());
    // Busy: it asks for the whole, and says how much of the window its calls occupy.
    let now = Instant::now();
    let burst = std::iter::from_fn(|| q.try_acquire(now).ok()).count();
    assert_eq!(burst, 99);
    let ask = q.ask(Instant::now());
    assert_eq!(ask.want, quota::WHOLE);
    assert!(ask.usage >= quota::WHOLE / 3 - 10_000, "{ask:?}");
    assert_eq!(ask.hold, Duration::from_millis(1_050));
    // The lease ran out (no renewal): nothing more is sent.
    advance(Duration::from_secs(2)).await;
    assert!(q.try_acquire(Instant::now()).is_err());
    assert_eq!(q.share(Instant::now()), Some(0));
}

#[tokio::test(start_paused = true)]
async fn an_idle_shared_quota_asks_for_little_and_takes_a_pause_another_process_was_ordered() {
    let q = LocalQuota::shared(&[w(100, 1)], Duration::ZERO);
    q.grant(Instant::now(), &grant(quota::WHOLE, Duration::from_secs(6)));
    for _ in 0..5 {
        q.try_acquire(Instant::now()).unwrap();
    }
    advance(Duration::from_secs(1)).await;
    let ask = q.ask(Instant::now());
    assert!(ask.want < quota::WHOLE / 10, "{ask:?}");
    let mut g = grant(quota::WHOLE, Duration::from_secs(6));
    g.paused_for = Some(Duration::from_secs(3));
    g.learned = vec![w(10, 1)];
    q.grant(Instant::now(), &g);
    let at = q.try_acquire(Instant::now()).unwrap_err();
    assert_eq!(at - Instant::now(), Duration::from_secs(3));
    let ask = q.ask(Instant::now());
    assert_eq!(ask.paused_for, Some(Duration::from_secs(3)));
    assert_eq!(ask.learned, vec![w(10, 1)]);
    advance(Duration::from_secs(3)).await;
    let admitted = drain(&q, Duration::from_secs(3)).await;
    assert_eq!(
        max_in_any(&admitted, Duration::from_secs(1)),
        10,
        "the learned window holds"
    );
}

#[tokio::test(start_paused = true)]
async fn a_shared_quota_does_not_pause_when_the_vendor_reports_the_others_used_the_rest() {
    let q = LocalQuota::shared(&[w(100, 1)], Duration::ZERO);
    q.grant(
        Instant::now(),
        &grant(quota::WHOLE / 2, Duration::from_secs(6)),
    );
    q.try_acquire(Instant::now()).unwrap();
    let signal = Signal {
        remaining: Some(Remaining {
            left: 0,
            reset: Duration::from_secs(1),
            window: None,
        }),
        ..Default::default()
    };
    q.observe(Instant::now(), &signal, 0);
    assert!(q.try_acquire(Instant::now()).is_ok(), "its share has room");
    // Alone with the whole quota, the same answer means someone else uses it: pause.
    let alone = LocalQuota::new(&[w(100, 1)]);
    alone.try_acquire(Instant::now()).unwrap();
    alone.observe(Instant::now(), &signal, 0);
    assert!(alone.try_acquire(Instant::now()).is_err());
}

#[tokio::test(start_paused = true)]
async fn a_shared_quota_without_windows_asks_for_all_so_the_vendors_budget_is_split_evenly() {
    let q = LocalQuota::shared(&[], Duration::ZERO);
    assert_eq!(q.ask(Instant::now()).want, quota::WHOLE);
    // With half of it, half of what the vendor says is left is this process's to spend.
    q.grant(
        Instant::now(),
        &grant(quota::WHOLE / 2, Duration::from_secs(6)),
    );
    let signal = Signal {
        remaining: Some(Remaining {
            left: 10,
            reset: Duration::from_secs(60),
            window: None,
        }),
        ..Default::default()
    };
    q.observe(Instant::now(), &signal, 0);
    let now = Instant::now();
    let sent = std::iter::from_fn(|| q.try_acquire(now).ok()).count();
    assert_eq!(sent, 5);
}

#[tokio::test(start_paused = true)]
async fn a_call_counts_in_every_window_from_admission_until_it_is_answered() {
    let q = LocalQuota::with_jitter(&[w(2, 1)], Duration::ZERO);
    q.try_reserve(Instant::now()).unwrap();
    q.try_reserve(Instant::now()).unwrap();
    // Both wait (a token refresh, a slow vendor) far longer than the window: still counted.
    advance(Duration::from_secs(5)).await;
    let at = q.try_reserve(Instant::now()).unwrap_err();
    assert!(
        at > Instant::now(),
        "a window holds two calls not yet answered"
    );
    // One is given up before it left: its place is free at once.
    q.unsent();
    q.try_reserve(Instant::now()).unwrap();
    // Both are answered now and count for a whole window from now, not from their admission.
    q.settled(Instant::now());
    q.settled(Instant::now());
    advance(Duration::from_millis(900)).await;
    assert!(q.try_reserve(Instant::now()).is_err());
    advance(Duration::from_millis(120)).await;
    assert!(q.try_reserve(Instant::now()).is_ok());
    assert_eq!(
        q.snapshot(Instant::now()).windows[0].1,
        1,
        "the call not answered shows"
    );
}

/// The vendor counts each call at some moment between its arrival and its answer. Whatever
/// the delays — before the call leaves (0–0.5 s), to the vendor's count (0–0.3 s: the network,
/// its queue, a stalled process) and on to the answer (0–0.7 s) — it never counts more than the
/// limit in any window.
#[tokio::test(start_paused = true)]
async fn the_quota_holds_at_the_vendor_whatever_the_delays_before_and_after_it_counts() {
    let q = std::sync::Arc::new(LocalQuota::with_jitter(&[w(20, 1)], Duration::ZERO));
    let counted = std::sync::Arc::new(std::sync::Mutex::new(Vec::new()));
    let start = Instant::now();
    let mut tasks = Vec::new();
    for caller in 0u64..40 {
        let (q, counted) = (q.clone(), counted.clone());
        tasks.push(tokio::spawn(async move {
            let mut seed = caller.wrapping_mul(6_364_136_223_846_793_005) | 1;
            let mut draw = |most: u64| {
                seed = seed
                    .wrapping_mul(6_364_136_223_846_793_005)
                    .wrapping_add(1_442_695_040_888_963_407);
                Duration::from_millis((seed >> 33) % most)
            };
            while Instant::now() - start < Duration::from_secs(8) {
                match q.try_reserve(Instant::now()) {
                    Ok(()) => {
                        tokio::time::sleep(draw(500)).await;
                        tokio::time::sleep(draw(300)).await;
                        counted.lock().unwrap().push(Instant::now());
                        tokio::time::sleep(draw(700)).await;
                        q.settled(Instant::now());
                    }
                    Err(at) => tokio::time::sleep_until(at).await,
                }
            }
        }));
    }
    for t in tasks {
        t.await.unwrap();
    }
    let mut counted = counted.lock().unwrap().clone();
    counted.sort();
    let most = max_in_any(&counted, Duration::from_secs(1));
    assert!(
        most <= 20,
        "the vendor counted {most} calls within one second"
    );
    assert!(counted.len() >= 70, "{} calls in 8 s", counted.len());
}

#[tokio::test(start_paused = true)]
async fn a_vendors_own_rate_limit_headers_pause_calls_when_nothing_is_left() {
    let hubspot = VendorHeaders {
        remaining: Some("x-hubspot-ratelimit-remaining".into()),
        used_of_limit: None,
        reset: None,
        reset_unit: ResetUnit::Seconds,
        window: Duration::from_secs(10),
    };
    let left = |v: &'static str| {
        move |name: &str| (name == "x-hubspot-ratelimit-remaining").then(|| v.to_owned())
    };
    assert_eq!(
        hubspot.read(&left("97"), 0),
        Some(Remaining {
            left: 97,
            reset: Duration::from_secs(10),
            window: Some(Duration::from_secs(10))
        })
    );
    assert_eq!(
        hubspot.read(&left("many"), 0),
        None,
        "a value that is not a count is ignored"
    );
    assert_eq!(hubspot.read(&|_: &str| None, 0), None);

    let shopify = VendorHeaders {
        remaining: None,
        used_of_limit: Some("x-shopify-shop-api-call-limit".into()),
        reset: None,
        reset_unit: ResetUnit::Seconds,
        window: Duration::from_secs(1),
    };
    let full = |name: &str| (name == "x-shopify-shop-api-call-limit").then(|| "40/40".to_owned());
    let said = shopify.read(&full, 0).unwrap();
    assert_eq!(said.left, 0);
    // Salesforce names its count: `Sforce-Limit-Info: api-usage=18/5000`.
    let named = |_: &str| Some("api-usage=18/5000".to_owned());
    assert_eq!(shopify.read(&named, 0).unwrap().left, 4982);
    let q = LocalQuota::new(&[w(100, 1)]);
    let now = Instant::now();
    q.observe(
        now,
        &Signal {
            remaining: Some(said),
            ..Default::default()
        },
        0,
    );
    assert_eq!(
        q.try_acquire(now),
        Err(now + Duration::from_secs(1)),
        "the bucket is full: wait"
    );
    advance(Duration::from_secs(1)).await;
    assert!(q.try_acquire(Instant::now()).is_ok());

    let unix = VendorHeaders {
        remaining: Some("x-left".into()),
        used_of_limit: None,
        reset: Some("x-reset".into()),
        reset_unit: ResetUnit::Unix,
        window: Duration::from_secs(60),
    };
    let h = |name: &str| match name {
        "x-left" => Some("3".to_owned()),
        "x-reset" => Some("1700000030".to_owned()),
        _ => None,
    };
    assert_eq!(
        unix.read(&h, 1_700_000_000).unwrap().reset,
        Duration::from_secs(30)
    );
    let ms = VendorHeaders {
        reset_unit: ResetUnit::Milliseconds,
        ..unix
    };
    let h = |name: &str| match name {
        "x-left" => Some("3".to_owned()),
        "x-reset" => Some("1500".to_owned()),
        _ => None,
    };
    assert_eq!(ms.read(&h, 0).unwrap().reset, Duration::from_millis(1500));
}

#[tokio::test(start_paused = true)]
async fn a_call_reserves_what_it_may_cost_and_counts_what_the_vendor_says_it_cost() {
    // A vendor metering 100 points a minute; a query may cost up to 40 and really costs 12.
    let q = LocalQuota::new(&[w(100, 60)]);
    let now = Instant::now();
    q.try_reserve_cost(now, 40).unwrap();
    q.try_reserve_cost(now, 40).unwrap();
    assert!(
        q.try_reserve_cost(now, 40).is_err(),
        "two reservations of 40 leave 20 points: a third may cost more"
    );
    assert!(q.try_reserve_cost(now, 20).is_ok(), "20 points still fit");
    q.unsent_cost(20);
    // The vendor answers: each cost 12. What was reserved beyond that is free again.
    for _ in 0..2 {
        q.settled_cost(now, 40);
        q.true_up(now, 40, 12);
    }
    assert_eq!(q.snapshot(now).windows[0].1, 24);
    let fit = std::iter::from_fn(|| {
        q.try_reserve_cost(now, 40).ok()?;
        q.settled_cost(now, 40);
        q.true_up(now, 40, 12);
        Some(())
    })
    .count();
    assert_eq!(
        fit, 4,
        "24 + 4 × 12 = 72; a fifth reservation of 40 would pass 100"
    );
    // A call that cost more than it reserved is counted in full.
    q.try_reserve_cost(now, 1).unwrap();
    q.settled_cost(now, 1);
    q.true_up(now, 1, 20);
    assert_eq!(q.snapshot(now).windows[0].1, 92);
    // A call dearer than the whole window waits for it to empty, and is not refused forever.
    let at = q.try_reserve_cost(now, 500).unwrap_err();
    assert!(at > now && at <= now + Duration::from_secs(61));
    tokio::time::advance(Duration::from_secs(62)).await;
    assert!(q.try_reserve_cost(Instant::now(), 500).is_ok());
}

#[tokio::test(start_paused = true)]
async fn points_the_vendor_says_were_spent_elsewhere_count_in_the_quota() {
    // Shopify-like: a bucket of 1000 points; another app spent 900 of them.
    let q = LocalQuota::new(&[w(50_000, 86_400), w(1000, 20)]);
    let now = Instant::now();
    q.try_reserve_cost(now, 52).unwrap();
    q.settled_cost(now, 52);
    q.true_up(now, 52, 12);
    q.vendor_left(now, 88, Some(1000));
    let snap = q.snapshot(now);
    assert_eq!(
        snap.windows[1].1, 912,
        "the bucket counts the vendor's figure"
    );
    assert_eq!(
        snap.windows[0].1, 12,
        "the daily window is not the one the vendor spoke of"
    );
    assert_eq!(snap.upstream_remaining, Some(88));
    assert!(
        q.try_reserve_cost(now, 89).unwrap_err() > now,
        "88 points are left"
    );
    assert!(
        q.try_reserve_cost(now, 80).is_ok(),
        "what is left still serves"
    );
    // A figure lower than ours (the vendor has not counted our calls yet) changes nothing.
    q.vendor_left(now, 900, Some(1000));
    assert_eq!(q.snapshot(now).windows[1].1, 912 + 80);
}

#[tokio::test(start_paused = true)]
async fn a_quota_following_a_share_allows_its_part_and_holds_the_share_while_it_is_used() {
    // The connector's quota, split between processes: this one holds half of it.
    let connector = std::sync::Arc::new(LocalQuota::shared(&[w(1000, 1)], Duration::ZERO));
    let now = Instant::now();
    connector.grant(now, &grant(WHOLE / 2, Duration::from_secs(6)));
    // A connection's own quota of 10 per 2 s follows it: half is 5 here.
    let connection = std::sync::Arc::new(LocalQuota::shared(&[w(10, 2)], Duration::ZERO));
    connection.follow(connector.lease().unwrap());
    let sent = std::iter::from_fn(|| connection.try_acquire(now).ok()).count();
    assert_eq!(sent, 5);
    // At renewal the connector's share is held at least at what the connection occupies
    // (the connector's own windows are nearly empty).
    let c = std::sync::Arc::downgrade(&connection);
    connector.set_dependents(std::sync::Arc::new(move |now| {
        c.upgrade().map_or(0, |c| c.usage(now))
    }));
    connector.grant(now, &grant(WHOLE / 10, Duration::from_secs(6)));
    let ask = connector.ask(now);
    assert!(ask.usage >= WHOLE / 2, "{ask:?}");
    // Calls of the connection refused for want of a share ask for all of it.
    connector.wanted();
    assert_eq!(connector.ask(now).want, WHOLE);
    // Without a lease, nothing is sent.
    tokio::time::advance(Duration::from_secs(7)).await;
    connection.follow(connector.lease().unwrap());
    assert!(connection.try_acquire(Instant::now()).is_err());
}
