//! Alerts: silent failures made visible.
//!
//! Every `evaluate_every`, each process reads what the rules need (the per-minute history of
//! every process, dead letters, disabled destinations, connections needing re-authorisation,
//! drift records, its own quota use), turns it into readings per rule and subject
//! ([`signals`]), and steps a small state machine per alert ([`evaluate`]): an alert fires once
//! its condition has held for `for`, and resolves once it has been clear for `resolve_after`,
//! so a flapping signal cannot produce a storm of notifications. Firing and resolving are
//! compare-and-set changes in the store: when several processes see the same condition, one
//! of them makes the change and only that one notifies ([`notify`]: JSON webhook,
//! Slack-compatible webhook, and always the log).
#![forbid(unsafe_code)]

pub mod evaluate;
pub mod notify;
mod run;
pub mod signals;

pub use run::{run as run_for_tests, start, Live};
