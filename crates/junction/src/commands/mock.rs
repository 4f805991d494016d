//! `junction mock`: the mock provider, until SIGTERM/SIGINT. Settings: defaults, then `--config
//! mock.yaml`, then flags.

use std::net::SocketAddr;
use std::process::ExitCode;

use clap::{Args, ValueEnum};
use junction_mock::{HeaderStyle, Limit, MockConfig, MockFile};

#[derive(Args, Debug, Clone)]
pub struct MockArgs {
    /// A `mock.yaml` with the mock's settings; the flags below win over it.
    #[arg(long, short = 'c')]
    pub config: Option<std::path::PathBuf>,
    /// Address to listen on [default: 127.0.0.1:9090].
    #[arg(long, env = "JUNCTION_MOCK_LISTEN")]
    pub listen: Option<std::net::SocketAddr>,
    /// Seed of the generated data set (the same seed gives the same data) [default: 42].
    #[arg(long)]
    pub seed: Option<u64>,
    /// Customers to generate [default: 10000].
    #[arg(long)]
    pub customers: Option<usize>,
    /// Require credentials: API key `mock_key_1`, basic `mock_user:mock_pass`, or an OAuth2 token
    /// from `/oauth/token` (client `mock_client` / `mock_secret`).
    #[arg(long)]
    pub require_auth: bool,
    /// Access-token lifetime, e.g. `1h`, `90s` [default: 1h].
    #[arg(long, value_parser = humantime::parse_duration)]
    pub token_ttl: Option<std::time::Duration>,
    /// Leave `expires_in` out of token responses (tokens still expire), as some providers do.
    #[arg(long)]
    pub no_expires_in: bool,
    /// A rate limit, repeatable: `200/s`, `1000/min`, `50000/day`; add `:global` to count all
    /// callers together instead of per credential.
    #[arg(long = "quota", value_name = "LIMIT/WINDOW[:global]")]
    pub quotas: Vec<String>,
    /// Rate-limit headers on answers [default: draft].
    #[arg(long, value_enum)]
    pub rate_limit_headers: Option<RateLimitHeaders>,
    /// Speak as a vendor — its credentials, paths, record shapes, pagination, rate-limit
    /// headers, errors and webhook signatures — instead of the mock's own CRM API: `stripe`,
    /// `github`, `hubspot`, `shopify`, `slack`, `zendesk`, `microsoft-graph`. Each provider template is tested
    /// against its vendor's persona.
    #[arg(long, value_parser = |s: &str| s.parse::<junction_mock::Persona>())]
    pub persona: Option<junction_mock::Persona>,
}

#[derive(ValueEnum, Debug, Clone, Copy)]
pub enum RateLimitHeaders {
    /// `RateLimit-Policy` and `RateLimit` (IETF draft).
    Draft,
    /// `X-RateLimit-Limit`, `-Remaining`, `-Reset`.
    X,
    /// None: limits show only as 429s.
    None,
}

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
    if let Some(p) = args.persona {
        config.persona = Some(p);
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
    let (customers, seed, persona) = (config.customers, config.seed, config.persona);
    let mock = match junction_mock::Mock::start(config, listen).await {
        Ok(m) => m,
        Err(e) => {
            eprintln!("{}", super::cannot_listen(listen, &e, "--listen"));
            return ExitCode::from(super::EXIT_FAILURE);
        }
    };
    let what = match persona {
        Some(p) => format!(
            "speaking as {} (credentials: token `mock_key_1`, basic `mock_user:mock_pass`, OAuth client `mock_client`/`mock_secret`)",
            p.as_str()
        ),
        None => "serving a fake CRM".into(),
    };
    eprintln!(
        "junction mock: {what} at {} ({customers} customers, seed {seed}); inspect {}/_mock/requests",
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
