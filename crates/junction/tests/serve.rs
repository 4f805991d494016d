//! `junction serve` as a user runs it: a child process, real HTTP, real signals.

mod support;

use std::time::Duration;

use support::{bin, run_with_config, write_config, Served};

const CANARY: &str = "canary-7f3e9a1c-secret";

fn sqlite_config(dir: &std::path::Path, extra: &str) -> std::path::PathBuf {
    let yaml = format!("store:\n  url: sqlite://{}/j.db\n{extra}", dir.display());
    write_config(dir, &yaml)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn secrets_never_reach_the_logs_or_metrics() {
    let dir = tempfile::tempdir().unwrap();
    let config = sqlite_config(
        dir.path(),
        "server:\n  body_limit: 4KiB\ntelemetry:\n  log_format: json\n  log_level: trace\n  otlp:\n    endpoint: http://127.0.0.1:9\n    timeout: 200ms\n    headers:\n      authorization: \"Bearer ${JUNCTION_TEST_API_TOKEN}\"\n",
    );
    let served = Served::start(&config, &[("JUNCTION_TEST_API_TOKEN", CANARY)]);
    let c = reqwest::Client::new();
    let base = served.base.clone();
    // The canary everywhere a caller can put it: path, query, credential headers, request id, body.
    let res = c
        .post(format!(
            "{base}/webhooks/{CANARY}?api_key={CANARY}&token={CANARY}"
        ))
        .header("authorization", format!("Bearer {CANARY}"))
        .header("x-api-key", CANARY)
        .header("x-request-id", CANARY)
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 404);
    let res = c
        .post(format!("{base}/webhooks/stripe"))
        .body(format!("{{\"secret\":\"{CANARY}\"}}").repeat(200))
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 413);
    let res = c
        .post(format!("{base}/healthz"))
        .header("cookie", format!("session={CANARY}"))
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 405);
    assert_eq!(
        c.get(format!("{base}/readyz"))
            .send()
            .await
            .unwrap()
            .status(),
        200
    );
    let metrics = c
        .get(format!("{base}/metrics"))
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    assert!(!metrics.contains(CANARY), "the canary leaked into /metrics");
    tokio::time::sleep(Duration::from_millis(300)).await;

    let (code, logs) = served.terminate();
    assert_eq!(code, Some(0), "{logs}");
    assert!(
        logs.lines().count() > 10,
        "there were logs to check:\n{logs}"
    );
    assert!(
        logs.contains("\"status\":404"),
        "the 404 was logged:\n{logs}"
    );
    assert!(
        logs.contains("/webhooks/***"),
        "the secret in the path was masked, not dropped:\n{logs}"
    );
    let leaked: Vec<&str> = logs
        .lines()
        .filter(|l| l.contains(CANARY) || l.contains("canary-7f3e9a1c"))
        .collect();
    assert!(
        leaked.is_empty(),
        "the canary leaked into {} log lines, e.g.:\n{}",
        leaked.len(),
        leaked[..leaked.len().min(5)].join("\n")
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sigterm_stops_the_server_cleanly() {
    let dir = tempfile::tempdir().unwrap();
    let config = sqlite_config(dir.path(), "telemetry:\n  log_format: json\n");
    let served = Served::start(&config, &[]);
    let res = reqwest::get(format!("{}/readyz", served.base))
        .await
        .unwrap();
    assert_eq!(res.status(), 200);
    let (code, logs) = served.terminate();
    assert_eq!(code, Some(0), "{logs}");
    assert!(logs.contains("shutting down"), "{logs}");
    assert!(logs.contains("\"message\":\"stopped\""), "{logs}");
}

#[test]
fn an_unreachable_database_at_start_up_is_a_clear_error_and_a_non_zero_exit() {
    let dir = tempfile::tempdir().unwrap();
    let config = write_config(dir.path(), "store:\n  connect_timeout: 1s\n");
    let out = bin()
        .args(["serve", "--config"])
        .arg(&config)
        .args(["--listen", "127.0.0.1:0", "--log-format", "json"])
        .env(
            "JUNCTION_DATABASE_URL",
            "postgres://junction:pw-canary-42@127.0.0.1:1/junction",
        )
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(3));
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        stderr.contains("cannot open the store postgres://junction:***@127.0.0.1:1/junction"),
        "{stderr}"
    );
    assert!(stderr.contains("hint:"), "{stderr}");
    assert!(!stderr.contains("pw-canary-42"), "{stderr}");
}

#[test]
fn an_invalid_config_stops_serve_before_anything_starts() {
    let (code, stderr) = run_with_config("serve", "server:\n  listn: 127.0.0.1:1\n");
    assert_eq!(code, Some(2));
    assert!(
        stderr.contains("junction.yaml:2:3: `server.listn`: unknown field `listn`"),
        "{stderr}"
    );
}

