//! What the rules measure: readings per rule and subject, from material read once per round.

use junction_config::{AlertRule, Signal};
use junction_store::{DriftRecord, Store, StoreError};
use junction_telemetry::history::{self, Kind, Merged};

/// One subject's value for one rule.
#[derive(Debug, Clone, PartialEq)]
pub struct Reading {
    pub subject: String,
    pub value: f64,
    /// Whether there was enough to judge (e.g. `min_calls` calls in the window); a reading that
    /// cannot be judged counts as clear.
    pub judged: bool,
    /// The value in words, for the notification.
    pub text: String,
}

/// Everything the rules read in one round.
#[derive(Debug, Default, Clone)]
pub struct Material {
    pub now_ms: i64,
    pub merged: Merged,
    pub drift: Vec<DriftRecord>,
    pub disabled: Vec<String>,
    /// `(connector, connection)` needing re-authorisation.
    pub reauth: Vec<(String, String)>,
    /// `(connector, share of its fullest quota window)`.
    pub quota: Vec<(String, f64)>,
    /// Why the last config reload was refused, while it is.
    pub reload_failed: Option<String>,
    /// `(rollout, why)` of each rollout rolled back now.
    pub rolled_back: Vec<(String, String)>,
    /// Each job of the running config that is not paused, with how its runs went.
    pub jobs: Vec<JobHealth>,
    /// `(certificate, when it expires in Unix seconds)` of the certificates in use.
    pub certificates: Vec<(String, i64)>,
}

/// How a job's runs went, for `job_failing` and `job_not_run`.
#[derive(Debug, Clone, PartialEq)]
pub struct JobHealth {
    pub name: String,
    /// About how long between two runs.
    pub period_ms: i64,
    /// Finished runs that failed in a row, newest first.
    pub failed_in_a_row: usize,
    /// The last run's error.
    pub last_error: Option<String>,
    /// When the last run started (unix ms), or since when the job has been waiting for its
    /// first (the hub's start).
    pub since_ms: i64,
    /// Reconciliations among its latest runs: `(finished at, source, changes webhooks missed)`.
    pub missed: Vec<(i64, String, u64)>,
}

impl JobHealth {
    /// Reads `job`'s latest runs from the store.
    pub async fn read(
        store: &dyn Store,
        name: &str,
        period_ms: i64,
        waiting_since: i64,
    ) -> Result<Self, StoreError> {
        let runs = store.job_runs(Some(name.to_owned()), 20).await?;
        let finished = runs
            .iter()
            .filter(|r| r.state != junction_store::RunState::Running);
        let failed_in_a_row = finished
            .clone()
            .take_while(|r| r.state == junction_store::RunState::Failed)
            .count();
        let missed = finished
            .clone()
            .filter_map(|r| {
                let v: serde_json::Value = serde_json::from_str(&r.result).ok()?;
                if v["reconcile"] != true {
                    return None;
                }
                Some((
                    r.finished_at?,
                    v["source"].as_str()?.to_owned(),
                    v["missed"].as_u64()?,
                ))
            })
            .collect();
        Ok(JobHealth {
            missed,
            name: name.to_owned(),
            period_ms,
            failed_in_a_row,
            last_error: finished.clone().next().and_then(|r| r.error.clone()),
            since_ms: runs.first().map_or(waiting_since, |r| r.started_at),
        })
    }
}

