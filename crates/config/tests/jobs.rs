//! `jobs:`: a valid config resolves its schedules and probes, and every mistake is located with
//! a hint.

use std::time::Duration;

use junction_config::{load_str, ConfigError, Missed, Overrides, Schedule, Work};

fn load(text: &str) -> Result<junction_config::Config, Vec<ConfigError>> {
    load_str(text, "junction.yaml", &Overrides::default(), &|_| None).map_err(|e| e.0)
}

const CONNECTOR: &str = r#"
connectors:
  crm:
    base_url: https://api.example.com
    operations:
      get_customer: { path: "/customers/{id}" }
      search: { method: POST, path: /search }
      update: { method: PATCH, path: "/customers/{id}" }
"#;

#[test]
fn jobs_resolve_with_their_schedules_and_probes() {
    let text = format!(
        "{CONNECTOR}{}",
        r#"
jobs:
  hourly:
    every: 1h
    jitter: 5m
    probe: { connector: crm, calls: [ { operation: get_customer, input: { id: cus_1 } }, { operation: search, safe: true } ] }
  nightly:
    cron: "30 2 * * *"
    missed: skip
    timeout: 30s
    probe: { connector: crm, calls: [ { operation: get_customer, input: { id: cus_2 } } ] }
"#
    );
    let c = load(&text).unwrap_or_else(|e| panic!("{e:#?}"));
    let h = &c.jobs["hourly"];
    assert_eq!(h.schedule, Schedule::Every(Duration::from_secs(3600)));
    assert!((0..300_000).contains(&h.offset_ms));
    assert_eq!(h.missed, Missed::RunOnce);
    assert_eq!(h.timeout, Duration::from_secs(600));
    let Work::Probe(p) = &h.work else {
        panic!("a probe")
    };
    assert_eq!(p.calls.len(), 2);
    assert_eq!(p.calls[0].input["id"], "cus_1");
    let n = &c.jobs["nightly"];
    assert_eq!(n.schedule.text(), "cron 30 2 * * *");
    assert_eq!(n.missed, Missed::Skip);
    assert_eq!(n.offset_ms, 0);
    // 02:30 UTC on 1970-01-02 is the slot due at 03:00.
    let day = 86_400_000;
    assert_eq!(
        n.schedule.due(day + 3 * 3_600_000, 0),
        Some(day + 2 * 3_600_000 + 1_800_000)
    );
}

#[test]
fn broken_jobs_are_located_with_hints() {
    let job = |body: &str| format!("{CONNECTOR}jobs:\n  j:\n{body}");
    let cases: Vec<(String, &str, &str)> = vec![
        (
            job("    probe: { connector: crm, calls: [ { operation: get_customer } ] }\n"),
            "jobs.j",
            "`every` an interval or on a `cron` pattern",
        ),
        (
            job("    every: 1h\n    cron: \"0 * * * *\"\n    probe: { connector: crm, calls: [ { operation: get_customer } ] }\n"),
            "jobs.j",
            "(one of them)",
        ),
        (
            job("    cron: \"61 * * * *\"\n    probe: { connector: crm, calls: [ { operation: get_customer } ] }\n"),
            "jobs.j.cron",
            "is not a cron pattern",
        ),
        (
            job("    every: 1h\n"),
            "jobs.j",
            "a job says what it does",
        ),
        (
            job("    every: 1h\n    probe: { connector: erp, calls: [ { operation: get_customer } ] }\n"),
            "jobs.j.probe.connector",
            "no connector `erp`",
        ),
        (
            job("    every: 1h\n    probe: { connector: crm, calls: [ { operation: nope } ] }\n"),
            "jobs.j.probe.calls[0].operation",
            "has no operation `nope`",
        ),
        (
            job("    every: 1h\n    probe: { connector: crm, calls: [ { operation: update } ] }\n"),
            "jobs.j.probe.calls[0].operation",
            "a probe only reads",
        ),
        (
            job("    every: 1h\n    probe: { connector: crm, calls: [] }\n"),
            "jobs.j.probe.calls",
            "makes 1 to 32 calls",
        ),
        (
            job("    every: 1m\n    jitter: 2m\n    probe: { connector: crm, calls: [ { operation: get_customer } ] }\n"),
            "jobs.j.jitter",
            "shorter than the time between two runs",
        ),
        (
            job("    every: 100ms\n    probe: { connector: crm, calls: [ { operation: get_customer } ] }\n"),
            "jobs.j.every",
            "between 1s and 366d",
        ),
        (
            format!("{CONNECTOR}jobs:\n  \"bad name\":\n    every: 1h\n    probe: {{ connector: crm, calls: [ {{ operation: get_customer }} ] }}\n"),
            "jobs.bad name",
            "a job's name",
        ),
    ];
    for (yaml, field, message) in &cases {
        let errs = load(yaml)
            .err()
            .unwrap_or_else(|| panic!("should fail:\n{yaml}"));
        assert!(
            errs.iter()
                .any(|e| e.field == *field && e.message.contains(message) && e.line.is_some()),
            "{yaml}\nexpected `{field}`: {message}\ngot: {errs:#?}"
        );
    }
}

#[test]
fn a_job_on_a_broken_connector_reports_the_connector_only() {
    let text = r#"
connectors:
  crm:
    base_url: https://api.example.com
    auth: { kind: api_key, header: X-Api-Key, key: env:NOT_SET_ANYWHERE }
    operations:
      get_customer: { path: "/customers/{id}" }
jobs:
  j:
    every: 1h
    probe: { connector: crm, calls: [ { operation: get_customer } ] }
"#;
    let errs = load(text).err().unwrap();
    assert_eq!(errs.len(), 1, "{errs:#?}");
    assert_eq!(errs[0].field, "connectors.crm.auth.key");
}
