//! CSV ⇄ JSON: a header row, then one object per row. Values are strings, or typed by a model:
//! a column whose property is `integer`, `number` or `boolean` is parsed as one, and an empty
//! cell is `null` where the property allows it.

use serde_json::{Map, Value};

/// Most rows read from one document.
pub const MAX_ROWS: usize = 1_000_000;

/// The JSON type a model gives each column (`properties.NAME.type`).
pub fn column_types(schema: &Value) -> Map<String, Value> {
    schema
        .get("properties")
        .and_then(Value::as_object)
        .map(|p| {
            p.iter()
                .filter_map(|(k, v)| v.get("type").map(|t| (k.clone(), t.clone())))
                .collect()
        })
        .unwrap_or_default()
}

pub fn decode(body: &[u8], types: Option<&Map<String, Value>>) -> Result<Vec<Value>, String> {
    let mut reader = csv::ReaderBuilder::new()
        .has_headers(true)
        .flexible(false)
        .from_reader(body);
    let headers: Vec<String> = reader
        .headers()
        .map_err(|e| format!("bad CSV header: {e}"))?
        .iter()
        .map(str::to_owned)
        .collect();
    let mut rows = Vec::new();
    for (i, record) in reader.records().enumerate() {
        if i >= MAX_ROWS {
            return Err(format!("more than {MAX_ROWS} rows"));
        }
        let record = record.map_err(|e| format!("bad CSV: {e}"))?;
        let mut row = Map::new();
        for (h, cell) in headers.iter().zip(record.iter()) {
            let v = typed(cell, types.and_then(|t| t.get(h)))
                .map_err(|e| format!("row {}, column {h}: {e}", i + 2))?;
            row.insert(h.clone(), v);
        }
        rows.push(Value::Object(row));
    }
    Ok(rows)
}

fn allows(ty: &Value, name: &str) -> bool {
    match ty {
        Value::String(s) => s == name,
        Value::Array(a) => a.iter().any(|t| t == name),
        _ => false,
    }
}

fn typed(cell: &str, ty: Option<&Value>) -> Result<Value, String> {
    let Some(ty) = ty else {
        return Ok(Value::String(cell.to_owned()));
    };
    if cell.is_empty() && allows(ty, "null") {
        return Ok(Value::Null);
    }
    if allows(ty, "integer") {
        if let Ok(n) = cell.trim().parse::<i64>() {
            return Ok(Value::from(n));
        }
    }
    if allows(ty, "number") {
        if let Some(n) = cell
            .trim()
            .parse::<f64>()
            .ok()
            .and_then(serde_json::Number::from_f64)
        {
            return Ok(Value::Number(n));
        }
    }
    if allows(ty, "boolean") {
        match cell.trim() {
            "true" | "TRUE" | "True" | "1" => return Ok(Value::Bool(true)),
            "false" | "FALSE" | "False" | "0" => return Ok(Value::Bool(false)),
            _ => {}
        }
    }
    if allows(ty, "string") {
        return Ok(Value::String(cell.to_owned()));
    }
    Err(format!("{cell:?} is not a {ty}"))
}

/// Rows (objects) as CSV with a header row: the union of their keys, in first-seen order.
pub fn encode(rows: &[Value]) -> Result<String, String> {
    let mut headers: Vec<String> = Vec::new();
    for r in rows {
        let obj = r.as_object().ok_or("each CSV row is an object")?;
        for k in obj.keys() {
            if !headers.contains(k) {
                headers.push(k.clone());
            }
        }
    }
    let mut w = csv::Writer::from_writer(Vec::new());
    w.write_record(&headers).map_err(|e| e.to_string())?;
    for r in rows {
        let cells: Vec<String> = headers
            .iter()
            .map(|h| match r.get(h) {
                None | Some(Value::Null) => String::new(),
                Some(Value::String(s)) => s.clone(),
                Some(v) => v.to_string(),
            })
            .collect();
        w.write_record(&cells).map_err(|e| e.to_string())?;
    }
    let bytes = w.into_inner().map_err(|e| e.to_string())?;
    String::from_utf8(bytes).map_err(|e| e.to_string())
}
