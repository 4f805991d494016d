//! `junction dlq list | show | replay`: dead letters on a running hub, through its admin API
//! (`Authorization: Bearer $JUNCTION_ADMIN_TOKEN` when the hub requires it).

use std::process::ExitCode;

use clap::{Args, Subcommand};
use junction_engine::bodies::{DeadItem, DeadList, DeliveryDetail, Discarded, Replayed};
use serde_json::json;

use super::remote::Client;
use crate::cli::{Output, Remote};

/// Which dead letters: every flag narrows.
#[derive(Args, Debug, Clone, Default)]
pub struct DlqFilter {
    #[arg(long)]
    pub source: Option<String>,
    #[arg(long)]
    pub destination: Option<String>,
    #[arg(long)]
    pub route: Option<String>,
    #[arg(long)]
    pub event_type: Option<String>,
    /// Dead-lettered at or after: RFC 3339 or Unix ms.
    #[arg(long)]
    pub since: Option<String>,
    /// Dead-lettered before: RFC 3339 or Unix ms.
    #[arg(long)]
    pub until: Option<String>,
    /// The reason or last error contains this text.
    #[arg(long)]
    pub error: Option<String>,
    /// Quarantined deliveries (a mapping failed, or the body broke the destination's model)
    /// instead of dead letters. Replay them once the mapping or model is fixed.
    #[arg(long)]
    pub quarantined: bool,
}

#[derive(Subcommand, Debug)]
pub enum DlqCommand {
    /// List dead letters, oldest first.
    List {
        #[command(flatten)]
        remote: Remote,
        #[command(flatten)]
        filter: DlqFilter,
        /// Most rows to show.
        #[arg(long, default_value_t = 50)]
        limit: usize,
    },
    /// Show one delivery with its attempts.
    Show {
        #[command(flatten)]
        remote: Remote,
        id: i64,
    },
    /// Replay dead letters: the given ids, or every one matching the filter (`--all` for all).
    Replay {
        #[command(flatten)]
        remote: Remote,
        #[command(flatten)]
        filter: DlqFilter,
        /// Delivery ids.
        ids: Vec<i64>,
        /// Replay every dead letter when no filter or id is given.
        #[arg(long)]
        all: bool,
    },
    /// Discard dead letters: they are never sent, and no longer block their `fifo` key. The
    /// given ids, or every one matching the filter (`--all` for all).
    Discard {
        #[command(flatten)]
        remote: Remote,
        #[command(flatten)]
        filter: DlqFilter,
        /// Delivery ids.
        ids: Vec<i64>,
        /// Discard every dead letter when no filter or id is given.
        #[arg(long)]
        all: bool,
    },
}

/// Dead letters replayed per request.
const REPLAY_BATCH: usize = 500;

fn query(filter: &DlqFilter) -> Vec<(&'static str, String)> {
    let mut q = Vec::new();
    let fields = [
        ("source", &filter.source),
        ("destination", &filter.destination),
        ("route", &filter.route),
        ("event_type", &filter.event_type),
        ("since", &filter.since),
        ("until", &filter.until),
        ("error", &filter.error),
    ];
    for (k, v) in fields {
        if let Some(v) = v {
            q.push((k, v.clone()));
        }
    }
    q
}

fn encode(q: &[(&str, String)]) -> String {
    q.iter()
        .map(|(k, v)| {
            let v: String = v
                .bytes()
                .map(|b| match b {
                    b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'-' | b'_' | b'.' | b'~' => {
                        (b as char).to_string()
                    }
                    _ => format!("%{b:02X}"),
                })
                .collect();
            format!("{k}={v}")
        })
        .collect::<Vec<_>>()
        .join("&")
}

/// The admin API collection the filter reads: dead letters or quarantined deliveries.
fn collection(filter: &DlqFilter) -> &'static str {
    if filter.quarantined {
        "/api/v1/quarantine"
    } else {
        "/api/v1/dead-letters"
    }
}

/// Every dead letter matching the filter (paged).
async fn list_all(c: &Client, filter: &DlqFilter, limit: usize) -> Result<Vec<DeadItem>, String> {
    let mut out = Vec::new();
    let mut after = 0i64;
    while out.len() < limit {
        let mut q = query(filter);
        q.push(("after", after.to_string()));
        q.push(("limit", (limit - out.len()).min(1000).to_string()));
        let page: DeadList = c
            .get(&format!("{}?{}", collection(filter), encode(&q)))
            .await?;
        out.extend(page.items);
        match page.next_after {
            Some(next) => after = next,
            None => break,
        }
    }
    Ok(out)
}

fn time(ms: Option<i64>) -> String {
    ms.map(|ms| {
        humantime::format_rfc3339_seconds(
            std::time::UNIX_EPOCH + std::time::Duration::from_millis(ms.max(0) as u64),
        )
        .to_string()
    })
    .unwrap_or_else(|| "-".into())
}

fn cut(s: &str, n: usize) -> String {
    if s.chars().count() <= n {
        s.to_owned()
    } else {
        format!("{}…", s.chars().take(n - 1).collect::<String>())
    }
}

fn print_table(items: &[DeadItem]) {
    use super::table::{Align::*, Table};
    let mut t = Table::new(&[
        ("ID", Left),
        ("SOURCE", Left),
        ("EVENT", Left),
        ("TYPE", Left),
        ("DESTINATION", Left),
        ("TRIES", Right),
        ("STATUS", Right),
        ("DEAD AT", Left),
        ("REASON", Left),
    ]);
    for d in items {
        let x = &d.delivery;
        t.row(vec![
            x.id.to_string(),
            d.source.clone(),
            d.event_id.clone(),
            d.event_type.clone(),
            x.destination.clone(),
            x.attempts.to_string(),
            x.last_status.map_or("-".into(), |v| v.to_string()),
            time(x.finished_at),
            x.dead_reason.clone().unwrap_or_else(|| "-".into()),
        ]);
    }
    t.print();
}

