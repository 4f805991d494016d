//! The command line. Flags name their environment variable; flags win over the environment,
//! which wins over the config file.

use std::path::PathBuf;

use clap::{Args, Parser, Subcommand, ValueEnum};

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
    /// A running hub at a glance: readiness, firing alerts, connectors, destinations, sources.
    Status(Remote),
    /// Make a running hub reload its config file now (it also reloads on file changes and
    /// SIGHUP). Exit 1 when the new config is refused; the hub keeps the running one.
    Reload(Remote),
    /// Events stored by a running hub: search and show.
    #[command(subcommand)]
    Events(EventsCommand),
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
}

#[derive(Args, Debug)]
pub struct DemoArgs {
    /// Where the hub listens.
    #[arg(long, default_value = "127.0.0.1:8080")]
    pub listen: String,
    /// Keep the demo's database, config and log here (default: a temporary folder).
    #[arg(long)]
    pub dir: Option<PathBuf>,
    /// Stop after this long (default: at Ctrl-C).
    #[arg(long)]
    pub duration: Option<String>,
    /// Run the story four times faster (for tests).
    #[arg(long, hide = true)]
    pub fast: bool,
}

#[derive(Subcommand, Debug)]
pub enum EventsCommand {
    /// Newest first, narrowed by source, type, entity key or the provider's event id.
    List {
        #[command(flatten)]
        remote: Remote,
        #[arg(long)]
        source: Option<String>,
        #[arg(long = "type")]
        event_type: Option<String>,
        #[arg(long)]
        key: Option<String>,
        /// The provider's event id.
        #[arg(long)]
        id: Option<String>,
        /// The next page: events older than this stored id (printed under a full page).
        #[arg(long)]
        before: Option<i64>,
        #[arg(long, default_value_t = 50)]
        limit: usize,
    },
    /// Deliveries, newest first, narrowed by state, destination, route, source and time.
    Deliveries {
        #[command(flatten)]
        remote: Remote,
        /// pending, delivered, dead, quarantined, stale or discarded.
        #[arg(long)]
        state: Option<String>,
        #[arg(long)]
        destination: Option<String>,
        #[arg(long)]
        route: Option<String>,
        /// The event's source.
        #[arg(long)]
        source: Option<String>,
        /// Created at or after: RFC 3339 time or Unix ms.
        #[arg(long)]
        since: Option<String>,
        /// Created before: RFC 3339 time or Unix ms.
        #[arg(long)]
        until: Option<String>,
        /// The next page: deliveries older than this id (printed under a full page).
        #[arg(long)]
        before: Option<i64>,
        #[arg(long, default_value_t = 50)]
        limit: usize,
    },
    /// Inbound requests the hub refused (bad signature, stale timestamp, too large, unknown
    /// source, bad body), newest first: why, when, masked headers and a body excerpt.
    Rejected {
        #[command(flatten)]
        remote: Remote,
        /// Only those sent to this source.
        #[arg(long)]
        source: Option<String>,
        #[arg(long, default_value_t = 20)]
        limit: usize,
    },
    /// One event: its payload and every delivery of it.
    Show {
        #[command(flatten)]
        remote: Remote,
        /// The stored event id (the first column of `events list`).
        id: i64,
    },
}

#[derive(Subcommand, Debug)]
pub enum AuditCommand {
    /// The newest entries first.
    List {
        #[arg(long, default_value_t = 50)]
        limit: usize,
        #[command(flatten)]
        config: ConfigArgs,
        #[arg(long, short = 'o', value_enum, default_value_t = Output::Table)]
        output: Output,
        /// Work against a running hub's admin API (an admin token in JUNCTION_ADMIN_TOKEN)
        /// instead of the config's database.
        #[arg(long)]
        server: Option<String>,
    },
    /// Recompute the hash chain: exit 0 if every entry holds, 1 naming the first entry that was
    /// changed, deleted or unlinked. Prints the head (`SEQ:HASH`): keep it outside the database.
    Verify {
        #[command(flatten)]
        config: ConfigArgs,
        /// A head printed by an earlier verify and kept elsewhere: the log must still hold that
        /// entry with that hash (someone who can write the database can rebuild the whole
        /// chain, but not this copy).
        #[arg(long, value_name = "SEQ:HASH")]
        head: Option<String>,
        /// With the master key set, every entry must be sealed with it (so a log rebuilt without
        /// the key is caught); this accepts plain entries before the first sealed one, as a log
        /// written before sealing (or by a process without the key) has.
        #[arg(long)]
        allow_unsealed: bool,
        /// Work against a running hub's admin API (an admin token in JUNCTION_ADMIN_TOKEN)
        /// instead of the config's database.
        #[arg(long)]
        server: Option<String>,
    },
}

#[derive(clap::ValueEnum, Clone, Copy, Debug)]
pub enum RoleArg {
    Viewer,
    Operator,
    Admin,
}

