//! `junction bench proxy`: the overhead of `/proxy`. The same upstream (the mock, in this
//! process) is loaded by `wrk` at a fixed concurrency three ways, one after the other in one run:
//! directly, through `junction serve` (API-token check, API-key injection, a quota and metrics
//! on), and through nginx as a reverse proxy with upstream keepalive (when nginx is installed).

use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::time::Duration;

use junction_mock::{AuthConfig, Mock, MockConfig};
use serde_json::{json, Value};

use super::hub::HubProcess;
use crate::cli::BenchArgs;

const KEY: &str = "mock_key_1";
const PATH: &str = "/v2/customers/cus_000001";

pub async fn run(args: &BenchArgs) -> Result<Value, String> {
    which("wrk").ok_or("`junction bench proxy` drives the load with wrk: apt-get install wrk")?;
    let mock = Mock::start(
        MockConfig {
            customers: 10,
            record_limit: 1_000,
            auth: AuthConfig {
                required: true,
                ..Default::default()
            },
            ..Default::default()
        },
        "127.0.0.1:0".parse().map_err(|e| format!("{e}"))?,
    )
    .await
    .map_err(|e| format!("cannot start the upstream: {e}"))?;
    let dir = tempfile::tempdir().map_err(|e| e.to_string())?;
    let db = format!("sqlite://{}", dir.path().join("hub.db").display());
    let token = super::quota::api_token(&db).await?;
    let body = format!(
        r#"
connectors:
  crm:
    base_url: "{}"
    auth: {{ kind: api_key, header: X-Api-Key, key: env:BENCH_KEY }}
    quotas: [ 1000000/s ]
    concurrency: 256
"#,
        mock.url()
    );
    let hub = HubProcess::start_with(dir.path(), &db, &body, &[("BENCH_KEY", KEY)]).await?;
    let nginx = Nginx::start(dir.path(), mock.addr.port())?;
    let c = args.concurrency;
    let d = args.duration;
    eprintln!("proxy bench: wrk -t1 -c{c} for {d:?} each, GET {PATH}");
    let direct = wrk(
        &format!("{}{PATH}", mock.url()),
        &format!("X-Api-Key: {KEY}"),
        c,
        d,
    )?;
    eprintln!("  direct:   {direct}");
    let auth = format!("Authorization: Bearer {token}");
    let through = wrk(&format!("{}/proxy/crm{PATH}", hub.base), &auth, c, d)?;
    eprintln!("  junction: {through}");
    let peer = match &nginx {
        Some(n) => {
            let r = wrk(
                &format!("http://127.0.0.1:{}{PATH}", n.port),
                "X-Bench: 1",
                c,
                d,
            )?;
            eprintln!("  nginx:    {r}");
            Some(r)
        }
        None => {
            eprintln!("  nginx:    not installed (apt-get install nginx-light), skipped");
            None
        }
    };
    let rss = hub.rss_mib();
    hub.stop();
    drop(nginx);
    let added = |r: &Value| {
        json!({
            "p50_ms": r["p50_ms"].as_f64().unwrap_or(0.0) - direct["p50_ms"].as_f64().unwrap_or(0.0),
            "p99_ms": r["p99_ms"].as_f64().unwrap_or(0.0) - direct["p99_ms"].as_f64().unwrap_or(0.0),
        })
    };
    let ratio = peer
        .as_ref()
        .map(|p| through["rps"].as_f64().unwrap_or(0.0) / p["rps"].as_f64().unwrap_or(1.0));
    Ok(json!({
        "scenario": "proxy",
        "concurrency": c,
        "seconds_each": d.as_secs_f64(),
        "direct": direct,
        "junction": through,
        "junction_added": added(&through),
        "nginx": peer,
        "nginx_added": peer.as_ref().map(added),
        "junction_vs_nginx_throughput": ratio,
        "hub_rss_mib": rss,
        "target": { "throughput_vs_nginx": 0.7, "added_p99_ms": 1.0 },
        "machine": super::machine(),
    }))
}

fn which(bin: &str) -> Option<std::path::PathBuf> {
    std::env::var_os("PATH")?
        .to_str()?
        .split(':')
        .map(|d| Path::new(d).join(bin))
        .chain([Path::new("/usr/sbin").join(bin)])
        .find(|p| p.is_file())
}

