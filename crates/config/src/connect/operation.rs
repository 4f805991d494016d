//! A connector's named operations, as written, checked and resolved in one place: the method and
//! path template, which fields of the caller's JSON become path, query and header parameters,
//! the request and response messages (mapping and model), and how the vendor paginates.

use std::collections::BTreeMap;

use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

use crate::connect::raw::ConnectorKind;
use crate::error::ConfigError;
use crate::yaml::{push, Document};

/// A named call.
#[derive(Debug, Deserialize, Serialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct RawOperation {
    #[serde(default = "default_op_method")]
    pub method: String,
    /// Path under the base URL, with `{param}` placeholders filled from the caller's fields of
    /// the same name (REST connectors).
    #[serde(default)]
    pub path: Option<String>,
    /// Fields of the caller's JSON sent as query parameters (when present), by name.
    #[serde(default)]
    pub query: Vec<String>,
    /// Query parameters sent with every call, whatever the caller sends: `{ customer:
    /// my_customer }`, a SOQL query `{ q: "SELECT Id FROM Contact" }`.
    #[serde(default)]
    pub query_values: BTreeMap<String, String>,
    /// Fields of the caller's JSON sent as headers: `field: Header-Name`.
    #[serde(default)]
    pub headers: BTreeMap<String, String>,
    /// The SOAPAction of the operation (SOAP connectors).
    #[serde(default)]
    pub action: Option<String>,
    /// One line on what the operation does, for the listing and the generated OpenAPI document.
    #[serde(default)]
    pub summary: Option<String>,
    /// How the caller's JSON becomes the request: a mapping and a model it must satisfy.
    #[serde(default)]
    pub request: RawMessage,
    /// How the answer becomes the caller's JSON: a mapping and a model it must satisfy (per
    /// record when the operation is paginated).
    #[serde(default)]
    pub response: RawMessage,
    /// How the vendor splits a list into pages.
    #[serde(default)]
    pub paginate: Option<RawPaginate>,
    /// Always answer callers `202 Accepted` with a status URL and run the call as a durable
    /// job (for a slow legacy system); any call can ask for it with `Prefer: respond-async`.
    #[serde(default)]
    pub respond_async: bool,
    /// The vendor documents this call as safe although its method is not GET: it only reads (a
    /// GraphQL query, a search posted as JSON). It is then retried like a GET, callable with
    /// `GET /ops/…`, may list a unified resource, and is paginated with its position in the
    /// JSON body (`paginate.param: variables.after`).
    #[serde(default)]
    pub safe: bool,
    /// Points the call costs at a vendor that meters by cost (the connector's `quotas` then
    /// count points): an endpoint's price, or the most a query may cost (Shopify's requested
    /// query cost). It is reserved before the call; what the vendor says the call really cost
    /// (the connector's `cost.actual`) is counted once it answers. Default: `cost.default`.
    #[serde(default)]
    pub cost: Option<u32>,
    /// How the request body is written: `json` (the default) or `form`
    /// (`application/x-www-form-urlencoded`, as Twilio takes it: each field of the mapped
    /// object a form field, a list a repeated field).
    #[serde(default)]
    pub body: BodyEncoding,
}

/// How an operation's request body is written.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Deserialize, Serialize, JsonSchema)]
#[serde(rename_all = "snake_case")]
pub enum BodyEncoding {
    #[default]
    Json,
    Form,
}

fn default_op_method() -> String {
    "GET".into()
}

/// A message of an operation: a mapping (under `mappings:`) and the model (`customer@2`) it is
/// checked against.
#[derive(Debug, Default, Deserialize, Serialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct RawMessage {
    #[serde(default)]
    pub map: Option<String>,
    #[serde(default)]
    pub model: Option<String>,
}

