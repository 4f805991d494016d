//! `alerts:`: built-in rules by default, overridden or turned off by name, sinks checked.

use std::time::Duration;

use junction_config::{load_str, Overrides, Severity, Signal, SinkKind};

fn load(text: &str) -> Result<junction_config::Config, junction_config::ConfigErrors> {
    load_str(text, "junction.yaml", &Overrides::default(), &|v| {
        (v == "SLACK_URL").then(|| "https://hooks.slack.invalid/T0/B0/x".to_owned())
    })
}

#[test]
fn built_in_rules_run_unless_replaced_or_turned_off() {
    let c = load("").unwrap();
    assert_eq!(c.alerts.rules.len(), 15);
    assert_eq!(c.alerts.evaluate_every, Duration::from_secs(15));

    let c = load(
        r#"
alerts:
  evaluate_every: 5s
  rules:
    connector_error_rate: { above: 0.2, over: 10m, for: 1m, subjects: [ "crm*" ] }
    deprecation: { enabled: false }
    slow_erp: { signal: connector_latency_p95, above: 800, subjects: [ erp ], severity: critical }
  sinks:
    ops: { kind: webhook, url: "https://ops.invalid/alerts", headers: { x-team: payments } }
    chat: { kind: slack, url: "${SLACK_URL}" }
    log: { kind: log }
"#,
    )
    .unwrap();
    let rules = &c.alerts.rules;
    assert_eq!(rules.len(), 15);
    let er = rules
        .iter()
        .find(|r| r.name == "connector_error_rate")
        .unwrap();
    assert_eq!(
        (er.above, er.over, er.for_),
        (0.2, Duration::from_secs(600), Duration::from_secs(60))
    );
    assert!(er.watches("crm-eu") && !er.watches("erp"));
    assert!(!rules.iter().any(|r| r.name == "deprecation"));
    let slow = rules.iter().find(|r| r.name == "slow_erp").unwrap();
    assert_eq!(
        (slow.signal, slow.severity),
        (Signal::ConnectorLatencyP95, Severity::Critical)
    );
    assert_eq!(c.alerts.sinks.len(), 3);
    assert!(
        matches!(&c.alerts.sinks[0].kind, SinkKind::Slack { url } if url.host_str() == Some("hooks.slack.invalid"))
    );

    let c = load("alerts: { defaults: false }").unwrap();
    assert!(c.alerts.rules.is_empty());
}

#[test]
fn alert_mistakes_name_their_line_and_field() {
    let errs = load(
        r#"
alerts:
  rules:
    mine: { above: 3 }
  sinks:
    ops: { kind: webhook, url: "ftp://nope" }
"#,
    )
    .unwrap_err()
    .0;
    assert_eq!(errs.len(), 2, "{errs:#?}");
    assert_eq!(errs[0].line, Some(4));
    assert!(
        errs[0].message.contains("needs a `signal`"),
        "{}",
        errs[0].message
    );
    assert_eq!(errs[1].line, Some(6));
    assert!(
        errs[1].message.contains("not an http(s) URL"),
        "{}",
        errs[1].message
    );

    let errs = load("alerts:\n  rules:\n    x: { signal: error_rate, above: 1 }\n")
        .unwrap_err()
        .0;
    let e = &errs[0];
    assert!(
        e.message.contains("error_rate")
            && e.hint
                .as_deref()
                .unwrap_or("")
                .contains("connector_error_rate"),
        "{e:?}"
    );
}
