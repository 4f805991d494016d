//! `junction demo`, as a new user runs it: within its first phases the dashboard's data shows
//! retries, dead letters, quarantined events, drift, deprecation notices, quota use and
//! firing alerts; it stops cleanly at the end of `--duration`.

mod support;

use std::process::Stdio;
use std::time::{Duration, Instant};

use serde_json::Value;
use support::*;

/// The answer's JSON; `Null` while the hub is not listening yet (it starts within the loop's
/// deadline, not within its first half second on a loaded machine).
async fn get(base: &str, path: &str) -> Value {
    match reqwest::get(format!("{base}{path}")).await {
        Ok(r) => r.json().await.unwrap_or(Value::Null),
        Err(e) if e.is_connect() => Value::Null,
        Err(e) => panic!("{path}: {e}"),
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_demo_shows_retries_dead_letters_quarantine_drift_and_alerts_within_a_minute() {
    let dir = tempfile::tempdir().unwrap();
    let port = free_port();
    let child = bin()
        .args(["demo", "--fast", "--duration", "30s", "--listen"])
        .arg(format!("127.0.0.1:{port}"))
        .arg("--dir")
        .arg(dir.path())
        .env_remove("JUNCTION_ADMIN_TOKEN")
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let base = format!("http://127.0.0.1:{port}");
    let started = Instant::now();
    let mut seen = std::collections::BTreeSet::new();
    let wanted = [
        "retries",
        "dead_letters",
        "quarantine",
        "drift",
        "deprecation",
        "quota",
        "alert:dead_letters",
        "alert:schema_drift",
        "dashboard",
        "soap",
    ];
    while seen.len() < wanted.len() {
        assert!(
            started.elapsed() < Duration::from_secs(28),
            "after 28 s the demo has shown only {seen:?} of {wanted:?}"
        );
        tokio::time::sleep(Duration::from_millis(500)).await;
        let stats = get(&base, "/api/v1/stats?kind=destination&minutes=5").await;
        if stats["series"]
            .as_array()
            .is_some_and(|s| s.iter().any(|x| x["totals"]["failed"].as_u64() > Some(0)))
        {
            seen.insert("retries");
        }
        if get(&base, "/api/v1/dead-letters").await["items"]
            .as_array()
            .is_some_and(|v| !v.is_empty())
        {
            seen.insert("dead_letters");
        }
        if get(&base, "/api/v1/quarantine").await["items"]
            .as_array()
            .is_some_and(|v| !v.is_empty())
        {
            seen.insert("quarantine");
        }
        let drift = get(&base, "/api/v1/drift").await.to_string();
        if drift.contains("missing_field") {
            seen.insert("drift");
        }
        // The SOAP connector's calls succeed (it sends the credentials the vendor wants).
        let connectors = get(&base, "/api/v1/stats?kind=connector&minutes=5").await;
        if connectors["series"].as_array().is_some_and(|s| {
            s.iter().any(|x| {
                x["name"] == "erp" && x["totals"]["calls"].as_u64() > x["totals"]["errors"].as_u64()
            })
        }) {
            seen.insert("soap");
        }
        if drift.contains("deprecated") {
            seen.insert("deprecation");
        }
        if get(&base, "/api/v1/connectors")
            .await
            .to_string()
            .contains("\"learned\":true")
        {
            seen.insert("quota");
        }
        let alerts = get(&base, "/api/v1/alerts").await;
        for a in alerts["alerts"].as_array().into_iter().flatten() {
            if a["state"] == "firing" {
                seen.insert(match a["rule"].as_str() {
                    Some("dead_letters") => "alert:dead_letters",
                    Some("schema_drift") => "alert:schema_drift",
                    _ => continue,
                });
            }
        }
        if let Ok(r) = reqwest::get(format!("{base}/ui/")).await {
            if r.status() == 200 && r.text().await.unwrap_or_default().contains("crm-sync") {
                seen.insert("dashboard");
            }
        }
    }
    eprintln!("the demo showed everything after {:?}", started.elapsed());
    let out = child.wait_with_output().unwrap();
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(
        out.status.success(),
        "{stdout}\n{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(stdout.contains(&format!("{base}/ui/")), "{stdout}");
    assert!(stdout.contains("RENAMES"), "{stdout}");
    assert!(
        reqwest::get(format!("{base}/readyz")).await.is_err(),
        "the hub stopped with the demo"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sigterm_stops_the_demo_and_its_hub() {
    let dir = tempfile::tempdir().unwrap();
    let port = free_port();
    let mut child = bin()
        .args(["demo", "--fast", "--listen"])
        .arg(format!("127.0.0.1:{port}"))
        .arg("--dir")
        .arg(dir.path())
        .env_remove("JUNCTION_ADMIN_TOKEN")
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let base = format!("http://127.0.0.1:{port}");
    let deadline = Instant::now() + Duration::from_secs(20);
    while reqwest::get(format!("{base}/readyz")).await.is_err() {
        assert!(
            Instant::now() < deadline,
            "the demo's hub never became ready"
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    let status = std::process::Command::new("kill")
        .args(["-TERM", &child.id().to_string()])
        .status()
        .unwrap();
    assert!(status.success());
    let deadline = Instant::now() + Duration::from_secs(15);
    loop {
        if let Ok(Some(code)) = child.try_wait() {
            assert!(code.success(), "{code:?}");
            break;
        }
        assert!(
            Instant::now() < deadline,
            "the demo did not stop on SIGTERM"
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    assert!(
        reqwest::get(format!("{base}/readyz")).await.is_err(),
        "no hub is left behind"
    );
}
