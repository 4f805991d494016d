//! `junction mock`: the mock provider, until SIGTERM/SIGINT. Settings: defaults, then `--config
//! mock.yaml`, then flags.

use std::net::SocketAddr;
use std::process::ExitCode;

use junction_mock::{HeaderStyle, Limit, MockConfig, MockFile};

use crate::cli::{MockArgs, RateLimitHeaders};

/// The configuration and address the file and flags describe.
fn settings(args: &MockArgs) -> Result<(MockConfig, SocketAddr), String> {
    let (mut config, file_listen) = match &args.config {
        Some(path) => {
            let file: MockFile = junction_config::load_as(path).map_err(|e| e.to_string())?;
            let listen = file.listen;
            (
                file.into_config()
                    .map_err(|e| format!("{}: {e}", path.display()))?,
                listen,
            )
        }
        None => (MockConfig::default(), None),
    };
    if let Some(s) = args.seed {
        config.seed = s;
    }
    if let Some(n) = args.customers {
        config.customers = n;
    }
    if args.require_auth {
        config.auth.required = true;
    }
    if let Some(ttl) = args.token_ttl {
        config.auth.token_ttl = ttl;
    }
    if args.no_expires_in {
        config.auth.advertise_expires_in = false;
    }
    for q in &args.quotas {
        config
            .quotas
            .limits
            .push(Limit::parse(q).map_err(|e| format!("--quota {e}"))?);
    }
    if let Some(h) = args.rate_limit_headers {
        config.quotas.headers = match h {
            RateLimitHeaders::Draft => HeaderStyle::Draft,
            RateLimitHeaders::X => HeaderStyle::XRateLimit,
            RateLimitHeaders::None => HeaderStyle::None,
        };
    }
    let listen = args
        .listen
        .or(file_listen)
        .unwrap_or_else(|| SocketAddr::from(([127, 0, 0, 1], 9090)));
    Ok((config, listen))
}

pub async fn run(args: MockArgs) -> ExitCode {
    let (config, listen) = match settings(&args) {
        Ok(s) => s,
        Err(e) => {
            eprintln!("error: {e}");
            return ExitCode::from(super::EXIT_CONFIG);
        }
    };
    let (customers, seed) = (config.customers, config.seed);
    let mock = match junction_mock::Mock::start(config, listen).await {
        Ok(m) => m,
        Err(e) => {
            eprintln!("{}", super::cannot_listen(listen, &e, "--listen"));
            return ExitCode::from(super::EXIT_FAILURE);
        }
    };
    eprintln!(
        "junction mock: serving a fake CRM at {} ({customers} customers, seed {seed}); inspect {}/_mock/requests",
        mock.url(),
        mock.url()
    );
    match mock.run_until(junction_server::shutdown_signal()).await {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("error: {e}");
            ExitCode::from(super::EXIT_FAILURE)
        }
    }
}
