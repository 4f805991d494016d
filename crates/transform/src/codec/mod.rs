//! Codecs: the formats vendors speak, decoded into JSON for mappings and encoded back. Each
//! refuses hostile input with a clear error (see each module).

pub mod csv;
pub mod form;
pub mod soap;
pub mod xml;

use serde_json::Value;

/// A body's format, from its content type.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Format {
    Json,
    Xml,
    Form,
    Csv,
}

impl Format {
    /// The format a `Content-Type` names (`None` for one Junction cannot read).
    pub fn from_content_type(ct: &str) -> Option<Self> {
        let mime = ct
            .split(';')
            .next()
            .unwrap_or("")
            .trim()
            .to_ascii_lowercase();
        match mime.as_str() {
            "application/json" | "text/json" => Some(Format::Json),
            m if m.ends_with("+json") => Some(Format::Json),
            "application/xml" | "text/xml" => Some(Format::Xml),
            m if m.ends_with("+xml") => Some(Format::Xml),
            "application/x-www-form-urlencoded" => Some(Format::Form),
            "text/csv" => Some(Format::Csv),
            _ => None,
        }
    }
}

/// Decodes a body in `format` into JSON (CSV: an array of row objects, untyped).
pub fn decode(format: Format, body: &[u8]) -> Result<Value, String> {
    match format {
        Format::Json => serde_json::from_slice(body).map_err(|e| format!("bad JSON: {e}")),
        Format::Xml => xml::decode(body),
        Format::Form => form::decode(body),
        Format::Csv => csv::decode(body, None).map(Value::Array),
    }
}
