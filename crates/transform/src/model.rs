//! Canonical models: JSON Schema (2020-12) documents registered as `name@version`, compiled once,
//! validating with every error's location (a JSON pointer into the instance).

use std::fmt;

/// `customer@2`: a model's name and version.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct ModelRef {
    pub name: String,
    pub version: u32,
}

impl ModelRef {
    /// Reads `name@version`.
    pub fn parse(s: &str) -> Result<Self, String> {
        let hint = "write a model as NAME@VERSION, such as customer@2";
        let (name, version) = s
            .split_once('@')
            .ok_or_else(|| format!("{s:?} has no version: {hint}"))?;
        let ok_name = !name.is_empty()
            && name
                .chars()
                .all(|c| c.is_ascii_alphanumeric() || c == '_' || c == '-' || c == '.');
        if !ok_name {
            return Err(format!("{name:?} is not a model name: {hint}"));
        }
        let version = version
            .parse::<u32>()
            .ok()
            .filter(|v| *v > 0)
            .ok_or_else(|| format!("{version:?} is not a version (1, 2, …): {hint}"))?;
        Ok(Self {
            name: name.to_owned(),
            version,
        })
    }
}

impl fmt::Display for ModelRef {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}@{}", self.name, self.version)
    }
}

/// One way an instance breaks its model.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct SchemaError {
    /// Where in the instance (a JSON pointer; empty for the whole document).
    pub path: String,
    pub message: String,
}

impl fmt::Display for SchemaError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let path = if self.path.is_empty() {
            "/"
        } else {
            &self.path
        };
        write!(f, "{path}: {}", self.message)
    }
}

/// Most errors reported for one instance.
const MAX_ERRORS: usize = 20;

/// A compiled model.
pub struct Model {
    pub id: ModelRef,
    validator: jsonschema::Validator,
    /// The schema as written, for documents generated from it (OpenAPI).
    schema: serde_json::Value,
}

impl fmt::Debug for Model {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_tuple("Model").field(&self.id.to_string()).finish()
    }
}

impl Model {
    /// Compiles a schema (draft 2020-12 unless its `$schema` says otherwise; `format` is
    /// asserted; no remote references are fetched).
    pub fn compile(id: ModelRef, schema: &serde_json::Value) -> Result<Self, String> {
        let validator = jsonschema::options()
            .should_validate_formats(true)
            .build(schema)
            .map_err(|e| format!("the schema of {id} is not valid JSON Schema: {e}"))?;
        Ok(Self {
            id,
            validator,
            schema: schema.clone(),
        })
    }

    /// The schema as written.
    pub fn schema(&self) -> &serde_json::Value {
        &self.schema
    }

    /// Checks an instance; every error (up to 20) with its location.
    pub fn validate(&self, instance: &serde_json::Value) -> Result<(), Vec<SchemaError>> {
        if self.validator.is_valid(instance) {
            return Ok(());
        }
        let errors: Vec<SchemaError> = self
            .validator
            .iter_errors(instance)
            .take(MAX_ERRORS)
            .map(|e| SchemaError {
                path: e.instance_path().to_string(),
                message: e.to_string(),
            })
            .collect();
        Err(errors)
    }

    /// Checks a JSON document.
    pub fn validate_json(&self, body: &[u8]) -> Result<(), Vec<SchemaError>> {
        let instance: serde_json::Value = serde_json::from_slice(body).map_err(|e| {
            vec![SchemaError {
                path: String::new(),
                message: format!("not JSON: {e}"),
            }]
        })?;
        self.validate(&instance)
    }
}

/// Several errors as one line.
pub fn describe(errors: &[SchemaError]) -> String {
    errors
        .iter()
        .map(|e| e.to_string())
        .collect::<Vec<_>>()
        .join("; ")
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn customer() -> Model {
        Model::compile(
            ModelRef::parse("customer@2").unwrap(),
            &json!({
                "$schema": "https://json-schema.org/draft/2020-12/schema",
                "type": "object",
                "required": ["id", "email"],
                "properties": {
                    "id": {"type": "string"},
                    "email": {"type": "string", "format": "email"},
                    "created_at": {"type": "string", "format": "date-time"}
                },
                "additionalProperties": false
            }),
        )
        .unwrap()
    }

    #[test]
    fn model_refs_parse() {
        let r = ModelRef::parse("customer@2").unwrap();
        assert_eq!((r.name.as_str(), r.version), ("customer", 2));
        assert_eq!(r.to_string(), "customer@2");
        for bad in ["customer", "customer@", "customer@0", "@1", "a b@1", "c@x"] {
            assert!(ModelRef::parse(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn invalid_instances_get_every_error_with_its_path() {
        let m = customer();
        assert!(m.validate(&json!({"id": "c1", "email": "a@b.com"})).is_ok());
        let errs = m
            .validate(&json!({"id": 5, "email": "nope", "created_at": "yesterday", "x": 1}))
            .unwrap_err();
        let paths: Vec<&str> = errs.iter().map(|e| e.path.as_str()).collect();
        assert!(paths.contains(&"/id"), "{errs:?}");
        assert!(paths.contains(&"/email"), "{errs:?}");
        assert!(paths.contains(&"/created_at"), "{errs:?}");
        assert!(errs.iter().any(|e| e.message.contains('x')), "{errs:?}");
        let errs = m.validate(&json!({"id": "c1"})).unwrap_err();
        assert!(errs[0].message.contains("email"), "{errs:?}");
    }

    #[test]
    fn a_bad_schema_is_refused() {
        let e = Model::compile(ModelRef::parse("x@1").unwrap(), &json!({"type": 5})).unwrap_err();
        assert!(e.contains("x@1"), "{e}");
    }
}
