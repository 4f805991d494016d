//! Shopify's Admin GraphQL API as the persona speaks it: `POST …/graphql.json` with `{query,
//! variables}`, metered by **cost** instead of calls. Each shop has a bucket of points (1,000,
//! restored at 50 a second, as Shopify's standard plan; or the mock's first configured limit,
//! `100/100s` → 100 points restored at one a second). A query reserves its requested cost
//! (`2 + first` for a connection, 1 for one object); an answer refunds what it did not use
//! and says so in `extensions.cost` (requested, actual, the bucket's `throttleStatus`). A query
//! asking for more than is left is answered `200` with a `THROTTLED` error and nothing spent.
//!
//! What the mock understands of GraphQL is what the template sends: the root field
//! (`customers(first:, after:)` or `customer(id:)`), its variables, and the fields of each
//! customer the Admin API has; the query's own selection is not parsed.

use std::collections::HashMap;
use std::sync::Mutex;

use axum::extract::State;
use axum::http::HeaderMap;
use axum::response::{IntoResponse, Response};
use axum::Json;
use serde_json::{json, Value};
use tokio::time::Instant;

use super::shapes::{customer_id, vendor_id};
use super::{Persona, Shared};
use crate::data::Customer;

/// Shopify's bucket for the standard plan.
const MAXIMUM: f64 = 1000.0;
const RESTORE: f64 = 50.0;
/// Most objects a connection may ask for.
const MOST_FIRST: u64 = 250;
/// Most shops (credentials) with a bucket: a mock fed made-up tokens stays bounded.
const MOST_BUCKETS: usize = 10_000;

/// Each shop's points: (available, when last counted), and the buckets' size and restore rate.
pub struct Buckets {
    shops: Mutex<HashMap<String, (f64, Instant)>>,
    limits: (f64, f64),
}

impl Buckets {
    /// Shopify's buckets, or `limit` points restored over its window (a limit configured for
    /// the mock).
    pub fn new(limit: Option<&crate::quota::Limit>) -> Self {
        let limits = match limit {
            Some(l) => {
                let size = f64::from(l.limit);
                (size, size / l.window.as_secs_f64().max(0.001))
            }
            None => (MAXIMUM, RESTORE),
        };
        Self {
            shops: Mutex::default(),
            limits,
        }
    }

    /// Takes `cost` points if they are there; returns what is left either way.
    fn take(&self, shop: &str, cost: f64) -> (bool, f64) {
        let (maximum, restore) = self.limits;
        let mut g = self.shops.lock().unwrap_or_else(|p| p.into_inner());
        let now = Instant::now();
        if g.len() >= MOST_BUCKETS && !g.contains_key(shop) {
            g.clear();
        }
        let (left, at) = g.entry(shop.to_owned()).or_insert((maximum, now));
        *left = (*left + now.duration_since(*at).as_secs_f64() * restore).min(maximum);
        *at = now;
        if cost > *left {
            return (false, *left);
        }
        *left -= cost;
        (true, *left)
    }

    fn refund(&self, shop: &str, points: f64) -> f64 {
        let maximum = self.limits.0;
        let mut g = self.shops.lock().unwrap_or_else(|p| p.into_inner());
        match g.get_mut(shop) {
            Some((left, _)) => {
                *left = (*left + points).min(maximum);
                *left
            }
            None => maximum,
        }
    }
}

fn cost(requested: f64, actual: Option<f64>, left: f64, (maximum, restore): (f64, f64)) -> Value {
    json!({ "cost": {
        "requestedQueryCost": requested,
        "actualQueryCost": actual,
        "throttleStatus": { "maximumAvailable": maximum, "currentlyAvailable": left.floor(), "restoreRate": restore },
    }})
}

fn errors(message: &str, code: &str) -> Value {
    json!([{ "message": message, "extensions": { "code": code } }])
}

