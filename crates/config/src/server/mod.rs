//! The HTTP server, the store and telemetry: as written ([`raw`]), checked ([`resolve`]) and validated ([`resolved`]).

pub mod raw;
pub(crate) mod resolve;
pub mod resolved;
