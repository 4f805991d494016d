//! What every section's resolver shares: deserializing a value with serde's errors located in
//! the file, and a map section entry by entry so that each mistake is reported.

use std::collections::BTreeMap;

use serde::de::DeserializeOwned;
use serde_json::Value;

use crate::error::{nearest, ConfigError, ConfigErrors};
use crate::yaml::{push, Document};

/// Deserializes every entry of a map section on its own, so each mistake is reported.
pub(crate) fn entries<T: DeserializeOwned>(
    doc: &Document,
    section: &str,
    errs: &mut Vec<ConfigError>,
) -> BTreeMap<String, T> {
    let mut out = BTreeMap::new();
    let Some(value) = doc.value.get(section) else {
        return out;
    };
    let Some(map) = value.as_object() else {
        if !value.is_null() {
            errs.push(doc.error_at(
                &push("", section),
                format!("`{section}` must be a mapping of names to entries"),
                None,
            ));
        }
        return out;
    };
    for (name, v) in map {
        let ptr = push(&push("", section), name);
        if !valid_name(name) {
            errs.push(
                doc.error_at_key(
                    &ptr,
                    format!("invalid name `{name}`"),
                    Some(
                        "names use letters, digits, `-` and `_` (they appear in URLs and metrics)"
                            .into(),
                    ),
                ),
            );
        }
        match crate::check::located::<T>(doc, &ptr, v) {
            Ok(t) => {
                out.insert(name.clone(), t);
            }
            Err(e) => errs.push(e),
        }
    }
    out
}

/// Deserializes `value` (found at JSON pointer `base`), with serde's error located in the file.
pub(crate) fn located<T: DeserializeOwned>(
    doc: &Document,
    base: &str,
    value: &Value,
) -> Result<T, ConfigError> {
    serde_path_to_error::deserialize::<_, T>(value).map_err(|e| {
        let mut ptr = base.to_owned();
        for seg in e.path().iter() {
            match seg {
                serde_path_to_error::Segment::Map { key } => ptr = push(&ptr, key),
                serde_path_to_error::Segment::Seq { index } => ptr = push(&ptr, &index.to_string()),
                _ => {}
            }
        }
        serde_error(doc, ptr, &e.into_inner().to_string())
    })
}

/// Deserializes a whole document into `T`: other YAML files (the mock's) get the same located errors.
pub(crate) fn whole<T: DeserializeOwned>(doc: &Document) -> Result<T, ConfigErrors> {
    located(doc, "", &doc.value).map_err(ConfigErrors::one)
}

/// Makes serde's messages about unknown fields, variants and missing fields located and helpful.
fn serde_error(doc: &Document, mut ptr: String, msg: &str) -> ConfigError {
    let quoted: Vec<&str> = msg.split('`').skip(1).step_by(2).collect();
    let expected: Vec<&str> = msg
        .split_once("expected")
        .map(|(_, rest)| rest.split('`').skip(1).step_by(2).collect())
        .unwrap_or_default();
    if let (Some(field), true) = (quoted.first(), msg.starts_with("unknown field")) {
        if !ptr.ends_with(&format!("/{field}")) {
            ptr = push(&ptr, field);
        }
        let hint = if expected.is_empty() {
            "this mapping takes no fields".to_owned()
        } else {
            suggest(field, &expected)
        };
        return doc.error_at_key(&ptr, format!("unknown field `{field}`"), Some(hint));
    }
    if let (Some(variant), true) = (quoted.first(), msg.starts_with("unknown variant")) {
        let hint = match nearest(variant, expected.iter().copied()) {
            Some(near) => format!("did you mean `{near}`? one of: {}", expected.join(", ")),
            None => format!("one of: {}", expected.join(", ")),
        };
        return doc.error_at(&ptr, format!("unknown value `{variant}`"), Some(hint));
    }
    if let (Some(field), true) = (quoted.first(), msg.starts_with("missing field")) {
        return doc.error_at(
            &ptr,
            format!("missing field `{field}`"),
            Some(format!("add `{field}:` here")),
        );
    }
    if msg.starts_with("invalid type") {
        return doc.error_at(&ptr, msg.to_owned(), None);
    }
    match msg.split_once("; ") {
        Some((message, hint)) => doc.error_at(&ptr, message.to_owned(), Some(hint.to_owned())),
        None => doc.error_at(&ptr, msg.to_owned(), None),
    }
}

pub(crate) fn valid_name(name: &str) -> bool {
    !name.is_empty()
        && name.len() <= 64
        && name
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || c == '-' || c == '_')
}

pub(crate) fn suggest(word: &str, candidates: &[&str]) -> String {
    match nearest(word, candidates.iter().copied()) {
        Some(near) => format!(
            "did you mean `{near}`? valid keys here: {}",
            candidates.join(", ")
        ),
        None => format!("valid keys here: {}", candidates.join(", ")),
    }
}
