//! A persona's routes: its edge (chaos, the vendor's quota headers, its credentials), and list,
//! read and create in the vendor's paths, shapes and pagination.

use std::collections::{BTreeMap, HashMap};

use axum::extract::{Path, Query, Request, State};
use axum::http::{HeaderMap, HeaderValue, StatusCode};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use axum::{Extension, Json, Router};
use base64::Engine;
use serde_json::{json, Value};

use super::shapes::{customer_id, parse_new, render, vendor_id};
use super::{Persona, Shared};
use crate::data::Customer;

type St = State<Shared>;

/// The persona's resource routes, behind its edge.
pub(crate) fn router(p: Persona, state: Shared) -> Router<Shared> {
    let r = Router::new();
    let r = match p {
        Persona::Stripe => r
            .route("/v1/customers", get(list))
            .route("/v1/customers/{id}", get(one).delete(remove)),
        Persona::Github => r
            .route("/repos/{owner}/{repo}/issues", get(list).post(create))
            .route("/repos/{owner}/{repo}/issues/{id}", get(one)),
        Persona::Hubspot => r
            .route("/crm/v3/objects/contacts", get(list).post(create))
            .route("/crm/v3/objects/contacts/{id}", get(one).delete(remove)),
        Persona::Shopify => r
            .route("/admin/api/2024-07/customers.json", get(list).post(create))
            .route("/admin/api/2024-07/customers/{id}", get(one))
            .route(
                "/admin/api/2024-07/graphql.json",
                post(super::graphql::graphql),
            ),
        Persona::Slack => r
            .route("/api/users.list", get(list))
            .route("/api/users.info", get(one))
            .route("/api/chat.postMessage", post(post_message)),
        Persona::Zendesk => r
            .route("/api/v2/users.json", get(list).post(create))
            .route("/api/v2/users/{id}", get(one)),
        Persona::Twilio => r
            .route(
                "/2010-04-01/Accounts/{account}/Messages.json",
                get(list).post(create),
            )
            .route("/2010-04-01/Accounts/{account}/Messages/{id}", get(one)),
        Persona::Xero => r
            .route("/api.xro/2.0/Contacts", get(list).post(create))
            .route("/api.xro/2.0/Contacts/{id}", get(one)),
        Persona::Salesforce => r
            .route("/services/data/v61.0/query", get(sf_query))
            .route("/services/data/v61.0/query/{locator}", get(sf_more))
            .route("/services/data/v61.0/sobjects/Contact", post(create))
            .route("/services/data/v61.0/sobjects/Contact/{id}", get(one)),
        Persona::GoogleDirectory => r
            .route("/admin/directory/v1/users", get(list))
            .route("/admin/directory/v1/users/{id}", get(one)),
        Persona::Intercom => r
            .route("/contacts", get(list).post(create))
            .route("/contacts/search", post(intercom_search))
            .route("/contacts/{id}", get(one)),
        Persona::Jira => r
            .route("/rest/api/3/search/jql", post(jira_search))
            .route("/rest/api/3/issue", post(create))
            .route("/rest/api/3/issue/{id}", get(one)),
        Persona::MicrosoftGraph => r
            .route("/v1.0/users", get(list))
            .route("/v1.0/users/{id}", get(one)),
    };
    r.route_layer(axum::middleware::from_fn_with_state(state, edge))
        .layer(Extension(p))
}

