//! What the hub benchmarks share: the hub as a child process (`junction serve`, measured from the
//! outside, as users run it), the mock beside it as the destination, signed requests, RSS.

use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use junction_mock::{Mock, MockConfig, Scheme};

pub const WHSEC: &str = "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw";

/// Source `bench` (Standard Webhooks, secret `BENCH_WHSEC`) routed to the mock's sink: the
/// event path every hub benchmark measures. `JUNCTION_BENCH_TYPES` narrows the route's types;
/// `JUNCTION_BENCH_SUBJECT` (a jq expression, e.g. `.data.object.id`) indexes each event by its
/// data subject, for erasure; `JUNCTION_BENCH_ENCRYPT=1` seals its payloads at rest (set
/// `JUNCTION_MASTER_KEY` too).
pub fn flows(sink: &str) -> String {
    let types = std::env::var("JUNCTION_BENCH_TYPES").unwrap_or_else(|_| "*".into());
    let subject = match std::env::var("JUNCTION_BENCH_SUBJECT") {
        Ok(s) if !s.is_empty() => format!("\n    event: {{ subject: {} }}", serde_json::json!(s)),
        _ => String::new(),
    };
    let subject = if std::env::var("JUNCTION_BENCH_ENCRYPT").is_ok_and(|v| v == "1") {
        format!("{subject}\n    encrypt_payloads: true")
    } else {
        subject
    };
    format!(
        r#"
sources:
  bench:
    kind: webhook
    verify: {{ preset: standard_webhooks, secrets: [ env:BENCH_WHSEC ] }}{subject}
destinations:
  sink:
    url: "{sink}/sink/bench"
    concurrency: 64
routes:
  all:
    from: bench
    types: [ "{types}" ]
    to: [ sink ]
"#
    )
}

/// A hub running as a child process.
pub struct HubProcess {
    pub child: Child,
    pub base: String,
}

impl HubProcess {
    /// Starts `junction serve` with a config routing source `bench` to the mock's sink.
    pub async fn start(dir: &Path, database_url: &str, sink: &str) -> Result<Self, String> {
        Self::start_with(dir, database_url, &flows(sink), &[("BENCH_WHSEC", WHSEC)]).await
    }

    /// Starts `junction serve` with `body` (the config below `server` and `telemetry`) and
    /// extra environment variables. Inbound rate limits are set far above what a benchmark
    /// sends: it measures the hub, not its protection from one caller (the check still runs).
    pub async fn start_with(
        dir: &Path,
        database_url: &str,
        body: &str,
        env: &[(&str, &str)],
    ) -> Result<Self, String> {
        let port = std::net::TcpListener::bind("127.0.0.1:0")
            .and_then(|l| l.local_addr())
            .map_err(|e| e.to_string())?
            .port();
        let yaml = format!(
            "server:\n  listen: 127.0.0.1:{port}\n  body_limit: 64KiB\n  request_timeout: 150s\n  rate_limits: {{ per_source: [ 1000000/s ], per_token: [ 1000000/s ] }}\ntelemetry:\n  log_level: warn\n  log_format: json\n{body}"
        );
        let config = dir.join("junction.yaml");
        std::fs::write(&config, yaml).map_err(|e| e.to_string())?;
        let exe = std::env::current_exe().map_err(|e| e.to_string())?;
        let child = Command::new(exe)
            .args(["serve", "--config"])
            .arg(&config)
            .env("JUNCTION_DATABASE_URL", database_url)
            .envs(env.iter().copied())
            .env_remove("JUNCTION_LOG")
            .stdout(Stdio::null())
            .stderr(Stdio::inherit())
            .spawn()
            .map_err(|e| format!("cannot start the hub: {e}"))?;
        let base = format!("http://127.0.0.1:{port}");
        let client = reqwest::Client::new();
        let deadline = Instant::now() + Duration::from_secs(30);
        loop {
            if let Ok(r) = client.get(format!("{base}/readyz")).send().await {
                if r.status().is_success() {
                    break;
                }
            }
            if Instant::now() > deadline {
                return Err("the hub did not become ready".into());
            }
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
        Ok(Self { child, base })
    }

    /// Resident memory of the hub process, in MiB.
    pub fn rss_mib(&self) -> f64 {
        rss_mib(self.child.id())
    }

    pub fn stop(mut self) {
        let _ = Command::new("kill")
            .args(["-TERM", &self.child.id().to_string()])
            .status();
        let deadline = Instant::now() + Duration::from_secs(20);
        while Instant::now() < deadline {
            if let Ok(Some(_)) = self.child.try_wait() {
                return;
            }
            std::thread::sleep(Duration::from_millis(50));
        }
        let _ = self.child.kill();
    }
}

pub fn rss_mib(pid: u32) -> f64 {
    std::fs::read_to_string(format!("/proc/{pid}/status"))
        .ok()
        .and_then(|s| {
            s.lines()
                .find(|l| l.starts_with("VmRSS:"))
                .and_then(|l| l.split_whitespace().nth(1))
                .and_then(|kb| kb.parse::<f64>().ok())
        })
        .map(|kb| kb / 1024.0)
        .unwrap_or(0.0)
}

/// Samples a process's RSS until stopped; returns the peak.
pub struct RssSampler {
    stop: std::sync::Arc<std::sync::atomic::AtomicBool>,
    handle: std::thread::JoinHandle<f64>,
}

impl RssSampler {
    pub fn start(pid: u32) -> Self {
        let stop = std::sync::Arc::new(std::sync::atomic::AtomicBool::new(false));
        let s = stop.clone();
        let handle = std::thread::spawn(move || {
            let mut peak: f64 = 0.0;
            while !s.load(std::sync::atomic::Ordering::Relaxed) {
                peak = peak.max(rss_mib(pid));
                std::thread::sleep(Duration::from_millis(100));
            }
            peak
        });
        Self { stop, handle }
    }

