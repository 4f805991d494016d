//! `junction erase --subject ID --reason WHY`: erasure by data subject on a running hub, through
//! its admin API (an admin token in `JUNCTION_ADMIN_TOKEN`).

use std::process::ExitCode;

use clap::Args;
use junction_engine::bodies::ErasureDone;
use serde_json::json;

use super::remote::Client;
use crate::cli::{Output, Remote};

#[derive(Args, Debug)]
pub struct EraseArgs {
    #[command(flatten)]
    pub remote: Remote,
    /// The identifier the sources' `event.subject` reads (a customer id, an email). Only its
    /// SHA-256 is kept.
    #[arg(long)]
    pub subject: String,
    /// Why, for the audit log (a ticket, a request reference).
    #[arg(long)]
    pub reason: String,
}

pub async fn run(args: EraseArgs) -> ExitCode {
    let c = Client::new(&args.remote);
    let body = json!({ "subject": args.subject, "reason": args.reason });
    let answer = c
        .call(reqwest::Method::POST, "/api/v1/erasures", Some(body))
        .await
        .and_then(|v| {
            serde_json::from_value::<ErasureDone>(v)
                .map_err(|e| format!("the hub answered in a shape this CLI does not read ({e})"))
        });
    match answer {
        Ok(done) => {
            match args.remote.output {
                Output::Json => println!("{}", json!(done)),
                Output::Table => {
                    let e = done.erased;
                    println!(
                        "erased subject {}: {} events, {} deliveries, {} attempts, {} entities, {} rejected samples, {} drift records, {} calls",
                        done.subject_hash, e.events, e.deliveries, e.attempts, e.entities, e.rejected, e.drift, e.calls
                    );
                }
            }
            ExitCode::SUCCESS
        }
        Err(e) => {
            eprintln!("error: {e}");
            ExitCode::from(1)
        }
    }
}
