//! `junction bench e2e`: a fixed offered rate of signed webhooks for a fixed time against
//! `junction serve` (a child process) delivering to the mock's sink: delivered/s and the latency
//! from the moment each event was due to be sent until it reached the sink (so queueing in the
//! generator counts against Junction, not for it).

use std::sync::Arc;
use std::time::{Duration, Instant};

use serde_json::json;

use super::hub::{database, now_ms_f, signed, sink, HubProcess, RssSampler};
use super::BenchArgs;

pub async fn run(args: &BenchArgs) -> Result<serde_json::Value, String> {
    let mut results = Vec::new();
    let total = (args.rate as f64 * args.duration.as_secs_f64()) as usize;
    for backend in &args.backends {
        let dir = tempfile::tempdir().map_err(|e| e.to_string())?;
        let url = database(*backend, dir.path()).await?;
        let mock = sink(total + 1000).await?;
        let hub = HubProcess::start(dir.path(), &url, &mock.url()).await?;
        tokio::time::sleep(Duration::from_secs(1)).await;
        eprintln!(
            "e2e bench on {backend:?}: {} events/s for {:?} ({total} events of {} B)",
            args.rate, args.duration, args.payload
        );
        let sampler = RssSampler::start(hub.child.id());
        let target = format!("{}/webhooks/bench", hub.base);
        let Offered {
            failed,
            elapsed: offered_for,
            start_ms,
        } = offer(&[target], args.rate, total, args.payload).await?;
        let accepted = total - failed;
        let deadline = Instant::now() + Duration::from_secs(120);
        while (mock.state.received.snapshot().0 as usize) < accepted && Instant::now() < deadline {
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
        let peak = sampler.peak();
        let Delivered {
            count,
            per_s: delivered_per_s,
            p50,
            p99,
        } = delivered(&mock, start_ms);
        eprintln!(
            "  offered {total} in {:.1} s ({failed} failed); delivered {count} at {delivered_per_s:.0}/s; latency p50 {p50:.1} ms, p99 {p99:.1} ms; hub RSS peak {peak:.0} MiB",
            offered_for.as_secs_f64()
        );
        results.push(json!({
            "backend": format!("{backend:?}").to_lowercase(),
            "offered_per_s": args.rate,
            "duration_s": args.duration.as_secs_f64(),
            "offered": total,
            "failed": failed,
            "delivered": count,
            "delivered_per_s": delivered_per_s.round(),
            "latency_p50_ms": p50,
            "latency_p99_ms": p99,
            "note": "latency: scheduled send time → arrival at the sink (ms clock at the sink)",
            "rss_peak_mib": peak.round(),
        }));
        hub.stop();
        let _ = mock.stop().await;
    }
    Ok(json!({ "scenario": "e2e", "machine": super::machine(), "results": results }))
}

/// What the generator offered.
pub(super) struct Offered {
    pub failed: usize,
    pub elapsed: Duration,
    /// When the first event was due (Unix ms).
    pub start_ms: f64,
}

/// Offers `total` signed webhooks at `rate` per second, spread over `targets` (each sender keeps
/// one keep-alive connection to one of them).
pub(super) async fn offer(
    targets: &[String],
    rate: u32,
    total: usize,
    payload: usize,
) -> Result<Offered, String> {
    // Senders, each on its own keep-alive connection, take events at their scheduled time;
    // with all of them busy the generator falls behind (and the latency shows it, since it
    // counts from the scheduled time).
    let (tx, rx) = jobs_channel(SENDERS);
    let mut senders = Vec::with_capacity(SENDERS);
    for i in 0..SENDERS {
        let target = &targets[i % targets.len()];
        let mut conn = super::load::Conn::new(target)?;
        let (rx, path) = (rx.clone(), super::load::path_of(target));
        senders.push(tokio::spawn(async move {
            let mut failed = 0usize;
            while let Some((n, sent_ms)) = next_job(&rx).await {
                let (body, headers) = signed(n, payload, sent_ms);
                if !matches!(conn.post(&path, &headers, body.into()).await, Ok(202)) {
                    failed += 1;
                }
            }
            failed
        }));
    }
    drop(rx);
    let started = Instant::now();
    let start_ms = now_ms_f();
    let interval = Duration::from_secs_f64(1.0 / f64::from(rate.max(1)));
    for n in 0..total {
        let due = started + interval * n as u32;
        tokio::time::sleep_until(due.into()).await;
        let sent_ms = start_ms + (interval * n as u32).as_secs_f64() * 1000.0;
        if tx.send((n, sent_ms)).await.is_err() {
            break;
        }
    }
    drop(tx);
    let mut failed = 0usize;
    for s in senders {
        failed += s.await.unwrap_or(0);
    }
    Ok(Offered {
        failed,
        elapsed: started.elapsed(),
        start_ms,
    })
}

/// What reached the sink: how many, at what rate, and the latency from each event's scheduled
/// send time (`sent_ms` in its body) to its arrival.
pub(super) struct Delivered {
    pub count: u64,
    pub per_s: f64,
    pub p50: f64,
    pub p99: f64,
}

pub(super) fn delivered(mock: &junction_mock::Mock, start_ms: f64) -> Delivered {
    let (count, got) = mock.state.received.snapshot();
    let mut lat: Vec<u32> = Vec::with_capacity(got.len());
    // Latencies by the second they were scheduled in, to see where a tail comes from.
    let mut by_second: std::collections::BTreeMap<i64, Vec<u32>> = Default::default();
    let (mut first, mut last) = (f64::MAX, 0f64);
    for d in &got {
        let sent = d
            .body
            .split("\"sent_ms\":")
            .nth(1)
            .and_then(|r| r.split(',').next())
            .and_then(|v| v.parse::<f64>().ok());
        if let Some(sent) = sent {
            let arrived = d.at_ms as f64;
            let us = ((arrived - sent).max(0.0) * 1000.0) as u32;
            lat.push(us);
            by_second
                .entry(((sent - start_ms) / 1000.0).floor() as i64)
                .or_default()
                .push(us);
            first = first.min(sent);
            last = last.max(arrived);
        }
    }
    let span_s = ((last - first) / 1000.0).max(0.001);
    let delivered_per_s = count as f64 / span_s;
    let p50 = super::stats::percentile_ms(&mut lat, 50.0);
    let p99 = super::stats::percentile_ms(&mut lat, 99.0);
    let mut worst: Vec<(f64, i64)> = by_second
        .iter_mut()
        .map(|(s, l)| (super::stats::percentile_ms(l, 99.0), *s))
        .collect();
    worst.sort_by(|a, b| b.0.total_cmp(&a.0));
    let worst: Vec<String> = worst
        .iter()
        .take(5)
        .map(|(p, s)| format!("second {s}: p99 {p:.0} ms"))
        .collect();
    eprintln!("  worst seconds: {}", worst.join(", "));
    Delivered {
        count,
        per_s: delivered_per_s,
        p50,
        p99,
    }
}

/// Concurrent senders in the e2e generator.
const SENDERS: usize = 256;

type Jobs = Arc<tokio::sync::Mutex<tokio::sync::mpsc::Receiver<(usize, f64)>>>;

/// A channel many senders take from.
fn jobs_channel(cap: usize) -> (tokio::sync::mpsc::Sender<(usize, f64)>, Jobs) {
    let (tx, rx) = tokio::sync::mpsc::channel(cap);
    (tx, Arc::new(tokio::sync::Mutex::new(rx)))
}

async fn next_job(rx: &Jobs) -> Option<(usize, f64)> {
    rx.lock().await.recv().await
}
