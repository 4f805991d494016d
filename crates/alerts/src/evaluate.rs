//! The state machine of each alert (rule × subject): pending → firing → clearing → resolved.
//! Pure: time comes in as a `tokio::time::Instant`, so rules are tested on paused time.

use std::collections::HashMap;

use junction_config::AlertRule;
use tokio::time::Instant;

use crate::signals::Reading;

/// A change to make (and, if this process makes it, to notify).
#[derive(Debug, Clone, PartialEq)]
pub struct Change {
    pub rule: String,
    pub subject: String,
    pub severity: &'static str,
    pub fire: bool,
    /// A firing alert's reading moved: update its value and message, notify nobody.
    pub refresh: bool,
    pub value: f64,
    pub message: String,
}

#[derive(Debug, Default)]
struct Local {
    above_since: Option<Instant>,
    clear_since: Option<Instant>,
    firing: bool,
    last_text: String,
    last_value: f64,
    /// The text of the last change sent for a firing alert: a firing alert whose reading
    /// moves is sent again (fire on a firing alert refreshes its value and message).
    sent_text: String,
}

/// Alert states of one process.
#[derive(Debug, Default)]
pub struct Evaluator {
    local: HashMap<(String, String), Local>,
}

impl Evaluator {
    /// Marks alerts already firing in the store (after a restart), so they can resolve.
    pub fn seed_firing(&mut self, rule: &str, subject: &str) {
        self.local
            .entry((rule.to_owned(), subject.to_owned()))
            .or_default()
            .firing = true;
    }

    /// One round for `rule` with its `readings` at `now`: the changes due.
    pub fn step(&mut self, now: Instant, rule: &AlertRule, readings: &[Reading]) -> Vec<Change> {
        let mut changes = Vec::new();
        let mut seen = std::collections::HashSet::new();
        for r in readings {
            seen.insert(r.subject.clone());
            let above = r.judged && r.value > rule.above;
            let l = self
                .local
                .entry((rule.name.clone(), r.subject.clone()))
                .or_default();
            l.last_text = r.text.clone();
            l.last_value = r.value;
            if let Some(c) = advance(l, now, rule, &r.subject, above) {
                changes.push(c);
            }
        }
        // Subjects with no reading this round (no traffic, the drift aged out): clear.
        for ((name, subject), l) in self.local.iter_mut() {
            if name == &rule.name && !seen.contains(subject) {
                l.last_value = 0.0;
                if let Some(c) = advance(l, now, rule, subject, false) {
                    changes.push(c);
                }
            }
        }
        changes
    }
}

fn advance(
    l: &mut Local,
    now: Instant,
    rule: &AlertRule,
    subject: &str,
    above: bool,
) -> Option<Change> {
    let change = |fire: bool, refresh: bool, above: bool, l: &mut Local| {
        l.sent_text = l.last_text.clone();
        Change {
            rule: rule.name.clone(),
            subject: subject.to_owned(),
            severity: rule.severity.as_str(),
            fire,
            refresh,
            value: l.last_value,
            message: match (fire, above) {
                (true, true) => format!("{subject}: {} (above {})", l.last_text, rule.above),
                (true, false) => format!(
                    "{subject}: {} (back under {}; resolves if it stays there)",
                    l.last_text, rule.above
                ),
                (false, _) => format!("{subject}: back to normal ({})", l.last_text),
            },
        }
    };
    if above {
        l.clear_since = None;
        let since = *l.above_since.get_or_insert(now);
        if !l.firing && now.duration_since(since) >= rule.for_ {
            l.firing = true;
            return Some(change(true, false, true, l));
        }
    } else {
        l.above_since = None;
        if l.firing {
            let since = *l.clear_since.get_or_insert(now);
            if now.duration_since(since) >= rule.resolve_after {
                l.firing = false;
                l.clear_since = None;
                return Some(change(false, false, false, l));
            }
        }
    }
    // Still firing, and the reading moved: its text shows the value now, not the one it
    // fired with.
    if l.firing && l.last_text != l.sent_text {
        return Some(change(true, true, above, l));
    }
    None
}

#[cfg(test)]
mod tests {
    use std::time::Duration;

    use junction_config::{Severity, Signal};

    use super::*;

    fn rule(for_s: u64, resolve_s: u64) -> AlertRule {
        AlertRule {
            name: "connector_error_rate".into(),
            signal: Signal::ConnectorErrorRate,
            subjects: vec![],
            above: 0.05,
            over: Duration::from_secs(300),
            for_: Duration::from_secs(for_s),
            resolve_after: Duration::from_secs(resolve_s),
            min_calls: 20,
            severity: Severity::Warning,
        }
    }