/// The pagination styles vendors use.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize, Serialize, JsonSchema)]
#[serde(rename_all = "snake_case")]
pub enum PageStyle {
    /// The answer names the cursor of the next page (`next_cursor`), sent back as a parameter
    /// (`starting_after`).
    Cursor,
    /// `offset` and `limit` parameters; the answer may carry the `total`.
    Offset,
    /// Page numbers (`page`, `per_page`), from 1.
    Page,
    /// `Link: <…>; rel="next"` (RFC 8288).
    Link,
    /// The answer carries the URL of the next page in a field.
    NextUrl,
}

impl PageStyle {
    pub fn as_str(self) -> &'static str {
        match self {
            PageStyle::Cursor => "cursor",
            PageStyle::Offset => "offset",
            PageStyle::Page => "page",
            PageStyle::Link => "link",
            PageStyle::NextUrl => "next_url",
        }
    }
}

/// How an operation's answers are paged.
#[derive(Debug, Deserialize, Serialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct RawPaginate {
    pub style: PageStyle,
    /// Where the records are in a page: a dotted path (`data`, `result.items`); `.` when the
    /// page is the array itself. Default `data`.
    #[serde(default)]
    pub records: Option<String>,
    /// The query parameter that carries the position: the cursor (default `starting_after`),
    /// the offset (`offset`) or the page number (`page`). For a `safe` POST, a dotted path in
    /// the JSON body (`variables.after`).
    #[serde(default)]
    pub param: Option<String>,
    /// The field of the answer that holds the next cursor (default `next_cursor`) or the next
    /// page's URL (default `next`).
    #[serde(default)]
    pub next: Option<String>,
    /// Cursor style: the field of the page's last record that is the next cursor (Stripe's
    /// `starting_after` takes the last `id`), instead of `next`.
    #[serde(default)]
    pub last_record: Option<String>,
    /// A field that says whether more pages follow (`has_more`); without it, a missing or empty
    /// cursor ends the list.
    #[serde(default)]
    pub has_more: Option<String>,
    /// The field holding the number of records in all (offset style; default `total`).
    #[serde(default)]
    pub total: Option<String>,
    /// The query parameter of the page size (default `limit`; `per_page` for `page`); for a
    /// `safe` POST, a dotted path in the JSON body (`variables.first`).
    #[serde(default)]
    pub size_param: Option<String>,
    /// Records asked for per page (default 100).
    #[serde(default = "default_page_size")]
    pub page_size: u32,
    /// Most pages one walk reads (default 1000): a vendor that never stops cannot hold a caller.
    #[serde(default = "default_max_pages")]
    pub max_pages: u32,
    /// Most records one walk returns (default 100000).
    #[serde(default = "default_max_records")]
    pub max_records: u64,
}

fn default_page_size() -> u32 {
    100
}
fn default_max_pages() -> u32 {
    1000
}
fn default_max_records() -> u64 {
    100_000
}

/// A resolved operation.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Operation {
    pub method: http::Method,
    /// REST: the path template (`/customers/{id}`).
    pub path: String,
    /// The `{placeholders}` of the path, in order.
    pub path_params: Vec<String>,
    pub query: Vec<String>,
    /// Query parameters every call sends (`query_values`).
    pub query_values: Vec<(String, String)>,
    /// Caller field → header.
    pub headers: Vec<(String, http::HeaderName)>,
    /// SOAP: the SOAPAction.
    pub action: String,
    pub summary: Option<String>,
    /// The mapping (a name under `mappings:`) and model of the request and of the response.
    pub request: Message,
    pub response: Message,
    pub paginate: Option<Paginate>,
    /// Callers are answered `202` at once and read the answer at a status URL.
    pub respond_async: bool,
    /// Documented as safe though its method is not GET (`safe: true`).
    pub safe: bool,
    /// Points reserved for a call at a vendor that meters by cost (`None`: the connector's
    /// default).
    pub cost: Option<u32>,
    /// JSON or a form.
    pub body: BodyEncoding,
}

impl Operation {
    /// Whether the method carries a body.
    pub fn sends_body(&self) -> bool {
        !matches!(
            self.method,
            http::Method::GET | http::Method::HEAD | http::Method::DELETE
        )
    }