#[test]
fn check_prints_every_error_with_its_place() {
    let (code, stderr) = run_with_config(
        "check",
        "server:\n  body_limit: 1 parsec\nstore:\n  url: mysql://x\nmappings:\n  c1: {}\n",
    );
    assert_eq!(code, Some(2));
    assert!(
        stderr.contains("junction.yaml:2:15: `server.body_limit`"),
        "{stderr}"
    );
    assert!(
        stderr.contains("junction.yaml:4:8: `store.url`"),
        "{stderr}"
    );
    assert!(
        stderr.contains("junction.yaml:6:7: `mappings.c1`: missing field `jq`"),
        "{stderr}"
    );
    assert!(stderr.contains("3 error(s)"), "{stderr}");

    let ok = bin()
        .env("CRM_WHSEC", "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw")
        .env("CRM_API_KEY", "mock_key_1")
        .args([
            "check",
            "--config",
            concat!(
                env!("CARGO_MANIFEST_DIR"),
                "/../../examples/quickstart.yaml"
            ),
        ])
        .output()
        .unwrap();
    assert!(
        ok.status.success(),
        "{}",
        String::from_utf8_lossy(&ok.stderr)
    );
}

#[test]
fn config_schema_is_printed_as_json_schema() {
    let out = bin().args(["config", "schema"]).output().unwrap();
    assert!(out.status.success());
    let schema: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert!(schema["$schema"]
        .as_str()
        .unwrap()
        .contains("json-schema.org"));
    assert!(schema["properties"]["server"].is_object());
}

#[test]
fn output_cut_short_by_its_reader_ends_quietly_with_success() {
    // `junction … | head`: the reader closes the pipe after a few bytes.
    let mut child = bin()
        .args(["config", "schema"])
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    drop(child.stdout.take());
    let out = child.wait_with_output().unwrap();
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(out.status.success(), "{:?}: {stderr}", out.status);
    assert!(!stderr.contains("panicked"), "{stderr}");
}

#[test]
fn check_refuses_what_serve_would_refuse_at_start_up() {
    let dir = tempfile::tempdir().unwrap();
    let config = sqlite_config(
        dir.path(),
        "connectors:\n  crm:\n    base_url: http://127.0.0.1:9\n    auth: { kind: oauth2_client_credentials, token_url: http://127.0.0.1:9/t, client_id: c, client_secret: env:JUNCTION_TEST_CLIENT_SECRET }\n",
    );
    let run = |cmd: &str| {
        let out = bin()
            .args([cmd, "--config"])
            .arg(&config)
            .args(if cmd == "serve" {
                &["--listen", "127.0.0.1:0"][..]
            } else {
                &[][..]
            })
            .env_remove("JUNCTION_MASTER_KEY")
            .env_remove("JUNCTION_MASTER_KEY_FILE")
            .env("JUNCTION_TEST_CLIENT_SECRET", "s3cr3t")
            .output()
            .unwrap();
        (
            out.status.code(),
            String::from_utf8_lossy(&out.stderr).into_owned(),
        )
    };
    let (code, stderr) = run("check");
    assert_eq!(code, Some(2), "{stderr}");
    assert!(
        stderr.contains("crm (oauth2_client_credentials)")
            && stderr.contains("JUNCTION_MASTER_KEY"),
        "{stderr}"
    );
    let (code, stderr) = run("serve");
    assert_eq!(code, Some(2), "serve refuses the same config: {stderr}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_flood_of_idle_connections_cannot_starve_health_under_a_low_open_file_limit() {
    let dir = tempfile::tempdir().unwrap();
    let config = sqlite_config(dir.path(), "server:\n  header_timeout: 30s\n");
    let port = support::free_port();
    // The hub under `ulimit -n 256`, as on a small host.
    let mut child = std::process::Command::new("sh")
        .arg("-c")
        .arg(format!(
            "ulimit -n 256 && exec {} serve --config {} --listen 127.0.0.1:{port}",
            env!("CARGO_BIN_EXE_junction"),
            config.display()
        ))
        .env("JUNCTION_LOG", "warn")
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::null())
        .spawn()
        .unwrap();
    let base = format!("http://127.0.0.1:{port}");
    let deadline = std::time::Instant::now() + Duration::from_secs(20);
    while reqwest::get(format!("{base}/healthz")).await.is_err() {
        assert!(
            std::time::Instant::now() < deadline,
            "the hub never answered"
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    // More idle connections than the process has descriptors.
    let mut idle = Vec::new();
    for _ in 0..300 {
        if let Ok(c) = tokio::net::TcpStream::connect(("127.0.0.1", port)).await {
            idle.push(c);
        }
    }
    tokio::time::sleep(Duration::from_millis(200)).await;
    // Still answered while they are held (over the cap they were closed at once).
    let ok = tokio::time::timeout(Duration::from_secs(3), async {
        loop {
            let c = reqwest::Client::new();
            if let Ok(r) = c.get(format!("{base}/healthz")).send().await {
                return r.status().as_u16();
            }
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
    })
    .await;
    assert_eq!(
        ok,
        Ok(200),
        "/healthz did not answer with {} idle connections held",
        idle.len()
    );
    let _ = child.kill();
    let _ = child.wait();
}
