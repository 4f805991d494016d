//! `junction mock`: the mock provider, until SIGTERM/SIGINT.

use std::process::ExitCode;

use crate::cli::MockArgs;

pub async fn run(args: MockArgs) -> ExitCode {
    let config = junction_mock::MockConfig {
        seed: args.seed,
        customers: args.customers,
        ..Default::default()
    };
    let mock = match junction_mock::Mock::start(config, args.listen).await {
        Ok(m) => m,
        Err(e) => {
            eprintln!("error: cannot listen on {}: {e}", args.listen);
            return ExitCode::from(super::EXIT_FAILURE);
        }
    };
    eprintln!(
        "junction mock: serving a fake CRM at {} ({} customers, seed {}); inspect {}/_mock/requests",
        mock.url(),
        args.customers,
        args.seed,
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
