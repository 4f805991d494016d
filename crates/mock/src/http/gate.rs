//! The edge every resource request passes: chaos, quotas, credentials.

use super::*;

/// Every resource request passes here, in the order a real provider's edge would apply them:
/// chaos (latency, injected failures), then the quota, then credentials; chaos may then spoil a
/// 200's body, and the quota headers go on every answer.
pub(super) async fn gate(AxState(state): St, req: Request, next: Next) -> Response {
    let (fate, latency) = state.chaos.next();
    if !latency.is_zero() {
        tokio::time::sleep(latency).await;
    }
    if let Some(res) = chaos_instead(&fate).await {
        return res;
    }
    let quota = (!state.config.quotas.limits.is_empty()).then(|| {
        let key = req
            .headers()
            .get("x-api-key")
            .or_else(|| req.headers().get("authorization"))
            .and_then(|v| v.to_str().ok())
            .unwrap_or("anonymous");
        state.quotas.admit(&state.config.quotas, key)
    });
    let xml = wants_xml(&req);
    let mut res = match (&quota, authenticate(&state, &req)) {
        (Some(q), _) if q.retry_after.is_some() => too_many(q.retry_after.unwrap_or_default()),
        (_, Some(denied)) => denied,
        _ => chaos_after(&fate, next.run(req).await).await,
    };
    if xml {
        res = as_xml(res).await;
    }
    for (name, value) in quota.map(|q| q.headers).unwrap_or_default() {
        if let (Ok(n), Ok(v)) = (
            http::HeaderName::try_from(name),
            HeaderValue::from_str(&value),
        ) {
            res.headers_mut().insert(n, v);
        }
    }
    res
}

/// The answers chaos gives instead of the real one: an error, a hang, a dropped connection.
pub(crate) async fn chaos_instead(fate: &Fate) -> Option<Response> {
    match fate {
        Fate::Error(status) => {
            let status = StatusCode::from_u16(*status).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR);
            Some(error(status, "api_error", "injected failure (chaos)"))
        }
        Fate::Hang => {
            tokio::time::sleep(std::time::Duration::from_secs(3600)).await;
            Some(error(
                StatusCode::GATEWAY_TIMEOUT,
                "api_error",
                "hung (chaos)",
            ))
        }
        Fate::Reset => {
            let body = axum::body::Body::from_stream(futures_util::stream::once(async {
                Err::<axum::body::Bytes, std::io::Error>(std::io::Error::other(
                    "connection reset (chaos)",
                ))
            }));
            let mut res = Response::new(body);
            res.headers_mut()
                .insert("content-type", HeaderValue::from_static("application/json"));
            Some(res)
        }
        _ => None,
    }
}

/// Spoils a 200's body when chaos says so: truncated (malformed) or one field drifted.
pub(crate) async fn chaos_after(fate: &Fate, res: Response) -> Response {
    if !matches!(fate, Fate::Malformed | Fate::Drift(_)) || res.status() != StatusCode::OK {
        return res;
    }
    let (mut parts, body) = res.into_parts();
    let Ok(bytes) = axum::body::to_bytes(body, 16 << 20).await else {
        return error(
            StatusCode::INTERNAL_SERVER_ERROR,
            "api_error",
            "body too large",
        );
    };
    let bytes = match fate {
        Fate::Drift(pick) => match serde_json::from_slice::<Value>(&bytes) {
            Ok(mut v) => {
                crate::chaos::drift(&mut v, *pick);
                serde_json::to_vec(&v).unwrap_or_else(|_| bytes.to_vec())
            }
            Err(_) => bytes.to_vec(),
        },
        _ => bytes[..bytes.len() / 2].to_vec(),
    };
    parts.headers.remove("content-length");
    Response::from_parts(parts, axum::body::Body::from(bytes))
}

pub(super) fn too_many(wait: std::time::Duration) -> Response {
    let mut res = error(
        StatusCode::TOO_MANY_REQUESTS,
        "rate_limit_error",
        "too many requests",
    );
    let secs = wait.as_secs() + u64::from(wait.subsec_nanos() > 0);
    res.headers_mut()
        .insert("retry-after", HeaderValue::from(secs));
    res
}

/// The scope a resource request needs.
pub(super) fn scope_for(method: &http::Method, path: &str) -> &'static str {
    if path.contains("/orders") {
        "orders:read"
    } else if method == http::Method::GET || path == "/soap" {
        "customers:read"
    } else {
        "customers:write"
    }
}

/// `Some(401 or 403)` when the request lacks valid credentials or the route's scope.
pub(super) fn authenticate(state: &State, req: &Request) -> Option<Response> {
    let scope = scope_for(req.method(), req.uri().path());
    let (status, kind, why, challenge) =
        match state
            .tokens
            .check(&state.config.auth, req.headers(), req.uri().query(), scope)
        {
            Ok(()) => return None,
            Err(Denied::Unauthenticated(why)) => (
                StatusCode::UNAUTHORIZED,
                "authentication_error",
                why.to_owned(),
                format!(
                    "Bearer realm=\"mock\", error=\"invalid_token\", error_description=\"{why}\""
                ),
            ),
            Err(Denied::Forbidden(why)) => (
                StatusCode::FORBIDDEN,
                "permission_error",
                why,
                format!("Bearer realm=\"mock\", error=\"insufficient_scope\", scope=\"{scope}\""),
            ),
        };
    let mut res = error(status, kind, &why);
    if let Ok(v) = HeaderValue::from_str(&challenge) {
        res.headers_mut().insert("www-authenticate", v);
    }
    Some(res)
}

/// The client asked for XML: `Accept: application/xml` (or `text/xml`) or `?format=xml`.
fn wants_xml(req: &Request) -> bool {
    let accept = req
        .headers()
        .get("accept")
        .and_then(|v| v.to_str().ok())
        .unwrap_or_default();
    accept.contains("application/xml")
        || accept.contains("text/xml")
        || req
            .uri()
            .query()
            .is_some_and(|q| q.split('&').any(|p| p == "format=xml"))
}

/// Re-renders a JSON answer as XML (errors too), keeping status and headers.
async fn as_xml(res: Response) -> Response {
    let is_json = res
        .headers()
        .get("content-type")
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| v.starts_with("application/json"));
    if !is_json {
        return res;
    }
    let (mut parts, body) = res.into_parts();
    let Ok(bytes) = axum::body::to_bytes(body, 16 << 20).await else {
        return error(
            StatusCode::INTERNAL_SERVER_ERROR,
            "api_error",
            "body too large",
        );
    };
    let text = match serde_json::from_slice::<Value>(&bytes) {
        Ok(v) => crate::xml::to_xml(&v),
        // A body chaos already spoiled stays spoiled.
        Err(_) => return Response::from_parts(parts, axum::body::Body::from(bytes)),
    };
    parts.headers.remove("content-length");
    parts.headers.insert(
        "content-type",
        HeaderValue::from_static("application/xml; charset=utf-8"),
    );
    Response::from_parts(parts, axum::body::Body::from(text))
}
