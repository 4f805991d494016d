//! Pagination: where a walk stands ([`Position`], handed to callers as one opaque cursor
//! whatever the vendor's style), the request for a page, and what a page says about the next.
//! A vendor that breaks its own contract — a cursor or URL that repeats, a next URL on another
//! host or outside the base path, a page without its records — stops the walk with a clear
//! error; it never loops and never leaves the connector's base URL.

use std::collections::HashSet;

use base64::Engine as _;
use http::HeaderMap;
use junction_config::{Connector, PageStyle, Paginate};
use junction_core::{Code, Error, Origin};
use serde::{Deserialize, Serialize};
use serde_json::value::RawValue;
use serde_json::Value;

/// The next page to ask for.
#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(tag = "s", content = "v", rename_all = "snake_case")]
pub enum Position {
    Start,
    Cursor(String),
    Offset(u64),
    Page(u64),
    /// A URL the vendor gave (`Link` or a field), as the path and query under the connector.
    Url(String),
}

/// Most bytes of a cursor a caller may hand back.
const MAX_TOKEN: usize = 4096;

impl Position {
    /// The opaque cursor a caller hands back to continue.
    pub fn token(&self) -> String {
        let json = serde_json::to_vec(self).unwrap_or_default();
        base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(json)
    }

    /// Reads a caller's cursor; it must be of the operation's style.
    pub fn from_token(token: &str, style: PageStyle) -> Result<Self, Error> {
        let bad = || {
            Error::downstream(
                Code::BadRequest,
                "`cursor` is not a cursor of this operation",
            )
            .with_hint("pass the `next_cursor` of the previous answer as it came")
        };
        if token.len() > MAX_TOKEN {
            return Err(bad());
        }
        let bytes = base64::engine::general_purpose::URL_SAFE_NO_PAD
            .decode(token)
            .map_err(|_| bad())?;
        let pos: Position = serde_json::from_slice(&bytes).map_err(|_| bad())?;
        let fits = matches!(
            (&pos, style),
            (Position::Start, _)
                | (Position::Cursor(_), PageStyle::Cursor)
                | (Position::Offset(_), PageStyle::Offset)
                | (Position::Page(_), PageStyle::Page)
                | (Position::Url(_), PageStyle::Link | PageStyle::NextUrl)
        );
        fits.then_some(pos).ok_or_else(bad)
    }
}

/// The path and query of the page at `pos`, from the operation's own path and query.
pub fn request(
    p: &Paginate,
    path: &str,
    query: &[(String, String)],
    pos: &Position,
) -> (String, String) {
    if let Position::Url(url) = pos {
        return match url.split_once('?') {
            Some((path, query)) => (path.to_owned(), query.to_owned()),
            None => (url.clone(), String::new()),
        };
    }
    let mut q = url::form_urlencoded::Serializer::new(String::new());
    for (k, v) in query {
        q.append_pair(k, v);
    }
    if !p.size_param.is_empty() {
        q.append_pair(&p.size_param, &p.page_size.to_string());
    }
    match pos {
        Position::Cursor(c) => {
            q.append_pair(&p.param, c);
        }
        Position::Offset(n) => {
            q.append_pair(&p.param, &n.to_string());
        }
        Position::Page(n) => {
            q.append_pair(&p.param, &n.to_string());
        }
        Position::Start => match p.style {
            PageStyle::Offset => {
                q.append_pair(&p.param, "0");
            }
            PageStyle::Page => {
                q.append_pair(&p.param, "1");
            }
            _ => {}
        },
        Position::Url(_) => {}
    }
    (path.to_owned(), q.finish())
}

