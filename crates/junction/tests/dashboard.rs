//! The dashboard as a person uses it: headless Chromium (driven through chromedriver) signs in,
//! opens the overview, follows the dead letter to its page, clicks Replay, and sees the delivery
//! delivered on its timeline. Screenshots of each step are kept under
//! `$CARGO_TARGET_DIR/test-artifacts/dashboard/` (or `target/…`).
//!
//! Needs `chromium` and `chromedriver` (Debian: `apt-get install chromium chromium-driver`);
//! without them the test is skipped with a loud message, except under `CI=true`, where it fails.

mod support;

use std::time::{Duration, Instant};

use fantoccini::{Client, Locator};
use serde_json::json;
use support::browser::*;
use support::*;

const ADMIN: &str = "dashboard-admin-token-1234";

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
    sign_in(&c, &hub.base).await;

    // The overview: the destination shows one dead letter.
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

/// Signs the browser in with the admin token and waits for the overview.
async fn sign_in(c: &Client, base: &str) {
    sign_in_with(c, base, ADMIN).await;
    c.wait()
        .for_element(Locator::Css("#destinations"))
        .await
        .unwrap();
}

async fn click(c: &Client, css: &str) {
    c.find(Locator::Css(css))
        .await
        .unwrap_or_else(|e| panic!("{css}: {e}"))
        .click()
        .await
        .unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn detail_pages_show_a_connectors_circuit_opening_and_a_destinations_dead_letters_replayed() {
    let Some((chromium, chromedriver)) = tools() else {
        if std::env::var("CI").is_ok_and(|v| v == "true") {
            panic!("chromium and chromedriver are required in CI (apt-get install chromium chromium-driver)");
        }
        eprintln!("\n!!! SKIPPED: chromium / chromedriver not installed; the dashboard is untested here !!!\n");
        return;
    };
    let mock = junction_mock::Mock::start(
        junction_mock::MockConfig {
            customers: 5,
            ..Default::default()
        },
        "127.0.0.1:0".parse().unwrap(),
    )
    .await
    .unwrap();
    let http = reqwest::Client::new();
    // The vendor and the receiver both fail.
    let r = http
        .put(format!("{}/_mock/chaos", mock.url()))
        .json(&json!({ "errors": [[500, 1.0]] }))
        .send()
        .await
        .unwrap();
    assert!(r.status().is_success());
    set_sink(&http, &mock.url(), json!({ "errors": [[500, 1.0]] })).await;
    let dir = tempfile::tempdir().unwrap();
    let config = write_config(
        dir.path(),
        &format!(
            r#"
store: {{ url: "sqlite://{d}/j.db" }}
delivery: {{ poll_interval: 50ms }}
connectors:
  crm:
    base_url: "{m}/v2"
    retry: {{ attempts: 1 }}
    circuit: {{ error_rate: 50%, min_calls: 2, open_for: 10m }}
    operations:
      get_customer: {{ path: "/customers/{{id}}", summary: One customer }}
sources:
  shop:
    kind: webhook
    verify: {{ preset: none }}
    event: {{ id: .id, type: .type }}
destinations:
  billing:
    url: "{m}/sink/billing"
    retry: {{ attempts: 2, base: 10ms, max: 20ms }}
routes:
  orders: {{ from: shop, to: [ billing ] }}
jobs:
  crm-probe:
    every: 1h
    missed: skip
    probe: {{ connector: crm, calls: [ {{ operation: get_customer, input: {{ id: cus_000001 }} }} ] }}
"#,
            d = dir.path().display(),
            m = mock.url()
        ),
    );
    let (code, token, err) = cli(
        &config,
        "v1:q83vEjRWeJCrze8SNFZ4kKvN7xI0VniQq83vEjRWeJA=",
        &["tokens", "create", "svc", "--scope", "proxy:crm:GET"],
        "",
    );
    assert_eq!(code, Some(0), "{err}");
    let token = token.trim().to_owned();
    let hub = Served::start(
        &config,
        &[
            ("JUNCTION_ADMIN_TOKEN", ADMIN),
            (
                "JUNCTION_MASTER_KEY",
                "v1:q83vEjRWeJCrze8SNFZ4kKvN7xI0VniQq83vEjRWeJA=",
            ),
        ],
    );

    // Four calls: two vendor 500s open the circuit, the next two are refused at once.
    let mut statuses = Vec::new();
    for _ in 0..4 {
        let r = http
            .get(format!("{}/proxy/crm/customers/cus_000001", hub.base))
            .bearer_auth(&token)
            .send()
            .await
            .unwrap();
        statuses.push(r.status().as_u16());
    }
    assert_eq!(statuses[..2], [500, 500], "{statuses:?}");
    assert!(statuses[2..].iter().all(|s| *s == 503), "{statuses:?}");
    // A webhook whose delivery dead-letters.
    let r = http
        .post(format!("{}/webhooks/shop", hub.base))
        .json(&json!({ "id": "ord_1", "type": "order.created" }))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 202);
    let deadline = Instant::now() + Duration::from_secs(15);
    while !admin_get(&http, &hub.base, "/api/v1/deliveries?state=dead")
        .await
        .to_string()
        .contains("\"state\":\"dead\"")
    {
        assert!(Instant::now() < deadline, "no dead letter");
        tokio::time::sleep(Duration::from_millis(100)).await;
    }

    let (c, _driver) = browser(&chromium, &chromedriver).await;
    sign_in(&c, &hub.base).await;

    // The connector's page, from the overview: failing, with its calls and their errors.
    click(&c, "#connectors a[href='/ui/connectors/crm']").await;
    c.wait().for_element(Locator::Css("#calls")).await.unwrap();
    let facts = text_of(&c, "#facts").await;
    assert!(
        facts.contains("failing: paused until a probe succeeds"),
        "{facts}"
    );
    let calls = text_of(&c, "#calls").await;
    assert!(
        calls.contains("/customers/cus_000001") && calls.contains("500"),
        "{calls}"
    );
    assert!(calls.contains("circuit_open"), "{calls}");
    let operations = text_of(&c, "#operations").await;
    assert!(
        operations.contains("get_customer")
            && operations.contains("GET /customers/{id}")
            && operations.contains("One customer"),
        "{operations}"
    );
    let errors = text_of(&c, "#errors").await;
    assert!(
        errors.contains("HTTP 500") && errors.contains("circuit_open"),
        "{errors}"
    );
    shot(&c, "detail-1-connector").await;

    // The destination's page: its dead letter, grouped by reason; replay it once the
    // receiver is back.
    c.goto(&format!("{}/ui/", hub.base)).await.unwrap();
    click(&c, "#destinations a[href='/ui/destinations/billing']").await;
    c.wait()
        .for_element(Locator::Css("#actions"))
        .await
        .unwrap();
    let errors = text_of(&c, "#errors").await;
    assert!(errors.contains("500"), "{errors}");
    let routes = text_of(&c, "main").await;
    assert!(routes.contains("orders from shop"), "{routes}");
    shot(&c, "detail-2-destination").await;
    set_sink(&http, &mock.url(), json!({})).await;
    click(&c, "form[action='/ui/destinations/billing/replay'] button").await;
    if c.wait()
        .at_most(Duration::from_secs(10))
        .for_element(Locator::Css(".flash"))
        .await
        .is_err()
    {
        panic!(
            "no flash at {}: {}\nlogs:\n{}",
            c.current_url().await.unwrap(),
            text_of(&c, "body").await,
            hub.output.lock().unwrap()
        );
    }
    let flash = text_of(&c, ".flash").await;
    assert!(flash.contains("1 dead letter(s) replayed"), "{flash}");

    // The deliveries page, filtered by state, finds it delivered.
    let deadline = Instant::now() + Duration::from_secs(15);
    loop {
        c.goto(&format!("{}/ui/deliveries?state=delivered", hub.base))
            .await
            .unwrap();
        let page = text_of(&c, "main").await;
        if page.contains("billing") {
            break;
        }
        assert!(Instant::now() < deadline, "not delivered: {page}");
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    shot(&c, "detail-3-deliveries").await;

    // The source's page: how it reads events, its route and its event.
    c.goto(&format!("{}/ui/sources/shop", hub.base))
        .await
        .unwrap();
    let facts = text_of(&c, "#facts").await;
    assert!(
        facts.contains("/webhooks/shop") && facts.contains(".id"),
        "{facts}"
    );
    let recent = text_of(&c, "#recent").await;
    assert!(recent.contains("ord_1"), "{recent}");
    shot(&c, "detail-4-source").await;

    // The API link leads to a readable reference, from the same OpenAPI document.
    click(&c, "nav a[href='/ui/api']").await;
    c.wait().for_element(Locator::Css("#toc")).await.unwrap();
    let toc = text_of(&c, "#toc").await;
    assert!(
        toc.contains("/api/v1/deliveries") && toc.contains("/webhooks/{source}"),
        "{toc}"
    );
    click(&c, "#toc a[href='#op-get--api-v1-deliveries']").await;
    let op = text_of(&c, "#op-get--api-v1-deliveries").await;
    assert!(
        op.contains("Search deliveries") && op.contains("DeliveryList") && op.contains("state"),
        "{op}"
    );
    let schema = text_of(&c, "#schema-DeliveryItem").await;
    assert!(schema.contains("dead_reason"), "{schema}");
    shot(&c, "detail-5-api").await;

    // Jobs: run the probe now (the vendor fails, so the run fails), then pause it.
    click(&c, "nav a[href='/ui/jobs']").await;
    let jobs = text_of(&c, "#jobs").await;
    assert!(
        jobs.contains("crm-probe") && jobs.contains("every 1h"),
        "{jobs}"
    );
    click(&c, "form[action='/ui/jobs/crm-probe/run'] button").await;
    let flash = c.wait().for_element(Locator::Css(".flash")).await.unwrap();
    assert!(flash.text().await.unwrap().contains("Run started"));
    let until = std::time::Instant::now() + std::time::Duration::from_secs(15);
    loop {
        c.goto(&format!("{}/ui/jobs", hub.base)).await.unwrap();
        let runs = c.find(Locator::Css("#runs")).await.map(|_| ());
        if runs.is_ok() && text_of(&c, "#runs").await.contains("failed") {
            break;
        }
        assert!(std::time::Instant::now() < until, "the run did not finish");
        tokio::time::sleep(std::time::Duration::from_millis(200)).await;
    }
    let runs = text_of(&c, "#runs").await;
    assert!(
        runs.contains("manual") && runs.contains("get_customer"),
        "{runs}"
    );
    // The connector's page shows its probe and how the last run went.
    c.goto(&format!("{}/ui/connectors/crm", hub.base))
        .await
        .unwrap();
    let probes = text_of(&c, "#probes").await;
    assert!(
        probes.contains("crm-probe") && probes.contains("failed"),
        "{probes}"
    );
    click(&c, "#probes a[href='/ui/jobs']").await;
    c.wait()
        .for_element(Locator::Css(
            "form[action='/ui/jobs/crm-probe/pause'] button",
        ))
        .await
        .unwrap()
        .click()
        .await
        .unwrap();
    c.wait()
        .for_element(Locator::Css("form[action='/ui/jobs/crm-probe/resume']"))
        .await
        .unwrap();
    assert!(text_of(&c, "#jobs").await.contains("paused"));
    shot(&c, "detail-6-jobs").await;
    c.close().await.unwrap();
}
