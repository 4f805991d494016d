//! Junction's HTTP server (axum).
//!
//! Every request passes one middleware, [`observe::edge`]: request id, trace context, span, the
//! request timeout, panic catching, [`errors::normalize`] (every error answer is the JSON body
//! `{"error":{"code","message","hint"}}`), metrics and one log line; then the body-size limit.
//!
//! Routes now: `/healthz` (the process is alive), `/readyz` (config loaded, store reachable, not
//! shutting down), `/metrics` (Prometheus text).
#![forbid(unsafe_code)]

pub mod admin;
pub mod api_tokens;
pub mod errors;
mod health;
pub mod history;
pub mod inspect;
pub mod limits;
mod listen;
mod observe;
pub mod reload;
pub mod rollouts;
mod run;
pub mod shared;
mod state;
pub mod tls;

pub use errors::ApiError;
pub use run::{router, serve, shutdown_signal};
pub use state::{AppState, Drain, Health};
