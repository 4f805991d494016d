//! `kind: sync` sources and `sync:` jobs: a valid config resolves its pull and the job's pass,
//! and every mistake is located with a hint.

use std::time::Duration;

use junction_config::{load_str, ConfigError, Overrides, TimeFormat, Work};

fn load(text: &str) -> Result<junction_config::Config, Vec<ConfigError>> {
    load_str(text, "junction.yaml", &Overrides::default(), &|_| None).map_err(|e| e.0)
}

const CONNECTOR: &str = r#"
connectors:
  crm:
    base_url: https://api.example.com
    operations:
      list: { path: /customers, query: [updated_since], paginate: { style: cursor, records: data, param: starting_after, next: next } }
      unpaged: { path: /all }
      create: { method: POST, path: /customers }
"#;

fn one(text: &str) -> ConfigError {
    let errs = load(&format!("{CONNECTOR}{text}")).expect_err("refused");
    assert_eq!(errs.len(), 1, "{errs:?}");
    errs.into_iter().next().unwrap()
}

#[test]
fn a_sync_source_and_its_jobs_resolve() {
    let c = load(&format!(
        "{CONNECTOR}{}",
        r#"
sources:
  customers:
    kind: sync
    sync:
      connector: crm
      operation: list
      input: { status: active }
      version: .updated_at
      since: { param: updated_since, format: unix, lookback: 30s }
    event: { subject: .email }
    retention: 30d
jobs:
  pull: { every: 5m, sync: { source: customers } }
  refresh: { cron: "0 3 * * *", sync: { source: customers, full: true } }
"#
    ))
    .unwrap();
    let s = &c.flows.sources["customers"];
    let p = s.pull.as_ref().unwrap();
    assert_eq!(
        (p.connector.as_str(), p.operation.as_str()),
        ("crm", "list")
    );
    assert_eq!(p.entity, "customers", "the source's name by default");
    assert_eq!(p.key.code(), ".id");
    let since = p.since.as_ref().unwrap();
    assert_eq!(since.format, TimeFormat::Unix);
    assert_eq!(since.lookback, Duration::from_secs(30));
    assert_eq!(p.max_delete_percent, Some(10.0));
    // Each record's data subject, for erasure, and the source's own retention.
    assert!(matches!(&s.event.subject, Some(junction_config::Pick::Jq(j)) if j.code() == ".email"));
    assert_eq!(s.retention, Some(Duration::from_secs(30 * 86_400)));
    let Work::Sync(j) = &c.jobs["pull"].work else {
        panic!("a sync")
    };
    assert!(!j.full, "incremental when the source has since");
    let Work::Sync(j) = &c.jobs["refresh"].work else {
        panic!("a sync")
    };
    assert!(j.full);
}

#[test]
fn a_reconciled_webhook_source_and_its_job_resolve() {
    let c = load(&format!(
        "{CONNECTOR}{}",
        r#"
sources:
  crm:
    kind: webhook
    verify: { preset: none }
    event: { key: .data.object.id, sequence: .data.object.version }
    reconcile:
      connector: crm
      operation: list
      version: .version
      type: customer.updated
      shape: '{type: "customer.updated", data: {object: .}}'
jobs:
  check: { every: 15m, reconcile: { source: crm } }
"#
    ))
    .unwrap();
    let r = c.flows.sources["crm"].reconcile.as_ref().unwrap();
    assert_eq!(r.event_type, "customer.updated");
    assert!(r.shape.is_some());
    assert_eq!(
        r.max_delete_percent, None,
        "a reconciliation deletes nothing"
    );
    let Work::Reconcile(j) = &c.jobs["check"].work else {
        panic!("a reconciliation")
    };
    assert!(j.full, "no since: the whole list");
}

