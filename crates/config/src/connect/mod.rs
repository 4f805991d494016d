//! Connectors: the vendors called through `/proxy`, their credentials and call policies: as written ([`raw`]), checked ([`resolve`]) and validated ([`resolved`]).

pub mod operation;
pub mod raw;
pub(crate) mod resolve;
pub mod resolved;
pub mod versions;
