//! Operations: a connector's named calls, in canonical shapes.
//!
//! `POST /ops/{connector}/{operation}` with a JSON object (or `GET` with the parameters in the
//! query, for operations that read): parameters taken out by name, the request checked against
//! its model (a 400 with every schema error, no vendor call), mapped, sent through the whole
//! connector path (credentials, quota, retry, circuit, cache), the answer mapped and checked
//! against its model (a vendor answer that breaks it is a 502 and a drift record, never passed
//! on half-valid). A paginated operation answers one page and an opaque `next_cursor`, or with
//! `?all=true` walks every page within the quota and streams the records as NDJSON, ending with
//! one `{"junction": {...}}` line that says whether the list is complete.

mod answer;
pub mod deferred;
mod deliver;
pub mod describe;
pub(crate) mod message;
mod pages;
mod pull;
mod request;
mod versions;

use std::sync::Arc;

use axum::body::Body;
use axum::extract::{Path, Request};
use axum::response::{IntoResponse, Response};
use bytes::Bytes;
use http::{HeaderValue, Method, StatusCode};
use junction_config::{Operation, Paginate, Shapes};
use junction_core::{Code, Error};
use junction_server::ApiError;
use serde_json::{json, Map, Value};

use crate::runtime::{Call, Runtime};
use crate::Hub;
use message::Side;
use pages::Position;

/// The OpenAPI description of `/ops` (each connector's own document, generated from its models,
/// is at `/api/v1/connectors/{name}/openapi.json`).
#[derive(utoipa::OpenApi)]
#[openapi(paths(ops_post, ops_get, deferred::status, deferred::result))]
pub struct OpsDoc;

macro_rules! ops_doc {
    ($name:ident, $method:ident, $upper:literal, $input:literal) => {
        #[doc = concat!("`", $upper, " /ops/{connector}/{operation}`.")]
        #[utoipa::path($method, path = "/ops/{connector}/{operation}", tag = "operations",
            summary = concat!("Call a connector's operation in canonical shapes (", $upper, ")"),
            description = concat!("The operation's parameters and body come ", $input, "; the request is checked against its model and mapped, sent through the connector (credentials, quota, retries, circuit, cache), and the answer mapped and checked against its model. A paginated operation answers one page (`{data, next_cursor}`), or with `all=true` every record as NDJSON ending with a `{\"junction\": {complete, pages, records}}` line. Needs an API token with the scope `op:CONNECTOR:OPERATION`. Each connector's operations, with their schemas, are described at `/api/v1/connectors/{name}/openapi.json`."),
            params(
                ("connector" = String, Path, description = "The connector's name under `connectors:`"),
                ("operation" = String, Path, description = "The operation's name under the connector's `operations:`"),
                ("all" = Option<bool>, Query, description = "Walk every page and stream the records as NDJSON"),
                ("cursor" = Option<String>, Query, description = "The `next_cursor` of a previous answer"),
                ("max_pages" = Option<u32>, Query, description = "Stop a walk after this many pages"),
                ("max_records" = Option<u64>, Query, description = "Stop a walk at the first page boundary past this many records"),
                ("passthrough" = Option<bool>, Query, description = "Each record (an object) also carries the vendor's own, as it came, under `passthrough`"),
                ("X-Junction-Connection" = Option<String>, Header, description = "The connection to use (default `default`)")),
            responses(
                (status = 200, description = "The operation's answer, mapped and checked; NDJSON with `all=true`"),
                (status = 202, description = "Accepted (`Prefer: respond-async`, or an operation with `respond_async: true`): the call runs as a durable job; `Location` is its status URL"),
                (status = 204, description = "The vendor answered without a body (an operation without a response mapping or model)"),
                (status = 400, description = "A missing or malformed parameter, or a request that breaks its model (`schema_invalid` with `errors`); no vendor call was made", body = junction_server::errors::ErrorBody),
                (status = 401, description = "No or unknown API token", body = junction_server::errors::ErrorBody),
                (status = 403, description = "The token's scopes do not name this operation", body = junction_server::errors::ErrorBody),
                (status = 404, description = "No such connector or operation (the hint lists the operations), or the vendor's own 404", body = junction_server::errors::ErrorBody),
                (status = 405, description = "A GET of an operation that writes", body = junction_server::errors::ErrorBody),
                (status = 413, description = "The body is larger than `server.body_limit`", body = junction_server::errors::ErrorBody),
                (status = 422, description = "The vendor refused the request (`upstream_refused`, with `error.upstream`)", body = junction_server::errors::ErrorBody),
                (status = 429, description = "The vendor's or the connector's quota is spent (`Retry-After`)", body = junction_server::errors::ErrorBody),
                (status = 502, description = "The vendor failed, or its answer breaks the operation's model or pagination contract (`upstream_invalid`)", body = junction_server::errors::ErrorBody),
                (status = 503, description = "The connector's circuit is open, or (asynchronous calls) too many are running in this hub; `Retry-After` says when to try again", body = junction_server::errors::ErrorBody),
                (status = 504, description = "The vendor did not answer in time", body = junction_server::errors::ErrorBody)),
            security(("bearer" = [])))]
        #[allow(dead_code)]
        fn $name() {}
    };
}
ops_doc!(ops_post, post, "POST", "from the JSON object in the body");
ops_doc!(
    ops_get,
    get,
    "GET",
    "from the query (operations that only read)"
);

