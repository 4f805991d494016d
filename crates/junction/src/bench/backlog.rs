//! `junction bench backlog`: does the hub's memory grow with the work waiting in the store? The
//! store is filled with `--events` undelivered events (default 1,000,000 is a good test) for a
//! destination that is down, then `junction serve` runs on it for `--duration`; its RSS is
//! compared with the same hub on an empty store.

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use junction_store::{NewDelivery, NewEvent, Options, Store};
use serde_json::json;

use super::hub::{database, HubProcess, RssSampler};
use super::BenchArgs;

/// Nothing listens here: every attempt fails at once and the circuit opens.
const DOWN: &str = "http://127.0.0.1:9";

pub async fn run(args: &BenchArgs) -> Result<serde_json::Value, String> {
    let mut results = Vec::new();
    for backend in &args.backends {
        let dir = tempfile::tempdir().map_err(|e| e.to_string())?;
        let url = database(*backend, dir.path()).await?;
        // The same hub on an empty store first.
        let empty = HubProcess::start(dir.path(), &url, DOWN).await?;
        tokio::time::sleep(Duration::from_secs(3)).await;
        let rss_empty = empty.rss_mib();
        empty.stop();
        eprintln!(
            "backlog bench on {backend:?}: filling {} events of {} B",
            args.events, args.payload
        );
        let filled = fill(&url, args).await?;
        eprintln!("  filled in {:.1} s", filled.as_secs_f64());
        let hub = HubProcess::start(dir.path(), &url, DOWN).await?;
        let sampler = RssSampler::start(hub.child.id());
        let mut samples = Vec::new();
        let started = Instant::now();
        while started.elapsed() < args.duration {
            tokio::time::sleep(Duration::from_secs(5)).await;
            samples.push(hub.rss_mib().round());
        }
        let peak = sampler.peak();
        eprintln!(
            "  hub RSS: empty store {rss_empty:.0} MiB; with the backlog {samples:?} MiB (peak {peak:.0})"
        );
        results.push(json!({
            "backend": format!("{backend:?}").to_lowercase(),
            "backlog_events": args.events,
            "payload_bytes": args.payload,
            "rss_empty_store_mib": rss_empty.round(),
            "rss_with_backlog_mib_every_5s": samples,
            "rss_with_backlog_peak_mib": peak.round(),
            "fill_seconds": filled.as_secs_f64().round(),
        }));
        hub.stop();
    }
    Ok(json!({ "scenario": "backlog", "machine": super::machine(), "results": results }))
}

/// Appends `args.events` events routed to the bench hub's destination, at concurrency 64.
async fn fill(url: &str, args: &BenchArgs) -> Result<Duration, String> {
    let opts = Options {
        url: junction_config::parse_database_url(url)?,
        max_connections: 16,
        connect_timeout: Duration::from_secs(5),
    };
    let store: Arc<dyn Store> = junction_store::open(&opts)
        .await
        .map_err(|e| e.to_string())?;
    let payload = Arc::new(vec![b'x'; args.payload]);
    let next = Arc::new(AtomicUsize::new(0));
    let started = Instant::now();
    let now = junction_core::time::now_ms();
    let tasks: Vec<_> = (0..64)
        .map(|_| {
            let (store, payload, next) = (store.clone(), payload.clone(), next.clone());
            let events = args.events;
            tokio::spawn(async move {
                loop {
                    let i = next.fetch_add(1, Ordering::Relaxed);
                    if i >= events {
                        return Ok::<_, String>(());
                    }
                    let e = NewEvent {
                        source: "bench".into(),
                        external_id: format!("evt_{i:010}"),
                        event_type: "customer.updated".into(),
                        entity_key: None,
                        sequence: None,
                        received_at: now,
                        payload: payload.as_ref().clone(),
                        context: Default::default(),
                        deliveries: vec![NewDelivery {
                            route: "all".into(),
                            destination: "sink".into(),
                            due_at: now,
                            ordering: Default::default(),
                        }],
                        tracked: false,
                        subjects: Vec::new(),
                    };
                    store.append(e).await.map_err(|e| e.to_string())?;
                }
            })
        })
        .collect();
    for t in tasks {
        t.await.map_err(|e| e.to_string())??;
    }
    Ok(started.elapsed())
}