/// The JSON body of the page at `pos` of a paginated POST: the operation's own body with the
/// position and page size written at their paths (the start of a cursor walk sends none).
pub fn body_at(
    at: &junction_config::BodyPosition,
    p: &Paginate,
    body: &bytes::Bytes,
    pos: &Position,
) -> Result<bytes::Bytes, Error> {
    let mut v: Value = if body.is_empty() {
        Value::Object(Default::default())
    } else {
        serde_json::from_slice(body).map_err(|e| Error::internal(format!("request body: {e}")))?
    };
    let position = match (pos, p.style) {
        (Position::Cursor(c), _) => Some(Value::from(c.as_str())),
        (Position::Offset(n), _) | (Position::Page(n), _) => Some(Value::from(*n)),
        (Position::Start, PageStyle::Offset) => Some(Value::from(0)),
        (Position::Start, PageStyle::Page) => Some(Value::from(1)),
        _ => None,
    };
    set(&mut v, &at.size, Value::from(p.page_size))?;
    if let Some(position) = position {
        set(&mut v, &at.param, position)?;
    }
    serde_json::to_vec(&v)
        .map(bytes::Bytes::from)
        .map_err(|e| Error::internal(format!("request body: {e}")))
}

/// Writes `value` at a dotted path, making the objects on the way.
fn set(v: &mut Value, path: &[String], value: Value) -> Result<(), Error> {
    let Some((last, parents)) = path.split_last() else {
        return Ok(());
    };
    let mut slot = v;
    for k in parents {
        let Value::Object(m) = slot else {
            return Err(body_shape(path));
        };
        slot = m
            .entry(k.clone())
            .or_insert_with(|| Value::Object(Default::default()));
    }
    match slot {
        Value::Object(m) => {
            m.insert(last.clone(), value);
            Ok(())
        }
        _ => Err(body_shape(path)),
    }
}

fn body_shape(path: &[String]) -> Error {
    Error::new(
        Code::InvalidConfig,
        Origin::Internal,
        format!(
            "the request body has no object where the page position goes (`{}`)",
            path.join(".")
        ),
    )
    .with_hint("the request mapping must produce a JSON object around the position's path")
}

/// A page read: its records and the next position (`None`: the list is complete).
pub struct Page {
    pub records: Records,
    pub next: Option<Position>,
}

/// A page's records as the vendor wrote them: spans of the page's bytes, never parsed into a
/// tree (a record is parsed only by what needs it: the mapping, the model check).
#[derive(Clone)]
pub struct Records {
    bytes: bytes::Bytes,
    spans: Vec<(usize, usize)>,
}

impl Records {
    pub fn len(&self) -> usize {
        self.spans.len()
    }

    pub fn iter(&self) -> impl Iterator<Item = &[u8]> {
        self.spans.iter().map(|(a, b)| &self.bytes[*a..*b])
    }

    /// The records in runs of at most `per` (sharing the page's bytes).
    pub fn chunks(self, per: usize) -> Vec<Records> {
        self.spans
            .chunks(per.max(1))
            .map(|spans| Records {
                bytes: self.bytes.clone(),
                spans: spans.to_vec(),
            })
            .collect()
    }
}

/// A page's body, read once: its records, and the rest of the body (where the pagination fields
/// are) as JSON.
pub struct Body {
    records: Records,
    rest: Value,
}

impl Body {
    /// The body without its records (where the pagination and cost fields are).
    pub fn rest(&self) -> &Value {
        &self.rest
    }
}

/// Reads a page's body (on the mapping threads): one validating pass that finds each record's
/// bytes, without building a tree of the page; a page without its records array breaks the
/// pagination contract.
pub fn parse(p: &Paginate, name: &str, bytes: bytes::Bytes) -> Result<Body, Error> {
    let not_json = |e: serde_json::Error| {
        Error::new(
            Code::UpstreamInvalid,
            Origin::Upstream,
            format!("{name}: the vendor answered a page that is not JSON ({e})"),
        )
        .with_hint("check the operation's path and the connector's base_url")
    };
    let text = std::str::from_utf8(&bytes).map_err(|e| {
        Error::new(
            Code::UpstreamInvalid,
            Origin::Upstream,
            format!("{name}: the vendor answered a page that is not UTF-8 ({e})"),
        )
    })?;
    let missing = || broken(&format!("the page has no `{}`", p.records.join(".")));
    let whole: &RawValue = if text.trim().is_empty() {
        return Err(missing());
    } else {
        serde_json::from_str(text).map_err(not_json)?
    };
    let mut slot = whole;
    for k in &p.records {
        let fields: std::collections::HashMap<String, &RawValue> =
            serde_json::from_str(slot.get()).map_err(|_| missing())?;
        slot = fields.get(k.as_str()).copied().ok_or_else(missing)?;
    }
    let items: Vec<&RawValue> = serde_json::from_str(slot.get()).map_err(|_| {
        broken(&format!(
            "`{}` in the page is not an array",
            if p.records.is_empty() {
                ".".to_owned()
            } else {
                p.records.join(".")
            }
        ))
    })?;
    let base = text.as_ptr() as usize;
    let spans = items
        .iter()
        .map(|r| {
            let at = r.get().as_ptr() as usize - base;
            (at, at + r.get().len())
        })
        .collect();
    let rest = rest_of(whole, &p.records).map_err(not_json)?;
    Ok(Body {
        records: Records {
            spans,
            bytes: bytes.clone(),
        },
        rest,
    })
}