/// Most parameters in an operation's URL query.
const MAX_QUERY_PAIRS: usize = 64;

/// The caller's options, from the URL query.
#[derive(Default)]
struct Control {
    all: bool,
    /// Each record also carries the vendor's own, under `passthrough`.
    passthrough: bool,
    cursor: Option<String>,
    max_pages: Option<u32>,
    max_records: Option<u64>,
}

pub async fn handle(
    axum::Extension(hub): axum::Extension<Arc<Hub>>,
    Path((connector, operation)): Path<(String, String)>,
    req: Request,
) -> Result<Response, ApiError> {
    let (parts, body) = req.into_parts();
    let token = hub.caller(&parts.headers, &parts.extensions).await?;
    if !crate::api_tokens::allows_operation(&token.scopes, &connector, &operation) {
        return Err(ApiError(
            Error::downstream(
                Code::Forbidden,
                format!(
                    "API token `{}` may not call `{operation}` on connector `{connector}`",
                    token.id
                ),
            )
            .with_hint(format!(
                "create a token with --scope op:{connector}:{operation}"
            )),
        ));
    }
    let rt = hub.connector_or_404(&connector)?;
    let Some(op) = rt.cfg.operations.get(&operation).cloned() else {
        let known: Vec<&str> = rt.cfg.operations.keys().map(String::as_str).collect();
        return Err(ApiError(
            Error::downstream(
                Code::NotFound,
                format!("connector `{connector}` has no operation `{operation}`"),
            )
            .with_hint(if known.is_empty() {
                "it declares no `operations:`".to_owned()
            } else {
                format!("operations: {}", known.join(", "))
            }),
        ));
    };
    let started = std::time::Instant::now();
    let result = call(
        &hub,
        parts,
        body,
        rt.clone(),
        op,
        &connector,
        operation.clone(),
        &token.id,
    )
    .await;
    if let Some(m) = rt.op_metrics.get(&operation) {
        let status = match &result {
            Ok(r) => r.status().as_u16(),
            Err(e) => e.0.code().http_status(),
        };
        m.call(status, started.elapsed().as_secs_f64());
    }
    result
}

