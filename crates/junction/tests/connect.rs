//! Guided OAuth connect, as an end user goes through it in a browser (headless Chromium): an
//! internal app creates a connect session for its tenant; the end user opens the link, clicks
//! Connect, authorizes at the vendor (HubSpot's persona: authorization code with PKCE), comes
//! back to "Connected"; the tenant's connection then calls the vendor. When the vendor forgets
//! the grant the connection needs re-authorization, the session page says so, and Reconnect
//! repairs the same connection. Every connect is audited with the scopes asked for and granted.
//!
//! Needs `chromium` and `chromedriver`; skipped with a loud message without them, except under
//! `CI=true`, where it fails.

mod support;

use fantoccini::{Client, Locator};
use junction_mock::{Mock, MockConfig, Persona};
use serde_json::{json, Value};
use support::browser::*;
use support::*;

const KEY: &str = "v1:q83vEjRWeJCrze8SNFZ4kKvN7xI0VniQq83vEjRWeJA=";
const ADMIN: &str = "connect-admin-token-1234";

async fn text(c: &Client, css: &str) -> String {
    c.find(Locator::Css(css))
        .await
        .unwrap()
        .text()
        .await
        .unwrap()
}

/// The end user's visit: the session page, one click, the vendor, back.
async fn connect_through(c: &Client, link: &str, expect_state: &str, shot_name: &str) -> String {
    c.goto(link).await.unwrap();
    assert_eq!(text(c, "#state-hubspot").await, expect_state);
    shot(c, &format!("{shot_name}-session")).await;
    c.find(Locator::Css("#connect-hubspot"))
        .await
        .unwrap()
        .click()
        .await
        .unwrap();
    let done = c
        .wait()
        .for_element(Locator::Css("h1"))
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    shot(c, &format!("{shot_name}-done")).await;
    done
}

