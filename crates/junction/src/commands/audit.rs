//! `junction audit list|verify`: the audit log, read from the config's database.

use std::process::ExitCode;

use clap::Subcommand;
use junction_server::admin::bodies::{AuditList, AuditVerdict};

use super::remote::Client;
use super::secrets::{failed, ms_to_rfc3339, open_store, Failure};
use crate::cli::{ConfigArgs, Output};

#[derive(Subcommand, Debug)]
pub enum AuditCommand {
    /// The newest entries first.
    List {
        #[arg(long, default_value_t = 50)]
        limit: usize,
        #[command(flatten)]
        config: ConfigArgs,
        #[arg(long, short = 'o', value_enum, default_value_t = Output::Table)]
        output: Output,
        /// Work against a running hub's admin API (an admin token in JUNCTION_ADMIN_TOKEN)
        /// instead of the config's database.
        #[arg(long)]
        server: Option<String>,
    },
    /// Recompute the hash chain: exit 0 if every entry holds, 1 naming the first entry that was
    /// changed, deleted or unlinked. Prints the head (`SEQ:HASH`): keep it outside the database.
    Verify {
        #[command(flatten)]
        config: ConfigArgs,
        /// A head printed by an earlier verify and kept elsewhere: the log must still hold that
        /// entry with that hash (someone who can write the database can rebuild the whole
        /// chain, but not this copy).
        #[arg(long, value_name = "SEQ:HASH")]
        head: Option<String>,
        /// With the master key set, every entry must be sealed with it (so a log rebuilt without
        /// the key is caught); this accepts plain entries before the first sealed one, as a log
        /// written before sealing (or by a process without the key) has.
        #[arg(long)]
        allow_unsealed: bool,
        /// The folder older entries were archived to (default: `server.audit.archive` of the
        /// config, when set): its files are checked first, then the database's entries go on
        /// from them.
        #[arg(long, value_name = "DIR")]
        archive: Option<std::path::PathBuf>,
        /// Work against a running hub's admin API (an admin token in JUNCTION_ADMIN_TOKEN)
        /// instead of the config's database.
        #[arg(long)]
        server: Option<String>,
    },
}

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
            head,
            ..
        } => verify_remote(&server, head.as_deref()).await,
        AuditCommand::Verify {
            config,
            server: None,
            head,
            allow_unsealed,
            archive,
        } => verify(&config, head.as_deref(), allow_unsealed, archive).await,
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
                return Ok(());
            }
            let mut t = audit_table();
            for e in &entries {
                t.row(vec![
                    e.seq.to_string(),
                    ms_to_rfc3339(e.at),
                    e.actor.clone(),
                    e.origin.clone(),
                    e.action.clone(),
                    e.target.clone(),
                ]);
            }
            t.print();
        }
    }
    Ok(())
}

fn anchor(head: Option<&str>) -> Result<Option<junction_store::ops::Anchor>, Failure> {
    head.map(|h| {
        h.parse().map_err(|e: String| {
            failed(format!(
                "--head: {e}\nhint: pass the `head:` line an earlier `junction audit verify` printed"
            ))
        })
    })
    .transpose()
}

