//! `junction secrets …`: the vault, on the database the config names; and binding the config's
//! `secret:NAME` references at start-up.

use std::io::{IsTerminal, Read};
use std::process::ExitCode;
use std::sync::Arc;

use clap::Subcommand;
use junction_config::Config;
use junction_store::Store;
use junction_vault::{Keyring, SecretString, Vault};

use super::serve::{env_overrides, load};
use super::{EXIT_CONFIG, EXIT_FAILURE, EXIT_STORE};
use crate::cli::{ConfigArgs, Output};

#[derive(Subcommand, Debug)]
pub enum SecretsCommand {
    /// Store a secret (a new version if it exists). The value is read from stdin, or asked for
    /// without echo on a terminal; it is never taken from the command line.
    Set {
        name: String,
        #[command(flatten)]
        config: ConfigArgs,
    },
    /// Names, versions and dates of every secret; never values.
    List {
        #[command(flatten)]
        config: ConfigArgs,
        #[arg(long, short = 'o', value_enum, default_value_t = Output::Table)]
        output: Output,
    },
    /// Delete a secret.
    Delete {
        name: String,
        #[command(flatten)]
        config: ConfigArgs,
    },
    /// Rewrap every secret's data key under the current (highest) master key version, while
    /// hubs keep running; afterwards older versions can leave JUNCTION_MASTER_KEY.
    RotateKey {
        #[command(flatten)]
        config: ConfigArgs,
    },
    /// Print a new random master key, `vN:BASE64`, for JUNCTION_MASTER_KEY.
    NewKey {
        /// Its version: one above the current one when rotating.
        #[arg(long, default_value_t = 1)]
        version: i64,
    },
}

/// Opens the vault when a master key is set (proving the key against the store), and binds every
/// `secret:NAME` of the config. A config that reads the vault without a key is refused, as is a
/// wrong key, a missing secret or one whose value has the wrong shape: each error names its place
/// in the file.
pub async fn bind(config: &Config, store: &Arc<dyn Store>) -> Result<Option<Vault>, String> {
    let ring = Keyring::from_env().map_err(|e| format!("error: {e}"))?;
    let names = config.vault_names();
    let Some(ring) = ring else {
        if names.is_empty() && !config.encrypts() {
            return Ok(None);
        }
        if names.is_empty() {
            return Err("error: store.encrypt_payloads (or a source's encrypt_payloads) seals payloads with a data key the vault keeps, but no master key is set\nhint: set JUNCTION_MASTER_KEY (`junction secrets new-key` prints one)".into());
        }
        return Err(format!(
            "error: the config reads {} secret(s) from the vault ({}) but no master key is set\nhint: set JUNCTION_MASTER_KEY (or JUNCTION_MASTER_KEY_FILE) to the key the secrets were stored with",
            names.len(),
            names.join(", ")
        ));
    };
    let vault = Vault::open(store.clone(), ring)
        .await
        .map_err(|e| format!("error: {e}"))?;
    let mut values = std::collections::HashMap::new();
    for name in names {
        if let Some(v) = vault.get(name).await.map_err(|e| format!("error: {e}"))? {
            values.insert(name.to_owned(), v);
        }
    }
    config
        .bind_vault(&|name| {
            values
                .get(name)
                .map(|v| junction_vault::ExposeSecret::expose_secret(v).to_owned())
        })
        .map_err(|e| e.to_string())?;
    at_rest(config, &vault).await?;
    Ok(Some(vault))
}

/// Gives the store the data key of payloads sealed at rest (made now if the config seals any
/// and there is none yet), and which sources seal theirs.
pub async fn at_rest(config: &Config, vault: &Vault) -> Result<(), String> {
    let key = vault.data_key(config.encrypts()).await.map_err(|e| {
        format!("error: cannot open the data key of payloads encrypted at rest: {e}")
    })?;
    let (default, own) = config.at_rest();
    junction_store::at_rest::configure(key.map(|k| *k), default, own);
    Ok(())
}

