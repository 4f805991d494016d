//! `junction bench reconcile`: a reconciliation as users run it, through `junction serve`.
//!
//! `--records` customers at the mock, 1,000 per page, behind a connector quota of [`QUOTA`]
//! calls a second. `--calls` changes are announced by webhooks of which 5 % are dropped, 2 %
//! duplicated and 10 % reordered; then a full reconciliation pass compares every listed customer
//! with the newest version the webhooks brought. Reports the seconds of the pass, what it found,
//! the list calls the vendor received and the most it received within any second (never above
//! the quota), then a second pass that finds nothing.

use std::time::{Duration, Instant};

use junction_mock::{Mock, MockConfig};
use serde_json::{json, Value};

use super::hub::{HubProcess, WHSEC};
use super::BenchArgs;

const PAGE: usize = 1000;
const ADMIN: &str = "bench-admin-token";
/// The connector's quota, calls per second.
const QUOTA: u32 = 20;

pub async fn run(args: &BenchArgs) -> Result<Value, String> {
    let records = args.records;
    let mock = Mock::start(
        MockConfig {
            customers: records,
            record_limit: 100_000,
            ..Default::default()
        },
        "127.0.0.1:0".parse().map_err(|e| format!("{e}"))?,
    )
    .await
    .map_err(|e| format!("cannot start the mock: {e}"))?;
    eprintln!(
        "reconcile bench: {records} customers, {} changes, quota {QUOTA}/s",
        args.calls
    );
    let dir = tempfile::tempdir().map_err(|e| e.to_string())?;
    let db = format!("sqlite://{}", dir.path().join("hub.db").display());
    let hub = HubProcess::start_with(
        dir.path(),
        &db,
        &config(&mock.url()),
        &[("JUNCTION_ADMIN_TOKEN", ADMIN), ("BENCH_WHSEC", WHSEC)],
    )
    .await?;
    let client = reqwest::Client::new();
    let started = Instant::now();
    let sent: Value = client
        .post(format!("{}/_mock/changes", mock.url()))
        .json(&json!({
            "target": format!("{}/webhooks/crm", hub.base),
            "scheme": { "kind": "standard_webhooks" },
            "secret": WHSEC,
            "count": args.calls,
            "drop": 0.05, "duplicates": 0.02, "out_of_order": 0.10,
            "concurrency": 64, "seed": 11,
        }))
        .timeout(Duration::from_secs(600))
        .send()
        .await
        .map_err(|e| e.to_string())?
        .json()
        .await
        .map_err(|e| e.to_string())?;
    eprintln!(
        "  webhooks:            {sent} in {:.1} s",
        started.elapsed().as_secs_f64()
    );
    mock.state.log.clear();
    let first = timed_pass(&hub, &mock, 0).await?;
    eprintln!("  first pass:          {first}");
    let second = timed_pass(&hub, &mock, first["run"].as_i64().unwrap_or(0)).await?;
    eprintln!("  nothing missed:      {second}");
    hub.stop();
    Ok(json!({
        "scenario": "reconcile",
        "records": records,
        "changes": sent,
        "page_size": PAGE,
        "quota_per_s": QUOTA,
        "first_pass": first,
        "second_pass": second,
        "machine": super::machine(),
    }))
}

fn config(mock: &str) -> String {
    format!(
        r#"
sources:
  crm:
    kind: webhook
    verify: {{ preset: standard_webhooks, secrets: [ env:BENCH_WHSEC ] }}
    event: {{ type: .type, key: .data.object.id, sequence: .data.object.version }}
    reconcile:
      connector: crm
      operation: list_customers
      type: customer.updated
      version: .version
      shape: '{{type: "customer.updated", data: {{object: .}}}}'
connectors:
  crm:
    base_url: "{mock}/v2"
    quotas: [ {QUOTA}/s ]
    max_wait: 60s
    timeouts: {{ total: 120s }}
    operations:
      list_customers:
        path: /customers
        paginate: {{ style: cursor, records: data, param: starting_after, next: next_cursor, has_more: has_more, size_param: limit, page_size: {PAGE}, max_pages: 100000, max_records: 10000000 }}
destinations:
  warehouse: {{ url: "{mock}/sink/warehouse", concurrency: 64 }}
routes:
  all: {{ from: crm, to: [ warehouse ], ordering: latest }}
jobs:
  reconcile: {{ every: 366d, missed: skip, timeout: 1h, reconcile: {{ source: crm, full: true }} }}
"#
    )
}

/// One full pass: its seconds, what it found, and the vendor calls it made.
async fn timed_pass(hub: &HubProcess, mock: &Mock, after: i64) -> Result<Value, String> {
    mock.state.log.clear();
    let started = Instant::now();
    let run = super::hub::run_job(hub, ADMIN, "reconcile", after).await?;
    let seconds = started.elapsed().as_secs_f64();
    let (_, log) = mock.state.log.snapshot();
    let calls: Vec<u64> = log
        .iter()
        .filter(|r| r.path == "/v2/customers")
        .map(|r| r.at_us)
        .collect();
    // The most calls within any one second (a sliding window over arrivals).
    let mut most = 0;
    for (i, t) in calls.iter().enumerate() {
        let within = calls[i..]
            .iter()
            .take_while(|u| **u < t + 1_000_000)
            .count();
        most = most.max(within);
    }
    let r = &run["result"];
    Ok(json!({
        "run": run["id"],
        "seconds": (seconds * 100.0).round() / 100.0,
        "records": r["records"],
        "missing": r["missing"],
        "stale": r["stale"],
        "extra": r["extra"],
        "vendor_calls": calls.len(),
        "most_calls_in_a_second": most,
    }))
}