/// The body as JSON without the records at `path` (they are the bulk of a page).
fn rest_of(v: &RawValue, path: &[String]) -> Result<Value, serde_json::Error> {
    let Some((first, tail)) = path.split_first() else {
        return Ok(Value::Null);
    };
    let fields: std::collections::HashMap<String, &RawValue> = serde_json::from_str(v.get())?;
    let mut out = serde_json::Map::new();
    for (k, raw) in fields {
        let value = if k == *first {
            rest_of(raw, tail)?
        } else {
            serde_json::from_str(raw.get())?
        };
        out.insert(k, value);
    }
    Ok(Value::Object(out))
}

/// The field at a dotted path.
fn at<'a>(v: &'a Value, path: &[String]) -> Option<&'a Value> {
    path.iter().try_fold(v, |v, k| v.get(k))
}

/// Reads a page: its records, and the next position. `url` is the
/// page's own URL (relative next URLs resolve against it); `seen` counts the records of the
/// pages before this one.
pub fn read(
    p: &Paginate,
    cfg: &Connector,
    url: &url::Url,
    page: Body,
    headers: &HeaderMap,
    pos: &Position,
    seen: u64,
) -> Result<Page, Error> {
    let (records, body) = (page.records, page.rest);
    let n = records.len() as u64;
    let more = p
        .has_more
        .as_ref()
        .map(|h| at(&body, h).and_then(Value::as_bool));
    let total = at(&body, &p.total).and_then(Value::as_u64);
    let next = match p.style {
        PageStyle::Cursor => match (more, cursor(p, &records, &body)) {
            (Some(Some(false)), _) => None,
            (Some(Some(true)), None) => {
                return Err(broken("says more pages follow but gives no cursor"))
            }
            (_, c) => c.map(Position::Cursor),
        },
        PageStyle::Offset => {
            let offset = match pos {
                Position::Offset(o) => *o,
                _ => 0,
            };
            let done =
                n == 0 || more == Some(Some(false)) || total.is_some_and(|t| offset + n >= t);
            (!done).then_some(Position::Offset(offset + n))
        }
        PageStyle::Page => {
            let page = match pos {
                Position::Page(o) => *o,
                _ => 1,
            };
            let done = n == 0 || more == Some(Some(false)) || total.is_some_and(|t| seen + n >= t);
            (!done).then_some(Position::Page(page + 1))
        }
        PageStyle::Link => next_link(headers)
            .map(|l| confine(cfg, url, &l))
            .transpose()?,
        PageStyle::NextUrl => text_at(&body, &p.next)
            .map(|l| confine(cfg, url, &l))
            .transpose()?,
    };
    Ok(Page { records, next })
}

/// The next cursor: the field `next` of the page, or the field `last_record` of its last record.
fn cursor(p: &Paginate, records: &Records, body: &Value) -> Option<String> {
    match &p.last_record {
        None => text_at(body, &p.next),
        Some(field) => {
            let last = records.iter().last()?;
            text_at(&serde_json::from_slice::<Value>(last).ok()?, field)
        }
    }
}

/// A non-empty string (or number) at `path`.
fn text_at(v: &Value, path: &[String]) -> Option<String> {
    match at(v, path)? {
        Value::String(s) if !s.is_empty() => Some(s.clone()),
        Value::Number(n) => Some(n.to_string()),
        _ => None,
    }
}

