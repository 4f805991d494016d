//! An operation's messages: the caller's JSON checked against the request model, mappings run on
//! the mapping threads, the vendor's answer checked against the response model. Shared by REST
//! operations and SOAP calls.

use axum::response::{IntoResponse, Response};
use bytes::Bytes;
use http::StatusCode;
use junction_config::{Message, Shapes};
use junction_core::{Code, Error, Origin};
use junction_server::ApiError;
use junction_transform::{describe, drift, SchemaError};
use serde_json::{json, Value};

use crate::runtime::AnswerBody;

/// Most bytes of one vendor answer (or page) read into memory.
pub const MAX_ANSWER: usize = 8 << 20;

/// A 400 with every schema error when `value` breaks the message's model (no vendor call made).
pub fn check_request(shapes: &Shapes, m: &Message, value: &Value) -> Option<Response> {
    let model = shapes.models.get(m.model.as_ref()?)?;
    let errors = model.validate(value).err()?;
    let e = Error::downstream(
        Code::SchemaInvalid,
        format!("the request breaks {}: {}", model.id, describe(&errors)),
    )
    .with_hint("fix the body; no call was made to the vendor");
    Some(with_errors(e, &errors))
}

/// An error answer carrying the schema errors under `error.errors`.
pub fn with_errors(e: Error, errors: &[SchemaError]) -> Response {
    let status = StatusCode::from_u16(e.code().http_status()).unwrap_or(StatusCode::BAD_REQUEST);
    let mut body = e.to_body();
    body["error"]["errors"] = json!(errors);
    (status, axum::Json(body)).into_response()
}

/// A vendor answer that breaks the operation's response model: a 502 with the schema errors,
/// and a drift record; the half-valid answer is never passed on.
pub fn broken_answer(
    tracker: &drift::Tracker,
    subject: &str,
    model: &junction_transform::Model,
    value: &Value,
    errors: &[SchemaError],
) -> Response {
    tracker.record(
        "connector",
        subject,
        &drift::against(model, value),
        junction_core::time::now_ms(),
    );
    let e = Error::new(
        Code::UpstreamInvalid,
        Origin::Upstream,
        format!(
            "{subject}: the vendor's answer breaks {}: {}",
            model.id,
            describe(errors)
        ),
    )
    .with_hint(
        "the vendor changed its answer or the response mapping is out of date; see /api/v1/drift",
    );
    with_errors(e, errors)
}

/// Which side of a call a mapping failed on: the caller's request (its input does not suit the
/// mapping: 400) or the vendor's answer (502).
#[derive(Clone, Copy)]
pub enum Side {
    Request,
    Answer,
}

/// Runs the message's mapping (on the mapping threads); without one, the value passes as is.
pub async fn map(
    shapes: &Shapes,
    m: &Message,
    value: Value,
    operation: &str,
    side: Side,
) -> Result<Value, ApiError> {
    let mut out = map_all(shapes, m, vec![value], operation, side).await?;
    Ok(out.pop().unwrap_or(Value::Null))
}

/// Maps each value with the message's mapping, in one trip to the mapping threads; each output
/// is checked against the mapping's own `to:` model.
pub async fn map_all(
    shapes: &Shapes,
    m: &Message,
    values: Vec<Value>,
    operation: &str,
    side: Side,
) -> Result<Vec<Value>, ApiError> {
    let Some(def) = m.map.as_ref().and_then(|n| shapes.mappings.get(n)) else {
        return Ok(values);
    };
    let mapping = def.mapping.clone();
    let model = def.to.clone();
    junction_transform::pool::run(move || {
        let mut outputs = Vec::with_capacity(values.len());
        let (mut input, mut out) = (Vec::new(), Vec::new());
        for value in values {
            input.clear();
            out.clear();
            serde_json::to_writer(&mut input, &value).map_err(|e| e.to_string())?;
            drop(value);
            mapping
                .map_json(&input, &mut out)
                .map_err(|e| format!("mapping `{}`: {e}", mapping.name))?;
            let v = serde_json::from_slice::<Value>(&out).map_err(|e| e.to_string())?;
            if let Some(model) = &model {
                model.validate(&v).map_err(|errs| {
                    format!(
                        "mapping `{}`: the output breaks {}: {}",
                        mapping.name,
                        model.id,
                        describe(&errs)
                    )
                })?;
            }
            outputs.push(v);
        }
        Ok(outputs)
    })
    .await
    .unwrap_or_else(Err)
    .map_err(|e| mapping_error(operation, side, e))
}

pub fn mapping_error(operation: &str, side: Side, e: String) -> ApiError {
    let hint = "run `junction test` to check the operation's mappings";
    ApiError(match side {
        Side::Request => Error::downstream(
            Code::BadRequest,
            format!("{operation}: the request mapping failed: {e}"),
        )
        .with_hint(hint),
        Side::Answer => Error::new(
            Code::UpstreamInvalid,
            Origin::Upstream,
            format!("{operation}: the response mapping failed: {e}"),
        )
        .with_hint(hint),
    })
}