/// An operation found and allowed: the input read, the call made, the answer shaped.
#[allow(clippy::too_many_arguments)]
async fn call(
    hub: &Arc<Hub>,
    parts: http::request::Parts,
    body: Body,
    rt: Arc<Runtime>,
    op: Operation,
    connector: &str,
    operation: String,
    caller: &str,
) -> Result<Response, ApiError> {
    // A SOAP action may write whatever its name: only POST calls it.
    let reads = rt.cfg.soap.is_none() && op.reads();
    if parts.method == Method::GET && !reads {
        return Err(ApiError(
            Error::downstream(
                Code::MethodNotAllowed,
                format!(
                    "`{operation}` sends a {} to the vendor: call it with POST",
                    op.method
                ),
            )
            .with_hint("GET /ops/… is for operations that only read"),
        ));
    }
    let (control, input) = input(&parts, body, hub.body_limit).await?;
    let connection = parts
        .headers
        .get("x-junction-connection")
        .and_then(|v| v.to_str().ok())
        .unwrap_or("default")
        .to_owned();
    let shapes = hub.shapes.load_full();
    // `Junction-Callback: DESTINATION`: the answer is also delivered there when it comes.
    let callback = parts
        .headers
        .get("junction-callback")
        .map(|v| v.to_str().unwrap_or_default().trim().to_owned());
    let asynchronous = op.respond_async || deferred::wants_async(&parts.headers);
    if callback.is_some() && !asynchronous {
        return Err(bad(
            "`Junction-Callback` is for asynchronous calls: add `Prefer: respond-async`".into(),
        ));
    }
    if asynchronous {
        if control.all {
            return Err(bad(
                "an asynchronous call answers one page: drop `all=true`, or walk the pages synchronously".into(),
            ));
        }
        // A bad request is refused now, not accepted and failed later (checked as the version
        // it will run on has the operation).
        if rt.cfg.soap.is_none() {
            let op = rt
                .current_version()
                .and_then(|v| v.operations.get(&operation))
                .unwrap_or(&op);
            if let Err(refused) = request::build(&operation, op, &shapes, input.clone()).await {
                return Ok(refused);
            }
        }
        return deferred::accept(
            hub, connector, &operation, connection, caller, input, callback,
        )
        .await;
    }
    if let Some(soap) = &rt.cfg.soap {
        let body = Bytes::from(serde_json::to_vec(&Value::Object(input)).unwrap_or_default());
        return crate::soap::call(&rt, &shapes, soap, &operation, connection, body).await;
    }
    let Some(chosen) = versions::choose(&rt, &operation, &input, caller) else {
        let call = OpCall::build(
            &operation, connector, rt, op, shapes, input, connection, None,
        );
        return match call.await {
            Ok(call) => call.run(&control).await,
            Err(refused) => Ok(refused),
        };
    };
    // A read without a cursor is shadowed: the candidate answers it too, in the background.
    let shadow = (chosen.plan.shadow && reads && !control.all && control.cursor.is_none())
        .then(|| input.clone());
    let call = OpCall::build(
        &operation,
        connector,
        rt.clone(),
        chosen.op.clone(),
        shapes,
        input,
        connection.clone(),
        Some(&chosen.version),
    );
    let mut res = match call.await {
        Ok(call) => call
            .run(&control)
            .await
            .unwrap_or_else(IntoResponse::into_response),
        Err(refused) => refused,
    };
    let ok = !res.status().is_server_error();
    chosen.rollout.record(chosen.plan.serve, ok);
    versions::mark(&mut res, &chosen.version.name);
    let Some(input) = shadow.filter(|_| res.status().is_success()) else {
        return Ok(res);
    };
    let (res, stable) = versions::read_back(res).await;
    if let Some(stable) = stable {
        let shadowed = Shadowed {
            hub: hub.clone(),
            rt,
            connector: connector.to_owned(),
            operation,
            connection,
            rollout: chosen.rollout.clone(),
        };
        tokio::spawn(shadowed.run(input, stable));
    }
    Ok(res)
}

/// An operation called by a job (a contract probe): through the same path as `/ops` — the
/// request built and checked, the connector's credentials, quota and retries, the answer mapped
/// and checked, drift recorded — the first page of a paginated one. The status and the JSON
/// answer (the error body when it failed).
pub(crate) async fn call_for_job(
    hub: &Hub,
    connector: &str,
    operation: &str,
    input: Map<String, Value>,
) -> (u16, Value) {
    // A probe checks the vendor; its outcome is not the circuit's to count.
    crate::runtime::UNCOUNTED
        .scope(
            (),
            call_detached(hub, connector, operation, "default", input, None),
        )
        .await
}

/// An operation called apart from any request (a job, an asynchronous call): on `connection`,
/// with `key` in the connector's idempotency header when it has one (so a call run again after
/// its process died is dropped by the vendor as a repeat).
/// A connector's operation as a call apart from any request makes it (a job, an asynchronous
/// call, a sync's page): on a connector with versions, the current one (stable, or the
/// candidate once switched), as `/proxy` uses — a rollout's canary is for callers' traffic.
/// Or the 404 answer for an unknown connector or operation.
#[allow(clippy::type_complexity)]
pub(crate) fn detached(
    hub: &Hub,
    connector: &str,
    operation: &str,
) -> Result<(Arc<Runtime>, Operation, Option<junction_config::ApiVersion>), (u16, Value)> {
    let missing = |message: String| {
        (
            404,
            json!({ "error": { "code": "not_found", "message": message } }),
        )
    };
    let rt = hub
        .connector(connector)
        .ok_or_else(|| missing(format!("unknown connector `{connector}`")))?;
    let op = rt.cfg.operations.get(operation).cloned().ok_or_else(|| {
        missing(format!(
            "connector `{connector}` has no operation `{operation}`"
        ))
    })?;
    let version = rt.current_version().cloned();
    let op = version
        .as_ref()
        .and_then(|v| v.operations.get(operation).cloned())
        .unwrap_or(op);
    Ok((rt, op, version))
}

