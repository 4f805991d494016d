//! `junction bench store`: how fast the store takes events with their deliveries (append at the
//! given concurrency, each append durably committed before it returns) and how fast workers
//! drain them (claim a batch, complete each, finishes group-committed).

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use junction_config::DatabaseUrl;
use junction_store::{Attempt, Claim, NewDelivery, NewEvent, Options, Store};
use serde_json::json;
use sqlx::{Connection, Executor};

use super::stats::percentile_ms;
use super::{BackendArg, BenchArgs};

/// Claiming workers in the drain phase, and how many deliveries each claims at once.
const WORKERS: usize = 4;
const CLAIM_BATCH: usize = 256;

pub async fn run(args: &BenchArgs) -> Result<serde_json::Value, String> {
    let mut results = Vec::new();
    for backend in &args.backends {
        let (store, _guard) = open_empty(*backend, args, "store").await?;
        let append = append_phase(&store, args).await?;
        eprintln!(
            "  append: {:.0} events/s (p50 {:.2} ms, p99 {:.2} ms)",
            append["events_per_s"].as_f64().unwrap_or_default(),
            append["p50_ms"].as_f64().unwrap_or_default(),
            append["p99_ms"].as_f64().unwrap_or_default()
        );
        let drain = drain_phase(&store, args.events).await?;
        eprintln!(
            "  claim→complete: {:.0} deliveries/s",
            drain["deliveries_per_s"].as_f64().unwrap_or_default()
        );
        results.push(json!({ "backend": store.backend().as_str(), "append": append, "claim_complete": drain }));
    }
    Ok(json!({
        "scenario": "store",
        "events": args.events,
        "concurrency": args.concurrency,
        "payload_bytes": args.payload,
        "machine": super::machine(),
        "results": results,
    }))
}

/// An empty store on `backend` (SQLite in a temporary folder under `--dir`, removed with the
/// guard; PostgreSQL dropped and created afresh), announced as `scenario`'s.
pub(super) async fn open_empty(
    backend: BackendArg,
    args: &BenchArgs,
    scenario: &str,
) -> Result<(Arc<dyn Store>, Option<tempfile::TempDir>), String> {
    let (url, guard) = match backend {
        BackendArg::Sqlite => {
            let dir = match &args.dir {
                Some(d) => {
                    std::fs::create_dir_all(d).map_err(|e| e.to_string())?;
                    tempfile::tempdir_in(d)
                }
                None => tempfile::tempdir(),
            }
            .map_err(|e| e.to_string())?;
            (DatabaseUrl::Sqlite(dir.path().join("bench.db")), Some(dir))
        }
        BackendArg::Postgres => (DatabaseUrl::Postgres(fresh_postgres().await?), None),
    };
    eprintln!(
        "{scenario} bench on {url}: {} events, concurrency {}, payload {} B",
        args.events, args.concurrency, args.payload
    );
    let opts = Options {
        url,
        max_connections: 16,
        connect_timeout: Duration::from_secs(5),
    };
    let store = junction_store::open(&opts)
        .await
        .map_err(|e| e.to_string())?;
    Ok((store, guard))
}

/// Drops and recreates the bench database so every run starts empty.
pub(super) async fn fresh_postgres() -> Result<String, String> {
    let url = std::env::var("JUNCTION_BENCH_POSTGRES_URL")
        .unwrap_or_else(|_| "postgres://postgres@127.0.0.1:5432/junction_bench".into());
    let (base, name) = url
        .rsplit_once('/')
        .ok_or("JUNCTION_BENCH_POSTGRES_URL must end in /DATABASE")?;
    if !name.chars().all(|c| c.is_ascii_alphanumeric() || c == '_') {
        return Err(format!(
            "bench database name `{name}` must be letters, digits and _"
        ));
    }
    let mut admin = sqlx::PgConnection::connect(&format!("{base}/postgres"))
        .await
        .map_err(|e| format!("cannot reach PostgreSQL for the bench: {e}"))?;
    admin
        .execute(format!("DROP DATABASE IF EXISTS {name} WITH (FORCE)").as_str())
        .await
        .map_err(|e| e.to_string())?;
    admin
        .execute(format!("CREATE DATABASE {name}").as_str())
        .await
        .map_err(|e| e.to_string())?;
    Ok(url)
}

