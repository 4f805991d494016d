//! Sources, destinations, routes and delivery settings: as written ([`raw`]), checked ([`resolve`]) and validated ([`resolved`]).

pub mod pull;
pub mod raw;
pub(crate) mod resolve;
pub mod resolved;
