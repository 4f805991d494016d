//! `junction.yaml`: what a user writes, and the validated configuration the rest of Junction runs on.
//!
//! The top-level files handle the whole document; each directory is one group of sections with
//! its three parts side by side — `raw` (as written, the JSON Schema's source), `resolve` (the
//! checks) and `resolved` (parsed values runtime code uses): [`server`] (server, store,
//! telemetry), [`flow`] (sources, destinations, routes, delivery), [`connect`] (connectors),
//! [`data`] (models, mappings), [`alerts`]. What several share has its own module: [`check`]
//! (located deserialization), [`secrets`], [`resilience`] (`retry:` / `circuit:`).
//!
//! Loading happens in three steps, and runtime code only ever sees the result of the last:
//! 1. [`yaml`] parses the file into a JSON value plus a map from every node to its line and column,
//!    expanding `${VAR}` / `${VAR:-default}` in scalar values (never in keys, never as text, so an
//!    environment value cannot change the document's structure);
//! 2. each section is deserialized into the [`raw`] types (`deny_unknown_fields` everywhere), one
//!    section or map entry at a time so that one mistake does not hide the next;
//! 3. [`resolve`] turns raw values into the [`resolved`] types (addresses, URLs, sizes) and checks
//!    what serde cannot.
//!
//! Every problem becomes a [`ConfigError`] naming file, line, column and field, with a hint.
#![forbid(unsafe_code)]
// Config errors are built once per load, never on a hot path: their size does not matter.
#![allow(clippy::result_large_err)]

pub mod alerts;
mod check;
pub mod connect;
pub mod data;
mod error;
pub mod flow;
mod interpolate;
pub mod jobs;
pub mod outbound_tls;
pub mod raw;
pub mod resilience;
mod resolve;
pub mod resolved;
pub mod rollout;
pub mod secrets;
pub mod server;
pub mod template;
pub mod units;
mod yaml;

use std::path::Path;

pub use alerts::resolved::*;
pub use connect::resolved::*;
pub use data::resolved::*;
pub use error::{nearest, ConfigError, ConfigErrors};
pub use flow::pull::{Pull, Since, TimeFormat};
pub use flow::resolved::*;
pub use jobs::{Job, Missed, Probe, ProbeCall, Schedule, SyncJob, Work};
pub use outbound_tls::OutboundTls;
pub use resolved::*;
pub use secrets::{standard_key, valid_secret_name, HeaderText, Secret, VaultRef};
pub use server::resolved::*;

/// Values given on the command line or in `JUNCTION_*` environment variables; they win over the file.
#[derive(Debug, Default, Clone)]
pub struct Overrides {
    /// `JUNCTION_DATABASE_URL`
    pub database_url: Option<String>,
    /// `--listen` / `JUNCTION_LISTEN`
    pub listen: Option<String>,
    /// `--log-format`
    pub log_format: Option<LogFormat>,
    /// Unset environment variables (`${VAR}` without a default, `env:NAME`) are warnings, kept in
    /// [`Config::warnings`], instead of errors: `check --allow-unresolved` in CI, and the commands
    /// that only use the database (`tokens`, `secrets`, `audit`, `connections`).
    pub allow_unresolved: bool,
}

/// Loads and validates the config file at `path`, reading `${VAR}`s from the process environment.
pub fn load(path: &Path, overrides: &Overrides) -> Result<Config, ConfigErrors> {
    let name = path.display().to_string();
    let text = std::fs::read_to_string(path).map_err(|e| {
        ConfigErrors::one(ConfigError::whole_file(
            &name,
            format!("cannot read the config file: {e}"),
            "pass an existing file with --config or JUNCTION_CONFIG",
        ))
    })?;
    let mut config = load_str(&text, &name, overrides, &|var| std::env::var(var).ok())?;
    config.path = Some(path.to_path_buf());
    Ok(config)
}

/// The configuration used when no file exists: every default, plus the overrides.
pub fn defaults(overrides: &Overrides) -> Result<Config, ConfigErrors> {
    load_str("{}", "(defaults)", overrides, &|_| None)
}

/// Loads and validates config text. `env` looks up `${VAR}`s, so tests need not touch the process environment.
pub fn load_str(
    text: &str,
    file: &str,
    overrides: &Overrides,
    env: &dyn Fn(&str) -> Option<String>,
) -> Result<Config, ConfigErrors> {
    let mut doc = yaml::parse(text, file, env, overrides.allow_unresolved)?;
    let mut errs = Vec::new();
    template::expand(&mut doc, &mut errs);
    match resolve::resolve(&doc, overrides, env) {
        Ok(config) if errs.is_empty() => Ok(config),
        Ok(_) => Err(ConfigErrors(errs)),
        Err(more) => {
            errs.extend(more.0);
            Err(ConfigErrors(errs))
        }
    }
}

/// Loads another YAML file (such as the mock provider's `mock.yaml`) into `T`, with the same
/// `${VAR}` interpolation and file:line:col errors as `junction.yaml`.
pub fn load_as<T: serde::de::DeserializeOwned>(path: &Path) -> Result<T, ConfigErrors> {
    let name = path.display().to_string();
    let text = std::fs::read_to_string(path).map_err(|e| {
        ConfigErrors::one(ConfigError::whole_file(
            &name,
            format!("cannot read the file: {e}"),
            "pass an existing file with --config",
        ))
    })?;
    let doc = yaml::parse(&text, &name, &|var| std::env::var(var).ok(), false)?;
    check::whole(&doc)
}

/// Whether `name` may name a config entry (a connector, source, destination…): 1-64 letters,
/// digits, `-` and `_`.
pub fn valid_entry_name(name: &str) -> bool {
    check::valid_name(name)
}

/// Parses a database URL as `store.url` does (`sqlite://PATH`, `postgres://…`).
pub fn parse_database_url(url: &str) -> Result<DatabaseUrl, String> {
    server::resolve::parse_database_url(url).map_err(|(message, hint)| format!("{message}; {hint}"))
}

/// The JSON Schema (2020-12) of `junction.yaml`, for editors and CI checks.
pub fn json_schema() -> serde_json::Value {
    let schema = schemars::schema_for!(raw::RawConfig);
    serde_json::to_value(schema).unwrap_or_default()
}
