//! Webhook authentication: verifiers for inbound requests (one module per provider scheme behind
//! the [`Verifier`] trait) and the Standard Webhooks signer for outbound deliveries.
//!
//! Every comparison of a signature or password is constant-time. Verifiers accept several
//! secrets at once (rotation) and refuse a signed timestamp outside the tolerance window (replay).
#![forbid(unsafe_code)]

pub mod sign;
pub mod verify;

pub use verify::{build, Rejection, Request, Verifier};