impl RoleArg {
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Viewer => "viewer",
            Self::Operator => "operator",
            Self::Admin => "admin",
        }
    }
}

#[derive(Subcommand, Debug)]
pub enum TokensCommand {
    /// Create a token; it is printed once and never stored (only its hash is).
    Create {
        /// What the token is for (the calling service).
        name: String,
        /// `proxy:CONNECTOR:METHOD`, with `*` for any connector or method. Repeat for several.
        #[arg(long = "scope")]
        scopes: Vec<String>,
        /// An admin API role: viewer (reads), operator (also replays, discards, enables),
        /// admin (also tokens, secrets' metadata, the audit log).
        #[arg(long, value_enum)]
        role: Option<RoleArg>,
        /// Lifetime, e.g. 90d; default: no expiry.
        #[arg(long)]
        expires: Option<String>,
        #[command(flatten)]
        config: ConfigArgs,
        /// Work against a running hub's admin API (an admin token in JUNCTION_ADMIN_TOKEN)
        /// instead of the config's database.
        #[arg(long)]
        server: Option<String>,
    },
    /// Every token's id, name, scopes and dates; never the token.
    List {
        #[command(flatten)]
        config: ConfigArgs,
        #[arg(long, short = 'o', value_enum, default_value_t = Output::Table)]
        output: Output,
        /// Work against a running hub's admin API (an admin token in JUNCTION_ADMIN_TOKEN)
        /// instead of the config's database.
        #[arg(long)]
        server: Option<String>,
    },
    /// Revoke a token by id (takes effect within seconds on running hubs).
    Revoke {
        id: String,
        #[command(flatten)]
        config: ConfigArgs,
        /// Work against a running hub's admin API (an admin token in JUNCTION_ADMIN_TOKEN)
        /// instead of the config's database.
        #[arg(long)]
        server: Option<String>,
    },
}

#[derive(Subcommand, Debug)]
pub enum ConnectionsCommand {
    /// Every connection's token state: expiry, failures, needs_reauth; never tokens.
    List {
        #[command(flatten)]
        config: ConfigArgs,
        #[arg(long, short = 'o', value_enum, default_value_t = Output::Table)]
        output: Output,
    },
    /// Seed a refresh token (read from stdin or a prompt, never argv) for an
    /// `oauth2_refresh_token` connector; also clears `needs_reauth`.
    SetToken {
        connector: String,
        #[arg(long, default_value = "default")]
        connection: String,
        #[command(flatten)]
        config: ConfigArgs,
    },
    /// Forget a connection's state and tokens.
    Delete {
        connector: String,
        #[arg(long, default_value = "default")]
        connection: String,
        #[command(flatten)]
        config: ConfigArgs,
    },
}

