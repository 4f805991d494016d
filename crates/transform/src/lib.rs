//! Junction's data shaping. Now: jq programs (run by the embedded `jaq` interpreter) that pick
//! values out of payloads and decide route filters. Codecs, models and mappings build on this.
#![forbid(unsafe_code)]

pub mod jq;

pub use jq::{JqError, Program, Val};
