//! `/ui/api`: the admin API's reference, rendered from the same OpenAPI document served at
//! `/api/v1/openapi.json` — every operation by tag with its parameters, body and answers, and
//! every schema with its fields. Plain HTML from the binary: no external assets.

use std::sync::Arc;

use axum::response::Response;
use axum::Extension;
use maud::{html, Markup};
use serde_json::Value;

use crate::layout::page;
use crate::Ui;

const METHODS: [&str; 5] = ["get", "post", "put", "patch", "delete"];

/// `(method, path, operation)` of one tag.
type Operations<'a> = Vec<(String, String, &'a Value)>;

/// An anchor id from any text: letters and digits kept, the rest `-`.
fn anchor(prefix: &str, text: &str) -> String {
    let mut out = String::from(prefix);
    for c in text.chars() {
        out.push(if c.is_ascii_alphanumeric() { c } else { '-' });
    }
    out
}

/// A schema's type as a reader wants it: `string`, `integer | null`, `[DeliveryItem]`,
/// `map of integer`, with named schemas linked.
fn type_of(schema: &Value) -> Markup {
    if let Some(r) = schema["$ref"].as_str() {
        let name = r.rsplit('/').next().unwrap_or(r);
        return html! { a href={"#" (anchor("schema-", name))} { (name) } };
    }
    for key in ["oneOf", "anyOf"] {
        if let Some(parts) = schema[key].as_array() {
            return html! { @for (i, p) in parts.iter().enumerate() { @if i > 0 { " | " } (type_of(p)) } };
        }
    }
    if let Some(all) = schema["allOf"].as_array() {
        return html! { @for (i, p) in all.iter().enumerate() { @if i > 0 { " & " } (type_of(p)) } };
    }
    let types: Vec<&str> = match &schema["type"] {
        Value::String(t) => vec![t.as_str()],
        Value::Array(ts) => ts.iter().filter_map(Value::as_str).collect(),
        _ => vec![],
    };
    html! {
        @for (i, t) in types.iter().enumerate() {
            @if i > 0 { " | " }
            @match *t {
                "array" => { "[" (type_of(&schema["items"])) "]" }
                "object" if schema["additionalProperties"].is_object() => { "map of " (type_of(&schema["additionalProperties"])) }
                other => { (other) }
            }
        }
        @if types.is_empty() { "any" }
    }
}

fn operation(method: &str, path: &str, op: &Value) -> Markup {
    let id = anchor("op-", &format!("{method} {path}"));
    html! {
        section.operation id=(id) {
            h3 { span class={"method " (method)} { (method.to_uppercase()) } " " code { (path) } }
            @if let Some(s) = op["summary"].as_str() { p { strong { (s) } } }
            @if let Some(d) = op["description"].as_str() { p.muted { (d) } }
            @if let Some(params) = op["parameters"].as_array().filter(|p| !p.is_empty()) {
                table.params {
                    thead { tr { th { "Parameter" } th { "In" } th { "Type" } th { "Description" } } }
                    tbody { @for p in params {
                        tr {
                            td { code { (p["name"].as_str().unwrap_or("")) } @if p["required"] == true { " " span.muted { "required" } } }
                            td { (p["in"].as_str().unwrap_or("")) }
                            td { (type_of(&p["schema"])) }
                            td { (p["description"].as_str().unwrap_or("")) }
                        }
                    } }
                }
            }
            @if let Some(body) = op["requestBody"].as_object() {
                p { "Body: "
                    @for (ct, c) in body.get("content").and_then(Value::as_object).into_iter().flatten() {
                        code { (ct) } " " (type_of(&c["schema"])) " "
                    }
                    @if let Some(d) = body.get("description").and_then(Value::as_str) { span.muted { "— " (d) } }
                }
            }
            table.answers {
                thead { tr { th { "Status" } th { "Answer" } th { "Body" } } }
                tbody { @for (status, r) in op["responses"].as_object().into_iter().flatten() {
                    tr {
                        td.num { (status) }
                        td { (r["description"].as_str().unwrap_or("")) }
                        td { @for (_, c) in r["content"].as_object().into_iter().flatten() { (type_of(&c["schema"])) } }
                    }
                } }
            }
        }
    }
}

fn schema(name: &str, s: &Value) -> Markup {
    let required: Vec<&str> = s["required"]
        .as_array()
        .into_iter()
        .flatten()
        .filter_map(Value::as_str)
        .collect();
    html! {
        section.schema id=(anchor("schema-", name)) {
            h3 { (name) }
            @if let Some(d) = s["description"].as_str() { p.muted { (d) } }
            @if let Some(props) = s["properties"].as_object() {
                table.fields {
                    thead { tr { th { "Field" } th { "Type" } th { "Description" } } }
                    tbody { @for (field, f) in props {
                        tr {
                            td { code { (field) } @if !required.contains(&field.as_str()) { " " span.muted { "optional" } } }
                            td { (type_of(f)) }
                            td { (f["description"].as_str().unwrap_or("")) }
                        }
                    } }
                }
            } @else {
                p { (type_of(s)) }
            }
        }
    }
}

pub async fn show(Extension(ui): Extension<Arc<Ui>>) -> Response {
    let doc = &ui.openapi;
    // Operations by tag, in the document's order.
    let mut tags: Vec<(String, Operations)> = Vec::new();
    for (path, ops) in doc["paths"].as_object().into_iter().flatten() {
        for method in METHODS {
            let Some(op) = ops.get(method) else { continue };
            let tag = op["tags"][0].as_str().unwrap_or("other").to_owned();
            let entry = (method.to_owned(), path.clone(), op);
            match tags.iter_mut().find(|(t, _)| *t == tag) {
                Some((_, list)) => list.push(entry),
                None => tags.push((tag, vec![entry])),
            }
        }
    }
    let body = html! {
        p {
            (doc["info"]["description"].as_str().unwrap_or(""))
        }
        p.muted { "Version " (doc["info"]["version"].as_str().unwrap_or("")) ". The machine-readable document: " a href="/api/v1/openapi.json" { "/api/v1/openapi.json" } " (OpenAPI 3.1)." }
        nav.toc #toc {
            @for (tag, ops) in &tags {
                h2 { (tag) }
                ul { @for (method, path, op) in ops {
                    li {
                        a href={"#" (anchor("op-", &format!("{method} {path}")))} {
                            span class={"method " (method)} { (method.to_uppercase()) } " " code { (path) }
                        }
                        " " span.muted { (op["summary"].as_str().unwrap_or("")) }
                    }
                } }
            }
        }
        h2 { "Operations" }
        @for (_, ops) in &tags { @for (method, path, op) in ops { (operation(method, path, op)) } }
        h2 { "Schemas" }
        @for (name, s) in doc["components"]["schemas"].as_object().into_iter().flatten() { (schema(name, s)) }
    };
    page("API reference", "/ui/api", None, None, body)
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    #[test]
    fn types_read_as_words_with_named_schemas_linked() {
        let t = |v| super::type_of(&v).into_string();
        assert_eq!(t(json!({"type": "string"})), "string");
        assert_eq!(t(json!({"type": ["integer", "null"]})), "integer | null");
        assert_eq!(
            t(json!({"type": "array", "items": {"$ref": "#/components/schemas/DeliveryItem"}})),
            "[<a href=\"#schema-DeliveryItem\">DeliveryItem</a>]"
        );
        assert_eq!(
            t(json!({"type": "object", "additionalProperties": {"type": "integer"}})),
            "map of integer"
        );
    }
}