pub async fn run(cmd: DlqCommand) -> ExitCode {
    let result = match cmd {
        DlqCommand::List {
            remote,
            filter,
            limit,
        } => list(&remote, &filter, limit).await,
        DlqCommand::Show { remote, id } => show(&remote, id).await,
        DlqCommand::Replay {
            remote,
            filter,
            ids,
            all,
        } => act(&remote, &filter, ids, all, "replay").await,
        DlqCommand::Discard {
            remote,
            filter,
            ids,
            all,
        } => act(&remote, &filter, ids, all, "discard").await,
    };
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("error: {e}");
            ExitCode::from(super::EXIT_FAILURE)
        }
    }
}

async fn list(remote: &Remote, filter: &DlqFilter, limit: usize) -> Result<(), String> {
    let c = Client::new(remote);
    let items = list_all(&c, filter, limit).await?;
    match remote.output {
        Output::Json => println!(
            "{}",
            serde_json::to_string_pretty(&items).unwrap_or_default()
        ),
        Output::Table if items.is_empty() => println!("no dead letters match"),
        Output::Table => print_table(&items),
    }
    Ok(())
}

async fn show(remote: &Remote, id: i64) -> Result<(), String> {
    let c = Client::new(remote);
    let d: DeliveryDetail = c.get(&format!("/api/v1/deliveries/{id}")).await?;
    if remote.output == Output::Json {
        println!("{}", serde_json::to_string_pretty(&d).unwrap_or_default());
        return Ok(());
    }
    let x = &d.delivery;
    let or_dash = |v: &Option<String>| v.clone().unwrap_or_else(|| "-".into());
    println!("delivery    {id} ({})", x.state);
    println!(
        "event       {} {} from {} (key {})",
        or_dash(&d.event_id),
        or_dash(&d.event_type),
        or_dash(&d.source),
        or_dash(&d.entity_key)
    );
    println!("route       {} → {}", x.route, x.destination);
    println!("received    {}", time(d.received_at));
    if let Some(r) = &x.dead_reason {
        println!("dead        {} — {r}", time(x.finished_at));
    }
    println!("attempts:");
    for a in &d.history {
        println!(
            "  #{:<3} {}  {:>5} ms  {:<9} status {:<4} {}",
            a.attempt,
            time(Some(a.started_at)),
            a.duration_ms,
            a.outcome,
            a.status.map_or("-".into(), |v| v.to_string()),
            a.error.as_deref().unwrap_or("")
        );
        if let Some(x) = &a.response_excerpt {
            println!("        response: {}", cut(&x.replace('\n', " "), 200));
        }
    }
    Ok(())
}

/// Replays or discards (`verb`) the given deliveries, or every one matching the filter.
async fn act(
    remote: &Remote,
    filter: &DlqFilter,
    ids: Vec<i64>,
    all: bool,
    verb: &'static str,
) -> Result<(), String> {
    let c = Client::new(remote);
    if !ids.is_empty() {
        let mut done = 0;
        for id in &ids {
            c.call(
                reqwest::Method::POST,
                &format!("/api/v1/deliveries/{id}/{verb}"),
                None,
            )
            .await?;
            done += 1;
        }
        report(remote, done, verb);
        return Ok(());
    }
    if query(filter).is_empty() && !all {
        return Err(format!("name dead letters by id or filter (--destination, --source, …), or pass --all to {verb} every one"));
    }
    let matching = list_all(&c, filter, usize::MAX).await?;
    let ids: Vec<i64> = matching.iter().map(|d| d.delivery.id).collect();
    let bar = if remote.output == Output::Table {
        indicatif::ProgressBar::new(ids.len() as u64)
    } else {
        indicatif::ProgressBar::hidden()
    };
    if let Ok(style) = indicatif::ProgressStyle::with_template(&format!(
        "{verb}ing {{bar:40}} {{pos}}/{{len}} ({{per_sec}}, {{eta}} left)"
    )) {
        bar.set_style(style);
    }
    let mut done = 0;
    for chunk in ids.chunks(REPLAY_BATCH) {
        let mut body = json!({ "ids": chunk, "limit": chunk.len() });
        for (k, v) in query(filter) {
            body[k] = json!(v);
        }
        let r = c
            .call(
                reqwest::Method::POST,
                &format!("{}/{verb}", collection(filter)),
                Some(body),
            )
            .await?;
        // `{"replayed": N, "ids": …}` or `{"discarded": N, "ids": …}`.
        let n = match verb {
            "replay" => serde_json::from_value::<Replayed>(r).map(|r| r.replayed),
            _ => serde_json::from_value::<Discarded>(r).map(|r| r.discarded),
        }
        .map_err(|e| format!("the hub's answer to {verb} could not be read: {e}"))?;
        done += n;
        bar.inc(chunk.len() as u64);
    }
    bar.finish_and_clear();
    report(remote, done, verb);
    Ok(())
}

fn report(remote: &Remote, n: usize, verb: &str) {
    match (remote.output, verb) {
        (Output::Json, _) => println!("{}", json!({ format!("{verb}ed"): n })),
        (Output::Table, "replay") => println!("replayed {n} dead letter(s); they are due now"),
        (Output::Table, _) => println!("discarded {n} dead letter(s); they will not be sent"),
    }
}
