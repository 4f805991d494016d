//! Background upkeep: queue-depth gauges per destination, and deleting delivered events past
//! their retention so the tables (and vacuum) stay small.

use std::time::Duration;

use junction_core::time::{ms, now_ms};
use junction_server::AppState;
use junction_transform::drift::Tracker;

/// How often queue gauges are refreshed.
const STATS_EVERY: Duration = Duration::from_secs(5);
/// Events deleted per purge statement.
const PURGE_BATCH: usize = 5_000;

pub fn spawn(state: AppState) {
    tokio::spawn(async move {
        let mut tick = tokio::time::interval(STATS_EVERY);
        tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        let mut rounds: u64 = 0;
        loop {
            tick.tick().await;
            if state.health.shutting_down() {
                return;
            }
            stats(&state).await;
            crate::erase::sweep(state.store.as_ref(), now_ms()).await;
            rounds += 1;
            // Purge once a minute.
            if rounds % 12 == 1 {
                purge(&state).await;
            }
        }
    });
}

/// Persists the drift this process found since the last flush, so every process's drift is
/// listed together (and survives restarts), and the shapes it learned (so a process that starts
/// does not learn them again). What cannot be written now is kept for the next one.
pub async fn flush_drift(store: &dyn junction_store::Store, tracker: &Tracker) {
    let shapes: Vec<junction_store::LearnedShape> = tracker
        .unsaved_shapes()
        .into_iter()
        .map(|s| junction_store::LearnedShape {
            scope: s.scope,
            subject: s.subject,
            samples: i64::try_from(s.samples).unwrap_or(i64::MAX),
            shape: s.shape,
            saved_at: now_ms(),
        })
        .collect();
    if let Err(e) = store.save_shapes(shapes).await {
        // Saved again once they learn more.
        tracing::warn!(error = %e, "could not save learned shapes");
    }
    let drained = tracker.drain();
    if drained.is_empty() {
        return;
    }
    let rows = drained.iter().map(drift_row).collect();
    if let Err(e) = store.record_drift(rows).await {
        tracing::warn!(error = %e, "could not persist schema drift; will try again");
        tracker.restore(drained);
    }
}

/// Takes the shapes processes saved, so this one checks payloads against them from its first.
pub async fn load_shapes(store: &dyn junction_store::Store, tracker: &Tracker) {
    match store
        .learned_shapes(junction_transform::drift::MAX_SUBJECTS)
        .await
    {
        Ok(saved) => {
            for s in saved {
                tracker.adopt(&junction_transform::drift::SavedShape {
                    scope: s.scope,
                    subject: s.subject,
                    samples: u64::try_from(s.samples).unwrap_or(0),
                    shape: s.shape,
                });
            }
        }
        Err(e) => {
            tracing::warn!(error = %e, "could not read the learned shapes; learning them again")
        }
    }
}

fn drift_row(r: &junction_transform::drift::Record) -> junction_store::DriftRecord {
    junction_store::DriftRecord {
        scope: r.scope.clone(),
        subject: r.subject.clone(),
        path: r.path.clone(),
        kind: r.kind.as_str().to_owned(),
        detail: r.detail.clone(),
        first_seen: r.first_seen,
        last_seen: r.last_seen,
        count: r.count as i64,
    }
}

/// Drift as every process has persisted it, plus what this process found since its last flush
/// (so a reader sees it at once), most recently seen first. Reads only: a GET writes nothing.
pub async fn drift(
    store: &dyn junction_store::Store,
    tracker: &Tracker,
    limit: usize,
) -> Result<Vec<junction_store::DriftRecord>, junction_store::StoreError> {
    let mut rows = store.drift(limit).await?;
    for r in tracker.unflushed() {
        let fresh = drift_row(&r);
        let same = rows.iter_mut().find(|s| {
            (&s.scope, &s.subject, &s.path, &s.kind)
                == (&fresh.scope, &fresh.subject, &fresh.path, &fresh.kind)
        });
        match same {
            Some(s) => {
                s.count += fresh.count;
                s.first_seen = s.first_seen.min(fresh.first_seen);
                s.last_seen = s.last_seen.max(fresh.last_seen);
            }
            None => rows.push(fresh),
        }
    }
    rows.sort_by_key(|r| std::cmp::Reverse(r.last_seen));
    rows.truncate(limit);
    Ok(rows)
}

