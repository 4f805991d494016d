//! `junction bench NAME`: benchmark scenarios built into the binary, so users can measure their
//! own deployment. Each prints progress for people and, on its last line, one JSON object with
//! the figures (the scripts in `bench/` read that line).

mod backlog;
mod e2e;
mod hub;
mod ingest;
mod load;
mod mapping;
mod proxy;
mod quota;
mod stats;
mod store;

use std::process::ExitCode;

use crate::cli::{BenchArgs, Scenario};

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
