//! `junction`: the API integration hub, one binary.
#![forbid(unsafe_code)]

mod app;
mod bench;
mod cli;
mod commands;

use std::process::ExitCode;

use clap::Parser;

/// mimalloc: the store and HTTP paths allocate and free many short-lived buffers (payloads,
/// bound parameters) across threads, where glibc's allocator spends a fifth of the time.
/// Metered: each thread's holdings are counted, so a mapping is held to its memory limit.
#[global_allocator]
static ALLOCATOR: junction_transform::Metered<mimalloc::MiMalloc> =
    junction_transform::Metered(mimalloc::MiMalloc);

fn main() -> ExitCode {
    let cli = cli::Cli::parse();
    let runtime = match tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
    {
        Ok(rt) => rt,
        Err(e) => {
            eprintln!("error: cannot start the async runtime: {e}");
            return ExitCode::from(1);
        }
    };
    runtime.block_on(commands::run(cli))
}