impl Material {
    /// Reads what `rules` need from the store; `quota` is this process's live quota use.
    pub async fn gather(
        store: &dyn Store,
        rules: &[AlertRule],
        quota: Vec<(String, f64)>,
        now_ms: i64,
    ) -> Result<Self, StoreError> {
        let needs = |s: Signal| rules.iter().any(|r| r.signal == s);
        let longest = rules
            .iter()
            .filter(|r| {
                matches!(
                    r.signal,
                    Signal::ConnectorErrorRate
                        | Signal::ConnectorLatencyP95
                        | Signal::ConnectorAuthFailures
                        | Signal::DeadLetters
                )
            })
            .map(|r| junction_core::time::ms(r.over))
            .max();
        let merged = match longest {
            Some(span) => {
                junction_server::history::merged(store, history::minute_of(now_ms - span)).await?
            }
            None => Merged::default(),
        };
        let drift = if needs(Signal::SchemaDrift) || needs(Signal::Deprecation) {
            store.drift(1000).await?
        } else {
            Vec::new()
        };
        let disabled = if needs(Signal::DestinationDisabled) {
            store
                .disabled()
                .await?
                .into_iter()
                .map(|d| d.name)
                .collect()
        } else {
            Vec::new()
        };
        let reauth = if needs(Signal::ConnectionNeedsReauth) {
            store
                .connections()
                .await?
                .into_iter()
                .filter(|c| c.state == junction_store::ConnectionState::NeedsReauth)
                .map(|c| (c.connector, c.name))
                .collect()
        } else {
            Vec::new()
        };
        Ok(Self {
            now_ms,
            merged,
            drift,
            disabled,
            reauth,
            quota,
            reload_failed: None,
            rolled_back: Vec::new(),
            jobs: Vec::new(),
            certificates: Vec::new(),
        })
    }