/// A failed command: its exit code and message.
pub(super) type Failure = (u8, String);

pub(super) fn failed(e: impl std::fmt::Display) -> Failure {
    (EXIT_FAILURE, format!("error: {e}"))
}

pub async fn run(cmd: SecretsCommand) -> ExitCode {
    let result = match cmd {
        SecretsCommand::NewKey { version } => new_key(version),
        SecretsCommand::Set { name, config } => {
            async { set(&open(&config).await?, &name).await }.await
        }
        SecretsCommand::List { config, output } => {
            async { list(&open(&config).await?, output).await }.await
        }
        SecretsCommand::Delete { name, config } => {
            async { delete(&open(&config).await?, &name).await }.await
        }
        SecretsCommand::RotateKey { config } => async { rotate(&open(&config).await?).await }.await,
    };
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err((code, e)) => {
            eprintln!("{e}");
            ExitCode::from(code)
        }
    }
}

fn new_key(version: i64) -> Result<(), Failure> {
    if version < 1 {
        return Err(failed("versions start at 1"));
    }
    println!("{}", Keyring::generate(version).map_err(failed)?.as_str());
    Ok(())
}

async fn delete(vault: &Vault, name: &str) -> Result<(), Failure> {
    if !vault.delete(name).await.map_err(failed)? {
        return Err(failed(format!("there is no secret named `{name}`")));
    }
    println!("deleted secret {name}");
    Ok(())
}

async fn rotate(vault: &Vault) -> Result<(), Failure> {
    let r = vault.rotate().await.map_err(failed)?;
    let raced = if r.raced > 0 {
        format!(
            "; {} changed meanwhile (run rotate-key again to be sure)",
            r.raced
        )
    } else {
        String::new()
    };
    println!(
        "master key v{}: rewrapped {} secret(s), {} already current{raced}",
        vault.current_version(),
        r.rewrapped,
        r.current,
    );
    Ok(())
}

async fn open(args: &ConfigArgs) -> Result<Vault, Failure> {
    let (_, store) = open_store(args).await?;
    open_vault(store).await
}

/// The config and the store it names. These commands work on the database alone, so the config's
/// unset environment variables (the hub's secrets) do not stop them.
pub(super) async fn open_store(args: &ConfigArgs) -> Result<(Config, Arc<dyn Store>), Failure> {
    let overrides = junction_config::Overrides {
        allow_unresolved: true,
        ..env_overrides()
    };
    let config = load(args, &overrides).map_err(|e| (EXIT_CONFIG, e))?;
    super::preflight::seal_audit_from_env();
    let store = junction_store::open(&config.store).await.map_err(|e| {
        (
            EXIT_STORE,
            format!(
                "error: cannot open the store {}: {e}\nhint: {}",
                config.store.url,
                super::store_hint(&config.store.url)
            ),
        )
    })?;
    // Rows sealed at rest are read with the vault's data key, when there is one. A command that
    // reads no such row works without it: a vault that does not open is only a warning here.
    if Keyring::from_env().ok().flatten().is_some() {
        let opened = match open_vault(store.clone()).await {
            Ok(vault) => at_rest(&config, &vault).await,
            Err((_, e)) => Err(e),
        };
        if let Err(e) = opened {
            let e = e.trim_start_matches("error: ");
            eprintln!("warning: payloads encrypted at rest cannot be read by this command: {e}");
        }
    }
    Ok((config, store))
}

/// The vault over `store`, with the master key from the environment.
pub(super) async fn open_vault(store: Arc<dyn Store>) -> Result<Vault, Failure> {
    let ring = Keyring::from_env()
        .map_err(|e| (EXIT_CONFIG, format!("error: {e}")))?
        .ok_or_else(|| {
            (
                EXIT_CONFIG,
                format!("error: {}", junction_vault::VaultError::NoMasterKey),
            )
        })?;
    Vault::open(store, ring)
        .await
        .map(|v| v.acting_as(cli_actor(), "local"))
        .map_err(|e| (EXIT_CONFIG, format!("error: {e}")))
}

