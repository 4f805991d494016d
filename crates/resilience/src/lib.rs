//! The one vocabulary of every outbound call — a connector's call to its vendor, a delivery to
//! a destination: quotas (several sliding windows, a pause on `Retry-After`, limits learned from
//! rate-limit headers), retries (a policy, backoff with full jitter, a retry budget), one circuit
//! breaker with its trip policies, and one classification of an attempt's outcome.
//!
//! Everything here runs on tokio's clock (`tokio::time::Instant`), so tests pause and advance
//! time instead of sleeping. None of it does I/O: callers ask and report.
#![forbid(unsafe_code)]

pub mod backoff;
pub mod circuit;
pub mod outcome;
pub mod quota;
pub mod retry;
pub mod rollout;
mod window;

pub use backoff::Backoff;
pub use circuit::{Circuit, CircuitPolicy, CircuitState, Permit, RateTrip, Transition, Trip};
pub use outcome::{Answer, Class, Classes, Judgement};
pub use quota::{
    LocalQuota, QuotaState, ResetUnit, ShareAsk, ShareGrant, Signal, VendorHeaders, Window, WHOLE,
};
pub use retry::{BudgetPolicy, RetryBudget, RetryPolicy};
