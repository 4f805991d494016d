//! Errors over HTTP: one JSON shape, a status from the error's code, `Retry-After` when waiting
//! helps, and nothing internal or secret in the body.

use axum::body::Body;
use axum::response::{IntoResponse, Response};
use http::{header, HeaderValue, StatusCode};
use junction_core::{Code, Error};

/// Every error answer's body, as the OpenAPI document describes it.
#[derive(Debug, utoipa::ToSchema)]
#[allow(dead_code)]
pub struct ErrorBody {
    pub error: ErrorDetail,
}

#[derive(Debug, utoipa::ToSchema)]
#[allow(dead_code)]
pub struct ErrorDetail {
    /// Machine-readable: `unauthorized`, `forbidden`, `not_found`, `bad_request`, …
    pub code: String,
    pub message: String,
    /// What to do about it.
    pub hint: Option<String>,
}

/// A handler error, rendered as `{"error":{"code","message","hint"}}`.
#[derive(Debug)]
pub struct ApiError(pub Error);

impl From<Error> for ApiError {
    fn from(e: Error) -> Self {
        Self(e)
    }
}

impl From<junction_store::StoreError> for ApiError {
    fn from(e: junction_store::StoreError) -> Self {
        Self(e.into())
    }
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        let e = self.0;
        if e.code() == Code::Internal {
            tracing::error!(error = %e, "internal error");
        }
        let status = StatusCode::from_u16(e.code().http_status())
            .unwrap_or(StatusCode::INTERNAL_SERVER_ERROR);
        let mut res = (status, axum::Json(e.to_body())).into_response();
        if let Some(after) = e.retry_after() {
            let secs = after.as_secs().max(1).to_string();
            if let Ok(v) = HeaderValue::from_str(&secs) {
                res.headers_mut().insert(header::RETRY_AFTER, v);
            }
        }
        res
    }
}

/// Turns every error answer that is not already our JSON (axum's 404/405, the body limit's 413,
/// a caught panic) into the JSON error body, keeping its status and headers. `method` and `path`
/// are the request's.
pub(crate) fn normalize(
    method: &http::Method,
    path: &str,
    body_limit: usize,
    mut res: Response,
) -> Response {
    let status = res.status();
    // A body refused for its size was not read to its end: the connection cannot carry another
    // request, so the client is told not to reuse it (else its next request on it fails).
    if status == StatusCode::PAYLOAD_TOO_LARGE {
        res.headers_mut()
            .insert(header::CONNECTION, HeaderValue::from_static("close"));
    }
    if !(status.is_client_error() || status.is_server_error()) {
        return res;
    }
    let is_json = res
        .headers()
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| v.starts_with("application/json"));
    // A dashboard page that answers an error with itself (a failed sign-in shows the form).
    let is_page = res
        .headers()
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| v.starts_with("text/html"));
    // An upstream's answer relayed by /proxy (marked with its attempt count) is the vendor's,
    // passed on as it came.
    let relayed = res.headers().contains_key("x-junction-attempts");
    if is_json || is_page || relayed {
        return res;
    }
    let (code, message, hint): (Code, String, Option<String>) = match status {
        StatusCode::NOT_FOUND => (
            Code::NotFound,
            format!("no route for {method} {path}"),
            Some("see the README for Junction's HTTP endpoints".into()),
        ),
        StatusCode::METHOD_NOT_ALLOWED => (
            Code::MethodNotAllowed,
            format!("{method} is not allowed on {path}"),
            None,
        ),
        StatusCode::PAYLOAD_TOO_LARGE => (
            Code::BodyTooLarge,
            format!(
                "the request body is larger than the server accepts ({})",
                junction_core::units::bytes_text(body_limit)
            ),
            Some(format!(
                "send a smaller body, or raise server.body_limit in junction.yaml (now {})",
                junction_core::units::bytes_text(body_limit)
            )),
        ),
        StatusCode::REQUEST_TIMEOUT | StatusCode::GATEWAY_TIMEOUT => {
            (Code::Timeout, "the request took too long".into(), None)
        }
        s if s.is_server_error() => (Code::Internal, "internal error".into(), None),
        _ => (
            Code::BadRequest,
            status
                .canonical_reason()
                .unwrap_or("bad request")
                .to_lowercase(),
            None,
        ),
    };
    let mut e = Error::new(code, junction_core::Origin::Downstream, message);
    if let Some(h) = hint {
        e = e.with_hint(h);
    }
    let (mut parts, _) = res.into_parts();
    parts.headers.remove(header::CONTENT_LENGTH);
    parts.headers.insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("application/json"),
    );
    Response::from_parts(parts, Body::from(e.to_body().to_string()))
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::time::Duration;

    #[tokio::test]
    async fn store_unavailable_renders_503_with_retry_after() {
        let res = ApiError(Error::store_unavailable(Duration::from_secs(2))).into_response();
        assert_eq!(res.status(), 503);
        assert_eq!(res.headers()[header::RETRY_AFTER], "2");
        let body = axum::body::to_bytes(res.into_body(), 1 << 16)
            .await
            .unwrap();
        let v: serde_json::Value = serde_json::from_slice(&body).unwrap();
        assert_eq!(v["error"]["code"], "store_unavailable");
        assert!(v["error"]["hint"].as_str().unwrap().contains("Retry later"));
    }

    #[tokio::test]
    async fn internal_errors_hide_their_cause() {
        let res = ApiError(Error::internal("secret table layout")).into_response();
        assert_eq!(res.status(), 500);
        let body = axum::body::to_bytes(res.into_body(), 1 << 16)
            .await
            .unwrap();
        assert!(!String::from_utf8_lossy(&body).contains("table layout"));
    }
}
