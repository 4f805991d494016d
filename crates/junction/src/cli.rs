//! The command line. Flags name their environment variable; flags win over the environment,
//! which wins over the config file.

use std::path::PathBuf;

use clap::{Args, Parser, Subcommand, ValueEnum};

use crate::bench::BenchArgs;
use crate::commands::audit::AuditCommand;
use crate::commands::check::CheckArgs;
use crate::commands::connections::ConnectionsCommand;
use crate::commands::demo::DemoArgs;
use crate::commands::dlq::DlqCommand;
use crate::commands::events::EventsCommand;
use crate::commands::jobs::JobsCommand;
use crate::commands::mock::MockArgs;
use crate::commands::secrets::SecretsCommand;
use crate::commands::serve::ServeArgs;
use crate::commands::tokens::TokensCommand;

#[derive(Parser, Debug)]
#[command(name = "junction", version, about = "Junction: a self-hosted API integration hub", long_about = None)]
pub struct Cli {
    #[command(subcommand)]
    pub command: Command,
}

#[derive(Subcommand, Debug)]
pub enum Command {
    /// Run the hub: the HTTP server and its workers.
    Serve(ServeArgs),
    /// Validate the config file, print every error, exit non-zero if there is one.
    Check(CheckArgs),
    /// Run every mapping's tests; print a diff for each failure; exit 1 if one fails.
    Test(ConfigArgs),
    /// Print the version.
    Version,
    /// Config helpers.
    #[command(subcommand)]
    Config(ConfigCommand),
    /// Run a benchmark scenario; its figures are printed as one JSON object on the last line.
    Bench(BenchArgs),
    /// Run the mock provider: a fake third-party API to test integrations against.
    Mock(MockArgs),
    /// Start the hub, the mock provider and traffic that shows every capability (retries,
    /// circuits, quotas, dead letters, drift, alerts); prints the dashboard's address.
    Demo(DemoArgs),
    /// Dead letters on a running hub: list, show, replay.
    #[command(subcommand)]
    Dlq(DlqCommand),
    /// Jobs on a running hub: list, show, run now, pause, resume.
    #[command(subcommand)]
    Jobs(JobsCommand),
    /// A running hub at a glance: readiness, firing alerts, connectors, destinations, sources.
    Status(Remote),
    /// Make a running hub reload its config file now (it also reloads on file changes and
    /// SIGHUP). Exit 1 when the new config is refused; the hub keeps the running one.
    Reload(Remote),
    /// Events stored by a running hub: search and show.
    #[command(subcommand)]
    Events(EventsCommand),
    /// Erase every trace of one data subject on a running hub (admin token): the events its
    /// sources' `event.subject` tied to it, their deliveries, dead letters, attempts and
    /// samples. Audited with who and why; later events about the subject are not stored.
    Erase(crate::commands::erase::EraseArgs),
    /// Print a shell completion script: `junction completions bash > /etc/bash_completion.d/junction`.
    Completions {
        #[arg(value_enum)]
        shell: clap_complete::Shell,
    },
    /// The vault: secrets sealed in the store under JUNCTION_MASTER_KEY. Works on the database
    /// the config names (the vault must be filled before the hub that reads it starts).
    #[command(subcommand)]
    Secrets(SecretsCommand),
    /// The audit log of admin actions and secret accesses: list it, or verify its hash chain.
    /// Works on the config's database.
    #[command(subcommand)]
    Audit(AuditCommand),
    /// Hub API tokens: for internal services calling /proxy (--scope) and for the admin API and
    /// dashboard (--role). Works on the config's database.
    #[command(subcommand)]
    Tokens(TokensCommand),
    /// Connections: the credentials (and token state) of connectors. Works on the config's
    /// database; seeding tokens needs JUNCTION_MASTER_KEY.
    #[command(subcommand)]
    Connections(ConnectionsCommand),
    /// Provider templates: list the built-in ones, show one, scaffold a connector from one.
    #[command(subcommand)]
    Connectors(crate::commands::connectors::ConnectorsCommand),
}

/// How to reach a running hub's admin API.
#[derive(Args, Debug, Clone)]
pub struct Remote {
    /// The hub's base URL.
    #[arg(
        long,
        env = "JUNCTION_SERVER",
        default_value = "http://127.0.0.1:8080",
        global = true
    )]
    pub server: String,
    /// Output format.
    #[arg(long, short = 'o', value_enum, default_value_t = Output::Table, global = true)]
    pub output: Output,
}

#[derive(ValueEnum, Debug, Clone, Copy, PartialEq, Eq)]
pub enum Output {
    Table,
    Json,
}

#[derive(Args, Debug, Clone)]
pub struct ConfigArgs {
    /// The config file.
    #[arg(
        long,
        short = 'c',
        env = "JUNCTION_CONFIG",
        default_value = "junction.yaml"
    )]
    pub config: PathBuf,
}

#[derive(Subcommand, Debug)]
pub enum ConfigCommand {
    /// Print the JSON Schema of junction.yaml (for editors and CI).
    Schema,
}
