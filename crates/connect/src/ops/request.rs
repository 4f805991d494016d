//! The caller's JSON becomes the vendor's request: declared parameters taken out by name (path
//! placeholders percent-encoded as one segment, query parameters, headers), the whole input
//! checked against the request model, the body mapped (or the rest of the input sent as is).

use axum::response::IntoResponse;
use bytes::Bytes;
use http::{HeaderMap, HeaderValue};
use junction_config::{BodyEncoding, Operation, Shapes};
use junction_core::{Code, Error};
use junction_server::ApiError;
use serde_json::{Map, Value};

use super::message::{self, Side};

/// The vendor request of one operation call, before pagination adds its position.
pub struct Request {
    /// The path under the connector, percent-encoded.
    pub path: String,
    /// The declared query parameters present in the input.
    pub query: Vec<(String, String)>,
    pub headers: HeaderMap,
    pub body: Bytes,
}

/// Most bytes of one parameter's value.
const MAX_PARAM: usize = 2048;

/// Builds the request, or the answer that refuses the input (400: a missing or malformed
/// parameter, fields the operation does not take, or the request model's errors).
pub async fn build(
    name: &str,
    op: &Operation,
    shapes: &Shapes,
    input: Map<String, Value>,
) -> Result<Request, axum::response::Response> {
    let input = Value::Object(input);
    if let Some(refused) = message::check_request(shapes, &op.request, &input) {
        return Err(refused);
    }
    let mut fields = match input {
        Value::Object(m) => m,
        _ => Map::new(),
    };
    let mut req = parameters(name, op, &fields).map_err(IntoResponse::into_response)?;
    let params: Vec<&str> = op.params().collect();
    let body = if op.request.map.is_some() {
        let whole = Value::Object(fields);
        let mapped = message::map(shapes, &op.request, whole, name, Side::Request)
            .await
            .map_err(IntoResponse::into_response)?;
        Some(mapped)
    } else {
        fields.retain(|k, _| !params.contains(&k.as_str()));
        if fields.is_empty() {
            None
        } else if !op.sends_body() {
            let unknown: Vec<&str> = fields.keys().map(String::as_str).collect();
            return Err(
                bad(format!("`{name}` does not take {}", unknown.join(", ")), op).into_response(),
            );
        } else {
            Some(Value::Object(fields))
        }
    };
    req.body = match body {
        Some(v) if op.sends_body() => match op.body {
            BodyEncoding::Json => {
                req.headers.insert(
                    http::header::CONTENT_TYPE,
                    HeaderValue::from_static("application/json"),
                );
                Bytes::from(serde_json::to_vec(&v).unwrap_or_default())
            }
            BodyEncoding::Form => {
                req.headers.insert(
                    http::header::CONTENT_TYPE,
                    HeaderValue::from_static("application/x-www-form-urlencoded"),
                );
                let form = junction_transform::codec::form::encode(&v)
                    .map_err(|why| form_error(name, &why).into_response())?;
                Bytes::from(form)
            }
        },
        _ => Bytes::new(),
    };
    Ok(req)
}

fn form_error(name: &str, why: &str) -> ApiError {
    ApiError(
        Error::new(
            Code::InvalidConfig,
            junction_core::Origin::Internal,
            format!("{name}: the request cannot be written as a form: {why}"),
        )
        .with_hint("the request mapping of a `body: form` operation makes an object of strings, numbers, booleans and lists of them"),
    )
}

/// The path, query and headers the input's parameter fields fill.
fn parameters(
    name: &str,
    op: &Operation,
    fields: &Map<String, Value>,
) -> Result<Request, ApiError> {
    let mut path = String::with_capacity(op.path.len() + 16);
    for segment in op.path.split('/').skip(1) {
        path.push('/');
        match junction_config::connect::operation::placeholder(segment) {
            Some((p, extension)) => {
                let v = fields.get(p).ok_or_else(|| missing(name, p, op))?;
                encode_segment(&text(name, p, v)?, &mut path);
                path.push_str(extension);
            }
            None => path.push_str(segment),
        }
    }
    let mut query = op.query_values.clone();
    for q in &op.query {
        match fields.get(q) {
            None | Some(Value::Null) => {}
            Some(v) => query.push((q.clone(), text(name, q, v)?)),
        }
    }
    let mut headers = HeaderMap::new();
    for (field, header) in &op.headers {
        if let Some(v) = fields.get(field).filter(|v| !v.is_null()) {
            let value = HeaderValue::from_str(&text(name, field, v)?)
                .map_err(|_| bad(format!("`{field}` cannot be sent in a header"), op))?;
            headers.insert(header.clone(), value);
        }
    }
    Ok(Request {
        path,
        query,
        headers,
        body: Bytes::new(),
    })
}

/// A parameter's value as text: strings as they are, numbers and booleans written out.
fn text(op: &str, field: &str, v: &Value) -> Result<String, ApiError> {
    let t = match v {
        Value::String(s) => s.clone(),
        Value::Number(n) => n.to_string(),
        Value::Bool(b) => b.to_string(),
        _ => {
            return Err(ApiError(
                Error::downstream(
                    Code::BadRequest,
                    format!("{op}: parameter `{field}` must be a string, a number or a boolean"),
                )
                .with_hint("objects and arrays go in the body"),
            ))
        }
    };
    if t.len() > MAX_PARAM {
        return Err(ApiError(Error::downstream(
            Code::BadRequest,
            format!("{op}: parameter `{field}` is longer than {MAX_PARAM} bytes"),
        )));
    }
    Ok(t)
}

fn missing(name: &str, param: &str, op: &Operation) -> ApiError {
    bad(format!("`{name}` needs the parameter `{param}`"), op)
}

fn bad(message: String, op: &Operation) -> ApiError {
    let takes: Vec<&str> = op.params().collect();
    let hint = if takes.is_empty() {
        "this operation takes no parameters".to_owned()
    } else {
        format!("its parameters: {}", takes.join(", "))
    };
    ApiError(Error::downstream(Code::BadRequest, message).with_hint(hint))
}

/// Percent-encodes a value as one path segment: only unreserved characters stay as they are,
/// so a value can never add a segment, a query or a fragment (a `.` or `..` value is refused
/// by the connector's path check).
pub fn encode_segment(value: &str, out: &mut String) {
    for b in value.bytes() {
        if b.is_ascii_alphanumeric() || matches!(b, b'-' | b'_' | b'~' | b'.') {
            out.push(b as char);
        } else {
            out.push_str(&format!("%{b:02X}"));
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_path_value_cannot_add_a_segment_or_a_query() {
        let mut out = String::new();
        encode_segment("../a/b?c#d e.é", &mut out);
        assert_eq!(out, "..%2Fa%2Fb%3Fc%23d%20e.%C3%A9");
    }
}
