//! Logs, traces and metrics.
//!
//! - Logs go through `tracing`, as JSON lines or pretty text, to stderr. Every line passes the
//!   [`mask`](junction_core::mask) on its way out: registered secret values and credential-named
//!   fields never reach the output, whatever code logged them.
//! - Traces are exported over OTLP/HTTP when an endpoint is configured; the W3C `traceparent` of
//!   incoming requests is honoured either way.
//! - Metrics use the `metrics` facade with a Prometheus recorder installed once per process.
#![forbid(unsafe_code)]

pub mod history;
mod logs;
pub mod metrics;
mod traces;

pub use logs::{init, Guard, MaskingWriter};
pub use traces::{continue_trace, outgoing_traceparent, parent_context, TraceParent};
