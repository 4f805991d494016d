//! Config changes without restarts, as an operator makes them: fix a mapping on disk and the
//! quarantined event replays without a restart; save a broken config and the hub keeps serving
//! the previous one, says why (API, dashboard, `junction reload`), and takes the next good save.
//! On SQLite and on PostgreSQL.

mod support;

use std::time::{Duration, Instant};

use junction_mock::{Mock, MockConfig};
use serde_json::{json, Value};
use support::*;

const ADMIN: &str = "reload-admin-token";

fn config(sink: &str, mapping: &str) -> String {
    format!(
        r#"
delivery:
  poll_interval: 100ms
sources:
  crm:
    kind: webhook
    verify: {{ preset: none }}
    event: {{ id: .id, type: .type }}
destinations:
  billing:
    url: "{sink}/sink/billing"
    retry: {{ attempts: 2, base: 100ms, max: 200ms }}
routes:
  r:
    from: crm
    to: [ billing ]
    map: to_billing
mappings:
  to_billing:
    jq: '{mapping}'
"#
    )
}

/// A mapping that fails on every event, and its fix.
const BROKEN_MAPPING: &str = r#"{customer: .data.id, total: (.data.amount | error("no amount"))}"#;
const FIXED_MAPPING: &str = r#"{customer: .data.id, total: .data.amount}"#;

async fn admin(http: &reqwest::Client, method: reqwest::Method, url: String) -> (u16, Value) {
    let r = http
        .request(method, url)
        .bearer_auth(ADMIN)
        .send()
        .await
        .unwrap();
    let status = r.status().as_u16();
    (status, r.json().await.unwrap_or(Value::Null))
}

