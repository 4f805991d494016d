//! `junction bench cluster`: `--nodes` processes of `junction serve` on one PostgreSQL database.
//! Signed webhooks at `--rate` for `--duration` are spread over all of them and delivered to the
//! mock's sink, while `--concurrency` callers per process send `/proxy` calls through all of
//! them to a vendor limited to `--limit` per second (counted over a sliding second, the
//! strictest way). Reports intake, delivered/s, end-to-end p50/p99, the vendor's own maximum
//! in any second (never above the limit) and how much of the quota was used.

use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use junction_mock::{HeaderStyle, Limit, Mock, MockConfig, QuotaConfig};
use serde_json::{json, Value};

use super::e2e::{delivered, offer, Delivered, Offered};
use super::hub::{sink, HubProcess, WHSEC};
use super::BenchArgs;

pub async fn run(args: &BenchArgs) -> Result<Value, String> {
    let nodes = args.nodes.max(1);
    let total = (f64::from(args.rate) * args.duration.as_secs_f64()) as usize;
    let db = super::store::fresh_postgres().await?;
    let token = super::quota::api_token(&db).await?;
    let sink = sink(total + 1_000).await?;
    let vendor = vendor(args.limit).await?;
    let body = format!(
        r#"{flows}
connectors:
  crm:
    base_url: "{vendor}/v2"
    quotas: [ {limit}/s ]
    quota_jitter: {jitter}ms
    concurrency: 64
    max_wait: 30s
    timeouts: {{ total: 30s }}
    retry: {{ attempts: 5, base: 50ms, max: 1s }}
"#,
        flows = super::hub::flows(&sink.url()),
        vendor = vendor.url(),
        limit = args.limit,
        jitter = args.quota_jitter.as_millis(),
    );
    let mut dirs = Vec::new();
    let mut hubs = Vec::new();
    for _ in 0..nodes {
        let dir = tempfile::tempdir().map_err(|e| e.to_string())?;
        hubs.push(HubProcess::start_with(dir.path(), &db, &body, &[("BENCH_WHSEC", WHSEC)]).await?);
        dirs.push(dir);
    }
    // Let every process take its first shares before the clock runs.
    tokio::time::sleep(Duration::from_secs(2)).await;
    vendor.state.log.clear();
    eprintln!(
        "cluster bench: {nodes} processes on PostgreSQL; {} webhooks/s for {:?} ({total} events of {} B); {} /proxy callers per process against a vendor limited to {}/s",
        args.rate, args.duration, args.payload, args.concurrency, args.limit
    );
    let bases: Vec<String> = hubs.iter().map(|h| h.base.clone()).collect();
    let calls = proxy_load(&bases, &token, args.concurrency);
    let targets: Vec<String> = bases
        .iter()
        .map(|b| format!("{b}/webhooks/bench"))
        .collect();
    let Offered {
        failed,
        elapsed,
        start_ms,
    } = offer(&targets, args.rate, total, args.payload).await?;
    let (ok, refused, proxied_for) = calls.stop().await;
    let accepted = total - failed;
    let deadline = Instant::now() + Duration::from_secs(120);
    while (sink.state.received.snapshot().0 as usize) < accepted && Instant::now() < deadline {
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    let Delivered {
        count,
        per_s,
        p50,
        p99,
    } = delivered(&sink, start_ms);
    let (reached, log) = vendor.state.log.snapshot();
    let arrivals: Vec<u64> = log.iter().map(|r| r.at_us).collect();
    // Over the seconds the vendor was called in (from the first call to the last).
    let span_s = match (arrivals.iter().min(), arrivals.iter().max()) {
        (Some(a), Some(b)) if b > a => (b - a) as f64 / 1e6,
        _ => proxied_for.as_secs_f64(),
    };
    let most = vendor.state.log.most_in_any(Duration::from_secs(1));
    let utilisation = reached as f64 / (f64::from(args.limit) * span_s);
    eprintln!(
        "  intake {:.0}/s ({failed} refused); delivered {count} at {per_s:.0}/s; e2e p50 {p50:.1} ms, p99 {p99:.1} ms",
        accepted as f64 / elapsed.as_secs_f64()
    );
    eprintln!(
        "  /proxy: {ok} answered 200, {refused} not; the vendor saw {reached} calls, at most {most} in any second (limit {}); quota used {:.1} %",
        args.limit,
        utilisation * 100.0
    );
    for h in hubs {
        h.stop();
    }
    let _ = sink.stop().await;
    vendor.stop().await;
    Ok(json!({
        "scenario": "cluster",
        "nodes": nodes,
        "offered_per_s": args.rate,
        "duration_s": args.duration.as_secs_f64(),
        "intake_per_s": (accepted as f64 / elapsed.as_secs_f64()).round(),
        "intake_refused": failed,
        "delivered": count,
        "delivered_per_s": per_s.round(),
        "latency_p50_ms": p50,
        "latency_p99_ms": p99,
        "proxy_ok": ok,
        "proxy_not_ok": refused,
        "vendor_limit_per_s": args.limit,
        "vendor_calls": reached,
        "vendor_most_in_any_second": most,
        "quota_used_pct": (utilisation * 1000.0).round() / 10.0,
        "target": { "vendor_most_in_any_second": format!("<= {}", args.limit), "quota_used_pct": ">= 90" },
        "machine": super::machine(),
    }))
}

/// The vendor: `limit` per second for everyone over a sliding second, draft headers. It runs
/// on a thread and runtime of its own, as a vendor runs on machines of its own: the times it
/// counts calls at are when they reach it, not when the load generator's busy runtime gets
/// round to them.
struct Vendor {
    addr: std::net::SocketAddr,
    state: Arc<junction_mock::MockState>,
    stop: Option<tokio::sync::oneshot::Sender<()>>,
    thread: Option<std::thread::JoinHandle<()>>,
}

impl Vendor {
    fn url(&self) -> String {
        format!("http://{}", self.addr)
    }

    async fn stop(mut self) {
        if let Some(s) = self.stop.take() {
            let _ = s.send(());
        }
        if let Some(t) = self.thread.take() {
            let _ = tokio::task::spawn_blocking(move || t.join()).await;
        }
    }
}

async fn vendor(limit: u32) -> Result<Vendor, String> {
    let config = MockConfig {
        customers: 10,
        record_limit: 2_000_000,
        quotas: QuotaConfig {
            limits: vec![Limit::parse(&format!("{limit}/s:global"))?],
            headers: HeaderStyle::Draft,
            sliding: true,
        },
        ..Default::default()
    };
    let (started_tx, started) = tokio::sync::oneshot::channel();
    let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
    let thread = std::thread::Builder::new()
        .name("bench-vendor".into())
        .spawn(move || {
            let rt = match tokio::runtime::Builder::new_current_thread()
                .enable_all()
                .build()
            {
                Ok(rt) => rt,
                Err(e) => {
                    let _ = started_tx.send(Err(e.to_string()));
                    return;
                }
            };
            rt.block_on(async move {
                match Mock::start(config, "127.0.0.1:0".parse().expect("an address")).await {
                    Ok(mock) => {
                        let _ = started_tx.send(Ok((mock.addr, mock.state.clone())));
                        let _ = stopped.await;
                        let _ = mock.stop().await;
                    }
                    Err(e) => {
                        let _ = started_tx.send(Err(e.to_string()));
                    }
                }
            });
        })
        .map_err(|e| format!("cannot start the vendor's thread: {e}"))?;
    let (addr, state) = started
        .await
        .map_err(|_| "the vendor's thread ended".to_string())?
        .map_err(|e| format!("cannot start the vendor: {e}"))?;
    Ok(Vendor {
        addr,
        state,
        stop: Some(stop),
        thread: Some(thread),
    })
}

/// `/proxy` callers looping until stopped.
struct ProxyLoad {
    stop: Arc<AtomicBool>,
    ok: Arc<AtomicU64>,
    not_ok: Arc<AtomicU64>,
    started: Instant,
    tasks: Vec<tokio::task::JoinHandle<()>>,
}

fn proxy_load(bases: &[String], token: &str, per_node: usize) -> ProxyLoad {
    let client = reqwest::Client::new();
    let (stop, ok, not_ok) = (
        Arc::new(AtomicBool::new(false)),
        Arc::new(AtomicU64::new(0)),
        Arc::new(AtomicU64::new(0)),
    );
    let mut tasks = Vec::new();
    for base in bases {
        for _ in 0..per_node {
            let url = format!("{base}/proxy/crm/customers/cus_000001");
            let (client, token) = (client.clone(), token.to_owned());
            let (stop, ok, not_ok) = (stop.clone(), ok.clone(), not_ok.clone());
            tasks.push(tokio::spawn(async move {
                while !stop.load(Ordering::Relaxed) {
                    let r = client.get(&url).bearer_auth(&token).send().await;
                    match r.map(|r| r.status().as_u16()) {
                        Ok(200) => ok.fetch_add(1, Ordering::Relaxed),
                        _ => not_ok.fetch_add(1, Ordering::Relaxed),
                    };
                }
            }));
        }
    }
    ProxyLoad {
        stop,
        ok,
        not_ok,
        started: Instant::now(),
        tasks,
    }
}

impl ProxyLoad {
    /// Stops the callers; (answered 200, answered otherwise, how long they called).
    async fn stop(self) -> (u64, u64, Duration) {
        self.stop.store(true, Ordering::Relaxed);
        for t in self.tasks {
            let _ = t.await;
        }
        let elapsed = self.started.elapsed();
        (
            self.ok.load(Ordering::Relaxed),
            self.not_ok.load(Ordering::Relaxed),
            elapsed,
        )
    }
}
