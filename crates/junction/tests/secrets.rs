//! `junction secrets` and `secret:NAME` in the config, as a user runs them: values piped on
//! stdin, the master key in the environment, `junction serve` verifying webhooks with a secret
//! it opened from the vault, and the start-up errors of a missing secret or a wrong key.

mod support;

use std::path::Path;

use junction_mock::Scheme;
use support::*;

const WHSEC: &str = "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw";
const K1: &str = "v1:q83vEjRWeJCrze8SNFZ4kKvN7xI0VniQq83vEjRWeJA=";
const K2: &str = "v2:AAECAwQFBgcICQoLDA0ODxAREhMUFRYXGBkaGxwdHh8=";
const OTHER_K1: &str = "v1:ZGlmZmVyZW50LWtleS1kaWZmZXJlbnQta2V5LTEyMzQ=";

fn config(dir: &Path) -> std::path::PathBuf {
    write_config(
        dir,
        &format!(
            r#"store: {{ url: "sqlite://{}/j.db" }}
sources:
  crm:
    kind: webhook
    verify: {{ preset: standard_webhooks, secrets: [ secret:crm_whsec ] }}
"#,
            dir.display()
        ),
    )
}

/// Runs `junction secrets ARGS` with `stdin` piped in; returns (code, stdout, stderr).
fn secrets(config: &Path, key: &str, args: &[&str], stdin: &str) -> (Option<i32>, String, String) {
    cli(config, key, &[&["secrets"], args].concat(), stdin)
}

fn serve_fails(config: &Path, env: &[(&str, &str)]) -> (Option<i32>, String) {
    let mut cmd = bin();
    cmd.args(["serve", "--config"])
        .arg(config)
        .args(["--listen", &format!("127.0.0.1:{}", free_port())])
        .env_remove("JUNCTION_MASTER_KEY")
        .env_remove("JUNCTION_DATABASE_URL");
    for (k, v) in env {
        cmd.env(k, v);
    }
    let out = cmd.output().unwrap();
    (
        out.status.code(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_vault_secret_set_from_stdin_verifies_webhooks_after_a_master_key_rotation() {
    let dir = tempfile::tempdir().unwrap();
    let config = config(dir.path());

    let (code, out, err) = secrets(&config, K1, &["set", "crm_whsec"], &format!("{WHSEC}\n"));
    assert_eq!(code, Some(0), "{err}");
    assert!(out.contains("stored secret crm_whsec (version 1)"), "{out}");

    let (code, out, _) = secrets(&config, K1, &["list", "-o", "json"], "");
    assert_eq!(code, Some(0));
    let list: serde_json::Value = serde_json::from_str(&out).unwrap();
    assert_eq!(list[0]["name"], "crm_whsec");
    assert_eq!(list[0]["master_key_version"], 1);
    assert!(!out.contains(WHSEC));

    // Rotate to v2, then run with v2 alone.
    let (code, out, err) = secrets(&config, &format!("{K2},{K1}"), &["rotate-key"], "");
    assert_eq!(code, Some(0), "{err}");
    assert!(out.contains("rewrapped 1 secret(s)"), "{out}");

    let hub = Served::start(&config, &[("JUNCTION_MASTER_KEY", K2)]);
    let client = reqwest::Client::new();
    let body = r#"{"id":"evt_1","type":"customer.updated"}"#;
    let ts = junction_core::time::now_ms() / 1000;
    let mut req = client.post(format!("{}/webhooks/crm", hub.base)).body(body);
    for (k, v) in junction_mock::sign(
        &Scheme::StandardWebhooks,
        WHSEC,
        "evt_1",
        ts,
        body.as_bytes(),
    )
    .unwrap()
    {
        req = req.header(k, v);
    }
    let res = req.send().await.unwrap();
    assert_eq!(res.status(), 202, "{}", res.text().await.unwrap());
    let unsigned = client
        .post(format!("{}/webhooks/crm", hub.base))
        .body(body)
        .send()
        .await
        .unwrap();
    assert_eq!(unsigned.status(), 401);
    let (_, logs) = hub.terminate();
    assert!(!logs.contains(WHSEC), "the secret leaked into the logs");
}

#[test]
fn serve_refuses_a_missing_secret_a_missing_key_and_a_wrong_key_clearly() {
    let dir = tempfile::tempdir().unwrap();
    let config = config(dir.path());

    let (code, err) = serve_fails(&config, &[]);
    assert_eq!(code, Some(2), "{err}");
    assert!(
        err.contains("no master key is set") && err.contains("crm_whsec"),
        "{err}"
    );

    let (code, err) = serve_fails(&config, &[("JUNCTION_MASTER_KEY", K1)]);
    assert_eq!(code, Some(2), "{err}");
    assert!(
        err.contains("junction.yaml:5"),
        "names the file and line: {err}"
    );
    assert!(
        err.contains("secret `crm_whsec` is not in the vault"),
        "{err}"
    );
    assert!(err.contains("junction secrets set crm_whsec"), "{err}");

    let (code, _, e) = secrets(&config, K1, &["set", "crm_whsec"], "not-a-whsec-key!");
    assert_eq!(code, Some(0), "{e}");
    let (code, err) = serve_fails(&config, &[("JUNCTION_MASTER_KEY", K1)]);
    assert_eq!(
        code,
        Some(2),
        "a value of the wrong shape is refused: {err}"
    );
    assert!(err.contains("secret `crm_whsec` from the vault"), "{err}");
    assert!(
        !err.contains("not-a-whsec-key!"),
        "never echoes the value: {err}"
    );

    let (code, err) = serve_fails(&config, &[("JUNCTION_MASTER_KEY", OTHER_K1)]);
    assert_eq!(code, Some(2), "{err}");
    assert!(err.contains("master key v1 is not the key"), "{err}");

    let (code, _, err) = secrets(&config, "v1:short", &["list"], "");
    assert_eq!(code, Some(2));
    assert!(err.contains("not base64") || err.contains("bytes"), "{err}");
}