/// Polls `GET /api/v1/reload` until an outcome newer than `after_ms` is recorded.
async fn next_reload(http: &reqwest::Client, base: &str, after_ms: i64) -> Value {
    let until = Instant::now() + Duration::from_secs(15);
    loop {
        let (_, v) = admin(http, reqwest::Method::GET, format!("{base}/api/v1/reload")).await;
        if v["at_ms"].as_i64().is_some_and(|t| t > after_ms) {
            return v;
        }
        assert!(Instant::now() < until, "no reload recorded: {v}");
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
}

async fn reload_without_restart(database_url: &str) {
    let mock = Mock::start(MockConfig::default(), "127.0.0.1:0".parse().unwrap())
        .await
        .unwrap();
    let dir = tempfile::tempdir().unwrap();
    let path = write_config(dir.path(), &config(&mock.url(), BROKEN_MAPPING));
    let hub = Served::start(
        &path,
        &[
            ("JUNCTION_DATABASE_URL", database_url),
            ("JUNCTION_ADMIN_TOKEN", ADMIN),
        ],
    );
    let base = hub.base.clone();
    let http = reqwest::Client::new();

    // The mapping fails: the event is quarantined.
    let event =
        json!({"id": "evt_1", "type": "invoice.paid", "data": {"id": "cus_1", "amount": 4200}});
    let r = http
        .post(format!("{base}/webhooks/crm"))
        .json(&event)
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 202);
    let until = Instant::now() + Duration::from_secs(15);
    let quarantined = loop {
        let (_, v) = admin(
            &http,
            reqwest::Method::GET,
            format!("{base}/api/v1/quarantine"),
        )
        .await;
        if let Some(d) = v["items"].as_array().and_then(|a| a.first()).cloned() {
            break d;
        }
        assert!(Instant::now() < until, "not quarantined: {v}");
        tokio::time::sleep(Duration::from_millis(100)).await;
    };
    let id = quarantined["id"].as_i64().unwrap();

    // Fix the mapping on disk: the hub notices by itself.
    let before = junction_core::time::now_ms();
    std::fs::write(&path, config(&mock.url(), FIXED_MAPPING)).unwrap();
    let outcome = next_reload(&http, &base, before).await;
    assert_eq!(outcome["applied"], true, "{outcome}");
    assert_eq!(outcome["trigger"], "file", "{outcome}");
    assert!(
        outcome["changed"].to_string().contains("mappings"),
        "{outcome}"
    );

    // The quarantined event replays under the fixed mapping.
    let (status, v) = admin(
        &http,
        reqwest::Method::POST,
        format!("{base}/api/v1/deliveries/{id}/replay"),
    )
    .await;
    assert!(status < 300, "{status} {v}");
    sink_until(&http, &mock.url(), "/sink/billing", |all| {
        all.iter()
            .filter(|d| d["answered"] == 200)
            .filter_map(|d| serde_json::from_str::<Value>(d["body"].as_str()?).ok())
            .any(|b| b == json!({"customer": "cus_1", "total": 4200}))
    })
    .await;

    // A broken save: refused, located, and the hub keeps serving the previous config.
    let before = junction_core::time::now_ms();
    std::fs::write(
        &path,
        config(&mock.url(), FIXED_MAPPING).replace("preset: none", "preset: nope"),
    )
    .unwrap();
    let outcome = next_reload(&http, &base, before).await;
    assert_eq!(outcome["applied"], false, "{outcome}");
    let errors = outcome["errors"].to_string();
    assert!(
        errors.contains("junction.yaml:") && errors.contains("preset"),
        "{errors}"
    );
    let r = http
        .post(format!("{base}/webhooks/crm"))
        .json(&json!({"id": "evt_2", "type": "invoice.paid", "data": {"id": "cus_2", "amount": 1}}))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 202, "still serving the previous config");
    // The dashboard says so.
    let page = http
        .get(format!("{base}/ui/"))
        .bearer_auth(ADMIN)
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    assert!(page.contains("The config on disk was refused"), "{page}");
    // So does `junction reload`, with the same errors and a non-zero exit.
    let (code, _, stderr) = against(&base, Some(ADMIN), &["reload"]);
    assert_eq!(code, Some(2), "{stderr}");
    assert!(stderr.contains("preset"), "{stderr}");

    // The next good save is taken, through the CLI this time.
    std::fs::write(&path, config(&mock.url(), FIXED_MAPPING)).unwrap();
    let (code, stdout, stderr) = against(&base, Some(ADMIN), &["reload"]);
    assert_eq!(code, Some(0), "{stdout}{stderr}");
    assert!(stdout.contains("reloaded"), "{stdout}");
    let (_, v) = admin(&http, reqwest::Method::GET, format!("{base}/api/v1/reload")).await;
    assert_eq!(v["applied"], true, "{v}");
    // The reload was written to the audit log.
    let (_, audit) = admin(&http, reqwest::Method::GET, format!("{base}/api/v1/audit")).await;
    assert!(audit.to_string().contains("/api/v1/reload"), "{audit}");
    hub.terminate();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_mapping_fixed_on_disk_replays_without_a_restart_and_a_broken_edit_leaves_the_hub_serving_sqlite(
) {
    let dir = tempfile::tempdir().unwrap();
    let url = format!("sqlite://{}", dir.path().join("reload.db").display());
    reload_without_restart(&url).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_mapping_fixed_on_disk_replays_without_a_restart_and_a_broken_edit_leaves_the_hub_serving_postgres(
) {
    let Some(db) = junction_testkit::postgres::TestDb::create().await else {
        return;
    };
    reload_without_restart(&db.url.clone()).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_destinations_new_url_and_headers_take_the_next_delivery_without_a_restart() {
    let mock = Mock::start(MockConfig::default(), "127.0.0.1:0".parse().unwrap())
        .await
        .unwrap();
    let dir = tempfile::tempdir().unwrap();
    let yaml = |path: &str, team: &str| {
        config(&mock.url(), FIXED_MAPPING)
            .replace("/sink/billing", path)
            .replace(
                "    retry: {",
                &format!("    headers: {{ X-Team: {team} }}\n    retry: {{"),
            )
    };
    let path = write_config(dir.path(), &yaml("/sink/billing", "payments"));
    let url = format!("sqlite://{}", dir.path().join("moved.db").display());
    let hub = Served::start(
        &path,
        &[
            ("JUNCTION_DATABASE_URL", url.as_str()),
            ("JUNCTION_ADMIN_TOKEN", ADMIN),
        ],
    );
    let (base, http) = (hub.base.clone(), reqwest::Client::new());
    let send = |id: &str| {
        http.post(format!("{base}/webhooks/crm"))
            .json(&json!({"id": id, "type": "invoice.paid", "data": {"id": "cus_1", "amount": 1}}))
            .send()
    };
    let arrived = |path: &'static str, team: &'static str| {
        let (http, mock) = (http.clone(), mock.url());
        async move {
            sink_until(&http, &mock, path, |all| {
                all.iter()
                    .any(|d| d["answered"] == 200 && d["headers"]["x-team"] == team)
            })
            .await;
        }
    };
    assert_eq!(send("evt_before").await.unwrap().status(), 202);
    arrived("/sink/billing", "payments").await;

    // Move the receiver and change a header: applied, no restart needed.
    let before = junction_core::time::now_ms();
    std::fs::write(&path, yaml("/sink/moved", "ledger")).unwrap();
    let outcome = next_reload(&http, &base, before).await;
    assert_eq!(outcome["applied"], true, "{outcome}");
    assert_eq!(outcome["restart_needed"], json!([]), "{outcome}");
    assert!(
        outcome["changed"]
            .to_string()
            .contains("destinations.billing"),
        "{outcome}"
    );
    assert_eq!(send("evt_after").await.unwrap().status(), 202);
    arrived("/sink/moved", "ledger").await;
    hub.terminate();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_connector_changed_on_disk_takes_the_next_call_and_the_others_keep_their_state() {
    let mock = Mock::start(MockConfig::default(), "127.0.0.1:0".parse().unwrap())
        .await
        .unwrap();
    let dir = tempfile::tempdir().unwrap();
    let yaml = |version: &str| {
        format!(
            "store: {{ url: \"sqlite://{}/c.db\" }}\nconnectors:\n  crm: {{ base_url: \"{m}/{version}\" }}\n  erp: {{ base_url: \"{m}/v2\", quotas: [ 1/min ] }}\n",
            dir.path().display(),
            m = mock.url()
        )
    };
    let path = write_config(dir.path(), &yaml("v2"));
    let out = bin()
        .args([
            "tokens",
            "create",
            "svc",
            "--scope",
            "proxy:*:GET",
            "--config",
        ])
        .arg(&path)
        .env_remove("JUNCTION_DATABASE_URL")
        .env_remove("JUNCTION_MASTER_KEY")
        .output()
        .unwrap();
    assert!(out.status.success(), "{out:?}");
    let token = String::from_utf8_lossy(&out.stdout).trim().to_owned();
    let hub = Served::start(&path, &[("JUNCTION_ADMIN_TOKEN", ADMIN)]);
    let (base, http) = (hub.base.clone(), reqwest::Client::new());
    let get = |connector: &str| {
        http.get(format!("{base}/proxy/{connector}/customers/cus_000001"))
            .bearer_auth(&token)
            .send()
    };
    let v2: Value = get("crm").await.unwrap().json().await.unwrap();
    assert!(v2.get("email_address").is_some(), "v2 answers: {v2}");
    // erp's quota of one call a minute is spent.
    assert_eq!(get("erp").await.unwrap().status(), 200);

    // Pin crm to v1 on disk: the next call goes there; erp, unchanged, keeps its spent quota.
    let before = junction_core::time::now_ms();
    std::fs::write(&path, yaml("v1")).unwrap();
    let outcome = next_reload(&http, &base, before).await;
    assert_eq!(outcome["applied"], true, "{outcome}");
    assert_eq!(outcome["restart_needed"], json!([]), "{outcome}");
    assert!(
        outcome["changed"].to_string().contains("connectors.crm")
            && !outcome["changed"].to_string().contains("connectors.erp"),
        "{outcome}"
    );
    let v1: Value = get("crm").await.unwrap().json().await.unwrap();
    assert!(v1.get("email").is_some(), "v1 answers: {v1}");
    let erp = get("erp").await.unwrap();
    assert_eq!(erp.status(), 429, "erp's quota state was kept");
    hub.terminate();
}
