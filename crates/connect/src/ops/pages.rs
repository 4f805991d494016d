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

/// A page read: its records and the next position (`None`: the list is complete).
pub struct Page {
    pub records: Vec<Value>,
    pub next: Option<Position>,
}

/// The field at a dotted path.
fn at<'a>(v: &'a Value, path: &[String]) -> Option<&'a Value> {
    path.iter().try_fold(v, |v, k| v.get(k))
}

/// Reads a page: takes its records out of `body` and finds the next position. `url` is the
/// page's own URL (relative next URLs resolve against it); `seen` counts the records of the
/// pages before this one.
pub fn read(
    p: &Paginate,
    cfg: &Connector,
    url: &url::Url,
    mut body: Value,
    headers: &HeaderMap,
    pos: &Position,
    seen: u64,
) -> Result<Page, Error> {
    let records = take_records(p, &mut body)?;
    let n = records.len() as u64;
    let more = p
        .has_more
        .as_ref()
        .map(|h| at(&body, h).and_then(Value::as_bool));
    let total = at(&body, &p.total).and_then(Value::as_u64);
    let next = match p.style {
        PageStyle::Cursor => match (more, text_at(&body, &p.next)) {
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

fn take_records(p: &Paginate, body: &mut Value) -> Result<Vec<Value>, Error> {
    let mut slot = body;
    for k in &p.records {
        slot = slot
            .get_mut(k)
            .ok_or_else(|| broken(&format!("the page has no `{}`", p.records.join("."))))?;
    }
    match slot.take() {
        Value::Array(a) => Ok(a),
        _ => Err(broken(&format!(
            "`{}` in the page is not an array",
            if p.records.is_empty() {
                ".".to_owned()
            } else {
                p.records.join(".")
            }
        ))),
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
