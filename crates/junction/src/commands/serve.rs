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
    let connectors = match junction_connect::Hub::new(&config, store.clone(), vault) {
        Ok(h) => h,
        Err(e) => {
            tracing::error!(error = %e, "cannot start the connectors");
            eprintln!("error: {e}");
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
    let state = junction_server::AppState::new(config, store);
    tracing::info!(
        %listen,
        store = %state.config().store.url,
        node = %state.node_id,
        version = env!("CARGO_PKG_VERSION"),
        "junction is serving"
    );
    let engine = match junction_engine::Engine::start(&state).await {
        Ok(e) => e,
        Err(e) => {
            tracing::error!(error = %e, "cannot start the delivery workers");
            eprintln!("error: cannot start the delivery workers: {e}");
            return ExitCode::from(super::EXIT_STORE);
        }
    };
    {
        let engine = engine.clone();
        state.on_shutdown(Box::new(move |grace| {
            Box::pin(async move { engine.dispatcher.drain(grace).await })
        }));
    }
    junction_server::history::start(&state);
    junction_alerts::start(
        &state,
        state.config().alerts.clone(),
        std::sync::Arc::new(LiveQuota(connectors.clone(), state.clone())),
    );
    let admin_token = std::env::var("JUNCTION_ADMIN_TOKEN")
        .ok()
        .filter(|t| !t.is_empty());
    let access = junction_server::admin::AdminAccess::new(
        state.store.clone(),
        admin_token,
        state.config().server.hosts.clone(),
    );
    let reloader = super::reload::Reloader::new(
        args.config.clone(),
        overrides.clone(),
        state.clone(),
        engine.clone(),
        connectors.clone(),
    );
    reloader.watch();
    let extra = junction_engine::http::routes(engine.clone())
        .merge(connectors.routes())
        .merge(junction_ui::public_routes(access.clone()))
        .merge(super::openapi::routes())
        .merge(admin_api(&access, engine, &connectors, reloader));
    match junction_server::serve(
        listener,
        state,
        Some(extra),
        junction_server::shutdown_signal(),
    )
    .await
    {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            tracing::error!(error = %e, "the server failed");
            ExitCode::from(super::EXIT_FAILURE)
        }
    }
}

/// Every admin route, behind one guard (roles and the audit log).
pub fn admin_api(
    access: &std::sync::Arc<junction_server::admin::AdminAccess>,
    engine: std::sync::Arc<junction_engine::Engine>,
    connectors: &std::sync::Arc<junction_connect::Hub>,
    reloader: std::sync::Arc<super::reload::Reloader>,
) -> axum::Router<junction_server::AppState> {
    let guard = access.clone();
    let ui = std::sync::Arc::new(junction_ui::Ui {
        engine: engine.clone(),
        hub: connectors.clone(),
        openapi: serde_json::to_value(super::openapi::document()).unwrap_or_default(),
    });
    junction_engine::http::admin_routes(engine)
        .merge(connectors.admin_routes())
        .merge(junction_ui::routes(ui))
        .merge(junction_server::admin::routes(access.clone()))
        .merge(super::reload::routes(reloader))
        // On the routes only: with `layer` the guard also wrapped this router's fallback, which
        // the merge made the whole server's, so a POST to any unknown path was audited.
        .route_layer(axum::middleware::from_fn(move |req, next| {
            junction_server::admin::guard(guard.clone(), req, next)
        }))
        // Set after the guard, so a method a route does not have is answered 405 without it:
        // it acts on nothing, so it is neither authenticated nor written to the audit log.
        .method_not_allowed_fallback(|| async { http::StatusCode::METHOD_NOT_ALLOWED })
}

/// The alert rules' view of this process's quotas.
struct LiveQuota(
    std::sync::Arc<junction_connect::Hub>,
    junction_server::AppState,
);

impl junction_alerts::Live for LiveQuota {
    fn quota_use(&self) -> Vec<(String, f64)> {
        self.0.quota_use()
    }

    fn reload_failed(&self) -> Option<String> {
        self.1.reload.failing().map(|o| o.errors.join("; "))
    }

    fn alerts(&self) -> Option<junction_config::Alerts> {
        Some(self.1.config().alerts.clone())
    }
}
