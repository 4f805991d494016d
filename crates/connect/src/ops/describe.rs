//! What a connector's operations are, for callers: `GET /api/v1/connectors/{c}/operations` (the
//! list, typed) and `GET /api/v1/connectors/{c}/openapi.json` (an OpenAPI 3.1 document of
//! `/ops/{c}/…` generated from the operations and their models, so each vendor has a canonical,
//! documented API).

use std::collections::BTreeMap;
use std::sync::Arc;

use axum::extract::Path;
use axum::Json;
use junction_config::{Message, Operation, Shapes};
use junction_server::ApiError;
use serde::Serialize;
use serde_json::{json, Value};

use crate::{Hub, Runtime};

/// A connector's operations.
#[derive(Debug, Serialize, serde::Deserialize, utoipa::ToSchema)]
pub struct OperationList {
    pub connector: String,
    pub operations: Vec<OperationView>,
}

/// One operation as callers see it.
#[derive(Debug, Serialize, serde::Deserialize, utoipa::ToSchema)]
pub struct OperationView {
    pub name: String,
    /// How to call it through Junction: `POST /ops/{connector}/{operation}`.
    pub call: String,
    /// The API token scope it needs.
    pub scope: String,
    /// What goes to the vendor: method and path template (SOAP: the action).
    pub method: String,
    pub path: String,
    pub summary: Option<String>,
    /// Fields of the caller's JSON that fill the path, the query and headers.
    pub path_params: Vec<String>,
    pub query_params: Vec<String>,
    pub header_params: BTreeMap<String, String>,
    pub request: MessageView,
    pub response: MessageView,
    /// `cursor`, `offset`, `page`, `link` or `next_url`; absent when not paginated.
    pub pagination: Option<String>,
}

/// A message's mapping and model.
#[derive(Debug, Serialize, serde::Deserialize, utoipa::ToSchema)]
pub struct MessageView {
    pub map: Option<String>,
    pub model: Option<String>,
}

fn view(connector: &str, name: &str, op: &Operation, soap: bool) -> OperationView {
    let message = |m: &Message| MessageView {
        map: m.map.clone(),
        model: m.model.as_ref().map(ToString::to_string),
    };
    OperationView {
        name: name.to_owned(),
        call: format!("POST /ops/{connector}/{name}"),
        scope: format!("op:{connector}:{name}"),
        method: if soap {
            "POST".into()
        } else {
            op.method.to_string()
        },
        path: if soap {
            op.action.clone()
        } else {
            op.path.clone()
        },
        summary: op.summary.clone(),
        path_params: op.path_params.clone(),
        query_params: op.query.clone(),
        header_params: op
            .headers
            .iter()
            .map(|(f, h)| (f.clone(), h.to_string()))
            .collect(),
        request: message(&op.request),
        response: message(&op.response),
        pagination: op.paginate.as_ref().map(|p| p.style.as_str().to_owned()),
    }
}

/// An OpenAPI 3.1 document of one connector's operations.
#[derive(Debug, Serialize, serde::Deserialize, utoipa::ToSchema)]
pub struct OperationsDocument {
    /// `3.1.0`.
    pub openapi: String,
    pub info: DocumentInfo,
    /// `/ops/{connector}/{operation}` for each operation.
    #[schema(value_type = Object)]
    pub paths: Value,
    /// The operations' models as schemas, the error answer, the bearer scheme.
    #[schema(value_type = Object)]
    pub components: Value,
}

#[derive(Debug, Serialize, serde::Deserialize, utoipa::ToSchema)]
pub struct DocumentInfo {
    pub title: String,
    pub description: String,
    pub version: String,
}