async fn stats(state: &AppState) {
    let now = now_ms();
    flush_drift(state.store.as_ref(), &state.drift).await;
    if let Ok(q) = state.store.queue_stats(now).await {
        metrics::gauge!("junction_deliveries_quarantined").set(q.quarantined as f64);
    }
    let Ok(rows) = state.store.destination_stats(now).await else {
        return;
    };
    for name in state.config().flows.destinations.keys() {
        let s = rows.iter().find(|r| &r.destination == name);
        let (pending, due, dead, age) = match s {
            Some(s) => (
                s.pending,
                s.due,
                s.dead,
                s.oldest_due_at.map(|t| (now - t).max(0)).unwrap_or(0),
            ),
            None => (0, 0, 0, 0),
        };
        let d = name.clone();
        metrics::gauge!("junction_deliveries_pending", "destination" => d.clone())
            .set(pending as f64);
        metrics::gauge!("junction_deliveries_due", "destination" => d.clone()).set(due as f64);
        metrics::gauge!("junction_deliveries_dead", "destination" => d.clone()).set(dead as f64);
        metrics::gauge!("junction_oldest_due_age_seconds", "destination" => d)
            .set(age as f64 / 1000.0);
    }
}

/// Discards the dead letters and quarantined deliveries each destination keeps no longer than
/// its retention (`now` in ms): they stop blocking their `fifo` key and are deleted with their
/// events by the next purge. Answers how many.
pub async fn expire_parked(state: &AppState, now: i64) -> u64 {
    let config = state.config();
    let mut total = 0;
    for d in config.flows.destinations.values() {
        for quarantined in [false, true] {
            let keep = d.parked_retention(&config.delivery, quarantined);
            if keep.is_zero() {
                continue;
            }
            let filter = junction_store::DeadFilter {
                quarantined,
                destination: Some(d.name.clone()),
                until: Some(now - ms(keep)),
                ..Default::default()
            };
            let (what, setting) = if quarantined {
                ("quarantined", "quarantine_retention")
            } else {
                ("dead", "dead_letter_retention")
            };
            let reason = format!(
                "expired: kept {} ({setting})",
                humantime::format_duration(keep)
            );
            loop {
                match state
                    .store
                    .discard(&filter, PURGE_BATCH, now, &reason)
                    .await
                {
                    Ok(ids) => {
                        let n = ids.len() as u64;
                        total += n;
                        if n > 0 {
                            metrics::counter!("junction_deliveries_expired_total", "destination" => d.name.clone(), "state" => what)
                                .increment(n);
                            tracing::info!(destination = %d.name, state = what, expired = n, "{reason}");
                        }
                        if (n as usize) < PURGE_BATCH || state.health.shutting_down() {
                            break;
                        }
                    }
                    Err(e) => {
                        tracing::warn!(error = %e, "expiring old dead letters failed; trying again later");
                        break;
                    }
                }
            }
        }
    }
    total
}

async fn purge(state: &AppState) {
    let now = now_ms();
    expire_parked(state, now).await;
    purge_delivered(state, now).await;
    archive_audit(state, now).await;
}

/// Entries archived per file.
const ARCHIVE_BATCH: usize = 10_000;

/// Moves the audit entries older than `server.audit.retention` to files in its `archive`
/// folder, then deletes them from the store (never before their file is on disk). Answers how
/// many were archived.
pub async fn archive_audit(state: &AppState, now: i64) -> u64 {
    let config = state.config();
    let Some(audit) = &config.server.audit else {
        return 0;
    };
    let before = now - ms(audit.retention);
    let mut total = 0;
    loop {
        let after = match state.store.audit_start().await {
            Ok(start) => start.map(|s| s.0).unwrap_or(0),
            Err(e) => {
                tracing::warn!(error = %e, "archiving the audit log failed; trying again later");
                break;
            }
        };
        let old: Vec<_> = match state.store.audit_after(after, ARCHIVE_BATCH).await {
            Ok(page) => page.into_iter().take_while(|r| r.at < before).collect(),
            Err(e) => {
                tracing::warn!(error = %e, "archiving the audit log failed; trying again later");
                break;
            }
        };
        let Some(last) = old.last().cloned() else {
            break;
        };
        let dir = audit.archive.clone();
        let full = old.len() == ARCHIVE_BATCH;
        let written =
            tokio::task::spawn_blocking(move || junction_store::audit_archive::write(&dir, &old))
                .await;
        let path = match written {
            Ok(Ok(path)) => path,
            Ok(Err(e)) => {
                metrics::counter!("junction_audit_archive_failures_total").increment(1);
                tracing::error!(archive = %audit.archive.display(), error = %e, "cannot write the audit archive; the entries stay in the database");
                break;
            }
            Err(e) => {
                tracing::error!(error = %e, "the audit archive writer stopped");
                break;
            }
        };
        match state.store.drop_audit_through(last.seq, &last.hash).await {
            Ok(n) => {
                total += n;
                metrics::counter!("junction_audit_archived_total").increment(n);
                tracing::info!(file = %path.display(), entries = n, through = last.seq, "audit entries past server.audit.retention moved to the archive");
            }
            Err(e) => {
                tracing::warn!(error = %e, "deleting archived audit entries failed; trying again later");
                break;
            }
        }
        if !full || state.health.shutting_down() {
            break;
        }
    }
    total
}