pub(crate) async fn call_detached(
    hub: &Hub,
    connector: &str,
    operation: &str,
    connection: &str,
    input: Map<String, Value>,
    key: Option<&str>,
) -> (u16, Value) {
    let (rt, op, version) = match detached(hub, connector, operation) {
        Ok(found) => found,
        Err(refused) => return refused,
    };
    let res = if let Some(soap) = rt.cfg.soap.clone() {
        let shapes = hub.shapes.load_full();
        let body = Bytes::from(serde_json::to_vec(&Value::Object(input)).unwrap_or_default());
        crate::soap::call(&rt, &shapes, &soap, operation, connection.to_owned(), body)
            .await
            .unwrap_or_else(IntoResponse::into_response)
    } else {
        let idempotency = rt.cfg.idempotency_header.clone();
        let call = OpCall::build(
            operation,
            connector,
            rt,
            op,
            hub.shapes.load_full(),
            input,
            connection.to_owned(),
            version.as_ref(),
        );
        match call.await {
            Ok(mut call) => {
                if let (Some(h), Some(k)) = (idempotency, key) {
                    if let Ok(v) = HeaderValue::from_str(k) {
                        call.req.headers.insert(h, v);
                    }
                }
                call.run(&Control::default())
                    .await
                    .unwrap_or_else(IntoResponse::into_response)
            }
            Err(refused) => refused,
        }
    };
    let status = res.status().as_u16();
    let bytes = axum::body::to_bytes(res.into_body(), message::MAX_ANSWER)
        .await
        .unwrap_or_default();
    let body = serde_json::from_slice(&bytes).unwrap_or(Value::Null);
    (status, body)
}

/// The candidate's side of a shadowed call.
struct Shadowed {
    hub: Arc<Hub>,
    rt: Arc<Runtime>,
    connector: String,
    operation: String,
    connection: String,
    rollout: Arc<junction_server::rollouts::Tracked>,
}

impl Shadowed {
    /// Calls the candidate version with the same input, counts its outcome, and records where
    /// its mapped answer differs from the stable one's.
    async fn run(self, input: Map<String, Value>, stable: Value) {
        use junction_resilience::rollout::Arm;
        let Some((version, op)) = versions::candidate(&self.rt, &self.operation) else {
            return;
        };
        let paginated = op.paginate.is_some();
        let shapes = self.hub.shapes.load_full();
        let call = OpCall::build(
            &self.operation,
            &self.connector,
            self.rt.clone(),
            op,
            shapes,
            input,
            self.connection.clone(),
            Some(&version),
        );
        let res = match call.await {
            Ok(call) => call
                .run(&Control::default())
                .await
                .unwrap_or_else(IntoResponse::into_response),
            Err(refused) => refused,
        };
        let ok = !res.status().is_server_error();
        self.rollout.record(Arm::Candidate, ok);
        if !res.status().is_success() {
            return;
        }
        let (_, candidate) = versions::read_back(res).await;
        let Some(candidate) = candidate else { return };
        let drifts = junction_transform::drift::differences(
            &versions::comparable(stable, paginated),
            &versions::comparable(candidate, paginated),
            self.rollout.arm_name(Arm::Stable),
            &version.name,
        );
        let subject = format!("{}/{}@{}", self.connector, self.operation, version.name);
        self.rt.drift.record(
            "connector",
            &subject,
            &drifts,
            junction_core::time::now_ms(),
        );
    }
}

/// The caller's input (a JSON object) and options.
async fn input(
    parts: &http::request::Parts,
    body: Body,
    limit: usize,
) -> Result<(Control, Map<String, Value>), ApiError> {
    let mut control = Control::default();
    let mut fields = Map::new();
    let pairs = url::form_urlencoded::parse(parts.uri.query().unwrap_or("").as_bytes());
    for (i, (k, v)) in pairs.enumerate() {
        if i >= MAX_QUERY_PAIRS {
            return Err(bad(format!("more than {MAX_QUERY_PAIRS} query parameters")));
        }
        match k.as_ref() {
            "all" => control.all = matches!(v.as_ref(), "true" | "1" | ""),
            "passthrough" => control.passthrough = matches!(v.as_ref(), "true" | "1" | ""),
            "cursor" => control.cursor = Some(v.into_owned()),
            "max_pages" => control.max_pages = Some(number(&k, &v)?),
            "max_records" => control.max_records = Some(number(&k, &v)?),
            _ if parts.method == Method::GET => {
                if fields
                    .insert(k.clone().into_owned(), Value::String(v.into_owned()))
                    .is_some()
                {
                    return Err(bad(format!("the parameter `{k}` is given twice")));
                }
            }
            _ => {
                return Err(bad(format!(
                    "`{k}` in the URL: a POST takes its parameters in the JSON body"
                )))
            }
        }
    }
    let bytes = axum::body::to_bytes(body, limit).await.map_err(|_| {
        ApiError(Error::downstream(
            Code::BodyTooLarge,
            format!(
                "the request body is larger than the server accepts ({})",
                junction_core::units::bytes_text(limit)
            ),
        ))
    })?;
    if !bytes.iter().all(u8::is_ascii_whitespace) {
        match serde_json::from_slice::<Value>(&bytes) {
            Ok(Value::Object(m)) if fields.is_empty() => fields = m,
            Ok(Value::Object(_)) => {
                return Err(bad(
                    "give the parameters in the URL or in the body, not both".into(),
                ))
            }
            Ok(_) => return Err(bad("the body must be a JSON object".into())),
            Err(e) => return Err(bad(format!("the body is not JSON: {e}"))),
        }
    }
    Ok((control, fields))
}

