//! Global quotas, proved on paused time: three processes split one connector's quota through
//! the store's fair split (`junction_store::shares::decide`, the function both backends run in
//! their renewal transaction) and enforce their shares in memory (`LocalQuota::shared`), renewing
//! every second as `SharedLimits` does. Demand changes, one process dies without a word: the
//! vendor never sees more than its limit in any window, and the quota is used.

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use junction_resilience::quota::{LocalQuota, ShareGrant, WHOLE};
use junction_resilience::{QuotaState, Window};
use junction_server::shared::{LEASE, RENEW_EVERY};
use junction_store::shares::{decide, Holder};
use junction_store::ShareRequest;
use tokio::time::Instant;

const LIMIT: u32 = 100;

/// The store's rows for one quota, renewed as the backends do.
struct Store {
    start: Instant,
    rows: Mutex<Vec<Holder>>,
}

impl Store {
    fn renew(&self, req: &ShareRequest) -> u32 {
        let now = self.start.elapsed().as_millis() as i64;
        let mut rows = self.rows.lock().unwrap();
        let d = decide(req, &rows, now);
        rows.retain(|h| h.counts(now) && h.holder != req.holder);
        rows.push(Holder {
            holder: req.holder.clone(),
            claim: d.claim,
            want: req.want,
            expires_at: now + req.ttl_ms,
            hold_ms: req.hold_ms,
        });
        d.share
    }
}

struct Process {
    quota: Arc<LocalQuota>,
    busy: Arc<AtomicBool>,
    tasks: Vec<tokio::task::JoinHandle<()>>,
}

fn process(n: usize, store: &Arc<Store>, sent: &Arc<Mutex<Vec<Instant>>>) -> Process {
    let quota = Arc::new(LocalQuota::shared(
        &[Window {
            limit: LIMIT,
            window: Duration::from_secs(1),
        }],
        Duration::from_millis(50),
    ));
    let busy = Arc::new(AtomicBool::new(true));
    let renew = {
        let (quota, store) = (quota.clone(), store.clone());
        tokio::spawn(async move {
            let mut tick = tokio::time::interval(RENEW_EVERY);
            loop {
                tick.tick().await;
                let sent = Instant::now();
                let ask = quota.ask(sent);
                let share = store.renew(&ShareRequest {
                    quota: "connector:crm".into(),
                    holder: format!("p{n}"),
                    want: ask.want,
                    usage: ask.usage,
                    ttl_ms: LEASE.as_millis() as i64,
                    hold_ms: ask.hold.as_millis() as i64,
                    pause_ms: 0,
                    learned: vec![],
                });
                // The database answers late, as under load: calls go on under the old share
                // until the answer is applied.
                tokio::time::sleep(Duration::from_millis(400)).await;
                quota.grant(
                    Instant::now(),
                    &ShareGrant {
                        share,
                        lease_until: sent + LEASE,
                        paused_for: None,
                        learned: vec![],
                    },
                );
            }
        })
    };
    let load = {
        let (quota, busy, sent) = (quota.clone(), busy.clone(), sent.clone());
        tokio::spawn(async move {
            loop {
                if !busy.load(Ordering::Relaxed) {
                    tokio::time::sleep(Duration::from_millis(10)).await;
                    continue;
                }
                let now = Instant::now();
                match quota.try_acquire(now) {
                    Ok(()) => sent.lock().unwrap().push(now),
                    Err(at) => {
                        tokio::time::sleep_until(at.min(now + Duration::from_millis(50))).await
                    }
                }
            }
        })
    };
    Process {
        quota,
        busy,
        tasks: vec![renew, load],
    }
}

/// The most calls in any interval of `window` (the vendor counting a sliding window).
fn most_in_any(times: &[Instant], window: Duration) -> usize {
    let mut most = 0;
    let mut first = 0;
    for (i, t) in times.iter().enumerate() {
        while *t - times[first] >= window {
            first += 1;
        }
        most = most.max(i + 1 - first);
    }
    most
}

fn between(times: &[Instant], start: Instant, from: u64, to: u64) -> usize {
    times
        .iter()
        .filter(|t| {
            **t >= start + Duration::from_secs(from) && **t < start + Duration::from_secs(to)
        })
        .count()
}

#[tokio::test(start_paused = true)]
async fn global_quota_three_processes_never_exceed_the_limit_and_use_it() {
    let start = Instant::now();
    let store = Arc::new(Store {
        start,
        rows: Mutex::default(),
    });
    let sent = Arc::new(Mutex::new(Vec::new()));
    let procs: Vec<Process> = (0..3).map(|n| process(n, &store, &sent)).collect();
    // 0-10 s all three busy; 10-20 s the third idle; at 20 s the second dies (no release).
    tokio::time::sleep(Duration::from_secs(10)).await;
    procs[2].busy.store(false, Ordering::Relaxed);
    tokio::time::sleep(Duration::from_secs(10)).await;
    for t in &procs[1].tasks {
        t.abort();
    }
    procs[2].busy.store(true, Ordering::Relaxed);
    tokio::time::sleep(Duration::from_secs(15)).await;
    for p in &procs {
        for t in &p.tasks {
            t.abort();
        }
    }
    let mut times = sent.lock().unwrap().clone();
    times.sort();
    assert!(
        most_in_any(&times, Duration::from_secs(1)) <= LIMIT as usize,
        "the vendor saw {} in one second",
        most_in_any(&times, Duration::from_secs(1))
    );
    // Used, not wasted, once shares settle (three busy, then two busy and one idle, then the
    // survivors after the dead one's lease lapsed and its calls left the window).
    let ideal = |secs: u64| (u64::from(LIMIT) * secs) as usize;
    let settled = [(3, 10), (13, 20), (28, 35)];
    for (from, to) in settled {
        let n = between(&times, start, from, to);
        assert!(
            n * 100 >= ideal(to - from) * 90,
            "{n} calls in {from}-{to} s of an ideal {}",
            ideal(to - from)
        );
    }
    // The idle process asked for little and was given little; the dead one holds nothing.
    let now = Instant::now();
    assert!(procs[0].quota.share(now).unwrap() > WHOLE / 3);
    assert_eq!(procs[1].quota.share(now), Some(0));
}
