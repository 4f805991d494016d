//! An in-process hub (server + engine on a real store) and the mock provider beside it.

#![allow(dead_code)]

use std::sync::Arc;
use std::time::{Duration, Instant};

use junction_config::{load_str, Overrides};
use junction_engine::Engine;
use junction_mock::{Mock, MockConfig, Scheme, SendRequest};
use junction_server::AppState;
use junction_store::Store;
use junction_testkit::postgres::TestDb;
use serde_json::Value;

pub const WHSEC: &str = "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw";
pub const SIGNING: &str = "whsec_c2lnbmluZy1rZXktZm9yLWRlc3RpbmF0aW9ucw==";

/// Which database a test runs on.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Db {
    Sqlite,
    Postgres,
}

/// A database for one test; dropped with it.
pub enum DbGuard {
    Sqlite(tempfile::TempDir),
    Postgres(TestDb),
}

impl DbGuard {
    /// `None` when PostgreSQL is unreachable on a developer machine (CI fails instead).
    pub async fn new(db: Db) -> Option<(Self, String)> {
        match db {
            Db::Sqlite => {
                let dir = tempfile::tempdir().unwrap();
                let url = format!("sqlite://{}", dir.path().join("j.db").display());
                Some((DbGuard::Sqlite(dir), url))
            }
            Db::Postgres => {
                let db = TestDb::create().await?;
                let url = db.url.clone();
                Some((DbGuard::Postgres(db), url))
            }
        }
    }
}

pub struct Hub {
    pub base: String,
    pub state: AppState,
    pub engine: Arc<Engine>,
    stop: Option<tokio::sync::oneshot::Sender<()>>,
    server: Option<tokio::task::JoinHandle<std::io::Result<()>>>,
}

impl Hub {
    /// Starts the hub with `yaml` on the store at `url`. `{sink}` in the YAML becomes the mock's
    /// sink URL.
    pub async fn start(yaml: &str, url: &str, mock: &Mock) -> Hub {
        let yaml = yaml.replace("{sink}", &format!("{}/sink", mock.url()));
        Self::start_raw(&yaml, url).await
    }

    pub async fn start_raw(yaml: &str, url: &str) -> Hub {
        let env = |name: &str| match name {
            "WHSEC" => Some(WHSEC.to_string()),
            "SIGNING" => Some(SIGNING.to_string()),
            "SHARED" => Some("shared-secret".to_string()),
            _ => None,
        };
        let overrides = Overrides {
            database_url: Some(url.to_owned()),
            listen: Some("127.0.0.1:0".into()),
            ..Default::default()
        };
        let config =
            load_str(yaml, "junction.yaml", &overrides, &env).unwrap_or_else(|e| panic!("{e}"));
        let store = junction_store::open(&config.store).await.unwrap();
        let state = AppState::new(config, store);
        let engine = Engine::start(&state).await.unwrap();
        {
            let engine = engine.clone();
            state.on_shutdown(Box::new(move |grace| {
                Box::pin(async move { engine.dispatcher.drain(grace).await })
            }));
        }
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let base = format!("http://{}", listener.local_addr().unwrap());
        let (tx, rx) = tokio::sync::oneshot::channel::<()>();
        let access = junction_server::admin::AdminAccess::new(
            state.store.clone(),
            state.tokens.clone(),
            None,
            Vec::new(),
        );
        let extra = junction_engine::http::routes(engine.clone()).merge(
            junction_engine::http::admin_routes(engine.clone()).layer(axum::middleware::from_fn(
                move |req, next| junction_server::admin::guard(access.clone(), req, next),
            )),
        );
        let server = tokio::spawn(junction_server::serve(
            listener,
            state.clone(),
            Some(extra),
            async move {
                let _ = rx.await;
            },
        ));
        Hub {
            base,
            state,
            engine,
            stop: Some(tx),
            server: Some(server),
        }
    }

    pub fn store(&self) -> &Arc<dyn Store> {
        &self.state.store
    }

    pub async fn stop(mut self) {
        if let Some(tx) = self.stop.take() {
            let _ = tx.send(());
        }
        if let Some(s) = self.server.take() {
            let _ = s.await;
        }
    }

    pub fn url(&self, path: &str) -> String {
        format!("{}{path}", self.base)
    }

    pub async fn get(&self, path: &str) -> Value {
        reqwest::get(self.url(path))
            .await
            .unwrap()
            .json()
            .await
            .unwrap()
    }

    /// The hub's Prometheus text.
    pub async fn metrics(&self) -> String {
        reqwest::get(self.url("/metrics"))
            .await
            .unwrap()
            .text()
            .await
            .unwrap()
    }

    pub async fn post(&self, path: &str, body: Value) -> (u16, Value) {
        let r = reqwest::Client::new()
            .post(self.url(path))
            .json(&body)
            .send()
            .await
            .unwrap();
        let status = r.status().as_u16();
        (status, r.json().await.unwrap_or(Value::Null))
    }
}

