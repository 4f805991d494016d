//! `alerts:` raw → resolved: built-in rules merged with the user's, sinks' URLs checked.

use crate::alerts::raw::{RawAlerts, RawSink};
use crate::alerts::resolved::{builtin_rules, AlertRule, Alerts, Severity, Sink, SinkKind};
use crate::error::ConfigError;
use crate::yaml::{push, Document};

pub(crate) fn resolve_alerts(doc: &Document, errs: &mut Vec<ConfigError>) -> Alerts {
    let raw: RawAlerts = match doc.value.get("alerts") {
        Some(v) if !v.is_null() => match crate::check::located(doc, "/alerts", v) {
            Ok(r) => r,
            Err(e) => {
                errs.push(e);
                return Alerts::default();
            }
        },
        _ => return Alerts::default(),
    };
    let mut alerts = Alerts::default();
    if let Some(d) = raw.evaluate_every {
        if d.0 < std::time::Duration::from_secs(1) {
            errs.push(doc.error_at(
                "/alerts/evaluate_every",
                "evaluate_every must be at least 1s",
                None,
            ));
        }
        alerts.evaluate_every = d.0;
    }
    let builtin = builtin_rules();
    if raw.defaults == Some(false) {
        alerts.rules.clear();
    }
    for (name, r) in raw.rules {
        let ptr = push("/alerts/rules", &name);
        let base = builtin.iter().find(|b| b.name == name);
        let Some(signal) = r.signal.or(base.map(|b| b.signal)) else {
            errs.push(doc.error_at(
                &ptr,
                format!("rule `{name}` needs a `signal`"),
                Some("signals: connector_error_rate, connector_latency_p95, connector_auth_failures, connection_needs_reauth, quota_use, dead_letters, destination_disabled, schema_drift, deprecation".into()),
            ));
            continue;
        };
        let same_signal = base.filter(|b| b.signal == signal);
        let Some(above) = r.above.or(same_signal.map(|b| b.above)) else {
            errs.push(doc.error_at(
                &ptr,
                format!("rule `{name}` needs a threshold: `above`"),
                Some("the rule fires while its signal is above this value".into()),
            ));
            continue;
        };
        if !above.is_finite() {
            errs.push(doc.error_at(&push(&ptr, "above"), "above must be a finite number", None));
            continue;
        }
        let default_over = same_signal
            .map(|b| b.over)
            .unwrap_or(std::time::Duration::from_secs(300));
        let rule = AlertRule {
            name: name.clone(),
            signal,
            subjects: r.subjects,
            above,
            over: r.over.map(|d| d.0).unwrap_or(default_over),
            for_: r.for_.map(|d| d.0).unwrap_or_default(),
            resolve_after: r
                .resolve_after
                .map(|d| d.0)
                .unwrap_or(std::time::Duration::from_secs(120)),
            min_calls: r.min_calls.unwrap_or(20),
            severity: r
                .severity
                .or(same_signal.map(|b| b.severity))
                .unwrap_or(Severity::Warning),
        };
        alerts.rules.retain(|x| x.name != name);
        if r.enabled != Some(false) {
            alerts.rules.push(rule);
        }
    }
    for (name, s) in raw.sinks {
        let ptr = push("/alerts/sinks", &name);
        if let RawSink::Webhook { headers, .. } = &s {
            for (k, v) in headers {
                let hptr = push(&push(&ptr, "headers"), k);
                crate::secrets::no_reference(doc, &hptr, v, errs);
            }
        }
        let mut url = |u: &str| match url::Url::parse(u) {
            Ok(url) if matches!(url.scheme(), "http" | "https") => Some(url),
            _ => {
                errs.push(doc.error_at(
                    &push(&ptr, "url"),
                    format!("sink `{name}`: `{u}` is not an http(s) URL"),
                    Some("write the full URL; keep secret ones in the environment: url: ${SLACK_WEBHOOK_URL}".into()),
                ));
                None
            }
        };
        let kind = match s {
            RawSink::Webhook { url: u, headers } => {
                url(&u).map(|url| SinkKind::Webhook { url, headers })
            }
            RawSink::Slack { url: u } => url(&u).map(|url| SinkKind::Slack { url }),
            RawSink::Log {} => Some(SinkKind::Log),
        };
        if let Some(kind) = kind {
            alerts.sinks.push(Sink { name, kind });
        }
    }
    alerts
}