/// Runs wrk for `d` (after a 2 s warm-up) and reads requests/s and latency percentiles.
fn wrk(url: &str, header: &str, connections: usize, d: Duration) -> Result<Value, String> {
    let run = |secs: u64| -> Result<String, String> {
        let out = Command::new("wrk")
            .args([
                "-t1",
                &format!("-c{connections}"),
                &format!("-d{secs}s"),
                "--latency",
                "-H",
                header,
                url,
            ])
            .output()
            .map_err(|e| format!("cannot run wrk: {e}"))?;
        Ok(String::from_utf8_lossy(&out.stdout).into_owned())
    };
    run(2)?;
    let text = run(d.as_secs().max(1))?;
    let field = |prefix: &str| -> Option<f64> {
        text.lines()
            .map(str::trim)
            .find(|l| l.starts_with(prefix))
            .and_then(|l| l.split_whitespace().nth(1))
            .and_then(parse_ms)
    };
    let rps = text
        .lines()
        .find(|l| l.starts_with("Requests/sec:"))
        .and_then(|l| l.split_whitespace().nth(1))
        .and_then(|v| v.parse::<f64>().ok())
        .ok_or_else(|| format!("unexpected wrk output:\n{text}"))?;
    let errors = text
        .lines()
        .find(|l| l.contains("Non-2xx or 3xx responses:"))
        .and_then(|l| l.split_whitespace().last())
        .and_then(|v| v.parse::<u64>().ok())
        .unwrap_or(0);
    Ok(json!({
        "rps": rps.round(),
        "p50_ms": field("50%"),
        "p75_ms": field("75%"),
        "p90_ms": field("90%"),
        "p99_ms": field("99%"),
        "non_2xx": errors,
    }))
}

/// `1.23ms`, `456.00us`, `1.01s` → milliseconds.
fn parse_ms(v: &str) -> Option<f64> {
    let (num, factor) = if let Some(n) = v.strip_suffix("us") {
        (n, 0.001)
    } else if let Some(n) = v.strip_suffix("ms") {
        (n, 1.0)
    } else if let Some(n) = v.strip_suffix('s') {
        (n, 1000.0)
    } else {
        return None;
    };
    num.parse::<f64>().ok().map(|n| n * factor)
}

/// nginx as a reverse proxy with upstream keepalive, adding the same credential header.
struct Nginx {
    child: Child,
    port: u16,
}

impl Nginx {
    fn start(dir: &Path, upstream: u16) -> Result<Option<Self>, String> {
        let Some(bin) = which("nginx") else {
            return Ok(None);
        };
        let port = std::net::TcpListener::bind("127.0.0.1:0")
            .and_then(|l| l.local_addr())
            .map_err(|e| e.to_string())?
            .port();
        let d = dir.display();
        let user = if std::process::id() > 0 && is_root() {
            "user root;"
        } else {
            ""
        };
        let conf = format!(
            r#"{user}
worker_processes auto;
daemon off;
pid {d}/nginx.pid;
error_log {d}/nginx-error.log warn;
events {{ worker_connections 4096; }}
http {{
  access_log off;
  client_body_temp_path {d}/nginx-body;
  proxy_temp_path {d}/nginx-proxy;
  upstream up {{ server 127.0.0.1:{upstream}; keepalive 64; }}
  server {{
    listen 127.0.0.1:{port};
    location / {{
      proxy_pass http://up;
      proxy_http_version 1.1;
      proxy_set_header Connection "";
      proxy_set_header X-Api-Key {KEY};
    }}
  }}
}}
"#
        );
        let path = dir.join("nginx.conf");
        std::fs::write(&path, conf).map_err(|e| e.to_string())?;
        let child = Command::new(bin)
            .arg("-c")
            .arg(&path)
            .arg("-p")
            .arg(dir)
            .stdout(Stdio::null())
            .stderr(Stdio::inherit())
            .spawn()
            .map_err(|e| format!("cannot start nginx: {e}"))?;
        let deadline = std::time::Instant::now() + Duration::from_secs(10);
        while std::net::TcpStream::connect(("127.0.0.1", port)).is_err() {
            if std::time::Instant::now() > deadline {
                return Err("nginx did not start listening".into());
            }
            std::thread::sleep(Duration::from_millis(50));
        }
        Ok(Some(Self { child, port }))
    }
}

fn is_root() -> bool {
    Command::new("id")
        .arg("-u")
        .output()
        .map(|o| String::from_utf8_lossy(&o.stdout).trim() == "0")
        .unwrap_or(false)
}

impl Drop for Nginx {
    /// SIGTERM to the master stops its workers too (SIGKILL would leave them running).
    fn drop(&mut self) {
        let _ = Command::new("kill")
            .args(["-TERM", &self.child.id().to_string()])
            .status();
        let deadline = std::time::Instant::now() + Duration::from_secs(10);
        while std::time::Instant::now() < deadline {
            if let Ok(Some(_)) = self.child.try_wait() {
                return;
            }
            std::thread::sleep(Duration::from_millis(50));
        }
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}
