//! Junction's data shaping: jq programs (jaq) run in a sandbox with limits, mappings between
//! shapes, canonical models (JSON Schema) and their validation.

pub mod codec;
pub mod drift;
mod fold;
mod guard;
pub mod jq;
mod mapping;
mod meter;
mod model;
mod natives;
pub mod pool;
mod projection;
mod recursion;
mod sandbox;
pub mod testing;
pub mod value;

pub use jq::*;
pub use mapping::{MapError, Mapping};
pub use meter::{Limits, Metered};
pub use model::{describe, Model, ModelRef, SchemaError};
