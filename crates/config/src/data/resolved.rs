//! Validated models and mappings: schemas compiled, programs compiled, tests ready to run.

use std::collections::BTreeMap;
use std::sync::Arc;

pub use junction_transform::{Limits, Mapping, Model, ModelRef};

/// A mapping with the model its output must satisfy and its examples.
#[derive(Debug, Clone)]
pub struct MappingDef {
    pub mapping: Mapping,
    pub to: Option<Arc<Model>>,
    pub tests: Vec<MappingTest>,
    /// Where the mapping is declared (`file:line`), for reports.
    pub at: String,
}

/// One example of a mapping.
#[derive(Debug, Clone)]
pub struct MappingTest {
    pub name: String,
    pub input: serde_json::Value,
    pub expect: Expect,
    /// Where the test is declared (`file:line`).
    pub at: String,
}

#[derive(Debug, Clone, PartialEq)]
pub enum Expect {
    Output(serde_json::Value),
    /// The mapping must fail with an error containing this text.
    Error(String),
}

/// Models by `name@version` and mappings by name.
#[derive(Debug, Clone, Default)]
pub struct Shapes {
    pub models: BTreeMap<ModelRef, Arc<Model>>,
    pub mappings: BTreeMap<String, MappingDef>,
}
