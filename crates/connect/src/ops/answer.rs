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

/// The JSON of a 2xx answer (`Null` for an empty body), or the error that explains why there is
/// none.
pub async fn json_of(name: &str, answer: Answer) -> Result<(Value, http::HeaderMap), Response> {
    let status = answer.status;
    let (bytes, headers) = bytes_of(name, answer).await?;
    if bytes.iter().all(u8::is_ascii_whitespace) {
        return Ok((Value::Null, headers));
    }
    match serde_json::from_slice(&bytes) {
        Ok(v) => Ok((v, headers)),
        Err(e) => Err(ApiError(
            Error::new(
                Code::UpstreamInvalid,
                Origin::Upstream,
                format!(
                    "{name}: the vendor answered HTTP {status} with a body that is not JSON ({e})"
                ),
            )
            .with_hint("check the operation's path and the connector's base_url"),
        )
        .into_response()),
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
