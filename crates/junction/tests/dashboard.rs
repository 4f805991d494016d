//! The dashboard as a person uses it: headless Chromium (driven through chromedriver) signs in,
//! opens the overview, follows the dead letter to its page, clicks Replay, and sees the delivery
//! delivered on its timeline. Screenshots of each step are kept under
//! `$CARGO_TARGET_DIR/test-artifacts/dashboard/` (or `target/…`).
//!
//! Needs `chromium` and `chromedriver` (Debian: `apt-get install chromium chromium-driver`);
//! without them the test is skipped with a loud message, except under `CI=true`, where it fails.

mod support;

use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use fantoccini::{Client, ClientBuilder, Locator};
use serde_json::json;
use support::*;

const ADMIN: &str = "dashboard-admin-token-1234";

struct Driver(Child);

impl Drop for Driver {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

fn tools() -> Option<(PathBuf, PathBuf)> {
    let find = |names: &[&str]| {
        names.iter().find_map(|n| {
            let out = Command::new("which").arg(n).output().ok()?;
            out.status
                .success()
                .then(|| PathBuf::from(String::from_utf8_lossy(&out.stdout).trim()))
        })
    };
    Some((
        find(&["chromium", "chromium-browser", "google-chrome"])?,
        find(&["chromedriver"])?,
    ))
}

fn artifacts() -> PathBuf {
    let base = std::env::var_os("CARGO_TARGET_DIR")
        .map(PathBuf::from)
        .unwrap_or_else(|| PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../target"));
    let dir = base.join("test-artifacts/dashboard");
    std::fs::create_dir_all(&dir).unwrap();
    dir
}

async fn shot(c: &Client, name: &str) {
    let png = c.screenshot().await.unwrap();
    let path = artifacts().join(format!("{name}.png"));
    std::fs::write(&path, png).unwrap();
    eprintln!("screenshot: {}", path.display());
}

async fn browser(chromium: &PathBuf, chromedriver: &PathBuf) -> (Client, Driver) {
    let port = free_port();
    let child = Command::new(chromedriver)
        .arg(format!("--port={port}"))
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let driver = Driver(child);
    let mut caps = serde_json::Map::new();
    caps.insert(
        "goog:chromeOptions".into(),
        json!({
            "binary": chromium,
            "args": ["--headless=new", "--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage", "--window-size=1400,1000"],
        }),
    );
    let deadline = Instant::now() + Duration::from_secs(20);
    loop {
        match ClientBuilder::new(hyper_util::client::legacy::connect::HttpConnector::new())
            .capabilities(caps.clone())
            .connect(&format!("http://127.0.0.1:{port}"))
            .await
        {
            Ok(c) => return (c, driver),
            Err(e) => {
                assert!(Instant::now() < deadline, "chromedriver did not start: {e}");
                tokio::time::sleep(Duration::from_millis(200)).await;
            }
        }
    }
}

/// `GET path` on the hub's admin API with the admin token, as JSON.
async fn admin_get(http: &reqwest::Client, base: &str, path: &str) -> serde_json::Value {
    http.get(format!("{base}{path}"))
        .bearer_auth(ADMIN)
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap()
}

async fn text_of(c: &Client, css: &str) -> String {
    c.find(Locator::Css(css))
        .await
        .unwrap()
        .text()
        .await
        .unwrap()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn the_overview_leads_to_a_dead_letter_and_replay_delivers_it() {
    let Some((chromium, chromedriver)) = tools() else {
        if std::env::var("CI").is_ok_and(|v| v == "true") {
            panic!("chromium and chromedriver are required in CI (apt-get install chromium chromium-driver)");
        }
        eprintln!("\n!!! SKIPPED: chromium / chromedriver not installed; the dashboard is untested here !!!\n");
        return;
    };
    let env = FailingSink::start(ADMIN, 1).await;
    let hub = &env.hub;
    // Wait for the dead letter (two failed attempts).
    let http = reqwest::Client::new();
    let deadline = Instant::now() + Duration::from_secs(15);
    loop {
        let v = admin_get(&http, &hub.base, "/api/v1/dead-letters").await;
        if v.to_string().contains("\"state\":\"dead\"") {
            break;
        }
        assert!(Instant::now() < deadline, "no dead letter: {v}");
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    env.heal().await;

    let (c, _driver) = browser(&chromium, &chromedriver).await;
    // Without a session, the dashboard sends the browser to sign in.
    c.goto(&format!("{}/ui/", hub.base)).await.unwrap();
    assert!(c.current_url().await.unwrap().path().ends_with("/ui/login"));
    c.find(Locator::Css("#token"))
        .await
        .unwrap()
        .send_keys(ADMIN)
        .await
        .unwrap();
    c.find(Locator::Css("form[action='/ui/login'] button"))
        .await
        .unwrap()
        .click()
        .await
        .unwrap();

    // The overview: the destination shows one dead letter.
    c.wait()
        .for_element(Locator::Css("#destinations"))
        .await
        .unwrap();
    let row = text_of(&c, "tr[data-destination='billing']").await;
    assert!(row.contains("billing"), "{row}");
    // Signed in: "Sign out" is offered.
    assert!(text_of(&c, "form.logout").await.contains("Sign out"));
    shot(&c, "1-overview").await;
    let sources = text_of(&c, "#sources").await;
    assert!(sources.contains("crm"), "{sources}");
    c.find(Locator::Css(
        "tr[data-destination='billing'] a[href*='dead-letters']",
    ))
    .await
    .unwrap()
    .click()
    .await
    .unwrap();

    // The dead letters page: the reason is there; Replay it.
    c.wait().for_element(Locator::Css("#dead")).await.unwrap();
    let dead = text_of(&c, "#dead").await;
    assert!(dead.contains("500"), "{dead}");
    shot(&c, "2-dead-letters").await;
    let id = c
        .find(Locator::Css("#dead tbody tr"))
        .await
        .unwrap()
        .attr("data-delivery")
        .await
        .unwrap()
        .unwrap();
    c.find(Locator::Css("#dead tbody tr button"))
        .await
        .unwrap()
        .click()
        .await
        .unwrap();
    c.wait().for_element(Locator::Css(".flash")).await.unwrap();
    let flash = text_of(&c, ".flash").await;
    assert!(flash.contains(&format!("#{id} replayed")), "{flash}");
    shot(&c, "3-replayed").await;

    // Its timeline shows it delivered.
    let deadline = Instant::now() + Duration::from_secs(15);
    loop {
        c.goto(&format!("{}/ui/deliveries/{id}", hub.base))
            .await
            .unwrap();
        let timeline = text_of(&c, "#timeline").await;
        if timeline.contains("delivered") {
            assert!(timeline.contains("HTTP 200"), "{timeline}");
            break;
        }
        assert!(Instant::now() < deadline, "not delivered: {timeline}");
        tokio::time::sleep(Duration::from_millis(300)).await;
    }
    shot(&c, "4-delivered").await;
    // The replay is in the audit log under the admin token.
    let audit = admin_get(&http, &hub.base, "/api/v1/audit").await;
    assert!(
        audit.to_string().contains("/ui/deliveries/{id}/replay"),
        "{audit}"
    );

    // The request inspector: a webhook with a bad signature shows up with its reason, its
    // signature masked.
    let r = http
        .post(format!("{}/webhooks/crm", hub.base))
        .header("webhook-id", "evt_forged")
        .header("webhook-timestamp", junction_core::time::now_ms() / 1000)
        .header("webhook-signature", "v1,Zm9yZ2VkLXNpZ25hdHVyZQ==")
        .body(r#"{"type":"customer.updated","forged":true}"#)
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 401);
    let deadline = Instant::now() + Duration::from_secs(10);
    loop {
        c.goto(&format!("{}/ui/", hub.base)).await.unwrap();
        c.find(Locator::Css("nav a[href='/ui/rejected']"))
            .await
            .unwrap()
            .click()
            .await
            .unwrap();
        c.wait().for_element(Locator::Css("main")).await.unwrap();
        let page = text_of(&c, "main").await;
        if page.contains("bad_signature") {
            let table = text_of(&c, "#rejected").await;
            assert!(table.contains("crm") && table.contains("401"), "{table}");
            break;
        }
        assert!(Instant::now() < deadline, "not in the inspector: {page}");
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    c.find(Locator::Css("#rejected summary"))
        .await
        .unwrap()
        .click()
        .await
        .unwrap();
    let detail = text_of(&c, "#rejected details").await;
    assert!(detail.contains("\"forged\":true"), "{detail}");
    assert!(
        !detail.contains("Zm9yZ2VkLXNpZ25hdHVyZQ"),
        "the signature is masked: {detail}"
    );
    shot(&c, "5-rejected").await;
    c.close().await.unwrap();
}
