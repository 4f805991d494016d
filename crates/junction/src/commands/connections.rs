//! `junction connections list|set-token|delete`: the token state of connectors' connections.

use std::process::ExitCode;

use clap::Subcommand;
use junction_connect::auth::tokens::{access_secret, refresh_secret};
use junction_core::time::now_ms;
use junction_store::SaveTokens;
use junction_vault::ExposeSecret;

use super::secrets::{
    audit_cli, failed, ms_to_rfc3339, open_store, open_vault, read_value, Failure,
};
use super::EXIT_CONFIG;
use crate::cli::{ConfigArgs, Output};

#[derive(Subcommand, Debug)]
pub enum ConnectionsCommand {
    /// Every connection's token state: expiry, failures, needs_reauth; never tokens.
    List {
        #[command(flatten)]
        config: ConfigArgs,
        #[arg(long, short = 'o', value_enum, default_value_t = Output::Table)]
        output: Output,
    },
    /// Seed a refresh token (read from stdin or a prompt, never argv) for an
    /// `oauth2_refresh_token` connector; also clears `needs_reauth`.
    SetToken {
        connector: String,
        #[arg(long, default_value = "default")]
        connection: String,
        #[command(flatten)]
        config: ConfigArgs,
    },
    /// Forget a connection's state and tokens.
    Delete {
        connector: String,
        #[arg(long, default_value = "default")]
        connection: String,
        #[command(flatten)]
        config: ConfigArgs,
    },
}

pub async fn run(cmd: ConnectionsCommand) -> ExitCode {
    let result = match cmd {
        ConnectionsCommand::List { config, output } => list(&config, output).await,
        ConnectionsCommand::SetToken {
            connector,
            connection,
            config,
        } => set_token(&config, &connector, &connection).await,
        ConnectionsCommand::Delete {
            connector,
            connection,
            config,
        } => delete(&config, &connector, &connection).await,
    };
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err((code, e)) => {
            eprintln!("{e}");
            ExitCode::from(code)
        }
    }
}

async fn list(config: &ConfigArgs, output: Output) -> Result<(), Failure> {
    let (_, store) = open_store(config).await?;
    let rows = store.connections().await.map_err(failed)?;
    match output {
        Output::Json => {
            let rows: Vec<_> = rows
                .iter()
                .map(|c| {
                    serde_json::json!({
                        "connector": c.connector, "connection": c.name, "state": c.state,
                        "expires_at": c.expires_at.map(ms_to_rfc3339),
                        "refresh_at": c.refresh_at.map(ms_to_rfc3339),
                        "failures": c.failures, "last_error": c.last_error,
                        "updated_at": ms_to_rfc3339(c.updated_at),
                    })
                })
                .collect();
            println!("{}", serde_json::Value::Array(rows));
        }
        Output::Table => {
            if rows.is_empty() {
                println!("no connections");
            }
            for c in &rows {
                let expires = c
                    .expires_at
                    .map(ms_to_rfc3339)
                    .unwrap_or_else(|| "-".into());
                println!(
                    "{}/{}  {:<13} expires {expires}  failures {}{}",
                    c.connector,
                    c.name,
                    c.state,
                    c.failures,
                    c.last_error
                        .as_deref()
                        .map(|e| format!("  last error: {e}"))
                        .unwrap_or_default()
                );
            }
        }
    }
    Ok(())
}

async fn set_token(config: &ConfigArgs, connector: &str, connection: &str) -> Result<(), Failure> {
    let (cfg, store) = open_store(config).await?;
    let Some(c) = cfg.connectors.get(connector) else {
        return Err((
            EXIT_CONFIG,
            format!("error: no connector `{connector}` in the config"),
        ));
    };
    if !c.auth.as_ref().is_some_and(|a| a.seeded()) {
        return Err((
            EXIT_CONFIG,
            format!(
                "error: connector `{connector}` does not take seeded tokens (its auth is {})\nhint: only `kind: oauth2_refresh_token` connectors are seeded; the others use the config's credentials",
                c.auth.as_ref().map_or("none", |a| a.kind())
            ),
        ));
    }
    if connection.is_empty()
        || connection.len() > 64
        || !connection
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_')
    {
        return Err(failed(
            "connection names use 1-64 letters, digits, `-` and `_`",
        ));
    }
    let vault = open_vault(store.clone()).await?;
    let value = read_value("the refresh token").map_err(|e| (super::EXIT_FAILURE, e))?;
    let sealed = vault
        .seal(
            &refresh_secret(connector, connection),
            value.expose_secret(),
        )
        .map_err(failed)?;
    audit_cli(
        &store,
        "secret.set",
        &refresh_secret(connector, connection),
        serde_json::json!({ "reason": "refresh token seeded" }),
    )
    .await?;
    store
        .save_tokens(SaveTokens {
            connector: connector.into(),
            name: connection.into(),
            epoch: None,
            expires_at: None,
            refresh_at: None,
            secrets: vec![sealed],
            now: now_ms(),
        })
        .await
        .map_err(failed)?;
    // The old access token belongs to the old grant.
    let _ = store
        .delete_secret(&access_secret(connector, connection))
        .await;
    println!("stored the refresh token of {connector}/{connection}; the first call obtains an access token");
    Ok(())
}

async fn delete(config: &ConfigArgs, connector: &str, connection: &str) -> Result<(), Failure> {
    let (_, store) = open_store(config).await?;
    audit_cli(
        &store,
        "connection.delete",
        &format!("{connector}/{connection}"),
        serde_json::json!({}),
    )
    .await?;
    let existed = store
        .delete_connection(connector, connection)
        .await
        .map_err(failed)?;
    for name in [
        access_secret(connector, connection),
        refresh_secret(connector, connection),
    ] {
        store.delete_secret(&name).await.map_err(failed)?;
    }
    if !existed {
        return Err(failed(format!("no connection {connector}/{connection}")));
    }
    println!("deleted connection {connector}/{connection} and its tokens");
    Ok(())
}
