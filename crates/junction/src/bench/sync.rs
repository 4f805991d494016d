//! `junction bench sync`: a sync as users run it, through `junction serve`.
//!
//! `--records` customers in the mock, 1,000 per page. The peer: a plain client walking the same
//! pages one after another (the rate the vendor serves). Then a full pass of a `kind: sync`
//! source run as a job: every page read, each record mapped and checked against its model,
//! judged against the entities known and stored as an event with its delivery, the checkpoint
//! with each page — records/s of the pass and its ratio to the plain client, then records/s end
//! to end (every event delivered to the mock's sink), and the hub's memory before and at its
//! peak. A second full pass, with nothing changed, shows what re-reading a list costs.

use std::time::{Duration, Instant};

use junction_mock::{Mock, MockConfig};
use serde_json::{json, Value};

use super::hub::{HubProcess, RssSampler};
use super::BenchArgs;

const PAGE: usize = 1000;
const ADMIN: &str = "bench-admin-token";

pub async fn run(args: &BenchArgs) -> Result<Value, String> {
    let records = args.records;
    let mock = Mock::start(
        MockConfig {
            customers: records,
            // Only the count of deliveries is read: keep few of them.
            record_limit: 1000,
            ..Default::default()
        },
        "127.0.0.1:0".parse().map_err(|e| format!("{e}"))?,
    )
    .await
    .map_err(|e| format!("cannot start the mock: {e}"))?;
    eprintln!("sync bench: {records} records, {PAGE} per page");
    let plain = super::operations::plain_walk(&mock.url(), records).await?;
    eprintln!("  plain client:        {plain}");
    let dir = tempfile::tempdir().map_err(|e| e.to_string())?;
    let db = format!("sqlite://{}", dir.path().join("hub.db").display());
    let hub = HubProcess::start_with(
        dir.path(),
        &db,
        &config(&mock.url()),
        &[("JUNCTION_ADMIN_TOKEN", ADMIN)],
    )
    .await?;
    let before = hub.rss_mib();
    let sampler = RssSampler::start(hub.child.id());
    let started = Instant::now();
    let first = super::hub::run_job(&hub, ADMIN, "refresh", 0).await?;
    let pulled_s = started.elapsed().as_secs_f64();
    if first["result"]["new"].as_u64() != Some(records as u64) {
        return Err(format!("the pass did not store every record: {first}"));
    }
    let delivered_s = delivered(&mock, records, started).await?;
    let peak = sampler.peak();
    let pass_rate = records as f64 / pulled_s;
    let plain_rate = plain["records_per_s"].as_f64().unwrap_or(1.0).max(1.0);
    let full = json!({
        "pass_seconds": round2(pulled_s),
        "records_per_s": pass_rate.round(),
        "vs_plain": round2(pass_rate / plain_rate),
        "delivered_seconds": round2(delivered_s),
        "delivered_per_s": (records as f64 / delivered_s).round(),
        "hub_rss_mib_before": round1(before),
        "hub_rss_mib_peak": round1(peak),
    });
    eprintln!("  first full pass:     {full}");
    let started = Instant::now();
    let again =
        super::hub::run_job(&hub, ADMIN, "refresh", first["id"].as_i64().unwrap_or(0)).await?;
    let again_s = started.elapsed().as_secs_f64();
    if again["result"]["unchanged"].as_u64() != Some(records as u64) {
        return Err(format!(
            "the second pass did not find every record unchanged: {again}"
        ));
    }
    let unchanged = json!({
        "pass_seconds": round2(again_s),
        "records_per_s": (records as f64 / again_s).round(),
        "vs_plain": round2(records as f64 / again_s / plain_rate),
        "hub_rss_mib": round1(hub.rss_mib()),
    });
    eprintln!("  nothing changed:     {unchanged}");
    hub.stop();
    Ok(json!({
        "scenario": "sync",
        "records": records,
        "page_size": PAGE,
        "plain_client": plain,
        "full_pass": full,
        "unchanged_pass": unchanged,
        "target": { "vs_plain": 0.7 },
        "machine": super::machine(),
    }))
}

fn round1(x: f64) -> f64 {
    (x * 10.0).round() / 10.0
}

fn round2(x: f64) -> f64 {
    (x * 100.0).round() / 100.0
}

fn config(mock: &str) -> String {
    format!(
        r#"
models:
  customer@1:
    schema:
      type: object
      required: [id, email, name, updated]
      properties:
        id: {{ type: string }}
        email: {{ type: string }}
        name: {{ type: string }}
        city: {{ type: string }}
        updated: {{ type: string }}
mappings:
  customer_from_crm:
    to: customer@1
    jq: '{{id, email: .email_address, name, city: .address.city, updated}}'
connectors:
  crm:
    base_url: "{mock}/v2"
    timeouts: {{ total: 120s }}
    operations:
      list_customers:
        path: /customers
        query: [ updated_since ]
        paginate: {{ style: cursor, page_size: {PAGE}, max_pages: 100000, max_records: 10000000 }}
        response: {{ map: customer_from_crm, model: customer@1 }}
sources:
  customers:
    kind: sync
    sync:
      connector: crm
      operation: list_customers
      entity: customer
      version: .updated
destinations:
  warehouse: {{ url: "{mock}/sink/sync", concurrency: 64 }}
routes:
  all: {{ from: customers, to: [ warehouse ] }}
jobs:
  refresh: {{ every: 366d, missed: skip, timeout: 1h, sync: {{ source: customers, full: true }} }}
"#
    )
}

/// Seconds from `started` until the sink has received `n` deliveries.
async fn delivered(mock: &Mock, n: usize, started: Instant) -> Result<f64, String> {
    let deadline = Instant::now() + Duration::from_secs(600);
    loop {
        let total = mock.state.received.total();
        if total as usize >= n {
            return Ok(started.elapsed().as_secs_f64());
        }
        if Instant::now() > deadline {
            return Err(format!("only {total} of {n} deliveries arrived"));
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}
