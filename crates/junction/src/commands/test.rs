//! `junction test`: every mapping's examples, run as delivery runs them (the mapping within its
//! limits, then its model's validation). A failure prints each difference with its path.

use std::process::ExitCode;

use junction_config::{Config, Expect};
use junction_transform::testing::{check_example, Expected};

use crate::cli::ConfigArgs;

pub fn run(args: &ConfigArgs) -> ExitCode {
    let overrides = super::serve::env_overrides();
    let cfg = match junction_config::load(&args.config, &overrides) {
        Ok(cfg) => cfg,
        Err(errors) => {
            eprintln!("{errors}");
            eprintln!("{}: {} error(s)", args.config.display(), errors.len());
            return ExitCode::from(super::EXIT_CONFIG);
        }
    };
    let report = run_all(&cfg);
    report.print();
    if report.failed > 0 {
        ExitCode::from(super::EXIT_FAILURE)
    } else {
        ExitCode::SUCCESS
    }
}

/// What running the examples found.
pub struct Report {
    pub passed: usize,
    pub failed: usize,
    /// Mappings without any example.
    pub untested: Vec<String>,
    lines: Vec<String>,
}

impl Report {
    pub fn total(&self) -> usize {
        self.passed + self.failed
    }

    pub fn print(&self) {
        for l in &self.lines {
            println!("{l}");
        }
        if !self.untested.is_empty() {
            println!("no tests: {}", self.untested.join(", "));
        }
        println!(
            "mapping tests: {} passed, {} failed",
            self.passed, self.failed
        );
    }
}

/// Runs every example of every mapping on the mapping threads (large stacks, as in delivery).
pub fn run_all(cfg: &Config) -> Report {
    junction_transform::pool::pool().install(|| {
        let mut r = Report {
            passed: 0,
            failed: 0,
            untested: Vec::new(),
            lines: Vec::new(),
        };
        for (name, def) in &cfg.shapes.mappings {
            if def.tests.is_empty() {
                r.untested.push(name.clone());
                continue;
            }
            for t in &def.tests {
                let expected = match &t.expect {
                    Expect::Output(v) => Expected::Output(v),
                    Expect::Error(s) => Expected::Error(s),
                };
                match check_example(&def.mapping, def.to.as_deref(), &t.input, expected) {
                    Ok(()) => {
                        r.passed += 1;
                        r.lines.push(format!("ok   {name} › {}", t.name));
                    }
                    Err(diffs) => {
                        r.failed += 1;
                        r.lines.push(format!("FAIL {name} › {} ({})", t.name, t.at));
                        r.lines
                            .extend(diffs.into_iter().map(|d| format!("       {d}")));
                    }
                }
            }
        }
        r
    })
}