    /// Whether the call only reads: a GET or HEAD, or documented as `safe`.
    pub fn reads(&self) -> bool {
        self.safe || matches!(self.method, http::Method::GET | http::Method::HEAD)
    }

    /// Whether sending the call twice cannot make the vendor act twice (by its method alone).
    pub fn repeatable(&self) -> bool {
        self.reads() || matches!(self.method, http::Method::PUT | http::Method::DELETE)
    }

    /// Every field name the operation takes as a parameter.
    pub fn params(&self) -> impl Iterator<Item = &str> {
        self.path_params
            .iter()
            .chain(self.query.iter())
            .chain(self.headers.iter().map(|(f, _)| f))
            .map(String::as_str)
    }
}

/// An operation's message: mapping and model names, checked to exist at load.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Message {
    pub map: Option<String>,
    pub model: Option<junction_transform::ModelRef>,
}

/// A resolved pagination.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Paginate {
    pub style: PageStyle,
    /// Path to the records; empty for the page itself.
    pub records: Vec<String>,
    /// The position's query parameter (cursor, offset, page styles).
    pub param: String,
    /// Path to the next cursor or URL (cursor, next_url styles).
    pub next: Vec<String>,
    /// The field of the last record that is the next cursor (cursor style), instead of `next`.
    pub last_record: Option<Vec<String>>,
    pub has_more: Option<Vec<String>>,
    pub total: Vec<String>,
    /// The page size's query parameter (empty for link and next_url, whose URLs carry it).
    pub size_param: String,
    pub page_size: u32,
    pub max_pages: u32,
    pub max_records: u64,
    /// The position and page size go in the JSON body (a `safe` POST), at these paths.
    pub body: Option<BodyPosition>,
}

/// Where a paginated POST puts its position and page size in its JSON body.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct BodyPosition {
    pub param: Vec<String>,
    pub size: Vec<String>,
}

/// Most points one call may be said to cost.
const COST_CEILING: u32 = 1_000_000;

/// Most pages or records a configuration may allow one walk.
const PAGES_CEILING: u32 = 100_000;
const RECORDS_CEILING: u64 = 10_000_000;

pub(crate) fn operation(
    doc: &Document,
    optr: &str,
    o: RawOperation,
    kind: ConnectorKind,
    errs: &mut Vec<ConfigError>,
) -> Operation {
    let method = method(doc, optr, &o.method, errs);
    let path = operation_path(doc, optr, o.path.as_deref(), kind, errs);
    if o.action.is_some() && kind == ConnectorKind::Rest {
        errs.push(doc.error_at(
            &push(optr, "action"),
            "`action` is for SOAP operations",
            Some("set `kind: soap` on the connector".into()),
        ));
    }
    let path_params = placeholders(doc, optr, &path, errs);
    let headers = o
        .headers
        .iter()
        .filter_map(|(field, name)| {
            http::HeaderName::from_bytes(name.as_bytes())
                .map(|h| (field.clone(), h))
                .map_err(|_| {
                    errs.push(doc.error_at(
                        &push(&push(optr, "headers"), field),
                        format!("`{name}` is not a header name"),
                        Some("e.g. Idempotency-Key".into()),
                    ))
                })
                .ok()
        })
        .collect();
    if o.safe && matches!(method, http::Method::GET | http::Method::HEAD) {
        errs.push(doc.error_at(
            &push(optr, "safe"),
            format!("a {method} is safe already"),
            Some("`safe: true` is for a POST that only reads (a GraphQL query, a search)".into()),
        ));
    }
    if let Some(c) = o.cost {
        if c == 0 || c > COST_CEILING {
            errs.push(doc.error_at(
                &push(optr, "cost"),
                format!("`cost` must be between 1 and {COST_CEILING}"),
                Some("the points the vendor charges for this call, or the most it may".into()),
            ));
        }
    }
    let paginate = o
        .paginate
        .map(|p| paginate(doc, &push(optr, "paginate"), p, &method, o.safe, errs));
    let op = Operation {
        method,
        path,
        path_params,
        query: o.query,
        query_values: query_values(doc, optr, o.query_values, errs),
        headers,
        action: o.action.unwrap_or_default(),
        summary: o.summary,
        request: message(doc, &push(optr, "request"), &o.request, errs),
        response: message(doc, &push(optr, "response"), &o.response, errs),
        paginate,
        respond_async: o.respond_async,
        safe: o.safe,
        cost: o.cost,
        body: o.body,
    };
    duplicate_params(doc, optr, &op, errs);
    op
}

