//! A running hub's admin API, for the commands that work against one (`dlq`, `status`,
//! `events`): `--server` (or `JUNCTION_SERVER`), and `JUNCTION_ADMIN_TOKEN` (or any API token
//! with a role) as the bearer token when the hub requires one.

use serde_json::Value;

use crate::cli::Remote;

pub(super) struct Client {
    http: reqwest::Client,
    base: String,
    token: Option<String>,
}

impl Client {
    /// A client of `server` for a command that otherwise works on the database.
    pub(super) fn to(server: &str) -> Self {
        Self::new(&Remote {
            server: server.to_owned(),
            output: crate::cli::Output::Table,
        })
    }

    pub(super) fn new(remote: &Remote) -> Self {
        Self {
            http: reqwest::Client::new(),
            base: remote.server.trim_end_matches('/').to_owned(),
            token: std::env::var("JUNCTION_ADMIN_TOKEN")
                .ok()
                .filter(|t| !t.is_empty()),
        }
    }

    /// `method path` with no body; the status and JSON body whatever the status (only a hub
    /// that cannot be reached is an error).
    pub(super) async fn answer(
        &self,
        method: reqwest::Method,
        path: &str,
    ) -> Result<(reqwest::StatusCode, Value), String> {
        let mut req = self.http.request(method, format!("{}{path}", self.base));
        if let Some(t) = &self.token {
            req = req.bearer_auth(t);
        }
        let res = req.send().await.map_err(|e| unreachable(&self.base, &e))?;
        let status = res.status();
        Ok((status, res.json().await.unwrap_or(Value::Null)))
    }

    /// `GET path`, read as the admin API's typed answer `T`.
    pub(super) async fn get<T: serde::de::DeserializeOwned>(
        &self,
        path: &str,
    ) -> Result<T, String> {
        let v = self.call(reqwest::Method::GET, path, None).await?;
        serde_json::from_value(v).map_err(|e| {
            format!(
                "{} answered {path} in a shape this CLI does not read ({e}): are the hub and the CLI the same version?",
                self.base
            )
        })
    }

    pub(super) async fn call(
        &self,
        method: reqwest::Method,
        path: &str,
        body: Option<Value>,
    ) -> Result<Value, String> {
        let mut req = self.http.request(method, format!("{}{path}", self.base));
        if let Some(t) = &self.token {
            req = req.bearer_auth(t);
        }
        if let Some(b) = body {
            req = req.json(&b);
        }
        let res = req.send().await.map_err(|e| unreachable(&self.base, &e))?;
        let status = res.status();
        let v: Value = res.json().await.unwrap_or(Value::Null);
        if status.is_success() {
            return Ok(v);
        }
        let e = &v["error"];
        let mut msg = format!(
            "the hub answered {status}: {}",
            e["message"].as_str().unwrap_or("no details")
        );
        if let Some(h) = e["hint"].as_str() {
            msg.push_str(&format!("\nhint: {h}"));
        }
        Err(msg)
    }
}

/// The hub at `base` did not answer: which address was tried, why, and how to point elsewhere.
pub(super) fn unreachable(base: &str, e: &reqwest::Error) -> String {
    format!(
        "cannot reach the hub at {base}: {}\nhint: is `junction serve` running there? Point the CLI at another hub with --server URL or `export JUNCTION_SERVER=URL` (`junction demo` prints its own)",
        root_cause(e)
    )
}

/// The innermost cause of a failed request ("Connection refused"), which reqwest's own message
/// ("error sending request for url …") hides.
fn root_cause(e: &(dyn std::error::Error + 'static)) -> String {
    let mut cause = e;
    while let Some(next) = cause.source() {
        cause = next;
    }
    cause.to_string()
}
