//! Connector operations as tools for AI agents: a Model Context Protocol server at `/mcp`
//! (streamable HTTP, with rmcp — the protocol's official Rust SDK). Each operation the caller's
//! token allows (`op:CONNECTOR:OPERATION`) is a tool named `CONNECTOR.OPERATION`, with its
//! canonical input and output models as JSON Schemas. An operation that deletes at the vendor
//! (`DELETE`) is listed and callable only with the scope `mcp:destructive` besides its own.
//!
//! A call is the same call as `POST /ops/{connector}/{operation}`, made by the same code with
//! the agent's own headers: its token's scopes, the connector's quota, retries and circuit, the
//! audit of what it did, masking — nothing is special for agents. Agents use hub API tokens
//! (one per agent: `junction tokens create agent-x --scope op:crm:get_customer`) or a client
//! certificate named in `server.tls.clients`.

use std::sync::Arc;

use axum::extract::Path;
use http_body_util::BodyExt as _;
use rmcp::model::{
    CallToolRequestParams, CallToolResponse, CallToolResult, ContentBlock as Content, JsonObject,
    ListToolsResult, PaginatedRequestParams, ServerCapabilities, ServerConfig, Tool,
    ToolAnnotations,
};
use rmcp::service::RequestContext;
use rmcp::{ErrorData, RoleServer, ServerHandler};
use serde_json::Value;

use crate::Hub;

/// The scope that lets an agent see and call operations that delete at the vendor.
pub const DESTRUCTIVE: &str = "mcp:destructive";

/// Most bytes of an operation's answer handed to an agent.
const MAX_ANSWER: usize = 1 << 20;

/// One MCP server over the hub's connectors (cheap to clone: one per request).
#[derive(Clone)]
pub struct Tools {
    hub: Arc<Hub>,
}

impl Tools {
    pub fn new(hub: Arc<Hub>) -> Self {
        Self { hub }
    }

    /// The caller of the MCP request, as `/ops` knows callers.
    async fn caller(
        &self,
        ctx: &RequestContext<RoleServer>,
    ) -> Result<(Arc<junction_store::ApiToken>, http::request::Parts), ErrorData> {
        let parts = ctx
            .extensions
            .get::<http::request::Parts>()
            .cloned()
            .ok_or_else(|| ErrorData::internal_error("no HTTP request", None))?;
        let token = self
            .hub
            .caller(&parts.headers, &parts.extensions)
            .await
            .map_err(|e| ErrorData::invalid_request(e.0.to_string(), None))?;
        Ok((token, parts))
    }
}

fn destructive(op: &junction_config::Operation) -> bool {
    op.method == http::Method::DELETE
}

fn allowed(scopes: &str, connector: &str, name: &str, op: &junction_config::Operation) -> bool {
    crate::api_tokens::allows_operation(scopes, connector, name)
        && (!destructive(op) || scopes.split_whitespace().any(|s| s == DESTRUCTIVE))
}

fn object(v: Value) -> Option<Arc<JsonObject>> {
    match v {
        Value::Object(o) => Some(Arc::new(o)),
        _ => None,
    }
}

impl ServerHandler for Tools {
    fn get_info(&self) -> ServerConfig {
        ServerConfig::new(ServerCapabilities::builder().enable_tools().build()).with_instructions(
            "Each tool is a vendor operation behind Junction: it takes and answers the operation's canonical JSON.",
        )
    }

    async fn list_tools(
        &self,
        _request: Option<PaginatedRequestParams>,
        ctx: RequestContext<RoleServer>,
    ) -> Result<ListToolsResult, ErrorData> {
        let (token, _) = self.caller(&ctx).await?;
        let shapes = self.hub.shapes.load_full();
        let mut tools = Vec::new();
        let connectors = self.hub.connectors();
        let mut names: Vec<&String> = connectors.keys().collect();
        names.sort();
        for connector in names {
            let rt = &connectors[connector];
            for (name, op) in &rt.cfg.operations {
                if !allowed(&token.scopes, connector, name, op) {
                    continue;
                }
                let input =
                    object(crate::ops::describe::input_schema(op, &shapes)).unwrap_or_default();
                let summary = op
                    .summary
                    .clone()
                    .unwrap_or_else(|| format!("{} {} at {connector}", op.method, op.path));
                let mut tool = Tool::new(format!("{connector}.{name}"), summary, input);
                if op.paginate.is_none() {
                    tool.output_schema =
                        crate::ops::describe::inline_schema(&op.response, &shapes).and_then(object);
                }
                let reads = op.reads();
                let mut notes = ToolAnnotations::default();
                notes.read_only_hint = Some(reads);
                notes.destructive_hint = Some(destructive(op));
                notes.idempotent_hint = Some(op.repeatable());
                notes.open_world_hint = Some(true);
                tool.annotations = Some(notes);
                tools.push(tool);
            }
        }
        Ok(ListToolsResult::with_all_items(tools))
    }

