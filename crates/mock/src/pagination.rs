//! Three pagination styles, chosen by the query parameters a client sends:
//! - cursor (default): `limit`, `starting_after=<id>` → `{ data, has_more, next_cursor }`;
//! - offset: `offset`, `limit` → `{ data, total, offset, limit }`;
//! - page: `page`, `per_page` → `{ data, page, per_page, total, next }` (`next`: the URL of the
//!   next page, or null) and `Link: <…?page=N>; rel="next"` while more remain.

use std::collections::BTreeMap;

use serde_json::{json, Value};

pub const DEFAULT_LIMIT: usize = 100;
pub const MAX_LIMIT: usize = 1000;

/// One page of `ids.len()` items: which indices to return, the body fields, and a `Link` header.
pub struct Page {
    pub range: std::ops::Range<usize>,
    pub fields: Value,
    pub link: Option<String>,
}

fn number(q: &BTreeMap<String, String>, key: &str) -> Result<Option<usize>, String> {
    match q.get(key) {
        None => Ok(None),
        Some(v) => v
            .parse()
            .map(Some)
            .map_err(|_| format!("`{key}` must be a whole number, got `{v}`")),
    }
}

fn limit(q: &BTreeMap<String, String>, key: &str) -> Result<usize, String> {
    let n = number(q, key)?.unwrap_or(DEFAULT_LIMIT);
    if n == 0 || n > MAX_LIMIT {
        return Err(format!("`{key}` must be between 1 and {MAX_LIMIT}"));
    }
    Ok(n)
}

/// Picks the page for a list of item ids (in order) and a request's query.
pub fn page(ids: &[&str], q: &BTreeMap<String, String>, path: &str) -> Result<Page, String> {
    let total = ids.len();
    if q.contains_key("page") || q.contains_key("per_page") {
        let per_page = limit(q, "per_page")?;
        let page = number(q, "page")?.unwrap_or(1).max(1);
        let start = ((page - 1) * per_page).min(total);
        let end = (start + per_page).min(total);
        let next = (end < total).then(|| {
            let mut next = q.clone();
            next.insert("page".into(), (page + 1).to_string());
            next.insert("per_page".into(), per_page.to_string());
            let query: Vec<String> = next.iter().map(|(k, v)| format!("{k}={v}")).collect();
            format!("{path}?{}", query.join("&"))
        });
        return Ok(Page {
            range: start..end,
            fields: json!({ "page": page, "per_page": per_page, "total": total, "next": next }),
            link: next.as_ref().map(|n| format!("<{n}>; rel=\"next\"")),
        });
    }
    if q.contains_key("offset") {
        let limit = limit(q, "limit")?;
        let offset = number(q, "offset")?.unwrap_or(0).min(total);
        let end = (offset + limit).min(total);
        return Ok(Page {
            range: offset..end,
            fields: json!({ "total": total, "offset": offset, "limit": limit }),
            link: None,
        });
    }
    let limit = limit(q, "limit")?;
    let start = match q.get("starting_after") {
        None => 0,
        Some(after) => ids
            .iter()
            .position(|id| id == after)
            .map(|i| i + 1)
            .ok_or(format!("no item `{after}` to start after"))?,
    };
    let end = (start + limit).min(total);
    let has_more = end < total;
    let next_cursor = if has_more {
        ids.get(end.wrapping_sub(1)).map(|s| s.to_string())
    } else {
        None
    };
    Ok(Page {
        range: start..end,
        fields: json!({ "has_more": has_more, "next_cursor": next_cursor }),
        link: None,
    })
}
