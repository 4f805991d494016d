//! `junction demo`: the hub, the mock provider and a traffic generator, with a config that uses
//! every capability, and a story told in phases: a flaky destination that goes down and comes
//! back, a rate-limited OAuth API called faster than it allows, the API failing for a while, a
//! vendor renaming a webhook field. The dashboard shows each as it happens.

use std::path::Path;
use std::process::{Child, Command, ExitCode, Stdio};
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering::Relaxed};
use std::sync::Arc;
use std::time::Duration;

use clap::Args;
use junction_mock::{AuthConfig, Chaos, HeaderStyle, Limit, Mock, MockConfig, QuotaConfig, Scheme};
use serde_json::json;
use std::path::PathBuf;

#[derive(Args, Debug)]
pub struct DemoArgs {
    /// Where the hub listens.
    #[arg(long, default_value = "127.0.0.1:8080")]
    pub listen: String,
    /// Keep the demo's database, config and log here (default: a temporary folder).
    #[arg(long)]
    pub dir: Option<PathBuf>,
    /// Stop after this long (default: at Ctrl-C).
    #[arg(long)]
    pub duration: Option<String>,
    /// Run the story four times faster (for tests).
    #[arg(long, hide = true)]
    pub fast: bool,
}

const WHSEC: &str = "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw";
const TEMPLATE: &str = include_str!("demo.yaml");

/// The hub child: stopped with SIGTERM (then killed) when the demo ends.
struct Hub(Child);

