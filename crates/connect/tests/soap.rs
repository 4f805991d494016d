//! SOAP as REST against the mock's SOAP 1.1 service: JSON in, a SOAP call, JSON out; faults
//! classified; a request that breaks its model refused before any vendor call.

mod support;

use junction_mock::MockConfig;
use serde_json::{json, Value};
use support::*;

const CONFIG: &str = r#"
models:
  customer_query@1:
    schema:
      type: object
      required: [customer_id]
      properties: { customer_id: { type: string, pattern: "^cus_" } }
  customer@1:
    schema:
      type: object
      required: [id, email, created_at]
      properties:
        id: { type: string }
        email: { type: string, format: email }
        created_at: { type: string, format: date-time }
mappings:
  customer_to_erp_request:
    jq: '{id: .customer_id}'
  erp_customer_to_customer:
    to: customer@1
    jq: '.customer | {id, name, email: (.email | ascii_downcase), created_at: .created, status, city}'
    tests:
      - input: { customer: { id: c1, name: Ada, email: A@B.COM, created: "2024-01-01T00:00:00Z", status: active, city: Lyon } }
        output: { id: c1, name: Ada, email: a@b.com, created_at: "2024-01-01T00:00:00Z", status: active, city: Lyon }
connectors:
  erp:
    kind: soap
    base_url: "{MOCK}/soap"
    circuit: { error_rate: 50%, window: 30s, min_calls: 4, open_for: 30s }
    soap: { namespace: "urn:mock-crm" }
    operations:
      GetCustomer:
        action: urn:GetCustomer
        request: { map: customer_to_erp_request, model: customer_query@1 }
        response: { map: erp_customer_to_customer }
      ListOrders:
        action: urn:ListOrders
"#;

/// The hub with the `erp` connector, in front of a mock with five customers.
async fn erp() -> Env {
    let mock = MockConfig {
        customers: 5,
        ..Default::default()
    };
    start(CONFIG, mock, &[]).await
}

