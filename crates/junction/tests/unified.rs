//! Unified endpoints: two vendors with different shapes, paginations, auth and rate-limit
//! headers — HubSpot (OAuth, `after` cursor, `properties`) and Zendesk (basic with an API token,
//! `page[after]`, `{user: …}`) — behind one `GET /unified/crm/contacts`, on one hub, from their
//! templates; both answer the same canonical records, in one page shape with one opaque cursor,
//! and their errors in one shape.

mod support;

use std::collections::BTreeSet;

use junction_mock::{Mock, MockConfig, Persona};
use serde_json::Value;
use support::*;

const KEY: &str = "v1:q83vEjRWeJCrze8SNFZ4kKvN7xI0VniQq83vEjRWeJA=";
const CUSTOMERS: usize = 25;

async fn persona(p: Persona) -> Mock {
    let mut config = MockConfig {
        customers: CUSTOMERS,
        persona: Some(p),
        ..Default::default()
    };
    config.auth.basic = Some(("agent@example.com/token".into(), "zendesk-api-token".into()));
    Mock::start(config, "127.0.0.1:0".parse().unwrap())
        .await
        .unwrap()
}

async fn get(
    http: &reqwest::Client,
    url: &str,
    token: &str,
) -> (u16, Value, reqwest::header::HeaderMap) {
    let res = http.get(url).bearer_auth(token).send().await.unwrap();
    let (status, headers) = (res.status().as_u16(), res.headers().clone());
    let text = res.text().await.unwrap();
    let body = serde_json::from_str(&text).unwrap_or(Value::String(text));
    (status, body, headers)
}

/// The canonical fields two vendors share: everything but the vendor's own id.
fn shared(record: &Value) -> (String, String, String, String) {
    let s = |k: &str| record[k].as_str().unwrap_or("null").to_owned();
    (s("email"), s("name"), s("created_at"), s("updated_at"))
}