    /// The readings of `rule`, one per subject it watches.
    pub fn readings(&self, rule: &AlertRule) -> Vec<Reading> {
        let since = history::minute_of(self.now_ms - junction_core::time::ms(rule.over));
        let window = humanize(rule.over);
        let series = |kind: Kind| {
            self.merged
                .iter()
                .filter(move |((k, _), _)| *k == kind)
                .map(move |((_, name), minutes)| (name.clone(), history::total(minutes, since)))
        };
        use history::{connector as c, destination as d};
        let out: Vec<Reading> = match rule.signal {
            Signal::ConnectorErrorRate => series(Kind::Connector)
                .map(|(name, t)| {
                    let (calls, errors) = (t.count(c::CALLS), t.count(c::ERRORS));
                    let rate = if calls == 0 { 0.0 } else { errors as f64 / calls as f64 };
                    Reading {
                        subject: name,
                        value: rate,
                        judged: calls >= rule.min_calls,
                        text: format!(
                            "{:.1}% of calls failed over {window} ({errors} of {calls})",
                            rate * 100.0
                        ),
                    }
                })
                .collect(),
            Signal::ConnectorLatencyP95 => series(Kind::Connector)
                .map(|(name, t)| {
                    let p95 = t.quantile_ms(0.95).unwrap_or(0.0);
                    Reading {
                        subject: name,
                        value: p95,
                        judged: t.count(c::CALLS) >= rule.min_calls,
                        text: format!("p95 latency {p95:.0} ms over {window}"),
                    }
                })
                .collect(),
            Signal::ConnectorAuthFailures => series(Kind::Connector)
                .map(|(name, t)| {
                    let n = t.count(c::AUTH_FAILED);
                    Reading {
                        subject: name,
                        value: n as f64,
                        judged: true,
                        text: format!("{n} call(s) refused with 401/403 over {window}"),
                    }
                })
                .collect(),
            Signal::DeadLetters => series(Kind::Destination)
                .map(|(name, t)| {
                    let n = t.count(d::DEAD);
                    Reading {
                        subject: name,
                        value: n as f64,
                        judged: true,
                        text: format!("{n} delivery(ies) dead-lettered over {window}"),
                    }
                })
                .collect(),
            Signal::ConnectionNeedsReauth => self
                .reauth
                .iter()
                .map(|(connector, conn)| Reading {
                    subject: format!("{connector}/{conn}"),
                    value: 1.0,
                    judged: true,
                    text: format!("connection {conn} of {connector} needs re-authorisation: its token refresh keeps failing"),
                })
                .collect(),
            Signal::QuotaUse => self
                .quota
                .iter()
                .map(|(name, used)| Reading {
                    subject: name.clone(),
                    value: *used,
                    judged: true,
                    text: format!("{:.0}% of a quota window in use", used * 100.0),
                })
                .collect(),
            Signal::ConfigReloadFailed => self
                .reload_failed
                .iter()
                .map(|why| Reading {
                    subject: "config".into(),
                    value: 1.0,
                    judged: true,
                    text: format!("the config on disk was refused; the hub runs the previous one: {why}"),
                })
                .collect(),
            Signal::JobFailing => self
                .jobs
                .iter()
                .map(|j| Reading {
                    subject: j.name.clone(),
                    value: j.failed_in_a_row as f64,
                    judged: true,
                    text: format!(
                        "job {} failed {} run(s) in a row; last: {}",
                        j.name,
                        j.failed_in_a_row,
                        j.last_error.as_deref().unwrap_or("-")
                    ),
                })
                .collect(),
            Signal::JobNotRun => self
                .jobs
                .iter()
                .filter(|j| j.period_ms > 0)
                .map(|j| {
                    let idle = (self.now_ms - j.since_ms).max(0);
                    Reading {
                        subject: j.name.clone(),
                        value: idle as f64 / j.period_ms as f64,
                        judged: true,
                        text: format!(
                            "job {} has not run for {} (it runs about every {})",
                            j.name,
                            humanize(std::time::Duration::from_millis(idle as u64)),
                            humanize(std::time::Duration::from_millis(j.period_ms as u64))
                        ),
                    }
                })
                .collect(),
            Signal::WebhooksMissed => {
                let from = self.now_ms - junction_core::time::ms(rule.over);
                let mut per: std::collections::BTreeMap<&str, u64> = Default::default();
                for j in &self.jobs {
                    for (at, source, n) in &j.missed {
                        let sum = per.entry(source.as_str()).or_default();
                        if *at >= from {
                            *sum += n;
                        }
                    }
                }
                per.into_iter()
                    .map(|(source, n)| Reading {
                        subject: source.to_owned(),
                        value: n as f64,
                        judged: true,
                        text: format!(
                            "webhooks from {source} missed {n} change(s) over {window}, found by reconciliation"
                        ),
                    })
                    .collect()
            }
            Signal::CertificateExpiring => self
                .certificates
                .iter()
                .map(|(which, at)| {
                    let left_ms = at.saturating_mul(1000) - self.now_ms;
                    let days = left_ms.div_euclid(86_400_000);
                    let text = if left_ms <= 0 {
                        format!("the {which} certificate expired {} day(s) ago: renew it", -days)
                    } else {
                        format!("the {which} certificate expires in {days} day(s): renew it before it does")
                    };
                    Reading {
                        subject: which.clone(),
                        value: if left_ms < junction_core::time::ms(rule.over) { 1.0 } else { 0.0 },
                        judged: true,
                        text,
                    }
                })
                .collect(),
            Signal::RolloutRolledBack => self
                .rolled_back
                .iter()
                .map(|(name, why)| Reading {
                    subject: name.clone(),
                    value: 1.0,
                    judged: true,
                    text: format!("rollout {name} rolled back: {why}"),
                })
                .collect(),
            Signal::DestinationDisabled => self
                .disabled
                .iter()
                .map(|name| Reading {
                    subject: name.clone(),
                    value: 1.0,
                    judged: true,
                    text: format!("destination {name} is disabled: its deliveries wait"),
                })
                .collect(),
            Signal::SchemaDrift | Signal::Deprecation => {
                let want_deprecated = rule.signal == Signal::Deprecation;
                let cutoff = self.now_ms - junction_core::time::ms(rule.over);
                let mut by: std::collections::BTreeMap<String, (u64, String)> = Default::default();
                for r in self
                    .drift
                    .iter()
                    .filter(|r| (r.kind == "deprecated") == want_deprecated && r.last_seen >= cutoff)
                {
                    let e = by.entry(r.subject.clone()).or_default();
                    e.0 += 1;
                    if e.1.is_empty() {
                        e.1 = format!("{} at {}: {}", r.kind, r.path, r.detail);
                    }
                }
                by.into_iter()
                    .map(|(subject, (n, first))| Reading {
                        subject,
                        value: n as f64,
                        judged: true,
                        text: format!("{n} change(s) seen over {window}, e.g. {first}"),
                    })
                    .collect()
            }
        };
        out.into_iter()
            .filter(|r| rule.watches(&r.subject))
            .collect()
    }
}

