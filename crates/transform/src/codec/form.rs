//! `application/x-www-form-urlencoded` ⇄ JSON: each field a string; a repeated field an array.

use serde_json::{Map, Value};

pub fn decode(body: &[u8]) -> Result<Value, String> {
    std::str::from_utf8(body).map_err(|e| format!("the form is not UTF-8: {e}"))?;
    let mut map = Map::new();
    for (k, v) in form_urlencoded::parse(body) {
        let v = Value::String(v.into_owned());
        match map.get_mut(k.as_ref()) {
            None => {
                map.insert(k.into_owned(), v);
            }
            Some(Value::Array(items)) => items.push(v),
            Some(existing) => {
                let first = existing.take();
                *existing = Value::Array(vec![first, v]);
            }
        }
    }
    Ok(Value::Object(map))
}

/// An object of scalars (or arrays of scalars, repeated) as a form; null fields are left out.
pub fn encode(value: &Value) -> Result<String, String> {
    let map = value.as_object().ok_or("a form is an object of fields")?;
    let mut out = form_urlencoded::Serializer::new(String::new());
    for (k, v) in map {
        let items: Vec<&Value> = match v {
            Value::Array(items) => items.iter().collect(),
            v => vec![v],
        };
        for item in items {
            match item {
                Value::Null => {}
                Value::String(s) => {
                    out.append_pair(k, s);
                }
                Value::Number(_) | Value::Bool(_) => {
                    out.append_pair(k, &item.to_string());
                }
                _ => {
                    return Err(format!(
                        "form field {k} must be a scalar or a list of scalars"
                    ))
                }
            }
        }
    }
    Ok(out.finish())
}