/// A customer as the Admin GraphQL API has it.
fn node(c: &Customer) -> Value {
    let id = vendor_id(Persona::Shopify, c);
    let (first, last) = c.name.split_once(' ').unwrap_or((&c.name, ""));
    let iso = |t: i64| {
        humantime::format_rfc3339_seconds(
            std::time::UNIX_EPOCH + std::time::Duration::from_secs(t.max(0) as u64),
        )
        .to_string()
    };
    json!({
        "id": format!("gid://shopify/Customer/{id}"),
        "email": c.email, "firstName": first, "lastName": last,
        "state": if c.status == "closed" { "DISABLED" } else { "ENABLED" },
        "createdAt": iso(c.created), "updatedAt": iso(c.updated),
    })
}

fn cursor(n: usize) -> String {
    use base64::Engine;
    base64::engine::general_purpose::STANDARD.encode(format!("{{\"last_id\":{n}}}"))
}

fn uncursor(s: &str) -> Option<usize> {
    use base64::Engine;
    let bytes = base64::engine::general_purpose::STANDARD.decode(s).ok()?;
    let v: Value = serde_json::from_slice(&bytes).ok()?;
    usize::try_from(v.get("last_id")?.as_u64()?).ok()
}

/// `POST /admin/api/{version}/graphql.json`.
pub(crate) async fn graphql(
    State(state): State<Shared>,
    headers: HeaderMap,
    body: axum::body::Bytes,
) -> Response {
    let shop = headers
        .get("x-shopify-access-token")
        .and_then(|v| v.to_str().ok())
        .unwrap_or_default()
        .to_owned();
    let Ok(req) = serde_json::from_slice::<Value>(&body) else {
        return Json(json!({ "errors": errors("Invalid JSON in request body", "BAD_REQUEST") }))
            .into_response();
    };
    let query = req["query"].as_str().unwrap_or_default();
    let vars = &req["variables"];
    let limits = state.points.limits;
    let list = query.contains("customers(");
    let requested = if list {
        let first = vars["first"].as_u64().unwrap_or(0);
        if !(1..=MOST_FIRST).contains(&first) {
            return Json(json!({ "errors": errors(
                &format!("`first` must be between 1 and {MOST_FIRST} (it is {first})"), "BAD_REQUEST") }))
            .into_response();
        }
        2.0 + first as f64
    } else if query.contains("customer(") {
        1.0
    } else {
        return Json(json!({ "errors": errors("Field doesn't exist on type 'QueryRoot'", "undefinedField") }))
            .into_response();
    };
    let (took, left) = state.points.take(&shop, requested);
    if !took {
        return Json(json!({
            "errors": errors("Throttled", "THROTTLED"),
            "extensions": cost(requested, None, left, limits),
        }))
        .into_response();
    }
    let data = state.data.read().unwrap_or_else(|e| e.into_inner());
    let (answer, actual) = if list {
        let first = vars["first"].as_u64().unwrap_or(1) as usize;
        let from = match vars["after"].as_str() {
            None => 0,
            Some(c) => match uncursor(c) {
                Some(n) => n,
                None => {
                    drop(data);
                    let left = state.points.refund(&shop, requested);
                    return Json(json!({ "errors": errors("Invalid cursor for current pagination sort.", "BAD_REQUEST"),
                        "extensions": cost(requested, Some(0.0), left, limits) }))
                    .into_response();
                }
            },
        };
        let all = &data.customers;
        let from = from.min(all.len());
        let end = (from + first).min(all.len());
        let nodes: Vec<Value> = all[from..end].iter().map(node).collect();
        let n = nodes.len();
        (
            json!({ "customers": { "nodes": nodes, "pageInfo": {
                "hasNextPage": end < all.len(),
                "endCursor": (n > 0).then(|| cursor(end)),
            } } }),
            2.0 + n as f64,
        )
    } else {
        let gid = vars["id"].as_str().unwrap_or_default();
        let found = gid
            .strip_prefix("gid://shopify/Customer/")
            .and_then(|v| customer_id(Persona::Shopify, v))
            .and_then(|id| data.customers.iter().find(|c| c.id == id));
        (json!({ "customer": found.map(node) }), 1.0)
    };
    drop(data);
    let left = state.points.refund(&shop, requested - actual);
    Json(json!({ "data": answer, "extensions": cost(requested, Some(actual), left, limits) }))
        .into_response()
}
