//! XML ⇄ JSON, with one convention both ways:
//!
//! - the document is an object with one key, the root element's name;
//! - an element's name is its local name (`soap:Body` → `Body`); namespace declarations are
//!   dropped on the way in (write `@xmlns:…` keys to emit them on the way out);
//! - an element with only text is a string (never a number: types belong to the mapping or the
//!   model); an empty element is `null`;
//! - attributes are `@name` keys; the text of an element that also has attributes or children is
//!   `#text` (whitespace-only text between children is formatting, and is dropped);
//! - repeated sibling elements become an array, in document order; a single one is not an array
//!   (`to_array` in the prelude makes either one a list).
//!
//! Hostile input is refused, never expanded: a DTD (and so any entity definition: billion
//! laughs, external entities, XXE) is an error, so are entities other than XML's five and
//! character references, nesting deeper than the limit, and text that is not UTF-8.

use quick_xml::events::{BytesStart, Event};
use quick_xml::Reader;
use serde_json::{Map, Value};

/// Deepest element nesting accepted.
pub const MAX_DEPTH: usize = 128;

struct Frame {
    name: String,
    attrs: Vec<(String, String)>,
    children: Vec<(String, Value)>,
    text: String,
}

/// Parses an XML document into JSON (see the module's convention).
pub fn decode(xml: &[u8]) -> Result<Value, String> {
    let text = std::str::from_utf8(xml).map_err(|e| format!("the XML is not UTF-8: {e}"))?;
    let mut reader = Reader::from_str(text);
    reader.config_mut().check_end_names = true;
    let mut stack: Vec<Frame> = Vec::new();
    let mut root: Option<(String, Value)> = None;
    loop {
        let event = reader
            .read_event()
            .map_err(|e| format!("malformed XML at byte {}: {e}", reader.buffer_position()))?;
        match event {
            Event::DocType(_) => {
                return Err("a DTD is not accepted (entity definitions are never expanded)".into())
            }
            Event::Start(e) => {
                if stack.len() >= MAX_DEPTH {
                    return Err(format!(
                        "the XML is nested deeper than {MAX_DEPTH} elements"
                    ));
                }
                stack.push(frame(&e)?);
            }
            Event::Empty(e) => {
                if stack.len() >= MAX_DEPTH {
                    return Err(format!(
                        "the XML is nested deeper than {MAX_DEPTH} elements"
                    ));
                }
                let f = frame(&e)?;
                finish(f, &mut stack, &mut root)?;
            }
            Event::End(_) => {
                let f = stack.pop().ok_or("a closing tag without its opening tag")?;
                finish(f, &mut stack, &mut root)?;
            }
            Event::Text(t) => {
                let s = t.into_inner();
                match stack.last_mut() {
                    Some(f) => f.text.push_str(&s),
                    None if s.trim().is_empty() => {}
                    None => return Err("text outside the root element".into()),
                }
            }
            Event::CData(t) => {
                let s = t.into_inner();
                if let Some(f) = stack.last_mut() {
                    f.text.push_str(&s);
                }
            }
            Event::GeneralRef(r) => {
                let s = entity(&r.into_inner())?;
                if let Some(f) = stack.last_mut() {
                    f.text.push_str(&s);
                }
            }
            Event::Eof => break,
            // Declarations, comments and processing instructions carry no data.
            _ => {}
        }
    }
    if let Some(open) = stack.last() {
        return Err(format!("the element <{}> is not closed", open.name));
    }
    let (name, value) = root.ok_or("the document has no root element")?;
    let mut doc = Map::new();
    doc.insert(name, value);
    Ok(Value::Object(doc))
}

fn local(name: &str) -> String {
    name.rsplit(':').next().unwrap_or(name).to_owned()
}

fn frame(e: &BytesStart<'_>) -> Result<Frame, String> {
    let mut attrs = Vec::new();
    for a in e.attributes() {
        let a = a.map_err(|e| format!("bad attribute: {e}"))?;
        let key: &str = a.key.as_ref();
        if key == "xmlns" || key.starts_with("xmlns:") {
            continue;
        }
        let value = a
            .normalized_value(quick_xml::XmlVersion::Implicit1_0)
            .map_err(|e| format!("bad attribute value of {key}: {e}"))?;
        attrs.push((local(key), value.into_owned()));
    }
    Ok(Frame {
        name: local(e.name().as_ref()),
        attrs,
        children: Vec::new(),
        text: String::new(),
    })
}

fn finish(f: Frame, stack: &mut [Frame], root: &mut Option<(String, Value)>) -> Result<(), String> {
    let name = f.name.clone();
    let value = value(f);
    match stack.last_mut() {
        Some(parent) => parent.children.push((name, value)),
        None if root.is_none() => *root = Some((name, value)),
        None => return Err("more than one root element".into()),
    }
    Ok(())
}