/// The vendor's error body.
pub(super) fn fail(p: Persona, status: StatusCode, message: &str) -> Response {
    let body = match p {
        Persona::Stripe => json!({ "error": { "type": stripe_type(status), "message": message } }),
        Persona::Github => {
            json!({ "message": message, "documentation_url": "https://docs.github.com/rest", "status": status.as_u16().to_string() })
        }
        Persona::Hubspot => {
            json!({ "status": "error", "message": message, "category": hubspot_category(status), "correlationId": "00000000-0000-0000-0000-000000000000" })
        }
        Persona::Shopify => json!({ "errors": message }),
        // Slack answers its errors with 200 and `ok: false`, except 429.
        Persona::Slack if status != StatusCode::TOO_MANY_REQUESTS => {
            return Json(json!({ "ok": false, "error": message })).into_response()
        }
        Persona::Slack => json!({ "ok": false, "error": "ratelimited" }),
        Persona::Zendesk => json!({ "error": zendesk_error(status), "description": message }),
        Persona::Jira => json!({ "errorMessages": [message], "errors": {} }),
        Persona::Twilio => {
            let code = match status.as_u16() {
                401 => 20003,
                404 => 20404,
                429 => 20429,
                _ => 21602,
            };
            json!({ "code": code, "message": message, "more_info": format!("https://www.twilio.com/docs/errors/{code}"), "status": status.as_u16() })
        }
        Persona::Xero => {
            json!({ "Type": null, "Title": status.canonical_reason().unwrap_or("Error"),
            "Status": status.as_u16(), "Detail": message, "Instance": "00000000-0000-0000-0000-000000000000" })
        }
        Persona::Salesforce => json!([{ "message": message, "errorCode": match status.as_u16() {
            401 => "INVALID_SESSION_ID", 403 => "INSUFFICIENT_ACCESS", 404 => "NOT_FOUND",
            429 | 503 => "REQUEST_LIMIT_EXCEEDED", _ => "MALFORMED_QUERY" } }]),
        Persona::GoogleDirectory => {
            let (reason, status_text) = google_reason(status);
            json!({ "error": { "code": status.as_u16(), "message": message,
                "errors": [{ "message": message, "domain": "global", "reason": reason }],
                "status": status_text } })
        }
        Persona::Intercom => {
            json!({ "type": "error.list", "request_id": "000000000000000000000000",
            "errors": [{ "code": intercom_code(status), "message": message }] })
        }
        Persona::MicrosoftGraph => {
            json!({ "error": { "code": graph_code(status), "message": message,
            "innerError": { "request-id": "00000000-0000-0000-0000-000000000000" } } })
        }
    };
    (status, Json(body)).into_response()
}

fn stripe_type(s: StatusCode) -> &'static str {
    match s.as_u16() {
        401 => "invalid_request_error",
        429 => "rate_limit_error",
        _ => "invalid_request_error",
    }
}

fn hubspot_category(s: StatusCode) -> &'static str {
    match s.as_u16() {
        401 => "INVALID_AUTHENTICATION",
        403 => "MISSING_SCOPES",
        404 => "OBJECT_NOT_FOUND",
        429 => "RATE_LIMITS",
        _ => "VALIDATION_ERROR",
    }
}

fn graph_code(s: StatusCode) -> &'static str {
    match s.as_u16() {
        401 => "InvalidAuthenticationToken",
        403 => "Authorization_RequestDenied",
        404 => "Request_ResourceNotFound",
        429 => "TooManyRequests",
        _ => "BadRequest",
    }
}

fn google_reason(s: StatusCode) -> (&'static str, &'static str) {
    match s.as_u16() {
        401 => ("authError", "UNAUTHENTICATED"),
        403 => ("forbidden", "PERMISSION_DENIED"),
        404 => ("notFound", "NOT_FOUND"),
        429 => ("rateLimitExceeded", "RESOURCE_EXHAUSTED"),
        _ => ("invalid", "INVALID_ARGUMENT"),
    }
}

fn intercom_code(s: StatusCode) -> &'static str {
    match s.as_u16() {
        401 => "unauthorized",
        404 => "not_found",
        429 => "rate_limit_exceeded",
        _ => "parameter_invalid",
    }
}

fn zendesk_error(s: StatusCode) -> &'static str {
    match s.as_u16() {
        401 => "Couldn't authenticate you",
        404 => "RecordNotFound",
        429 => "APIRateLimitExceeded",
        _ => "RecordInvalid",
    }
}