/// Fixed query parameters: plain names, values of at most 2 KiB.
fn query_values(
    doc: &Document,
    optr: &str,
    raw: BTreeMap<String, String>,
    errs: &mut Vec<ConfigError>,
) -> Vec<(String, String)> {
    for (k, v) in &raw {
        let plain = !k.is_empty()
            && k.len() <= 64
            && k.bytes()
                .all(|b| b.is_ascii_alphanumeric() || b"_-[].$".contains(&b));
        if !plain || v.len() > 2048 {
            errs.push(doc.error_at(
                &push(&push(optr, "query_values"), k),
                format!("`{k}` is not a query parameter name with a value of at most 2 KiB"),
                None,
            ));
        }
    }
    raw.into_iter().collect()
}

fn method(doc: &Document, optr: &str, text: &str, errs: &mut Vec<ConfigError>) -> http::Method {
    let upper = text.to_ascii_uppercase();
    match upper.as_str() {
        "GET" | "HEAD" | "POST" | "PUT" | "PATCH" | "DELETE" => {
            http::Method::from_bytes(upper.as_bytes()).unwrap_or(http::Method::GET)
        }
        _ => {
            errs.push(doc.error_at(
                &push(optr, "method"),
                format!("unknown method `{text}`"),
                Some("one of: GET, HEAD, POST, PUT, PATCH, DELETE".into()),
            ));
            http::Method::GET
        }
    }
}

fn operation_path(
    doc: &Document,
    optr: &str,
    path: Option<&str>,
    kind: ConnectorKind,
    errs: &mut Vec<ConfigError>,
) -> String {
    match (path, kind) {
        (Some(p), _) => {
            if let Err(why) = super::resolve::clean_path(p) {
                errs.push(doc.error_at(
                    &push(optr, "path"),
                    why,
                    Some("e.g. /customers/{id}".into()),
                ));
            }
            p.to_owned()
        }
        (None, ConnectorKind::Soap) => String::new(),
        (None, ConnectorKind::Rest) => {
            errs.push(doc.error_at(
                optr,
                "a REST operation needs a `path`",
                Some("e.g. path: /customers/{id}".into()),
            ));
            String::new()
        }
    }
}

/// The `{name}` placeholders of a path template; each must be a whole segment.
fn placeholders(
    doc: &Document,
    optr: &str,
    path: &str,
    errs: &mut Vec<ConfigError>,
) -> Vec<String> {
    let mut names = Vec::new();
    for segment in path.split('/') {
        match placeholder(segment) {
            Some((name, _)) if field_name(name) => names.push(name.to_owned()),
            _ if segment.contains('{') || segment.contains('}') => {
                errs.push(doc.error_at(
                    &push(optr, "path"),
                    format!("`{segment}`: a placeholder is a whole segment named with letters, digits and `_` (with an extension after it at most, as in `{{id}}.json`)"),
                    Some("e.g. /customers/{id}".into()),
                ));
            }
            _ => {}
        }
    }
    names
}

/// A path segment that is a placeholder: its name and the extension after it (`{id}.json` →
/// `("id", ".json")`; `{id}` → `("id", "")`).
pub fn placeholder(segment: &str) -> Option<(&str, &str)> {
    let (name, rest) = segment.strip_prefix('{')?.split_once('}')?;
    let extension = rest.is_empty()
        || rest
            .strip_prefix('.')
            .is_some_and(|e| !e.is_empty() && e.bytes().all(|b| b.is_ascii_alphanumeric()));
    extension.then_some((name, rest))
}

