//! `models:` and `mappings:` as written.

use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

use crate::units::{ByteSize, HumanDuration};

/// A canonical model's JSON Schema: a file path (relative to the config file) or the schema inline.
#[derive(Debug, Deserialize, Serialize, JsonSchema)]
#[serde(untagged)]
pub enum RawModel {
    /// `customer@2: models/customer.v2.schema.json`
    File(String),
    /// `customer@2: { schema: { type: object, … } }`
    Inline(RawInlineModel),
}

#[derive(Debug, Deserialize, Serialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct RawInlineModel {
    /// The JSON Schema (draft 2020-12 unless `$schema` says otherwise).
    pub schema: serde_json::Value,
}

/// A jq program from one shape to another, with its own tests.
#[derive(Debug, Deserialize, Serialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct RawMapping {
    /// The jq program. Junction's prelude is available (iso8601, unix, enum_map, get,
    /// minor_to_decimal, decimal_to_minor, empty_to_null…); recursive `def`s, `env` and `input`
    /// are not.
    pub jq: String,
    /// The model its output must satisfy (`customer@2`); checked on every run and in its tests.
    #[serde(default)]
    pub to: Option<String>,
    /// Limits of one run.
    #[serde(default)]
    pub limits: RawLimits,
    /// Examples that `junction test` and `junction check` run.
    #[serde(default)]
    pub tests: Vec<RawMappingTest>,
}

/// Limits of one run of a mapping.
#[derive(Debug, Default, Deserialize, Serialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct RawLimits {
    /// Wall-clock time of one run. Default 250ms.
    #[serde(default)]
    pub time: Option<HumanDuration>,
    /// Values the generators (`range`, `repeat`, `recurse`, `while`, `until`) may produce.
    /// Default 1000000.
    #[serde(default)]
    pub steps: Option<u64>,
    /// Largest output (compact JSON). Default 1MiB.
    #[serde(default)]
    pub output: Option<ByteSize>,
    /// Deepest nesting of the output. Default 64.
    #[serde(default)]
    pub depth: Option<usize>,
    /// Most memory one run may hold (checked at every generator step). Default 64MiB.
    #[serde(default)]
    pub memory: Option<ByteSize>,
}

/// One example: an input, and the output or the error expected.
#[derive(Debug, Deserialize, Serialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct RawMappingTest {
    /// A name shown in reports. Default: the test's position.
    #[serde(default)]
    pub name: Option<String>,
    pub input: serde_json::Value,
    /// The exact output expected.
    #[serde(default)]
    pub output: Option<serde_json::Value>,
    /// Text the error is expected to contain (the mapping must fail).
    #[serde(default)]
    pub error: Option<String>,
}
