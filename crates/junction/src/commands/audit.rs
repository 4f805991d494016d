//! `junction audit list|verify`: the audit log, read from the config's database.

use std::process::ExitCode;

use super::secrets::{failed, ms_to_rfc3339, open_store, Failure};
use crate::cli::{AuditCommand, Output};

pub async fn run(cmd: AuditCommand) -> ExitCode {
    let result = match cmd {
        AuditCommand::List {
            limit,
            config,
            output,
        } => list(&config, limit, output).await,
        AuditCommand::Verify { config } => verify(&config).await,
    };
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err((code, e)) => {
            eprintln!("{e}");
            ExitCode::from(code)
        }
    }
}

async fn list(
    config: &crate::cli::ConfigArgs,
    limit: usize,
    output: Output,
) -> Result<(), Failure> {
    let (_, store) = open_store(config).await?;
    let entries = store.audit_newest(limit.max(1)).await.map_err(failed)?;
    match output {
        Output::Json => println!("{}", serde_json::to_string(&entries).map_err(failed)?),
        Output::Table => {
            if entries.is_empty() {
                println!("the audit log is empty");
            }
            for e in &entries {
                println!(
                    "{:>6}  {}  {:<22} {:<15} {:<40} {}",
                    e.seq,
                    ms_to_rfc3339(e.at),
                    e.actor,
                    e.origin,
                    e.action,
                    e.target
                );
            }
        }
    }
    Ok(())
}

async fn verify(config: &crate::cli::ConfigArgs) -> Result<(), Failure> {
    let (_, store) = open_store(config).await?;
    match junction_store::ops::verify_audit(store.as_ref())
        .await
        .map_err(failed)?
    {
        Ok(n) => {
            println!("the audit log holds: {n} entries, every hash chained to the one before");
            Ok(())
        }
        Err(b) => Err(failed(format!(
            "the audit log was tampered with: {b}\nhint: restore the database from a backup and compare; entries before the break are intact"
        ))),
    }
}