/// The vendor's edge: chaos, its quota (counted per credential), its credentials.
async fn edge(
    State(state): St,
    Extension(p): Extension<Persona>,
    req: Request,
    next: Next,
) -> Response {
    let (fate, latency) = state.chaos.next();
    if !latency.is_zero() {
        tokio::time::sleep(latency).await;
    }
    if let Some(res) = crate::http::chaos_instead(&fate).await {
        return res;
    }
    let write = req.method() != http::Method::GET;
    let key = match p.credential(&state, req.headers(), write) {
        Ok(k) => k,
        Err("missing scope") => {
            return fail(
                p,
                StatusCode::FORBIDDEN,
                "This app hasn't been granted all required scopes to make this call.",
            )
        }
        Err(why) => {
            let message = match p {
                Persona::Stripe => format!("Invalid API Key provided ({why})"),
                Persona::Github => "Bad credentials".into(),
                Persona::Slack => "invalid_auth".into(),
                Persona::Shopify => {
                    "[API] Invalid API key or access token (unrecognized login or wrong password)"
                        .into()
                }
                _ => format!("Authentication credentials not found ({why})"),
            };
            return fail(p, StatusCode::UNAUTHORIZED, &message);
        }
    };
    // Shopify meters GraphQL by cost, in its own buckets, not by calls.
    if req.uri().path().ends_with("/graphql.json") {
        return crate::http::chaos_after(&fate, next.run(req).await).await;
    }
    let decision = state.quotas.admit(&state.config.quotas, &key);
    let mut res = match decision.retry_after {
        Some(wait) => {
            let mut res = fail(p, StatusCode::TOO_MANY_REQUESTS, "rate limit reached");
            let secs = wait.as_secs() + u64::from(wait.subsec_nanos() > 0);
            let retry_after = match p {
                // Stripe and HubSpot send no Retry-After; GitHub says when in X-RateLimit-Reset.
                Persona::Stripe
                | Persona::Hubspot
                | Persona::Github
                | Persona::Intercom
                | Persona::GoogleDirectory
                | Persona::Salesforce
                | Persona::Twilio => None,
                // Shopify writes it with a decimal.
                Persona::Shopify => Some(format!("{secs}.0")),
                Persona::Slack
                | Persona::Zendesk
                | Persona::MicrosoftGraph
                | Persona::Jira
                | Persona::Xero => Some(secs.to_string()),
            };
            if let Some(v) = retry_after.and_then(|v| HeaderValue::from_str(&v).ok()) {
                res.headers_mut().insert("retry-after", v);
            }
            res
        }
        None => crate::http::chaos_after(&fate, next.run(req).await).await,
    };
    for (name, value) in decision.headers {
        if let (Ok(n), Ok(v)) = (
            http::HeaderName::try_from(name),
            HeaderValue::from_str(&value),
        ) {
            res.headers_mut().insert(n, v);
        }
    }
    res
}

/// `(size parameter, default, most)` of the vendor's pages.
fn sizes(p: Persona) -> (&'static str, usize, usize) {
    match p {
        Persona::Stripe => ("limit", 10, 100),
        Persona::Github => ("per_page", 30, 100),
        Persona::Hubspot => ("limit", 10, 100),
        Persona::Shopify => ("limit", 50, 250),
        Persona::Slack => ("limit", 100, 1000),
        Persona::Zendesk => ("page[size]", 100, 100),
        Persona::MicrosoftGraph => ("$top", 100, 999),
        Persona::Jira => ("maxResults", 50, 100),
        Persona::Intercom => ("per_page", 50, 150),
        Persona::GoogleDirectory => ("maxResults", 100, 500),
        Persona::Salesforce => ("batchSize", 2000, 2000),
        Persona::Xero => ("pageSize", 100, 1000),
        Persona::Twilio => ("PageSize", 50, 1000),
    }
}

fn opaque(n: usize) -> String {
    base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(format!("offset:{n}"))
}

fn unopaque(s: &str) -> Option<usize> {
    let bytes = base64::engine::general_purpose::URL_SAFE_NO_PAD
        .decode(s)
        .ok()?;
    String::from_utf8(bytes)
        .ok()?
        .strip_prefix("offset:")?
        .parse()
        .ok()
}