/// Drift of an answer: against the response model when one is declared, else against the shape
/// learned from earlier answers.
pub fn learn(tracker: &drift::Tracker, shapes: &Shapes, m: &Message, subject: &str, v: &Value) {
    let now = junction_core::time::now_ms();
    match m.model.as_ref().and_then(|id| shapes.models.get(id)) {
        Some(model) => tracker.record("connector", subject, &drift::against(model, v), now),
        None => {
            tracker.observe("connector", subject, v, now);
        }
    }
}

/// Reads a whole answer, up to [`MAX_ANSWER`] bytes.
pub async fn read_all(body: AnswerBody) -> Result<Bytes, ApiError> {
    match body {
        AnswerBody::Full(b) => Ok(b),
        AnswerBody::Stream { prefix, rest } => {
            use http_body_util::BodyExt;
            let limited = http_body_util::Limited::new(rest.into_body(), MAX_ANSWER);
            let tail = limited.collect().await.map_err(|e| {
                ApiError(Error::new(
                    Code::UpstreamFailed,
                    Origin::Upstream,
                    format!(
                        "the vendor's answer could not be read (at most {MAX_ANSWER} bytes): {e}"
                    ),
                ))
            })?;
            let mut all = prefix.to_vec();
            all.extend_from_slice(&tail.to_bytes());
            Ok(Bytes::from(all))
        }
    }
}

/// Why a record could not become a line.
pub enum LineError {
    /// The response mapping failed.
    Mapping(String),
    /// The record (as mapped) breaks the operation's response model.
    Model {
        model: std::sync::Arc<junction_transform::Model>,
        value: Value,
        errors: Vec<SchemaError>,
    },
}

/// Records as NDJSON lines, mapped and checked against `model`, on the mapping threads (the
/// page split among them); the lines keep the records' order.
pub async fn lines(
    shapes: &Shapes,
    m: &Message,
    model: Option<std::sync::Arc<junction_transform::Model>>,
    records: super::pages::Records,
    passthrough: bool,
) -> Result<Vec<u8>, LineError> {
    let def = m.map.as_ref().and_then(|n| shapes.mappings.get(n));
    let mapping = def.map(|d| (d.mapping.clone(), d.to.clone()));
    // A model the mapping's output is already checked against is not checked twice.
    let already = |to: &std::sync::Arc<junction_transform::Model>| {
        model.as_ref().is_some_and(|m| m.id == to.id)
    };
    let model = match &mapping {
        Some((_, Some(to))) if already(to) => None,
        _ => model,
    };
    let threads = junction_transform::pool::pool()
        .current_num_threads()
        .max(1);
    let per = records.len().div_ceil(threads).max(64);
    let chunks = records.chunks(per);
    let jobs = chunks.into_iter().map(|chunk| {
        let (mapping, model) = (mapping.clone(), model.clone());
        junction_transform::pool::run(move || chunk_lines(chunk, mapping, model, passthrough))
    });
    let mut out = Vec::new();
    for done in futures_util::future::join_all(jobs).await {
        out.extend_from_slice(&done.map_err(LineError::Mapping)??);
    }
    Ok(out)
}

type MappingWithModel = (
    junction_transform::Mapping,
    Option<std::sync::Arc<junction_transform::Model>>,
);

fn chunk_lines(
    records: super::pages::Records,
    mapping: Option<MappingWithModel>,
    model: Option<std::sync::Arc<junction_transform::Model>>,
    passthrough: bool,
) -> Result<Vec<u8>, LineError> {
    let mut out = Vec::with_capacity(records.len() * 256);
    for record in records.iter() {
        let start = out.len();
        match &mapping {
            // As the vendor wrote it, on one line (a raw newline can only be whitespace
            // between tokens: inside strings it is escaped).
            None => out.extend(record.iter().map(|b| match b {
                b'\n' | b'\r' => b' ',
                b => *b,
            })),
            Some((mapping, _)) => mapping
                .map_record(record, &mut out)
                .map_err(|e| LineError::Mapping(format!("mapping `{}`: {e}", mapping.name)))?,
        }
        let to = mapping.as_ref().and_then(|(_, to)| to.as_ref());
        let mut checks = to.into_iter().chain(model.as_ref()).peekable();
        if checks.peek().is_some() {
            // Checked as the caller gets it: the line just written, read back.
            let value: Value = serde_json::from_slice(&out[start..])
                .map_err(|e| LineError::Mapping(e.to_string()))?;
            for model in checks {
                if let Err(errors) = model.validate(&value) {
                    return Err(LineError::Model {
                        model: model.clone(),
                        value,
                        errors,
                    });
                }
            }
        }
        if passthrough && out[start..].starts_with(b"{") && out.ends_with(b"}") {
            // The checked record, and the vendor's as it came, on the same line.
            out.pop();
            if out.len() > start + 1 {
                out.push(b',');
            }
            out.extend_from_slice(b"\"passthrough\":");
            out.extend(record.iter().map(|b| match b {
                b'\n' | b'\r' => b' ',
                b => *b,
            }));
            out.push(b'}');
        }
        out.push(b'\n');
    }
    Ok(out)
}
