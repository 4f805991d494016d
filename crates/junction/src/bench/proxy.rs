//! `junction bench proxy`: the overhead of `/proxy`. The same upstream (the mock, in this
//! process) is loaded by `wrk` at a fixed concurrency three ways, one after the other in one run:
//! directly, through `junction serve` (API-token check, API-key injection, a quota and metrics
//! on), and through nginx as a reverse proxy with upstream keepalive (when nginx is installed).
//! `--rounds N` repeats the three back to back; the figures are medians over the rounds.

use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::time::Duration;

use junction_mock::{AuthConfig, Mock, MockConfig};
use serde_json::{json, Value};

use super::hub::HubProcess;
use super::BenchArgs;

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
    let rounds_n = args.rounds.max(1);
    eprintln!(
        "proxy bench: wrk -t1 -c{c} for {d:?} each, GET {PATH}, {rounds_n} round(s) of direct, junction, nginx"
    );
    let auth = format!("Authorization: Bearer {token}");
    let mut rounds = Vec::with_capacity(rounds_n);
    for round in 1..=rounds_n {
        let direct = wrk(
            &format!("{}{PATH}", mock.url()),
            &format!("X-Api-Key: {KEY}"),
            c,
            d,
        )?;
        eprintln!("  round {round} direct:   {direct}");
        let through = wrk(&format!("{}/proxy/crm{PATH}", hub.base), &auth, c, d)?;
        eprintln!("  round {round} junction: {through}");
        let peer = match &nginx {
            Some(n) => {
                let r = wrk(
                    &format!("http://127.0.0.1:{}{PATH}", n.port),
                    "X-Bench: 1",
                    c,
                    d,
                )?;
                eprintln!("  round {round} nginx:    {r}");
                Some(r)
            }
            None => {
                eprintln!("  nginx: not installed (apt-get install nginx-light), skipped");
                None
            }
        };
        rounds.push(Round {
            direct,
            junction: through,
            nginx: peer,
        });
    }
    let rss = hub.rss_mib();
    hub.stop();
    drop(nginx);
    let summary = summarise(&rounds);
    eprintln!(
        "  median of {rounds_n}: junction/nginx {}, junction added p50 {} ms, p99 {} ms",
        summary["junction_vs_nginx_throughput"],
        summary["junction_added"]["p50_ms"],
        summary["junction_added"]["p99_ms"]
    );
    let mut out = summary;
    out["scenario"] = json!("proxy");
    out["concurrency"] = json!(c);
    out["seconds_each"] = json!(d.as_secs_f64());
    out["rounds"] = Value::Array(
        rounds
            .iter()
            .map(|r| json!({ "direct": r.direct, "junction": r.junction, "nginx": r.nginx }))
            .collect(),
    );
    out["hub_rss_mib"] = json!(rss);
    out["target"] = json!({ "throughput_vs_nginx": 0.7, "added_p99_ms": 1.0 });
    out["machine"] = super::machine();
    Ok(out)
}

/// One round: the same load direct, through Junction and through nginx, back to back.
struct Round {
    direct: Value,
    junction: Value,
    nginx: Option<Value>,
}

/// Each figure's median over the rounds. What a proxy adds is taken within each round (through
/// it minus direct, measured a few seconds apart) before the median: the machine's tail moves
/// from one round to the next by more than the difference being measured.
fn summarise(rounds: &[Round]) -> Value {
    let f = |v: &Value, k: &str| v[k].as_f64().unwrap_or(0.0);
    let median_of = |mut xs: Vec<f64>| -> Value {
        if xs.is_empty() {
            return Value::Null;
        }
        xs.sort_by(f64::total_cmp);
        let n = xs.len();
        let m = if n % 2 == 1 {
            xs[n / 2]
        } else {
            (xs[n / 2 - 1] + xs[n / 2]) / 2.0
        };
        json!((m * 1000.0).round() / 1000.0)
    };
    let figures = |pick: &dyn Fn(&Round) -> Option<&Value>| -> Value {
        let mut o = serde_json::Map::new();
        for k in ["rps", "p50_ms", "p75_ms", "p90_ms", "p99_ms"] {
            o.insert(
                k.into(),
                median_of(rounds.iter().filter_map(pick).map(|v| f(v, k)).collect()),
            );
        }
        Value::Object(o)
    };
    let added = |pick: &dyn Fn(&Round) -> Option<&Value>| -> Value {
        let diff = |k: &str| -> Vec<f64> {
            rounds
                .iter()
                .filter_map(|r| pick(r).map(|v| f(v, k) - f(&r.direct, k)))
                .collect()
        };
        json!({ "p50_ms": median_of(diff("p50_ms")), "p99_ms": median_of(diff("p99_ms")) })
    };
    let has_nginx = rounds.iter().any(|r| r.nginx.is_some());
    json!({
        "direct": figures(&|r| Some(&r.direct)),
        "junction": figures(&|r| Some(&r.junction)),
        "junction_added": added(&|r| Some(&r.junction)),
        "nginx": if has_nginx { figures(&|r| r.nginx.as_ref()) } else { Value::Null },
        "nginx_added": if has_nginx { added(&|r| r.nginx.as_ref()) } else { Value::Null },
        "junction_vs_nginx_throughput": median_of(
            rounds
                .iter()
                .filter_map(|r| r.nginx.as_ref().map(|n| f(&r.junction, "rps") / f(n, "rps").max(1.0)))
                .collect()
        ),
        "non_2xx": rounds.iter().map(|r| f(&r.junction, "non_2xx")).sum::<f64>(),
    })
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