pub async fn mock() -> Mock {
    Mock::start(
        MockConfig {
            customers: 1,
            record_limit: 1_000_000,
            ..Default::default()
        },
        "127.0.0.1:0".parse().unwrap(),
    )
    .await
    .unwrap()
}

/// Sets the sink's misbehaviour.
pub async fn set_sink(mock: &Mock, setting: Value) {
    let res = reqwest::Client::new()
        .put(format!("{}/_mock/sink", mock.url()))
        .json(&setting)
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 200, "{:?}", res.text().await);
}

/// A Standard Webhooks stream from the mock to `target`.
pub fn stream(target: String, count: usize) -> SendRequest {
    SendRequest {
        target,
        scheme: Scheme::StandardWebhooks,
        secret: WHSEC.into(),
        count,
        event_type: "customer.updated".into(),
        keys: 10,
        duplicates: 0.0,
        out_of_order: 0.0,
        attempts: 1,
        concurrency: 16,
        seed: 1,
        rate_per_s: None,
        background: false,
        id_offset: 0,
        persona: None,
    }
}

/// Sends a stream through the mock's emitter and waits for it.
pub async fn emit(mock: &Mock, req: SendRequest) {
    let body = serde_json::json!({
        "target": req.target, "scheme": { "kind": "standard_webhooks" }, "secret": req.secret,
        "count": req.count, "event_type": req.event_type, "keys": req.keys,
        "duplicates": req.duplicates, "out_of_order": req.out_of_order, "attempts": req.attempts,
        "concurrency": req.concurrency, "seed": req.seed, "rate_per_s": req.rate_per_s,
        "background": req.background, "id_offset": req.id_offset,
    });
    let res = reqwest::Client::new()
        .post(format!("{}/_mock/webhooks/send", mock.url()))
        .json(&body)
        .send()
        .await
        .unwrap();
    assert!(res.status().is_success(), "{:?}", res.text().await);
}

/// Deliveries the sink received (all of them, oldest first).
pub fn received(mock: &Mock) -> Vec<junction_mock::Delivery> {
    mock.state.received.snapshot().1
}

/// Waits until `done` holds, or panics with `what` after `limit`.
pub async fn wait_for(limit: Duration, what: &str, mut done: impl FnMut() -> bool) {
    let start = Instant::now();
    while !done() {
        assert!(
            start.elapsed() < limit,
            "timed out after {limit:?} waiting for {what}"
        );
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}

/// Distinct event ids (`junction-event-id`) the sink answered 2xx.
pub fn delivered_ids(mock: &Mock) -> std::collections::BTreeSet<String> {
    received(mock)
        .into_iter()
        .filter(|d| (200..300).contains(&d.answered))
        .filter_map(|d| d.headers.get("junction-event-id").cloned())
        .collect()
}

/// Runs `$body` as one test per database.
#[macro_export]
macro_rules! on_both {
    ($($name:ident),* $(,)?) => {
        mod sqlite {
            $(
                #[tokio::test(flavor = "multi_thread", worker_threads = 4)]
                async fn $name() {
                    let Some((_g, url)) = super::support::DbGuard::new(super::support::Db::Sqlite).await else { return };
                    super::$name(url).await;
                }
            )*
        }
        mod postgres {
            $(
                #[tokio::test(flavor = "multi_thread", worker_threads = 4)]
                async fn $name() {
                    let Some((_g, url)) = super::support::DbGuard::new(super::support::Db::Postgres).await else { return };
                    super::$name(url).await;
                }
            )*
        }
    };
}

/// Polls an async condition.
pub async fn wait_for_async<F, Fut>(limit: Duration, what: &str, mut done: F)
where
    F: FnMut() -> Fut,
    Fut: std::future::Future<Output = bool>,
{
    let start = Instant::now();
    while !done().await {
        assert!(
            start.elapsed() < limit,
            "timed out after {limit:?} waiting for {what}"
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

/// Waits until no delivery is pending (every one delivered, dead or stale).
pub async fn all_settled(hub: &Hub, limit: Duration) {
    let store = hub.store().clone();
    wait_for_async(limit, "every delivery to settle", || {
        let store = store.clone();
        async move { store.queue_stats(i64::MAX).await.unwrap().pending == 0 }
    })
    .await;
}

/// Posts `body` to `path` as event `id`, signed with `secret` (Standard Webhooks) `age_s` seconds ago.
pub async fn post_signed(
    hub: &Hub,
    path: &str,
    id: &str,
    body: &str,
    secret: &str,
    age_s: i64,
) -> reqwest::Response {
    let ts = junction_core::time::now_ms() / 1000 - age_s;
    let headers =
        junction_mock::sign(&Scheme::StandardWebhooks, secret, id, ts, body.as_bytes()).unwrap();
    let mut r = reqwest::Client::new()
        .post(hub.url(path))
        .body(body.to_owned());
    for (k, v) in headers {
        r = r.header(k, v);
    }
    r.send().await.unwrap()
}
