//! Several processes on one PostgreSQL database, each with its own connectors, over real HTTP
//! against the mock: they share each connector's quota (never above the vendor's limit, and
//! used), a vendor's pause, and its circuit.

mod support;

use std::time::{Duration, Instant};

use junction_mock::{AuthConfig, HeaderStyle, Limit, MockConfig, QuotaConfig};
use serde_json::json;
use support::*;

fn limited(limit: &str, headers: HeaderStyle, sliding: bool) -> MockConfig {
    MockConfig {
        customers: 10,
        auth: AuthConfig {
            required: true,
            ..Default::default()
        },
        quotas: QuotaConfig {
            limits: vec![Limit::parse(limit).unwrap()],
            headers,
            sliding,
        },
        ..Default::default()
    }
}

const KEYED: &str = r#"
connectors:
  crm:
    base_url: "{MOCK}/v2"
    auth: { kind: api_key, header: X-Api-Key, key: secret:crm_key }
"#;

/// The first process (with the mock) and `more` processes beside it; `None` without PostgreSQL.
async fn cluster(yaml: &str, mock: MockConfig, more: usize) -> Option<(Env, Vec<String>)> {
    cluster_with(yaml, mock, more, &[("crm_key", "mock_key_1")]).await
}

async fn cluster_with(
    yaml: &str,
    mock: MockConfig,
    more: usize,
    secrets: &[(&str, &str)],
) -> Option<(Env, Vec<String>)> {
    let (store, guards) = store(Backend::Postgres).await?;
    let env = start_on(store.clone(), guards, yaml, mock, secrets).await;
    let mut urls = vec![env.url.clone()];
    for _ in 0..more {
        urls.push(
            hub_on(store.clone(), yaml, &env.mock.url(), secrets)
                .await
                .2,
        );
    }
    Some((env, urls))
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn global_quota_three_processes_calling_at_once_stay_within_the_vendors_limit() {
    // Calls may reach the vendor up to 200 ms apart from when they were sent while the rest of
    // the test suite loads the machine: the quota allows for it (`quota_jitter`).
    let yaml = format!(
        "{KEYED}    quotas: [ 100/s ]\n    quota_jitter: 200ms\n    concurrency: 32\n    max_wait: 60s\n    timeouts: {{ total: 60s }}\n"
    );
    // The vendor counts a sliding second, the strictest way.
    let Some((env, urls)) =
        cluster(&yaml, limited("100/s:global", HeaderStyle::Draft, true), 2).await
    else {
        return;
    };
    let started = Instant::now();
    let calls = (0..900).map(|i| {
        env.get_on(&urls[i % 3], "/proxy/crm/customers/cus_000001")
            .send()
    });
    let statuses: Vec<u16> = futures_util::future::join_all(calls)
        .await
        .into_iter()
        .map(|r| r.unwrap().status().as_u16())
        .collect();
    let elapsed = started.elapsed();
    assert!(statuses.iter().all(|s| *s == 200), "{statuses:?}");
    let seen = env.received("/v2/customers").await;
    let most = env.mock.state.log.most_in_any(Duration::from_secs(1));
    assert!(most <= 100, "the vendor saw {most} calls in one second");
    assert_eq!(
        seen.len(),
        900,
        "no call was refused by the vendor and retried"
    );
    // The shares follow demand: 900 calls at 100 per 1.2 s take 10.8 s; allow the shares time
    // to settle (a process left without a share would hold its 300 calls back).
    assert!(
        elapsed < Duration::from_secs(20),
        "the quota was used, not wasted: {elapsed:?}"
    );
    // Each process shows its part; the parts never add up to more than the whole.
    let mut parts = Vec::new();
    for url in &urls {
        let view: serde_json::Value = env
            .get_on(url, "/api/v1/connectors/crm")
            .send()
            .await
            .unwrap()
            .json()
            .await
            .unwrap();
        parts.push(view["quota"]["share"].as_f64().expect("a share"));
    }
    assert!(parts.iter().sum::<f64>() <= 1.0 + 1e-9, "{parts:?}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_retry_after_one_process_receives_pauses_the_others() {
    let yaml = format!(
        "{KEYED}    concurrency: 4\n    max_wait: 60s\n    timeouts: {{ total: 60s }}\n    retry: {{ attempts: 3, base: 10ms, max: 50ms }}\n"
    );
    let Some((env, urls)) =
        cluster(&yaml, limited("3/10s:global", HeaderStyle::None, false), 1).await
    else {
        return;
    };
    let get = |base: &str| env.get_on(base, "/proxy/crm/customers/cus_000001").send();
    for _ in 0..3 {
        assert_eq!(get(&urls[0]).await.unwrap().status(), 200);
    }
    // The fourth is refused with Retry-After: the first process pauses, retries after it.
    let first = tokio::spawn(get(&urls[0]));
    // Two renewals later the second process knows of the pause.
    tokio::time::sleep(Duration::from_millis(2_500)).await;
    let second = get(&urls[1]).await.unwrap();
    assert_eq!(second.status(), 200);
    assert_eq!(
        second.headers()["x-junction-attempts"],
        "1",
        "it waited out the pause instead of being refused"
    );
    assert_eq!(first.await.unwrap().unwrap().status(), 200);
    // Three, the refused fourth, its retry and the second process's one call.
    assert_eq!(env.received("/v2/customers").await.len(), 6);
}

const FLAKY: &str = r#"
connectors:
  crm:
    base_url: "{MOCK}/v2"
    auth: { kind: api_key, header: X-Api-Key, key: secret:crm_key }
    retry: { attempts: 1 }
    circuit: { failures: 3, open_for: 4s }
"#;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_circuit_one_process_opens_is_open_in_the_others_and_closes_with_its_probe() {
    let Some((env, urls)) = cluster(FLAKY, limited("1000/s", HeaderStyle::None, false), 1).await
    else {
        return;
    };
    let call = |base: &str| env.get_on(base, "/proxy/crm/customers/cus_000001").send();
    env.chaos(json!({ "errors": [[503, 1.0]] })).await;
    for _ in 0..3 {
        call(&urls[0]).await.unwrap();
    }
    let sent = env.received("/v2/customers").await.len();
    assert_eq!(sent, 3);
    // Within two renewals the second process holds it open too: it fails fast.
    tokio::time::sleep(Duration::from_millis(2_200)).await;
    let open = call(&urls[1]).await.unwrap();
    assert_eq!(open.status(), 503);
    let body: serde_json::Value = open.json().await.unwrap();
    assert_eq!(body["error"]["code"], "circuit_open");
    assert_eq!(
        env.received("/v2/customers").await.len(),
        sent,
        "nothing reached the vendor"
    );
    // The vendor recovers; the opener's probe closes it for both.
    env.chaos(json!({})).await;
    tokio::time::sleep(Duration::from_millis(2_000)).await;
    assert_eq!(
        call(&urls[0]).await.unwrap().status(),
        200,
        "the opener's probe"
    );
    tokio::time::sleep(Duration::from_millis(2_200)).await;
    let after = call(&urls[1]).await.unwrap();
    assert_eq!(
        after.status(),
        200,
        "closed by the other's probe, before its own hold ended"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_connections_own_quota_holds_across_processes() {
    // The vendor allows one account 10 calls in any 2 seconds; the connector says so per
    // connection. Three processes call for the same tenant at once: their parts of its quota
    // follow the connector's shares, so together they never send more than 10 in 2 s.
    let yaml = format!(
        "{REFRESH}    connection_quotas: [ 10/2s ]\n    quota_jitter: 200ms\n    max_wait: 60s\n    timeouts: {{ total: 60s }}\n"
    );
    let Some((env, urls)) = cluster_with(
        &yaml,
        limited("10/2s:global", HeaderStyle::None, true),
        2,
        &[("crm_client_secret", "mock_secret")],
    )
    .await
    else {
        return;
    };
    let grant = mock_grant(&env).await;
    seed(&env, "acme", grant["refresh_token"].as_str().unwrap()).await;
    let calls = (0..30).map(|i| {
        env.get_on(&urls[i % 3], "/proxy/crm/customers/cus_000001")
            .header("x-junction-connection", "acme")
            .send()
    });
    let statuses: Vec<u16> = futures_util::future::join_all(calls)
        .await
        .into_iter()
        .map(|r| r.unwrap().status().as_u16())
        .collect();
    assert!(statuses.iter().all(|s| *s == 200), "{statuses:?}");
    let most = env
        .mock
        .state
        .log
        .most_in_any_path(Duration::from_secs(2), "/v2/customers");
    assert!(
        most <= 10,
        "the vendor saw {most} of the tenant's calls in 2 seconds"
    );
    assert_eq!(
        env.received("/v2/customers").await.len(),
        30,
        "none refused by the vendor"
    );
}