async fn post(env: &Env, path: &str, body: Value) -> (u16, Value) {
    let r = env.post(path).json(&body).send().await.unwrap();
    let status = r.status().as_u16();
    (status, r.json().await.unwrap_or(Value::Null))
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_soap_operation_is_called_with_json_and_answers_json() {
    let env = erp().await;
    let (status, body) = post(
        &env,
        "/proxy/erp/GetCustomer",
        json!({"customer_id": "cus_000002"}),
    )
    .await;
    assert_eq!(status, 200, "{body}");
    assert_eq!(body["id"], "cus_000002", "{body}");
    assert!(body["email"].as_str().unwrap().contains('@'), "{body}");
    assert_eq!(
        body["email"].as_str().unwrap(),
        body["email"].as_str().unwrap().to_lowercase()
    );
    assert!(
        body["created_at"].as_str().unwrap().ends_with('Z'),
        "{body}"
    );

    // What went over the wire: a SOAP 1.1 envelope with the action.
    let sent = env.received("/soap").await;
    let last = sent.last().expect("the mock saw the call");
    let headers = last["headers"].to_string().to_lowercase();
    assert!(headers.contains("urn:getcustomer"), "{last}");

    // Without mappings: the caller's JSON is the element's content, the answer's content comes back.
    let (status, body) = post(
        &env,
        "/proxy/erp/ListOrders",
        json!({"customerId": "cus_000002"}),
    )
    .await;
    assert_eq!(status, 200, "{body}");
    assert!(body.get("orders").is_some(), "{body}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn soap_faults_are_classified_and_bad_requests_never_reach_the_vendor() {
    let env = erp().await;
    // A client fault: the vendor refused the request (no such customer).
    let (status, body) = post(
        &env,
        "/proxy/erp/GetCustomer",
        json!({"customer_id": "cus_999999"}),
    )
    .await;
    assert_eq!(status, 422, "{body}");
    assert_eq!(body["error"]["code"], "upstream_refused", "{body}");
    assert!(
        body["error"]["message"]
            .as_str()
            .unwrap()
            .contains("no customer"),
        "{body}"
    );
    assert_eq!(body["error"]["fault"]["code"], "soap:Client", "{body}");

    let before = env.received("/soap").await.len();
    let (status, body) = post(&env, "/proxy/erp/GetCustomer", json!({"customer_id": 42})).await;
    assert_eq!(status, 400, "{body}");
    assert_eq!(body["error"]["code"], "schema_invalid", "{body}");
    assert_eq!(body["error"]["errors"][0]["path"], "/customer_id", "{body}");
    assert_eq!(
        env.received("/soap").await.len(),
        before,
        "no vendor call was spent"
    );

    let (status, body) = post(&env, "/proxy/erp/DeleteEverything", json!({})).await;
    assert_eq!(status, 404, "{body}");
    assert!(
        body["error"]["hint"]
            .as_str()
            .unwrap()
            .contains("GetCustomer"),
        "{body}"
    );
    let r = env
        .post("/proxy/erp/GetCustomer")
        .body("not json")
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 400);
}

/// A SOAP service answers HTTP 500 to a request it refuses (a Client fault) as to a failure: only
/// Server faults and broken answers count against the circuit, so callers sending bad requests
/// cannot cut everyone off from a healthy vendor.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn client_faults_do_not_open_the_circuit_but_failures_do() {
    let env = erp().await;
    for _ in 0..10 {
        let (status, _) = post(
            &env,
            "/proxy/erp/GetCustomer",
            json!({"customer_id": "cus_999999"}),
        )
        .await;
        assert_eq!(status, 422);
    }
    let (status, body) = post(
        &env,
        "/proxy/erp/GetCustomer",
        json!({"customer_id": "cus_000001"}),
    )
    .await;
    assert_eq!(
        status, 200,
        "ten refused requests left the circuit closed: {body}"
    );
    // The service itself failing (500s without an envelope) opens it.
    env.chaos(json!({ "errors": [[500, 1.0]] })).await;
    // (Eleven good calls are in the window: it takes more failures than that to pass 50 %.)
    for _ in 0..15 {
        let _ = post(
            &env,
            "/proxy/erp/GetCustomer",
            json!({"customer_id": "cus_000001"}),
        )
        .await;
    }
    let (status, body) = post(
        &env,
        "/proxy/erp/GetCustomer",
        json!({"customer_id": "cus_000001"}),
    )
    .await;
    assert_eq!(status, 503, "{body}");
    assert_eq!(body["error"]["code"], "circuit_open", "{body}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_token_scoped_to_get_cannot_make_the_soap_post() {
    let env = erp().await;
    let (token, id, hash) = junction_connect::api_tokens::generate();
    env.store
        .add_api_token(junction_store::ApiToken {
            id,
            name: "reader".into(),
            token_hash: hash,
            scopes: "proxy:erp:GET".into(),
            created_at: junction_core::time::now_ms(),
            expires_at: None,
            revoked_at: None,
        })
        .await
        .unwrap();
    for method in [reqwest::Method::GET, reqwest::Method::POST] {
        let r = env
            .http
            .request(method.clone(), format!("{}/proxy/erp/GetCustomer", env.url))
            .bearer_auth(&token)
            .json(&json!({"customer_id": "cus_000002"}))
            .send()
            .await
            .unwrap();
        assert_eq!(r.status(), 403, "{method}");
        let body: Value = r.json().await.unwrap();
        assert!(
            body["error"]["hint"]
                .as_str()
                .unwrap()
                .contains("proxy:erp:POST"),
            "{body}"
        );
    }
    assert!(
        env.received("/soap").await.is_empty(),
        "nothing reached the vendor"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_soap_service_refusing_credentials_or_quota_over_http_gets_the_auth_or_quota_hint() {
    use junction_mock::{AuthConfig, HeaderStyle, Limit, QuotaConfig};
    // The service wants credentials the connector does not send.
    let locked = MockConfig {
        customers: 5,
        auth: AuthConfig {
            required: true,
            ..Default::default()
        },
        ..Default::default()
    };
    let env = start(CONFIG, locked, &[]).await;
    let (status, body) = post(
        &env,
        "/proxy/erp/GetCustomer",
        json!({"customer_id": "cus_000002"}),
    )
    .await;
    assert_eq!(status, 422, "{body}");
    assert_eq!(body["error"]["code"], "upstream_refused", "{body}");
    let hint = body["error"]["hint"].as_str().unwrap();
    assert!(
        hint.contains("auth:") && !hint.contains("base_url"),
        "{body}"
    );

    // The service's own rate limit, answered 429 without an envelope.
    let limited = MockConfig {
        customers: 5,
        quotas: QuotaConfig {
            limits: vec![Limit::parse("1/h:global").unwrap()],
            headers: HeaderStyle::None,
            sliding: false,
        },
        ..Default::default()
    };
    let config = CONFIG.replace(
        "    circuit: { error_rate: 50%, window: 30s, min_calls: 4, open_for: 30s }\n",
        "    circuit: { error_rate: 50%, window: 30s, min_calls: 4, open_for: 30s }\n    retry: { attempts: 1 }\n    max_wait: 100ms\n",
    );
    let env = start(&config, limited, &[]).await;
    let (status, _) = post(
        &env,
        "/proxy/erp/GetCustomer",
        json!({"customer_id": "cus_000002"}),
    )
    .await;
    assert_eq!(status, 200);
    let (status, body) = post(
        &env,
        "/proxy/erp/GetCustomer",
        json!({"customer_id": "cus_000002"}),
    )
    .await;
    assert_eq!(status, 429, "{body}");
    assert_eq!(body["error"]["code"], "rate_limited", "{body}");
    assert!(
        body["error"]["hint"].as_str().unwrap().contains("quotas:"),
        "{body}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_soap_operation_is_also_called_by_name_under_ops_with_its_operation_scope() {
    let env = erp().await;
    let (status, body) = post(
        &env,
        "/ops/erp/GetCustomer",
        json!({"customer_id": "cus_000003"}),
    )
    .await;
    assert_eq!(status, 200, "{body}");
    assert_eq!(body["id"], "cus_000003", "{body}");
    let (status, body) = post(&env, "/ops/erp/GetCustomer", json!({"customer_id": 7})).await;
    assert_eq!(
        status, 400,
        "the request model holds under /ops too: {body}"
    );
}
