//! A hub with connectors, served over real HTTP in front of the mock provider, on SQLite or
//! PostgreSQL, with a vault and an API token.
#![allow(dead_code)]

use std::sync::Arc;

use junction_connect::Hub;
use junction_mock::{Mock, MockConfig};
use junction_store::{ApiToken, Store};
use junction_vault::{Keyring, SecretString, Vault};

pub struct Env {
    pub url: String,
    pub mock: Mock,
    pub store: Arc<dyn Store>,
    pub vault: Arc<Vault>,
    pub hub: Arc<Hub>,
    /// An API token with every proxy scope.
    pub token: String,
    pub http: reqwest::Client,
    _guards: (
        Option<tempfile::TempDir>,
        Option<junction_testkit::postgres::TestDb>,
    ),
}

pub enum Backend {
    Sqlite,
    Postgres,
}

/// A store on `backend` (None when PostgreSQL is not there and may be skipped).
pub async fn store(
    backend: Backend,
) -> Option<(
    Arc<dyn Store>,
    (
        Option<tempfile::TempDir>,
        Option<junction_testkit::postgres::TestDb>,
    ),
)> {
    let (url, guards) = match backend {
        Backend::Sqlite => {
            let (url, dir) = junction_testkit::sqlite_url();
            (url, (Some(dir), None))
        }
        Backend::Postgres => {
            let db = junction_testkit::postgres::TestDb::create().await?;
            (db.url.clone(), (None, Some(db)))
        }
    };
    let options = junction_store::Options {
        url: junction_config::parse_database_url(&url).unwrap(),
        max_connections: 16,
        connect_timeout: std::time::Duration::from_secs(5),
    };
    Some((junction_store::open(&options).await.unwrap(), guards))
}

pub const MASTER_KEY: &str = "v1:AAECAwQFBgcICQoLDA0ODxAREhMUFRYXGBkaGxwdHh8=";

/// Starts the mock and a hub whose config is `yaml` with `{MOCK}` replaced by the mock's URL.
/// `secrets` are stored in the vault first.
pub async fn start(yaml: &str, mock: MockConfig, secrets: &[(&str, &str)]) -> Env {
    let (store, guards) = store(Backend::Sqlite).await.unwrap();
    start_on(store, guards, yaml, mock, secrets).await
}

pub async fn start_on(
    store: Arc<dyn Store>,
    guards: (
        Option<tempfile::TempDir>,
        Option<junction_testkit::postgres::TestDb>,
    ),
    yaml: &str,
    mock: MockConfig,
    secrets: &[(&str, &str)],
) -> Env {
    let mock = Mock::start(mock, "127.0.0.1:0".parse().unwrap())
        .await
        .unwrap();
    let (hub, vault, url) = hub_on(store.clone(), yaml, &mock.url(), secrets).await;
    let (token, id, hash) = junction_connect::api_tokens::generate();
    store
        .add_api_token(ApiToken {
            id,
            name: "tests".into(),
            token_hash: hash,
            scopes: "proxy:*:* op:*:*".into(),
            created_at: junction_core::time::now_ms(),
            expires_at: None,
            revoked_at: None,
        })
        .await
        .unwrap();
    Env {
        url,
        mock,
        store,
        vault,
        hub,
        token,
        http: reqwest::Client::new(),
        _guards: guards,
    }
}

/// A hub over `store` (one "process"), serving on an ephemeral port.
pub async fn hub_on(
    store: Arc<dyn Store>,
    yaml: &str,
    mock_url: &str,
    secrets: &[(&str, &str)],
) -> (Arc<Hub>, Arc<Vault>, String) {
    let text = yaml.replace("{MOCK}", mock_url);
    let config = junction_config::load_str(&text, "junction.yaml", &Default::default(), &|_| None)
        .unwrap_or_else(|e| panic!("{e}"));
    let vault = Vault::open(store.clone(), Keyring::parse(MASTER_KEY, "test").unwrap())
        .await
        .unwrap();
    for (name, value) in secrets {
        vault
            .set(name, &SecretString::from(value.to_string()))
            .await
            .unwrap();
    }
    let values: std::collections::HashMap<String, String> = secrets
        .iter()
        .map(|(k, v)| (k.to_string(), v.to_string()))
        .collect();
    config.bind_vault(&|n| values.get(n).cloned()).unwrap();
    let vault = Arc::new(vault);
    let state = junction_server::AppState::new(config, store);
    let hub = Hub::new(&state, Some(vault.clone())).unwrap();
    state.shared.start(&state);
    let app = junction_server::router(state, Some(hub.routes().merge(hub.admin_routes())));
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let url = format!("http://{}", listener.local_addr().unwrap());
    tokio::spawn(async move {
        let _ = axum::serve(listener, app).await;
    });
    (hub, vault, url)
}

