//! Writes this process's per-minute history to the store every few seconds (and once more on
//! shutdown), and drops rows older than the retention.

use std::time::Duration;

use junction_core::time::now_ms;
use junction_store::MinuteRow;
use junction_telemetry::history::{self, Minutes};

use crate::AppState;

/// How often the current minute's figures are written.
pub const FLUSH_EVERY: Duration = Duration::from_secs(5);
/// How long minute rows are kept.
pub const KEEP: Duration = Duration::from_secs(48 * 3600);

/// Every process's minute rows from `since` on, merged per series and minute.
pub async fn merged(
    store: &dyn junction_store::Store,
    since: i64,
) -> Result<history::Merged, junction_store::StoreError> {
    let rows = store.minutes(since).await?;
    Ok(history::merge(rows.iter().map(|r| {
        (
            r.minute,
            r.kind.as_str(),
            r.name.as_str(),
            r.counts.as_str(),
            r.hist.as_str(),
        )
    })))
}

/// Starts the flusher; it stops when the process shuts down (after a last flush).
pub fn start(state: &AppState) {
    let minutes = std::sync::Arc::new(tokio::sync::Mutex::new(Minutes::default()));
    let (s, m) = (state.clone(), minutes.clone());
    let task = tokio::spawn(async move {
        let mut tick = tokio::time::interval(FLUSH_EVERY);
        tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        let mut last_purge = 0;
        loop {
            tick.tick().await;
            flush(&s, &m).await;
            let now = now_ms();
            if now - last_purge > 3_600_000 {
                last_purge = now;
                let before = now - junction_core::time::ms(KEEP);
                if let Err(e) = s.store.purge_minutes(before).await {
                    tracing::debug!(error = %e, "cannot purge old minute rows");
                }
            }
        }
    });
    let s = state.clone();
    state.on_shutdown(Box::new(move |_grace| {
        Box::pin(async move {
            task.abort();
            flush(&s, &minutes).await;
        })
    }));
}

async fn flush(state: &AppState, minutes: &tokio::sync::Mutex<Minutes>) {
    let rows: Vec<MinuteRow> = minutes
        .lock()
        .await
        .tick(now_ms(), &state.history.all())
        .into_iter()
        .map(|r| MinuteRow {
            minute: r.minute,
            kind: r.kind.as_str().into(),
            name: r.name,
            node: state.node_id.to_string(),
            counts: r.figures.counts_json(r.kind).to_string(),
            hist: r.figures.hist_json(),
        })
        .collect();
    if let Err(e) = state.store.save_minutes(rows).await {
        tracing::debug!(error = %e, "cannot write the minute history; the next flush retries");
    }
}
