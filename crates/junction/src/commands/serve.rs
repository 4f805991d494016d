//! `junction serve`: load the config, open the store, serve until SIGTERM/SIGINT.

use crate::cli::ConfigArgs;
use clap::{Args, ValueEnum};
use std::process::ExitCode;

use junction_config::{Config, LogFormat, Overrides};

#[derive(Args, Debug)]
pub struct ServeArgs {
    #[command(flatten)]
    pub config: ConfigArgs,
    /// Address to listen on (overrides server.listen).
    #[arg(long, env = "JUNCTION_LISTEN")]
    pub listen: Option<String>,
    /// Log format (overrides telemetry.log_format).
    #[arg(long, value_enum)]
    pub log_format: Option<LogFormatArg>,
}

#[derive(ValueEnum, Debug, Clone, Copy)]
pub enum LogFormatArg {
    Json,
    Pretty,
}

/// Overrides that come from the environment alone.
pub fn env_overrides() -> Overrides {
    Overrides {
        database_url: std::env::var("JUNCTION_DATABASE_URL")
            .ok()
            .filter(|s| !s.is_empty()),
        ..Default::default()
    }
}

/// Loads the config; a missing default file means "all defaults", a missing named file is an error.
pub fn load(args: &crate::cli::ConfigArgs, overrides: &Overrides) -> Result<Config, String> {
    let path = &args.config;
    let explicit =
        std::env::var_os("JUNCTION_CONFIG").is_some() || path.as_os_str() != "junction.yaml";
    if !path.exists() && !explicit {
        return junction_config::defaults(overrides).map_err(|e| e.to_string());
    }
    junction_config::load(path, overrides).map_err(|e| e.to_string())
}

pub async fn run(args: ServeArgs) -> ExitCode {
    let mut overrides = env_overrides();
    overrides.listen = args.listen.clone();
    overrides.log_format = args.log_format.map(|f| match f {
        LogFormatArg::Json => LogFormat::Json,
        LogFormatArg::Pretty => LogFormat::Pretty,
    });
    let config = match load(&args.config, &overrides) {
        Ok(c) => c,
        Err(e) => {
            eprintln!("{e}");
            eprintln!("junction: the config is invalid; nothing was started (run `junction check` to see every error)");
            return ExitCode::from(super::EXIT_CONFIG);
        }
    };
    let _telemetry = match junction_telemetry::init(&config.telemetry, std::io::stderr) {
        Ok(g) => g,
        Err(e) => {
            eprintln!("error: {e}");
            return ExitCode::from(super::EXIT_CONFIG);
        }
    };
    junction_telemetry::metrics::handle();
    let refused = super::preflight::problems(&config);
    if !refused.is_empty() {
        for p in &refused {
            eprintln!("{p}");
        }
        return ExitCode::from(super::EXIT_CONFIG);
    }
    super::preflight::seal_audit_from_env();
    match &config.path {
        Some(p) => tracing::info!(config = %p.display(), "loaded config"),
        None => tracing::warn!("no junction.yaml here; running with defaults (pass --config FILE)"),
    }
    let store = match junction_store::open(&config.store).await {
        Ok(s) => s,
        Err(e) => {
            tracing::error!(store = %config.store.url, error = %e, "cannot open the store");
            eprintln!("error: cannot open the store {}: {e}", config.store.url);
            eprintln!("hint: {}", super::store_hint(&config.store.url));
            return ExitCode::from(super::EXIT_STORE);
        }
    };
    let vault = match super::secrets::bind(&config, &store).await {
        Ok(v) => v.map(std::sync::Arc::new),
        Err(e) => {
            tracing::error!(error = %e, "cannot open the vault");
            eprintln!("{e}");
            return ExitCode::from(super::EXIT_CONFIG);
        }
    };
    let listen = config.server.listen;
    let listener = match tokio::net::TcpListener::bind(listen).await {
        Ok(l) => l,
        Err(e) => {
            tracing::error!(%listen, error = %e, "cannot listen");
            eprintln!(
                "{}",
                super::cannot_listen(listen, &e, "--listen (or JUNCTION_LISTEN, server.listen)")
            );
            return ExitCode::from(super::EXIT_FAILURE);
        }
    };
    // From the moment the port is taken, a SIGTERM stops the hub cleanly (one that arrives while
    // it is still starting is kept, and stops it as soon as it serves).
    let shutdown = junction_server::shutdown_signal();
    let admin_token = std::env::var("JUNCTION_ADMIN_TOKEN")
        .ok()
        .filter(|t| !t.is_empty());
    let app = match crate::app::App::build(config, store, vault, admin_token).await {
        Ok(app) => app,
        Err(e) => {
            tracing::error!(error = %e, "cannot start the hub");
            eprintln!("error: {e}");
            return ExitCode::from(match e {
                crate::app::StartError::Connectors(_) => super::EXIT_CONFIG,
                crate::app::StartError::Engine(_) => super::EXIT_STORE,
            });
        }
    };
    let state = app.state.clone();
    tracing::info!(
        %listen,
        store = %state.config().store.url,
        node = %state.node_id,
        version = env!("CARGO_PKG_VERSION"),
        "junction is serving"
    );
    let reloader = super::reload::Reloader::new(
        args.config.clone(),
        overrides.clone(),
        state.clone(),
        app.engine.clone(),
        app.hub.clone(),
    );
    reloader.watch();
    let extra = app.router(reloader);
    match junction_server::serve(listener, state, Some(extra), shutdown).await {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            tracing::error!(error = %e, "the server failed");
            ExitCode::from(super::EXIT_FAILURE)
        }
    }
}