fn humanize(d: std::time::Duration) -> String {
    let s = d.as_secs();
    match s {
        0 => "now".into(),
        s if s % 3600 == 0 => format!("{}h", s / 3600),
        s if s % 60 == 0 => format!("{}m", s / 60),
        s => format!("{s}s"),
    }
}

#[cfg(test)]
mod tests {
    use junction_config::builtin_rules;
    use junction_telemetry::history::{Figures, MINUTE_MS};

    use super::*;

    fn rule(name: &str) -> AlertRule {
        builtin_rules()
            .into_iter()
            .find(|r| r.name == name)
            .unwrap()
    }

    #[test]
    fn jobs_failing_in_a_row_or_not_running_are_readings() {
        let mut m = Material {
            now_ms: 10 * 60_000,
            ..Default::default()
        };
        m.jobs = vec![
            JobHealth {
                name: "probe".into(),
                period_ms: 60_000,
                failed_in_a_row: 3,
                last_error: Some("get_customer: 502".into()),
                since_ms: 9 * 60_000,
                missed: Vec::new(),
            },
            JobHealth {
                name: "stuck".into(),
                period_ms: 60_000,
                failed_in_a_row: 0,
                last_error: None,
                since_ms: 5 * 60_000,
                missed: Vec::new(),
            },
        ];
        let failing = m.readings(&rule("job_failing"));
        assert_eq!(failing[0].value, 3.0);
        assert!(failing[0].text.contains("502"), "{}", failing[0].text);
        let idle = m.readings(&rule("job_not_run"));
        assert_eq!(idle[0].value, 1.0);
        assert_eq!(idle[1].value, 5.0);
        assert!(idle[1].text.contains("5m"), "{}", idle[1].text);
    }

    #[test]
    fn changes_webhooks_missed_are_summed_per_source_within_the_window() {
        let hour = 60 * 60_000;
        let mut m = Material {
            now_ms: 10 * hour,
            ..Default::default()
        };
        let job = |name: &str, missed: Vec<(i64, String, u64)>| JobHealth {
            name: name.into(),
            period_ms: hour,
            failed_in_a_row: 0,
            last_error: None,
            since_ms: 0,
            missed,
        };
        m.jobs = vec![
            job(
                "crm-reconcile",
                vec![
                    (10 * hour - 60_000, "crm".into(), 30),
                    (10 * hour - 30 * 60_000, "crm".into(), 7),
                    // Older than the window.
                    (8 * hour, "crm".into(), 100),
                ],
            ),
            job("shop-reconcile", vec![(10 * hour - 1, "shop".into(), 0)]),
        ];
        let r = m.readings(&rule("webhooks_missed"));
        assert_eq!(r.len(), 2);
        assert_eq!((r[0].subject.as_str(), r[0].value), ("crm", 37.0));
        assert!(
            r[0].text.contains("webhooks from crm missed 37 change(s)"),
            "{}",
            r[0].text
        );
        assert_eq!((r[1].subject.as_str(), r[1].value), ("shop", 0.0));
    }

