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
    quiet_on_closed_pipe();
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
    let run = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
        runtime.block_on(commands::run(cli))
    }));
    match run {
        Ok(code) => code,
        Err(payload) if closed_pipe(panic_message(&*payload)) => ExitCode::SUCCESS,
        Err(payload) => std::panic::resume_unwind(payload),
    }
}

/// `junction events list | head` or `junction jobs show J | grep -q succeeded`: the reader closes
/// the pipe before everything is written. The command's work is done by then, so it ends quietly
/// with success (as `rg` and `fd` do) instead of a panic message and exit 101: the hook keeps
/// quiet about it and `main` turns it into success.
fn quiet_on_closed_pipe() {
    let default = std::panic::take_hook();
    std::panic::set_hook(Box::new(move |info| {
        if !closed_pipe(panic_message(info.payload())) {
            default(info);
        }
    }));
}

fn panic_message(payload: &(dyn std::any::Any + Send)) -> &str {
    payload
        .downcast_ref::<String>()
        .map(String::as_str)
        .or_else(|| payload.downcast_ref::<&str>().copied())
        .unwrap_or("")
}

fn closed_pipe(message: &str) -> bool {
    message.starts_with("failed printing to stdout") && message.contains("Broken pipe")
}