#[derive(Subcommand, Debug)]
pub enum SecretsCommand {
    /// Store a secret (a new version if it exists). The value is read from stdin, or asked for
    /// without echo on a terminal; it is never taken from the command line.
    Set {
        name: String,
        #[command(flatten)]
        config: ConfigArgs,
    },
    /// Names, versions and dates of every secret; never values.
    List {
        #[command(flatten)]
        config: ConfigArgs,
        #[arg(long, short = 'o', value_enum, default_value_t = Output::Table)]
        output: Output,
    },
    /// Delete a secret.
    Delete {
        name: String,
        #[command(flatten)]
        config: ConfigArgs,
    },
    /// Rewrap every secret's data key under the current (highest) master key version, while
    /// hubs keep running; afterwards older versions can leave JUNCTION_MASTER_KEY.
    RotateKey {
        #[command(flatten)]
        config: ConfigArgs,
    },
    /// Print a new random master key, `vN:BASE64`, for JUNCTION_MASTER_KEY.
    NewKey {
        /// Its version: one above the current one when rotating.
        #[arg(long, default_value_t = 1)]
        version: i64,
    },
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

/// Which dead letters: every flag narrows.
#[derive(Args, Debug, Clone, Default)]
pub struct DlqFilter {
    #[arg(long)]
    pub source: Option<String>,
    #[arg(long)]
    pub destination: Option<String>,
    #[arg(long)]
    pub route: Option<String>,
    #[arg(long)]
    pub event_type: Option<String>,
    /// Dead-lettered at or after: RFC 3339 or Unix ms.
    #[arg(long)]
    pub since: Option<String>,
    /// Dead-lettered before: RFC 3339 or Unix ms.
    #[arg(long)]
    pub until: Option<String>,
    /// The reason or last error contains this text.
    #[arg(long)]
    pub error: Option<String>,
    /// Quarantined deliveries (a mapping failed, or the body broke the destination's model)
    /// instead of dead letters. Replay them once the mapping or model is fixed.
    #[arg(long)]
    pub quarantined: bool,
}

#[derive(Subcommand, Debug)]
pub enum DlqCommand {
    /// List dead letters, oldest first.
    List {
        #[command(flatten)]
        remote: Remote,
        #[command(flatten)]
        filter: DlqFilter,
        /// Most rows to show.
        #[arg(long, default_value_t = 50)]
        limit: usize,
    },
    /// Show one delivery with its attempts.
    Show {
        #[command(flatten)]
        remote: Remote,
        id: i64,
    },
    /// Replay dead letters: the given ids, or every one matching the filter (`--all` for all).
    Replay {
        #[command(flatten)]
        remote: Remote,
        #[command(flatten)]
        filter: DlqFilter,
        /// Delivery ids.
        ids: Vec<i64>,
        /// Replay every dead letter when no filter or id is given.
        #[arg(long)]
        all: bool,
    },
    /// Discard dead letters: they are never sent, and no longer block their `fifo` key. The
    /// given ids, or every one matching the filter (`--all` for all).
    Discard {
        #[command(flatten)]
        remote: Remote,
        #[command(flatten)]
        filter: DlqFilter,
        /// Delivery ids.
        ids: Vec<i64>,
        /// Discard every dead letter when no filter or id is given.
        #[arg(long)]
        all: bool,
    },
}

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

#[derive(Args, Debug)]
pub struct CheckArgs {
    #[command(flatten)]
    pub config: ConfigArgs,
    /// Unset environment variables (and a missing master key) are warnings, not errors: check a
    /// config in CI without its real secrets. Every other problem is still an error.
    #[arg(long)]
    pub allow_unresolved: bool,
}

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

#[derive(Subcommand, Debug)]
pub enum ConfigCommand {
    /// Print the JSON Schema of junction.yaml (for editors and CI).
    Schema,
}

#[derive(Args, Debug)]
pub struct BenchArgs {
    /// The scenario to run.
    #[arg(value_enum)]
    pub scenario: Scenario,
    /// Events to append.
    #[arg(long, default_value_t = 200_000)]
    pub events: usize,
    /// Concurrent appenders.
    #[arg(long, default_value_t = 64)]
    pub concurrency: usize,
    /// Payload size in bytes.
    #[arg(long, default_value_t = 1024)]
    pub payload: usize,
    /// Which backends to measure. PostgreSQL uses JUNCTION_BENCH_POSTGRES_URL (default: a
    /// database `junction_bench` on postgres://postgres@127.0.0.1:5432, created if missing).
    #[arg(long, value_enum, default_values_t = [BackendArg::Sqlite, BackendArg::Postgres], value_delimiter = ',')]
    pub backends: Vec<BackendArg>,
    /// Folder for the SQLite database (default: a temporary folder).
    #[arg(long)]
    pub dir: Option<PathBuf>,
    /// ingest: send to this URL (a peer receiver) instead of starting `junction serve`.
    #[arg(long)]
    pub target: Option<String>,
    /// quota: calls to make.
    #[arg(long, default_value_t = 10_000)]
    pub calls: usize,
    /// quota: the vendor's limit per second.
    #[arg(long, default_value_t = 500)]
    pub limit: u32,
    /// mapping: NDJSON records to map.
    #[arg(long, default_value_t = 1_000_000)]
    pub records: usize,
    /// e2e: offered events per second.
    #[arg(long, default_value_t = 5000)]
    pub rate: u32,
    /// e2e: how long to offer them; backlog: how long to watch the hub.
    #[arg(long, default_value = "30s", value_parser = humantime::parse_duration)]
    pub duration: std::time::Duration,
    /// `proxy`: rounds of direct, through Junction and through nginx, back to back; the figures
    /// reported are the medians over the rounds.
    #[arg(long, default_value_t = 3)]
    pub rounds: usize,
}

#[derive(ValueEnum, Debug, Clone, Copy, PartialEq, Eq)]
pub enum Scenario {
    /// Append-with-delivery and claim→complete throughput of the store.
    Store,
    /// Signed webhooks into `junction serve` at a concurrency: accepted/s, ack latency, memory.
    Ingest,
    /// A fixed offered rate through `junction serve` to an HTTP destination: delivered/s and
    /// received→delivered latency.
    E2e,
    /// The hub's memory with `--events` undelivered events waiting for a destination that is down.
    Backlog,
    /// `/proxy` overhead: wrk at `--concurrency` against the upstream directly, through
    /// `junction serve`, and through nginx, for `--duration` each.
    Proxy,
    /// Quota utilisation: `--calls` through `/proxy` to the mock limited to `--limit`/s, with the
    /// limit configured and with it learned from headers.
    Quota,
    /// A vendor → canonical mapping over `--records` NDJSON records: decode + map and
    /// decode + map + validate on every core, beside jq and jaq on one core each.
    Mapping,
}

#[derive(ValueEnum, Debug, Clone, Copy, PartialEq, Eq)]
pub enum BackendArg {
    Sqlite,
    Postgres,
}
