//! Alert rules and notification sinks: as written ([`raw`]), checked ([`resolve`]) and validated ([`resolved`]).

pub mod raw;
pub(crate) mod resolve;
pub mod resolved;