impl Env {
    /// A new API token with only `scopes`.
    pub async fn token_with(&self, scopes: &str) -> String {
        let (token, id, hash) = junction_connect::api_tokens::generate();
        self.store
            .add_api_token(ApiToken {
                id,
                name: "narrow".into(),
                token_hash: hash,
                scopes: scopes.into(),
                created_at: junction_core::time::now_ms(),
                expires_at: None,
                revoked_at: None,
            })
            .await
            .unwrap();
        token
    }

    pub fn get(&self, path: &str) -> reqwest::RequestBuilder {
        self.get_on(&self.url, path)
    }

    /// `GET path` on the hub at `base` (one of several processes), with the test's API token.
    pub fn get_on(&self, base: &str, path: &str) -> reqwest::RequestBuilder {
        self.http
            .get(format!("{base}{path}"))
            .bearer_auth(&self.token)
    }

    pub fn post(&self, path: &str) -> reqwest::RequestBuilder {
        self.http
            .post(format!("{}{path}", self.url))
            .bearer_auth(&self.token)
    }

    /// `GET path` through the hub, with the test's API token.
    pub async fn call(&self, path: &str) -> reqwest::Response {
        self.get(path).send().await.unwrap()
    }

    /// The status of `GET path` through the hub, with the test's API token.
    pub async fn status(&self, path: &str) -> u16 {
        self.get(path).send().await.unwrap().status().as_u16()
    }

    /// A JSON inspection endpoint of the mock.
    async fn mock_json(&self, path: &str) -> serde_json::Value {
        self.http
            .get(format!("{}{path}", self.mock.url()))
            .send()
            .await
            .unwrap()
            .json()
            .await
            .unwrap()
    }

    /// What the mock received under `path`.
    pub async fn received(&self, path: &str) -> Vec<serde_json::Value> {
        let v = self
            .mock_json(&format!("/_mock/requests?path={path}"))
            .await;
        v["requests"].as_array().cloned().unwrap_or_default()
    }

    /// Token responses the mock issued.
    pub async fn issued(&self) -> Vec<serde_json::Value> {
        let v = self.mock_json("/_mock/tokens").await;
        v["issued"].as_array().cloned().unwrap_or_default()
    }

    pub async fn chaos(&self, chaos: serde_json::Value) {
        let r = self
            .http
            .put(format!("{}/_mock/chaos", self.mock.url()))
            .json(&chaos)
            .send()
            .await
            .unwrap();
        assert!(r.status().is_success(), "{}", r.text().await.unwrap());
    }
}

/// Sends `GET path` over a raw connection, byte for byte as written (no client normalises it),
/// and returns the status.
pub async fn raw_get(url: &str, path: &str, token: &str) -> u16 {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    let addr = url.trim_start_matches("http://");
    let mut s = tokio::net::TcpStream::connect(addr).await.unwrap();
    let req = format!("GET {path} HTTP/1.1\r\nHost: {addr}\r\nAuthorization: Bearer {token}\r\nConnection: close\r\n\r\n");
    s.write_all(req.as_bytes()).await.unwrap();
    let mut buf = Vec::new();
    let _ = s.read_to_end(&mut buf).await;
    let text = String::from_utf8_lossy(&buf);
    text.split_whitespace()
        .nth(1)
        .and_then(|c| c.parse().ok())
        .unwrap_or(0)
}

/// A connector whose connections are OAuth2 refresh tokens at the mock.
pub const REFRESH: &str = r#"
connectors:
  crm:
    base_url: "{MOCK}/v2"
    auth:
      kind: oauth2_refresh_token
      token_url: "{MOCK}/oauth/token"
      client_id: mock_client
      client_secret: secret:crm_client_secret
"#;

/// A token response of the mock's client credentials grant (it issues a refresh token too).
pub async fn mock_grant(env: &Env) -> serde_json::Value {
    env.http
        .post(format!("{}/oauth/token", env.mock.url()))
        .form(&[
            ("grant_type", "client_credentials"),
            ("client_id", "mock_client"),
            ("client_secret", "mock_secret"),
        ])
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap()
}

pub async fn seed(env: &Env, connection: &str, refresh_token: &str) {
    let sealed = env
        .vault
        .seal(
            &junction_connect::auth::tokens::refresh_secret("crm", connection),
            refresh_token,
        )
        .unwrap();
    env.store
        .save_tokens(junction_store::SaveTokens {
            connector: "crm".into(),
            name: connection.into(),
            epoch: None,
            expires_at: None,
            refresh_at: None,
            secrets: vec![sealed],
            now: junction_core::time::now_ms(),
        })
        .await
        .unwrap();
}
