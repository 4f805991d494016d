//! One module per sub-command. Exit codes: 0 success, 1 runtime failure, 2 invalid config,
//! 3 the store could not be opened.

pub(crate) mod audit;
pub(crate) mod check;
pub(crate) mod connections;
pub(crate) mod connectors;
pub(crate) mod demo;
pub(crate) mod dlq;
pub(crate) mod erase;
pub(crate) mod events;
pub(crate) mod jobs;
pub(crate) mod mock;
pub(crate) mod openapi;
mod preflight;
pub(crate) mod reload;
mod remote;
pub(crate) mod secrets;
pub(crate) mod serve;
mod status;
mod table;
mod test;
pub(crate) mod tokens;

use std::process::ExitCode;

use crate::cli::{Cli, Command, ConfigCommand};

/// Why a listener could not start, with how to fix it: a port in use names the port and the
/// flag that moves it.
pub fn cannot_listen(addr: std::net::SocketAddr, e: &std::io::Error, flag: &str) -> String {
    let hint = match e.kind() {
        std::io::ErrorKind::AddrInUse => format!(
            "port {} is taken by another process (`ss -ltnp 'sport = :{}'` shows which); stop it or choose another address with {flag}",
            addr.port(),
            addr.port()
        ),
        std::io::ErrorKind::PermissionDenied => format!(
            "ports below 1024 need privileges; choose a port above 1024 with {flag}"
        ),
        std::io::ErrorKind::AddrNotAvailable => format!(
            "{} is not an address of this machine; use 127.0.0.1 or 0.0.0.0 with {flag}",
            addr.ip()
        ),
        _ => format!("choose another address with {flag}"),
    };
    format!("error: cannot listen on {addr}: {e}\nhint: {hint}")
}

/// How to fix a store that would not open, by kind: a file's folder and rights, or a server.
pub fn store_hint(url: &junction_config::DatabaseUrl) -> String {
    match url {
        junction_config::DatabaseUrl::Sqlite(p) => format!(
            "check that {} can be created and written by this user (its folder exists or can be made, the disk has room); a relative store.url is relative to the config file, JUNCTION_DATABASE_URL to the working directory",
            p.display()
        ),
        junction_config::DatabaseUrl::Postgres(_) => {
            "check that PostgreSQL is running and reachable, and that JUNCTION_DATABASE_URL / store.url names the right host, port, user and database".into()
        }
    }
}

pub const EXIT_FAILURE: u8 = 1;
pub const EXIT_CONFIG: u8 = 2;
pub const EXIT_STORE: u8 = 3;

pub async fn run(cli: Cli) -> ExitCode {
    match cli.command {
        Command::Serve(args) => serve::run(args).await,
        Command::Check(args) => check::run(&args),
        Command::Test(args) => test::run(&args),
        Command::Version => {
            println!("junction {}", env!("CARGO_PKG_VERSION"));
            ExitCode::SUCCESS
        }
        Command::Config(ConfigCommand::Schema) => {
            match serde_json::to_string_pretty(&junction_config::json_schema()) {
                Ok(s) => {
                    println!("{s}");
                    ExitCode::SUCCESS
                }
                Err(e) => {
                    eprintln!("error: {e}");
                    ExitCode::from(EXIT_FAILURE)
                }
            }
        }
        Command::Bench(args) => crate::bench::run(args).await,
        Command::Mock(args) => mock::run(args).await,
        Command::Demo(args) => demo::run(args).await,
        Command::Status(remote) => status::run(remote).await,
        Command::Reload(remote) => reload::cli(remote).await,
        Command::Events(cmd) => events::run(cmd).await,
        Command::Erase(args) => erase::run(args).await,
        Command::Completions { shell } => {
            use clap::CommandFactory;
            let mut cmd = crate::cli::Cli::command();
            clap_complete::generate(shell, &mut cmd, "junction", &mut std::io::stdout());
            ExitCode::SUCCESS
        }
        Command::Dlq(cmd) => dlq::run(cmd).await,
        Command::Jobs(cmd) => jobs::run(cmd).await,
        Command::Secrets(cmd) => secrets::run(cmd).await,
        Command::Tokens(cmd) => tokens::run(cmd).await,
        Command::Audit(cmd) => audit::run(cmd).await,
        Command::Connections(cmd) => connections::run(cmd).await,
        Command::Connectors(cmd) => connectors::run(&cmd),
    }
}
