//! SOAP as REST: `POST /proxy/{connector}/{operation}` with a JSON body on a `kind: soap`
//! connector. The body is checked against the operation's request model (a 400 with every schema
//! error, before any vendor call), mapped to the operation's element, wrapped in an envelope and
//! sent through the connector's whole pipeline (quota, circuit, credentials, deadline); the
//! response envelope is unwrapped and mapped back to JSON. A `Client` fault is the vendor refusing
//! the request (422); a `Server` fault, or an answer that is not an envelope, is a failed upstream
//! (502).

use axum::response::{IntoResponse, Response};
use bytes::Bytes;
use http::{HeaderMap, HeaderValue, Method, StatusCode};
use junction_config::{Message, Operation, Shapes, Soap};
use junction_core::{Code, Error, Origin};
use junction_server::ApiError;
use junction_transform::codec::soap::{self, SoapError};
use junction_transform::{describe, drift, Mapping};
use serde_json::{json, Value};

use crate::runtime::{AnswerBody, Call, Runtime};

/// Most bytes of a SOAP answer read.
const MAX_ANSWER: usize = 8 << 20;

pub async fn call(
    rt: &Runtime,
    shapes: &Shapes,
    soap: &Soap,
    operation: &str,
    connection: String,
    body: Bytes,
) -> Result<Response, ApiError> {
    let Some(op) = rt.cfg.operations.get(operation) else {
        let known: Vec<&str> = rt.cfg.operations.keys().map(String::as_str).collect();
        return Err(ApiError(
            Error::downstream(
                Code::NotFound,
                format!("connector `{}` has no operation `{operation}`", rt.cfg.name),
            )
            .with_hint(format!("operations: {}", known.join(", "))),
        ));
    };
    let input: Value = if body.iter().all(u8::is_ascii_whitespace) {
        json!({})
    } else {
        serde_json::from_slice(&body).map_err(|e| {
            ApiError(
                Error::downstream(Code::BadRequest, format!("the body is not JSON: {e}"))
                    .with_hint("SOAP operations take a JSON object and answer JSON"),
            )
        })?
    };
    if let Some(response) = check_model(shapes, &op.request, &input, "request") {
        return Ok(response);
    }
    let content = map(shapes, &op.request, input, operation).await?;
    let element = match content {
        Value::Object(ref m) if m.len() == 1 && m.contains_key(operation) => content,
        other => json!({ operation: other }),
    };
    let envelope = soap::wrap(&element, soap.version, soap.namespace.as_deref())
        .map_err(|e| mapping_error(operation, "request", e))?;
    let answer = rt
        .call(Call {
            method: Method::POST,
            path: String::new(),
            query: None,
            headers: soap_headers(soap, op)?,
            body: Bytes::from(envelope),
            connection,
        })
        .await?;
    let status = answer.status;
    let retry_after = answer.headers.get(http::header::RETRY_AFTER).cloned();
    let deferred = answer.deferred.clone();
    // A fault's kind decides whether the vendor failed (for the circuit); anything else did.
    let settle = |vendor_ok: bool| {
        if let Some(d) = &deferred {
            d.settle(vendor_ok);
        }
    };
    let subject = format!("{}/{operation}", rt.cfg.name);
    let bytes = read_all(answer.body).await?;
    let unwrapped = match soap::unwrap(&bytes) {
        Ok(v) => {
            settle(true);
            v
        }
        Err(SoapError::Fault(f)) => {
            settle(f.is_client());
            let code = if f.is_client() {
                Code::UpstreamRefused
            } else {
                Code::UpstreamFailed
            };
            let e = Error::new(code, Origin::Upstream, format!("{operation}: {f}"));
            let mut body = e.to_body();
            body["error"]["fault"] = json!({ "code": f.code, "detail": f.detail });
            let status =
                StatusCode::from_u16(code.http_status()).unwrap_or(StatusCode::BAD_GATEWAY);
            return Ok((status, axum::Json(body)).into_response());
        }
        Err(SoapError::Malformed(_)) if matches!(status.as_u16(), 401 | 403 | 429) => {
            // The service is up and said why, over HTTP rather than in a fault.
            settle(true);
            return Err(ApiError(refused_over_http(operation, status, retry_after)));
        }
        Err(SoapError::Malformed(why)) => {
            settle(false);
            if status.is_success() {
                rt.drift.record(
                    "connector",
                    &subject,
                    &[drift::Drift {
                        path: String::new(),
                        kind: drift::Kind::UnexpectedBody,
                        detail: format!("HTTP {status} without a SOAP envelope: {why}"),
                    }],
                    junction_core::time::now_ms(),
                );
            }
            return Err(ApiError(
                Error::new(
                    Code::UpstreamFailed,
                    Origin::Upstream,
                    format!("{operation}: the service answered HTTP {status} without a SOAP envelope ({why})"),
                )
                .with_hint("check the connector's base_url and the operation's action"),
            ));
        }
    };
    // The response element's content (`GetCustomerResponse` → its children).
    let content = match unwrapped {
        Value::Object(m) => m.into_iter().next().map(|(_, v)| v).unwrap_or(Value::Null),
        other => other,
    };
    learn(&rt.drift, shapes, &op.response, &subject, &content);
    let out = map(shapes, &op.response, content, operation).await?;
    let mut res = (StatusCode::OK, axum::Json(out)).into_response();
    res.headers_mut()
        .insert("x-junction-attempts", HeaderValue::from(answer.attempts));
    Ok(res)
}

