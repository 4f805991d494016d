//! `junction events list | show | deliveries | rejected`: events and deliveries stored by a
//! running hub, newest first, and the requests it refused.

use std::process::ExitCode;

use clap::Subcommand;
use junction_engine::bodies::DeliveryList;
use junction_engine::http::RejectedList;
use junction_server::admin::bodies::{EventDetail, EventList};

use super::remote::Client;
use super::table::{Align::*, Table};
use crate::cli::{Output, Remote};

#[derive(Subcommand, Debug)]
pub enum EventsCommand {
    /// Newest first, narrowed by source, type, entity key or the provider's event id.
    List {
        #[command(flatten)]
        remote: Remote,
        #[arg(long)]
        source: Option<String>,
        #[arg(long = "type")]
        event_type: Option<String>,
        #[arg(long)]
        key: Option<String>,
        /// The provider's event id.
        #[arg(long)]
        id: Option<String>,
        /// The next page: events older than this stored id (printed under a full page).
        #[arg(long)]
        before: Option<i64>,
        #[arg(long, default_value_t = 50)]
        limit: usize,
    },
    /// Deliveries, newest first, narrowed by state, destination, route, source and time.
    Deliveries {
        #[command(flatten)]
        remote: Remote,
        /// pending, delivered, dead, quarantined, stale or discarded.
        #[arg(long)]
        state: Option<String>,
        #[arg(long)]
        destination: Option<String>,
        #[arg(long)]
        route: Option<String>,
        /// The event's source.
        #[arg(long)]
        source: Option<String>,
        /// Created at or after: RFC 3339 time or Unix ms.
        #[arg(long)]
        since: Option<String>,
        /// Created before: RFC 3339 time or Unix ms.
        #[arg(long)]
        until: Option<String>,
        /// The next page: deliveries older than this id (printed under a full page).
        #[arg(long)]
        before: Option<i64>,
        #[arg(long, default_value_t = 50)]
        limit: usize,
    },
    /// Inbound requests the hub refused (bad signature, stale timestamp, too large, unknown
    /// source, bad body), newest first: why, when, masked headers and a body excerpt.
    Rejected {
        #[command(flatten)]
        remote: Remote,
        /// Only those sent to this source.
        #[arg(long)]
        source: Option<String>,
        #[arg(long, default_value_t = 20)]
        limit: usize,
    },
    /// One event: its payload and every delivery of it.
    Show {
        #[command(flatten)]
        remote: Remote,
        /// The stored event id (the first column of `events list`).
        id: i64,
    },
}

pub async fn run(cmd: EventsCommand) -> ExitCode {
    let result = match cmd {
        EventsCommand::List {
            remote,
            source,
            event_type,
            key,
            id,
            before,
            limit,
        } => {
            let query = query(
                limit,
                before,
                [
                    ("source", source),
                    ("type", event_type),
                    ("key", key),
                    ("id", id),
                ],
            );
            Client::new(&remote)
                .get(&format!("/api/v1/events?{query}"))
                .await
                .map(|v| print_list(&v, remote.output))
        }
        EventsCommand::Deliveries {
            remote,
            state,
            destination,
            route,
            source,
            since,
            until,
            before,
            limit,
        } => {
            let query = query(
                limit,
                before,
                [
                    ("state", state),
                    ("destination", destination),
                    ("route", route),
                    ("source", source),
                    ("since", since),
                    ("until", until),
                ],
            );
            Client::new(&remote)
                .get(&format!("/api/v1/deliveries?{query}"))
                .await
                .map(|v| print_deliveries(&v, remote.output))
        }
        EventsCommand::Rejected {
            remote,
            source,
            limit,
        } => {
            let mut query = format!("limit={limit}");
            if let Some(s) = source {
                query.push_str(&format!("&source={}", encode(&s)));
            }
            Client::new(&remote)
                .get(&format!("/api/v1/rejected?{query}"))
                .await
                .map(|v| print_rejected(&v, remote.output))
        }
        EventsCommand::Show { remote, id } => Client::new(&remote)
            .get(&format!("/api/v1/events/{id}"))
            .await
            .map(|v| print_one(&v, remote.output)),
    };
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("error: {e}");
            ExitCode::from(super::EXIT_FAILURE)
        }
    }
}

/// `limit=…&before=…&name=value…` for the values given.
fn query<const N: usize>(
    limit: usize,
    before: Option<i64>,
    values: [(&str, Option<String>); N],
) -> String {
    let mut q: Vec<(&str, String)> = vec![("limit", limit.to_string())];
    if let Some(b) = before {
        q.push(("before", b.to_string()));
    }
    for (k, v) in values {
        if let Some(v) = v {
            q.push((k, v));
        }
    }
    q.iter()
        .map(|(k, v)| format!("{k}={}", encode(v)))
        .collect::<Vec<_>>()
        .join("&")
}

