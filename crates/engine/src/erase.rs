//! Erasure by data subject: `POST /api/v1/erasures` and `junction erase`.
//!
//! A source's `event.subject` says who each event is about; the store keeps the SHA-256 of
//! that identifier beside the event. Erasing a subject deletes, in one transaction, every event
//! about it with its deliveries (dead letters and quarantine too), attempts (and their response
//! excerpts) and tracked entities, and every rejected-request sample, drift detail and
//! asynchronous call that contains the identifier; on SQLite the freed bytes are zeroed and the
//! WAL truncated. The erasure is kept (the hash, who, why, what went), and an event about the
//! subject that arrives later — a provider's retry, a sync, a replay from the provider — is
//! acknowledged and not stored.
//!
//! An event being written while the erasure runs could escape it (its transaction began
//! before the erasure was kept); every process's maintenance erases each subject again for
//! [`SWEEP_FOR`] after its erasure, which catches it.

use std::time::Duration;

use junction_core::time::{ms, now_ms};
use junction_core::{Code, Error};
use junction_store::{Erase, ErasedCounts, NewAudit, Store};

/// How long after an erasure maintenance repeats it.
pub const SWEEP_FOR: Duration = Duration::from_secs(60);
/// Longest subject identifier accepted (as `event.subject` reads them).
const MAX_SUBJECT: usize = 255;
/// Longest reason kept.
const MAX_REASON: usize = 500;
/// Most recent erasures repeated per maintenance round.
const SWEEP_LIMIT: usize = 100;

/// Who asks for an erasure, as the audit log names them.
pub struct Requester<'a> {
    pub actor: &'a str,
    pub origin: &'a str,
}

/// Erases every trace of `subject` (see the module's doc) after recording who asked and why in
/// the audit log (never the identifier itself: its hash). An erasure that cannot be audited is
/// not done.
pub async fn erase(
    store: &dyn Store,
    subject: &str,
    reason: &str,
    by: Requester<'_>,
) -> Result<(String, ErasedCounts), Error> {
    let subject = subject.trim();
    if subject.is_empty() || subject.len() > MAX_SUBJECT || subject.chars().any(char::is_control) {
        return Err(Error::downstream(
            Code::BadRequest,
            format!("`subject` must be 1 to {MAX_SUBJECT} characters, none a control character"),
        )
        .with_hint(
            "give the identifier the sources' `event.subject` reads: a customer id, an email",
        ));
    }
    let reason = reason.trim();
    if reason.is_empty() || reason.len() > MAX_REASON || reason.chars().any(char::is_control) {
        return Err(Error::downstream(
            Code::BadRequest,
            format!("`reason` must be 1 to {MAX_REASON} characters, none a control character"),
        )
        .with_hint("say why, for the audit log: a ticket, a request reference"));
    }
    let hash = junction_store::subject_hash(subject);
    let shown = hex::encode(hash);
    let at = now_ms();
    store
        .append_audit(NewAudit {
            at,
            actor: by.actor.to_owned(),
            action: "subject.erase".into(),
            target: format!("subject:{shown}"),
            origin: by.origin.to_owned(),
            detail: serde_json::json!({ "reason": reason }).to_string(),
        })
        .await
        .map_err(|e| {
            Error::from(e).with_hint(
                "the audit log could not be written, so nothing was erased; retry when the store is back",
            )
        })?;
    let erased = store
        .erase(Erase {
            subject: hash,
            value: Some(subject.to_owned()),
            actor: by.actor.to_owned(),
            reason: reason.to_owned(),
            at,
            record: true,
        })
        .await?;
    metrics::counter!("junction_erasures_total").increment(1);
    tracing::info!(subject = %shown, events = erased.events, deliveries = erased.deliveries, actor = %by.actor, "data subject erased");
    Ok((shown, erased))
}

/// Erases again every subject erased in the last [`SWEEP_FOR`]: an event that was being written
/// while its erasure ran is removed now.
pub async fn sweep(store: &dyn Store, now: i64) {
    let recent = match store.erasures(SWEEP_LIMIT).await {
        Ok(r) => r,
        Err(e) => {
            tracing::warn!(error = %e, "could not read recent erasures; sweeping later");
            return;
        }
    };
    for r in recent.iter().filter(|r| now - r.at <= ms(SWEEP_FOR)) {
        let swept = store
            .erase(Erase {
                subject: r.subject,
                value: None,
                actor: r.actor.clone(),
                reason: r.reason.clone(),
                at: now,
                record: false,
            })
            .await;
        match swept {
            Ok(c) if c.total() > 0 => tracing::warn!(
                subject = %hex::encode(r.subject),
                events = c.events,
                "events about an erased subject, written while its erasure ran, were erased"
            ),
            Ok(_) => {}
            Err(e) => tracing::warn!(error = %e, "sweeping an erasure failed; trying again"),
        }
    }
}
