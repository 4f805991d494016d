//! `junction connectors`: the provider template library — list it, show one template, and
//! scaffold a connector that uses one.

use std::path::Path;
use std::process::ExitCode;

use clap::Subcommand;
use junction_config::template;

#[derive(Subcommand, Debug)]
pub enum ConnectorsCommand {
    /// List the built-in provider templates.
    Templates,
    /// Show a template: its variables, operations, auth and webhook source.
    Template {
        /// A built-in template's name, or a template file.
        name: String,
    },
    /// Print the config entries of a new connector (and webhook source) that uses a template,
    /// each variable written with its example or default: append them to junction.yaml.
    New {
        /// The connector's name in the config (`crm`).
        name: String,
        /// A built-in template's name, or a template file.
        #[arg(long, short = 't')]
        template: String,
    },
}

pub fn run(cmd: &ConnectorsCommand) -> ExitCode {
    match cmd {
        ConnectorsCommand::Templates => {
            println!(
                "{:<10} {:<11} {:<26} WEBHOOKS",
                "TEMPLATE", "CATEGORY", "AUTH"
            );
            for name in template::builtin_names() {
                match template::describe(name, Path::new("")) {
                    Ok(t) => println!(
                        "{:<10} {:<11} {:<26} {}",
                        t.name,
                        t.category.as_deref().unwrap_or("-"),
                        t.auth.as_deref().unwrap_or("-"),
                        if t.has_source { "yes" } else { "no" }
                    ),
                    Err(e) => {
                        eprintln!("{e}");
                        return ExitCode::from(super::EXIT_FAILURE);
                    }
                }
            }
            println!("\n`junction connectors template NAME` shows one; `junction connectors new NAME --template T` writes a connector that uses it.");
            ExitCode::SUCCESS
        }
        ConnectorsCommand::Template { name } => match template::describe(name, Path::new("")) {
            Ok(t) => {
                println!("{} — {} ({})", t.name, t.title, t.file);
                if let Some(d) = &t.docs {
                    println!("docs: {d}");
                }
                println!("auth: {}", t.auth.as_deref().unwrap_or("none"));
                println!("variables:");
                for (var, v) in &t.vars {
                    let how = match (&v.default, &v.example) {
                        (Some(d), _) => format!("default {d}"),
                        (None, Some(e)) => format!("required, e.g. {e}"),
                        (None, None) => "required".into(),
                    };
                    println!("  {var}: {} ({how})", v.description);
                }
                println!("operations:");
                for (op, summary) in &t.operations {
                    println!("  {op}: {}", summary.as_deref().unwrap_or(""));
                }
                println!(
                    "webhook source: {}",
                    if t.has_source {
                        "yes (use it under sources:)"
                    } else {
                        "no"
                    }
                );
                ExitCode::SUCCESS
            }
            Err(e) => {
                eprintln!("{e}");
                ExitCode::from(super::EXIT_CONFIG)
            }
        },
        ConnectorsCommand::New { name, template: t } => {
            if !junction_config::valid_entry_name(name) {
                eprintln!("error: `{name}` is not a connector name\nhint: names use 1-64 letters, digits, `-` and `_`");
                return ExitCode::from(super::EXIT_CONFIG);
            }
            match template::describe(t, Path::new("")) {
                Ok(info) => {
                    print!("{}", template::scaffold(name, &info, t));
                    ExitCode::SUCCESS
                }
                Err(e) => {
                    eprintln!("{e}");
                    ExitCode::from(super::EXIT_CONFIG)
                }
            }
        }
    }
}
