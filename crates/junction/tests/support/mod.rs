//! Running the real `junction` binary as a child process.

#![allow(dead_code)]

pub mod browser;
pub mod certs;

use std::io::Read;
use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

pub fn bin() -> Command {
    Command::new(env!("CARGO_BIN_EXE_junction"))
}

pub fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

/// A running `junction serve` with its output captured.
pub struct Served {
    pub child: Child,
    pub base: String,
    pub output: Arc<Mutex<String>>,
}

fn capture(mut r: impl Read + Send + 'static, into: Arc<Mutex<String>>) {
    std::thread::spawn(move || {
        let mut buf = [0u8; 8192];
        while let Ok(n) = r.read(&mut buf) {
            if n == 0 {
                break;
            }
            into.lock()
                .unwrap()
                .push_str(&String::from_utf8_lossy(&buf[..n]));
        }
    });
}

impl Served {
    /// Starts `junction serve --config CONFIG` with `env`, and waits until `/healthz` answers.
    pub fn start(config: &Path, env: &[(&str, &str)]) -> Served {
        Self::start_on(config, env, free_port())
    }

    /// Like [`Served::start`], on a given port (a restarted hub keeps its address).
    pub fn start_on(config: &Path, env: &[(&str, &str)], port: u16) -> Served {
        let mut cmd = bin();
        cmd.args(["serve", "--config"])
            .arg(config)
            .args(["--listen", &format!("127.0.0.1:{port}")]);
        cmd.env_remove("JUNCTION_DATABASE_URL")
            .env_remove("JUNCTION_LOG");
        for (k, v) in env {
            cmd.env(k, v);
        }
        let mut child = cmd
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .unwrap();
        let output = Arc::new(Mutex::new(String::new()));
        capture(child.stdout.take().unwrap(), output.clone());
        capture(child.stderr.take().unwrap(), output.clone());
        let base = format!("http://127.0.0.1:{port}");
        let deadline = Instant::now() + Duration::from_secs(20);
        loop {
            if let Ok(Some(status)) = child.try_wait() {
                panic!(
                    "junction exited early with {status}:\n{}",
                    output.lock().unwrap()
                );
            }
            if std::net::TcpStream::connect(("127.0.0.1", port)).is_ok() {
                break;
            }
            assert!(
                Instant::now() < deadline,
                "junction did not start:\n{}",
                output.lock().unwrap()
            );
            std::thread::sleep(Duration::from_millis(50));
        }
        Served {
            child,
            base,
            output,
        }
    }

    /// SIGKILL: no shutdown of any kind.
    pub fn kill(self) {
        drop(self);
    }

    /// Fails, with everything it printed, if the process has exited by itself.
    pub fn assert_running(&mut self) {
        if let Ok(Some(status)) = self.child.try_wait() {
            panic!(
                "junction exited by itself with {status}:\n{}",
                self.output.lock().unwrap()
            );
        }
    }

    /// Sends SIGTERM and waits for the exit; returns the exit code and everything it printed.
    pub fn terminate(mut self) -> (Option<i32>, String) {
        let status = Command::new("kill")
            .args(["-TERM", &self.child.id().to_string()])
            .status()
            .unwrap();
        assert!(status.success());
        let deadline = Instant::now() + Duration::from_secs(20);
        let code = loop {
            if let Some(s) = self.child.try_wait().unwrap() {
                break s.code();
            }
            if Instant::now() > deadline {
                let _ = self.child.kill();
                panic!(
                    "junction did not stop after SIGTERM:\n{}",
                    self.output.lock().unwrap()
                );
            }
            std::thread::sleep(Duration::from_millis(50));
        };
        std::thread::sleep(Duration::from_millis(100));
        let out = self.output.lock().unwrap().clone();
        (code, out)
    }
}

pub fn write_config(dir: &Path, yaml: &str) -> std::path::PathBuf {
    let path = dir.join("junction.yaml");
    std::fs::write(&path, yaml).unwrap();
    path
}

