//! `junction audit list|verify`: the audit log, read from the config's database.

use std::process::ExitCode;

use super::remote::Client;
use super::secrets::{failed, ms_to_rfc3339, open_store, Failure};
use crate::cli::{AuditCommand, Output};

pub async fn run(cmd: AuditCommand) -> ExitCode {
    let result = match cmd {
        AuditCommand::List {
            limit,
            output,
            server: Some(server),
            ..
        } => list_remote(&server, limit, output).await,
        AuditCommand::List {
            limit,
            config,
            output,
            server: None,
        } => list(&config, limit, output).await,
        AuditCommand::Verify {
            server: Some(server),
            ..
        } => verify_remote(&server).await,
        AuditCommand::Verify {
            config,
            server: None,
        } => verify(&config).await,
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

async fn list_remote(server: &str, limit: usize, output: Output) -> Result<(), Failure> {
    let v = Client::to(server)
        .call(
            reqwest::Method::GET,
            &format!("/api/v1/audit?limit={}", limit.clamp(1, 1000)),
            None,
        )
        .await
        .map_err(failed)?;
    let entries = v["entries"].as_array().cloned().unwrap_or_default();
    match output {
        Output::Json => println!("{}", serde_json::Value::Array(entries)),
        Output::Table if entries.is_empty() => println!("the audit log is empty"),
        Output::Table => {
            for e in &entries {
                let s = |k: &str| e[k].as_str().unwrap_or("").to_owned();
                println!(
                    "{:>6}  {}  {:<22} {:<15} {:<40} {}",
                    e["seq"],
                    ms_to_rfc3339(e["at"].as_i64().unwrap_or(0)),
                    s("actor"),
                    s("origin"),
                    s("action"),
                    s("target")
                );
            }
        }
    }
    Ok(())
}

async fn verify_remote(server: &str) -> Result<(), Failure> {
    let v = Client::to(server)
        .call(reqwest::Method::GET, "/api/v1/audit/verify", None)
        .await
        .map_err(failed)?;
    if v["ok"] == true {
        println!(
            "the audit log holds: {} entries, every hash chained to the one before",
            v["entries"]
        );
        Ok(())
    } else {
        Err(failed(format!(
            "the audit log was tampered with: {}",
            v["error"].as_str().unwrap_or("unknown")
        )))
    }
}