impl Drop for Hub {
    fn drop(&mut self) {
        let _ = Command::new("kill")
            .args(["-TERM", &self.0.id().to_string()])
            .status();
        for _ in 0..50 {
            if let Ok(Some(_)) = self.0.try_wait() {
                return;
            }
            std::thread::sleep(Duration::from_millis(100));
        }
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

pub async fn run(args: DemoArgs) -> ExitCode {
    match demo(args).await {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("error: {e}");
            ExitCode::from(super::EXIT_FAILURE)
        }
    }
}

async fn demo(args: DemoArgs) -> Result<(), String> {
    // Listen for Ctrl-C and SIGTERM before anything starts, so the hub child is never left
    // running by a signal that arrives early.
    let mut stop_signal = StopSignal::new()?;
    let pace = if args.fast { 0.25 } else { 1.0 };
    let duration = args
        .duration
        .as_deref()
        .map(humantime::parse_duration)
        .transpose()
        .map_err(|e| format!("invalid --duration: {e}"))?;
    let (dir, _keep) = match &args.dir {
        Some(d) => {
            std::fs::create_dir_all(d)
                .map_err(|e| format!("cannot create {}: {e}", d.display()))?;
            (d.clone(), None)
        }
        None => {
            let t = tempfile::Builder::new()
                .prefix("junction-demo-")
                .tempdir()
                .map_err(|e| e.to_string())?;
            (t.path().to_path_buf(), Some(t))
        }
    };
    let mock = Mock::start(
        MockConfig {
            customers: 200,
            auth: AuthConfig {
                required: true,
                ..Default::default()
            },
            quotas: QuotaConfig {
                limits: vec![Limit {
                    limit: 5,
                    window: Duration::from_secs(1),
                    per_key: false,
                }],
                headers: HeaderStyle::Draft,
                sliding: false,
            },
            sink: flaky(),
            ..Default::default()
        },
        "127.0.0.1:0".parse().expect("an address"),
    )
    .await
    .map_err(|e| format!("cannot start the mock provider: {e}"))?;
    let every = if args.fast { "2s" } else { "5s" };
    let config = TEMPLATE
        .replace("{MOCK}", &mock.url())
        .replace("{LISTEN}", &args.listen)
        .replace("{DIR}", &dir.display().to_string())
        .replace("{EVERY}", every);
    let path = dir.join("demo.yaml");
    std::fs::write(&path, config).map_err(|e| format!("cannot write {}: {e}", path.display()))?;
    let master = junction_vault::Keyring::generate(1).map_err(|e| e.to_string())?;
    let env: Vec<(&str, String)> = vec![
        ("JUNCTION_MASTER_KEY", master.to_string()),
        ("DEMO_WHSEC", WHSEC.into()),
        ("DEMO_CLIENT_SECRET", "mock_secret".into()),
        ("DEMO_API_KEY", "mock_key_1".into()),
    ];
    let exe = std::env::current_exe().map_err(|e| e.to_string())?;
    let token = proxy_token(&exe, &path, &env)?;
    let log_path = dir.join("junction.log");
    let log = std::fs::File::create(&log_path).map_err(|e| e.to_string())?;
    let mut cmd = Command::new(&exe);
    cmd.args(["serve", "--config"])
        .arg(&path)
        .env_remove("JUNCTION_ADMIN_TOKEN")
        .env_remove("JUNCTION_DATABASE_URL")
        .env("JUNCTION_LOG", "info")
        .stdout(Stdio::null())
        .stderr(log);
    for (k, v) in &env {
        cmd.env(k, v);
    }
    let hub = Hub(cmd
        .spawn()
        .map_err(|e| format!("cannot start the hub: {e}"))?);
    let base = format!("http://{}", args.listen);
    wait_ready(&base).await?;

    println!();
    println!("  Junction demo is running.");
    println!();
    println!("  Dashboard   {base}/ui/          (no sign-in needed from this machine)");
    println!("  Admin API   {base}/api/v1/…     Metrics  {base}/metrics");
    println!("  Mock vendor {}", mock.url());
    println!("  CLI         export JUNCTION_SERVER={base}   (then `junction status`, `junction events list`, `junction dlq list`)");
    println!(
        "  Files       {}  (config demo.yaml, log junction.log)",
        dir.display()
    );
    println!();
    println!("  Ctrl-C stops everything.");
    println!();

    let state = Arc::new(Traffic::default());
    let http = reqwest::Client::builder()
        .timeout(Duration::from_secs(10))
        .build()
        .map_err(|e| e.to_string())?;
    let tasks = vec![
        tokio::spawn(webhooks(http.clone(), base.clone(), state.clone())),
        tokio::spawn(api_calls(http.clone(), base.clone(), token, state.clone())),
        tokio::spawn(story(http.clone(), mock.url(), state.clone(), pace)),
        tokio::spawn(report(state.clone(), pace)),
    ];
    let stop = async {
        match duration {
            Some(d) => tokio::time::sleep(d).await,
            // Ctrl-C or SIGTERM: either way the hub child is stopped below.
            None => stop_signal.recv().await,
        }
    };
    stop.await;
    for t in tasks {
        t.abort();
    }
    println!("\n  stopping…");
    drop(hub);
    let _ = mock.stop().await;
    if args.dir.is_none() {
        println!("  the demo's files are removed; pass --dir DIR to keep them");
    }
    Ok(())
}

/// Ctrl-C or SIGTERM, registered when created (not when first awaited).
struct StopSignal {
    #[cfg(unix)]
    term: tokio::signal::unix::Signal,
    #[cfg(unix)]
    int: tokio::signal::unix::Signal,
}

impl StopSignal {
    fn new() -> Result<Self, String> {
        #[cfg(unix)]
        {
            use tokio::signal::unix::{signal, SignalKind};
            let e = |e: std::io::Error| format!("cannot listen for signals: {e}");
            Ok(Self {
                term: signal(SignalKind::terminate()).map_err(e)?,
                int: signal(SignalKind::interrupt()).map_err(e)?,
            })
        }
        #[cfg(not(unix))]
        Ok(Self {})
    }