/// Event `i` of a bench: one delivery to `billing`.
pub(super) fn event(i: usize, payload: &[u8], now: i64) -> NewEvent {
    NewEvent {
        source: "bench".into(),
        external_id: format!("evt_{i:09}"),
        event_type: "customer.updated".into(),
        entity_key: Some(format!("cus_{}", i % 10_000)),
        sequence: Some(i as i64),
        received_at: now,
        payload: payload.to_vec(),
        context: Default::default(),
        deliveries: vec![NewDelivery {
            route: "customers".into(),
            destination: "billing".into(),
            due_at: now,
            ordering: Default::default(),
        }],
        tracked: false,
        subjects: Vec::new(),
    }
}

async fn append_phase(
    store: &Arc<dyn Store>,
    args: &BenchArgs,
) -> Result<serde_json::Value, String> {
    let payload: Arc<[u8]> = vec![b'x'; args.payload].into();
    let next = Arc::new(AtomicUsize::new(0));
    let now = junction_core::time::now_ms();
    let started = Instant::now();
    let tasks: Vec<_> = (0..args.concurrency)
        .map(|_| {
            let (store, next, payload) = (store.clone(), next.clone(), payload.clone());
            let total = args.events;
            tokio::spawn(async move {
                let mut latencies = Vec::with_capacity(total / 64 + 1);
                loop {
                    let i = next.fetch_add(1, Ordering::Relaxed);
                    if i >= total {
                        return Ok::<_, String>(latencies);
                    }
                    let t = Instant::now();
                    store
                        .append(event(i, &payload, now))
                        .await
                        .map_err(|e| e.to_string())?;
                    latencies.push(t.elapsed().as_micros().min(u32::MAX as u128) as u32);
                }
            })
        })
        .collect();
    let mut all = Vec::with_capacity(args.events);
    for t in tasks {
        all.extend(t.await.map_err(|e| e.to_string())??);
    }
    let secs = started.elapsed().as_secs_f64();
    Ok(json!({
        "events_per_s": (args.events as f64 / secs).round(),
        "seconds": secs,
        "p50_ms": percentile_ms(&mut all, 50.0),
        "p99_ms": percentile_ms(&mut all, 99.0),
    }))
}

async fn drain_phase(store: &Arc<dyn Store>, expected: usize) -> Result<serde_json::Value, String> {
    let started = Instant::now();
    let now = junction_core::time::now_ms() + 1;
    let tasks: Vec<_> = (0..WORKERS)
        .map(|w| {
            let store = store.clone();
            tokio::spawn(async move {
                let claim = Claim {
                    owner: format!("bench-{w}"),
                    limit: CLAIM_BATCH,
                    lease: Duration::from_secs(60),
                    now,
                    destination: Some("billing".into()),
                };
                let mut done = 0usize;
                loop {
                    let got = store.claim(&claim).await.map_err(|e| e.to_string())?;
                    if got.is_empty() {
                        return Ok::<_, String>(done);
                    }
                    let finishes = got.iter().map(|c| {
                        let attempt = Attempt {
                            started_at: now,
                            duration_ms: 1,
                            status: Some(200),
                            ..Default::default()
                        };
                        store.complete(c.lease, attempt, now)
                    });
                    for r in futures_util::future::join_all(finishes).await {
                        r.map_err(|e| e.to_string())?;
                    }
                    done += got.len();
                }
            })
        })
        .collect();
    let mut done = 0;
    for t in tasks {
        done += t.await.map_err(|e| e.to_string())??;
    }
    let secs = started.elapsed().as_secs_f64();
    if done != expected {
        return Err(format!("drained {done} deliveries, expected {expected}"));
    }
    Ok(
        json!({ "deliveries_per_s": (done as f64 / secs).round(), "seconds": secs, "workers": WORKERS, "claim_batch": CLAIM_BATCH }),
    )
}