/// Deletes the delivered events each source keeps no longer than its retention (its own, else
/// `delivery.retention`; zero keeps them). Answers how many.
pub async fn purge_delivered(state: &AppState, now: i64) -> u64 {
    let config = state.config();
    let own: Vec<(&String, std::time::Duration)> = config
        .flows
        .sources
        .values()
        .filter_map(|s| s.retention.map(|r| (&s.name, r)))
        .collect();
    let mut passes: Vec<(std::time::Duration, junction_store::Sources)> = own
        .iter()
        .map(|(name, r)| (*r, junction_store::Sources::Only((*name).clone())))
        .collect();
    passes.push((
        config.delivery.retention,
        if own.is_empty() {
            junction_store::Sources::All
        } else {
            junction_store::Sources::Except(own.iter().map(|(n, _)| (*n).clone()).collect())
        },
    ));
    let mut total = 0;
    for (retention, sources) in passes {
        if !retention.is_zero() {
            total += purge_pass(state, now - ms(retention), &sources).await;
        }
    }
    total
}

async fn purge_pass(state: &AppState, before: i64, sources: &junction_store::Sources) -> u64 {
    let mut total = 0;
    loop {
        match state.store.purge(before, PURGE_BATCH, sources).await {
            Ok(n) => {
                total += n;
                if (n as usize) < PURGE_BATCH || state.health.shutting_down() {
                    break;
                }
            }
            Err(e) => {
                tracing::warn!(error = %e, "purging old events failed; trying again later");
                break;
            }
        }
    }
    if total > 0 {
        metrics::counter!("junction_events_purged_total").increment(total);
        tracing::info!(
            purged = total,
            "deleted delivered events past their retention"
        );
    }
    total
}

#[cfg(test)]
mod tests {
    use junction_transform::drift::{Drift, Kind, Tracker};

    #[tokio::test]
    async fn reading_drift_shows_this_processs_unflushed_records_and_writes_nothing() {
        let options = junction_store::Options {
            url: junction_core::DatabaseUrl::Sqlite(":memory:".into()),
            max_connections: 1,
            connect_timeout: std::time::Duration::from_secs(5),
        };
        let store = junction_store::open(&options).await.unwrap();
        let tracker = Tracker::default();
        let subject = "maintain-test/customer.updated";
        let drift = Drift {
            path: "data.email".into(),
            kind: Kind::MissingField,
            detail: "gone".into(),
        };
        tracker.record("source", subject, &[drift], 1_000);
        let shown = super::drift(store.as_ref(), &tracker, 100).await.unwrap();
        assert!(
            shown.iter().any(|r| r.subject == subject && r.count == 1),
            "{shown:?}"
        );
        assert!(
            store.drift(100).await.unwrap().is_empty(),
            "a read persists nothing"
        );
        assert!(
            tracker.unflushed().iter().any(|r| r.subject == subject),
            "still waiting for the next flush"
        );
        super::flush_drift(store.as_ref(), &tracker).await;
        let shown = super::drift(store.as_ref(), &tracker, 100).await.unwrap();
        let ours: Vec<_> = shown.iter().filter(|r| r.subject == subject).collect();
        assert_eq!(ours.len(), 1, "flushed and unflushed are not counted twice");
        assert_eq!(ours[0].count, 1);
    }

    #[tokio::test]
    async fn a_starting_process_takes_the_shapes_others_learned_and_sees_drift_at_once() {
        let dir = tempfile::tempdir().unwrap();
        let options = junction_store::Options {
            url: junction_core::DatabaseUrl::Sqlite(dir.path().join("s.db")),
            max_connections: 2,
            connect_timeout: std::time::Duration::from_secs(5),
        };
        let store = junction_store::open(&options).await.unwrap();
        let first = Tracker::default();
        let payload = serde_json::json!({"id": "cus_1", "email": "a@example.com"});
        for i in 0..30 {
            first.observe("source", "crm/customer.updated", &payload, i);
        }
        super::flush_drift(store.as_ref(), &first).await;
        // A process with fewer samples never overwrites what was learned from more.
        let newcomer = Tracker::default();
        newcomer.observe("source", "crm/customer.updated", &payload, 0);
        super::flush_drift(store.as_ref(), &newcomer).await;
        let saved = store.learned_shapes(10).await.unwrap();
        assert_eq!(saved.len(), 1);
        assert_eq!(saved[0].samples, 30);
        // A process that starts now checks the first payload against the learned shape.
        let second = Tracker::default();
        super::load_shapes(store.as_ref(), &second).await;
        assert_eq!(second.learned_subjects(), 1);
        let drifts = second.observe(
            "source",
            "crm/customer.updated",
            &serde_json::json!({"id": "cus_2"}),
            40,
        );
        assert!(
            drifts
                .iter()
                .any(|d| d.kind == Kind::MissingField && d.path == "email"),
            "{drifts:?}"
        );
    }
}