fn number<T: std::str::FromStr>(k: &str, v: &str) -> Result<T, ApiError> {
    v.parse()
        .map_err(|_| bad(format!("`{k}` must be a positive whole number, got `{v}`")))
}

fn bad(message: String) -> ApiError {
    ApiError(Error::downstream(Code::BadRequest, message).with_hint(
        "see GET /api/v1/connectors/{connector}/operations for each operation's parameters",
    ))
}

/// One operation call, ready to go to the vendor.
struct OpCall {
    name: String,
    subject: String,
    rt: Arc<Runtime>,
    op: Operation,
    shapes: Arc<Shapes>,
    req: request::Request,
    connection: String,
    /// The API version called, on a connector with `versions:`.
    version: Option<String>,
    /// Each record also carries the vendor's own (`?passthrough=true`).
    passthrough: bool,
}

impl OpCall {
    /// The vendor request of one call on `version` (or the connector's one version), or the
    /// answer that refuses the input.
    #[allow(clippy::too_many_arguments)]
    async fn build(
        operation: &str,
        connector: &str,
        rt: Arc<Runtime>,
        op: Operation,
        shapes: Arc<Shapes>,
        input: Map<String, Value>,
        connection: String,
        version: Option<&junction_config::ApiVersion>,
    ) -> Result<OpCall, Response> {
        let mut req = request::build(operation, &op, &shapes, input).await?;
        let subject = match version {
            Some(v) => {
                versions::pin(v, &mut req.headers);
                format!("{connector}/{operation}@{}", v.name)
            }
            None => format!("{connector}/{operation}"),
        };
        Ok(OpCall {
            subject,
            name: operation.to_owned(),
            rt,
            op,
            shapes,
            req,
            connection,
            version: version.map(|v| v.name.clone()),
            passthrough: false,
        })
    }

    /// The call as the caller asked: one answer, one page, or every page.
    async fn run(mut self, control: &Control) -> Result<Response, ApiError> {
        self.passthrough = control.passthrough;
        match self.op.paginate.clone() {
            None => Ok(self.single().await),
            Some(p) => {
                let start = match &control.cursor {
                    Some(t) => self.caller_position(&p, t)?,
                    None => Position::Start,
                };
                if control.all {
                    Ok(self.walk(p, start, control).await)
                } else {
                    Ok(self.one_page(&p, start).await)
                }
            }
        }
    }

    /// Errors the vendor wrote into a successful answer, as the caller's error; what the
    /// answer says the call cost is counted first.
    fn errors_in(&self, bytes: &[u8], attempts: u32) -> Option<Response> {
        let spec = self.rt.cfg.errors_in_answer.as_ref()?;
        let (body, refused) = answer::errors_in(&self.name, spec, bytes)?;
        if attempts > 0 && self.rt.cfg.cost.reads_answers() {
            self.rt
                .cost_from_body(&self.connection, self.op.cost, &body);
        }
        Some(refused)
    }

    /// The call's price and whether it may be repeated.
    fn terms(&self) -> crate::runtime::Terms {
        crate::runtime::Terms {
            cost: self.op.cost,
            safe: self.op.safe,
        }
    }

    /// A non-paginated operation: one call, its answer mapped and checked.
    async fn single(&self) -> Response {
        let query = encode_query(&self.req.query);
        let answer = match self
            .rt
            .call(Call {
                method: self.op.method.clone(),
                path: self.req.path.clone(),
                query: (!query.is_empty()).then_some(query),
                headers: self.req.headers.clone(),
                body: self.req.body.clone(),
                connection: self.connection.clone(),
                version: self.version.clone(),
                terms: self.terms(),
            })
            .await
        {
            Ok(a) => a,
            Err(e) => return ApiError(e).into_response(),
        };
        let attempts = answer.attempts;
        self.deprecation(&self.op.method, &self.req.path, &answer.headers);
        let (bytes, _) = match answer::bytes_of(&self.name, answer).await {
            Ok(b) => b,
            Err(refused) => return refused,
        };
        if let Some(refused) = self.errors_in(&bytes, attempts) {
            return refused;
        }
        let json = match answer::json_in(&self.name, &bytes) {
            Ok(j) => j,
            Err(refused) => return refused.into_response(),
        };
        if attempts > 0 && self.rt.cfg.cost.reads_answers() {
            self.rt
                .cost_from_body(&self.connection, self.op.cost, &json);
        }
        if json.is_null() && self.op.response.map.is_none() && self.op.response.model.is_none() {
            let mut res = StatusCode::NO_CONTENT.into_response();
            res.headers_mut()
                .insert("x-junction-attempts", HeaderValue::from(attempts));
            return res;
        }
        self.observe(&json);
        let vendor = self.passthrough.then(|| json.clone());
        match self.canonical(vec![json]).await {
            Ok(mut v) => {
                let mut record = v.pop().unwrap_or(Value::Null);
                if let (Some(vendor), Value::Object(fields)) = (vendor, &mut record) {
                    fields.insert("passthrough".into(), vendor);
                }
                answer::ok(&record, attempts)
            }
            Err(refused) => refused,
        }
    }