fn field_name(name: &str) -> bool {
    !name.is_empty()
        && name.len() <= 64
        && name
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'_' || b == b'-')
}

/// `base` as an API version has it: its path, request or response replaced by the patch's.
pub(crate) fn patched(
    doc: &Document,
    optr: &str,
    base: &Operation,
    patch: &super::versions::RawOperationPatch,
    errs: &mut Vec<ConfigError>,
) -> Operation {
    let mut op = base.clone();
    if let Some(p) = &patch.path {
        op.path = operation_path(doc, optr, Some(p), ConnectorKind::Rest, errs);
        op.path_params = placeholders(doc, optr, &op.path, errs);
        duplicate_params(doc, optr, &op, errs);
    }
    if let Some(m) = &patch.request {
        op.request = message(doc, &push(optr, "request"), m, errs);
    }
    if let Some(m) = &patch.response {
        op.response = message(doc, &push(optr, "response"), m, errs);
    }
    op
}

/// A field may be one parameter only; names must be plain.
/// Query names `/ops` reads as its own options (`?all=true`, `?cursor=…`): never parameters.
const CONTROLS: [&str; 5] = ["all", "cursor", "max_pages", "max_records", "passthrough"];

fn duplicate_params(doc: &Document, optr: &str, op: &Operation, errs: &mut Vec<ConfigError>) {
    let mut seen = std::collections::BTreeSet::new();
    for name in op.params() {
        if !field_name(name) {
            errs.push(doc.error_at(
                optr,
                format!("`{name}` is not a parameter name"),
                Some("use letters, digits, `_` and `-`".into()),
            ));
        } else if CONTROLS.contains(&name) {
            errs.push(doc.error_at(
                optr,
                format!("`{name}` is one of Junction's own options of a call"),
                Some(format!(
                    "{} are read by Junction, not sent to the vendor: name the field otherwise and map it in a request mapping",
                    CONTROLS.join(", ")
                )),
            ));
        } else if !seen.insert(name) {
            errs.push(doc.error_at(
                optr,
                format!("`{name}` is taken as more than one parameter"),
                Some("a field goes to the path, the query or a header, not two of them".into()),
            ));
        }
    }
}

/// An operation's request or response: its mapping and the model it must satisfy.
fn message(doc: &Document, at: &str, m: &RawMessage, errs: &mut Vec<ConfigError>) -> Message {
    let model = m.model.as_deref().and_then(|t| {
        junction_transform::ModelRef::parse(t)
            .map_err(|e| errs.push(doc.error_at(&push(at, "model"), e, None)))
            .ok()
    });
    Message {
        map: m.map.clone(),
        model,
    }
}

