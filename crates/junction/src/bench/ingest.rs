//! `junction bench ingest`: signed 1 KiB webhooks at concurrency 64 against `junction serve`
//! (a child process), one route to one HTTP destination (the mock's sink): accepted events/s,
//! acknowledgement latency, how fast the deliveries drain, and the hub's memory.

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use serde_json::json;

use super::hub::{database, now_ms_f, signed, sink, HubProcess, RssSampler};
use super::stats::percentile_ms;
use super::BenchArgs;

pub async fn run(args: &BenchArgs) -> Result<serde_json::Value, String> {
    if let Some(target) = &args.target {
        let (accepted, failed, per_s, p50, p99) = load(args, target.clone()).await?;
        eprintln!("  peer at {target}: accepted {accepted} ({failed} failed): {per_s:.0} events/s, p50 {p50:.2} ms, p99 {p99:.2} ms");
        return Ok(
            json!({ "scenario": "ingest", "machine": super::machine(), "results": [{
                "backend": "peer", "target": target, "events": args.events, "payload_bytes": args.payload,
                "concurrency": args.concurrency, "accepted": accepted, "failed": failed,
                "accepted_per_s": per_s.round(), "ack_p50_ms": p50, "ack_p99_ms": p99,
            }]}),
        );
    }
    let mut results = Vec::new();
    for backend in &args.backends {
        let dir = tempfile::tempdir().map_err(|e| e.to_string())?;
        let url = database(*backend, dir.path()).await?;
        let mock = sink(args.events + 1000).await?;
        let hub = HubProcess::start(dir.path(), &url, &mock.url()).await?;
        tokio::time::sleep(Duration::from_secs(1)).await;
        let idle = hub.rss_mib();
        eprintln!(
            "ingest bench on {backend:?}: {} events of {} B, concurrency {}",
            args.events, args.payload, args.concurrency
        );
        let sampler = RssSampler::start(hub.child.id());
        let started = Instant::now();
        let (accepted, failed, per_s, p50, p99) =
            load(args, format!("{}/webhooks/bench", hub.base)).await?;
        eprintln!("  accepted {accepted} ({failed} failed): {per_s:.0} events/s, p50 {p50:.2} ms, p99 {p99:.2} ms");
        // Deliveries keep flowing during intake; wait for the rest (none when the route's
        // JUNCTION_BENCH_TYPES does not match the events, to measure intake alone).
        let types = std::env::var("JUNCTION_BENCH_TYPES").unwrap_or_else(|_| "*".into());
        let expected = if junction_config::glob(&types, "customer.updated") {
            accepted
        } else {
            0
        };
        let deadline = Instant::now() + Duration::from_secs(300);
        while (mock.state.received.snapshot().0 as usize) < expected && Instant::now() < deadline {
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
        let drained = started.elapsed();
        let delivered = mock.state.received.snapshot().0 as usize;
        let peak = sampler.peak();
        eprintln!(
            "  delivered {delivered} in {:.1} s ({:.0}/s overall); hub RSS idle {idle:.0} MiB, peak {peak:.0} MiB",
            drained.as_secs_f64(),
            delivered as f64 / drained.as_secs_f64()
        );
        results.push(json!({
            "backend": format!("{backend:?}").to_lowercase(),
            "events": args.events,
            "payload_bytes": args.payload,
            "concurrency": args.concurrency,
            "accepted": accepted,
            "failed": failed,
            "accepted_per_s": per_s.round(),
            "ack_p50_ms": p50,
            "ack_p99_ms": p99,
            "delivered": delivered,
            "delivered_per_s_overall": (delivered as f64 / drained.as_secs_f64()).round(),
            "rss_idle_mib": idle.round(),
            "rss_peak_mib": peak.round(),
        }));
        hub.stop();
        let _ = mock.stop().await;
    }
    Ok(json!({ "scenario": "ingest", "machine": super::machine(), "results": results }))
}

/// Sends `args.events` signed webhooks to `target` at `args.concurrency`, each sender on its own
/// keep-alive connection; returns accepted, failed, accepted/s, p50 and p99 in ms. Each event is
/// signed as it is sent (its timestamp is current), as a provider would.
async fn load(args: &BenchArgs, target: String) -> Result<(usize, usize, f64, f64, f64), String> {
    let path = Arc::new(super::load::path_of(&target));
    let next = Arc::new(AtomicUsize::new(0));
    let started = Instant::now();
    let mut tasks = Vec::with_capacity(args.concurrency);
    for _ in 0..args.concurrency {
        let mut conn = super::load::Conn::new(&target)?;
        let (next, path) = (next.clone(), path.clone());
        let (events, payload) = (args.events, args.payload);
        tasks.push(tokio::spawn(async move {
            let mut lat = Vec::with_capacity(events / 64 + 1);
            let mut failed = 0usize;
            loop {
                let n = next.fetch_add(1, Ordering::Relaxed);
                if n >= events {
                    return (lat, failed);
                }
                let (body, headers) = signed(n, payload, now_ms_f());
                let t = Instant::now();
                match conn.post(&path, &headers, body.into()).await {
                    Ok(status) if (200..300).contains(&status) => {
                        lat.push(t.elapsed().as_micros().min(u32::MAX as u128) as u32)
                    }
                    _ => failed += 1,
                }
            }
        }));
    }
    let mut lat = Vec::with_capacity(args.events);
    let mut failed = 0;
    for t in tasks {
        let (l, f) = t.await.map_err(|e| e.to_string())?;
        lat.extend(l);
        failed += f;
    }
    let took = started.elapsed();
    let accepted = lat.len();
    let per_s = accepted as f64 / took.as_secs_f64();
    Ok((
        accepted,
        failed,
        per_s,
        percentile_ms(&mut lat, 50.0),
        percentile_ms(&mut lat, 99.0),
    ))
}
