//! The vendor's answer to an operation, as the caller sees it: a 2xx read as JSON, mapped and
//! checked against the response model; anything else one error shape — the vendor refusing the
//! request keeps its status (404 stays 404) with an excerpt of what the vendor said, a spent
//! quota is a 429 with `Retry-After`, refused credentials and failures are a 502.

use axum::response::{IntoResponse, Response};
use bytes::Bytes;
use http::{HeaderValue, StatusCode};
use junction_core::{Code, Error, Origin};
use junction_server::ApiError;
use serde_json::{json, Value};

use crate::runtime::Answer;

/// Most bytes of a vendor's error answer quoted back to the caller.
const EXCERPT: usize = 2048;

/// The body of a 2xx answer, or the error that explains why there is none.
pub async fn bytes_of(name: &str, answer: Answer) -> Result<(Bytes, http::HeaderMap), Response> {
    let status = answer.status;
    let headers = answer.headers;
    let bytes = super::message::read_all(answer.body)
        .await
        .map_err(IntoResponse::into_response)?;
    if !status.is_success() {
        return Err(refused(name, status, &headers, &bytes));
    }
    Ok((bytes, headers))
}

/// The JSON of a 2xx answer's body (`Null` when empty), or the error that explains why there
/// is none.
pub fn json_in(name: &str, bytes: &[u8]) -> Result<Value, ApiError> {
    if bytes.iter().all(u8::is_ascii_whitespace) {
        return Ok(Value::Null);
    }
    match serde_json::from_slice(bytes) {
        Ok(v) => Ok(v),
        Err(e) => Err(ApiError(
            Error::new(
                Code::UpstreamInvalid,
                Origin::Upstream,
                format!("{name}: the vendor answered with a body that is not JSON ({e})"),
            )
            .with_hint("check the operation's path and the connector's base_url"),
        )),
    }
}

/// A non-2xx answer as the caller's error.
fn refused(name: &str, status: StatusCode, headers: &http::HeaderMap, body: &Bytes) -> Response {
    let s = status.as_u16();
    let (code, message, hint) = match s {
        429 => (
            Code::RateLimited,
            format!("{name}: the vendor's rate limit was reached"),
            "retry after the time in Retry-After; give the connector `quotas:` at the vendor's limit so Junction paces its calls",
        ),
        401 | 403 => (
            Code::UpstreamFailed,
            format!("{name}: the vendor refused the connector's credentials (HTTP {s})"),
            "check the connector's `auth:` (kind, key or token, scopes) against what the vendor expects",
        ),
        400..=499 => (
            Code::UpstreamRefused,
            format!("{name}: the vendor refused the request (HTTP {s})"),
            "the vendor's own answer is under error.upstream",
        ),
        _ => (
            Code::UpstreamFailed,
            format!("{name}: the vendor answered HTTP {s}"),
            "the vendor failed; Junction retried what was safe to retry",
        ),
    };
    let e = Error::new(code, Origin::Upstream, message).with_hint(hint);
    let mut out = e.to_body();
    let quoted = &body[..body.len().min(EXCERPT)];
    out["error"]["upstream"] = json!({
        "status": s,
        "body": serde_json::from_slice::<Value>(quoted)
            .unwrap_or_else(|_| Value::String(String::from_utf8_lossy(quoted).into_owned())),
    });
    // The vendor's own status for what it refused (a 404 stays a 404); a 502 for its failures.
    let answered = match code {
        Code::UpstreamRefused => status,
        _ => StatusCode::from_u16(code.http_status()).unwrap_or(StatusCode::BAD_GATEWAY),
    };
    let mut res = (answered, axum::Json(out)).into_response();
    if let Some(ra) = headers.get(http::header::RETRY_AFTER).filter(|_| s == 429) {
        res.headers_mut()
            .insert(http::header::RETRY_AFTER, ra.clone());
    }
    res
}

/// A 200 with the caller's JSON, already written, and how many requests went upstream.
pub fn ok_bytes(json: Vec<u8>, attempts: u32) -> Response {
    let mut res = (StatusCode::OK, json).into_response();
    res.headers_mut().insert(
        http::header::CONTENT_TYPE,
        HeaderValue::from_static("application/json"),
    );
    res.headers_mut()
        .insert("x-junction-attempts", HeaderValue::from(attempts));
    res
}

/// A 200 with the caller's JSON and how many requests went upstream.
pub fn ok(value: &Value, attempts: u32) -> Response {
    let mut res = (StatusCode::OK, axum::Json(value)).into_response();
    res.headers_mut()
        .insert("x-junction-attempts", HeaderValue::from(attempts));
    res
}

/// Errors a vendor wrote into a successful answer (GraphQL's `errors`), as the caller's error:
/// a rate-limit code is a 429 with `Retry-After`, anything else a 502 `upstream_refused` with
/// the vendor's errors quoted. `None` when the answer carries none. The body is parsed only when
/// it names the errors' field at all.
pub fn errors_in(
    name: &str,
    spec: &junction_config::AnswerErrors,
    bytes: &[u8],
) -> Option<(Value, Response)> {
    let first = spec.field.first()?;
    let quoted = format!("\"{first}\"");
    if !bytes.windows(quoted.len()).any(|w| w == quoted.as_bytes()) {
        return None;
    }
    let body: Value = serde_json::from_slice(bytes).ok()?;
    let found = spec.field.iter().try_fold(&body, |v, k| v.get(k))?;
    let list: Vec<&Value> = match found {
        Value::Array(a) => a.iter().collect(),
        Value::Null | Value::Bool(false) => Vec::new(),
        Value::Object(m) if m.is_empty() => Vec::new(),
        other => vec![other],
    };
    if list.is_empty() {
        return None;
    }
    let text = |e: &Value, path: &[String]| {
        path.iter().try_fold(e, |v, k| v.get(k)).and_then(|v| {
            v.as_str()
                .map(str::to_owned)
                .or_else(|| (!v.is_null()).then(|| v.to_string()))
        })
    };
    let codes: Vec<String> = list.iter().filter_map(|e| text(e, &spec.code)).collect();
    let message = list
        .first()
        .and_then(|e| text(e, &spec.message))
        .unwrap_or_default();
    let message: String = message.chars().take(300).collect();
    let limited = codes.iter().any(|c| spec.rate_limited.contains(c));
    let (code, said, hint) = if limited {
        (
            Code::RateLimited,
            format!("{name}: the vendor's rate limit or cost budget is spent ({})", codes.join(", ")),
            "retry after the time in Retry-After; Junction has learned what the vendor says is left",
        )
    } else {
        (
            Code::UpstreamRefused,
            format!(
                "{name}: the vendor answered with errors{}{}",
                if codes.is_empty() {
                    String::new()
                } else {
                    format!(" ({})", codes.join(", "))
                },
                if message.is_empty() {
                    String::new()
                } else {
                    format!(": {message}")
                }
            ),
            "the vendor's own errors are under error.upstream",
        )
    };
    let e = Error::new(code, Origin::Upstream, said).with_hint(hint);
    let mut out = e.to_body();
    let excerpt: Vec<&Value> = list.into_iter().take(5).collect();
    out["error"]["upstream"] = json!({ "status": 200, "errors": excerpt });
    let status = if limited {
        StatusCode::TOO_MANY_REQUESTS
    } else {
        StatusCode::BAD_GATEWAY
    };
    let mut res = (status, axum::Json(out)).into_response();
    if limited {
        res.headers_mut()
            .insert(http::header::RETRY_AFTER, HeaderValue::from_static("1"));
    }
    Some((body, res))
}