    /// Maps the vendor's records and checks each against the response model.
    async fn canonical(&self, records: Vec<Value>) -> Result<Vec<Value>, Response> {
        let out = message::map_all(
            &self.shapes,
            &self.op.response,
            records,
            &self.name,
            Side::Answer,
        )
        .await
        .map_err(IntoResponse::into_response)?;
        if let Some(model) = self
            .op
            .response
            .model
            .as_ref()
            .and_then(|m| self.shapes.models.get(m))
        {
            for v in &out {
                if let Err(errors) = model.validate(v) {
                    return Err(message::broken_answer(
                        &self.rt.drift,
                        &self.subject,
                        model,
                        v,
                        &errors,
                    ));
                }
            }
        }
        Ok(out)
    }

    /// A vendor's `Deprecation` / `Sunset` headers on the endpoint, as for `/proxy` calls.
    fn deprecation(&self, method: &Method, path: &str, headers: &http::HeaderMap) {
        crate::drift::deprecation(&self.rt.drift, &self.rt.cfg.name, method, path, headers);
    }

    /// Learns the shape of the vendor's records (sampled once a shape is known).
    fn observe(&self, v: &Value) {
        if self.rt.drift.wants("connector", &self.subject) {
            self.rt
                .drift
                .observe("connector", &self.subject, v, junction_core::time::now_ms());
        }
    }

    /// A cursor handed back by the caller. A URL position must stay on the operation's own
    /// path: a cursor cannot reach another endpoint of the vendor than the token's scope names.
    fn caller_position(&self, p: &Paginate, token: &str) -> Result<Position, ApiError> {
        let pos = Position::from_token(token, p.style).map_err(ApiError)?;
        if let Position::Url(u) = &pos {
            let path = u.split_once('?').map_or(u.as_str(), |(p, _)| p);
            if path != self.req.path {
                return Err(ApiError(
                    Error::downstream(
                        Code::BadRequest,
                        "`cursor` is not a cursor of this operation",
                    )
                    .with_hint("pass the `next_cursor` of the previous answer as it came"),
                ));
            }
        }
        Ok(pos)
    }

    /// Fetches the page at `pos`: the vendor's records, the next position, the requests sent.
    async fn fetch(&self, p: &Paginate, pos: &Position, seen: u64) -> Result<Fetched, Response> {
        let (path, query) = pages::request(p, &self.req.path, &self.req.query, pos);
        let url = crate::path::target(&self.rt.cfg, &path, Some(&query))
            .map_err(|e| ApiError(e).into_response())?;
        // A safe POST carries its position in its body; a GET in its query.
        let (method, body) = match &p.body {
            Some(at) => (
                self.op.method.clone(),
                pages::body_at(at, p, &self.req.body, pos)
                    .map_err(|e| ApiError(e).into_response())?,
            ),
            None => (Method::GET, Bytes::new()),
        };
        let answer = self
            .rt
            .call(Call {
                method: method.clone(),
                path,
                query: (!query.is_empty()).then_some(query),
                headers: self.req.headers.clone(),
                body,
                connection: self.connection.clone(),
                version: self.version.clone(),
                terms: self.terms(),
            })
            .await
            .map_err(|e| ApiError(e).into_response())?;
        let attempts = answer.attempts;
        self.deprecation(&method, &self.req.path, &answer.headers);
        let date = answer
            .headers
            .get(http::header::DATE)
            .and_then(|v| v.to_str().ok())
            .and_then(|v| httpdate::parse_http_date(v).ok())
            .and_then(|t| t.duration_since(std::time::UNIX_EPOCH).ok())
            .map(|d| d.as_millis() as i64);
        let (bytes, headers) = answer::bytes_of(&self.name, answer).await?;
        if let Some(refused) = self.errors_in(&bytes, attempts) {
            return Err(refused);
        }
        let (style, name) = (p.clone(), self.name.clone());
        let body = junction_transform::pool::run(move || pages::parse(&style, &name, bytes))
            .await
            .map_err(|e| ApiError(Error::internal(e)).into_response())?
            .map_err(|e| ApiError(e).into_response())?;
        if attempts > 0 && self.rt.cfg.cost.reads_answers() {
            self.rt
                .cost_from_body(&self.connection, self.op.cost, body.rest());
        }
        let page = pages::read(p, &self.rt.cfg, &url, body, &headers, pos, seen)
            .map_err(|e| ApiError(e).into_response())?;
        if let Some(first) = page.records.iter().next() {
            if self.rt.drift.wants("connector", &self.subject) {
                if let Ok(v) = serde_json::from_slice::<Value>(first) {
                    let now = junction_core::time::now_ms();
                    self.rt.drift.observe("connector", &self.subject, &v, now);
                }
            }
        }
        Ok(Fetched {
            records: page.records,
            next: page.next,
            attempts,
            date,
        })
    }

