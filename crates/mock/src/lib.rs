//! `junction mock`: a realistic third-party API to test integrations against.
//!
//! A small CRM — customers and orders — served as `/v1/…` and `/v2/…` (and header-pinned with
//! `API-Version`), with three pagination styles, an `updated_since` filter, create / read / update /
//! delete, a deterministic data set from a seed, and inspection endpoints under `/_mock/` that tell a
//! test exactly what the mock received.
//!
//! Invariants: the same seed and size always give the same data; every request is recorded with
//! its arrival time before it is answered; `/v1` answers carry `Deprecation` and `Sunset` headers.
#![forbid(unsafe_code)]

mod auth;
mod changes;
mod chaos;
mod data;
mod emit;
mod file;
mod http;
mod pagination;
mod persona;
mod quota;
mod record;
mod sign;
mod sink;
mod soap;
mod versions;
mod xml;

use std::net::SocketAddr;
use std::sync::Arc;

pub use auth::{pkce_challenge, AuthConfig, OAuthClient, ALL_SCOPES};
pub use changes::ChangeRequest;
pub use chaos::Chaos;
pub use data::{Customer, Dataset, Order};
pub use emit::{SendRequest, Sent};
pub use file::MockFile;
/// A running mock's state: its records (calls, deliveries, webhooks sent) and settings.
pub use http::State as MockState;
pub use persona::Persona;
pub use quota::{HeaderStyle, Limit, QuotaConfig};
pub use record::Recorded;
pub use sign::{sign, Scheme};
pub use sink::Delivery;

/// How the mock is set up.
#[derive(Debug, Clone)]
pub struct MockConfig {
    /// Seed of the generated data set.
    pub seed: u64,
    /// Customers to generate (each has 0–3 orders).
    pub customers: usize,
    /// Requests kept by `/_mock/requests` (the oldest are dropped beyond this).
    pub record_limit: usize,
    /// Which credentials are accepted, and whether any are required.
    pub auth: AuthConfig,
    /// Rate limits on the resource routes (none by default).
    pub quotas: QuotaConfig,
    /// Chaos on the provider API at start (changeable at `/_mock/chaos`).
    pub chaos: Chaos,
    /// How the sink misbehaves at start (changeable at `/_mock/sink`).
    pub sink: Chaos,
    /// Speak as this vendor instead of serving the mock's own CRM API.
    pub persona: Option<Persona>,
}

impl Default for MockConfig {
    fn default() -> Self {
        Self {
            seed: 42,
            customers: 10_000,
            record_limit: 100_000,
            auth: AuthConfig::default(),
            quotas: QuotaConfig::default(),
            chaos: Chaos::default(),
            sink: Chaos::default(),
            persona: None,
        }
    }
}

/// A running mock provider.
pub struct Mock {
    pub addr: SocketAddr,
    pub state: Arc<http::State>,
    stop: Option<tokio::sync::oneshot::Sender<()>>,
    task: tokio::task::JoinHandle<std::io::Result<()>>,
}

impl Mock {
    /// Starts on `listen` (use `127.0.0.1:0` for an ephemeral port).
    pub async fn start(config: MockConfig, listen: SocketAddr) -> std::io::Result<Mock> {
        let listener = tokio::net::TcpListener::bind(listen).await?;
        let addr = listener.local_addr()?;
        let state = Arc::new(http::State::new(config));
        let app = http::router(state.clone());
        let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
        let task = tokio::spawn(async move {
            axum::serve(listener, app)
                .with_graceful_shutdown(async {
                    let _ = stopped.await;
                })
                .await
        });
        Ok(Mock {
            addr,
            state,
            stop: Some(stop),
            task,
        })
    }

    /// `http://127.0.0.1:PORT`
    pub fn url(&self) -> String {
        format!("http://{}", self.addr)
    }

    /// Stops accepting and waits for open requests to finish.
    pub async fn stop(mut self) -> std::io::Result<()> {
        if let Some(s) = self.stop.take() {
            let _ = s.send(());
        }
        self.task.await.map_err(std::io::Error::other)?
    }

    /// Runs until `shutdown` resolves (for `junction mock`).
    pub async fn run_until(
        self,
        shutdown: impl std::future::Future<Output = ()>,
    ) -> std::io::Result<()> {
        shutdown.await;
        self.stop().await
    }
}