/// Where the page starts, from the vendor's position parameter.
fn start(
    p: Persona,
    q: &BTreeMap<String, String>,
    size: usize,
    all: &[Customer],
) -> Result<usize, String> {
    let bad = |name: &str| format!("invalid `{name}`");
    Ok(match p {
        Persona::Stripe => match q.get("starting_after") {
            None => 0,
            Some(after) => all
                .iter()
                .position(|c| &c.id == after)
                .map(|i| i + 1)
                .ok_or(format!("No such customer: '{after}'"))?,
        },
        Persona::Github => {
            let page: usize = q
                .get("page")
                .map_or(Ok(1), |v| v.parse())
                .map_err(|_| bad("page"))?;
            (page.max(1) - 1).saturating_mul(size)
        }
        Persona::Hubspot => q
            .get("after")
            .map_or(Ok(0), |v| v.parse())
            .map_err(|_| bad("after"))?,
        Persona::Shopify => q
            .get("page_info")
            .map_or(Some(0), |v| unopaque(v))
            .ok_or(bad("page_info"))?,
        Persona::Slack => match q.get("cursor").filter(|c| !c.is_empty()) {
            None => 0,
            Some(c) => unopaque(c).ok_or("invalid_cursor".to_owned())?,
        },
        Persona::Zendesk => q
            .get("page[after]")
            .map_or(Some(0), |v| unopaque(v))
            .ok_or(bad("page[after]"))?,
        Persona::MicrosoftGraph => q
            .get("$skiptoken")
            .map_or(Some(0), |v| unopaque(v))
            .ok_or(bad("$skiptoken"))?,
        Persona::Salesforce => 0,
        Persona::Twilio => q
            .get("PageToken")
            .map_or(Some(0), |v| v.strip_prefix("PA").and_then(unopaque))
            .ok_or(bad("PageToken"))?,
        Persona::Xero => {
            let page: usize = q
                .get("page")
                .map_or(Ok(1), |v| v.parse())
                .map_err(|_| bad("page"))?;
            (page.max(1) - 1).saturating_mul(size)
        }
        Persona::GoogleDirectory => {
            if q.get("customer").is_none() && q.get("domain").is_none() {
                return Err("Bad Request: a customer or a domain is required".into());
            }
            q.get("pageToken")
                .map_or(Some(0), |v| unopaque(v))
                .ok_or(bad("pageToken"))?
        }
        Persona::Intercom => q
            .get("starting_after")
            .map_or(Some(0), |v| unopaque(v))
            .ok_or(bad("starting_after"))?,
        Persona::Jira => q
            .get("nextPageToken")
            .map_or(Some(0), |v| unopaque(v))
            .ok_or(bad("nextPageToken"))?,
    })
}