/// Runs `junction SUBCOMMAND --config FILE` on a config holding `yaml`; returns the exit code and stderr.
pub fn run_with_config(subcommand: &str, yaml: &str) -> (Option<i32>, String) {
    let dir = tempfile::tempdir().unwrap();
    let config = write_config(dir.path(), yaml);
    let out = bin()
        .args([subcommand, "--config"])
        .arg(&config)
        .output()
        .unwrap();
    (
        out.status.code(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

impl Drop for Served {
    /// A test that fails half-way must not leave a hub running.
    fn drop(&mut self) {
        if let Ok(None) = self.child.try_wait() {
            let _ = self.child.kill();
            let _ = self.child.wait();
        }
    }
}

/// Runs `junction ARGS --config CONFIG` with `JUNCTION_MASTER_KEY` set and `stdin` piped in;
/// returns (exit code, stdout, stderr).
pub fn cli(
    config: &Path,
    master_key: &str,
    args: &[&str],
    stdin: &str,
) -> (Option<i32>, String, String) {
    use std::io::Write;
    let mut child = bin()
        .args(args)
        .arg("--config")
        .arg(config)
        .env("JUNCTION_MASTER_KEY", master_key)
        .env_remove("JUNCTION_DATABASE_URL")
        .stdin(std::process::Stdio::piped())
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    child
        .stdin
        .take()
        .unwrap()
        .write_all(stdin.as_bytes())
        .unwrap();
    let out = child.wait_with_output().unwrap();
    (
        out.status.code(),
        String::from_utf8_lossy(&out.stdout).into_owned(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

/// Runs `junction ARGS --server SERVER` (a command against a running hub) with
/// `JUNCTION_ADMIN_TOKEN` set to `token`, or unset; returns (exit code, stdout, stderr).
pub fn against(server: &str, token: Option<&str>, args: &[&str]) -> (Option<i32>, String, String) {
    let mut cmd = bin();
    cmd.args(args).args(["--server", server]);
    cmd.env_remove("JUNCTION_ADMIN_TOKEN");
    if let Some(t) = token {
        cmd.env("JUNCTION_ADMIN_TOKEN", t);
    }
    let out = cmd.output().unwrap();
    (
        out.status.code(),
        String::from_utf8_lossy(&out.stdout).into_owned(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

/// The Standard Webhooks secret of [`FailingSink`]'s source.
pub const SINK_WHSEC: &str = "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw";

/// A hub (SQLite, admin token `admin`) with source `crm` routed to destination `billing` at the
/// mock's sink, which answers 500 to everything until [`FailingSink::heal`]; `events` signed
/// webhooks have been sent (each dead-letters after two attempts).
pub struct FailingSink {
    pub mock: junction_mock::Mock,
    pub hub: Served,
    _dir: tempfile::TempDir,
}

impl FailingSink {
    pub async fn start(admin: &str, events: usize) -> Self {
        let mock = junction_mock::Mock::start(
            junction_mock::MockConfig {
                customers: 1,
                ..Default::default()
            },
            "127.0.0.1:0".parse().unwrap(),
        )
        .await
        .unwrap();
        set_sink(
            &reqwest::Client::new(),
            &mock.url(),
            serde_json::json!({ "errors": [[500, 1.0]] }),
        )
        .await;
        let dir = tempfile::tempdir().unwrap();
        let yaml = format!(
            r#"
store: {{ url: "sqlite://{}/j.db" }}
sources:
  crm:
    kind: webhook
    verify: {{ preset: standard_webhooks, secrets: [ env:SINK_WHSEC ] }}
destinations:
  billing:
    url: "{}/sink/billing"
    retry: {{ attempts: 2, base: 10ms, max: 20ms }}
routes:
  r: {{ from: crm, to: [ billing ] }}
"#,
            dir.path().display(),
            mock.url()
        );
        let path = write_config(dir.path(), &yaml);
        let hub = Served::start(
            &path,
            &[("SINK_WHSEC", SINK_WHSEC), ("JUNCTION_ADMIN_TOKEN", admin)],
        );
        let res = reqwest::Client::new()
            .post(format!("{}/_mock/webhooks/send", mock.url()))
            .json(&serde_json::json!({ "target": format!("{}/webhooks/crm", hub.base), "scheme": { "kind": "standard_webhooks" }, "secret": SINK_WHSEC, "count": events }))
            .send()
            .await
            .unwrap();
        assert!(res.status().is_success());
        Self {
            mock,
            hub,
            _dir: dir,
        }
    }

    /// The sink answers 200 from now on.
    pub async fn heal(&self) {
        set_sink(
            &reqwest::Client::new(),
            &self.mock.url(),
            serde_json::json!({}),
        )
        .await;
    }
}

/// Waits (up to 15 s) until the mock's sink has received, at `path`, deliveries for which
/// `done` holds; returns them, oldest first.
pub async fn sink_until(
    http: &reqwest::Client,
    mock: &str,
    path: &str,
    done: impl Fn(&[serde_json::Value]) -> bool,
) -> Vec<serde_json::Value> {
    let until = Instant::now() + Duration::from_secs(15);
    loop {
        let got: serde_json::Value = http
            .get(format!("{mock}/_mock/deliveries-received?path={path}"))
            .send()
            .await
            .unwrap()
            .json()
            .await
            .unwrap();
        let list = got["deliveries"].as_array().cloned().unwrap_or_default();
        if done(&list) {
            return list;
        }
        assert!(Instant::now() < until, "not received at {path}: {got}");
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

/// Tells the mock's sink how to answer from now on (`{}`: 200 to everything; the chaos format,
/// e.g. `{"errors": [[500, 1.0]]}`, to fail).
pub async fn set_sink(http: &reqwest::Client, mock: &str, chaos: serde_json::Value) {
    let r = http
        .put(format!("{mock}/_mock/sink"))
        .json(&chaos)
        .send()
        .await
        .unwrap();
    assert!(r.status().is_success(), "{}", r.status());
}

/// The first finished run of `job` newer than run `after`, as `GET /api/v1/jobs/{job}` lists it
/// with `token` (waits up to 120 s).
pub async fn finished_run(
    http: &reqwest::Client,
    base: &str,
    token: &str,
    job: &str,
    after: i64,
) -> serde_json::Value {
    let until = Instant::now() + Duration::from_secs(120);
    loop {
        let d: serde_json::Value = http
            .get(format!("{base}/api/v1/jobs/{job}"))
            .bearer_auth(token)
            .send()
            .await
            .unwrap()
            .json()
            .await
            .unwrap();
        if let Some(run) = d["runs"].as_array().and_then(|r| {
            r.iter()
                .find(|r| r["id"].as_i64() > Some(after) && r["state"] != "running")
        }) {
            return run.clone();
        }
        assert!(Instant::now() < until, "{d}");
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

/// Waits (up to a minute) until the provider's streams at `mock` have finished `events` events
/// (each acknowledged, or its `attempts` spent); the ids of the acknowledged ones.
pub async fn acknowledged(
    mock: &junction_mock::Mock,
    events: usize,
    attempts: u32,
) -> std::collections::BTreeSet<String> {
    let deadline = Instant::now() + Duration::from_secs(60);
    loop {
        let (_, sent) = mock.state.sent.snapshot();
        let finished: std::collections::BTreeSet<&str> = sent
            .iter()
            .filter(|s| (200..300).contains(&s.status) || s.attempt == attempts)
            .map(|s| s.id.as_str())
            .collect();
        if finished.len() >= events || Instant::now() > deadline {
            return sent
                .iter()
                .filter(|s| (200..300).contains(&s.status))
                .map(|s| s.id.clone())
                .collect();
        }
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
}

/// Waits (up to a minute) until every `acked` event reached the sink at `mock`, failing with the
/// missing ones; then each event's idempotency keys as they arrived.
pub async fn all_arrived(
    mock: &junction_mock::Mock,
    acked: &std::collections::BTreeSet<String>,
) -> std::collections::BTreeMap<String, std::collections::BTreeSet<String>> {
    let arrived = || {
        let mut by_event: std::collections::BTreeMap<String, std::collections::BTreeSet<String>> =
            Default::default();
        for d in mock.state.received.snapshot().1 {
            if let Some(id) = d.headers.get("junction-event-id") {
                by_event
                    .entry(id.clone())
                    .or_default()
                    .insert(d.idempotency_key.clone().unwrap_or_default());
            }
        }
        by_event
    };
    let deadline = Instant::now() + Duration::from_secs(60);
    loop {
        let got = arrived();
        let missing: Vec<_> = acked.iter().filter(|id| !got.contains_key(*id)).collect();
        if missing.is_empty() {
            return got;
        }
        assert!(
            Instant::now() < deadline,
            "{} acknowledged events never reached the sink, e.g. {:?}",
            missing.len(),
            &missing[..missing.len().min(5)]
        );
        tokio::time::sleep(Duration::from_millis(250)).await;
    }
}

/// A refresh token from the mock's authorization server (a persona's with `token_path`), the
/// way the connect flow obtains one: authorization code with PKCE, for client `mock_client`.
pub async fn authorized_refresh_token(mock: &str, token_path: &str, scope: &str) -> String {
    let http = reqwest::Client::builder()
        .redirect(reqwest::redirect::Policy::none())
        .build()
        .unwrap();
    let verifier = "a-verifier-of-forty-three-characters-or-more-xyz";
    let res = http
        .get(format!("{mock}/oauth/authorize"))
        .query(&[
            ("response_type", "code"),
            ("client_id", "mock_client"),
            ("redirect_uri", "http://127.0.0.1/callback"),
            ("scope", scope),
            ("code_challenge", &junction_mock::pkce_challenge(verifier)),
            ("code_challenge_method", "S256"),
        ])
        .send()
        .await
        .unwrap();
    let location = reqwest::Url::parse(res.headers()["location"].to_str().unwrap()).unwrap();
    let code = location
        .query_pairs()
        .find(|(k, _)| k == "code")
        .unwrap()
        .1
        .into_owned();
    let tokens: serde_json::Value = http
        .post(format!("{mock}{token_path}"))
        .form(&[
            ("grant_type", "authorization_code"),
            ("code", &code),
            ("redirect_uri", "http://127.0.0.1/callback"),
            ("client_id", "mock_client"),
            ("client_secret", "mock_secret"),
            ("code_verifier", verifier),
        ])
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    tokens["refresh_token"]
        .as_str()
        .unwrap_or_else(|| panic!("{tokens}"))
        .to_owned()
}