#[test]
fn a_sync_source_without_since_is_read_whole() {
    let c = load(&format!(
        "{CONNECTOR}{}",
        r#"
sources:
  customers: { kind: sync, sync: { connector: crm, operation: list, deletions: { detect: false } } }
jobs:
  pull: { every: 1h, sync: { source: customers } }
"#
    ))
    .unwrap();
    let Work::Sync(j) = &c.jobs["pull"].work else {
        panic!("a sync")
    };
    assert!(j.full);
    assert_eq!(
        c.flows.sources["customers"]
            .pull
            .as_ref()
            .unwrap()
            .max_delete_percent,
        None
    );
}

#[test]
fn sync_mistakes_are_located_with_a_hint() {
    let cases = [
        (
            "sources:\n  s: { kind: sync }\n",
            "says what it pulls",
        ),
        (
            "sources:\n  s: { kind: sync, verify: { preset: none }, sync: { connector: crm, operation: list } }\n",
            "nothing is verified",
        ),
        (
            "sources:\n  s: { kind: webhook, verify: { preset: none }, sync: { connector: crm, operation: list } }\n",
            "for `kind: sync` sources",
        ),
        (
            "sources:\n  s: { kind: webhook }\n",
            "how its requests are verified",
        ),
        (
            "sources:\n  s: { kind: sync, sync: { connector: nope, operation: list } }\n",
            "no connector `nope`",
        ),
        (
            "sources:\n  s: { kind: sync, sync: { connector: crm, operation: unpaged } }\n",
            "not paginated",
        ),
        (
            "sources:\n  s: { kind: sync, sync: { connector: crm, operation: create } }\n",
            "not a GET",
        ),
        (
            "sources:\n  s: { kind: sync, sync: { connector: crm, operation: list, since: { param: since } } }\n",
            "`since` is not a parameter of `list`",
        ),
        (
            "sources:\n  s: { kind: sync, sync: { connector: crm, operation: list, since: { param: updated_since, lookback: 0s } } }\n",
            "lookback",
        ),
        (
            "sources:\n  s: { kind: sync, sync: { connector: crm, operation: list, key: '.id[' } }\n",
            "",
        ),
        (
            "sources:\n  s: { kind: sync, sync: { connector: crm, operation: list, deletions: { max_percent: 150 } } }\n",
            "between 0 and 100",
        ),
        (
            "sources:\n  w: { kind: webhook, verify: { preset: none } }\njobs:\n  j: { every: 1h, sync: { source: w } }\n",
            "is a webhook source",
        ),
        (
            "sources:\n  s: { kind: sync, sync: { connector: crm, operation: list } }\njobs:\n  j: { every: 1h, sync: { source: t } }\n",
            "no source `t`",
        ),
        (
            "sources:\n  s: { kind: sync, sync: { connector: crm, operation: list } }\njobs:\n  j: { every: 1h, sync: { source: s, full: false } }\n",
            "has no `since:`",
        ),
        (
            "sources:\n  w: { kind: webhook, verify: { preset: none }, event: { key: .id, sequence: .v }, reconcile: { connector: crm, operation: list } }\n",
            "compares versions",
        ),
        (
            "sources:\n  w: { kind: webhook, verify: { preset: none }, reconcile: { connector: crm, operation: list, version: .v } }\n",
            "reads each event's entity `key` and `sequence`",
        ),
        (
            "sources:\n  w: { kind: webhook, verify: { preset: none } }\njobs:\n  j: { every: 1h, reconcile: { source: w } }\n",
            "has no `reconcile:`",
        ),
        (
            "sources:\n  s: { kind: sync, sync: { connector: crm, operation: list }, reconcile: { connector: crm, operation: list } }\n",
            "nothing to reconcile",
        ),
        (
            "sources:\n  s: { kind: sync, sync: { connector: crm, operation: list, resume_cursor: true, since: { param: updated_since } } }\n",
            "not both",
        ),
    ];
    for (text, says) in cases {
        let e = one(text);
        assert!(e.message.contains(says), "{text}: {e}");
        assert!(e.line.is_some(), "{text}: located: {e}");
    }
}