/// `GET` a list: one page in the vendor's pagination.
async fn list(
    State(state): St,
    Extension(p): Extension<Persona>,
    Path(params): Path<HashMap<String, String>>,
    headers: HeaderMap,
    axum::extract::OriginalUri(uri): axum::extract::OriginalUri,
    Query(q): Query<BTreeMap<String, String>>,
) -> Response {
    if let Some(res) = wrong_repo(p, &params) {
        return res;
    }
    let (size_key, default, most) = sizes(p);
    let size = match q.get(size_key).map(|v| v.parse::<usize>()) {
        None => default,
        Some(Ok(n)) if (1..=most).contains(&n) => n,
        Some(_) => {
            return fail(
                p,
                StatusCode::BAD_REQUEST,
                &format!("`{size_key}` must be between 1 and {most}"),
            )
        }
    };
    let data = state.data.read().unwrap_or_else(|e| e.into_inner());
    let all = &data.customers;
    let from = match start(p, &q, size, all) {
        Ok(s) => s.min(all.len()),
        Err(e) => return fail(p, StatusCode::BAD_REQUEST, &e),
    };
    let end = (from + size).min(all.len());
    let records: Vec<Value> = all[from..end].iter().map(|c| render(p, c)).collect();
    let more = end < all.len();
    let host = headers
        .get("host")
        .and_then(|h| h.to_str().ok())
        .unwrap_or("127.0.0.1");
    let url = |extra: &str| format!("http://{host}{}?{size_key}={size}&{extra}", uri.path());
    let (body, link) = match p {
        Persona::Stripe => (
            json!({ "object": "list", "url": "/v1/customers", "has_more": more, "data": records }),
            None,
        ),
        Persona::Github => {
            let page = from / size + 1;
            (
                Value::Array(records),
                more.then(|| {
                    format!(
                        "<{}>; rel=\"next\", <{}>; rel=\"last\"",
                        url(&format!("page={}", page + 1)),
                        url(&format!("page={}", all.len().div_ceil(size)))
                    )
                }),
            )
        }
        Persona::Hubspot => {
            let mut body = json!({ "results": records });
            if more {
                body["paging"] = json!({ "next": { "after": end.to_string(), "link": url(&format!("after={end}")) } });
            }
            (body, None)
        }
        Persona::Shopify => (
            json!({ "customers": records }),
            more.then(|| {
                format!(
                    "<{}>; rel=\"next\"",
                    url(&format!("page_info={}", opaque(end)))
                )
            }),
        ),
        Persona::Slack => (
            json!({ "ok": true, "members": records, "cache_ts": 0,
                    "response_metadata": { "next_cursor": if more { opaque(end) } else { String::new() } } }),
            None,
        ),
        Persona::MicrosoftGraph => {
            let mut body = json!({ "@odata.context": "https://graph.microsoft.com/v1.0/$metadata#users", "value": records });
            if more {
                body["@odata.nextLink"] = json!(url(&format!("%24skiptoken={}", opaque(end))));
            }
            (body, None)
        }
        Persona::Jira => (jira_page(records, more.then(|| opaque(end))), None),
        Persona::Intercom => (intercom_page(records, from, size, all.len(), end), None),
        Persona::Salesforce => (sf_page(records, all.len(), end, size), None),
        Persona::Twilio => {
            let base = uri.path();
            let next = more.then(|| {
                format!(
                    "{base}?PageSize={size}&Page={}&PageToken=PA{}",
                    from / size + 1,
                    opaque(end)
                )
            });
            (
                json!({ "messages": records, "page": from / size, "page_size": size,
                        "start": from, "end": end.saturating_sub(1), "uri": format!("{base}?PageSize={size}"),
                        "first_page_uri": format!("{base}?PageSize={size}&Page=0"),
                        "next_page_uri": next, "previous_page_uri": Value::Null }),
                None,
            )
        }
        Persona::Xero => (
            json!({ "Id": "00000000-0000-0000-0000-000000000000", "Status": "OK", "ProviderName": "junction",
                    "pagination": { "page": from / size + 1, "pageSize": size,
                                    "pageCount": all.len().div_ceil(size), "itemCount": all.len() },
                    "Contacts": records }),
            None,
        ),
        Persona::GoogleDirectory => {
            let mut body =
                json!({ "kind": "admin#directory#users", "etag": "\"mock\"", "users": records });
            if more {
                body["nextPageToken"] = json!(opaque(end));
            }
            (body, None)
        }
        Persona::Zendesk => (
            json!({ "users": records,
                    "meta": { "has_more": more, "after_cursor": more.then(|| opaque(end)), "before_cursor": (from > 0).then(|| opaque(from)) },
                    "links": { "next": more.then(|| url(&format!("page%5Bafter%5D={}", opaque(end)))), "prev": Value::Null } }),
            None,
        ),
    };
    let mut res = Json(body).into_response();
    if let Some(v) = link.and_then(|l| HeaderValue::from_str(&l).ok()) {
        res.headers_mut().insert("link", v);
    }
    res
}

/// A batch of a Salesforce query: `done` and, while more follow, `nextRecordsUrl`.
fn sf_page(records: Vec<Value>, total: usize, end: usize, size: usize) -> Value {
    let mut body = json!({ "totalSize": total, "done": end >= total, "records": records });
    if end < total {
        body["nextRecordsUrl"] = json!(format!(
            "/services/data/v61.0/query/01gD0000002HU6KIAW-{end}-{size}"
        ));
    }
    body
}

