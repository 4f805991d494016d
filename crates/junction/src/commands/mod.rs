//! One module per sub-command. Exit codes: 0 success, 1 runtime failure, 2 invalid config,
//! 3 the store could not be opened.

mod audit;
mod check;
mod connections;
mod demo;
mod dlq;
mod events;
mod mock;
mod openapi;
mod preflight;
mod remote;
mod secrets;
mod serve;
mod status;
mod test;
mod tokens;

use std::process::ExitCode;

use crate::cli::{Cli, Command, ConfigCommand};

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
        Command::Events(cmd) => events::run(cmd).await,
        Command::Completions { shell } => {
            use clap::CommandFactory;
            let mut cmd = crate::cli::Cli::command();
            clap_complete::generate(shell, &mut cmd, "junction", &mut std::io::stdout());
            ExitCode::SUCCESS
        }
        Command::Dlq(cmd) => dlq::run(cmd).await,
        Command::Secrets(cmd) => secrets::run(cmd).await,
        Command::Tokens(cmd) => tokens::run(cmd).await,
        Command::Audit(cmd) => audit::run(cmd).await,
        Command::Connections(cmd) => connections::run(cmd).await,
    }
}