fn value(f: Frame) -> Value {
    if f.attrs.is_empty() && f.children.is_empty() {
        return if f.text.is_empty() {
            Value::Null
        } else {
            Value::String(f.text)
        };
    }
    let mut map = Map::new();
    for (k, v) in f.attrs {
        map.insert(format!("@{k}"), Value::String(v));
    }
    for (k, v) in f.children {
        match map.get_mut(&k) {
            None => {
                map.insert(k, v);
            }
            // An element's own value is never an array: an array here means the name repeated.
            Some(Value::Array(items)) => items.push(v),
            Some(existing) => {
                let first = existing.take();
                *existing = Value::Array(vec![first, v]);
            }
        }
    }
    if !f.text.trim().is_empty() {
        map.insert("#text".into(), Value::String(f.text));
    }
    Value::Object(map)
}

/// XML's predefined entities and character references; anything else is refused.
fn entity(name: &str) -> Result<String, String> {
    let c = match name {
        "amp" => '&',
        "lt" => '<',
        "gt" => '>',
        "quot" => '"',
        "apos" => '\'',
        n if n.starts_with("#x") => u32::from_str_radix(&n[2..], 16)
            .ok()
            .and_then(char::from_u32)
            .ok_or_else(|| format!("bad character reference &{n};"))?,
        n if n.starts_with('#') => n[1..]
            .parse::<u32>()
            .ok()
            .and_then(char::from_u32)
            .ok_or_else(|| format!("bad character reference &{n};"))?,
        n => {
            return Err(format!(
                "the entity &{n}; is not defined (only XML's five are)"
            ))
        }
    };
    Ok(c.to_string())
}

/// Writes JSON as an XML document (the inverse convention): `value` is an object with one key,
/// the root element.
pub fn encode(value: &Value) -> Result<String, String> {
    let map = value
        .as_object()
        .filter(|m| m.len() == 1)
        .ok_or("XML needs an object with exactly one key: the root element")?;
    let (name, v) = map.iter().next().ok_or("no root element")?;
    let mut out = String::from("<?xml version=\"1.0\" encoding=\"UTF-8\"?>");
    element(&mut out, name, v, 0)?;
    Ok(out)
}

/// Writes one element (and, for an array, one element per item) into `out`.
pub fn element(out: &mut String, name: &str, v: &Value, depth: usize) -> Result<(), String> {
    if depth > MAX_DEPTH {
        return Err(format!("the JSON is nested deeper than {MAX_DEPTH} levels"));
    }
    if !valid_name(name) {
        return Err(format!("{name:?} is not an XML element name"));
    }
    match v {
        Value::Array(items) => {
            for item in items {
                element(out, name, item, depth + 1)?;
            }
        }
        Value::Null => {
            out.push('<');
            out.push_str(name);
            out.push_str("/>");
        }
        Value::Object(map) => {
            out.push('<');
            out.push_str(name);
            for (k, a) in map.iter().filter(|(k, _)| k.starts_with('@')) {
                let attr = &k[1..];
                if !valid_name(attr) {
                    return Err(format!("{attr:?} is not an XML attribute name"));
                }
                out.push(' ');
                out.push_str(attr);
                out.push_str("=\"");
                escape(
                    out,
                    &scalar(a).ok_or(format!("attribute {attr} must be a scalar"))?,
                );
                out.push('"');
            }
            out.push('>');
            if let Some(t) = map.get("#text") {
                escape(out, &scalar(t).ok_or("#text must be a scalar")?);
            }
            for (k, child) in map
                .iter()
                .filter(|(k, _)| !k.starts_with('@') && *k != "#text")
            {
                element(out, k, child, depth + 1)?;
            }
            out.push_str("</");
            out.push_str(name);
            out.push('>');
        }
        scalar_value => {
            out.push('<');
            out.push_str(name);
            out.push('>');
            escape(out, &scalar(scalar_value).unwrap_or_default());
            out.push_str("</");
            out.push_str(name);
            out.push('>');
        }
    }
    Ok(())
}

fn scalar(v: &Value) -> Option<String> {
    match v {
        Value::String(s) => Some(s.clone()),
        Value::Number(n) => Some(n.to_string()),
        Value::Bool(b) => Some(b.to_string()),
        Value::Null => Some(String::new()),
        _ => None,
    }
}

fn valid_name(name: &str) -> bool {
    let mut chars = name.chars();
    chars.next().is_some_and(|c| c.is_alphabetic() || c == '_')
        && chars.all(|c| c.is_alphanumeric() || matches!(c, '_' | '-' | '.' | ':'))
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
