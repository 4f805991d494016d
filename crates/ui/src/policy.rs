//! A retry and a circuit policy in words, the same for a destination's page and a connector's.

use junction_resilience::{CircuitPolicy, RetryPolicy};
use maud::{html, Markup};

use crate::layout::{count, duration};

pub fn retry(p: &RetryPolicy) -> Markup {
    html! {
        (count(p.attempts.into(), "attempt", "attempts")) ", backoff " (duration(p.backoff.base)) " to " (duration(p.backoff.max))
        @if !p.classes.also_retry.is_empty() {
            "; also retries " (p.classes.also_retry.iter().map(u16::to_string).collect::<Vec<_>>().join(", "))
        }
    }
}

pub fn circuit(p: &CircuitPolicy) -> Markup {
    let trip = &p.trip;
    html! {
        "opens "
        @if let Some(n) = trip.consecutive { "after " (n) " failures in a row" }
        @if trip.consecutive.is_some() && trip.rate.is_some() { " or " }
        @if let Some(r) = &trip.rate {
            "at " (format!("{:.0}%", r.error_rate * 100.0)) " errors over " (duration(r.window))
            " (≥ " (r.min_calls) " calls)"
        }
        @if trip.consecutive.is_none() && trip.rate.is_none() { "never" }
        ", for " (duration(p.open_for)) " before "
        (count(p.probes.into(), "probe", "probes"))
    }
}
