//! `junction bench erase`: erasure by data subject in a large store. `--events` events (each
//! with a delivery, every 50 about one customer: `--events / 50` subjects) are appended, then
//! five subjects are erased one after the other, each timed from request to answer (on SQLite
//! that includes zeroing the freed pages and truncating the WAL): the first at once after the
//! burst of appends (on SQLite it also waits for the burst's WAL to be copied into the
//! database), the others after a pause of `SETTLE`. On SQLite the database and its WAL are then
//! scanned for the erased customers' values.

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::Instant;

use junction_store::{subject_hash, Erase, NewEvent, Store};
use serde_json::json;

use super::stats::percentile_ms;
use super::{BackendArg, BenchArgs};

/// Events per data subject.
const PER_SUBJECT: usize = 50;
/// Subjects erased (and timed) per run.
const ERASED: usize = 5;
/// The pause after the first erasure, as between a burst of traffic and a later request.
const SETTLE: std::time::Duration = std::time::Duration::from_secs(5);

fn customer(s: usize) -> String {
    format!("cus_{s:08}")
}

fn email(s: usize) -> String {
    format!("person.{s:08}@example.org")
}

fn event(i: usize, subjects: usize, now: i64, pad: &str) -> NewEvent {
    let s = i % subjects;
    let payload = json!({
        "id": format!("evt_{i:09}"),
        "type": "customer.updated",
        "data": { "customer": customer(s), "email": email(s), "note": pad },
    });
    let mut e = super::store::event(i, payload.to_string().as_bytes(), now);
    e.entity_key = Some(customer(s));
    e.subjects = vec![subject_hash(&customer(s)), subject_hash(&email(s))];
    e
}

pub async fn run(args: &BenchArgs) -> Result<serde_json::Value, String> {
    let subjects = (args.events / PER_SUBJECT).max(ERASED);
    let mut results = Vec::new();
    for backend in &args.backends {
        let (store, dir) = super::store::open_empty(*backend, args, "erase").await?;
        let filled = fill(&store, args, subjects).await?;
        eprintln!("  filled: {} events in {filled:.1} s", args.events);
        let mut times = Vec::new();
        let mut erased_events = Vec::new();
        let mut after_burst = 0.0;
        for k in 0..ERASED {
            if k == 1 {
                tokio::time::sleep(SETTLE).await;
            }
            // Spread over the id range: the first, the last and between.
            let s = k * (subjects - 1) / (ERASED - 1);
            let t = Instant::now();
            let c = store
                .erase(Erase {
                    subject: subject_hash(&email(s)),
                    value: Some(email(s)),
                    actor: "bench".into(),
                    reason: "bench".into(),
                    at: junction_core::time::now_ms(),
                    record: true,
                })
                .await
                .map_err(|e| e.to_string())?;
            if k == 0 {
                after_burst = t.elapsed().as_secs_f64() * 1000.0;
            } else {
                times.push(t.elapsed().as_micros().min(u32::MAX as u128) as u32);
            }
            erased_events.push(c.events);
            eprintln!(
                "  erased {} ({} events, {} deliveries) in {:.0} ms",
                customer(s),
                c.events,
                c.deliveries,
                t.elapsed().as_secs_f64() * 1000.0
            );
        }
        let scan = match (&dir, backend) {
            (Some(dir), BackendArg::Sqlite) => {
                let found = byte_scan(dir.path(), subjects);
                eprintln!("  byte scan of the database and WAL: {found} occurrences of the erased customers' values");
                json!(found)
            }
            _ => json!(null),
        };
        results.push(json!({
            "backend": store.backend().as_str(),
            "fill_seconds": filled,
            "erased_events": erased_events,
            "erase_right_after_burst_ms": after_burst,
            "erase_p50_ms": percentile_ms(&mut times.clone(), 50.0),
            "erase_max_ms": percentile_ms(&mut times, 100.0),
            "byte_scan_hits": scan,
        }));
    }
    Ok(json!({
        "scenario": "erase",
        "events": args.events,
        "subjects": subjects,
        "machine": super::machine(),
        "results": results,
    }))
}

async fn fill(store: &Arc<dyn Store>, args: &BenchArgs, subjects: usize) -> Result<f64, String> {
    let pad: Arc<str> = "x".repeat(args.payload.saturating_sub(120)).into();
    let next = Arc::new(AtomicUsize::new(0));
    let now = junction_core::time::now_ms();
    let started = Instant::now();
    let tasks: Vec<_> = (0..args.concurrency)
        .map(|_| {
            let (store, next, pad) = (store.clone(), next.clone(), pad.clone());
            let total = args.events;
            tokio::spawn(async move {
                loop {
                    let i = next.fetch_add(1, Ordering::Relaxed);
                    if i >= total {
                        return Ok::<_, String>(());
                    }
                    store
                        .append(event(i, subjects, now, &pad))
                        .await
                        .map_err(|e| e.to_string())?;
                }
            })
        })
        .collect();
    for t in tasks {
        t.await.map_err(|e| e.to_string())??;
    }
    Ok(started.elapsed().as_secs_f64())
}

/// Occurrences of the erased customers' ids and emails in the database file and its WAL.
fn byte_scan(dir: &std::path::Path, subjects: usize) -> usize {
    let needles: Vec<String> = (0..ERASED)
        .map(|k| k * (subjects - 1) / (ERASED - 1))
        .flat_map(|s| [customer(s), email(s)])
        .collect();
    let mut found = 0;
    for name in ["bench.db", "bench.db-wal"] {
        let Ok(bytes) = std::fs::read(dir.join(name)) else {
            continue;
        };
        for n in &needles {
            found += bytes
                .windows(n.len())
                .filter(|w| *w == n.as_bytes())
                .count();
        }
    }
    found
}
