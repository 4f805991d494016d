//! `junction bench NAME`: benchmark scenarios built into the binary, so users can measure their
//! own deployment. Each prints progress for people and, on its last line, one JSON object with
//! the figures (the scripts in `bench/` read that line).

mod backlog;
mod cluster;
mod e2e;
mod erase;
mod hub;
mod ingest;
mod load;
mod mapping;
mod operations;
mod proxy;
mod quota;
mod reconcile;
mod stats;
mod store;
mod sync;

use clap::{Args, ValueEnum};
use std::path::PathBuf;
use std::process::ExitCode;

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
    /// cluster: processes of `junction serve` on one PostgreSQL database.
    #[arg(long, default_value_t = 3)]
    pub nodes: usize,
    /// cluster: the connector's `quota_jitter` (a margin added to every quota window).
    #[arg(long, default_value = "0ms", value_parser = humantime::parse_duration)]
    pub quota_jitter: std::time::Duration,
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
    /// Connector operations: a paginated list of `--records` records through `/ops` (mapped
    /// and validated) beside a plain client walking the same pages, and `--calls` deliveries
    /// into an operation with OAuth.
    Operations,
    /// A sync: a full pass over `--records` records of the mock into events delivered to its
    /// sink, beside a plain client walking the same pages; then a pass with nothing changed.
    Sync,
    /// `--nodes` processes on one PostgreSQL database: `--rate` webhooks/s for `--duration`
    /// spread over all of them to the sink, and `--concurrency` `/proxy` callers per process to
    /// a vendor limited to `--limit`/s: intake, delivered/s, p50/p99, the vendor's maximum in
    /// any second, the quota used.
    Cluster,
    /// A reconciliation: `--calls` changes at the mock announced by lossy webhooks, then a full
    /// pass over `--records` customers behind a quota: seconds, what it found, vendor calls.
    Reconcile,
    /// Erasure by data subject: `--events` events (50 per customer), then five customers
    /// erased one by one: the time of each, and (SQLite) a byte scan of the files for them.
    Erase,
}

#[derive(ValueEnum, Debug, Clone, Copy, PartialEq, Eq)]
pub enum BackendArg {
    Sqlite,
    Postgres,
}

pub async fn run(args: BenchArgs) -> ExitCode {
    if cfg!(debug_assertions) {
        eprintln!("warning: this is a debug build; build with --release for meaningful figures");
    }
    let result = match args.scenario {
        Scenario::Store => store::run(&args).await,
        Scenario::Ingest => ingest::run(&args).await,
        Scenario::E2e => e2e::run(&args).await,
        Scenario::Backlog => backlog::run(&args).await,
        Scenario::Proxy => proxy::run(&args).await,
        Scenario::Quota => quota::run(&args).await,
        Scenario::Mapping => mapping::run(&args).await,
        Scenario::Operations => operations::run(&args).await,
        Scenario::Sync => sync::run(&args).await,
        Scenario::Reconcile => reconcile::run(&args).await,
        Scenario::Cluster => cluster::run(&args).await,
        Scenario::Erase => erase::run(&args).await,
    };
    match result {
        Ok(json) => {
            println!("{json}");
            ExitCode::SUCCESS
        }
        Err(e) => {
            eprintln!("error: {e}");
            ExitCode::from(crate::commands::EXIT_FAILURE)
        }
    }
}

/// Facts about the machine that belong beside any figure.
pub fn machine() -> serde_json::Value {
    serde_json::json!({
        "cores": std::thread::available_parallelism().map(|n| n.get()).unwrap_or(1),
        "os": std::env::consts::OS,
        "arch": std::env::consts::ARCH,
        "release_build": !cfg!(debug_assertions),
    })
}