/// Every record of the resource through one connection, page by page with the opaque cursor.
async fn every_page(
    http: &reqwest::Client,
    base: &str,
    token: &str,
    connection: &str,
) -> (Vec<Value>, usize) {
    let mut records = Vec::new();
    let mut cursor: Option<String> = None;
    let mut pages = 0;
    loop {
        let mut url = format!("{base}/unified/crm/contacts?connection={connection}");
        if let Some(c) = &cursor {
            url.push_str(&format!("&cursor={c}"));
        }
        let (status, page, headers) = get(http, &url, token).await;
        assert_eq!(status, 200, "{connection}: {page}");
        assert_eq!(headers["junction-connector"], connection);
        assert_eq!(headers["junction-model"], "contact@1");
        let keys: BTreeSet<&str> = page
            .as_object()
            .unwrap()
            .keys()
            .map(String::as_str)
            .collect();
        assert_eq!(
            keys,
            BTreeSet::from(["data", "next_cursor"]),
            "one page shape: {page}"
        );
        records.extend(page["data"].as_array().unwrap().iter().cloned());
        pages += 1;
        match page["next_cursor"].as_str() {
            Some(c) => cursor = Some(c.to_owned()),
            None => break,
        }
        assert!(pages < 10, "{connection}: the walk does not end");
    }
    (records, pages)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn two_vendors_behind_one_unified_endpoint_answer_equal_canonical_records() {
    let (hubspot, zendesk) = (
        persona(Persona::Hubspot).await,
        persona(Persona::Zendesk).await,
    );
    let dir = tempfile::tempdir().unwrap();
    let config = write_config(
        dir.path(),
        &format!(
            r#"
store: {{ url: "sqlite://{d}/j.db" }}
connectors:
  hubspot:
    template: hubspot
    base_url: "{h}"
    vars: {{ client_id: mock_client, client_secret: env:HUBSPOT_SECRET }}
    auth: {{ token_url: "{h}/oauth/v1/token", scopes: [ crm.objects.contacts.read ] }}
    operations: {{ list_contacts: {{ paginate: {{ page_size: 10 }} }} }}
  zendesk:
    template: zendesk
    base_url: "{z}/api/v2"
    vars: {{ subdomain: acme, email: agent@example.com, api_token: env:ZENDESK_TOKEN }}
    operations: {{ list_users: {{ paginate: {{ page_size: 7 }} }} }}
"#,
            d = dir.path().display(),
            h = hubspot.url(),
            z = zendesk.url(),
        ),
    );
    let refresh = authorized_refresh_token(
        &hubspot.url(),
        "/oauth/v1/token",
        "crm.objects.contacts.read",
    )
    .await;
    let (code, _, err) = cli(
        &config,
        KEY,
        &["connections", "set-token", "hubspot"],
        &refresh,
    );
    assert_eq!(code, Some(0), "{err}");
    let create = |name: &str, scopes: &[&str]| {
        let mut args = vec!["tokens", "create", name];
        for s in scopes {
            args.extend(["--scope", s]);
        }
        let (code, out, err) = cli(&config, KEY, &args, "");
        assert_eq!(code, Some(0), "{err}");
        out.trim().to_owned()
    };
    let app = create("app", &["op:hubspot:*", "op:zendesk:*"]);
    let hubspot_only = create("hubspot-only", &["op:hubspot:*"]);
    let hub = Served::start(
        &config,
        &[
            ("JUNCTION_MASTER_KEY", KEY),
            ("HUBSPOT_SECRET", "mock_secret"),
            ("ZENDESK_TOKEN", "zendesk-api-token"),
        ],
    );
    let http = reqwest::Client::new();

    // What is served, and by whom.
    let (status, index, _) = get(&http, &format!("{}/unified", hub.base), &app).await;
    assert_eq!(status, 200, "{index}");
    assert_eq!(index["resources"]["crm/contacts"]["model"], "contact@1");
    assert_eq!(
        index["resources"]["crm/contacts"]["connectors"],
        serde_json::json!(["hubspot", "zendesk"])
    );

    // Each vendor's pages (10 and 7 a page, different cursors underneath), one shape.
    let (from_hubspot, hubspot_pages) = every_page(&http, &hub.base, &app, "hubspot").await;
    let (from_zendesk, zendesk_pages) = every_page(&http, &hub.base, &app, "zendesk").await;
    assert_eq!((hubspot_pages, zendesk_pages), (3, 4));
    assert_eq!(from_hubspot.len(), CUSTOMERS);
    let a: Vec<_> = from_hubspot.iter().map(shared).collect();
    let b: Vec<_> = from_zendesk.iter().map(shared).collect();
    assert_eq!(
        a, b,
        "the same people, in the same canonical shape, whichever vendor"
    );
    assert!(a
        .iter()
        .all(|(email, name, created, updated)| email.contains('@')
            && name.contains(' ')
            && created.ends_with('Z')
            && updated.ends_with('Z')));
    // Each record is exactly the canonical model's fields.
    for r in from_hubspot.iter().chain(&from_zendesk) {
        let keys: BTreeSet<&str> = r.as_object().unwrap().keys().map(String::as_str).collect();
        assert_eq!(
            keys,
            BTreeSet::from(["id", "email", "name", "created_at", "updated_at"]),
            "{r}"
        );
    }
    // `all=true` streams the same records.
    let res = http
        .get(format!(
            "{}/unified/crm/contacts?connection=zendesk&all=true",
            hub.base
        ))
        .bearer_auth(&app)
        .send()
        .await
        .unwrap();
    let text = res.text().await.unwrap();
    assert_eq!(text.lines().count(), CUSTOMERS + 1, "{text}");

    // The vendor's own record rides along when asked for, beside the canonical fields.
    let (status, page, _) = get(
        &http,
        &format!(
            "{}/unified/crm/contacts?connection=hubspot&passthrough=true",
            hub.base
        ),
        &app,
    )
    .await;
    assert_eq!(status, 200, "{page}");
    let first = &page["data"][0];
    assert_eq!(first["email"], from_hubspot[0]["email"]);
    assert_eq!(
        first["passthrough"]["properties"]["email"], first["email"],
        "{first}"
    );
    let (_, one, _) = get(
        &http,
        &format!(
            "{}/unified/crm/contacts/360000003?connection=zendesk&passthrough=true",
            hub.base
        ),
        &app,
    )
    .await;
    assert_eq!(one["passthrough"]["user"]["id"], 360000003, "{one}");

    // One record by the vendor's id: the same canonical record from both.
    let (status, one_h, _) = get(
        &http,
        &format!("{}/unified/crm/contacts/3?connection=hubspot", hub.base),
        &app,
    )
    .await;
    assert_eq!(status, 200, "{one_h}");
    let (status, one_z, _) = get(
        &http,
        &format!(
            "{}/unified/crm/contacts/360000003?connection=zendesk",
            hub.base
        ),
        &app,
    )
    .await;
    assert_eq!(status, 200, "{one_z}");
    assert_eq!(shared(&one_h), shared(&one_z));
    assert_eq!(
        (one_h["id"].as_str(), one_z["id"].as_str()),
        (Some("3"), Some("360000003"))
    );

    // Errors in one shape: a record the vendor does not have, from either.
    let (sh, missing_h, _) = get(
        &http,
        &format!(
            "{}/unified/crm/contacts/999999?connection=hubspot",
            hub.base
        ),
        &app,
    )
    .await;
    let (sz, missing_z, _) = get(
        &http,
        &format!(
            "{}/unified/crm/contacts/999999?connection=zendesk",
            hub.base
        ),
        &app,
    )
    .await;
    assert_eq!(sh, sz, "{missing_h} / {missing_z}");
    assert_eq!(
        missing_h["error"]["code"], missing_z["error"]["code"],
        "{missing_h} / {missing_z}"
    );
    assert!(missing_h["error"]["message"].is_string());

    // The token's scopes are the operations'.
    let (status, refused, _) = get(
        &http,
        &format!("{}/unified/crm/contacts?connection=zendesk", hub.base),
        &hubspot_only,
    )
    .await;
    assert_eq!(status, 403, "{refused}");
    let (status, _, _) = get(
        &http,
        &format!("{}/unified/crm/contacts?connection=hubspot", hub.base),
        &hubspot_only,
    )
    .await;
    assert_eq!(status, 200);
    let (status, _, _) = get(
        &http,
        &format!("{}/unified/crm/contacts?connection=zendesk", hub.base),
        "not-a-token",
    )
    .await;
    assert_eq!(status, 401);

    // What the caller got wrong is named, with a hint.
    for (url, status_expected, says) in [
        ("/unified/crm/contacts", 400, "`connection` is required"),
        (
            "/unified/crm/contacts?connection=salesforce",
            404,
            "does not serve",
        ),
        (
            "/unified/crm/deals?connection=hubspot",
            404,
            "no connector serves",
        ),
        (
            "/unified/crm/contacts?connection=bad%20name",
            400,
            "is not CONNECTOR",
        ),
    ] {
        let (status, body, _) = get(&http, &format!("{}{url}", hub.base), &app).await;
        assert_eq!(status, status_expected, "{url}: {body}");
        assert!(
            body["error"]["message"].as_str().unwrap().contains(says),
            "{url}: {body}"
        );
        assert!(body["error"]["hint"].is_string(), "{url}: {body}");
    }
    drop(hub);
}

#[test]
fn connectors_serving_one_unified_resource_answer_one_model() {
    let dir = tempfile::tempdir().unwrap();
    let config = write_config(
        dir.path(),
        r#"
models:
  other@1: { schema: { type: object } }
connectors:
  a:
    template: zendesk
    vars: { subdomain: acme, email: agent@example.com }
  b:
    base_url: https://b.example.test
    unified:
      crm/contacts: { list: list }
    operations:
      list: { path: /people, paginate: { style: cursor }, response: { model: other@1 } }
"#,
    );
    let (code, out, err) = cli(&config, KEY, &["check", "--allow-unresolved"], "");
    assert_eq!(code, Some(2), "{out}{err}");
    assert!(
        err.contains("`crm/contacts` answers other@1 here but contact@1 on connector `a`"),
        "{err}"
    );
}