/// A connector's operations.
#[utoipa::path(get, path = "/api/v1/connectors/{name}/operations", tag = "connectors",
    summary = "A connector's operations: parameters, models, pagination, scope",
    params(("name" = String, Path, description = "The connector")),
    responses((status = 200, description = "OK", body = OperationList),
        (status = 401, description = "No or unknown token", body = junction_server::errors::ErrorBody),
        (status = 403, description = "The token's role is too low", body = junction_server::errors::ErrorBody),
        (status = 404, description = "No such connector", body = junction_server::errors::ErrorBody)),
    security(("bearer" = [])))]
pub async fn list(
    axum::Extension(hub): axum::Extension<Arc<Hub>>,
    Path(name): Path<String>,
) -> Result<Json<OperationList>, ApiError> {
    let rt = hub.connector_or_404(&name)?;
    Ok(Json(OperationList {
        connector: name.clone(),
        operations: rt
            .cfg
            .operations
            .iter()
            .map(|(o, op)| view(&name, o, op, rt.cfg.soap.is_some()))
            .collect(),
    }))
}

/// The OpenAPI document of a connector's operations.
#[utoipa::path(get, path = "/api/v1/connectors/{name}/openapi.json", tag = "connectors",
    summary = "An OpenAPI 3.1 document of a connector's operations, generated from their models",
    params(("name" = String, Path, description = "The connector")),
    responses((status = 200, description = "An OpenAPI 3.1 document of `/ops/{name}/…`", body = OperationsDocument),
        (status = 401, description = "No or unknown token", body = junction_server::errors::ErrorBody),
        (status = 403, description = "The token's role is too low", body = junction_server::errors::ErrorBody),
        (status = 404, description = "No such connector", body = junction_server::errors::ErrorBody)),
    security(("bearer" = [])))]
pub async fn openapi(
    axum::Extension(hub): axum::Extension<Arc<Hub>>,
    Path(name): Path<String>,
) -> Result<Json<OperationsDocument>, ApiError> {
    let rt = hub.connector_or_404(&name)?;
    let shapes = hub.shapes.load_full();
    Ok(Json(document(&name, &rt, &shapes)))
}

/// A model's name in `components.schemas` (`customer@2` → `customer_v2`).
fn component(m: &junction_transform::ModelRef) -> String {
    format!("{}_v{}", m.name, m.version)
}

fn schema_of(m: &Message, shapes: &Shapes, used: &mut BTreeMap<String, Value>) -> Option<Value> {
    let id = m.model.as_ref()?;
    let name = component(id);
    used.insert(name.clone(), inline_schema(m, shapes)?);
    Some(json!({ "$ref": format!("#/components/schemas/{name}") }))
}

/// The JSON Schema of a message's model, whole (`None` without a model).
pub(crate) fn inline_schema(m: &Message, shapes: &Shapes) -> Option<Value> {
    let model = shapes.models.get(m.model.as_ref()?)?;
    let mut schema = model.schema().clone();
    if let Some(o) = schema.as_object_mut() {
        o.remove("$schema");
        o.remove("$id");
    }
    Some(schema)
}

/// An operation's input as a JSON Schema object: its request model, or its parameters.
pub(crate) fn input_schema(op: &Operation, shapes: &Shapes) -> Value {
    inline_schema(&op.request, shapes).unwrap_or_else(|| {
        let props: serde_json::Map<String, Value> = op
            .params()
            .map(|p| {
                (
                    p.to_owned(),
                    json!({ "type": ["string", "number", "boolean"] }),
                )
            })
            .collect();
        json!({ "type": "object", "properties": props, "required": op.path_params })
    })
}

