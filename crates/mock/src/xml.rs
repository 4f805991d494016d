//! The XML variant: any JSON answer of the resource routes rendered as XML when the client asks
//! (`Accept: application/xml` or `?format=xml`), the way older APIs offer both.
//!
//! Convention: an object is an element per key; an array is one `<item>` element per entry;
//! scalars are text; `null` is an empty element; the root element is named by the resource's
//! `object` field (`customer`, `order`, `list`), or `response`.

use serde_json::Value;

/// Renders `value` as an XML document.
pub fn to_xml(value: &Value) -> String {
    let root = value
        .get("object")
        .and_then(Value::as_str)
        .unwrap_or("response");
    let root = if valid_name(root) { root } else { "response" };
    let mut out = String::from("<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n");
    element(&mut out, root, value);
    out
}

fn valid_name(name: &str) -> bool {
    let mut chars = name.chars();
    chars
        .next()
        .is_some_and(|c| c.is_ascii_alphabetic() || c == '_')
        && chars.all(|c| c.is_ascii_alphanumeric() || matches!(c, '_' | '-' | '.'))
}

fn element(out: &mut String, name: &str, value: &Value) {
    let name = if valid_name(name) { name } else { "field" };
    match value {
        Value::Null => {
            out.push('<');
            out.push_str(name);
            out.push_str("/>");
        }
        Value::Object(map) => {
            open(out, name);
            for (k, v) in map {
                element(out, k, v);
            }
            close(out, name);
        }
        Value::Array(items) => {
            open(out, name);
            for v in items {
                element(out, "item", v);
            }
            close(out, name);
        }
        Value::String(s) => {
            open(out, name);
            escape(out, s);
            close(out, name);
        }
        other => {
            open(out, name);
            out.push_str(&other.to_string());
            close(out, name);
        }
    }
}

fn open(out: &mut String, name: &str) {
    out.push('<');
    out.push_str(name);
    out.push('>');
}

fn close(out: &mut String, name: &str) {
    out.push_str("</");
    out.push_str(name);
    out.push('>');
}

fn escape(out: &mut String, s: &str) {
    for c in s.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&apos;"),
            c => out.push(c),
        }
    }
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    #[test]
    fn renders_objects_arrays_scalars_and_escapes_text() {
        let v = json!({ "object": "list", "data": [{ "id": "a&b", "n": 1 }], "next": null, "ok": true });
        assert_eq!(
            super::to_xml(&v),
            "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n<list><object>list</object><data><item><id>a&amp;b</id><n>1</n></item></data><next/><ok>true</ok></list>"
        );
    }
}
