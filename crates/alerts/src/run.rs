//! The evaluation loop of one process.

use std::sync::Arc;

use junction_config::Alerts;
use junction_core::time::now_ms;
use junction_server::AppState;
use junction_store::{AlertChange, Store};
use tokio::time::Instant;

use crate::evaluate::Evaluator;
use crate::notify::{Notice, Notifier};
use crate::signals::Material;

/// What only the running process knows.
pub trait Live: Send + Sync + 'static {
    /// `(connector, share of its fullest quota window in use)`.
    fn quota_use(&self) -> Vec<(String, f64)>;
    /// Why the last config reload was refused, while the hub runs an older config.
    fn reload_failed(&self) -> Option<String> {
        None
    }
    /// `(rollout, why)` of each rollout rolled back now.
    fn rolled_back(&self) -> Vec<(String, String)> {
        Vec::new()
    }
    /// The running config's jobs that are not paused: `(name, period_ms)`, and since when this
    /// process has been waiting for runs (its start).
    fn jobs(&self) -> (Vec<(String, i64)>, i64) {
        (Vec::new(), 0)
    }
    /// The alert rules and sinks of the config running now (a reload may have changed them);
    /// `None` keeps the ones the loop started with.
    fn alerts(&self) -> Option<Alerts> {
        None
    }
}

/// Starts evaluating `alerts` every `evaluate_every` until the process stops.
pub fn start(state: &AppState, alerts: Alerts, live: Arc<dyn Live>) {
    let store = state.store.clone();
    let task = tokio::spawn(run(store, alerts, live));
    state.on_shutdown(Box::new(move |_| {
        Box::pin(async move {
            task.abort();
        })
    }));
}

/// The loop (public for tests: it runs until dropped).
pub async fn run(store: Arc<dyn Store>, mut alerts: Alerts, live: Arc<dyn Live>) {
    let mut notifier = Arc::new(Notifier::new(alerts.sinks.clone()));
    let mut ev = Evaluator::default();
    match store.alerts().await {
        Ok(existing) => {
            for a in existing
                .iter()
                .filter(|a| a.state == junction_store::AlertState::Firing)
            {
                ev.seed_firing(&a.rule, &a.subject);
            }
        }
        Err(e) => {
            tracing::warn!(error = %e, "cannot read alert state; firing alerts resolve once they fire again")
        }
    }
    let mut tick = tokio::time::interval(alerts.evaluate_every);
    tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    loop {
        tick.tick().await;
        // A reloaded config's rules and sinks take over at the next round; a rule that is gone
        // stops being evaluated (its firing alert resolves once the rule returns, or stays as
        // the last word on it).
        if let Some(now) = live.alerts().filter(|a| *a != alerts) {
            if now.sinks != alerts.sinks {
                notifier = Arc::new(Notifier::new(now.sinks.clone()));
            }
            if now.evaluate_every != alerts.evaluate_every {
                tick = tokio::time::interval(now.evaluate_every);
                tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
                tick.tick().await;
            }
            tracing::info!(
                rules = now.rules.len(),
                sinks = now.sinks.len(),
                "alert rules reloaded"
            );
            alerts = now;
        }
        if let Err(e) = round(store.as_ref(), &alerts, live.as_ref(), &mut ev, &notifier).await {
            tracing::warn!(error = %e, "alert evaluation skipped: the store did not answer");
        }
    }
}

async fn round(
    store: &dyn Store,
    alerts: &Alerts,
    live: &dyn Live,
    ev: &mut Evaluator,
    notifier: &Arc<Notifier>,
) -> Result<(), junction_store::StoreError> {
    let at = now_ms();
    let mut material = Material::gather(store, &alerts.rules, live.quota_use(), at).await?;
    material.reload_failed = live.reload_failed();
    material.certificates = junction_outbound::certificates::expiries();
    material.rolled_back = live.rolled_back();
    if alerts.rules.iter().any(|r| {
        matches!(
            r.signal,
            junction_config::Signal::JobFailing
                | junction_config::Signal::JobNotRun
                | junction_config::Signal::WebhooksMissed
        )
    }) {
        let (jobs, since) = live.jobs();
        let paused = store.paused_jobs().await?;
        for (name, period) in jobs.into_iter().filter(|(n, _)| !paused.contains(n)) {
            material
                .jobs
                .push(crate::signals::JobHealth::read(store, &name, period, since).await?);
        }
    }
    let now = Instant::now();
    for rule in &alerts.rules {
        for c in ev.step(now, rule, &material.readings(rule)) {
            let change = AlertChange {
                rule: c.rule.clone(),
                subject: c.subject.clone(),
                severity: c.severity.into(),
                fire: c.fire,
                refresh: c.refresh,
                value: if c.value.is_finite() { c.value } else { 0.0 },
                message: c.message.clone(),
                at,
            };
            // Only the process that makes the change notifies.
            if store.change_alert(change).await? {
                let key = format!("{}/{}", c.rule, c.subject);
                let fired_count = store
                    .alerts()
                    .await
                    .ok()
                    .and_then(|all| all.into_iter().find(|a| a.key == key))
                    .map_or(1, |a| a.fired_count);
                let n = Notice {
                    change: c,
                    at_ms: at,
                    fired_count,
                };
                let notifier = notifier.clone();
                tokio::spawn(async move { notifier.send(&n).await });
            }
        }
    }
    let firing = store
        .alerts()
        .await?
        .iter()
        .filter(|a| a.state == junction_store::AlertState::Firing)
        .count();
    metrics::gauge!("junction_alerts_firing").set(firing as f64);
    Ok(())
}
