//! `junction bench quota`: how well `/proxy` uses a vendor's rate limit. `--calls` GETs (at
//! concurrency 64) go through `junction serve` to the mock limited to `--limit` per second
//! (fixed windows, IETF draft rate-limit headers): once with the limit configured on the
//! connector, once with no quota configured so Junction must learn it from the headers, and
//! once configured against a vendor that counts a sliding window and sees each call 0-50 ms
//! late (the strictest count, with network jitter). The
//! figures: total time against the ideal (calls / limit) and the share of calls the vendor
//! refused with 429.

use std::sync::Arc;
use std::time::{Duration, Instant};

use junction_mock::{HeaderStyle, Limit, Mock, MockConfig, QuotaConfig};
use serde_json::{json, Value};

use super::hub::HubProcess;
use super::BenchArgs;

/// Creates an API token with every proxy scope in the hub's database; returns its text.
pub async fn api_token(db: &str) -> Result<String, String> {
    api_token_with(db, "proxy:*:*").await
}

/// Creates an API token with `scopes` in the hub's database; returns its text.
pub async fn api_token_with(db: &str, scopes: &str) -> Result<String, String> {
    let store = junction_store::open(&junction_store::Options {
        url: junction_config::parse_database_url(db)?,
        max_connections: 2,
        connect_timeout: Duration::from_secs(5),
    })
    .await
    .map_err(|e| e.to_string())?;
    let (token, id, hash) = junction_connect::api_tokens::generate();
    store
        .add_api_token(junction_store::ApiToken {
            id,
            name: "bench".into(),
            token_hash: hash,
            scopes: scopes.into(),
            created_at: junction_core::time::now_ms(),
            expires_at: None,
            revoked_at: None,
        })
        .await
        .map_err(|e| e.to_string())?;
    Ok(token)
}

/// The upstream: `limit` per second for everyone, counted in fixed windows, or (`jittered`)
/// over a sliding window with every request reaching the counter 0-50 ms late.
async fn upstream(limit: u32, calls: usize, jittered: bool) -> Result<Mock, String> {
    let mut chaos = junction_mock::Chaos::default();
    if jittered {
        chaos.latency_ms = Some((0, 50));
    }
    Mock::start(
        MockConfig {
            customers: 10,
            record_limit: calls * 2 + 1_000,
            quotas: QuotaConfig {
                limits: vec![Limit::parse(&format!("{limit}/s:global"))?],
                headers: HeaderStyle::Draft,
                sliding: jittered,
            },
            chaos,
            ..Default::default()
        },
        "127.0.0.1:0".parse().map_err(|e| format!("{e}"))?,
    )
    .await
    .map_err(|e| format!("cannot start the upstream: {e}"))
}

pub async fn run(args: &BenchArgs) -> Result<Value, String> {
    let limit = args.limit;
    let calls = args.calls;
    let mock = upstream(limit, calls, false).await?;
    let ideal = calls as f64 / f64::from(limit);
    eprintln!("quota bench: {calls} calls, vendor limit {limit}/s, ideal {ideal:.1}s");
    let known = scenario(&mock, Some(limit), calls).await?;
    eprintln!("  limit configured: {known}");
    let learned = scenario(&mock, None, calls).await?;
    eprintln!("  limit learned:    {learned}");
    let strict = upstream(limit, calls, true).await?;
    let sliding = scenario(&strict, Some(limit), calls).await?;
    eprintln!(
        "  limit configured, vendor counts a sliding window, arrival jitter 0-50 ms: {sliding}"
    );
    let ratio = |v: &Value| v["seconds"].as_f64().unwrap_or(0.0) / ideal;
    Ok(json!({
        "scenario": "quota",
        "calls": calls,
        "vendor_limit_per_s": limit,
        "ideal_seconds": ideal,
        "configured": known,
        "configured_vs_ideal": ratio(&known),
        "learned": learned,
        "learned_vs_ideal": ratio(&learned),
        "configured_sliding_jitter": sliding,
        "configured_sliding_jitter_vs_ideal": ratio(&sliding),
        "target": { "configured_vs_ideal": 1.03, "configured_429_pct": 0.0, "learned_vs_ideal": 1.15, "learned_429_pct": 1.0, "configured_sliding_jitter_429_pct": 0.0 },
        "machine": super::machine(),
    }))
}

async fn scenario(mock: &Mock, configured: Option<u32>, calls: usize) -> Result<Value, String> {
    mock.state.log.clear();
    mock.state.quotas.clear();
    let dir = tempfile::tempdir().map_err(|e| e.to_string())?;
    let db = format!("sqlite://{}", dir.path().join("hub.db").display());
    let token = api_token(&db).await?;
    let quotas = configured
        .map(|l| format!("    quotas: [ {l}/s ]\n"))
        .unwrap_or_default();
    let body = format!(
        "connectors:\n  crm:\n    base_url: \"{}/v2\"\n{quotas}    concurrency: 64\n    max_wait: 120s\n    timeouts: {{ total: 120s }}\n    retry: {{ attempts: 5, base: 50ms, max: 1s }}\n",
        mock.url()
    );
    let hub = HubProcess::start_with(dir.path(), &db, &body, &[]).await?;
    // Let the hub finish starting before the clock runs.
    tokio::time::sleep(Duration::from_millis(500)).await;
    mock.state.log.clear();
    mock.state.quotas.clear();
    let client = reqwest::Client::builder()
        .pool_max_idle_per_host(64)
        .build()
        .map_err(|e| e.to_string())?;
    let url = Arc::new(format!("{}/proxy/crm/customers/cus_000001", hub.base));
    let token = Arc::new(token);
    let slots = Arc::new(tokio::sync::Semaphore::new(64));
    let started = Instant::now();
    let mut handles = Vec::with_capacity(calls);
    for _ in 0..calls {
        let permit = slots
            .clone()
            .acquire_owned()
            .await
            .map_err(|e| e.to_string())?;
        let (client, url, token) = (client.clone(), url.clone(), token.clone());
        handles.push(tokio::spawn(async move {
            let r = client
                .get(url.as_str())
                .bearer_auth(token.as_str())
                .send()
                .await;
            drop(permit);
            r.map(|r| r.status().as_u16()).unwrap_or(0)
        }));
    }
    let mut ok = 0usize;
    for h in handles {
        if h.await.unwrap_or(0) == 200 {
            ok += 1;
        }
    }
    let seconds = started.elapsed().as_secs_f64();
    let (total, _) = mock.state.log.snapshot();
    hub.stop();
    let refused = (total as usize).saturating_sub(ok);
    Ok(json!({
        "seconds": (seconds * 100.0).round() / 100.0,
        "ok": ok,
        "upstream_requests": total,
        "upstream_429": refused,
        "upstream_429_pct": (refused as f64 * 10_000.0 / total.max(1) as f64).round() / 100.0,
    }))
}
