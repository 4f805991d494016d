//! `junction bench operations`: connector operations as users run them, through `junction serve`.
//!
//! 1. **A paginated list**: `--records` customers from the mock, 1,000 per page (cursor style),
//!    fetched by a plain client page after page (the peer: the rate the vendor serves), then
//!    through `GET /ops/crm/list_customers?all=true` with a response mapping and model
//!    validation on every record, streamed as NDJSON, and through an operation that passes the
//!    records as sent (the walk's own cost, without the mapping's). Records/s and pages/s of
//!    each, their ratios to the plain client, and the hub's peak memory while streaming.
//! 2. **Deliveries into an operation**: `--calls` signed webhooks, each mapped and delivered as a
//!    `PATCH /customers/{id}` through a connector with OAuth (client credentials) and a quota
//!    high enough not to bind. Deliveries/s from the first webhook sent to the last PATCH the
//!    vendor received, and sent → received latency percentiles.

use std::sync::Arc;
use std::time::{Duration, Instant};

use junction_mock::{AuthConfig, Mock, MockConfig};
use serde_json::{json, Value};

use super::hub::{now_ms_f, HubProcess, RssSampler, WHSEC};
use super::BenchArgs;

const PAGE: usize = 1000;

pub async fn run(args: &BenchArgs) -> Result<Value, String> {
    let records = args.records;
    let mock = Mock::start(
        MockConfig {
            customers: records,
            record_limit: args.calls * 2 + 10_000,
            auth: AuthConfig {
                required: true,
                ..Default::default()
            },
            ..Default::default()
        },
        "127.0.0.1:0".parse().map_err(|e| format!("{e}"))?,
    )
    .await
    .map_err(|e| format!("cannot start the mock: {e}"))?;
    eprintln!("operations bench: {records} records, {PAGE} per page");
    let plain = plain_walk(&mock.url(), records).await?;
    eprintln!("  plain client:       {plain}");
    let dir = tempfile::tempdir().map_err(|e| e.to_string())?;
    let db = format!("sqlite://{}", dir.path().join("hub.db").display());
    let token = super::quota::api_token_with(&db, "op:*:*").await?;
    let hub = HubProcess::start_with(
        dir.path(),
        &db,
        &config(&mock.url(), records),
        &[
            ("BENCH_WHSEC", WHSEC),
            ("CRM_SECRET", "mock_secret"),
            ("JUNCTION_MASTER_KEY", MASTER_KEY),
        ],
    )
    .await?;
    let through = ops_walk(&hub, &token, "list_customers", records).await?;
    eprintln!("  through Junction:   {through}");
    let as_sent = ops_walk(&hub, &token, "list_customers_as_sent", records).await?;
    eprintln!("  without mapping:    {as_sent}");
    let raw_ratio = as_sent["records_per_s"].as_f64().unwrap_or(0.0)
        / plain["records_per_s"].as_f64().unwrap_or(1.0).max(1.0);
    let ratio = through["records_per_s"].as_f64().unwrap_or(0.0)
        / plain["records_per_s"].as_f64().unwrap_or(1.0).max(1.0);
    let accepted = async_accept(&hub, &token, args.calls.min(2000)).await?;
    eprintln!("  async 202s:         {accepted}");
    mock.state.log.clear();
    let deliveries = deliver(&hub, &mock, args.calls, records).await?;
    eprintln!("  deliveries:         {deliveries}");
    hub.stop();
    Ok(json!({
        "scenario": "operations",
        "records": records,
        "page_size": PAGE,
        "plain_client": plain,
        "through_junction": through,
        "junction_vs_plain": (ratio * 100.0).round() / 100.0,
        "without_mapping": as_sent,
        "without_mapping_vs_plain": (raw_ratio * 100.0).round() / 100.0,
        "deliveries": deliveries,
        "async_accept": accepted,
        "target": { "junction_vs_plain": 0.8, "deliveries_per_s": 1000, "async_accept_p99_ms": 20 },
        "machine": super::machine(),
    }))
}

const MASTER_KEY: &str = "v1:q83vEjRWeJCrze8SNFZ4kKvN7xI0VniQq83vEjRWeJA=";