    #[test]
    fn a_certificate_is_a_reading_from_thirty_days_before_it_expires() {
        let day = 86_400;
        let mut m = Material {
            now_ms: 1_000 * day * 1000,
            ..Default::default()
        };
        let now_s = m.now_ms / 1000;
        m.certificates = vec![
            ("server".into(), now_s + 29 * day + 3_600),
            ("client_ca".into(), now_s + 31 * day),
        ];
        let r = m.readings(&rule("certificate_expiring"));
        assert_eq!((r[0].subject.as_str(), r[0].value), ("server", 1.0));
        assert!(r[0].text.contains("expires in 29 day(s)"), "{}", r[0].text);
        assert_eq!((r[1].subject.as_str(), r[1].value), ("client_ca", 0.0));
        m.certificates = vec![("server".into(), now_s - 2 * day)];
        let r = m.readings(&rule("certificate_expiring"));
        assert_eq!(r[0].value, 1.0);
        assert!(r[0].text.contains("expired 2 day(s) ago"), "{}", r[0].text);
    }

    #[test]
    fn a_rolled_back_rollout_is_a_reading_naming_why() {
        let mut m = Material::default();
        assert!(m.readings(&rule("rollout_rolled_back")).is_empty());
        m.rolled_back = vec![("connector:crm".into(), "v2 failed 20 of 20 calls".into())];
        let back = m.readings(&rule("rollout_rolled_back"));
        assert_eq!(back.len(), 1);
        assert_eq!(back[0].subject, "connector:crm");
        assert!(back[0].text.contains("v2 failed"), "{}", back[0].text);
    }

    #[test]
    fn a_refused_config_reload_is_a_reading_until_a_reload_succeeds() {
        let mut m = Material::default();
        assert!(m.readings(&rule("config_reload_failed")).is_empty());
        m.reload_failed = Some("junction.yaml:3:5: bad preset".into());
        let r = m.readings(&rule("config_reload_failed"));
        assert_eq!(r.len(), 1);
        assert_eq!(r[0].value, 1.0);
        assert!(r[0].text.contains("bad preset"), "{}", r[0].text);
    }

    #[test]
    fn readings_come_from_every_process_minutes_within_the_window() {
        let now = 100 * MINUTE_MS + 30_000;
        let mut m = Material {
            now_ms: now,
            ..Default::default()
        };
        let minutes = m.merged.entry((Kind::Connector, "crm".into())).or_default();
        // Two recent minutes (4 of 40 calls failed) and an old one outside the 5m window.
        minutes.insert(
            100 * MINUTE_MS,
            Figures {
                counts: vec![20, 3, 0, 0, 0],
                hist: Default::default(),
            },
        );
        minutes.insert(
            99 * MINUTE_MS,
            Figures {
                counts: vec![20, 1, 0, 2, 0],
                hist: Default::default(),
            },
        );
        minutes.insert(
            90 * MINUTE_MS,
            Figures {
                counts: vec![1000, 1000, 0, 0, 0],
                hist: Default::default(),
            },
        );
        let r = m.readings(&rule("connector_error_rate"));
        assert_eq!(r.len(), 1);
        assert!((r[0].value - 0.1).abs() < 1e-9 && r[0].judged, "{r:?}");
        assert!(r[0].text.contains("4 of 40"), "{}", r[0].text);
        let auth = m.readings(&rule("connector_auth_failures"));
        assert_eq!(auth[0].value, 2.0);

        let mut few = rule("connector_error_rate");
        few.min_calls = 100;
        assert!(
            !m.readings(&few)[0].judged,
            "40 calls are too few to judge a rate"
        );
        few.subjects = vec!["erp*".into()];
        assert!(m.readings(&few).is_empty());

        let drift = |kind: &str, seen: i64| DriftRecord {
            scope: "connector".into(),
            subject: "crm GET /v1/customers/{id}".into(),
            path: "/email".into(),
            kind: kind.into(),
            detail: "string → null".into(),
            first_seen: seen,
            last_seen: seen,
            count: 1,
        };
        m.drift = vec![
            drift("type_changed", now - 1000),
            drift("deprecated", now - 1000),
            drift("new_field", now - 2 * 3_600_000),
        ];
        let d = m.readings(&rule("schema_drift"));
        assert_eq!((d.len(), d[0].value), (1, 1.0), "{d:?}");
        assert_eq!(m.readings(&rule("deprecation"))[0].value, 1.0);
    }
}