    async fn recv(&mut self) {
        #[cfg(unix)]
        tokio::select! {
            _ = self.term.recv() => {}
            _ = self.int.recv() => {}
        }
        #[cfg(not(unix))]
        let _ = tokio::signal::ctrl_c().await;
    }
}

/// The destination's usual behaviour: 30% of deliveries fail.
fn flaky() -> Chaos {
    Chaos {
        errors: vec![(500, 0.3)],
        seed: 7,
        ..Default::default()
    }
}

fn proxy_token(exe: &Path, config: &Path, env: &[(&str, String)]) -> Result<String, String> {
    let mut cmd = Command::new(exe);
    cmd.args([
        "tokens",
        "create",
        "demo-traffic",
        "--scope",
        "proxy:*:*",
        "--config",
    ])
    .arg(config)
    .env_remove("JUNCTION_DATABASE_URL");
    for (k, v) in env {
        cmd.env(k, v);
    }
    let out = cmd.output().map_err(|e| e.to_string())?;
    if !out.status.success() {
        return Err(format!(
            "cannot create the demo's API token: {}",
            String::from_utf8_lossy(&out.stderr)
        ));
    }
    Ok(String::from_utf8_lossy(&out.stdout).trim().to_owned())
}

async fn wait_ready(base: &str) -> Result<(), String> {
    let http = reqwest::Client::new();
    for _ in 0..150 {
        if let Ok(r) = http.get(format!("{base}/readyz")).send().await {
            if r.status().is_success() {
                return Ok(());
            }
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    Err(format!(
        "the hub did not become ready at {base}; see its log"
    ))
}

/// What the generator did, and the vendor's current mood.
#[derive(Default)]
struct Traffic {
    /// Webhook requests sent; each ends as one of the three below (or is still in flight).
    sent: AtomicU64,
    /// Stored as a new event (202).
    stored: AtomicU64,
    /// Recognised as a delivery the hub already had (200).
    duplicates: AtomicU64,
    /// Refused, or no answer.
    refused: AtomicU64,
    calls_ok: AtomicU64,
    calls_429: AtomicU64,
    calls_failed: AtomicU64,
    /// The vendor has renamed `email` to `email_address` in its webhooks.
    renamed: AtomicBool,
}

/// Webhooks at 8/s over 20 customers: 10% sent twice, every 7th pair swapped.
async fn webhooks(http: reqwest::Client, base: String, t: Arc<Traffic>) {
    let url = format!("{base}/webhooks/shop");
    let mut seq = [0i64; 20];
    let mut held: Option<(String, Vec<u8>)> = None;
    let mut tick = tokio::time::interval(Duration::from_millis(125));
    for n in 1u64.. {
        tick.tick().await;
        let k = (n * 7 % 20) as usize;
        seq[k] += 1;
        let id = format!("evt_demo_{n:07}");
        let customer = format!("cus_{:06}", k + 1);
        let mut object =
            json!({ "id": customer, "name": format!("Customer {}", k + 1), "plan": "pro" });
        let email = format!("customer{}@example.com", k + 1);
        if t.renamed.load(Relaxed) {
            object["email_address"] = email.into();
        } else {
            object["email"] = email.into();
        }
        let kind = if n % 5 == 0 {
            "invoice.paid"
        } else {
            "customer.updated"
        };
        let body = json!({
            "id": id, "type": kind, "created": junction_core::time::now_ms() / 1000,
            "sequence": seq[k], "data": { "object": object },
        });
        let body = serde_json::to_vec(&body).unwrap_or_default();
        let mut batch = Vec::new();
        if n % 7 == 0 {
            held = Some((id, body));
            continue;
        }
        batch.push((id.clone(), body.clone()));
        if let Some(h) = held.take() {
            batch.push(h); // arrives after a newer one
        }
        if n % 10 == 3 {
            batch.push((id, body));
        }
        for (id, body) in batch {
            let (http, url, t) = (http.clone(), url.clone(), t.clone());
            tokio::spawn(async move {
                let ts = junction_core::time::now_ms() / 1000;
                let Ok(headers) =
                    junction_mock::sign(&Scheme::StandardWebhooks, WHSEC, &id, ts, &body)
                else {
                    return;
                };
                let mut req = http.post(&url).body(body);
                for (k, v) in headers {
                    req = req.header(k, v);
                }
                t.sent.fetch_add(1, Relaxed);
                let outcome = match req.send().await.map(|r| r.status()) {
                    Ok(reqwest::StatusCode::ACCEPTED) => &t.stored,
                    Ok(reqwest::StatusCode::OK) => &t.duplicates,
                    _ => &t.refused,
                };
                outcome.fetch_add(1, Relaxed);
            });
        }
    }
}

/// Internal services calling the vendor through /proxy: 8 GETs/s against a 5/s quota, the
/// deprecated /v1 and the SOAP service now and then.
async fn api_calls(http: reqwest::Client, base: String, token: String, t: Arc<Traffic>) {
    let mut tick = tokio::time::interval(Duration::from_millis(125));
    for n in 0u64.. {
        tick.tick().await;
        let req = match n % 24 {
            0 => http.get(format!("{base}/proxy/legacy/customers/cus_000001")),
            12 => http
                .post(format!("{base}/proxy/erp/GetCustomer"))
                .json(&json!({ "customer_id": format!("cus_{:06}", n % 200 + 1) })),
            _ => http.get(format!(
                "{base}/proxy/crm/customers/cus_{:06}",
                n * 13 % 200 + 1
            )),
        };
        let (req, t) = (req.bearer_auth(&token), t.clone());
        tokio::spawn(async move {
            let counter = match req.send().await.map(|r| r.status().as_u16()) {
                Ok(200..=299) => &t.calls_ok,
                Ok(429) => &t.calls_429,
                _ => &t.calls_failed,
            };
            counter.fetch_add(1, Relaxed);
        });
    }
}

/// The phases of the story, repeated.
async fn story(http: reqwest::Client, mock: String, t: Arc<Traffic>, pace: f64) {
    let put = |what: &'static str, chaos: serde_json::Value| {
        let (http, url) = (http.clone(), format!("{mock}/_mock/{what}"));
        async move {
            let _ = http.put(url).json(&chaos).send().await;
        }
    };
    let at = |s: f64| Duration::from_secs_f64(s * pace);
    loop {
        say("traffic flows: webhooks with duplicates and out-of-order events; API calls above the vendor's 5/s quota; crm-sync fails 30% of deliveries (retries)");
        tokio::time::sleep(at(15.0)).await;
        say("crm-sync and analytics go DOWN (every delivery answered 503): their circuits open, deliveries wait for probes, dead letters appear");
        put("sink", json!({ "errors": [[503, 1.0]] })).await;
        tokio::time::sleep(at(12.0)).await;
        say("the destinations are BACK: their backlogs drain at once");
        put("sink", json!({ "errors": [[500, 0.3]], "seed": 7 })).await;
        tokio::time::sleep(at(5.0)).await;
        say("the vendor RENAMES `email` to `email_address` in its webhooks: drift is recorded, customer events that break customer_event@1 are quarantined");
        t.renamed.store(true, Relaxed);
        tokio::time::sleep(at(13.0)).await;
        say("the vendor reverts the rename (replay the quarantined events from the dashboard)");
        t.renamed.store(false, Relaxed);
        say("the CRM API starts FAILING (60% 503): the connector's circuit opens, the error-rate alert fires");
        put("chaos", json!({ "errors": [[503, 0.6]] })).await;
        tokio::time::sleep(at(12.0)).await;
        say("the CRM API recovers");
        put("chaos", json!({})).await;
        tokio::time::sleep(at(5.0)).await;
    }
}

async fn report(t: Arc<Traffic>, pace: f64) {
    let mut tick = tokio::time::interval(Duration::from_secs_f64(10.0 * pace));
    tick.tick().await;
    loop {
        tick.tick().await;
        let (stored, duplicates, refused) = (
            t.stored.load(Relaxed),
            t.duplicates.load(Relaxed),
            t.refused.load(Relaxed),
        );
        let sent = t.sent.load(Relaxed);
        let waiting = sent.saturating_sub(stored + duplicates + refused);
        say(&format!(
            "webhooks sent {sent} = {stored} stored + {duplicates} duplicates dropped + {refused} refused{} · API calls ok {}, refused 429 {}, failed {}",
            if waiting > 0 { format!(" + {waiting} in flight") } else { String::new() },
            t.calls_ok.load(Relaxed),
            t.calls_429.load(Relaxed),
            t.calls_failed.load(Relaxed),
        ));
    }
}

fn say(s: &str) {
    let now = junction_core::time::now_ms() / 1000 % 86_400;
    println!(
        "  [{:02}:{:02}:{:02}] {s}",
        now / 3600,
        now % 3600 / 60,
        now % 60
    );
}