fn config(mock: &str, records: usize) -> String {
    format!(
        r#"
sources:
  bench:
    kind: webhook
    verify: {{ preset: standard_webhooks, secrets: [ env:BENCH_WHSEC ] }}
models:
  customer@1:
    schema:
      type: object
      required: [id, email, name]
      properties:
        id: {{ type: string }}
        email: {{ type: string }}
        name: {{ type: string }}
        city: {{ type: string }}
mappings:
  customer_from_crm:
    to: customer@1
    jq: '{{id, email: .email_address, name, city: .address.city}}'
  event_to_update:
    jq: '{{id: .data.object.id, name: .id, sent: .sent_ms}}'
connectors:
  crm:
    base_url: "{mock}/v2"
    auth:
      kind: oauth2_client_credentials
      token_url: "{mock}/oauth/token"
      client_id: mock_client
      client_secret: env:CRM_SECRET
    concurrency: 64
    quotas: [ 100000/s ]
    retry: {{ idempotency_header: Idempotency-Key }}
    timeouts: {{ total: 120s }}
    operations:
      list_customers:
        path: /customers
        paginate: {{ style: cursor, page_size: {PAGE}, max_records: {records}, max_pages: 100000 }}
        response: {{ map: customer_from_crm, model: customer@1 }}
      list_customers_as_sent:
        path: /customers
        paginate: {{ style: cursor, page_size: {PAGE}, max_records: {records}, max_pages: 100000 }}
      get_customer:
        path: /customers/{{id}}
        response: {{ map: customer_from_crm, model: customer@1 }}
      update_customer:
        method: PATCH
        path: /customers/{{id}}
        headers: {{ sent: X-Sent-Ms }}
destinations:
  crm_customers:
    connector: crm
    operation: update_customer
    concurrency: 64
routes:
  all: {{ from: bench, map: event_to_update, to: [ crm_customers ] }}
"#
    )
}

/// The peer: a plain client walking every page of the vendor's list, one after another.
pub(super) async fn plain_walk(mock: &str, records: usize) -> Result<Value, String> {
    let client = reqwest::Client::new();
    let started = Instant::now();
    let (mut seen, mut pages, mut after): (usize, usize, Option<String>) = (0, 0, None);
    loop {
        let mut url = format!("{mock}/v2/customers?limit={PAGE}");
        if let Some(a) = &after {
            url.push_str(&format!("&starting_after={a}"));
        }
        let page: Value = client
            .get(&url)
            .header("x-api-key", "mock_key_1")
            .send()
            .await
            .map_err(|e| e.to_string())?
            .json()
            .await
            .map_err(|e| e.to_string())?;
        pages += 1;
        seen += page["data"].as_array().map_or(0, Vec::len);
        after = page["next_cursor"].as_str().map(str::to_owned);
        if after.is_none() || page["has_more"] != true {
            break;
        }
    }
    let s = started.elapsed().as_secs_f64();
    if seen != records {
        return Err(format!("the plain walk saw {seen} of {records} records"));
    }
    Ok(rates(seen, pages, s))
}

fn rates(records: usize, pages: usize, seconds: f64) -> Value {
    json!({
        "seconds": (seconds * 100.0).round() / 100.0,
        "records_per_s": (records as f64 / seconds).round(),
        "pages_per_s": ((pages as f64 / seconds) * 10.0).round() / 10.0,
    })
}

/// Every record through `/ops/crm/{operation}?all=true`, counted as NDJSON lines arrive.
async fn ops_walk(
    hub: &HubProcess,
    token: &str,
    operation: &str,
    records: usize,
) -> Result<Value, String> {
    let sampler = RssSampler::start(hub.child.id());
    let before = hub.rss_mib();
    let started = Instant::now();
    let mut res = reqwest::Client::new()
        .get(format!("{}/ops/crm/{operation}?all=true", hub.base))
        .bearer_auth(token)
        .send()
        .await
        .map_err(|e| e.to_string())?;
    if !res.status().is_success() {
        return Err(format!("the walk answered {}", res.status()));
    }
    let (mut lines, mut tail) = (0usize, Vec::new());
    while let Some(chunk) = res.chunk().await.map_err(|e| e.to_string())? {
        lines += chunk.iter().filter(|b| **b == b'\n').count();
        // Keep the last line (the walk's summary) only.
        tail.extend_from_slice(&chunk);
        if tail.len() > 4096 {
            let cut = tail.len() - 4096;
            tail.drain(..cut);
        }
    }
    let s = started.elapsed().as_secs_f64();
    let peak = sampler.peak();
    let text = String::from_utf8_lossy(&tail);
    let summary: Value = text
        .lines()
        .last()
        .and_then(|l| serde_json::from_str(l).ok())
        .unwrap_or_default();
    if summary["junction"]["complete"] != true || lines != records + 1 {
        return Err(format!(
            "the walk did not complete: {lines} lines, last {summary}"
        ));
    }
    let pages = summary["junction"]["pages"].as_u64().unwrap_or(0) as usize;
    let mut out = rates(records, pages, s);
    out["hub_rss_mib_before"] = json!((before * 10.0).round() / 10.0);
    out["hub_rss_mib_peak"] = json!((peak * 10.0).round() / 10.0);
    Ok(out)
}