/// The OpenAPI 3.1 document of one connector's operations.
pub fn document(connector: &str, rt: &Runtime, shapes: &Shapes) -> OperationsDocument {
    let mut schemas = BTreeMap::new();
    let mut paths = serde_json::Map::new();
    let soap = rt.cfg.soap.is_some();
    for (name, op) in &rt.cfg.operations {
        let params: Vec<&str> = op.params().collect();
        let input = schema_of(&op.request, shapes, &mut schemas)
            .unwrap_or_else(|| input_schema(op, shapes));
        let record = schema_of(&op.response, shapes, &mut schemas).unwrap_or(json!({}));
        let ok = match &op.paginate {
            None => json!({ "description": "The vendor's answer, mapped and checked",
                "content": { "application/json": { "schema": record } } }),
            Some(_) => json!({
                "description": "One page (`{data, next_cursor}`); with `?all=true` every record as NDJSON, ending with a `{\"junction\": {complete, pages, records}}` line",
                "content": {
                    "application/json": { "schema": { "type": "object", "properties": {
                        "data": { "type": "array", "items": record },
                        "next_cursor": { "type": ["string", "null"] } } } },
                    "application/x-ndjson": { "schema": record } } }),
        };
        let error = json!({ "$ref": "#/components/responses/Error" });
        let mut responses = json!({ "200": ok, "400": error, "401": error, "403": error,
            "404": error, "429": error, "502": error, "503": error, "504": error });
        if op.paginate.is_none() && !soap {
            responses["204"] = json!({ "description": "The vendor answered without a body" });
        }
        let mut query: Vec<Value> = Vec::new();
        if op.paginate.is_some() {
            query.push(
                json!({ "name": "all", "in": "query", "schema": { "type": "boolean" },
                "description": "Walk every page and stream the records as NDJSON" }),
            );
            query.push(
                json!({ "name": "cursor", "in": "query", "schema": { "type": "string" },
                "description": "The next_cursor of a previous answer" }),
            );
            query.push(json!({ "name": "max_pages", "in": "query", "schema": { "type": "integer", "minimum": 1 } }));
            query.push(json!({ "name": "max_records", "in": "query", "schema": { "type": "integer", "minimum": 1 } }));
        }
        let connection = json!({ "name": "X-Junction-Connection", "in": "header",
            "schema": { "type": "string" }, "description": "The connection to use (default `default`)" });
        let mut post_params = query.clone();
        post_params.push(connection.clone());
        let summary = op.summary.clone().unwrap_or_else(|| match soap {
            true => format!("{name} (SOAP action {})", op.action),
            false => format!("{name}: {} {}", op.method, op.path),
        });
        let mut item = json!({ "post": {
            "operationId": name, "summary": summary, "parameters": post_params,
            "requestBody": { "content": { "application/json": { "schema": input } } },
            "responses": responses, "security": [{ "bearer": [] }] } });
        if !soap && op.reads() {
            let mut get_params: Vec<Value> = params
                .iter()
                .map(|p| {
                    json!({ "name": p, "in": "query", "schema": { "type": "string" },
                    "required": op.path_params.iter().any(|x| x == p) })
                })
                .collect();
            get_params.extend(query);
            get_params.push(connection);
            item["get"] = json!({ "operationId": format!("{name}_get"), "summary": summary,
                "parameters": get_params, "responses": item["post"]["responses"].clone(),
                "security": [{ "bearer": [] }] });
        }
        paths.insert(format!("/ops/{connector}/{name}"), item);
    }
    OperationsDocument {
        openapi: "3.1.0".into(),
        info: DocumentInfo {
            title: format!("{connector} through Junction"),
            description: format!("The operations of connector `{connector}`, in canonical shapes. Each needs an API token with the scope `op:{connector}:OPERATION`."),
            version: env!("CARGO_PKG_VERSION").into(),
        },
        paths: Value::Object(paths),
        components: json!({
            "schemas": schemas,
            "responses": { "Error": { "description": "A Junction error", "content": { "application/json": { "schema": {
                "type": "object", "required": ["error"], "properties": { "error": { "type": "object",
                    "required": ["code", "message"], "properties": {
                        "code": { "type": "string" }, "message": { "type": "string" },
                        "hint": { "type": "string" }, "errors": { "type": "array" },
                        "upstream": { "type": "object" } } } } } } } } },
            "securitySchemes": { "bearer": { "type": "http", "scheme": "bearer" } },
        }),
    }
}
