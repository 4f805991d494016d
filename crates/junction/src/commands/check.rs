//! `junction check`: validate the config, print every problem, exit 2 if there is one.

use crate::cli::ConfigArgs;
use clap::Args;
use std::process::ExitCode;

#[derive(Args, Debug)]
pub struct CheckArgs {
    #[command(flatten)]
    pub config: ConfigArgs,
    /// Unset environment variables (and a missing master key) are warnings, not errors: check a
    /// config in CI without its real secrets. Every other problem is still an error.
    #[arg(long)]
    pub allow_unresolved: bool,
    /// Check a provider template file instead of the config: it is expanded into a config of
    /// its own (its variables set to their examples) and checked like one, mappings' tests
    /// included; errors name the template's file and line.
    #[arg(long, value_name = "FILE")]
    pub template: Option<std::path::PathBuf>,
}

pub fn run(check: &CheckArgs) -> ExitCode {
    if let Some(path) = &check.template {
        return template(path);
    }
    let args = &check.config;
    let overrides = junction_config::Overrides {
        allow_unresolved: check.allow_unresolved,
        ..super::serve::env_overrides()
    };
    match junction_config::load(&args.config, &overrides) {
        Ok(cfg) => {
            for w in &cfg.warnings {
                eprintln!("warning: {w}");
            }
            let refused = super::preflight::problems(&cfg);
            if check.allow_unresolved && refused.iter().all(|r| r.missing_key) {
                for p in &refused {
                    eprintln!("{}", p.text.replacen("error:", "warning:", 1));
                }
            } else if !refused.is_empty() {
                for p in &refused {
                    eprintln!("{p}");
                }
                eprintln!(
                    "{}: {} error(s): `junction serve` would refuse to start",
                    args.config.display(),
                    refused.len()
                );
                return ExitCode::from(super::EXIT_CONFIG);
            }
            let f = &cfg.flows;
            println!(
                "{}: ok (listen {}, store {}; {} source(s), {} route(s), {} destination(s), {} connector(s))",
                args.config.display(),
                cfg.server.listen,
                cfg.store.url.redacted(),
                f.sources.len(),
                f.routes.len(),
                f.destinations.len(),
                cfg.connectors.len()
            );
            for c in cfg.connectors.values() {
                let auth = c.auth.as_ref().map_or("no auth", |a| a.kind());
                let quotas: Vec<String> = c.quotas.iter().map(|q| q.to_string()).collect();
                println!(
                    "connector {}: {}{} ({auth}; quotas: {})",
                    c.name,
                    c.base_url.origin().ascii_serialization(),
                    c.base_path,
                    if quotas.is_empty() {
                        "none".into()
                    } else {
                        quotas.join(", ")
                    }
                );
            }
            let vault = cfg.vault_names();
            if !vault.is_empty() {
                println!(
                    "reads {} secret(s) from the vault at start-up: {} (needs JUNCTION_MASTER_KEY; `junction secrets list` shows what is stored)",
                    vault.len(),
                    vault.join(", ")
                );
            }
            for d in f.destinations.values() {
                let never = f.routes.values().all(|r| !r.to.contains(&d.name));
                if never {
                    eprintln!("warning: destination `{}` is not used by any route", d.name);
                }
            }
            for s in f.sources.values() {
                if f.routes.values().all(|r| r.from != s.name) {
                    eprintln!(
                        "warning: source `{}` has no route: its events are stored but go nowhere",
                        s.name
                    );
                }
            }
            if !cfg.warnings.is_empty() {
                eprintln!(
                    "{}: {} unresolved reference(s) let through by --allow-unresolved: `junction serve` needs them set",
                    args.config.display(),
                    cfg.warnings.len()
                );
            }
            let report = super::test::run_all(&cfg);
            if report.total() > 0 {
                report.print();
            }
            if report.failed > 0 {
                return ExitCode::from(super::EXIT_FAILURE);
            }
            ExitCode::SUCCESS
        }
        Err(errors) => {
            eprintln!("{errors}");
            eprintln!("{}: {} error(s)", args.config.display(), errors.len());
            ExitCode::from(super::EXIT_CONFIG)
        }
    }
}

/// `check --template FILE`: the template expanded into a config of its own, checked.
fn template(path: &std::path::Path) -> ExitCode {
    match junction_config::template::lint(path) {
        Ok((info, cfg)) => {
            let report = super::test::run_all(&cfg);
            if report.total() > 0 {
                report.print();
            }
            if report.failed > 0 {
                return ExitCode::from(super::EXIT_FAILURE);
            }
            println!(
                "{}: ok (template `{}`: {} operation(s), {} variable(s){})",
                path.display(),
                info.name,
                info.operations.len(),
                info.vars.len(),
                if info.has_source {
                    ", a webhook source"
                } else {
                    ""
                }
            );
            ExitCode::SUCCESS
        }
        Err(errors) => {
            eprintln!("{errors}");
            eprintln!("{}: {} error(s)", path.display(), errors.len());
            ExitCode::from(super::EXIT_CONFIG)
        }
    }
}