    pub fn peak(self) -> f64 {
        self.stop.store(true, std::sync::atomic::Ordering::Relaxed);
        self.handle.join().unwrap_or(0.0)
    }
}

/// The mock as the destination, recording up to `records` deliveries.
pub async fn sink(records: usize) -> Result<Mock, String> {
    Mock::start(
        MockConfig {
            customers: 1,
            record_limit: records,
            ..Default::default()
        },
        "127.0.0.1:0".parse().map_err(|e| format!("{e}"))?,
    )
    .await
    .map_err(|e| format!("cannot start the sink: {e}"))
}

/// A signed Standard Webhooks request body of about `payload` bytes for event `n`.
pub fn signed(n: usize, payload: usize, sent_ms: f64) -> (String, Vec<(String, String)>) {
    let id = format!("evt_{n:010}");
    let head = format!(
        r#"{{"id":"{id}","type":"customer.updated","sent_ms":{sent_ms:.3},"data":{{"object":{{"id":"cus_{}"}}}},"pad":""#,
        n % 1000
    );
    let pad = payload.saturating_sub(head.len() + 2);
    let body = format!("{head}{}\"}}", "x".repeat(pad));
    let ts = junction_core::time::now_ms() / 1000;
    let headers = junction_mock::sign(&Scheme::StandardWebhooks, WHSEC, &id, ts, body.as_bytes())
        .unwrap_or_default();
    (body, headers)
}

/// Unix time in ms with µs precision.
pub fn now_ms_f() -> f64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_secs_f64() * 1000.0)
        .unwrap_or(0.0)
}

/// The database for one backend: a fresh SQLite file in `dir`, or the bench PostgreSQL database
/// (dropped and recreated).
pub async fn database(backend: crate::bench::BackendArg, dir: &Path) -> Result<String, String> {
    match backend {
        crate::bench::BackendArg::Sqlite => {
            Ok(format!("sqlite://{}", dir.join("hub.db").display()))
        }
        crate::bench::BackendArg::Postgres => super::store::fresh_postgres().await,
    }
}

/// Runs job `job` now through the admin API (token `admin`) and waits for a run newer than
/// `after` to finish: the run, or why it failed.
pub async fn run_job(
    hub: &HubProcess,
    admin: &str,
    job: &str,
    after: i64,
) -> Result<serde_json::Value, String> {
    let client = reqwest::Client::new();
    let r = client
        .post(format!("{}/api/v1/jobs/{job}/run", hub.base))
        .bearer_auth(admin)
        .send()
        .await
        .map_err(|e| e.to_string())?;
    if !r.status().is_success() {
        return Err(format!("running the job answered {}", r.status()));
    }
    loop {
        let d: serde_json::Value = client
            .get(format!("{}/api/v1/jobs/{job}", hub.base))
            .bearer_auth(admin)
            .send()
            .await
            .map_err(|e| e.to_string())?
            .json()
            .await
            .map_err(|e| e.to_string())?;
        let runs = d["runs"].as_array().cloned().unwrap_or_default();
        if let Some(run) = runs
            .iter()
            .find(|r| r["id"].as_i64() > Some(after) && r["state"] != "running")
        {
            if run["state"] != "succeeded" {
                return Err(format!("the run failed: {run}"));
            }
            return Ok(run.clone());
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}