/// The `rel="next"` target of the `Link` headers (RFC 8288).
fn next_link(headers: &HeaderMap) -> Option<String> {
    for value in headers.get_all(http::header::LINK) {
        let Ok(text) = value.to_str() else { continue };
        let mut rest = text;
        while let Some(open) = rest.find('<') {
            let Some(close) = rest[open..].find('>') else {
                break;
            };
            let target = &rest[open + 1..open + close];
            let after = &rest[open + close + 1..];
            let params_end = after.find('<').unwrap_or(after.len());
            let params = &after[..params_end];
            let is_next = params.split(';').any(|p| {
                let p = p.trim().trim_end_matches(',').trim();
                p.strip_prefix("rel=").is_some_and(|r| {
                    r.trim_matches('"')
                        .split_ascii_whitespace()
                        .any(|r| r.eq_ignore_ascii_case("next"))
                })
            });
            if is_next {
                return Some(target.to_owned());
            }
            rest = &after[params_end..];
        }
    }
    None
}

/// A next URL from the vendor, resolved against the page's URL: it must stay on the connector's
/// origin and under its base path.
fn confine(cfg: &Connector, page: &url::Url, link: &str) -> Result<Position, Error> {
    let url = page.join(link).map_err(|_| {
        broken(&format!(
            "the next page's URL `{}` is not a URL",
            excerpt(link)
        ))
    })?;
    let same_origin = url.scheme() == cfg.base_url.scheme()
        && url.host_str() == cfg.base_url.host_str()
        && url.port_or_known_default() == cfg.base_url.port_or_known_default();
    let path = url.path();
    let rel = path
        .strip_prefix(cfg.base_path.as_str())
        .filter(|r| cfg.base_path.is_empty() || r.is_empty() || r.starts_with('/'));
    match rel {
        Some(rel) if same_origin && url.fragment().is_none() => {
            Ok(Position::Url(match url.query() {
                Some(q) => format!("{rel}?{q}"),
                None => rel.to_owned(),
            }))
        }
        _ => Err(broken(&format!(
            "the next page's URL `{}` leaves the connector's base URL",
            excerpt(link)
        ))),
    }
}

fn excerpt(s: &str) -> String {
    s.chars().take(200).collect()
}

/// The vendor broke its pagination contract.
pub fn broken(why: &str) -> Error {
    Error::new(
        Code::UpstreamInvalid,
        Origin::Upstream,
        format!("pagination stopped: {why}"),
    )
    .with_hint("check the operation's `paginate:` against the vendor's documentation")
}

/// A walk's memory of where it has been: a position seen twice means the vendor loops.
#[derive(Default)]
pub struct Visited(HashSet<Position>);

