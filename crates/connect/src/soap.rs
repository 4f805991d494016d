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
use junction_config::{Operation, Shapes, Soap};
use junction_core::{Code, Error, Origin};
use junction_server::ApiError;
use junction_transform::codec::soap::{self, SoapError};
use junction_transform::drift;
use serde_json::{json, Value};

use crate::ops::message::{check_request, learn, map, mapping_error, read_all, Side};
use crate::runtime::{Call, Runtime};

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
    if let Some(response) = check_request(shapes, &op.request, &input) {
        return Ok(response);
    }
    let content = map(shapes, &op.request, input, operation, Side::Request).await?;
    let element = match content {
        Value::Object(ref m) if m.len() == 1 && m.contains_key(operation) => content,
        other => json!({ operation: other }),
    };
    let envelope = soap::wrap(&element, soap.version, soap.namespace.as_deref())
        .map_err(|e| mapping_error(operation, Side::Request, e))?;
    let answer = rt
        .call(Call {
            method: Method::POST,
            path: String::new(),
            query: None,
            headers: soap_headers(soap, op)?,
            body: Bytes::from(envelope),
            connection,
            version: None,
            terms: crate::runtime::Terms {
                cost: op.cost,
                safe: false,
            },
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
    let out = map(shapes, &op.response, content, operation, Side::Answer).await?;
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
