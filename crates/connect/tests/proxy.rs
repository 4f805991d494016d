//! Calls out through `/proxy`, over real HTTP against the mock provider: credentials, token
//! refresh, quotas, retries, circuit, cache and the path allow-list.

mod support;

use std::time::{Duration, Instant};

use junction_mock::{AuthConfig, HeaderStyle, Limit, MockConfig, QuotaConfig};
use serde_json::json;
use support::*;

fn mock_with_auth() -> MockConfig {
    MockConfig {
        customers: 50,
        auth: AuthConfig {
            required: true,
            ..Default::default()
        },
        ..Default::default()
    }
}

const API_KEY: &str = r#"
connectors:
  crm:
    base_url: "{MOCK}/v2"
    auth: { kind: api_key, header: X-Api-Key, key: secret:crm_key }
"#;

/// A hub whose connector config (`yaml`) uses the mock's API key from the vault.
async fn keyed(yaml: &str) -> Env {
    start(yaml, mock_with_auth(), &[("crm_key", "mock_key_1")]).await
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn proxy_injects_credentials_and_never_forwards_the_callers_authorization() {
    let env = keyed(API_KEY).await;
    let res = env.call("/proxy/crm/customers/cus_000001").await;
    assert_eq!(res.status(), 200);
    assert_eq!(res.headers()["x-junction-attempts"], "1");
    assert_eq!(res.headers()["x-junction-cache"], "BYPASS");
    let body: serde_json::Value = res.json().await.unwrap();
    assert_eq!(body["id"], "cus_000001");
    let seen = env.received("/v2/customers").await;
    assert_eq!(seen.len(), 1);
    let headers = &seen[0]["headers"];
    assert_eq!(headers["x-api-key"], "mock_key_1");
    assert!(
        headers.get("authorization").is_none(),
        "the hub token stayed in the hub: {headers}"
    );
    // The vendor's own errors come back as the vendor sent them.
    let missing = env.call("/proxy/crm/customers/cus_nope").await;
    assert_eq!(missing.status(), 404);
    let body: serde_json::Value = missing.json().await.unwrap();
    assert_eq!(body["error"]["type"], "resource_missing", "{body}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn api_token_scopes_are_enforced() {
    let env = keyed(API_KEY).await;
    let anonymous = env
        .http
        .get(format!("{}/proxy/crm/customers", env.url))
        .send()
        .await
        .unwrap();
    assert_eq!(anonymous.status(), 401);
    let body: serde_json::Value = anonymous.json().await.unwrap();
    assert_eq!(body["error"]["code"], "unauthorized");
    assert!(
        body["error"]["hint"]
            .as_str()
            .unwrap_or_default()
            .contains("junction tokens create"),
        "{body}"
    );
    let forged = env
        .http
        .get(format!("{}/proxy/crm/customers", env.url))
        .bearer_auth("jct_000000000000_forged")
        .send()
        .await
        .unwrap();
    assert_eq!(forged.status(), 401);
    // A token scoped to GET on crm may not POST, nor reach another connector.
    let (token, id, hash) = junction_connect::api_tokens::generate();
    env.store
        .add_api_token(junction_store::ApiToken {
            id,
            name: "reader".into(),
            token_hash: hash,
            scopes: "proxy:crm:GET".into(),
            created_at: junction_core::time::now_ms(),
            expires_at: None,
            revoked_at: None,
        })
        .await
        .unwrap();
    let read = env
        .http
        .get(format!("{}/proxy/crm/customers", env.url))
        .bearer_auth(&token)
        .send()
        .await
        .unwrap();
    assert_eq!(read.status(), 200);
    let write = env
        .http
        .post(format!("{}/proxy/crm/customers", env.url))
        .bearer_auth(&token)
        .json(&json!({"name": "x"}))
        .send()
        .await
        .unwrap();
    assert_eq!(write.status(), 403);
    let body: serde_json::Value = write.json().await.unwrap();
    assert_eq!(body["error"]["code"], "forbidden");
    let unknown = env.call("/proxy/nope/x").await;
    assert_eq!(unknown.status(), 404);
    assert_eq!(
        env.received("/v2/customers").await.len(),
        1,
        "refused calls never reach the vendor"
    );
}

/// Junction protects itself: a token over `server.rate_limits.per_token` is answered 429 with
/// `Retry-After` before its call goes anywhere; other tokens keep their own limit.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_api_token_over_its_rate_limit_is_answered_429_and_other_tokens_are_not() {
    let yaml = format!("server:\n  rate_limits: {{ per_token: [ 3/min ] }}\n{API_KEY}");
    let env = keyed(&yaml).await;
    for _ in 0..3 {
        assert_eq!(env.status("/proxy/crm/customers").await, 200);
    }
    let res = env.call("/proxy/crm/customers").await;
    assert_eq!(res.status(), 429);
    let wait: u64 = res.headers()["retry-after"]
        .to_str()
        .unwrap()
        .parse()
        .unwrap();
    assert!((1..=61).contains(&wait), "{wait}");
    let body: serde_json::Value = res.json().await.unwrap();
    assert_eq!(body["error"]["code"], "rate_limited", "{body}");
    assert!(
        body["error"]["hint"]
            .as_str()
            .unwrap()
            .contains("server.rate_limits.per_token"),
        "{body}"
    );
    let other = env.token_with("proxy:*:*").await;
    let res = env
        .http
        .get(format!("{}/proxy/crm/customers", env.url))
        .bearer_auth(other)
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 200);
    assert_eq!(
        env.received("/v2/customers").await.len(),
        4,
        "the refused call never reached the vendor"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_path_escape_trick_is_refused_before_reaching_the_vendor() {
    let env = keyed(API_KEY).await;
    for evil in [
        "/proxy/crm/../oauth/token",
        "/proxy/crm/customers/../../oauth/token",
        "/proxy/crm/%2e%2e/oauth/token",
        "/proxy/crm/%2E%2e/oauth/token",
        "/proxy/crm/.%2e/_mock/requests",
        "/proxy/crm/%252e%252e/_mock/requests",
        "/proxy/crm/customers/..%2f..%2f_mock%2frequests",
        "/proxy/crm/customers%5c..%5c..%5c_mock",
        "/proxy/crm/customers\\..\\..\\_mock",
        "/proxy/crm//evil.example.com/x",
        "/proxy/crm/http://evil.example.com/x",
        "/proxy/crm/http:%2f%2fevil.example.com/x",
        "/proxy/crm/./customers",
    ] {
        let status = raw_get(&env.url, evil, &env.token).await;
        assert!(status == 400 || status == 404, "{evil} answered {status}");
    }
    let (total, _) = env.mock.state.log.snapshot();
    assert_eq!(total, 0, "no trick reached the mock");
    assert_eq!(
        raw_get(&env.url, "/proxy/crm/customers/cus_000001", &env.token).await,
        200
    );
}

const OAUTH: &str = r#"
connectors:
  crm:
    base_url: "{MOCK}/v2"
    auth:
      kind: oauth2_client_credentials
      token_url: "{MOCK}/oauth/token"
      client_id: mock_client
      client_secret: secret:crm_client_secret
      refresh_at: 50%
"#;

/// A hub with the OAuth connector in front of a mock whose tokens live `ttl`.
async fn oauth(ttl: Duration) -> Env {
    let mut m = mock_with_auth();
    m.auth.token_ttl = ttl;
    start(OAUTH, m, &[("crm_client_secret", "mock_secret")]).await
}

/// A hub with the refresh-token connector in front of a mock that requires credentials.
async fn refreshing() -> Env {
    start(
        REFRESH,
        mock_with_auth(),
        &[("crm_client_secret", "mock_secret")],
    )
    .await
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn token_refresh_fifty_concurrent_calls_at_expiry_cause_exactly_one_refresh() {
    let env = oauth(Duration::from_secs(2)).await;
    assert_eq!(env.status("/proxy/crm/customers").await, 200);
    assert_eq!(env.issued().await.len(), 1);
    // Past refresh_at (50 % of 2 s): the next calls need a new token.
    tokio::time::sleep(Duration::from_millis(1_100)).await;
    let calls = (0..50).map(|_| env.get("/proxy/crm/customers").send());
    for r in futures_util::future::join_all(calls).await {
        assert_eq!(r.unwrap().status(), 200);
    }
    assert_eq!(env.issued().await.len(), 2, "one refresh for fifty callers");
    let row = env
        .store
        .connection("crm", "default")
        .await
        .unwrap()
        .unwrap();
    assert_eq!(
        (row.state.as_str(), row.failures, row.refresh_until),
        ("active", 0, 0)
    );
    // Each token the hub obtained is in the audit log, once.
    let log = env.store.audit_newest(100).await.unwrap();
    let sets: Vec<_> = log
        .iter()
        .filter(|e| e.action == "secret.set" && e.actor == "hub" && e.target == "crm/default")
        .collect();
    assert_eq!(sets.len(), 2, "{log:?}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn token_refresh_once_across_nodes_sharing_postgresql() {
    let Some((store, guards)) = store(Backend::Postgres).await else {
        return;
    };
    let env = start_on(
        store.clone(),
        guards,
        OAUTH,
        mock_with_auth(),
        &[("crm_client_secret", "mock_secret")],
    )
    .await;
    // A second process: its own connectors and token cache, the same database.
    let (_, _, second) = hub_on(
        store,
        OAUTH,
        &env.mock.url(),
        &[("crm_client_secret", "mock_secret")],
    )
    .await;
    let calls = (0..50).map(|i| {
        let base = if i % 2 == 0 { &env.url } else { &second };
        env.http
            .get(format!("{base}/proxy/crm/customers"))
            .bearer_auth(&env.token)
            .send()
    });
    for r in futures_util::future::join_all(calls).await {
        let r = r.unwrap();
        let status = r.status();
        assert_eq!(status, 200, "{}", r.text().await.unwrap_or_default());
    }
    assert_eq!(env.issued().await.len(), 1, "one token for both processes");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_401_triggers_one_refresh_and_one_retry() {
    let env = oauth(Duration::from_secs(3600)).await;
    assert_eq!(env.status("/proxy/crm/customers").await, 200);
    // The provider forgets every token it issued: the cached one is now rejected.
    env.mock.state.tokens.clear();
    let res = env.call("/proxy/crm/customers").await;
    assert_eq!(res.status(), 200);
    assert_eq!(
        res.headers()["x-junction-attempts"],
        "2",
        "the rejected call and its retry"
    );
    assert_eq!(
        env.issued().await.len(),
        1,
        "exactly one refresh (the log was cleared with the tokens)"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_rotated_refresh_token_is_persisted_before_it_is_used() {
    let env = refreshing().await;
    // A refresh token from the provider, as the connect flow would have obtained it.
    let first = mock_grant(&env).await;
    let seeded = first["refresh_token"].as_str().unwrap().to_owned();
    seed(&env, "tenant-a", &seeded).await;
    let res = env
        .get("/proxy/crm/customers")
        .header("X-Junction-Connection", "tenant-a")
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 200);
    let issued = env.issued().await;
    let rotated = issued.last().unwrap()["refresh_token"]
        .as_str()
        .unwrap()
        .to_owned();
    assert_ne!(rotated, seeded);
    let stored = env
        .store
        .secret(&junction_connect::auth::tokens::refresh_secret(
            "crm", "tenant-a",
        ))
        .await
        .unwrap()
        .unwrap();
    let stored = env.vault.open_sealed(&stored).unwrap();
    assert_eq!(
        junction_vault::ExposeSecret::expose_secret(&stored),
        rotated.as_str()
    );
    // Another connection has no credentials: a clear 404, no call.
    let other = env
        .get("/proxy/crm/customers")
        .header("X-Junction-Connection", "tenant-b")
        .send()
        .await
        .unwrap();
    assert_eq!(other.status(), 404);
    let body: serde_json::Value = other.json().await.unwrap();
    assert!(
        body["error"]["hint"]
            .as_str()
            .unwrap()
            .contains("set-token"),
        "{body}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_refused_refresh_marks_the_connection_needs_reauth_and_calls_fail_fast() {
    let env = refreshing().await;
    seed(&env, "default", "rt_revoked_long_ago").await;
    let res = env.call("/proxy/crm/customers").await;
    assert_eq!(res.status(), 502);
    let body: serde_json::Value = res.json().await.unwrap();
    assert_eq!(body["error"]["code"], "needs_reauth", "{body}");
    let row = env
        .store
        .connection("crm", "default")
        .await
        .unwrap()
        .unwrap();
    assert_eq!(row.state, junction_store::ConnectionState::NeedsReauth);
    assert!(row.last_error.unwrap().contains("invalid_grant"));
    let token_calls = env.received("/oauth/token").await.len();
    let again = env.call("/proxy/crm/customers").await;
    assert_eq!(again.status(), 502);
    assert_eq!(
        env.received("/oauth/token").await.len(),
        token_calls,
        "failing fast: no new refresh"
    );
}

/// The mock with one rate limit (`200/s:global`) and draft rate-limit headers.
fn limited_mock(limit: &str) -> MockConfig {
    let mut mock = mock_with_auth();
    mock.quotas = QuotaConfig {
        limits: vec![Limit::parse(limit).unwrap()],
        headers: HeaderStyle::Draft,
        sliding: false,
    };
    mock
}

/// `n` GETs of one customer through the hub at once; their statuses.
async fn concurrent_gets(env: &Env, n: usize) -> Vec<u16> {
    let calls = (0..n).map(|_| env.get("/proxy/crm/customers/cus_000001").send());
    futures_util::future::join_all(calls)
        .await
        .into_iter()
        .map(|r| r.unwrap().status().as_u16())
        .collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn quota_2000_calls_against_a_200_per_second_limit_never_exceed_it() {
    let yaml = format!("{API_KEY}    quotas: [ 200/s ]\n    concurrency: 32\n    max_wait: 30s\n    timeouts: {{ total: 30s }}\n");
    let env = start(
        &yaml,
        limited_mock("200/s:global"),
        &[("crm_key", "mock_key_1")],
    )
    .await;
    let started = Instant::now();
    let statuses = concurrent_gets(&env, 2000).await;
    let elapsed = started.elapsed();
    assert!(
        statuses.iter().all(|s| *s == 200),
        "{:?}",
        statuses.iter().filter(|s| **s != 200).collect::<Vec<_>>()
    );
    // The mock counts in fixed windows from its start: none may hold more than 200.
    let seen = env.received("/v2/customers").await;
    let mut per_window = std::collections::BTreeMap::new();
    for r in &seen {
        *per_window
            .entry(r["at_us"].as_u64().unwrap() / 1_000_000)
            .or_insert(0) += 1;
    }
    assert!(per_window.values().all(|n| *n <= 200), "{per_window:?}");
    assert_eq!(seen.len(), 2000, "no retries were needed");
    assert!(
        elapsed < Duration::from_secs(12),
        "quota used, not wasted: {elapsed:?}"
    );
}

/// Calls admitted while the token is being fetched (1.5 s here, longer than the window) wait
/// for it after admission: they count in the quota until they leave, so those admitted later
/// do not reach the vendor together with them.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn quota_calls_admitted_while_a_token_is_fetched_count_until_they_leave() {
    let mut mock = mock_with_auth();
    mock.auth.token_delay = Duration::from_millis(1_500);
    let yaml =
        format!("{OAUTH}    quotas: [ 10/s ]\n    max_wait: 30s\n    timeouts: {{ total: 30s }}\n");
    let env = start(&yaml, mock, &[("crm_client_secret", "mock_secret")]).await;
    let statuses = concurrent_gets(&env, 40).await;
    assert!(statuses.iter().all(|s| *s == 200), "{statuses:?}");
    let mut at: Vec<u64> = env
        .received("/v2/customers")
        .await
        .iter()
        .map(|r| r["at_us"].as_u64().unwrap())
        .collect();
    at.sort_unstable();
    assert_eq!(at.len(), 40, "no call was refused and retried");
    let most = (0..at.len())
        .map(|i| {
            at[i..]
                .iter()
                .take_while(|t| **t - at[i] < 1_000_000)
                .count()
        })
        .max()
        .unwrap();
    assert!(most <= 10, "the vendor saw {most} calls within one second");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn quota_a_limit_lower_than_configured_is_learned_from_headers() {
    let yaml = format!(
        "{API_KEY}    quotas: [ 1000/s ]\n    concurrency: 16\n    timeouts: {{ total: 20s }}\n"
    );
    let env = start(
        &yaml,
        limited_mock("100/s:global"),
        &[("crm_key", "mock_key_1")],
    )
    .await;
    let statuses = concurrent_gets(&env, 500).await;
    assert!(statuses.iter().all(|s| *s == 200));
    let sent = env.received("/v2/customers").await.len();
    let refused = sent - 500;
    assert!(
        refused * 100 <= sent,
        "{refused} of {sent} calls were refused by the vendor (> 1 %)"
    );
    let snap = junction_resilience::QuotaState::snapshot(
        env.hub.connector("crm").unwrap().quota(),
        tokio::time::Instant::now(),
    );
    assert!(
        snap.windows
            .iter()
            .any(|(w, _, learned)| *learned && w.limit == 100),
        "{snap:?}"
    );
}

const FLAKY: &str = r#"
connectors:
  crm:
    base_url: "{MOCK}/v2"
    auth: { kind: api_key, header: X-Api-Key, key: secret:crm_key }
    retry: { attempts: 3, base: 10ms, max: 50ms, idempotency_header: Idempotency-Key }
    circuit: { error_rate: 50%, min_calls: 6, window: 10s, open_for: 1s }
"#;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn idempotent_calls_are_retried_and_a_keyed_post_keeps_its_key() {
    let env = keyed(FLAKY).await;
    env.chaos(json!({ "errors": [[503, 1.0]] })).await;
    let get = env.call("/proxy/crm/customers/cus_000001").await;
    assert_eq!(get.status(), 503);
    assert_eq!(get.headers()["x-junction-attempts"], "3");
    let post = env
        .post("/proxy/crm/customers")
        .json(&json!({"name": "a"}))
        .send()
        .await
        .unwrap();
    assert_eq!(post.headers()["x-junction-attempts"], "3");
    let posts: Vec<_> = env
        .received("/v2/customers")
        .await
        .into_iter()
        .filter(|r| r["method"] == "POST")
        .collect();
    assert_eq!(posts.len(), 3);
    let keys: std::collections::BTreeSet<String> = posts
        .iter()
        .map(|r| r["headers"]["idempotency-key"].as_str().unwrap().to_owned())
        .collect();
    assert_eq!(
        keys.len(),
        1,
        "every attempt carries the same Idempotency-Key"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_post_without_an_idempotency_key_is_not_retried() {
    let env = keyed(API_KEY).await;
    env.chaos(json!({ "errors": [[503, 1.0]] })).await;
    let post = env
        .post("/proxy/crm/customers")
        .json(&json!({"name": "a"}))
        .send()
        .await
        .unwrap();
    assert_eq!(post.status(), 503);
    assert_eq!(post.headers()["x-junction-attempts"], "1");
    assert_eq!(env.received("/v2/customers").await.len(), 1);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn circuit_opens_fails_fast_probes_and_closes_when_the_vendor_recovers() {
    let env = keyed(FLAKY).await;
    env.chaos(json!({ "errors": [[503, 1.0]] })).await;
    // Two calls of three attempts each: six failures, the minimum for the window.
    for _ in 0..2 {
        env.call("/proxy/crm/customers/cus_000001").await;
    }
    let sent = env.received("/v2/customers").await.len();
    let open = env.call("/proxy/crm/customers/cus_000001").await;
    assert_eq!(open.status(), 503);
    assert!(open.headers().contains_key("retry-after"));
    let body: serde_json::Value = open.json().await.unwrap();
    assert_eq!(body["error"]["code"], "circuit_open");
    assert_eq!(
        env.received("/v2/customers").await.len(),
        sent,
        "an open circuit fails fast"
    );
    env.chaos(json!({})).await;
    tokio::time::sleep(Duration::from_millis(1_100)).await;
    let probe = env.call("/proxy/crm/customers/cus_000001").await;
    assert_eq!(probe.status(), 200, "{:?}", probe.text().await);
    assert_eq!(
        env.hub
            .connector("crm")
            .unwrap()
            .circuit
            .state(tokio::time::Instant::now()),
        junction_resilience::CircuitState::Closed
    );
}

const CACHED: &str = r#"
connectors:
  crm:
    base_url: "{MOCK}/v2"
    auth: { kind: api_key, header: X-Api-Key, key: secret:crm_key }
    cache: { mode: http }
    circuit: { min_calls: 2, error_rate: 50%, open_for: 30s, fallback: stale }
    retry: { attempts: 1 }
"#;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn etag_revalidation_serves_the_cached_body_on_304_and_stale_while_the_circuit_is_open() {
    let env = keyed(CACHED).await;
    let first = env.call("/proxy/crm/customers/cus_000002").await;
    assert_eq!(first.headers()["x-junction-cache"], "MISS");
    let body1 = first.text().await.unwrap();
    let second = env.call("/proxy/crm/customers/cus_000002").await;
    assert_eq!(second.status(), 200);
    assert_eq!(second.headers()["x-junction-cache"], "REVALIDATED");
    assert_eq!(second.text().await.unwrap(), body1);
    let seen = env.received("/v2/customers/cus_000002").await;
    assert_eq!(seen.len(), 2);
    assert!(
        seen[1]["headers"]["if-none-match"]
            .as_str()
            .unwrap()
            .starts_with('"'),
        "{}",
        seen[1]
    );
    // The vendor goes down: the circuit opens and the last good answer is served, marked stale.
    env.chaos(json!({ "errors": [[500, 1.0]] })).await;
    for _ in 0..2 {
        env.call("/proxy/crm/customers/cus_000003").await;
    }
    let stale = env.call("/proxy/crm/customers/cus_000002").await;
    assert_eq!(stale.status(), 200);
    assert_eq!(stale.headers()["x-junction-stale"], "true");
    assert_eq!(stale.headers()["x-junction-cache"], "STALE");
    assert_eq!(stale.text().await.unwrap(), body1);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn identical_gets_in_flight_are_coalesced_into_one_upstream_call() {
    let yaml = CACHED.replace("cache: { mode: http }", "cache: { mode: ttl, ttl: 1m }");
    let env = keyed(&yaml).await;
    env.chaos(json!({ "latency_ms": [300, 1] })).await;
    let calls = (0..20).map(|_| env.get("/proxy/crm/customers/cus_000004").send());
    let answers = futures_util::future::join_all(calls).await;
    let mut how = std::collections::BTreeMap::new();
    for a in answers {
        let a = a.unwrap();
        assert_eq!(a.status(), 200);
        *how.entry(a.headers()["x-junction-cache"].to_str().unwrap().to_owned())
            .or_insert(0) += 1;
    }
    assert_eq!(
        env.received("/v2/customers/cus_000004").await.len(),
        1,
        "{how:?}"
    );
    assert_eq!(how.get("MISS"), Some(&1));
    let hit = env.call("/proxy/crm/customers/cus_000004").await;
    assert_eq!(hit.headers()["x-junction-cache"], "HIT");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_jwt_bearer_assertion_obtains_a_token() {
    let yaml = r#"
connectors:
  crm:
    base_url: "{MOCK}/v2"
    auth:
      kind: jwt_bearer
      token_url: "{MOCK}/oauth/token"
      issuer: mock_client
      private_key: secret:jwt_key
      algorithm: HS256
      scopes: [ customers:read ]
"#;
    let env = start(yaml, mock_with_auth(), &[("jwt_key", "mock_secret")]).await;
    let res = env.call("/proxy/crm/customers/cus_000001").await;
    assert_eq!(res.status(), 200, "{:?}", res.text().await);
    let issued = env.issued().await;
    assert_eq!(issued.len(), 1);
    assert_eq!(issued[0]["scope"], "customers:read");
    let form = &env.received("/oauth/token").await[0];
    assert!(
        form["headers"].get("authorization").is_none(),
        "the assertion is the credential"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_token_connector_without_a_master_key_is_refused_at_start_up() {
    let (store, _guards) = store(Backend::Sqlite).await.unwrap();
    let text = OAUTH.replace("{MOCK}", "http://127.0.0.1:9");
    let config =
        junction_config::load_str(&text, "junction.yaml", &Default::default(), &|_| None).unwrap();
    let err = junction_connect::Hub::new(&junction_server::AppState::new(config, store), None)
        .err()
        .unwrap();
    assert!(
        err.contains("connector crm") && err.contains("JUNCTION_MASTER_KEY"),
        "{err}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_injected_query_key_is_the_only_one_and_forwarding_claims_stay_with_the_caller() {
    let env = keyed(
        r#"
connectors:
  crm:
    base_url: "{MOCK}/v2"
    auth: { kind: api_key, query: api_key, key: secret:crm_key }
"#,
    )
    .await;
    let res = env
        .get("/proxy/crm/customers/cus_000001?api_key=the_callers_own&expand=x")
        .header("x-forwarded-for", "203.0.113.9")
        .header("x-forwarded-host", "admin.vendor.example")
        .header("forwarded", "for=203.0.113.9;host=admin.vendor.example")
        .header("x-real-ip", "203.0.113.9")
        .send()
        .await
        .unwrap();
    assert_eq!(
        res.status(),
        200,
        "the vendor saw the connector's key first"
    );
    let seen = env.received("/v2/customers").await;
    let query = seen[0]["query"].as_str().unwrap_or_default().to_owned();
    assert!(!query.contains("the_callers_own"), "{query}");
    assert!(
        query.contains("api_key=mock_key_1") && query.contains("expand=x"),
        "{query}"
    );
    let headers = seen[0]["headers"].to_string();
    for h in [
        "x-forwarded-for",
        "x-forwarded-host",
        "\"forwarded\"",
        "x-real-ip",
    ] {
        assert!(!headers.contains(h), "{h} went upstream: {headers}");
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_vendor_call_continues_the_callers_trace_under_a_new_parent() {
    let env = keyed(
        r#"
connectors:
  crm:
    base_url: "{MOCK}/v2"
    auth: { kind: api_key, header: X-Api-Key, key: secret:crm_key }
"#,
    )
    .await;
    let caller = "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01";
    let res = env
        .get("/proxy/crm/customers/cus_000001")
        .header("traceparent", caller)
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 200);
    let res = env
        .get("/proxy/crm/customers/cus_000002")
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 200);
    let seen = env.received("/v2/customers").await;
    let sent = |i: usize| {
        let tp = seen[i]["headers"]["traceparent"]
            .as_str()
            .unwrap_or_else(|| panic!("no traceparent went upstream: {}", seen[i]));
        junction_telemetry::TraceParent::parse(tp).unwrap()
    };
    let (first, second) = (sent(0), sent(1));
    assert_eq!(first.trace_id, "4bf92f3577b34da6a3ce929d0e0e4736");
    assert_ne!(
        first.parent_id, "00f067aa0ba902b7",
        "not the caller's own span"
    );
    assert_ne!(
        second.trace_id, first.trace_id,
        "a call without one starts a trace"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn each_connection_has_its_own_quota_and_one_tenants_burst_never_spends_anothers() {
    let env = start(
        &format!("{REFRESH}    quotas: [ 100/s ]\n    connection_quotas: [ 2/10s ]\n    max_wait: 20ms\n"),
        mock_with_auth(),
        &[("crm_client_secret", "mock_secret")],
    )
    .await;
    for tenant in ["acme", "globex"] {
        let grant = mock_grant(&env).await;
        seed(&env, tenant, grant["refresh_token"].as_str().unwrap()).await;
    }
    let as_tenant = |t: &'static str| {
        env.get("/proxy/crm/customers/cus_000001")
            .header("x-junction-connection", t)
    };
    for _ in 0..2 {
        let res = as_tenant("acme").send().await.unwrap();
        assert_eq!(res.status(), 200, "{}", res.text().await.unwrap());
    }
    let refused = as_tenant("acme").send().await.unwrap();
    assert_eq!(refused.status(), 429);
    assert!(refused.headers().contains_key("retry-after"));
    let body = refused.text().await.unwrap();
    assert!(body.contains("connection acme"), "{body}");
    // Another tenant's connection still has its whole quota.
    for _ in 0..2 {
        assert_eq!(as_tenant("globex").send().await.unwrap().status(), 200);
    }
    assert_eq!(as_tenant("globex").send().await.unwrap().status(), 429);
    // The refused calls never reached the vendor.
    assert_eq!(env.received("/v2/customers").await.len(), 4);
}

/// A vendor that meters by cost charges `/proxy` calls the connector's `cost.default`, and
/// says in a header how many points are left: points another client of the same account spent
/// are learned from it, so Junction stops before the vendor would refuse.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn points_spent_elsewhere_are_learned_from_a_header_and_the_vendor_never_refuses() {
    // The vendor: 100 points a minute for the account, left in X-RateLimit-Remaining; each
    // call costs the vendor 1 (the mock counts calls), Junction prices a /proxy call at 2 —
    // more than it costs, which only makes Junction stop early.
    let mut mock = mock_with_auth();
    mock.quotas = QuotaConfig {
        limits: vec![Limit::parse("100/min:global").unwrap()],
        headers: HeaderStyle::XRateLimit,
        sliding: false,
    };
    let yaml = format!(
        "{API_KEY}    quotas: [ 100/min ]\n    max_wait: 100ms\n    cost: {{ default: 2, left: \"header:X-RateLimit-Remaining\" }}\n"
    );
    let env = start(&yaml, mock, &[("crm_key", "mock_key_1")]).await;
    // Another client of the account spends 80 of the vendor's 100.
    for _ in 0..80 {
        let s = env
            .http
            .get(format!("{}/v2/customers/cus_000001", env.mock.url()))
            .header("x-api-key", "mock_key_1")
            .send()
            .await
            .unwrap()
            .status();
        assert_eq!(s, 200);
    }
    let sent_before = env.received("/v2/customers").await.len();
    let mut statuses = Vec::new();
    for _ in 0..30 {
        let s = env
            .get("/proxy/crm/customers/cus_000001")
            .send()
            .await
            .unwrap()
            .status()
            .as_u16();
        statuses.push(s);
        if s == 429 {
            break;
        }
    }
    // The first call learns that 19 are left (it counted 2 of our own): Junction's count
    // becomes 81 of 100, and calls of 2 points fit until it is full.
    let passed = statuses.iter().filter(|s| **s == 200).count();
    assert_eq!(statuses.last(), Some(&429), "{statuses:?}");
    assert!((9..=10).contains(&passed), "{passed} passed: {statuses:?}");
    let sent = env.received("/v2/customers").await.len() - sent_before;
    assert_eq!(sent, passed, "the refused call never reached the vendor");
    let snap = junction_resilience::QuotaState::snapshot(
        env.hub.connector("crm").unwrap().quota(),
        tokio::time::Instant::now(),
    );
    assert!(snap.windows[0].1 >= 99, "{snap:?}");
}