    async fn call_tool(
        &self,
        request: CallToolRequestParams,
        ctx: RequestContext<RoleServer>,
    ) -> Result<CallToolResponse, ErrorData> {
        let (token, parts) = self.caller(&ctx).await?;
        let unknown = || {
            ErrorData::invalid_params(format!("no tool `{}` for this token", request.name), None)
        };
        let (connector, operation) = request.name.split_once('.').ok_or_else(unknown)?;
        let rt = self.hub.connector(connector).ok_or_else(unknown)?;
        let op = rt.cfg.operations.get(operation).ok_or_else(unknown)?;
        if !allowed(&token.scopes, connector, operation, op) {
            // A destructive operation without `mcp:destructive` is refused like one the token
            // may not call at all: /ops would say why.
            if crate::api_tokens::allows_operation(&token.scopes, connector, operation) {
                return Ok(CallToolResult::error(vec![Content::text(format!(
                    "`{}` deletes at the vendor: the token needs the scope {DESTRUCTIVE} too",
                    request.name
                ))])
                .into());
            }
            return Err(unknown());
        }
        // Recorded before it is made, like an admin action: a call that cannot be audited is
        // not made.
        let origin = parts
            .extensions
            .get::<axum::extract::ConnectInfo<std::net::SocketAddr>>()
            .map(|c| c.0.ip().to_string())
            .unwrap_or_else(|| "unknown".into());
        self.hub
            .store
            .append_audit(junction_store::NewAudit {
                at: junction_core::time::now_ms(),
                actor: format!("token:{}", token.id),
                action: "mcp tools/call".into(),
                target: format!("op:{connector}:{operation}"),
                origin,
                detail: serde_json::json!({ "tool": request.name }).to_string(),
            })
            .await
            .map_err(|e| {
                ErrorData::internal_error(format!("the call cannot be audited: {e}"), None)
            })?;
        // The same call as POST /ops/{connector}/{operation}, with the agent's headers.
        let body = serde_json::to_vec(&request.arguments.clone().unwrap_or_default())
            .map_err(|e| ErrorData::invalid_params(e.to_string(), None))?;
        let mut req = axum::extract::Request::new(axum::body::Body::from(body));
        *req.method_mut() = http::Method::POST;
        *req.uri_mut() = format!("/ops/{connector}/{operation}")
            .parse()
            .map_err(|_| unknown())?;
        for name in [
            http::header::AUTHORIZATION.as_str(),
            "x-junction-connection",
            "traceparent",
        ] {
            if let Some(v) = parts.headers.get(name) {
                req.headers_mut().insert(name, v.clone());
            }
        }
        req.headers_mut().insert(
            http::header::CONTENT_TYPE,
            http::HeaderValue::from_static("application/json"),
        );
        *req.extensions_mut() = parts.extensions.clone();
        // Verified (and counted against its rate limit) once, above.
        req.extensions_mut().insert(crate::Verified(token.clone()));
        let answer = crate::ops::handle(
            axum::Extension(self.hub.clone()),
            Path((connector.to_owned(), operation.to_owned())),
            req,
        )
        .await;
        let res = match answer {
            Ok(r) => r,
            Err(e) => axum::response::IntoResponse::into_response(e),
        };
        let ok = res.status().is_success();
        let bytes = http_body_util::Limited::new(res.into_body(), MAX_ANSWER)
            .collect()
            .await
            .map(|b| b.to_bytes())
            .unwrap_or_default();
        let value: Option<Value> = serde_json::from_slice(&bytes).ok();
        let text = String::from_utf8_lossy(&bytes).into_owned();
        Ok(match (ok, value) {
            (true, Some(v @ Value::Object(_))) => CallToolResult::structured(v),
            (true, _) => CallToolResult::success(vec![Content::text(text)]),
            (false, _) => CallToolResult::error(vec![Content::text(text)]),
        }
        .into())
    }
}

/// `/mcp`: the streamable HTTP transport, without sessions (each request stands alone), JSON
/// answers, bodies up to `server.body_limit`, host names checked like the admin API's (loopback
/// and `server.hosts`), and any request a browser sends with an `Origin` refused (agents are not
/// web pages; a client certificate would otherwise be ambient authority for another site).
pub fn service(
    hub: Arc<Hub>,
    hosts: &[String],
    body_limit: usize,
) -> rmcp::transport::streamable_http_server::StreamableHttpService<
    Tools,
    rmcp::transport::streamable_http_server::session::never::NeverSessionManager,
> {
    use rmcp::transport::streamable_http_server::{
        session::never::NeverSessionManager, StreamableHttpServerConfig, StreamableHttpService,
    };
    let mut config = StreamableHttpServerConfig::default().enforce_origin_validation();
    config.max_request_body_bytes = body_limit;
    config.legacy_session_mode = false;
    config.json_response = true;
    config.allowed_hosts = ["localhost", "127.0.0.1", "::1", "[::1]"]
        .into_iter()
        .map(str::to_owned)
        .chain(hosts.iter().cloned())
        .collect();
    let tools = Tools::new(hub);
    StreamableHttpService::new(
        move || Ok(tools.clone()),
        Arc::new(NeverSessionManager::default()),
        config,
    )
}
