//! Connector operations against the mock CRM: called by name with canonical JSON, parameters
//! taken by name, requests and answers checked against their models, every pagination style
//! walked with every record exactly once, and a vendor that breaks its pagination contract
//! stopped with a clear error.

mod support;

use std::collections::BTreeSet;

use junction_mock::{AuthConfig, MockConfig};
use serde_json::{json, Value};
use support::*;

const CONFIG: &str = r#"
models:
  customer@1:
    schema:
      type: object
      required: [id, email, name]
      properties:
        id: { type: string }
        email: { type: string, format: email }
        name: { type: string }
        city: { type: string }
  new_customer@1:
    schema:
      type: object
      required: [email, name]
      additionalProperties: false
      properties:
        email: { type: string, format: email }
        name: { type: string, minLength: 1 }
        request_id: { type: string }
mappings:
  customer_from_crm:
    to: customer@1
    jq: '{id, email: .email_address, name, city: .address.city}'
  customer_from_v1_shape:
    jq: '{id, email, name}'
  new_customer_to_crm:
    jq: '{name, email_address: .email}'
connectors:
  crm:
    base_url: "{MOCK}/v2"
    auth: { kind: api_key, header: X-Api-Key, key: secret:crm_key }
    operations:
      get_customer:
        path: /customers/{id}
        summary: One customer by id
        response: { map: customer_from_crm, model: customer@1 }
      create_customer:
        method: POST
        path: /customers
        headers: { request_id: Idempotency-Key }
        request: { map: new_customer_to_crm, model: new_customer@1 }
        response: { map: customer_from_crm, model: customer@1 }
      get_customer_stale_mapping:
        path: /customers/{id}
        response: { map: customer_from_v1_shape, model: customer@1 }
      list_cursor:
        path: /customers
        query: [updated_since]
        paginate: { style: cursor, page_size: 100, has_more: has_more }
        response: { map: customer_from_crm, model: customer@1 }
      list_offset:
        path: /customers
        paginate: { style: offset, page_size: 250 }
        response: { map: customer_from_crm }
      list_pages:
        path: /customers
        paginate: { style: page, page_size: 100 }
      list_link:
        path: /customers
        paginate: { style: link, size_param: per_page, page_size: 150 }
      list_next_url:
        path: /customers
        paginate: { style: next_url, size_param: per_page, page_size: 300 }
"#;

const CUSTOMERS: usize = 1234;

async fn crm() -> Env {
    let mock = MockConfig {
        customers: CUSTOMERS,
        auth: AuthConfig {
            required: true,
            ..Default::default()
        },
        ..Default::default()
    };
    start(CONFIG, mock, &[("crm_key", "mock_key_1")]).await
}

async fn op(env: &Env, path: &str, body: Value, token: &str) -> (u16, Value) {
    let r = env
        .http
        .post(format!("{}{path}", env.url))
        .bearer_auth(token)
        .json(&body)
        .send()
        .await
        .unwrap();
    let status = r.status().as_u16();
    (status, r.json().await.unwrap_or(Value::Null))
}

/// `GET path` as NDJSON: the records and the closing `junction` line.
async fn ndjson(env: &Env, path: &str) -> (Vec<Value>, Value) {
    let r = env.get(path).send().await.unwrap();
    assert_eq!(r.status(), 200, "{path}");
    assert_eq!(r.headers()["content-type"], "application/x-ndjson");
    let text = r.text().await.unwrap();
    let mut lines: Vec<Value> = text
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect();
    let end = lines.pop().expect("a closing line");
    assert!(end.get("junction").is_some(), "the last line closes: {end}");
    (lines, end["junction"].clone())
}

/// The POSTs the vendor received to its customers.
async fn creates(env: &Env) -> Vec<Value> {
    env.received("/v2/customers")
        .await
        .into_iter()
        .filter(|r| r["method"] == "POST")
        .collect()
}

fn ids(records: &[Value]) -> Vec<String> {
    records
        .iter()
        .map(|r| r["id"].as_str().unwrap().to_owned())
        .collect()
}

