//! The CRM resources: customers and orders, listed, read, created, updated, deleted.

use super::*;
use sha2::Digest as _;

/// `updated_since`: unix seconds or an ISO 8601 time.
pub(super) fn updated_since(q: &BTreeMap<String, String>) -> Result<Option<i64>, String> {
    let Some(v) = q.get("updated_since") else {
        return Ok(None);
    };
    if let Ok(n) = v.parse::<i64>() {
        return Ok(Some(n));
    }
    humantime::parse_rfc3339(v)
        .map(|t| {
            Some(
                t.duration_since(std::time::UNIX_EPOCH)
                    .map(|d| d.as_secs() as i64)
                    .unwrap_or(0),
            )
        })
        .map_err(|_| format!("`updated_since` must be unix seconds or ISO 8601, got `{v}`"))
}

/// One page of a list answer: `items` (already filtered) paginated by the query, each rendered.
pub(super) fn list<T>(
    v: Version,
    items: &[&T],
    id: impl Fn(&T) -> &str,
    render: impl Fn(&T) -> Value,
    q: &BTreeMap<String, String>,
    path: &str,
) -> Response {
    let ids: Vec<&str> = items.iter().map(|t| id(t)).collect();
    match pagination::page(&ids, q, path) {
        Ok(p) => {
            let mut body = p.fields;
            body["object"] = json!("list");
            body["data"] = Value::Array(items[p.range].iter().map(|t| render(t)).collect());
            answer(v, StatusCode::OK, body, p.link)
        }
        Err(e) => error(StatusCode::BAD_REQUEST, "invalid_request_error", &e),
    }
}

pub(super) async fn list_customers(
    AxState(state): St,
    Extension(pin): Extension<Pin>,
    headers: HeaderMap,
    axum::extract::OriginalUri(uri): axum::extract::OriginalUri,
    Query(q): Query<BTreeMap<String, String>>,
) -> Response {
    let v = pin.resolve(&headers);
    let since = match updated_since(&q) {
        Ok(s) => s,
        Err(e) => return error(StatusCode::BAD_REQUEST, "invalid_request_error", &e),
    };
    let data = state.read();
    let items: Vec<&Customer> = data
        .customers
        .iter()
        .filter(|c| since.is_none_or(|s| c.updated >= s))
        .collect();
    let render = |c: &Customer| serde_json::to_value(versions::customer(c, v)).unwrap_or_default();
    list(v, &items, |c| &c.id, render, &q, uri.path())
}

pub(super) async fn list_orders(
    AxState(state): St,
    Extension(pin): Extension<Pin>,
    headers: HeaderMap,
    axum::extract::OriginalUri(uri): axum::extract::OriginalUri,
    Query(q): Query<BTreeMap<String, String>>,
) -> Response {
    let v = pin.resolve(&headers);
    let since = match updated_since(&q) {
        Ok(s) => s,
        Err(e) => return error(StatusCode::BAD_REQUEST, "invalid_request_error", &e),
    };
    let data = state.read();
    let customer = q.get("customer");
    let items: Vec<_> = data
        .orders
        .iter()
        .filter(|o| {
            since.is_none_or(|s| o.updated >= s) && customer.is_none_or(|c| &o.customer_id == c)
        })
        .collect();
    list(
        v,
        &items,
        |o| &o.id,
        |o| versions::order(o, v),
        &q,
        uri.path(),
    )
}

pub(super) async fn get_customer(
    AxState(state): St,
    Extension(pin): Extension<Pin>,
    headers: HeaderMap,
    Path(id): Path<String>,
) -> Response {
    let v = pin.resolve(&headers);
    match state.read().customer(&id) {
        Some(c) => {
            // A validator, as real APIs give: `If-None-Match` with it answers 304 without a body.
            let body = versions::customer(c, v);
            let etag = format!(
                "\"{}\"",
                &hex::encode(sha2::Sha256::digest(
                    serde_json::to_vec(&body).unwrap_or_default()
                ))[..16]
            );
            let matches = headers
                .get(http::header::IF_NONE_MATCH)
                .and_then(|h| h.to_str().ok())
                .is_some_and(|h| h.split(',').any(|t| t.trim() == etag || t.trim() == "*"));
            let mut res = if matches {
                StatusCode::NOT_MODIFIED.into_response()
            } else {
                answer(v, StatusCode::OK, body, None)
            };
            let h = res.headers_mut();
            if let Ok(e) = http::HeaderValue::from_str(&etag) {
                h.insert(http::header::ETAG, e);
            }
            h.insert(
                http::header::CACHE_CONTROL,
                http::HeaderValue::from_static("private, no-cache"),
            );
            res
        }
        None => error(
            StatusCode::NOT_FOUND,
            "resource_missing",
            &format!("no customer `{id}`"),
        ),
    }
}

pub(super) fn parse_body(body: &[u8]) -> Result<Value, String> {
    serde_json::from_slice(body).map_err(|e| format!("invalid JSON: {e}"))
}

pub(super) async fn create_customer(
    AxState(state): St,
    Extension(pin): Extension<Pin>,
    headers: HeaderMap,
    body: axum::body::Bytes,
) -> Response {
    let v = pin.resolve(&headers);
    let body = match parse_body(&body) {
        Ok(b) => b,
        Err(e) => return error(StatusCode::BAD_REQUEST, "invalid_request_error", &e),
    };
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_secs() as i64)
        .unwrap_or(0);
    let mut c = Customer::fresh(String::new(), String::new(), now);
    if let Err(e) = versions::apply(&mut c, &body, v) {
        return error(StatusCode::BAD_REQUEST, "invalid_request_error", &e);
    }
    if c.email.is_empty() {
        let field = if v == Version::V1 {
            "email"
        } else {
            "email_address"
        };
        return error(
            StatusCode::BAD_REQUEST,
            "invalid_request_error",
            &format!("`{field}` is required"),
        );
    }
    let mut data = state.write();
    let created = data.insert(c);
    answer(v, StatusCode::CREATED, versions::customer(created, v), None)
}

pub(super) async fn update_customer(
    AxState(state): St,
    Extension(pin): Extension<Pin>,
    headers: HeaderMap,
    Path(id): Path<String>,
    body: axum::body::Bytes,
) -> Response {
    let v = pin.resolve(&headers);
    let body = match parse_body(&body) {
        Ok(b) => b,
        Err(e) => return error(StatusCode::BAD_REQUEST, "invalid_request_error", &e),
    };
    let mut data = state.write();
    let Some(c) = data.customer_mut(&id) else {
        return error(
            StatusCode::NOT_FOUND,
            "resource_missing",
            &format!("no customer `{id}`"),
        );
    };
    let mut updated = c.clone();
    if let Err(e) = versions::apply(&mut updated, &body, v) {
        return error(StatusCode::BAD_REQUEST, "invalid_request_error", &e);
    }
    updated.updated = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_secs() as i64)
        .unwrap_or(0);
    updated.version += 1;
    *c = updated;
    answer(v, StatusCode::OK, versions::customer(c, v), None)
}

pub(super) async fn delete_customer(
    AxState(state): St,
    Extension(pin): Extension<Pin>,
    headers: HeaderMap,
    Path(id): Path<String>,
) -> Response {
    let v = pin.resolve(&headers);
    if state.write().remove(&id) {
        answer(
            v,
            StatusCode::OK,
            json!({ "id": id, "object": "customer", "deleted": true }),
            None,
        )
    } else {
        error(
            StatusCode::NOT_FOUND,
            "resource_missing",
            &format!("no customer `{id}`"),
        )
    }
}
