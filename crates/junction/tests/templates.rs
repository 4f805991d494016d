//! Each built-in provider template, proved against its vendor's persona of the mock: a real hub
//! whose connector is `template: NAME` (only the base URL, the credentials and a small page
//! size overridden) calls the vendor's paths with its credentials, walks its pagination to the
//! end, reads its rate-limit headers, maps its records to the canonical models, creates through
//! its request shape, and the template's webhook source verifies the vendor's signed events and
//! finds their id, type and key. A template without a passing persona test is not shipped:
//! `every_built_in_template_has_a_persona_test` fails when one is added without its test.

mod support;

use std::path::Path;

use junction_mock::{Mock, MockConfig, Persona};
use serde_json::{json, Value};
use support::*;

const KEY: &str = "v1:q83vEjRWeJCrze8SNFZ4kKvN7xI0VniQq83vEjRWeJA=";
const CUSTOMERS: usize = 25;
const WHSEC: &str = "persona-webhook-secret";
/// A service account's key pair made for these tests (Google's JSON key holds the private one;
/// Google keeps the public one).
const GOOGLE_KEY: &str = include_str!("fixtures/google-service-account.key.pem");
const GOOGLE_PUBLIC_KEY: &str = include_str!("fixtures/google-service-account.pub.pem");

/// What one template's proof calls and expects.
struct Case {
    persona: Persona,
    /// The connector's entry besides `template:` (base URL, vars, overrides), `{m}` the mock.
    connector: &'static str,
    /// The source's entry besides `template:`; empty: the template has no webhook source.
    source: &'static str,
    list: (&'static str, Value),
    /// Another listing of the same records (a search), walked to the end too.
    search: Option<(&'static str, Value)>,
    /// The vendor's request path prefix of the list, and the query parameter of its position.
    list_path: &'static str,
    position: &'static str,
    get: (&'static str, Value),
    /// The id the `get` answers (canonical `id`).
    get_id: &'static str,
    create: Option<(&'static str, Value)>,
    /// A field the create's answer has instead of echoing the input (Jira answers id and key).
    created_field: Option<&'static str>,
    /// The header the vendor reads credentials from, and its value.
    credential: (&'static str, &'static str),
    /// Whether the vendor's answers say how many calls are left (read into the quota).
    tells_remaining: bool,
    /// The stored events' expected (type, key of the first).
    webhook: Option<(&'static str, &'static str)>,
    env: &'static [(&'static str, &'static str)],
}

fn cases() -> Vec<Case> {
    vec![
        Case {
            persona: Persona::Twilio,
            connector: r#"base_url: "{m}/2010-04-01/Accounts/AC00000000000000000000000000000001"
    vars: { account_sid: AC00000000000000000000000000000001, auth_token: env:TWILIO_TOKEN }
    operations: { list_messages: { paginate: { page_size: 10 } } }"#,
            source: "",
            list: ("list_messages", json!({})),
            search: None,
            list_path: "/2010-04-01/Accounts/AC00000000000000000000000000000001/Messages.json",
            position: "PageToken=PA",
            get: (
                "get_message",
                json!({ "sid": "SM00000000000000000000000000000003" }),
            ),
            get_id: "SM00000000000000000000000000000003",
            create: Some((
                "send_message",
                json!({ "to": "+15550000099", "from": "+15005550006", "text": "Deploy finished" }),
            )),
            created_field: None,
            credential: ("authorization", "Basic "),
            tells_remaining: false,
            webhook: None,
            env: &[("TWILIO_TOKEN", "twilio-auth-token")],
        },
        Case {
            persona: Persona::Xero,
            connector: r#"base_url: "{m}/api.xro/2.0"
    vars: { tenant_id: 4e8e4b6a-8c57-4d5b-9f1e-2a3b4c5d6e7f, client_id: mock_client, client_secret: env:XERO_SECRET }
    auth: { token_url: "{m}/connect/token" }
    operations: { list_contacts: { paginate: { page_size: 10 } } }"#,
            source: "",
            list: ("list_contacts", json!({})),
            search: None,
            list_path: "/api.xro/2.0/Contacts",
            position: "page=3",
            get: (
                "get_contact",
                json!({ "id": "00000003-5e1f-4d2c-9a3b-000000000003" }),
            ),
            get_id: "00000003-5e1f-4d2c-9a3b-000000000003",
            create: Some((
                "create_contact",
                json!({ "email": "grace@example.com", "name": "Grace Hopper" }),
            )),
            created_field: None,
            credential: ("xero-tenant-id", "4e8e4b6a-8c57-4d5b-9f1e-2a3b4c5d6e7f"),
            tells_remaining: true,
            webhook: None,
            env: &[("XERO_SECRET", "mock_secret")],
        },
        Case {
            persona: Persona::Salesforce,
            connector: r#"base_url: "{m}/services/data/v61.0"
    vars: { my_domain: acme, client_id: mock_client, client_secret: env:SF_SECRET }
    auth: { token_url: "{m}/services/oauth2/token" }
    headers: { Sforce-Query-Options: batchSize=10 }"#,
            source: "",
            list: ("list_contacts", json!({})),
            search: None,
            list_path: "/services/data/v61.0/query",
            // The first batch carries the SOQL of `query_values`; the next ones follow the
            // `nextRecordsUrl` each batch names.
            position: "q=SELECT",
            get: ("get_contact", json!({ "id": "003000000000003AAA" })),
            get_id: "003000000000003AAA",
            create: Some((
                "create_contact",
                json!({ "email": "grace@example.com", "name": "Grace Hopper" }),
            )),
            created_field: Some("id"),
            credential: ("authorization", "Bearer "),
            tells_remaining: true,
            webhook: None,
            env: &[("SF_SECRET", "mock_secret")],
        },
        Case {
            persona: Persona::GoogleDirectory,
            connector: r#"base_url: "{m}/admin/directory/v1"
    vars: { client_email: junction@acme-project.iam.gserviceaccount.com, private_key: env:GOOGLE_KEY, admin_email: admin@acme.com }
    auth: { token_url: "{m}/token" }
    operations: { list_users: { paginate: { page_size: 10 } } }"#,
            source: "",
            list: ("list_users", json!({ "customer": "my_customer" })),
            search: None,
            list_path: "/admin/directory/v1/users",
            position: "pageToken=",
            get: ("get_user", json!({ "user": "100000000000000000003" })),
            get_id: "100000000000000000003",
            create: None,
            created_field: None,
            credential: ("authorization", "Bearer "),
            tells_remaining: false,
            webhook: None,
            env: &[("GOOGLE_KEY", GOOGLE_KEY)],
        },
        Case {
            persona: Persona::Intercom,
            connector: r#"base_url: "{m}"
    vars: { access_token: env:INTERCOM_TOKEN }
    operations:
      list_contacts: { paginate: { page_size: 10 } }
      search_contacts: { paginate: { page_size: 10 } }"#,
            source: "vars: { webhook_secret: env:WEBHOOK_SECRET }",
            list: ("list_contacts", json!({})),
            search: Some(("search_contacts", json!({ "updated_since": 1 }))),
            list_path: "/contacts",
            position: "starting_after=",
            get: ("get_contact", json!({ "id": "651200000000000000000003" })),
            get_id: "651200000000000000000003",
            create: Some((
                "create_contact",
                json!({ "email": "grace@example.com", "name": "Grace Hopper" }),
            )),
            created_field: None,
            credential: ("authorization", "Bearer mock_key_1"),
            tells_remaining: true,
            webhook: Some(("contact.user.updated", "651200000000000000000001")),
            env: &[("INTERCOM_TOKEN", "mock_key_1")],
        },
        Case {
            persona: Persona::Jira,
            connector: r#"base_url: "{m}/rest/api/3"
    vars: { site: acme, email: agent@example.com, api_token: env:JIRA_TOKEN }
    operations: { search_issues: { paginate: { page_size: 10 } } }"#,
            source: "vars: { webhook_secret: env:WEBHOOK_SECRET }",
            list: ("search_issues", json!({ "jql": "project = ACME ORDER BY created" })),
            search: None,
            list_path: "/rest/api/3/search/jql",
            // The position travels in the body (`nextPageToken`): three distinct pages of
            // distinct records prove it was sent.
            position: "",
            get: ("get_issue", json!({ "key": "ACME-3" })),
            get_id: "10003",
            create: Some((
                "create_issue",
                json!({ "project": "ACME", "title": "Broken build" }),
            )),
            created_field: Some("key"),
            credential: ("authorization", "Basic "),
            tells_remaining: false,
            webhook: Some(("jira:issue_updated", "10001")),
            env: &[("JIRA_TOKEN", "jira-api-token")],
        },
        Case {
            persona: Persona::Stripe,
            connector: r#"base_url: "{m}"
    vars: { api_key: env:STRIPE_KEY }
    operations: { list_customers: { paginate: { page_size: 10 } } }"#,
            source: "vars: { webhook_secret: env:WEBHOOK_SECRET }",
            list: ("list_customers", json!({})),
            search: None,
            list_path: "/v1/customers",
            position: "starting_after=cus_000010",
            get: ("get_customer", json!({ "id": "cus_000003" })),
            get_id: "cus_000003",
            create: None,
            created_field: None,
            credential: ("authorization", "Bearer mock_key_1"),
            tells_remaining: false,
            webhook: Some(("customer.updated", "cus_000001")),
            env: &[("STRIPE_KEY", "mock_key_1")],
        },
        Case {
            persona: Persona::Github,
            connector: r#"base_url: "{m}"
    vars: { token: env:GITHUB_TOKEN }
    operations: { list_issues: { paginate: { page_size: 10 } } }"#,
            source: "vars: { webhook_secret: env:WEBHOOK_SECRET }",
            list: ("list_issues", json!({ "owner": "acme", "repo": "widgets" })),
            search: None,
            list_path: "/repos/acme/widgets/issues",
            position: "page=3",
            get: (
                "get_issue",
                json!({ "owner": "acme", "repo": "widgets", "number": 3 }),
            ),
            get_id: "3",
            create: Some((
                "create_issue",
                json!({ "owner": "acme", "repo": "widgets", "title": "Checkout fails" }),
            )),
            created_field: None,
            credential: ("authorization", "Bearer mock_key_1"),
            tells_remaining: true,
            webhook: Some(("issues", "1")),
            env: &[("GITHUB_TOKEN", "mock_key_1")],
        },
        Case {
            persona: Persona::Hubspot,
            connector: r#"base_url: "{m}"
    vars: { client_id: mock_client, client_secret: env:HUBSPOT_SECRET }
    auth: { token_url: "{m}/oauth/v1/token" }
    operations: { list_contacts: { paginate: { page_size: 10 } } }"#,
            source: "",
            list: ("list_contacts", json!({})),
            search: None,
            list_path: "/crm/v3/objects/contacts",
            position: "after=20",
            get: ("get_contact", json!({ "id": "3" })),
            get_id: "3",
            create: Some((
                "create_contact",
                json!({ "email": "grace@example.com", "name": "Grace Brewster Hopper" }),
            )),
            created_field: None,
            credential: ("authorization", "Bearer at_"),
            tells_remaining: true,
            webhook: None,
            env: &[("HUBSPOT_SECRET", "mock_secret")],
        },
        Case {
            persona: Persona::MicrosoftGraph,
            connector: r#"base_url: "{m}/v1.0"
    vars: { tenant: contoso, client_id: mock_client, client_secret: env:GRAPH_SECRET }
    auth: { token_url: "{m}/contoso/oauth2/v2.0/token" }
    operations: { list_users: { paginate: { page_size: 10 } } }"#,
            source: "",
            list: ("list_users", json!({})),
            search: None,
            list_path: "/v1.0/users",
            position: "skiptoken=",
            get: (
                "get_user",
                json!({ "id": "00000003-0000-4000-8000-000000000003" }),
            ),
            get_id: "00000003-0000-4000-8000-000000000003",
            create: None,
            created_field: None,
            credential: ("authorization", "Bearer at_"),
            tells_remaining: false,
            webhook: None,
            env: &[("GRAPH_SECRET", "mock_secret")],
        },
        Case {
            persona: Persona::Shopify,
            connector: r#"base_url: "{m}/admin/api/2024-07"
    vars: { shop: acme, access_token: env:SHOPIFY_TOKEN }
    operations: { list_customers: { paginate: { page_size: 10 } } }"#,
            source: "vars: { shop: acme, webhook_secret: env:WEBHOOK_SECRET }",
            list: ("list_customers", json!({})),
            search: None,
            list_path: "/admin/api/2024-07/customers.json",
            position: "page_info=",
            get: ("get_customer", json!({ "id": 7000000003u64 })),
            get_id: "7000000003",
            create: Some((
                "create_customer",
                json!({ "email": "grace@example.com", "name": "Grace Hopper" }),
            )),
            created_field: None,
            credential: ("x-shopify-access-token", "mock_key_1"),
            tells_remaining: true,
            webhook: Some(("customers/update", "7000000001")),
            env: &[("SHOPIFY_TOKEN", "mock_key_1")],
        },
        Case {
            persona: Persona::Slack,
            connector: r#"base_url: "{m}/api"
    vars: { bot_token: env:SLACK_TOKEN }
    operations: { list_users: { paginate: { page_size: 10 } } }"#,
            source: "vars: { signing_secret: env:WEBHOOK_SECRET }",
            list: ("list_users", json!({})),
            search: None,
            list_path: "/api/users.list",
            position: "cursor=",
            get: ("get_user", json!({ "user": "U00000003" })),
            get_id: "U00000003",
            create: Some((
                "post_message",
                json!({ "channel": "C0001", "text": "Deploy finished" }),
            )),
            created_field: None,
            credential: ("authorization", "Bearer mock_key_1"),
            tells_remaining: false,
            webhook: Some(("user_change", "U00000001")),
            env: &[("SLACK_TOKEN", "mock_key_1")],
        },
        Case {
            persona: Persona::Zendesk,
            connector: r#"base_url: "{m}/api/v2"
    vars: { subdomain: acme, email: agent@example.com, api_token: env:ZENDESK_TOKEN }
    operations: { list_users: { paginate: { page_size: 10 } } }"#,
            source: "vars: { subdomain: acme, email: agent@example.com, webhook_secret: env:WEBHOOK_SECRET }",
            list: ("list_users", json!({})),
            search: None,
            list_path: "/api/v2/users.json",
            position: "page%5Bafter%5D=",
            get: ("get_user", json!({ "id": 360000003u64 })),
            get_id: "360000003",
            create: Some((
                "create_user",
                json!({ "email": "grace@example.com", "name": "Grace Hopper" }),
            )),
            created_field: None,
            credential: ("authorization", "Basic "),
            tells_remaining: true,
            webhook: Some(("zen:event-type:user.updated", "360000001")),
            env: &[("ZENDESK_TOKEN", "zendesk-api-token")],
        },
    ]
}

fn case(p: Persona) -> Case {
    cases().into_iter().find(|c| c.persona == p).unwrap()
}

async fn call(
    http: &reqwest::Client,
    base: &str,
    token: &str,
    name: &str,
    op: &str,
    input: &Value,
    query: &str,
) -> (u16, String) {
    let res = http
        .post(format!("{base}/ops/{name}/{op}{query}"))
        .bearer_auth(token)
        .json(input)
        .send()
        .await
        .unwrap();
    (res.status().as_u16(), res.text().await.unwrap())
}

async fn admin(http: &reqwest::Client, url: &str) -> Value {
    http.get(url)
        .bearer_auth("admin")
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap()
}

async fn prove(p: Persona) {
    let c = case(p);
    let name = p.as_str();
    let mut mock_config = MockConfig {
        customers: CUSTOMERS,
        persona: Some(p),
        ..Default::default()
    };
    mock_config.auth.basic = Some(match p {
        Persona::Jira => ("agent@example.com".into(), "jira-api-token".into()),
        Persona::Twilio => (
            "AC00000000000000000000000000000001".into(),
            "twilio-auth-token".into(),
        ),
        _ => ("agent@example.com/token".into(), "zendesk-api-token".into()),
    });
    mock_config.auth.clients.push(junction_mock::OAuthClient {
        id: "junction@acme-project.iam.gserviceaccount.com".into(),
        secret: GOOGLE_PUBLIC_KEY.into(),
        scopes: Vec::new(),
    });
    let mock = Mock::start(mock_config, "127.0.0.1:0".parse().unwrap())
        .await
        .unwrap();
    let m = mock.url();
    let dir = tempfile::tempdir().unwrap();
    let source = if c.source.is_empty() {
        String::new()
    } else {
        format!(
            "sources:\n  {name}:\n    template: {name}\n    {}\n",
            c.source
        )
    };
    let config = write_config(
        dir.path(),
        &format!(
            "store: {{ url: \"sqlite://{d}/j.db\" }}\nconnectors:\n  {name}:\n    template: {name}\n    {conn}\n{source}",
            d = dir.path().display(),
            conn = c.connector.replace("{m}", &m),
        ),
    );
    let (code, out, err) = cli(&config, KEY, &["check", "--allow-unresolved"], "");
    assert_eq!(code, Some(0), "{name}: junction check:\n{out}{err}");
    // The OAuth vendors: the operator's (or an end user's) authorization, seeded.
    let authorized = match p {
        Persona::Hubspot => Some((
            "/oauth/v1/token",
            "crm.objects.contacts.read crm.objects.contacts.write",
        )),
        Persona::Salesforce => Some(("/services/oauth2/token", "api refresh_token")),
        Persona::Xero => Some(("/connect/token", "accounting.contacts offline_access")),
        _ => None,
    };
    if let Some((token_path, scope)) = authorized {
        let token = authorized_refresh_token(&m, token_path, scope).await;
        let (code, _, err) = cli(&config, KEY, &["connections", "set-token", name], &token);
        assert_eq!(code, Some(0), "{err}");
    }
    let op_token = {
        let scope = format!("op:{name}:*");
        let (code, out, err) = cli(
            &config,
            KEY,
            &["tokens", "create", "app", "--scope", &scope],
            "",
        );
        assert_eq!(code, Some(0), "{err}");
        out.trim().to_owned()
    };
    let mut env: Vec<(&str, &str)> = vec![
        ("JUNCTION_MASTER_KEY", KEY),
        ("JUNCTION_ADMIN_TOKEN", "admin"),
        ("WEBHOOK_SECRET", WHSEC),
    ];
    env.extend(c.env.iter().copied());
    let hub = Served::start(&config, &env);
    let http = reqwest::Client::new();

    eprintln!("{name}: hub at {}, mock at {m}", hub.base);
    // The whole list, page after page in the vendor's pagination, each record canonical.
    let (status, body) = call(
        &http,
        &hub.base,
        &op_token,
        name,
        c.list.0,
        &c.list.1,
        "?all=true",
    )
    .await;
    assert_eq!(status, 200, "{name}: {body}");
    let lines: Vec<Value> = body
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect();
    let (records, end) = lines.split_at(lines.len() - 1);
    assert_eq!(end[0]["junction"]["complete"], true, "{name}: {}", end[0]);
    assert_eq!(
        end[0]["junction"]["pages"], 3,
        "{name}: 25 records in pages of 10"
    );
    assert_eq!(records.len(), CUSTOMERS, "{name}");
    let ids: std::collections::BTreeSet<String> = records
        .iter()
        .map(|r| r["id"].as_str().unwrap().to_owned())
        .collect();
    assert_eq!(ids.len(), CUSTOMERS, "{name}: every record once");
    assert!(
        records
            .iter()
            .all(|r| r.get("created_at").is_some() || r.get("number").is_some()),
        "{name}: {records:?}"
    );

    // A search over the same records, paged with its position in the body: the same records.
    if let Some((op, input)) = &c.search {
        let (status, body) = call(&http, &hub.base, &op_token, name, op, input, "?all=true").await;
        assert_eq!(status, 200, "{name} {op}: {body}");
        let found: Vec<Value> = body
            .lines()
            .map(|l| serde_json::from_str(l).unwrap())
            .collect();
        let (found, end) = found.split_at(found.len() - 1);
        assert_eq!(
            end[0]["junction"]["complete"], true,
            "{name} {op}: {}",
            end[0]
        );
        assert_eq!(end[0]["junction"]["pages"], 3, "{name} {op}: {}", end[0]);
        assert_eq!(
            found, records,
            "{name} {op}: the search answers the listed records"
        );
    }

    // One record, the same as listed.
    let (status, body) = call(&http, &hub.base, &op_token, name, c.get.0, &c.get.1, "").await;
    assert_eq!(status, 200, "{name}: {body}");
    let one: Value = serde_json::from_str(&body).unwrap();
    assert_eq!(one["id"], c.get_id, "{name}: {one}");
    let listed = records.iter().find(|r| r["id"] == c.get_id).unwrap();
    assert_eq!(
        &one, listed,
        "{name}: the read and the listed record are the same canonical record"
    );

    // Created through the vendor's request shape, answered canonical.
    if let Some((op, input)) = &c.create {
        let (status, body) = call(&http, &hub.base, &op_token, name, op, input, "").await;
        assert!(
            status == 200 || status == 201,
            "{name} {op}: {status} {body}"
        );
        let made: Value = serde_json::from_str(&body).unwrap();
        if let Some(field) = c.created_field {
            assert!(
                made[field].as_str().is_some_and(|v| !v.is_empty()),
                "{name} {op}: {made}"
            );
        } else {
            let expected = input
                .get("title")
                .or(input.get("email"))
                .or(input.get("channel"))
                .or(input.get("text"))
                .unwrap();
            assert!(
                made.as_object().unwrap().values().any(|v| v == expected),
                "{name} {op}: {made}"
            );
        }
    }

    // The vendor saw its own credentials, paths and pagination parameters.
    let seen: Value = http
        .get(format!("{m}/_mock/requests?path={}", c.list_path))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let requests = seen["requests"].as_array().unwrap();
    assert!(requests.len() >= 3, "{name}: {seen}");
    assert!(
        c.position.is_empty()
            || requests
                .iter()
                .any(|r| r["query"].as_str().unwrap_or_default().contains(c.position)),
        "{name}: a later page asked with `{}`: {seen}",
        c.position
    );
    let (header, value) = c.credential;
    assert!(
        requests.iter().all(|r| r["headers"][header]
            .as_str()
            .is_some_and(|v| v.starts_with(value))),
        "{name}: every call carried `{header}: {value}…`: {seen}"
    );

    // Where the vendor says how many calls are left, the connector's quota knows it.
    let connectors = admin(&http, &format!("{}/api/v1/connectors", hub.base)).await;
    let quota = serde_json::to_string(&connectors).unwrap();
    if c.tells_remaining {
        let view = connectors
            .as_array()
            .or(connectors["connectors"].as_array())
            .unwrap()
            .iter()
            .find(|v| v["name"] == name)
            .unwrap()
            .clone();
        assert!(
            view.to_string()
                .split("\"upstream_remaining\":")
                .skip(1)
                .any(|rest| rest.starts_with(|c: char| c.is_ascii_digit())),
            "{name}: {quota}"
        );
    }

    // The vendor's signed webhooks, verified by the template's source, with id, type and key.
    if let Some((event_type, key)) = c.webhook {
        let scheme = match p {
            Persona::Zendesk => "zendesk",
            other => other.as_str(),
        };
        let sent: Value = http
            .post(format!("{m}/_mock/webhooks/send"))
            .json(&json!({ "target": format!("{}/webhooks/{name}", hub.base), "scheme": { "kind": scheme },
                           "secret": WHSEC, "count": 3, "keys": 3 }))
            .send()
            .await
            .unwrap()
            .json()
            .await
            .unwrap();
        let log: Value = http
            .get(format!("{m}/_mock/webhooks-sent"))
            .send()
            .await
            .unwrap()
            .json()
            .await
            .unwrap();
        let statuses: Vec<u64> = log["sent"]
            .as_array()
            .or(log.as_array())
            .unwrap()
            .iter()
            .map(|s| s["status"].as_u64().unwrap())
            .collect();
        assert!(
            statuses.iter().all(|s| (200..300).contains(s)),
            "{name}: {sent} {log}"
        );
        let events = admin(&http, &format!("{}/api/v1/events?source={name}", hub.base)).await;
        let list = events["events"].as_array().unwrap();
        assert_eq!(list.len(), 3, "{name}: {events}");
        let text = events.to_string();
        assert!(
            text.contains(&format!("\"{event_type}\"")),
            "{name}: type {event_type}: {events}"
        );
        assert!(
            text.contains(&format!("\"{key}\"")),
            "{name}: key {key}: {events}"
        );
        // A forged one is refused.
        let forged = http
            .post(format!("{}/webhooks/{name}", hub.base))
            .header("content-type", "application/json")
            .body("{\"id\":\"evt_forged\"}")
            .send()
            .await
            .unwrap();
        assert_eq!(forged.status(), 401, "{name}");
    }
    drop(hub);
    mock.stop().await.unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_google_directory_template_works_against_the_google_directory_persona() {
    prove(Persona::GoogleDirectory).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_salesforce_template_works_against_the_salesforce_persona() {
    prove(Persona::Salesforce).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_twilio_template_works_against_the_twilio_persona() {
    prove(Persona::Twilio).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_xero_template_works_against_the_xero_persona() {
    prove(Persona::Xero).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_intercom_template_works_against_the_intercom_persona() {
    prove(Persona::Intercom).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_jira_template_works_against_the_jira_persona() {
    prove(Persona::Jira).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_stripe_template_works_against_the_stripe_persona() {
    prove(Persona::Stripe).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_github_template_works_against_the_github_persona() {
    prove(Persona::Github).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_hubspot_template_works_against_the_hubspot_persona() {
    prove(Persona::Hubspot).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_microsoft_graph_template_works_against_the_microsoft_graph_persona() {
    prove(Persona::MicrosoftGraph).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_shopify_template_works_against_the_shopify_persona() {
    prove(Persona::Shopify).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_slack_template_works_against_the_slack_persona() {
    prove(Persona::Slack).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_zendesk_template_works_against_the_zendesk_persona() {
    prove(Persona::Zendesk).await;
}

#[test]
fn every_built_in_template_has_a_persona_test() {
    let mut tested: Vec<&str> = cases().iter().map(|c| c.persona.as_str()).collect();
    // Proved by its own test below (a cost-metered API needs more than the common proof).
    tested.push("shopify-graphql");
    let shipped = junction_config::template::builtin_names();
    let mut tested_sorted = tested.clone();
    tested_sorted.sort();
    assert_eq!(
        tested_sorted, shipped,
        "a template is shipped only with a persona test"
    );
    let this =
        std::fs::read_to_string(Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/templates.rs"))
            .unwrap();
    for t in shipped {
        assert!(
            this.contains(&format!("fn the_{}_template_", t.replace('-', "_"))),
            "{t} has a case but no test runs it"
        );
    }
}

#[test]
fn junction_connectors_new_scaffolds_a_config_that_checks() {
    let dir = tempfile::tempdir().unwrap();
    let out = bin()
        .args(["connectors", "new", "support", "--template", "zendesk"])
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let scaffold = String::from_utf8(out.stdout).unwrap();
    assert!(
        scaffold.contains("template: zendesk") && scaffold.contains("subdomain: \"acme\""),
        "{scaffold}"
    );
    let config = write_config(
        dir.path(),
        &format!(
            "store: {{ url: \"sqlite://{}/j.db\" }}\n{scaffold}",
            dir.path().display()
        ),
    );
    let (code, out, err) = cli(&config, KEY, &["check", "--allow-unresolved"], "");
    assert_eq!(code, Some(0), "{out}{err}");
    assert!(
        out.contains("connector support: https://acme.zendesk.com/api/v2"),
        "{out}"
    );
}

/// Shopify's GraphQL Admin API meters by query cost in a bucket per shop. The template's
/// connector reserves what a query may cost, counts what Shopify says it cost, learns what is
/// left when another app spends the same bucket, and answers Shopify's THROTTLED as a 429;
/// the canonical records equal the REST template's.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_shopify_graphql_template_counts_query_cost_in_shopifys_bucket() {
    // A bucket of 100 points restored at 0.1 a second: nothing restores noticeably in the test.
    let mut mock_config = MockConfig {
        customers: CUSTOMERS,
        persona: Some(Persona::Shopify),
        ..Default::default()
    };
    mock_config.quotas.limits = vec![junction_mock::Limit::parse("100/1000s").unwrap()];
    let mock = Mock::start(mock_config, "127.0.0.1:0".parse().unwrap())
        .await
        .unwrap();
    let m = mock.url();
    let dir = tempfile::tempdir().unwrap();
    let config = write_config(
        dir.path(),
        &format!(
            r#"store: {{ url: "sqlite://{d}/j.db" }}
connectors:
  shop:
    template: shopify
    base_url: "{m}/admin/api/2024-07"
    vars: {{ shop: acme, access_token: env:SHOPIFY_TOKEN }}
    operations: {{ list_customers: {{ paginate: {{ page_size: 10 }} }} }}
  shopgql:
    template: shopify-graphql
    base_url: "{m}/admin/api/2024-07"
    vars: {{ shop: acme, access_token: env:SHOPIFY_TOKEN }}
    quotas: [ 100/1000s ]
    max_wait: 200ms
    operations: {{ list_customers: {{ cost: 12, paginate: {{ page_size: 10 }} }} }}
"#,
            d = dir.path().display(),
        ),
    );
    let (code, out, err) = cli(&config, KEY, &["check", "--allow-unresolved"], "");
    assert_eq!(code, Some(0), "junction check:\n{out}{err}");
    let (code, token, err) = cli(
        &config,
        KEY,
        &["tokens", "create", "app", "--scope", "op:*:*"],
        "",
    );
    assert_eq!(code, Some(0), "{err}");
    let token = token.trim().to_owned();
    let hub = Served::start(
        &config,
        &[
            ("JUNCTION_MASTER_KEY", KEY),
            ("JUNCTION_ADMIN_TOKEN", "admin"),
            ("SHOPIFY_TOKEN", "mock_key_1"),
        ],
    );
    let http = reqwest::Client::new();
    let walk = |name: &'static str| {
        let (http, base, token) = (http.clone(), hub.base.clone(), token.clone());
        async move {
            let (status, body) = call(
                &http,
                &base,
                &token,
                name,
                "list_customers",
                &json!({}),
                "?all=true",
            )
            .await;
            assert_eq!(status, 200, "{name}: {body}");
            body.lines()
                .map(|l| serde_json::from_str::<Value>(l).unwrap())
                .collect::<Vec<_>>()
        }
    };

    // The whole list through GraphQL (the cursor in the body's variables): the same canonical
    // records as through REST.
    let gql = walk("shopgql").await;
    let rest = walk("shop").await;
    let end = gql.last().unwrap();
    assert_eq!(end["junction"]["complete"], true, "{end}");
    assert_eq!(end["junction"]["pages"], 3, "{end}");
    assert_eq!(gql.len(), CUSTOMERS + 1);
    assert_eq!(
        &gql[..CUSTOMERS],
        &rest[..CUSTOMERS],
        "GraphQL and REST answer the same contact@1 records"
    );
    let (status, body) = call(
        &http,
        &hub.base,
        &token,
        "shopgql",
        "get_customer",
        &json!({ "id": 7000000003u64 }),
        "",
    )
    .await;
    assert_eq!(status, 200, "{body}");
    let one: Value = serde_json::from_str(&body).unwrap();
    assert_eq!(&one, gql.iter().find(|r| r["id"] == "7000000003").unwrap());

    // Each page reserved 12 points (2 + 10) and really cost 2 + its records: 12 + 12 + 7, and
    // the read 1. The quota counts what Shopify charged, not what was reserved (37).
    let quota = |http: reqwest::Client, base: String| async move {
        let v = admin(&http, &format!("{base}/api/v1/connectors/shopgql")).await;
        v["quota"].clone()
    };
    let q = quota(http.clone(), hub.base.clone()).await;
    assert_eq!(q["windows"][0]["used"], 32, "{q}");

    // Another app of the shop spends 81 points: 27 + 27 + 27 would leave 19; it spends 27 + 27
    // + 5 = 59, so Shopify has 100 - 32 - 59 = 9 left, less than a page's 12.
    let spend = |first: u64| {
        let (http, m) = (http.clone(), m.clone());
        async move {
            let v: Value = http
                .post(format!("{m}/admin/api/2024-07/graphql.json"))
                .header("x-shopify-access-token", "mock_key_1")
                .json(&json!({ "query": "query { customers(first: $first) { nodes { id } } }", "variables": { "first": first } }))
                .send()
                .await
                .unwrap()
                .json()
                .await
                .unwrap();
            assert!(v.get("errors").is_none(), "{v}");
            v
        }
    };
    spend(25).await;
    spend(25).await;
    let last = spend(3).await;
    assert_eq!(
        last["extensions"]["cost"]["throttleStatus"]["currentlyAvailable"], 9.0,
        "{last}"
    );
    let vendor_calls = || {
        let (http, m) = (http.clone(), m.clone());
        async move {
            let v: Value = http
                .get(format!(
                    "{m}/_mock/requests?path=/admin/api/2024-07/graphql.json"
                ))
                .send()
                .await
                .unwrap()
                .json()
                .await
                .unwrap();
            v["requests"].as_array().unwrap().len()
        }
    };

    // Junction's quota still has room (32 of 100), so the next page goes; Shopify throttles it.
    // The caller gets a 429 quoting Shopify, and Junction learns that 9 are left.
    let before = vendor_calls().await;
    let (status, body) = call(
        &http,
        &hub.base,
        &token,
        "shopgql",
        "list_customers",
        &json!({}),
        "",
    )
    .await;
    assert_eq!(status, 429, "{body}");
    let e: Value = serde_json::from_str(&body).unwrap();
    assert_eq!(e["error"]["code"], "rate_limited", "{e}");
    assert_eq!(
        e["error"]["upstream"]["errors"][0]["extensions"]["code"], "THROTTLED",
        "{e}"
    );
    assert_eq!(vendor_calls().await, before + 1);
    let q = quota(http.clone(), hub.base.clone()).await;
    assert_eq!(q["upstream_remaining"], 9, "{q}");
    assert!(q["windows"][0]["used"].as_u64().unwrap() >= 91, "{q}");

    // Now Junction knows: the next page waits for points (max_wait) and is answered 429 by
    // Junction itself; Shopify never sees it.
    let (status, body) = call(
        &http,
        &hub.base,
        &token,
        "shopgql",
        "list_customers",
        &json!({}),
        "",
    )
    .await;
    assert_eq!(status, 429, "{body}");
    assert!(body.contains("quota"), "{body}");
    assert_eq!(vendor_calls().await, before + 1, "Shopify was not called");
    // A call that fits in what is left still goes.
    let (status, body) = call(
        &http,
        &hub.base,
        &token,
        "shopgql",
        "get_customer",
        &json!({ "id": 7000000001u64 }),
        "",
    )
    .await;
    assert_eq!(status, 200, "{body}");
    drop(hub);
    mock.stop().await.unwrap();
}