    fn reading(value: f64) -> Vec<Reading> {
        vec![Reading {
            subject: "crm".into(),
            value,
            judged: true,
            text: format!("{value}"),
        }]
    }

    #[tokio::test(start_paused = true)]
    async fn an_alert_fires_after_for_and_resolves_after_clear_for_resolve_after() {
        let rule = rule(60, 120);
        let mut ev = Evaluator::default();
        let every = Duration::from_secs(15);
        let mut fired_at = None;
        let start = Instant::now();
        for _ in 0..8 {
            let c = ev.step(Instant::now(), &rule, &reading(0.2));
            if !c.is_empty() {
                assert!(c[0].fire && fired_at.is_none());
                assert!(c[0].message.contains("crm"), "{}", c[0].message);
                fired_at = Some(Instant::now());
            }
            tokio::time::advance(every).await;
        }
        assert_eq!(
            fired_at.unwrap().duration_since(start),
            Duration::from_secs(60)
        );

        let clear_from = Instant::now();
        let mut resolved_at = None;
        for _ in 0..12 {
            let c: Vec<_> = ev
                .step(Instant::now(), &rule, &reading(0.0))
                .into_iter()
                .filter(|c| !c.refresh)
                .collect();
            if !c.is_empty() {
                assert!(!c[0].fire && resolved_at.is_none());
                resolved_at = Some(Instant::now());
            }
            tokio::time::advance(every).await;
        }
        assert_eq!(
            resolved_at.unwrap().duration_since(clear_from),
            Duration::from_secs(120)
        );
    }

    #[tokio::test(start_paused = true)]
    async fn a_firing_alerts_text_follows_the_current_value() {
        let rule = rule(0, 120);
        let mut ev = Evaluator::default();
        let first = ev.step(Instant::now(), &rule, &reading(0.2));
        assert_eq!(first.len(), 1);
        assert!(
            first[0].fire && !first[0].refresh && first[0].message.contains("0.2"),
            "{first:?}"
        );
        // The same reading: nothing to send.
        tokio::time::advance(Duration::from_secs(15)).await;
        assert!(ev.step(Instant::now(), &rule, &reading(0.2)).is_empty());
        // It worsens: the firing alert is sent again with the value now.
        tokio::time::advance(Duration::from_secs(15)).await;
        let worse = ev.step(Instant::now(), &rule, &reading(0.7));
        assert_eq!(worse.len(), 1);
        assert!(
            worse[0].refresh && worse[0].message.contains("0.7"),
            "{worse:?}"
        );
        assert_eq!(worse[0].value, 0.7);
        // It drops under the threshold: still firing until resolve_after, saying so.
        tokio::time::advance(Duration::from_secs(15)).await;
        let clearing = ev.step(Instant::now(), &rule, &reading(0.01));
        assert_eq!(clearing.len(), 1);
        assert!(
            clearing[0].refresh && clearing[0].message.contains("0.01 (back under 0.05"),
            "{clearing:?}"
        );
    }

    #[tokio::test(start_paused = true)]
    async fn a_flapping_signal_notifies_once_not_a_storm() {
        let rule = rule(0, 120);
        let mut ev = Evaluator::default();
        let mut changes = Vec::new();
        // Above and clear on alternate evaluations for ten minutes.
        for i in 0..40 {
            let v = if i % 2 == 0 { 0.5 } else { 0.0 };
            // Refreshes of the firing alert's text notify nobody: only state changes count.
            changes.extend(
                ev.step(Instant::now(), &rule, &reading(v))
                    .into_iter()
                    .filter(|c| !c.refresh),
            );
            tokio::time::advance(Duration::from_secs(15)).await;
        }
        assert_eq!(changes.len(), 1, "{changes:?}");
        assert!(changes[0].fire);
        // Then clear for good: one resolution, after resolve_after.
        for _ in 0..10 {
            changes.extend(
                ev.step(Instant::now(), &rule, &[])
                    .into_iter()
                    .filter(|c| !c.refresh),
            );
            tokio::time::advance(Duration::from_secs(15)).await;
        }
        assert_eq!(changes.len(), 2);
        assert!(!changes[1].fire);
    }

    #[tokio::test(start_paused = true)]
    async fn too_few_calls_to_judge_count_as_clear() {
        let rule = rule(0, 0);
        let mut ev = Evaluator::default();
        let mut r = reading(0.9);
        r[0].judged = false;
        assert!(ev.step(Instant::now(), &rule, &r).is_empty());
        ev.seed_firing("connector_error_rate", "crm");
        let c = ev.step(Instant::now(), &rule, &r);
        assert_eq!(c.len(), 1);
        assert!(!c[0].fire, "an alert fired before a restart resolves");
    }
}