    /// One page: `{ "data": [...], "next_cursor": "…" | null }`.
    async fn one_page(&self, p: &Paginate, pos: Position) -> Response {
        let fetched = self.fetch(p, &pos, 0).await;
        let (records, next, attempts) = match fetched {
            Ok(f) => (f.records, f.next, f.attempts),
            Err(refused) => return refused,
        };
        let lines = match self.lines(records).await {
            Ok(lines) => lines,
            Err(refused) => return refused,
        };
        // `{"data": [ the lines, comma-separated ], "next_cursor": …}`, written once.
        let mut body = Vec::with_capacity(lines.len() + 64);
        body.extend_from_slice(b"{\"data\":[");
        for (i, line) in lines
            .split(|b| *b == b'\n')
            .filter(|l| !l.is_empty())
            .enumerate()
        {
            if i > 0 {
                body.push(b',');
            }
            body.extend_from_slice(line);
        }
        body.extend_from_slice(b"],\"next_cursor\":");
        let cursor = next.map(|n| n.token());
        let _ = serde_json::to_writer(&mut body, &cursor);
        body.push(b'}');
        answer::ok_bytes(body, attempts)
    }

    /// A page's records as NDJSON lines (mapped, checked), or the error answer.
    async fn lines(&self, records: pages::Records) -> Result<Vec<u8>, Response> {
        let model = self
            .op
            .response
            .model
            .as_ref()
            .and_then(|m| self.shapes.models.get(m))
            .cloned();
        message::lines(
            &self.shapes,
            &self.op.response,
            model,
            records,
            self.passthrough,
        )
        .await
        .map_err(|e| match e {
            message::LineError::Mapping(e) => {
                message::mapping_error(&self.name, Side::Answer, e).into_response()
            }
            message::LineError::Model {
                model,
                value,
                errors,
            } => message::broken_answer(&self.rt.drift, &self.subject, &model, &value, &errors),
        })
    }

    /// Every page from `start`, streamed as NDJSON; the first page's failure is an ordinary
    /// error answer, a later one ends the stream with the error and the cursor to resume from.
    /// The next page is fetched while the current one is mapped and sent.
    async fn walk(self, p: Paginate, start: Position, control: &Control) -> Response {
        let limits = Limits {
            pages: control
                .max_pages
                .unwrap_or(p.max_pages)
                .clamp(1, p.max_pages),
            records: control
                .max_records
                .unwrap_or(p.max_records)
                .clamp(1, p.max_records),
        };
        let mut visited = pages::Visited::default();
        let _ = visited.first(&start);
        let first = match self.fetch(&p, &start, 0).await {
            Ok(f) => match self.lines(f.records).await {
                Ok(lines) => (lines, f.next),
                Err(refused) => return refused,
            },
            Err(refused) => return refused,
        };
        let (tx, rx) = tokio::sync::mpsc::channel::<Bytes>(2);
        tokio::spawn(async move {
            let mut walk = Walk {
                pages: 1,
                records: 0,
                tx,
            };
            let (lines, mut next) = first;
            let mut pending = lines;
            loop {
                // Decide on the next page before sending this one, so its fetch overlaps the
                // send (and the mapping of the page after it).
                let fetch = match next.take() {
                    None => None,
                    Some(pos) => {
                        match walk.stop(&limits, &pos, &mut visited, count_lines(&pending)) {
                            Some(end) => {
                                if walk.send(pending).await {
                                    walk.end(end).await;
                                }
                                return;
                            }
                            None => Some(pos),
                        }
                    }
                };
                let Some(pos) = fetch else {
                    if walk.send(pending).await {
                        walk.end(json!({ "complete": true })).await;
                    }
                    return;
                };
                // The records before the next page (the page style's `total` counts them).
                let seen = walk.records + count_lines(&pending);
                let (sent, fetched) = tokio::join!(walk.send(pending), self.fetch(&p, &pos, seen));
                if !sent {
                    return;
                }
                let page = match fetched {
                    Ok(f) => self.lines(f.records).await.map(|l| (l, f.next)),
                    Err(refused) => Err(refused),
                };
                match page {
                    Ok((lines, n)) => {
                        walk.pages += 1;
                        pending = lines;
                        next = n;
                    }
                    Err(refused) => {
                        let error = error_of(refused).await;
                        walk.end(json!({ "complete": false, "next_cursor": pos.token(), "error": error }))
                            .await;
                        return;
                    }
                }
            }
        });
        let stream = futures_util::stream::unfold(rx, |mut rx| async move {
            rx.recv()
                .await
                .map(|b| (Ok::<_, std::convert::Infallible>(b), rx))
        });
        let mut res = Body::from_stream(stream).into_response();
        res.headers_mut().insert(
            http::header::CONTENT_TYPE,
            HeaderValue::from_static("application/x-ndjson"),
        );
        res
    }
}