/// The line under a full page: how to get the next one.
fn more(next_before: Option<i64>) {
    if let Some(before) = next_before {
        println!("(more: add --before {before})");
    }
}

/// The answer as JSON, for `-o json`.
fn json<T: serde::Serialize>(v: &T) {
    println!("{}", serde_json::to_string(v).unwrap_or_default());
}

fn time(ms: i64) -> String {
    super::secrets::ms_to_rfc3339(ms)
}

fn print_deliveries(v: &DeliveryList, output: Output) {
    if output == Output::Json {
        return json(v);
    }
    if v.deliveries.is_empty() {
        println!("no deliveries match");
        return;
    }
    let mut t = Table::new(&[
        ("ID", Right),
        ("CREATED (UTC)", Left),
        ("ROUTE", Left),
        ("DESTINATION", Left),
        ("STATE", Left),
        ("ATTEMPTS", Right),
        ("STATUS", Right),
        ("REASON / LAST ERROR", Left),
    ]);
    for d in &v.deliveries {
        t.row(vec![
            d.id.to_string(),
            time(d.created_at),
            d.route.clone(),
            d.destination.clone(),
            d.state.clone(),
            d.attempts.to_string(),
            d.last_status.map(|s| s.to_string()).unwrap_or_default(),
            d.dead_reason
                .clone()
                .or(d.last_error.clone())
                .unwrap_or_default(),
        ]);
    }
    t.print();
    more(v.next_before);
}

fn encode(s: &str) -> String {
    s.bytes()
        .map(|b| match b {
            b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'-' | b'_' | b'.' | b'~' => {
                (b as char).to_string()
            }
            _ => format!("%{b:02X}"),
        })
        .collect()
}

fn print_list(v: &EventList, output: Output) {
    if output == Output::Json {
        return json(v);
    }
    if v.events.is_empty() {
        println!("no events match");
        return;
    }
    let mut t = Table::new(&[
        ("ID", Right),
        ("RECEIVED (UTC)", Left),
        ("SOURCE", Left),
        ("TYPE", Left),
        ("KEY", Left),
        ("SEQ", Right),
        ("PROVIDER ID", Left),
    ]);
    for e in &v.events {
        t.row(vec![
            e.id.to_string(),
            time(e.received_at_ms),
            e.source.clone(),
            e.event_type.clone(),
            e.key.clone().unwrap_or_default(),
            e.sequence.map(|s| s.to_string()).unwrap_or_default(),
            e.event_id.clone(),
        ]);
    }
    t.print();
    more(v.next_before);
}

fn print_one(v: &EventDetail, output: Output) {
    if output == Output::Json {
        return json(v);
    }
    let e = &v.event;
    println!(
        "event {} ({}) from {}, type {}, key {}, received {}",
        e.id,
        e.event_id,
        e.source,
        e.event_type,
        e.key.as_deref().unwrap_or("-"),
        time(e.received_at_ms)
    );
    if let Some(tp) = &v.traceparent {
        println!("  trace {tp}");
    }
    for (name, value) in &v.headers {
        println!("  header {name}: {value}");
    }
    for d in &v.deliveries {
        println!(
            "  delivery {:>6} → {:<16} {:<12} attempts {}{}",
            d.id,
            d.destination,
            d.state,
            d.attempts,
            d.dead_reason
                .as_deref()
                .map(|r| format!(" ({r})"))
                .unwrap_or_default()
        );
    }
    println!(
        "{}",
        serde_json::to_string_pretty(&v.payload).unwrap_or_default()
    );
}

fn print_rejected(v: &RejectedList, output: Output) {
    if output == Output::Json {
        return json(v);
    }
    if v.items.is_empty() {
        println!("no refused requests");
        return;
    }
    let mut t = Table::new(&[
        ("AT (UTC)", Left),
        ("SOURCE", Left),
        ("STATUS", Right),
        ("REASON", Left),
        ("SIZE", Right),
        ("DETAIL", Left),
    ]);
    for r in &v.items {
        t.row(vec![
            time(r.at_ms),
            if r.source.is_empty() {
                "(none)".into()
            } else {
                r.source.clone()
            },
            r.status.to_string(),
            r.reason.clone(),
            r.size.to_string(),
            r.detail.clone(),
        ]);
    }
    t.print();
}
