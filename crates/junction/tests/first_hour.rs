//! What a new user trips over in the first hour: commands that demand secrets they do not use,
//! relative paths, errors that do not say how to fix them, a CLI that cannot find the hub.

mod support;

use support::{bin, free_port, write_config, Served};

/// A config whose source and connector read secrets from the environment that the database
/// commands never use.
const WITH_SECRETS: &str = "store:\n  url: sqlite://data/j.db\nsources:\n  shop:\n    kind: webhook\n    verify: { preset: standard_webhooks, secrets: [ env:FIRST_HOUR_WHSEC ] }\nconnectors:\n  crm:\n    base_url: http://${FIRST_HOUR_CRM_HOST}/v2\n    auth: { kind: api_key, header: X-Api-Key, key: env:FIRST_HOUR_API_KEY }\n";

fn output(cmd: &mut std::process::Command) -> (Option<i32>, String, String) {
    let out = cmd
        .env_remove("FIRST_HOUR_WHSEC")
        .env_remove("FIRST_HOUR_API_KEY")
        .env_remove("FIRST_HOUR_CRM_HOST")
        .env_remove("JUNCTION_DATABASE_URL")
        .env_remove("JUNCTION_MASTER_KEY")
        .output()
        .unwrap();
    (
        out.status.code(),
        String::from_utf8_lossy(&out.stdout).into_owned(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

#[test]
fn commands_that_use_only_the_database_need_none_of_the_configs_secrets() {
    let dir = tempfile::tempdir().unwrap();
    let config = write_config(dir.path(), WITH_SECRETS);
    let (code, token, stderr) = output(
        bin()
            .args([
                "tokens",
                "create",
                "svc",
                "--scope",
                "proxy:crm:GET",
                "--config",
            ])
            .arg(&config),
    );
    assert_eq!(code, Some(0), "{stderr}");
    assert!(token.trim().len() > 20, "{token}");
    let (code, list, stderr) = output(bin().args(["tokens", "list", "--config"]).arg(&config));
    assert_eq!(code, Some(0), "{stderr}");
    assert!(list.contains("svc"), "{list}");
    let (code, _, stderr) = output(bin().args(["audit", "list", "--config"]).arg(&config));
    assert_eq!(code, Some(0), "{stderr}");
    // `serve` still needs them, and says which.
    let (code, _, stderr) = output(
        bin()
            .args(["serve", "--listen", "127.0.0.1:0", "--config"])
            .arg(&config),
    );
    assert_eq!(code, Some(2), "{stderr}");
    assert!(stderr.contains("FIRST_HOUR_CRM_HOST"), "{stderr}");
}

#[test]
fn check_allow_unresolved_validates_a_config_without_its_secrets_and_names_each_one() {
    let dir = tempfile::tempdir().unwrap();
    let config = write_config(dir.path(), WITH_SECRETS);
    let (code, _, stderr) = output(bin().args(["check", "--config"]).arg(&config));
    assert_eq!(code, Some(2), "{stderr}");
    assert!(stderr.contains("FIRST_HOUR_CRM_HOST"), "{stderr}");

    let (code, stdout, stderr) = output(
        bin()
            .args(["check", "--allow-unresolved", "--config"])
            .arg(&config),
    );
    assert_eq!(code, Some(0), "{stderr}");
    assert!(stdout.contains(": ok"), "{stdout}");
    for var in [
        "FIRST_HOUR_WHSEC",
        "FIRST_HOUR_API_KEY",
        "FIRST_HOUR_CRM_HOST",
    ] {
        assert!(
            stderr
                .lines()
                .any(|l| l.starts_with("warning:") && l.contains(var)),
            "{var} is named as a warning: {stderr}"
        );
    }
    assert!(
        stderr.contains("junction.yaml:6:"),
        "warnings are located: {stderr}"
    );

    // Every other mistake is still an error.
    let broken = WITH_SECRETS.replace("preset: standard_webhooks", "preset: standard_webhook");
    let config = write_config(dir.path(), &broken);
    let (code, _, stderr) = output(
        bin()
            .args(["check", "--allow-unresolved", "--config"])
            .arg(&config),
    );
    assert_eq!(code, Some(2), "{stderr}");
}

#[test]
fn a_relative_sqlite_path_is_relative_to_the_config_file_not_the_working_directory() {
    let dir = tempfile::tempdir().unwrap();
    let sub = dir.path().join("conf");
    std::fs::create_dir_all(&sub).unwrap();
    let config = write_config(&sub, "store:\n  url: sqlite://./data/j.db\n");
    let elsewhere = dir.path().join("elsewhere");
    std::fs::create_dir_all(&elsewhere).unwrap();
    let (code, _, stderr) = output(
        bin()
            .current_dir(&elsewhere)
            .args(["tokens", "list", "--config"])
            .arg(&config),
    );
    assert_eq!(code, Some(0), "{stderr}");
    assert!(sub.join("data/j.db").exists(), "created beside the config");
    assert!(
        !elsewhere.join("data").exists(),
        "not in the working directory"
    );

    // JUNCTION_DATABASE_URL stays relative to the working directory.
    let out = bin()
        .current_dir(&elsewhere)
        .args(["tokens", "list", "--config"])
        .arg(&config)
        .env("JUNCTION_DATABASE_URL", "sqlite://./env.db")
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(elsewhere.join("env.db").exists());
}

#[test]
fn an_sqlite_file_that_cannot_be_opened_says_what_to_check_not_that_a_server_is_down() {
    let dir = tempfile::tempdir().unwrap();
    // A file where the folder should be: the database cannot be created under it.
    std::fs::write(dir.path().join("blocker"), b"").unwrap();
    let yaml = format!(
        "store:\n  url: sqlite://{}/blocker/j.db\n",
        dir.path().display()
    );
    let config = write_config(dir.path(), &yaml);
    let (code, _, stderr) = output(
        bin()
            .args(["serve", "--listen", "127.0.0.1:0", "--config"])
            .arg(&config),
    );
    assert_eq!(code, Some(3), "{stderr}");
    assert!(stderr.contains("can be created and written"), "{stderr}");
    assert!(!stderr.contains("is running"), "{stderr}");
}

#[test]
fn a_port_in_use_names_the_port_and_the_flag_that_moves_it() {
    let taken = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let port = taken.local_addr().unwrap().port();
    let dir = tempfile::tempdir().unwrap();
    let config = write_config(dir.path(), "store:\n  url: sqlite://j.db\n");
    let (code, _, stderr) = output(
        bin()
            .args([
                "serve",
                "--listen",
                &format!("127.0.0.1:{port}"),
                "--config",
            ])
            .arg(&config),
    );
    assert_eq!(code, Some(1), "{stderr}");
    assert!(
        stderr.contains(&format!("port {port} is taken")),
        "{stderr}"
    );
    assert!(stderr.contains("--listen"), "{stderr}");
    let (code, _, stderr) = output(bin().args(["mock", "--listen", &format!("127.0.0.1:{port}")]));
    assert_eq!(code, Some(1), "{stderr}");
    assert!(
        stderr.contains(&format!("port {port} is taken")),
        "{stderr}"
    );
}

#[test]
fn the_cli_says_which_hub_it_tried_and_how_to_point_it_elsewhere() {
    let port = free_port();
    let (code, _, stderr) = output(
        bin()
            .args(["status"])
            .env("JUNCTION_SERVER", format!("http://127.0.0.1:{port}")),
    );
    assert_eq!(code, Some(1), "{stderr}");
    assert!(stderr.contains(&format!("127.0.0.1:{port}")), "{stderr}");
    assert!(
        stderr.contains("--server") && stderr.contains("JUNCTION_SERVER"),
        "{stderr}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn webhook_errors_say_how_to_fix_them() {
    let dir = tempfile::tempdir().unwrap();
    let yaml = "store:\n  url: sqlite://j.db\nserver:\n  body_limit: 64KiB\nsources:\n  shop:\n    kind: webhook\n    verify: { preset: standard_webhooks, secrets: [ env:FIRST_HOUR_WHSEC ], tolerance: 5m }\n";
    let config = write_config(dir.path(), yaml);
    let hub = Served::start(
        &config,
        &[("FIRST_HOUR_WHSEC", "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw")],
    );
    let http = reqwest::Client::new();
    let post = |path: &str, body: Vec<u8>, headers: Vec<(String, String)>| {
        let mut req = http.post(format!("{}{path}", hub.base)).body(body);
        for (k, v) in headers {
            req = req.header(k, v);
        }
        req.send()
    };
    // A misspelt source: "did you mean".
    let r = post("/webhooks/shoop", b"{}".to_vec(), vec![])
        .await
        .unwrap();
    assert_eq!(r.status(), 404);
    let e: serde_json::Value = r.json().await.unwrap();
    assert!(
        e["error"]["hint"]
            .as_str()
            .unwrap()
            .contains("did you mean `shop`"),
        "{e}"
    );
    // A correct signature on a stale timestamp: the clock and the tolerance, not the secret.
    let body = br#"{"type":"x"}"#.to_vec();
    let stale = junction_core::time::now_ms() / 1000 - 3600;
    let headers = junction_mock::sign(
        &junction_mock::Scheme::StandardWebhooks,
        "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw",
        "evt_1",
        stale,
        &body,
    )
    .unwrap();
    let r = post("/webhooks/shop", body, headers).await.unwrap();
    assert_eq!(r.status(), 401);
    let e: serde_json::Value = r.json().await.unwrap();
    let hint = e["error"]["hint"].as_str().unwrap();
    assert!(hint.contains("clock") && hint.contains("tolerance"), "{e}");
    assert!(!hint.contains("secret"), "{e}");
    // Too large: the limit and the setting.
    let r = post("/webhooks/shop", vec![b'x'; 70 * 1024], vec![])
        .await
        .unwrap();
    assert_eq!(r.status(), 413);
    let e: serde_json::Value = r.json().await.unwrap();
    assert!(
        e["error"]["message"].as_str().unwrap().contains("64KiB"),
        "{e}"
    );
    assert!(
        e["error"]["hint"]
            .as_str()
            .unwrap()
            .contains("server.body_limit"),
        "{e}"
    );
    // Each refusal is in the request inspector, masked, and `junction events rejected` lists it.
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(10);
    let inspected = loop {
        let v: serde_json::Value = http
            .get(format!("{}/api/v1/rejected", hub.base))
            .send()
            .await
            .unwrap()
            .json()
            .await
            .unwrap();
        let reasons: Vec<&str> = v["items"]
            .as_array()
            .unwrap()
            .iter()
            .filter_map(|i| i["reason"].as_str())
            .collect();
        if ["unknown_source", "timestamp_outside_window", "too_large"]
            .iter()
            .all(|r| reasons.contains(r))
        {
            break v;
        }
        assert!(std::time::Instant::now() < deadline, "{v}");
        tokio::time::sleep(std::time::Duration::from_millis(100)).await;
    };
    let stale_one = inspected["items"]
        .as_array()
        .unwrap()
        .iter()
        .find(|i| i["reason"] == "timestamp_outside_window")
        .unwrap();
    assert_eq!(stale_one["source"], "shop");
    assert!(stale_one["body"].as_str().unwrap().contains("\"type\""));
    let sig = stale_one["headers"]
        .as_array()
        .unwrap()
        .iter()
        .find(|h| h[0] == "webhook-signature")
        .unwrap();
    assert_eq!(sig[1], "***", "{stale_one}");
    let (code, table, stderr) =
        support::against(&hub.base, None, &["events", "rejected", "--source", "shop"]);
    assert_eq!(code, Some(0), "{stderr}");
    assert!(table.contains("timestamp_outside_window"), "{table}");
    assert!(
        !table.contains("unknown_source"),
        "filtered by source: {table}"
    );

    // The hub's address leads to the dashboard.
    let no_redirect = reqwest::Client::builder()
        .redirect(reqwest::redirect::Policy::none())
        .build()
        .unwrap();
    let r = no_redirect
        .get(format!("{}/", hub.base))
        .send()
        .await
        .unwrap();
    assert!(r.status().is_redirection(), "{}", r.status());
    assert_eq!(r.headers()["location"], "/ui/");
    // Reached from this machine without signing in: no "Sign out" that would mean nothing.
    let page = http
        .get(format!("{}/ui/", hub.base))
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    assert!(
        page.contains("Connectors") || page.contains("Sources"),
        "{page}"
    );
    assert!(!page.contains("Sign out"), "{page}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_admin_action_on_a_hub_without_the_audit_logs_master_key_says_to_set_it() {
    let dir = tempfile::tempdir().unwrap();
    let config = write_config(
        dir.path(),
        "store:\n  url: sqlite://j.db\ndestinations:\n  billing:\n    url: http://127.0.0.1:9/hooks\n",
    );
    // The CLI, run with the master key, seals the audit log.
    let out = bin()
        .args(["tokens", "create", "svc", "--role", "viewer", "--config"])
        .arg(&config)
        .env(
            "JUNCTION_MASTER_KEY",
            "v1:q83vEjRWeJCrze8SNFZ4kKvN7xI0VniQq83vEjRWeJA=",
        )
        .env_remove("JUNCTION_DATABASE_URL")
        .output()
        .unwrap();
    assert!(out.status.success(), "{out:?}");
    // The hub, started without it, can read but cannot record an action: it says why.
    let hub = Served::start(&config, &[("JUNCTION_ADMIN_TOKEN", "first-hour-admin")]);
    let r = reqwest::Client::new()
        .post(format!("{}/api/v1/destinations/billing/disable", hub.base))
        .bearer_auth("first-hour-admin")
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 503);
    let body: serde_json::Value = r.json().await.unwrap();
    assert_eq!(body["error"]["code"], "not_ready", "{body}");
    let hint = body["error"]["hint"].as_str().unwrap_or_default();
    assert!(hint.contains("JUNCTION_MASTER_KEY"), "{body}");
    assert!(!hint.contains("retry when the store is back"), "{body}");
    hub.kill();
}