/// A page fetched: the vendor's records, the next position, the requests sent, and the vendor's
/// clock (its `Date` header) when it answered.
struct Fetched {
    records: pages::Records,
    next: Option<Position>,
    attempts: u32,
    date: Option<i64>,
}

/// A walk's page and record limits.
struct Limits {
    pages: u32,
    records: u64,
}

fn count_lines(lines: &[u8]) -> u64 {
    lines.iter().filter(|b| **b == b'\n').count() as u64
}

/// How long a walk waits for its caller to read before it stops.
const STALLED: std::time::Duration = std::time::Duration::from_secs(60);

/// A walk streaming to its caller.
struct Walk {
    pages: u32,
    records: u64,
    tx: tokio::sync::mpsc::Sender<Bytes>,
}

impl Walk {
    /// Sends one page's lines; false once the caller has gone, or has read nothing for
    /// [`STALLED`] (a caller that stops reading does not hold the walk's pages for good).
    async fn send(&mut self, lines: Vec<u8>) -> bool {
        self.records += count_lines(&lines);
        let sent = tokio::time::timeout(STALLED, self.tx.send(Bytes::from(lines))).await;
        matches!(sent, Ok(Ok(())))
    }

    /// Whether the walk stops before the page at `pos` (a limit reached, or a position the
    /// vendor already sent): the summary to end with. `sending` records are about to go out.
    fn stop(
        &self,
        limits: &Limits,
        pos: &Position,
        visited: &mut pages::Visited,
        sending: u64,
    ) -> Option<Value> {
        let records = self.records + sending;
        let limit = if self.pages >= limits.pages {
            Some(("page_limit", format!("stopped after {} pages", self.pages)))
        } else if records >= limits.records {
            Some(("record_limit", format!("stopped after {records} records")))
        } else {
            None
        };
        if let Some((code, message)) = limit {
            return Some(json!({ "complete": false, "next_cursor": pos.token(),
                "error": { "code": code, "message": message,
                           "hint": "continue from next_cursor, or raise max_pages / max_records" } }));
        }
        match visited.first(pos) {
            Ok(()) => None,
            Err(e) => Some(json!({ "complete": false, "error": e.to_body()["error"].clone() })),
        }
    }

    /// The last line: `{"junction": {"complete": …, "pages": …, "records": …, …}}`.
    async fn end(self, mut summary: Value) {
        summary["pages"] = json!(self.pages);
        summary["records"] = json!(self.records);
        let mut line = serde_json::to_vec(&json!({ "junction": summary })).unwrap_or_default();
        line.push(b'\n');
        let _ = tokio::time::timeout(STALLED, self.tx.send(Bytes::from(line))).await;
    }
}

/// The `error` object of an error answer.
async fn error_of(res: Response) -> Value {
    let status = res.status().as_u16();
    let bytes = axum::body::to_bytes(res.into_body(), 64 << 10)
        .await
        .unwrap_or_default();
    serde_json::from_slice::<Value>(&bytes)
        .ok()
        .and_then(|v| v.get("error").cloned())
        .unwrap_or_else(|| json!({ "code": "upstream_failed", "status": status }))
}

/// The message of an error answer.
async fn error_message(res: Response) -> String {
    let error = error_of(res).await;
    match error["message"].as_str() {
        Some(m) => m.to_owned(),
        None => error.to_string(),
    }
}

fn encode_query(pairs: &[(String, String)]) -> String {
    let mut q = url::form_urlencoded::Serializer::new(String::new());
    for (k, v) in pairs {
        q.append_pair(k, v);
    }
    q.finish()
}
