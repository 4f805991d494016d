//! Policies that keep outbound calls safe for the vendor and for Junction: quotas (several
//! sliding windows, a pause on `Retry-After`, limits learned from rate-limit headers), retry
//! backoff with full jitter and a retry budget, and a circuit breaker over a sliding window.
//!
//! Everything here runs on tokio's clock (`tokio::time::Instant`), so tests pause and advance
//! time instead of sleeping. None of it does I/O: the connector pipeline asks and reports.
#![forbid(unsafe_code)]

pub mod circuit;
pub mod quota;
pub mod retry;
mod window;

pub use circuit::{Circuit, CircuitPolicy, CircuitState, Permit};
pub use quota::{LocalQuota, QuotaState, Signal, Window};
pub use retry::{Backoff, RetryBudget};