fn paginate(
    doc: &Document,
    ptr: &str,
    p: RawPaginate,
    method: &http::Method,
    safe: bool,
    errs: &mut Vec<ConfigError>,
) -> Paginate {
    let in_body = method != http::Method::GET;
    if in_body && !safe {
        errs.push(doc.error_at(
            ptr,
            format!("only operations that read are paginated (this one is a {method})"),
            Some("a GET; or a POST the vendor documents as only reading (a GraphQL query, a search), marked `safe: true`".into()),
        ));
    }
    if in_body && matches!(p.style, PageStyle::Link | PageStyle::NextUrl) {
        errs.push(doc.error_at(
            &push(ptr, "style"),
            format!(
                "a {method} carries its position in its body: the `{}` style follows URLs",
                p.style.as_str()
            ),
            Some("use `cursor`, `offset` or `page` with `param` a path in the body".into()),
        ));
    }
    let field = |key: &str, text: Option<&str>, default: &str, errs: &mut Vec<ConfigError>| {
        let text = text.unwrap_or(default);
        dotted(text).unwrap_or_else(|| {
            errs.push(doc.error_at(
                &push(ptr, key),
                format!("`{text}` is not a field path"),
                Some("a dotted path such as `data` or `meta.next_cursor`".into()),
            ));
            Vec::new()
        })
    };
    let records = field("records", p.records.as_deref(), "data", errs);
    let next_default = if p.style == PageStyle::NextUrl {
        "next"
    } else {
        "next_cursor"
    };
    let next = field("next", p.next.as_deref(), next_default, errs);
    let has_more = p
        .has_more
        .as_deref()
        .map(|h| field("has_more", Some(h), "", errs));
    let last_record = p
        .last_record
        .as_deref()
        .map(|f| field("last_record", Some(f), "", errs));
    if last_record.is_some() && (p.style != PageStyle::Cursor || p.next.is_some()) {
        errs.push(doc.error_at(
            &push(ptr, "last_record"),
            "`last_record` names the cursor for the cursor style, instead of `next`",
            Some("keep one of `next` and `last_record`, with `style: cursor`".into()),
        ));
    }
    let total = field("total", p.total.as_deref(), "total", errs);
    let param = p.param.unwrap_or_else(|| {
        match p.style {
            PageStyle::Cursor => "starting_after",
            PageStyle::Offset => "offset",
            PageStyle::Page => "page",
            PageStyle::Link | PageStyle::NextUrl => "",
        }
        .into()
    });
    let size_param = p.size_param.unwrap_or_else(|| {
        match p.style {
            PageStyle::Page => "per_page",
            _ => "limit",
        }
        .into()
    });
    let body = in_body.then(|| BodyPosition {
        param: field("param", Some(param.as_str()), "", errs),
        size: field("size_param", Some(size_param.as_str()), "", errs),
    });
    for (key, value) in [("param", &param), ("size_param", &size_param)] {
        if in_body {
            continue;
        }
        let plain = value.len() <= 64
            && value
                .bytes()
                .all(|b| b.is_ascii_alphanumeric() || b"_-[].$".contains(&b));
        if !value.is_empty() && !plain {
            errs.push(doc.error_at(
                &push(ptr, key),
                format!("`{value}` is not a query parameter name"),
                None,
            ));
        }
    }
    let bounded = |key: &str, v: u64, ceiling: u64, errs: &mut Vec<ConfigError>| {
        if v == 0 || v > ceiling {
            errs.push(doc.error_at(
                &push(ptr, key),
                format!("`{key}` must be between 1 and {ceiling}"),
                None,
            ));
        }
    };
    bounded("page_size", p.page_size.into(), 10_000, errs);
    bounded("max_pages", p.max_pages.into(), PAGES_CEILING.into(), errs);
    bounded("max_records", p.max_records, RECORDS_CEILING, errs);
    Paginate {
        style: p.style,
        records,
        param,
        next,
        last_record,
        has_more,
        total,
        size_param,
        page_size: p.page_size,
        max_pages: p.max_pages,
        max_records: p.max_records,
        body,
    }
}

/// `data` → `["data"]`, `meta.next` → `["meta", "next"]`, `.` → `[]` (the value itself).
/// A dotted field path (`paging.next.after`); a segment in double quotes may hold dots and
/// other characters (`"@odata.nextLink"`, OData's next link).
pub(crate) fn dotted(text: &str) -> Option<Vec<String>> {
    if text == "." {
        return Some(Vec::new());
    }
    let mut parts = Vec::new();
    let mut rest = text;
    loop {
        let (part, after) = match rest.strip_prefix('"') {
            Some(quoted) => {
                let end = quoted.find('"')?;
                let part = &quoted[..end];
                let ok =
                    !part.is_empty() && part.len() <= 64 && !part.chars().any(char::is_control);
                (ok.then_some(part)?, &quoted[end + 1..])
            }
            None => {
                let end = rest.find('.').unwrap_or(rest.len());
                let part = &rest[..end];
                (
                    (field_name(part) && part.len() <= 64).then_some(part)?,
                    &rest[end..],
                )
            }
        };
        parts.push(part.to_owned());
        match after.strip_prefix('.') {
            Some(next) => rest = next,
            None if after.is_empty() => break,
            None => return None,
        }
    }
    (parts.len() <= 8).then_some(parts)
}