/// Who the audit log names for the CLI: the operating-system user running it.
pub(super) fn cli_actor() -> String {
    let user = std::env::var("USER")
        .or_else(|_| std::env::var("USERNAME"))
        .unwrap_or_else(|_| "unknown".into());
    format!("cli:{user}")
}

/// Appends an audit entry for a CLI action on the database.
pub(super) async fn audit_cli(
    store: &Arc<dyn Store>,
    action: &str,
    target: &str,
    detail: serde_json::Value,
) -> Result<(), Failure> {
    store
        .append_audit(junction_store::NewAudit {
            at: junction_core::time::now_ms(),
            actor: cli_actor(),
            action: action.into(),
            target: target.into(),
            origin: "local".into(),
            detail: detail.to_string(),
        })
        .await
        .map(|_| ())
        .map_err(|e| {
            failed(format!(
                "cannot write the audit log, nothing was changed: {e}"
            ))
        })
}

/// Reads the value from stdin (piped) or a no-echo prompt (terminal); never from argv.
pub(super) fn read_value(name: &str) -> Result<SecretString, String> {
    let value = if std::io::stdin().is_terminal() {
        let first = rpassword::prompt_password(format!("value for {name}: "))
            .map_err(|e| format!("error: cannot read the value: {e}"))?;
        let again = rpassword::prompt_password("again: ")
            .map_err(|e| format!("error: cannot read the value: {e}"))?;
        if first != again {
            return Err("error: the two values differ; nothing was stored".into());
        }
        first
    } else {
        let mut text = String::new();
        std::io::stdin()
            .read_to_string(&mut text)
            .map_err(|e| format!("error: cannot read the value from stdin: {e}"))?;
        // One trailing newline is the shell's, not the secret's.
        if text.ends_with('\n') {
            text.pop();
            if text.ends_with('\r') {
                text.pop();
            }
        }
        text
    };
    if value.is_empty() {
        return Err("error: the value is empty; nothing was stored".into());
    }
    Ok(SecretString::from(value))
}

async fn set(vault: &Vault, name: &str) -> Result<(), Failure> {
    if !junction_vault::valid_name(name) {
        return Err(failed(junction_vault::VaultError::BadName {
            name: name.into(),
        }));
    }
    let value = read_value(name).map_err(|e| (EXIT_FAILURE, e))?;
    let version = vault.set(name, &value).await.map_err(failed)?;
    println!("stored secret {name} (version {version})");
    Ok(())
}

async fn list(vault: &Vault, output: Output) -> Result<(), Failure> {
    let secrets = vault.list().await.map_err(failed)?;
    match output {
        Output::Json => {
            let rows: Vec<_> = secrets
                .iter()
                .map(|s| {
                    serde_json::json!({
                        "name": s.name, "version": s.version, "master_key_version": s.master_version,
                        "created_at": ms_to_rfc3339(s.created_at), "updated_at": ms_to_rfc3339(s.updated_at),
                    })
                })
                .collect();
            println!("{}", serde_json::Value::Array(rows));
        }
        Output::Table => {
            if secrets.is_empty() {
                println!("no secrets");
            } else {
                use super::table::{Align::*, Table};
                let mut t = Table::new(&[
                    ("NAME", Left),
                    ("VERSION", Right),
                    ("MASTER KEY", Right),
                    ("UPDATED (UTC)", Left),
                ]);
                for s in &secrets {
                    t.row(vec![
                        s.name.clone(),
                        s.version.to_string(),
                        format!("v{}", s.master_version),
                        ms_to_rfc3339(s.updated_at),
                    ]);
                }
                t.print();
            }
        }
    }
    Ok(())
}

pub(super) fn ms_to_rfc3339(ms: i64) -> String {
    humantime::format_rfc3339_seconds(
        std::time::UNIX_EPOCH + std::time::Duration::from_millis(ms.max(0) as u64),
    )
    .to_string()
}
