//! Calls out as a user runs them: a client secret stored with `junction secrets set`, a hub API
//! token from `junction tokens create`, `junction serve` proxying to the mock provider with an
//! OAuth2 token it obtained itself, `junction connections list`, and a revoked token refused.

mod support;

use std::path::Path;
use std::time::{Duration, Instant};

use junction_mock::{AuthConfig, Mock, MockConfig};
use support::*;

const KEY: &str = "v1:q83vEjRWeJCrze8SNFZ4kKvN7xI0VniQq83vEjRWeJA=";

fn junction(config: &Path, args: &[&str], stdin: &str) -> (Option<i32>, String, String) {
    cli(config, KEY, args, stdin)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_service_calls_a_vendor_through_proxy_with_a_scoped_token() {
    let mock = Mock::start(
        MockConfig {
            customers: 10,
            auth: AuthConfig {
                required: true,
                ..Default::default()
            },
            ..Default::default()
        },
        "127.0.0.1:0".parse().unwrap(),
    )
    .await
    .unwrap();
    let dir = tempfile::tempdir().unwrap();
    let config = write_config(
        dir.path(),
        &format!(
            r#"store: {{ url: "sqlite://{}/j.db" }}
connectors:
  crm:
    base_url: "{m}/v2"
    auth:
      kind: oauth2_client_credentials
      token_url: "{m}/oauth/token"
      client_id: mock_client
      client_secret: secret:crm_client_secret
    quotas: [ 50/s ]
"#,
            dir.path().display(),
            m = mock.url()
        ),
    );
    let (code, _, err) = junction(
        &config,
        &["secrets", "set", "crm_client_secret"],
        "mock_secret\n",
    );
    assert_eq!(code, Some(0), "{err}");
    let (code, out, _) = junction(&config, &["check"], "");
    assert_eq!(code, Some(0));
    assert!(
        out.contains("connector crm: http://127.0.0.1:")
            && out.contains("oauth2_client_credentials; quotas: 50/1s"),
        "{out}"
    );
    let (code, _, err) = junction(
        &config,
        &["tokens", "create", "bad", "--scope", "crm:GET"],
        "",
    );
    assert_eq!(code, Some(1));
    assert!(err.contains("invalid scope `crm:GET`"), "{err}");
    let (code, token, err) = junction(
        &config,
        &["tokens", "create", "billing", "--scope", "proxy:crm:GET"],
        "",
    );
    assert_eq!(code, Some(0), "{err}");
    let token = token.trim().to_owned();
    assert!(token.starts_with("jct_"), "{token}");

    let hub = Served::start(&config, &[("JUNCTION_MASTER_KEY", KEY)]);
    let client = reqwest::Client::new();
    let url = format!("{}/proxy/crm/customers/cus_000001", hub.base);
    let res = client.get(&url).bearer_auth(&token).send().await.unwrap();
    assert_eq!(res.status(), 200, "{}", res.text().await.unwrap());
    let post = client
        .post(format!("{}/proxy/crm/customers", hub.base))
        .bearer_auth(&token)
        .body("{}")
        .send()
        .await
        .unwrap();
    assert_eq!(post.status(), 403);

    let admin: serde_json::Value = client
        .get(format!("{}/api/v1/connectors", hub.base))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let crm = &admin["connectors"][0];
    assert_eq!(
        (crm["name"].as_str(), crm["circuit"].as_str()),
        (Some("crm"), Some("closed"))
    );
    assert_eq!(crm["quota"]["windows"][0]["limit"], 50);
    assert_eq!(crm["connections"][0]["state"], "active");
    assert!(!admin.to_string().contains("mock_secret"));
    let (code, out, _) = junction(&config, &["connections", "list", "-o", "json"], "");
    assert_eq!(code, Some(0));
    let rows: serde_json::Value = serde_json::from_str(&out).unwrap();
    assert_eq!(
        (rows[0]["connector"].as_str(), rows[0]["state"].as_str()),
        (Some("crm"), Some("active"))
    );
    assert!(!out.contains("at_"), "no token in the listing: {out}");

    let (_, out, _) = junction(&config, &["tokens", "list", "-o", "json"], "");
    let tokens: serde_json::Value = serde_json::from_str(&out).unwrap();
    let id = tokens[0]["id"].as_str().unwrap().to_owned();
    assert!(!out.contains(&token));
    let (code, _, _) = junction(&config, &["tokens", "revoke", &id], "");
    assert_eq!(code, Some(0));
    // Hubs remember a verified token for a few seconds; then the revocation applies.
    let deadline = Instant::now() + Duration::from_secs(10);
    loop {
        let status = client
            .get(&url)
            .bearer_auth(&token)
            .send()
            .await
            .unwrap()
            .status();
        if status == 401 {
            break;
        }
        assert!(Instant::now() < deadline, "the revoked token still works");
        tokio::time::sleep(Duration::from_millis(250)).await;
    }
    let (_, logs) = hub.terminate();
    assert!(
        !logs.contains("mock_secret") && !logs.contains(&token),
        "a secret leaked into the logs"
    );
}
