//! `junction tokens create|list|revoke`: hub API tokens for /proxy callers and admin roles.

use std::process::ExitCode;

use clap::Subcommand;
use junction_core::time::now_ms;
use junction_store::ApiToken;

use junction_server::admin::bodies::{TokenItem, TokenList};

use super::remote::Client;
use super::secrets::{audit_cli, failed, ms_to_rfc3339, open_store, Failure};
use crate::cli::{ConfigArgs, Output};

#[derive(clap::ValueEnum, Clone, Copy, Debug)]
pub enum RoleArg {
    Viewer,
    Operator,
    Admin,
}

#[derive(Subcommand, Debug)]
pub enum TokensCommand {
    /// Create a token; it is printed once and never stored (only its hash is).
    Create {
        /// What the token is for (the calling service).
        name: String,
        /// `proxy:CONNECTOR:METHOD`, with `*` for any connector or method. Repeat for several.
        #[arg(long = "scope")]
        scopes: Vec<String>,
        /// An admin API role: viewer (reads), operator (also replays, discards, enables),
        /// admin (also tokens, secrets' metadata, the audit log).
        #[arg(long, value_enum)]
        role: Option<RoleArg>,
        /// Lifetime, e.g. 90d; default: no expiry.
        #[arg(long)]
        expires: Option<String>,
        #[command(flatten)]
        config: ConfigArgs,
        /// Work against a running hub's admin API (an admin token in JUNCTION_ADMIN_TOKEN)
        /// instead of the config's database.
        #[arg(long)]
        server: Option<String>,
    },
    /// Every token's id, name, scopes and dates; never the token.
    List {
        #[command(flatten)]
        config: ConfigArgs,
        #[arg(long, short = 'o', value_enum, default_value_t = Output::Table)]
        output: Output,
        /// Work against a running hub's admin API (an admin token in JUNCTION_ADMIN_TOKEN)
        /// instead of the config's database.
        #[arg(long)]
        server: Option<String>,
    },
    /// Revoke a token by id (takes effect within seconds on running hubs).
    Revoke {
        id: String,
        #[command(flatten)]
        config: ConfigArgs,
        /// Work against a running hub's admin API (an admin token in JUNCTION_ADMIN_TOKEN)
        /// instead of the config's database.
        #[arg(long)]
        server: Option<String>,
    },
}

impl RoleArg {
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Viewer => "viewer",
            Self::Operator => "operator",
            Self::Admin => "admin",
        }
    }
}

pub async fn run(cmd: TokensCommand) -> ExitCode {
    let result = match cmd {
        TokensCommand::Create {
            name,
            mut scopes,
            role,
            expires,
            config,
            server,
        } => {
            scopes.extend(role.map(|r| format!("role:{}", r.as_str())));
            match server {
                Some(s) => create_remote(&s, name, scopes, expires).await,
                None => create(&config, name, scopes, expires).await,
            }
        }
        TokensCommand::List {
            config,
            output,
            server,
        } => match server {
            Some(s) => list_remote(&s, output).await,
            None => list(&config, output).await,
        },
        TokensCommand::Revoke { id, config, server } => match server {
            Some(s) => Client::to(&s)
                .call(
                    reqwest::Method::DELETE,
                    &format!("/api/v1/tokens/{id}"),
                    None,
                )
                .await
                .map(|_| println!("revoked API token {id}"))
                .map_err(failed),
            None => revoke(&config, &id).await,
        },
    };
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err((code, e)) => {
            eprintln!("{e}");
            ExitCode::from(code)
        }
    }
}

async fn create(
    config: &crate::cli::ConfigArgs,
    name: String,
    scopes: Vec<String>,
    expires: Option<String>,
) -> Result<(), Failure> {
    if scopes.is_empty() {
        return Err(failed(
            "a token needs --scope or --role\nhint: --scope proxy:crm:GET for a caller of /proxy, --role viewer|operator|admin for the admin API and dashboard",
        ));
    }
    for s in &scopes {
        if !junction_connect::api_tokens::valid_scope(s) {
            return Err(failed(format!(
                "invalid scope `{s}`\nhint: write proxy:CONNECTOR:METHOD, e.g. proxy:crm:GET or proxy:crm:* (methods in capitals), or use --role"
            )));
        }
    }
    let expires_at = match expires {
        Some(e) => Some(
            now_ms()
                + junction_core::time::ms(
                    humantime::parse_duration(&e)
                        .map_err(|err| failed(format!("invalid --expires `{e}`: {err}")))?,
                ),
        ),
        None => None,
    };
    let (_, store) = open_store(config).await?;
    let (token, id, hash) = junction_connect::api_tokens::generate();
    audit_cli(
        &store,
        "token.create",
        &id,
        serde_json::json!({ "name": name, "scopes": scopes }),
    )
    .await?;
    store
        .add_api_token(ApiToken {
            id: id.clone(),
            name: name.clone(),
            token_hash: hash,
            scopes: scopes.join(" "),
            created_at: now_ms(),
            expires_at,
            revoked_at: None,
        })
        .await
        .map_err(failed)?;
    eprintln!(
        "created API token {id} ({name}) with scopes {}; it is shown once:",
        scopes.join(" ")
    );
    println!("{token}");
    Ok(())
}