impl Visited {
    pub fn first(&mut self, pos: &Position) -> Result<(), Error> {
        if self.0.insert(pos.clone()) {
            Ok(())
        } else {
            Err(broken(
                "the vendor sent a cursor or next URL it had already sent",
            ))
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn paginate(records: &[&str]) -> Paginate {
        Paginate {
            style: PageStyle::Cursor,
            records: records.iter().map(|s| s.to_string()).collect(),
            param: "starting_after".into(),
            next: vec!["meta".into(), "next".into()],
            last_record: None,
            has_more: None,
            total: Vec::new(),
            size_param: "limit".into(),
            page_size: 10,
            max_pages: 10,
            max_records: 100,
            body: None,
        }
    }

    fn page(records: &[&str], text: &str) -> Result<Body, Error> {
        parse(
            &paginate(records),
            "list",
            bytes::Bytes::from(text.to_owned()),
        )
    }

    #[test]
    fn a_paginated_post_carries_its_position_in_its_body() {
        let at = junction_config::BodyPosition {
            param: vec!["variables".into(), "after".into()],
            size: vec!["variables".into(), "first".into()],
        };
        let p = paginate(&["data"]);
        let body = bytes::Bytes::from_static(br#"{"query":"q","variables":{"query":null}}"#);
        let first: Value =
            serde_json::from_slice(&body_at(&at, &p, &body, &Position::Start).unwrap()).unwrap();
        assert_eq!(
            first,
            serde_json::json!({"query":"q","variables":{"query":null,"first":10}})
        );
        let next = Position::Cursor("abc".into());
        let second: Value =
            serde_json::from_slice(&body_at(&at, &p, &body, &next).unwrap()).unwrap();
        assert_eq!(
            second["variables"],
            serde_json::json!({"query":null,"first":10,"after":"abc"})
        );
        // No body of its own: the objects on the way are made.
        let made: Value =
            serde_json::from_slice(&body_at(&at, &p, &bytes::Bytes::new(), &next).unwrap())
                .unwrap();
        assert_eq!(
            made,
            serde_json::json!({"variables":{"first":10,"after":"abc"}})
        );
        // A request mapping that made something else where the position goes is refused.
        let wrong = bytes::Bytes::from_static(br#"{"variables":[1]}"#);
        let e = body_at(&at, &p, &wrong, &next).unwrap_err();
        assert!(e.to_string().contains("variables.first"), "{e}");
    }

    #[test]
    fn a_page_is_read_once_into_its_records_bytes_and_the_rest() {
        let text = r#"{"result":{"items":[{"id":1}, {"id":2.5,"tags":["a"]}],"n":2},"meta":{"next":"c_2"}}"#;
        let body = page(&["result", "items"], text).unwrap();
        let records: Vec<&[u8]> = body.records.iter().collect();
        assert_eq!(
            records,
            [&br#"{"id":1}"#[..], br#"{"id":2.5,"tags":["a"]}"#]
        );
        assert_eq!(
            body.rest["result"],
            serde_json::json!({"items": null, "n": 2})
        );
        assert_eq!(body.rest["meta"]["next"], "c_2");
        let chunks = body.records.chunks(1);
        assert_eq!(chunks.len(), 2);
        assert_eq!(
            chunks[1].iter().next(),
            Some(&br#"{"id":2.5,"tags":["a"]}"#[..])
        );
        // The page itself as the list.
        assert_eq!(page(&[], "[1,2,3]").unwrap().records.len(), 3);
        // Contract breaks and non-JSON, each with its message.
        let e = page(&["data"], r#"{"items":[]}"#).err().unwrap();
        assert!(
            e.message().contains("the page has no `data`"),
            "{}",
            e.message()
        );
        let e = page(&["data"], r#"{"data":{}}"#).err().unwrap();
        assert!(
            e.message().contains("`data` in the page is not an array"),
            "{}",
            e.message()
        );
        let e = page(&["data"], "  ").err().unwrap();
        assert!(e.message().contains("the page has no `data`"));
        let e = page(&["data"], "<html>").err().unwrap();
        assert_eq!(e.code(), Code::UpstreamInvalid);
        assert!(e.message().contains("not JSON"), "{}", e.message());
        let deep = format!("{{\"data\":[{}{}]}}", "[".repeat(5000), "]".repeat(5000));
        // Skipped over without recursion: a deep record cannot exhaust the stack here (what
        // parses it — the mapping, a model check — bounds its depth).
        assert_eq!(page(&["data"], &deep).unwrap().records.len(), 1);
    }

    fn link(v: &str) -> Option<String> {
        let mut h = HeaderMap::new();
        h.insert(http::header::LINK, v.parse().unwrap());
        next_link(&h)
    }

    #[test]
    fn the_next_link_is_found_among_others() {
        assert_eq!(
            link(r#"<https://a/x?page=1>; rel="prev", <https://a/x?page=3>; rel="next""#),
            Some("https://a/x?page=3".into())
        );
        assert_eq!(link(r#"</x?page=2>; rel=next"#), Some("/x?page=2".into()));
        assert_eq!(link(r#"</x?page=1>; rel="first""#), None);
    }

    #[test]
    fn a_cursor_round_trips_and_keeps_its_style() {
        let p = Position::Cursor("cus_9".into());
        assert_eq!(
            Position::from_token(&p.token(), PageStyle::Cursor).unwrap(),
            p
        );
        assert!(Position::from_token(&p.token(), PageStyle::Link).is_err());
        assert!(Position::from_token("not a cursor", PageStyle::Cursor).is_err());
    }
}