fn assert_every_customer_once(records: &[Value]) {
    let ids = ids(records);
    let unique: BTreeSet<&String> = ids.iter().collect();
    assert_eq!(unique.len(), ids.len(), "no record twice");
    assert_eq!(ids.len(), CUSTOMERS, "every record");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_operation_is_called_by_name_and_answers_the_canonical_model() {
    let env = crm().await;
    let scoped = env.token_with("op:crm:get_customer").await;
    let (status, body) = op(
        &env,
        "/ops/crm/get_customer",
        json!({"id": "cus_000002"}),
        &scoped,
    )
    .await;
    assert_eq!(status, 200, "{body}");
    assert_eq!(body["id"], "cus_000002");
    assert!(body["email"].as_str().unwrap().contains('@'), "{body}");
    assert!(
        body.get("email_address").is_none(),
        "mapped, not relayed: {body}"
    );
    // The same with the parameters in the query of a GET.
    let r = env
        .http
        .get(format!("{}/ops/crm/get_customer?id=cus_000003", env.url))
        .bearer_auth(&scoped)
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 200);
    assert_eq!(r.json::<Value>().await.unwrap()["id"], "cus_000003");
    // The vendor saw the API key, not the caller's token.
    let seen = env.received("/v2/customers/cus_000002").await;
    assert_eq!(seen.len(), 1);
    assert_eq!(seen[0]["headers"]["x-api-key"], "mock_key_1");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_request_that_breaks_its_model_is_refused_with_every_error_and_no_vendor_call() {
    let env = crm().await;
    let (status, body) = op(
        &env,
        "/ops/crm/create_customer",
        json!({"email": "not an email", "name": "", "extra": 1}),
        &env.token.clone(),
    )
    .await;
    assert_eq!(status, 400, "{body}");
    assert_eq!(body["error"]["code"], "schema_invalid");
    assert!(
        body["error"]["errors"].as_array().unwrap().len() >= 3,
        "{body}"
    );
    let posted = creates(&env).await;
    assert!(posted.is_empty(), "no vendor call: {posted:?}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_create_is_mapped_to_the_vendor_and_back_with_its_header_parameter() {
    let env = crm().await;
    let (status, body) = op(
        &env,
        "/ops/crm/create_customer",
        json!({"email": "ada@example.com", "name": "Ada", "request_id": "req-1"}),
        &env.token.clone(),
    )
    .await;
    assert_eq!(status, 200, "{body}");
    assert_eq!(body["email"], "ada@example.com");
    assert!(body["id"].as_str().unwrap().starts_with("cus_"));
    let posted = creates(&env).await;
    assert_eq!(posted.len(), 1);
    assert_eq!(posted[0]["headers"]["idempotency-key"], "req-1");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_vendor_answer_that_breaks_the_model_is_a_502_and_a_drift_record_never_passed_on() {
    let env = crm().await;
    let (status, body) = op(
        &env,
        "/ops/crm/get_customer_stale_mapping",
        json!({"id": "cus_000001"}),
        &env.token.clone(),
    )
    .await;
    assert_eq!(status, 502, "{body}");
    assert_eq!(body["error"]["code"], "upstream_invalid");
    assert!(body.get("id").is_none(), "nothing half-valid: {body}");
    assert!(!body["error"]["errors"].as_array().unwrap().is_empty());
    let drift = env.hub.drift().records();
    assert!(
        drift
            .iter()
            .any(|r| r.subject == "crm/get_customer_stale_mapping"),
        "{drift:?}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn bad_calls_get_clear_errors() {
    let env = crm().await;
    let t = env.token.clone();
    let (status, body) = op(&env, "/ops/crm/nope", json!({}), &t).await;
    assert_eq!(status, 404);
    assert!(
        body["error"]["hint"]
            .as_str()
            .unwrap()
            .contains("get_customer"),
        "{body}"
    );
    let (status, body) = op(&env, "/ops/crm/get_customer", json!({}), &t).await;
    assert_eq!(status, 400);
    assert!(
        body["error"]["message"].as_str().unwrap().contains("`id`"),
        "{body}"
    );
    let (status, body) = op(
        &env,
        "/ops/crm/get_customer",
        json!({"id": "x", "zip": 1}),
        &t,
    )
    .await;
    assert_eq!(status, 400, "a field no parameter takes: {body}");
    let (status, _) = op(&env, "/ops/crm/get_customer", json!({"id": {"a": 1}}), &t).await;
    assert_eq!(status, 400);
    let (status, _) = op(&env, "/ops/crm/get_customer", json!({"id": ".."}), &t).await;
    assert_eq!(status, 400, "a value cannot leave the path");
    let r = env.get("/ops/crm/create_customer").send().await.unwrap();
    assert_eq!(r.status(), 405, "a GET never writes to the vendor");
    let (status, body) = op(&env, "/ops/crm/list_cursor?cursor=abc", json!({}), &t).await;
    assert_eq!(status, 400, "{body}");
    // A vendor 404 stays a 404, with what the vendor said.
    let (status, body) = op(
        &env,
        "/ops/crm/get_customer",
        json!({"id": "cus_999999"}),
        &t,
    )
    .await;
    assert_eq!(status, 404, "{body}");
    assert_eq!(body["error"]["code"], "upstream_refused");
    assert_eq!(body["error"]["upstream"]["status"], 404);
    // Scopes: a proxy token may not call operations; an operation's scope is that operation.
    let proxy_only = env.token_with("proxy:crm:GET").await;
    let (status, _) = op(
        &env,
        "/ops/crm/get_customer",
        json!({"id": "cus_000001"}),
        &proxy_only,
    )
    .await;
    assert_eq!(status, 403);
    let one = env.token_with("op:crm:get_customer").await;
    let (status, body) = op(&env, "/ops/crm/list_cursor", json!({}), &one).await;
    assert_eq!(status, 403);
    assert!(body["error"]["hint"]
        .as_str()
        .unwrap()
        .contains("op:crm:list_cursor"));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_pagination_style_walks_every_record_exactly_once() {
    let env = crm().await;
    for style in ["cursor", "offset", "pages", "link", "next_url"] {
        let (records, end) = ndjson(&env, &format!("/ops/crm/list_{style}?all=true")).await;
        assert_eq!(end["complete"], true, "{style}: {end}");
        assert_eq!(end["records"], CUSTOMERS, "{style}");
        assert_every_customer_once(&records);
    }
    // Mapped and checked per record where the operation says so.
    let (records, _) = ndjson(&env, "/ops/crm/list_cursor?all=true").await;
    assert!(records
        .iter()
        .all(|r| r.get("email").is_some() && r.get("email_address").is_none()));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn one_page_at_a_time_with_the_opaque_cursor_reaches_every_record() {
    let env = crm().await;
    for style in ["cursor", "link"] {
        let mut all = Vec::new();
        let mut cursor: Option<String> = None;
        let mut pages = 0;
        loop {
            let path = match &cursor {
                Some(c) => format!("/ops/crm/list_{style}?cursor={c}"),
                None => format!("/ops/crm/list_{style}"),
            };
            let body: Value = env.get(&path).send().await.unwrap().json().await.unwrap();
            all.extend(body["data"].as_array().unwrap().iter().cloned());
            pages += 1;
            match body["next_cursor"].as_str() {
                Some(c) => cursor = Some(c.to_owned()),
                None => break,
            }
            assert!(pages < 100, "{style}: the walk ends");
        }
        assert_every_customer_once(&all);
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_walk_stopped_by_its_page_limit_resumes_from_its_cursor() {
    let env = crm().await;
    let (first, end) = ndjson(&env, "/ops/crm/list_cursor?all=true&max_pages=3").await;
    assert_eq!(end["complete"], false);
    assert_eq!(end["error"]["code"], "page_limit");
    assert_eq!(first.len(), 300);
    let cursor = end["next_cursor"].as_str().unwrap();
    let (rest, end) = ndjson(
        &env,
        &format!("/ops/crm/list_cursor?all=true&cursor={cursor}"),
    )
    .await;
    assert_eq!(end["complete"], true);
    let mut all = first;
    all.extend(rest);
    assert_every_customer_once(&all);
    // A record limit stops at the first page boundary past it.
    let (some, end) = ndjson(&env, "/ops/crm/list_offset?all=true&max_records=400").await;
    assert_eq!(end["error"]["code"], "record_limit");
    assert_eq!(some.len(), 500, "two pages of 250");
}

/// A vendor that breaks its pagination contract, served beside the mock.
async fn rogue_vendor() -> String {
    use axum::routing::get;
    let app = axum::Router::new()
        .route(
            "/repeat",
            get(|| async { axum::Json(json!({"data": [{"id": "a"}], "next_cursor": "same"})) }),
        )
        .route(
            "/elsewhere",
            get(|| async {
                axum::Json(json!({"data": [{"id": "a"}], "next": "http://169.254.169.254/latest/meta-data"}))
            }),
        )
        .route(
            "/no-records",
            get(|| async { axum::Json(json!({"items": []})) }),
        );
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let url = format!("http://{}", listener.local_addr().unwrap());
    tokio::spawn(async move {
        let _ = axum::serve(listener, app).await;
    });
    url
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_vendor_that_breaks_its_pagination_contract_is_stopped_never_followed() {
    let rogue = rogue_vendor().await;
    let yaml = format!(
        r#"
connectors:
  rogue:
    base_url: "{rogue}"
    operations:
      repeat: {{ path: /repeat, paginate: {{ style: cursor }} }}
      elsewhere: {{ path: /elsewhere, paginate: {{ style: next_url }} }}
      no_records: {{ path: /no-records, paginate: {{ style: cursor }} }}
"#
    );
    let env = start(&yaml, MockConfig::default(), &[]).await;
    let (records, end) = ndjson(&env, "/ops/rogue/repeat?all=true").await;
    assert_eq!(end["complete"], false);
    assert_eq!(end["error"]["code"], "upstream_invalid");
    assert!(records.len() <= 2, "it does not loop: {}", records.len());
    // The next URL leaves the base URL: refused before any request goes there.
    let r = env.get("/ops/rogue/elsewhere").send().await.unwrap();
    assert_eq!(r.status(), 502);
    let body: Value = r.json().await.unwrap();
    assert!(
        body["error"]["message"]
            .as_str()
            .unwrap()
            .contains("leaves"),
        "{body}"
    );
    let r = env.get("/ops/rogue/no_records").send().await.unwrap();
    assert_eq!(r.status(), 502);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn operations_are_listed_and_described_in_an_openapi_document() {
    let env = crm().await;
    let list: Value = env
        .get("/api/v1/connectors/crm/operations")
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let get = list["operations"]
        .as_array()
        .unwrap()
        .iter()
        .find(|o| o["name"] == "get_customer")
        .unwrap();
    assert_eq!(get["scope"], "op:crm:get_customer");
    assert_eq!(get["path_params"], json!(["id"]));
    assert_eq!(get["response"]["model"], "customer@1");
    let doc: Value = env
        .get("/api/v1/connectors/crm/openapi.json")
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(doc["openapi"], "3.1.0");
    let create = &doc["paths"]["/ops/crm/create_customer"]["post"];
    assert_eq!(
        create["requestBody"]["content"]["application/json"]["schema"]["$ref"],
        "#/components/schemas/new_customer_v1"
    );
    assert_eq!(
        doc["components"]["schemas"]["customer_v1"]["required"],
        json!(["id", "email", "name"])
    );
    assert!(doc["paths"]["/ops/crm/list_cursor"]["get"].is_object());
    assert!(doc["paths"]["/ops/crm/create_customer"]["get"].is_null());
}