/// The batch size a query asks for in `Sforce-Query-Options: batchSize=N`.
fn sf_batch(headers: &HeaderMap) -> usize {
    headers
        .get("sforce-query-options")
        .and_then(|v| v.to_str().ok())
        .and_then(|v| {
            v.split(',')
                .find_map(|o| o.trim().strip_prefix("batchSize="))
        })
        .and_then(|n| n.trim().parse::<usize>().ok())
        .filter(|n| (1..=2000).contains(n))
        .unwrap_or(2000)
}

/// `GET /query?q=SOQL`: the first batch of the contacts (the mock reads only `FROM Contact`).
async fn sf_query(
    State(state): St,
    Extension(p): Extension<Persona>,
    headers: HeaderMap,
    Query(q): Query<BTreeMap<String, String>>,
) -> Response {
    let soql = q.get("q").map(String::as_str).unwrap_or_default();
    if !soql.to_ascii_uppercase().contains("FROM CONTACT") {
        return fail(
            p,
            StatusCode::BAD_REQUEST,
            "unexpected token: the mock answers SELECT … FROM Contact",
        );
    }
    sf_batch_from(&state, p, 0, sf_batch(&headers))
}

/// `GET /query/{locator}`: the next batch of a query.
async fn sf_more(
    State(state): St,
    Extension(p): Extension<Persona>,
    Path(params): Path<HashMap<String, String>>,
) -> Response {
    let locator = params
        .get("locator")
        .map(String::as_str)
        .unwrap_or_default();
    let mut parts = locator.rsplitn(3, '-');
    let (Some(size), Some(from)) = (
        parts.next().and_then(|s| s.parse::<usize>().ok()),
        parts.next().and_then(|s| s.parse::<usize>().ok()),
    ) else {
        return fail(p, StatusCode::BAD_REQUEST, "invalid query locator");
    };
    sf_batch_from(&state, p, from, size.clamp(1, 2000))
}

fn sf_batch_from(state: &Shared, p: Persona, from: usize, size: usize) -> Response {
    let (records, end, total) = slice(state, p, from, size);
    Json(sf_page(records, total, end, size)).into_response()
}

/// The vendor's records of `size` customers from `from`: the records, where they end, how many
/// there are in all.
fn slice(state: &Shared, p: Persona, from: usize, size: usize) -> (Vec<Value>, usize, usize) {
    let data = state.data.read().unwrap_or_else(|e| e.into_inner());
    let all = &data.customers;
    let from = from.min(all.len());
    let end = (from + size).min(all.len());
    (
        all[from..end].iter().map(|c| render(p, c)).collect(),
        end,
        all.len(),
    )
}

/// Where a page asked for in a JSON body starts and how big it is: `size_key` (1 to the
/// vendor's most) and `token_key` (a position this persona gave) in `v`.
fn posted_position(
    p: Persona,
    v: &Value,
    size_key: &str,
    token_key: &str,
) -> Result<(usize, usize), String> {
    let (_, default, most) = sizes(p);
    let size = match v.get(size_key).map(Value::as_u64) {
        None => default,
        Some(Some(n)) if (1..=most as u64).contains(&n) => n as usize,
        Some(_) => {
            return Err(format!("{size_key} must be between 1 and {most}"));
        }
    };
    let from = match v.get(token_key).map(Value::as_str) {
        None | Some(None) if v.get(token_key).is_none_or(Value::is_null) => 0,
        Some(Some(t)) => unopaque(t).ok_or_else(|| format!("{token_key} is invalid or expired"))?,
        _ => return Err(format!("{token_key} must be a string")),
    };
    Ok((from, size))
}

/// A page of Intercom's contacts: `pages.next.starting_after` while more follow.
fn intercom_page(data: Vec<Value>, from: usize, size: usize, total: usize, end: usize) -> Value {
    let mut pages = json!({ "type": "pages", "page": from / size + 1, "per_page": size,
                            "total_pages": total.div_ceil(size) });
    if end < total {
        pages["next"] = json!({ "page": from / size + 2, "starting_after": opaque(end) });
    }
    json!({ "type": "list", "data": data, "total_count": total, "pages": pages })
}