/// A 401, 403 or 429 without an envelope: the connector's credentials or its quota, each with
/// the hint that fixes it (not the base URL's).
fn refused_over_http(
    operation: &str,
    status: StatusCode,
    retry_after: Option<HeaderValue>,
) -> Error {
    if status == StatusCode::TOO_MANY_REQUESTS {
        let wait = retry_after
            .as_ref()
            .and_then(|v| v.to_str().ok())
            .map(|v| format!(" (Retry-After: {v})"))
            .unwrap_or_default();
        return Error::new(
            Code::RateLimited,
            Origin::Upstream,
            format!("{operation}: the service's rate limit was reached{wait}"),
        )
        .with_hint("retry later, and give the connector `quotas:` at the service's limit so Junction paces its calls");
    }
    Error::new(
        Code::UpstreamRefused,
        Origin::Upstream,
        format!("{operation}: the service refused the connector's credentials (HTTP {status})"),
    )
    .with_hint("check the connector's `auth:` (kind, key or token, scopes) against what the service expects")
}

/// Drift of an answer: against the response model when one is declared, else against the shape
/// learned from earlier answers.
fn learn(tracker: &drift::Tracker, shapes: &Shapes, m: &Message, subject: &str, content: &Value) {
    let now = junction_core::time::now_ms();
    match m.model.as_ref().and_then(|id| shapes.models.get(id)) {
        Some(model) => tracker.record("connector", subject, &drift::against(model, content), now),
        None => {
            tracker.observe("connector", subject, content, now);
        }
    }
}

fn soap_headers(soap: &Soap, op: &Operation) -> Result<HeaderMap, ApiError> {
    let mut h = HeaderMap::new();
    let ct = HeaderValue::from_str(&soap.version.content_type(&op.action)).map_err(|_| {
        ApiError(Error::downstream(
            Code::Internal,
            "the operation's action cannot be sent in a header",
        ))
    })?;
    h.insert(http::header::CONTENT_TYPE, ct);
    if soap.version == soap::Version::V11 {
        let action = HeaderValue::from_str(&format!("\"{}\"", op.action)).map_err(|_| {
            ApiError(Error::downstream(
                Code::Internal,
                "the operation's action cannot be sent in a header",
            ))
        })?;
        h.insert("soapaction", action);
    }
    h.insert(
        http::header::ACCEPT,
        HeaderValue::from_static("text/xml, application/soap+xml"),
    );
    Ok(h)
}

/// A 400 with every schema error when `value` breaks the message's model.
fn check_model(shapes: &Shapes, m: &Message, value: &Value, what: &str) -> Option<Response> {
    let model = shapes.models.get(m.model.as_ref()?)?;
    let errors = model.validate(value).err()?;
    let e = Error::downstream(
        Code::SchemaInvalid,
        format!("the {what} breaks {}: {}", model.id, describe(&errors)),
    )
    .with_hint("fix the body; no call was made to the vendor");
    let mut body = e.to_body();
    body["error"]["errors"] = json!(errors);
    Some((StatusCode::BAD_REQUEST, axum::Json(body)).into_response())
}

/// Runs the message's mapping (on the mapping threads); without one, the value passes as is.
async fn map(
    shapes: &Shapes,
    m: &Message,
    value: Value,
    operation: &str,
) -> Result<Value, ApiError> {
    let Some(def) = m.map.as_ref().and_then(|n| shapes.mappings.get(n)) else {
        return Ok(value);
    };
    let mapping: Mapping = def.mapping.clone();
    let model = def.to.clone();
    let op = operation.to_owned();
    junction_transform::pool::run(move || {
        let input = serde_json::to_vec(&value).map_err(|e| e.to_string())?;
        let mut out = Vec::new();
        mapping
            .map_json(&input, &mut out)
            .map_err(|e| format!("mapping `{}`: {e}", mapping.name))?;
        let v = serde_json::from_slice::<Value>(&out).map_err(|e| e.to_string())?;
        if let Some(model) = model {
            model.validate(&v).map_err(|errs| {
                format!(
                    "mapping `{}`: the output breaks {}: {}",
                    mapping.name,
                    model.id,
                    describe(&errs)
                )
            })?;
        }
        Ok(v)
    })
    .await
    .unwrap_or_else(Err)
    .map_err(|e| mapping_error(&op, "mapping", e))
}

fn mapping_error(operation: &str, what: &str, e: String) -> ApiError {
    ApiError(
        Error::downstream(Code::BadRequest, format!("{operation}: {what} failed: {e}"))
            .with_hint("run `junction test` to check the operation's mappings"),
    )
}

async fn read_all(body: AnswerBody) -> Result<Bytes, ApiError> {
    match body {
        AnswerBody::Full(b) => Ok(b),
        AnswerBody::Stream { prefix, rest } => {
            use http_body_util::BodyExt;
            let limited = http_body_util::Limited::new(rest.into_body(), MAX_ANSWER);
            let tail = limited.collect().await.map_err(|e| {
                ApiError(Error::new(
                    Code::UpstreamFailed,
                    Origin::Upstream,
                    format!("the SOAP answer could not be read: {e}"),
                ))
            })?;
            let mut all = prefix.to_vec();
            all.extend_from_slice(&tail.to_bytes());
            Ok(Bytes::from(all))
        }
    }
}