async fn verify(
    config: &crate::cli::ConfigArgs,
    head: Option<&str>,
    allow_unsealed: bool,
    archive: Option<std::path::PathBuf>,
) -> Result<(), Failure> {
    let anchor = anchor(head)?;
    let (config, store) = open_store(config).await?;
    let sealed = junction_store::ops::sealing();
    let v = junction_store::ops::Verifier::anchored(anchor.clone())
        .requiring_seals(sealed && !allow_unsealed);
    let archive = archive.or_else(|| config.server.audit.as_ref().map(|a| a.archive.clone()));
    let (v, archived) = match archive.as_deref().filter(|d| d.exists()) {
        None => (Ok(v), 0),
        Some(dir) => match junction_store::audit_archive::walk(dir, v).map_err(failed)? {
            Ok(v) => {
                let n = v.last();
                (Ok(v), n)
            }
            Err(b) => (Err(b), 0),
        },
    };
    let verdict = match v {
        Ok(v) => junction_store::ops::verify_audit_from(store.as_ref(), v)
            .await
            .map_err(failed)?,
        Err(b) => Err(b),
    };
    match verdict {
        Ok(n) => {
            println!("the audit log holds: {n} entries, every hash chained to the one before");
            if let Some(dir) = archive.as_deref().filter(|_| archived > 0) {
                println!("entries 1 to {archived} were read from the archive {}", dir.display());
            }
            if !sealed {
                println!("no master key is set: sealed entries were not checked with it, and none is required (set JUNCTION_MASTER_KEY)");
            }
            if let Some(a) = &anchor {
                println!("it still holds the kept head {a}");
            }
            if let Some((seq, hash)) = store.audit_head().await.map_err(failed)? {
                println!("head: {seq}:{hash} (keep it outside the database; `--head` checks the log still holds it)");
            }
            Ok(())
        }
        Err(b) => Err(failed(format!(
            "the audit log was tampered with: {b}\nhint: restore the database from a backup and compare; entries before the break are intact{}",
            if matches!(b, junction_store::ops::ChainBreak::Unsealed { .. }) {
                " (a log whose first entries predate sealing: --allow-unsealed)"
            } else {
                ""
            }
        ))),
    }
}

async fn list_remote(server: &str, limit: usize, output: Output) -> Result<(), Failure> {
    let v: AuditList = Client::to(server)
        .get(&format!("/api/v1/audit?limit={}", limit.clamp(1, 1000)))
        .await
        .map_err(failed)?;
    let entries = v.entries;
    match output {
        Output::Json => println!("{}", serde_json::to_string(&entries).unwrap_or_default()),
        Output::Table if entries.is_empty() => println!("the audit log is empty"),
        Output::Table => {
            let mut t = audit_table();
            for e in entries {
                t.row(vec![
                    e.seq.to_string(),
                    ms_to_rfc3339(e.at),
                    e.actor,
                    e.origin,
                    e.action,
                    e.target,
                ]);
            }
            t.print();
        }
    }
    Ok(())
}

async fn verify_remote(server: &str, head: Option<&str>) -> Result<(), Failure> {
    let anchor = anchor(head)?;
    let client = Client::to(server);
    let v: AuditVerdict = client.get("/api/v1/audit/verify").await.map_err(failed)?;
    if v.ok {
        if let Some(a) = &anchor {
            let page: AuditList = client
                .get(&format!("/api/v1/audit?after={}&limit=1", a.seq - 1))
                .await
                .map_err(failed)?;
            let entry = page.entries.first();
            if entry.map(|e| e.seq) != Some(a.seq) {
                return Err(failed(format!(
                    "the audit log was tampered with: {}",
                    junction_store::ops::ChainBreak::AnchorMissing { seq: a.seq }
                )));
            }
            if entry.map(|e| e.hash.as_str()) != Some(a.hash.as_str()) {
                return Err(failed(format!(
                    "the audit log was tampered with: {}",
                    junction_store::ops::ChainBreak::Rewritten { seq: a.seq }
                )));
            }
        }
        println!(
            "the audit log holds: {} entries, every hash chained to the one before",
            v.entries.unwrap_or(0)
        );
        if let Some(a) = &anchor {
            println!("it still holds the kept head {a}");
        }
        if let (Some(seq), Some(hash)) = (v.head, v.head_hash) {
            println!("head: {seq}:{hash} (keep it outside the database; `--head` checks the log still holds it)");
        }
        Ok(())
    } else {
        Err(failed(format!(
            "the audit log was tampered with: {}",
            v.error.as_deref().unwrap_or("unknown")
        )))
    }
}

fn audit_table() -> super::table::Table {
    use super::table::{Align::*, Table};
    Table::new(&[
        ("SEQ", Right),
        ("AT (UTC)", Left),
        ("ACTOR", Left),
        ("ORIGIN", Left),
        ("ACTION", Left),
        ("TARGET", Left),
    ])
}