/// Intercom's `POST /contacts/search`: `{query, pagination: {per_page, starting_after}}`.
/// The mock needs a query but does not evaluate it.
async fn intercom_search(
    State(state): St,
    Extension(p): Extension<Persona>,
    body: axum::body::Bytes,
) -> Response {
    let Ok(req) = serde_json::from_slice::<Value>(&body) else {
        return fail(p, StatusCode::BAD_REQUEST, "Invalid JSON");
    };
    if !req["query"].is_object() {
        return fail(p, StatusCode::BAD_REQUEST, "query is a required parameter");
    }
    let (from, size) = match posted_position(p, &req["pagination"], "per_page", "starting_after") {
        Ok(x) => x,
        Err(why) => return fail(p, StatusCode::BAD_REQUEST, &why),
    };
    let (records, end, total) = slice(&state, p, from, size);
    Json(intercom_page(records, from, size, total, end)).into_response()
}

/// A page of Jira's search: the issues, and the token of the next page (absent on the last).
fn jira_page(issues: Vec<Value>, next: Option<String>) -> Value {
    let mut body = json!({ "issues": issues, "isLast": next.is_none() });
    if let Some(t) = next {
        body["nextPageToken"] = json!(t);
    }
    body
}

/// Jira's `POST /rest/api/3/search/jql`: `{jql, maxResults, nextPageToken, fields}`. The JQL
/// must restrict the search (Jira refuses an unbounded one); the mock does not evaluate it.
async fn jira_search(
    State(state): St,
    Extension(p): Extension<Persona>,
    body: axum::body::Bytes,
) -> Response {
    let Ok(req) = serde_json::from_slice::<Value>(&body) else {
        return fail(
            p,
            StatusCode::BAD_REQUEST,
            "Invalid request payload. Refer to the REST API documentation and try again.",
        );
    };
    if req["jql"].as_str().is_none_or(|j| j.trim().is_empty()) {
        return fail(p, StatusCode::BAD_REQUEST, "Unbounded JQL queries are not allowed here. Please add a search restriction to your query.");
    }
    let (from, size) = match posted_position(p, &req, "maxResults", "nextPageToken") {
        Ok(x) => x,
        Err(why) => return fail(p, StatusCode::BAD_REQUEST, &why),
    };
    let (issues, end, total) = slice(&state, p, from, size);
    Json(jira_page(issues, (end < total).then(|| opaque(end)))).into_response()
}

/// GitHub's persona hosts one repository, `acme/widgets`.
fn wrong_repo(p: Persona, params: &HashMap<String, String>) -> Option<Response> {
    let wrong = p == Persona::Github
        && (params.get("owner").map(String::as_str) != Some("acme")
            || params.get("repo").map(String::as_str) != Some("widgets"));
    wrong.then(|| fail(p, StatusCode::NOT_FOUND, "Not Found"))
}

/// The vendor's wrapping of one record.
fn wrap(p: Persona, record: Value) -> Value {
    match p {
        Persona::Xero => json!({ "Status": "OK", "Contacts": [record] }),
        Persona::Shopify => json!({ "customer": record }),
        Persona::Slack => json!({ "ok": true, "user": record }),
        Persona::Zendesk => json!({ "user": record }),
        _ => record,
    }
}

/// `GET` one record (Slack: `users.info?user=`).
async fn one(
    State(state): St,
    Extension(p): Extension<Persona>,
    Path(params): Path<HashMap<String, String>>,
    Query(q): Query<BTreeMap<String, String>>,
) -> Response {
    if let Some(res) = wrong_repo(p, &params) {
        return res;
    }
    let vendor = params
        .get("id")
        .or_else(|| q.get("user"))
        .cloned()
        .unwrap_or_default();
    let data = state.data.read().unwrap_or_else(|e| e.into_inner());
    match customer_id(p, &vendor).and_then(|id| data.customer(&id)) {
        Some(c) => Json(wrap(p, render(p, c))).into_response(),
        None if p == Persona::Slack => fail(p, StatusCode::NOT_FOUND, "user_not_found"),
        None => fail(
            p,
            StatusCode::NOT_FOUND,
            &format!("No such object: '{vendor}'"),
        ),
    }
}

