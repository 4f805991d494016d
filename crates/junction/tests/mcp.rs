//! Connector operations as tools for AI agents, through an MCP client library (rmcp, the
//! protocol's official SDK) against a real hub: the tools a token may call are listed with their
//! schemas, a call answers the vendor's record, the connector's quota and the audit log apply,
//! and an operation that deletes needs `mcp:destructive`.

mod support;

use std::path::Path;
use std::time::Duration;

use junction_mock::{Mock, MockConfig};
use rmcp::model::CallToolRequestParams;
use rmcp::transport::streamable_http_client::StreamableHttpClientTransportConfig;
use rmcp::transport::StreamableHttpClientTransport;
use rmcp::ServiceExt as _;
use support::*;

const KEY: &str = "v1:q83vEjRWeJCrze8SNFZ4kKvN7xI0VniQq83vEjRWeJA=";

fn token(config: &Path, name: &str, scopes: &[&str]) -> String {
    let mut args = vec!["tokens", "create", name];
    for s in scopes {
        args.extend(["--scope", s]);
    }
    let (code, out, err) = cli(config, KEY, &args, "");
    assert_eq!(code, Some(0), "{err}");
    out.trim().to_owned()
}

async fn agent(base: &str, token: &str) -> rmcp::service::RunningService<rmcp::RoleClient, ()> {
    let transport = StreamableHttpClientTransport::from_config(
        StreamableHttpClientTransportConfig::with_uri(format!("{base}/mcp")).auth_header(token),
    );
    ().serve(transport).await.expect("the MCP handshake")
}

fn args(v: serde_json::Value) -> rmcp::model::JsonObject {
    v.as_object().unwrap().clone()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_agent_lists_and_calls_operations_within_its_scopes_quota_and_audit() {
    let mock = Mock::start(
        MockConfig {
            customers: 5,
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
            r#"
store: {{ url: "sqlite://{d}/j.db" }}
models:
  customer@1:
    schema: {{ type: object, required: [ id ], properties: {{ id: {{ type: string }} }} }}
connectors:
  crm:
    base_url: "{m}/v2"
    auth:
      kind: oauth2_client_credentials
      token_url: "{m}/oauth/token"
      client_id: mock_client
      client_secret: env:CRM_SECRET
    quotas: [ 2/s ]
    max_wait: 10ms
    operations:
      get_customer:
        method: GET
        path: /customers/{{id}}
        summary: One customer by id
        response: {{ model: customer@1 }}
      delete_customer:
        method: DELETE
        path: /customers/{{id}}
"#,
            d = dir.path().display(),
            m = mock.url()
        ),
    );
    let reader = token(&config, "agent-reader", &["op:crm:*"]);
    let deleter = token(&config, "agent-deleter", &["op:crm:*", "mcp:destructive"]);
    let hub = Served::start(
        &config,
        &[
            ("JUNCTION_MASTER_KEY", KEY),
            ("CRM_SECRET", "mock_secret"),
            ("JUNCTION_ADMIN_TOKEN", "admin"),
        ],
    );

    // The reader sees the operations it may call, with their schemas; not the one that deletes.
    let client = agent(&hub.base, &reader).await;
    let tools = client.list_all_tools().await.unwrap();
    let names: Vec<&str> = tools.iter().map(|t| t.name.as_ref()).collect();
    assert_eq!(names, ["crm.get_customer"], "{tools:?}");
    let get = &tools[0];
    assert_eq!(get.description.as_deref(), Some("One customer by id"));
    assert_eq!(get.input_schema["required"], serde_json::json!(["id"]));
    assert_eq!(
        get.output_schema.as_ref().unwrap()["required"],
        serde_json::json!(["id"])
    );

    // A call answers the vendor's record, mapped and checked like /ops does.
    let res = client
        .call_tool(
            CallToolRequestParams::new("crm.get_customer")
                .with_arguments(args(serde_json::json!({ "id": "cus_000001" }))),
        )
        .await
        .unwrap();
    assert_ne!(res.is_error, Some(true), "{res:?}");
    let record = res.structured_content.clone().unwrap();
    assert_eq!(record["id"], "cus_000001", "{res:?}");

    // The connector's quota (2/s, no waiting) applies to agents as to any caller.
    let mut refused = 0;
    for _ in 0..4 {
        let r = client
            .call_tool(
                CallToolRequestParams::new("crm.get_customer")
                    .with_arguments(args(serde_json::json!({ "id": "cus_000002" }))),
            )
            .await
            .unwrap();
        if r.is_error == Some(true) {
            let text = serde_json::to_string(&r.content).unwrap();
            assert!(
                text.contains("rate_limited") || text.contains("429") || text.contains("quota"),
                "{text}"
            );
            refused += 1;
        }
    }
    assert!(refused >= 2, "the quota refused {refused} of 4 calls");

    // Deleting needs mcp:destructive: refused to the reader, listed and done for the deleter.
    let r = client
        .call_tool(
            CallToolRequestParams::new("crm.delete_customer")
                .with_arguments(args(serde_json::json!({ "id": "cus_000003" }))),
        )
        .await
        .unwrap();
    assert_eq!(r.is_error, Some(true));
    assert!(serde_json::to_string(&r.content)
        .unwrap()
        .contains("mcp:destructive"));
    tokio::time::sleep(Duration::from_millis(1100)).await;
    let admin = agent(&hub.base, &deleter).await;
    let names: Vec<String> = admin
        .list_all_tools()
        .await
        .unwrap()
        .into_iter()
        .map(|t| t.name.into_owned())
        .collect();
    assert_eq!(names, ["crm.delete_customer", "crm.get_customer"]);
    let r = admin
        .call_tool(
            CallToolRequestParams::new("crm.delete_customer")
                .with_arguments(args(serde_json::json!({ "id": "cus_000003" }))),
        )
        .await
        .unwrap();
    assert_ne!(r.is_error, Some(true), "{r:?}");

    // An unknown token does not get past the handshake's first request.
    let stranger = StreamableHttpClientTransport::from_config(
        StreamableHttpClientTransportConfig::with_uri(format!("{}/mcp", hub.base))
            .auth_header("jct_nope_nope"),
    );
    if let Ok(c) = ().serve(stranger).await {
        assert!(c.list_all_tools().await.is_err());
    }

    // A web page cannot use an agent's credentials: a request with an Origin is refused.
    let res = reqwest::Client::new()
        .post(format!("{}/mcp", hub.base))
        .header("origin", "https://evil.example")
        .header("accept", "application/json, text/event-stream")
        .bearer_auth(&reader)
        .json(&serde_json::json!({"jsonrpc": "2.0", "id": 1, "method": "tools/list"}))
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 403, "{}", res.text().await.unwrap());

    // Every call is in the audit log under its agent's token.
    let audit: serde_json::Value = reqwest::Client::new()
        .get(format!("{}/api/v1/audit?limit=100", hub.base))
        .bearer_auth("admin")
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let text = audit.to_string();
    let calls = audit["entries"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|e| e["action"] == "mcp tools/call")
        .count();
    assert!(calls >= 6, "{text}");
    assert!(text.contains("op:crm:delete_customer"), "{text}");
    drop(client);
    drop(admin);
}