async fn call(http: &reqwest::Client, base: &str, token: &str, connection: &str) -> (u16, String) {
    let res = http
        .post(format!("{base}/ops/hubspot/get_contact"))
        .bearer_auth(token)
        .header("x-junction-connection", connection)
        .json(&json!({ "id": "3" }))
        .send()
        .await
        .unwrap();
    (res.status().as_u16(), res.text().await.unwrap())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn an_end_user_connects_their_account_and_reconnects_it_when_it_breaks() {
    let Some((chromium, chromedriver)) = tools() else {
        if std::env::var("CI").is_ok_and(|v| v == "true") {
            panic!("chromium and chromedriver are required in CI (apt-get install chromium chromium-driver)");
        }
        eprintln!("SKIPPED: the connect flow test needs chromium and chromedriver (apt-get install chromium chromium-driver)");
        return;
    };
    let mock = Mock::start(
        MockConfig {
            customers: 5,
            persona: Some(Persona::Hubspot),
            ..Default::default()
        },
        "127.0.0.1:0".parse().unwrap(),
    )
    .await
    .unwrap();
    let m = mock.url();
    let port = free_port();
    let base = format!("http://127.0.0.1:{port}");
    let dir = tempfile::tempdir().unwrap();
    let config = write_config(
        dir.path(),
        &format!(
            r#"
server: {{ public_url: "{base}" }}
store: {{ url: "sqlite://{d}/j.db" }}
connectors:
  hubspot:
    template: hubspot
    base_url: "{m}"
    vars: {{ client_id: mock_client, client_secret: env:HUBSPOT_SECRET }}
    auth: {{ token_url: "{m}/oauth/v1/token", authorize_url: "{m}/oauth/authorize" }}
    connection_events: lifecycle
destinations:
  app: {{ url: "{m}/sink/connect" }}
  lifecycle: {{ url: "{m}/sink/lifecycle" }}
"#,
            d = dir.path().display()
        ),
    );
    let (code, out, err) = cli(
        &config,
        KEY,
        &["tokens", "create", "app", "--scope", "op:hubspot:*"],
        "",
    );
    assert_eq!(code, Some(0), "{err}");
    let app = out.trim().to_owned();
    let hub = Served::start_on(
        &config,
        &[
            ("JUNCTION_MASTER_KEY", KEY),
            ("HUBSPOT_SECRET", "mock_secret"),
            ("JUNCTION_ADMIN_TOKEN", ADMIN),
        ],
        port,
    );
    let http = reqwest::Client::new();

    // Before anyone connects, the tenant's connection does not exist.
    let (status, body) = call(&http, &base, &app, "acme-co").await;
    assert_eq!(status, 404, "{body}");
    assert!(body.contains("has no credentials"), "{body}");

    // The app asks for a session for its tenant.
    let session: Value = http
        .post(format!("{base}/api/v1/connect-sessions"))
        .bearer_auth(ADMIN)
        .json(&json!({ "tenant": "acme-co", "return_to": "http://127.0.0.1:9/settings", "notify": "app" }))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let link = session["url"]
        .as_str()
        .unwrap_or_else(|| panic!("{session}"))
        .to_owned();
    assert!(link.starts_with(&format!("{base}/connect/")), "{session}");
    assert_eq!(session["connectors"], json!(["hubspot"]));

    let (client, _driver) = browser(&chromium, &chromedriver).await;
    let done = connect_through(&client, &link, "not connected", "connect").await;
    assert_eq!(done, "Connected");
    let said = text(&client, "#connected").await;
    assert!(said.contains("hubspot is connected for acme-co"), "{said}");
    assert!(
        client
            .find(Locator::Css("#return"))
            .await
            .unwrap()
            .attr("href")
            .await
            .unwrap()
            .as_deref()
            == Some("http://127.0.0.1:9/settings")
    );

    // The tenant's connection calls the vendor.
    let (status, body) = call(&http, &base, &app, "acme-co").await;
    assert_eq!(status, 200, "{body}");
    assert_eq!(serde_json::from_str::<Value>(&body).unwrap()["id"], "3");

    // Audited, with the scopes asked for and granted; the tokens never shown.
    let audit = http
        .get(format!("{base}/api/v1/audit"))
        .bearer_auth(ADMIN)
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    assert!(
        audit.contains("connection.connect") && audit.contains("hubspot/acme-co"),
        "{audit}"
    );
    assert!(audit.contains("crm.objects.contacts.read"), "{audit}");
    let issued: Value = http
        .get(format!("{m}/_mock/tokens"))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let refresh = issued["issued"][0]["refresh_token"]
        .as_str()
        .unwrap()
        .to_owned();
    let connector = http
        .get(format!("{base}/api/v1/connectors/hubspot"))
        .bearer_auth(ADMIN)
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    assert!(
        connector.contains("acme-co") && !connector.contains(&refresh),
        "{connector}"
    );

    // The app is told, through its destination.
    let told = sink_until(&http, &m, "/sink/connect", |d| !d.is_empty()).await;
    let body: Value = serde_json::from_str(told[0]["body"].as_str().unwrap_or_default())
        .unwrap_or_else(|_| told[0]["body"].clone());
    assert_eq!(body["tenant"], "acme-co", "{told:?}");
    assert_eq!(body["connector"], "hubspot");
    assert!(
        body["scopes_granted"]
            .as_array()
            .is_some_and(|s| !s.is_empty()),
        "{body}"
    );
    // The connector's lifecycle destination is told too.
    assert_eq!(lifecycle(&http, &m, 1).await, ["connection.connected"]);
    // The tenant's connections, listed with their state.
    let listed: Value = http
        .get(format!("{base}/api/v1/connections?name=acme-co"))
        .bearer_auth(ADMIN)
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(listed["connections"][0]["connector"], "hubspot", "{listed}");
    assert_eq!(listed["connections"][0]["state"], "active", "{listed}");

    // The vendor forgets the grant: the connection needs re-authorization…
    http.post(format!("{m}/_mock/reset")).send().await.unwrap();
    let (status, body) = call(&http, &base, &app, "acme-co").await;
    assert_eq!(status, 502, "{body}");
    assert!(body.contains("needs_reauth"), "{body}");
    // The application is told, once, with the vendor's error.
    let (status, _) = call(&http, &base, &app, "acme-co").await;
    assert_eq!(status, 502);
    // (The mock's reset also emptied its sink.)
    assert_eq!(lifecycle(&http, &m, 1).await, ["connection.needs_reauth"]);
    // The dashboard lists the tenant's connection, needing re-authorization, first.
    sign_in_with(&client, &base, ADMIN).await;
    client
        .wait()
        .for_element(Locator::Css("nav"))
        .await
        .unwrap();
    client
        .goto(&format!("{base}/ui/connections?name=acme-co"))
        .await
        .unwrap();
    let row = text(&client, "#connections tbody tr").await;
    assert!(
        row.contains("hubspot") && row.contains("acme-co") && row.contains("needs_reauth"),
        "{row}"
    );
    shot(&client, "connect-dashboard").await;
    // …the session page says so, and Reconnect repairs the same connection.
    let done = connect_through(&client, &link, "needs to be reconnected", "reconnect").await;
    assert_eq!(done, "Connected");
    let (status, body) = call(&http, &base, &app, "acme-co").await;
    assert_eq!(status, 200, "{body}");

    // Revoked: forgotten, and calls fail until it is connected again.
    let res = http
        .delete(format!("{base}/api/v1/connections/hubspot/acme-co"))
        .bearer_auth(ADMIN)
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 204);
    let (status, body) = call(&http, &base, &app, "acme-co").await;
    assert_eq!(status, 404, "{body}");
    assert_eq!(
        lifecycle(&http, &m, 3).await,
        [
            "connection.needs_reauth",
            "connection.connected",
            "connection.revoked"
        ]
    );
    let res = http
        .delete(format!("{base}/api/v1/connections/hubspot/acme-co"))
        .bearer_auth(ADMIN)
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 404);

    // A link that was tampered with, or a callback that did not start here, connects nothing.
    client.goto(&format!("{link}x")).await.unwrap();
    assert_eq!(text(&client, "h1").await, "This link has expired");
    let forged = http
        .get(format!(
            "{base}/connect/callback?code=abc&state=v1.1.AAAA.BBBB"
        ))
        .send()
        .await
        .unwrap();
    assert_eq!(forged.status(), 400);
    let headers = forged.headers();
    assert_eq!(headers["referrer-policy"], "no-referrer");
    assert!(headers["content-security-policy"]
        .to_str()
        .unwrap()
        .contains("default-src 'none'"));

    // Sessions are for connectable connectors and named tenants only.
    for (body, status) in [
        (json!({ "tenant": "acme co" }), 400),
        (json!({ "tenant": "acme", "connectors": ["nope"] }), 400),
        (
            json!({ "tenant": "acme", "return_to": "javascript:alert(1)" }),
            400,
        ),
        (
            json!({ "tenant": "acme", "notify": "http://169.254.169.254/" }),
            400,
        ),
    ] {
        let res = http
            .post(format!("{base}/api/v1/connect-sessions"))
            .bearer_auth(ADMIN)
            .json(&body)
            .send()
            .await
            .unwrap();
        assert_eq!(
            res.status().as_u16(),
            status,
            "{body}: {}",
            res.text().await.unwrap()
        );
    }
    client.close().await.unwrap();
    drop(hub);
}

/// The events the connector's lifecycle destination received, in order, once there are `n`.
async fn lifecycle(http: &reqwest::Client, m: &str, n: usize) -> Vec<String> {
    let got = sink_until(http, m, "/sink/lifecycle", |d| d.len() >= n).await;
    let mut events: Vec<(i64, String)> = got
        .iter()
        .map(|d| {
            let body: Value = serde_json::from_str(d["body"].as_str().unwrap_or_default())
                .unwrap_or_else(|_| d["body"].clone());
            assert_eq!(body["connector"], "hubspot", "{body}");
            assert_eq!(body["connection"], "acme-co", "{body}");
            if body["event"] == "connection.needs_reauth" {
                assert!(
                    body["error"].as_str().is_some_and(|e| !e.is_empty()),
                    "{body}"
                );
            }
            (
                body["at_ms"].as_i64().unwrap_or_default(),
                body["event"].as_str().unwrap_or_default().to_owned(),
            )
        })
        .collect();
    events.sort();
    assert_eq!(events.len(), n, "{got:?}");
    events.into_iter().map(|(_, e)| e).collect()
}