/// `tokens create --server`: through the admin API (it checks the scopes and audits).
async fn create_remote(
    server: &str,
    name: String,
    scopes: Vec<String>,
    expires: Option<String>,
) -> Result<(), Failure> {
    let body = serde_json::json!({ "name": name, "scopes": scopes, "expires_in": expires });
    let made = Client::to(server)
        .call(reqwest::Method::POST, "/api/v1/tokens", Some(body))
        .await
        .map_err(failed)?;
    let made: TokenItem = serde_json::from_value(made)
        .map_err(|e| failed(format!("the hub's answer could not be read: {e}")))?;
    eprintln!(
        "created API token {} ({name}) with scopes {}; it is shown once:",
        made.id,
        scopes.join(" ")
    );
    println!("{}", made.token.unwrap_or_default());
    Ok(())
}

async fn list_remote(server: &str, output: Output) -> Result<(), Failure> {
    let v: TokenList = Client::to(server)
        .get("/api/v1/tokens")
        .await
        .map_err(failed)?;
    let tokens: Vec<ApiToken> = v
        .tokens
        .into_iter()
        .map(|t| ApiToken {
            id: t.id,
            name: t.name,
            token_hash: Vec::new(),
            scopes: t.scopes.join(" "),
            created_at: t.created_at_ms,
            expires_at: t.expires_at_ms,
            revoked_at: t.revoked_at_ms,
        })
        .collect();
    print_tokens(&tokens, output);
    Ok(())
}

async fn list(config: &crate::cli::ConfigArgs, output: Output) -> Result<(), Failure> {
    let (_, store) = open_store(config).await?;
    let tokens = store.api_tokens().await.map_err(failed)?;
    print_tokens(&tokens, output);
    Ok(())
}

fn print_tokens(tokens: &[ApiToken], output: Output) {
    let when = |t: Option<i64>| t.map(ms_to_rfc3339);
    match output {
        Output::Json => {
            let rows: Vec<_> = tokens
                .iter()
                .map(|t| {
                    serde_json::json!({
                        "id": t.id, "name": t.name, "scopes": t.scopes.split(' ').collect::<Vec<_>>(),
                        "created_at": ms_to_rfc3339(t.created_at), "expires_at": when(t.expires_at),
                        "revoked_at": when(t.revoked_at),
                    })
                })
                .collect();
            println!("{}", serde_json::Value::Array(rows));
        }
        Output::Table => {
            if tokens.is_empty() {
                println!("no API tokens");
                return;
            }
            use super::table::{Align::*, Table};
            let mut table = Table::new(&[
                ("ID", Left),
                ("NAME", Left),
                ("SCOPES", Left),
                ("STATE", Left),
            ]);
            for t in tokens {
                let state = match (t.revoked_at, t.expires_at) {
                    (Some(r), _) => format!("revoked {}", ms_to_rfc3339(r)),
                    (None, Some(e)) if e <= now_ms() => "expired".to_owned(),
                    (None, Some(e)) => format!("expires {}", ms_to_rfc3339(e)),
                    (None, None) => "active".to_owned(),
                };
                table.row(vec![t.id.clone(), t.name.clone(), t.scopes.clone(), state]);
            }
            table.print();
        }
    }
}

async fn revoke(config: &crate::cli::ConfigArgs, id: &str) -> Result<(), Failure> {
    let (_, store) = open_store(config).await?;
    audit_cli(&store, "token.revoke", id, serde_json::json!({})).await?;
    if !store.revoke_api_token(id, now_ms()).await.map_err(failed)? {
        return Err(failed(format!("no active API token with id `{id}`")));
    }
    println!("revoked API token {id}");
    Ok(())
}
