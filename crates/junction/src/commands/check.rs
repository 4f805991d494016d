//! `junction check`: validate the config, print every problem, exit 2 if there is one.

use std::process::ExitCode;

use crate::cli::ConfigArgs;

pub fn run(args: &ConfigArgs) -> ExitCode {
    let overrides = super::serve::env_overrides();
    match junction_config::load(&args.config, &overrides) {
        Ok(cfg) => {
            println!(
                "{}: ok (listen {}, store {})",
                args.config.display(),
                cfg.server.listen,
                cfg.store.url.redacted()
            );
            ExitCode::SUCCESS
        }
        Err(errors) => {
            eprintln!("{errors}");
            eprintln!("{}: {} error(s)", args.config.display(), errors.len());
            ExitCode::from(super::EXIT_CONFIG)
        }
    }
}