/// `n` calls with `Prefer: respond-async` offered at a steady [`ASYNC_RATE`] a second (open
/// loop: a slow answer does not slow the offer): how fast the `202 Accepted` (the call stored,
/// its status URL given) comes back while the calls run behind it.
async fn async_accept(hub: &HubProcess, token: &str, n: usize) -> Result<Value, String> {
    let client = reqwest::Client::new();
    let started = tokio::time::Instant::now();
    let every = Duration::from_secs_f64(1.0 / ASYNC_RATE);
    let mut tasks = Vec::with_capacity(n);
    for i in 0..n {
        tokio::time::sleep_until(started + every * i as u32).await;
        let (client, token) = (client.clone(), token.to_owned());
        let url = format!("{}/ops/crm/get_customer", hub.base);
        tasks.push(tokio::spawn(async move {
            let t = Instant::now();
            let r = client
                .post(url)
                .bearer_auth(token)
                .header("prefer", "respond-async")
                .json(&json!({ "id": format!("cus_{:06}", i % 1000 + 1) }))
                .send()
                .await;
            (r.map(|r| r.status().as_u16()).unwrap_or(0), t.elapsed())
        }));
    }
    let mut done = Vec::with_capacity(n);
    for t in tasks {
        done.push(t.await.map_err(|e| e.to_string())?);
    }
    let accepted = done.iter().filter(|(s, _)| *s == 202).count();
    if accepted != n {
        return Err(format!("{accepted} of {n} calls answered 202"));
    }
    let mut lat: Vec<u32> = done.iter().map(|(_, d)| d.as_micros() as u32).collect();
    Ok(json!({
        "calls": n,
        "offered_per_s": ASYNC_RATE,
        "p50_ms": super::stats::percentile_ms(&mut lat, 50.0),
        "p99_ms": super::stats::percentile_ms(&mut lat, 99.0),
    }))
}

/// The rate asynchronous calls are offered at: a busy slow system's callers, well inside what
/// the mock and the hub serve together on two cores.
const ASYNC_RATE: f64 = 250.0;

/// `n` signed webhooks, each delivered as a PATCH into the vendor through the connector.
async fn deliver(
    hub: &HubProcess,
    mock: &Mock,
    n: usize,
    customers: usize,
) -> Result<Value, String> {
    let customers = customers.max(1);
    let client = reqwest::Client::builder()
        .pool_max_idle_per_host(64)
        .build()
        .map_err(|e| e.to_string())?;
    let url = Arc::new(format!("{}/webhooks/bench", hub.base));
    let slots = Arc::new(tokio::sync::Semaphore::new(64));
    let sampler = RssSampler::start(hub.child.id());
    let first_ms = now_ms_f();
    let mut handles = Vec::with_capacity(n);
    for i in 0..n {
        let permit = slots
            .clone()
            .acquire_owned()
            .await
            .map_err(|e| e.to_string())?;
        let (client, url) = (client.clone(), url.clone());
        handles.push(tokio::spawn(async move {
            let id = format!("evt_{i:010}");
            let body = format!(
                r#"{{"id":"{id}","type":"customer.updated","sent_ms":{:.3},"data":{{"object":{{"id":"cus_{:06}"}}}}}}"#,
                now_ms_f(),
                1 + i % customers
            );
            let ts = junction_core::time::now_ms() / 1000;
            let headers = junction_mock::sign(
                &junction_mock::Scheme::StandardWebhooks,
                WHSEC,
                &id,
                ts,
                body.as_bytes(),
            )
            .unwrap_or_default();
            let mut req = client.post(url.as_str()).body(body);
            for (k, v) in headers {
                req = req.header(k, v);
            }
            let ok = req.send().await.is_ok_and(|r| r.status().is_success());
            drop(permit);
            ok
        }));
    }
    let mut accepted = 0;
    for h in handles {
        if h.await.unwrap_or(false) {
            accepted += 1;
        }
    }
    let until = Instant::now() + Duration::from_secs(300);
    let received = loop {
        let (_, log) = mock.state.log.snapshot();
        let patches: Vec<_> = log.into_iter().filter(|r| r.method == "PATCH").collect();
        if patches.len() >= accepted || Instant::now() > until {
            break patches;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    };
    let peak = sampler.peak();
    let last_ms = received.iter().map(|r| r.at_ms).max().unwrap_or(0) as f64;
    let seconds = ((last_ms - first_ms) / 1000.0).max(1e-3);
    let mut latency_us: Vec<u32> = received
        .iter()
        .filter_map(|r| {
            r.headers
                .get("x-sent-ms")?
                .parse::<f64>()
                .ok()
                .map(|s| (r.at_ms as f64 - s) * 1000.0)
        })
        .map(|us| us.max(0.0) as u32)
        .collect();
    Ok(json!({
        "offered": n,
        "accepted": accepted,
        "delivered": received.len(),
        "seconds": (seconds * 100.0).round() / 100.0,
        "deliveries_per_s": (received.len() as f64 / seconds).round(),
        "latency_p50_ms": super::stats::percentile_ms(&mut latency_us, 50.0),
        "latency_p99_ms": super::stats::percentile_ms(&mut latency_us, 99.0),
        "hub_rss_mib_peak": (peak * 10.0).round() / 10.0,
    }))
}