/// `POST` a new record in the vendor's request shape.
async fn create(
    State(state): St,
    Extension(p): Extension<Persona>,
    Path(params): Path<HashMap<String, String>>,
    body: axum::body::Bytes,
) -> Response {
    if let Some(res) = wrong_repo(p, &params) {
        return res;
    }
    // Twilio takes a form; the others JSON.
    let parsed = if p == Persona::Twilio {
        let fields: serde_json::Map<String, Value> = url::form_urlencoded::parse(&body)
            .map(|(k, v)| (k.into_owned(), Value::String(v.into_owned())))
            .collect();
        Ok(Value::Object(fields))
    } else {
        serde_json::from_slice::<Value>(&body).map_err(|e| format!("invalid JSON: {e}"))
    };
    let parsed = parsed.and_then(|b| parse_new(p, &b));
    let (name, email) = match parsed {
        Ok(x) => x,
        Err(e) => return fail(p, StatusCode::UNPROCESSABLE_ENTITY, &e),
    };
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_secs() as i64)
        .unwrap_or(0);
    let mut data = state.data.write().unwrap_or_else(|e| e.into_inner());
    let created = data.insert(Customer::fresh(name, email, now));
    if p == Persona::Salesforce {
        // Salesforce answers a create with the new record's id only.
        let id = vendor_id(p, created);
        return (
            StatusCode::CREATED,
            Json(json!({ "id": id, "success": true, "errors": [] })),
        )
            .into_response();
    }
    if p == Persona::Jira {
        // Jira answers a create with the new issue's id, key and URL only.
        let id = vendor_id(p, created);
        let key = super::shapes::jira_key(created);
        let url = format!(
            "https://acme.atlassian.net/rest/api/3/issue/{}",
            id.as_str().unwrap_or_default()
        );
        return (
            StatusCode::CREATED,
            Json(json!({ "id": id, "key": key, "self": url })),
        )
            .into_response();
    }
    (StatusCode::CREATED, Json(wrap(p, render(p, created)))).into_response()
}

/// `DELETE` one record.
async fn remove(
    State(state): St,
    Extension(p): Extension<Persona>,
    Path(params): Path<HashMap<String, String>>,
) -> Response {
    let vendor = params.get("id").cloned().unwrap_or_default();
    let removed = customer_id(p, &vendor).is_some_and(|id| {
        state
            .data
            .write()
            .unwrap_or_else(|e| e.into_inner())
            .remove(&id)
    });
    match (removed, p) {
        (false, _) => fail(
            p,
            StatusCode::NOT_FOUND,
            &format!("No such object: '{vendor}'"),
        ),
        (true, Persona::Hubspot) => StatusCode::NO_CONTENT.into_response(),
        (true, _) => {
            Json(json!({ "id": vendor, "object": "customer", "deleted": true })).into_response()
        }
    }
}

/// Slack's `chat.postMessage`.
async fn post_message(Extension(p): Extension<Persona>, body: axum::body::Bytes) -> Response {
    let Ok(msg) = serde_json::from_slice::<Value>(&body) else {
        return fail(p, StatusCode::BAD_REQUEST, "invalid_json");
    };
    let (Some(channel), Some(text)) = (msg["channel"].as_str(), msg["text"].as_str()) else {
        return fail(
            p,
            StatusCode::BAD_REQUEST,
            if msg["channel"].is_string() {
                "no_text"
            } else {
                "channel_not_found"
            },
        );
    };
    let ts = format!(
        "{}.000100",
        std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map(|d| d.as_secs())
            .unwrap_or(0)
    );
    Json(json!({ "ok": true, "channel": channel, "ts": ts,
                 "message": { "type": "message", "text": text, "user": "B00000001", "ts": ts } }))
    .into_response()
}
