//! `junction events list | show | deliveries | rejected`: events and deliveries stored by a
//! running hub, newest first, and the requests it refused.

use std::process::ExitCode;

use reqwest::Method;
use serde_json::Value;

use super::remote::Client;
use crate::cli::{EventsCommand, Output};

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
                .call(Method::GET, &format!("/api/v1/events?{query}"), None)
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
                .call(Method::GET, &format!("/api/v1/deliveries?{query}"), None)
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
                .call(Method::GET, &format!("/api/v1/rejected?{query}"), None)
                .await
                .map(|v| print_rejected(&v, remote.output))
        }
        EventsCommand::Show { remote, id } => Client::new(&remote)
            .call(Method::GET, &format!("/api/v1/events/{id}"), None)
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
fn more(v: &Value) {
    if let Some(before) = v["next_before"].as_i64() {
        println!("(more: add --before {before})");
    }
}

fn print_deliveries(v: &Value, output: Output) {
    if output == Output::Json {
        println!("{v}");
        return;
    }
    let items = v["deliveries"].as_array().cloned().unwrap_or_default();
    if items.is_empty() {
        println!("no deliveries match");
        return;
    }
    use super::table::{Align::*, Table};
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
    for d in &items {
        t.row(vec![
            d["id"].to_string(),
            super::secrets::ms_to_rfc3339(d["created_at"].as_i64().unwrap_or(0)),
            d["route"].as_str().unwrap_or("").to_owned(),
            d["destination"].as_str().unwrap_or("").to_owned(),
            d["state"].as_str().unwrap_or("").to_owned(),
            d["attempts"].to_string(),
            d["last_status"]
                .as_i64()
                .map(|s| s.to_string())
                .unwrap_or_default(),
            d["dead_reason"]
                .as_str()
                .or(d["last_error"].as_str())
                .unwrap_or("")
                .to_owned(),
        ]);
    }
    t.print();
    more(v);
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

fn print_list(v: &Value, output: Output) {
    if output == Output::Json {
        println!("{v}");
        return;
    }
    let events = v["events"].as_array().cloned().unwrap_or_default();
    if events.is_empty() {
        println!("no events match");
        return;
    }
    use super::table::{Align::*, Table};
    let mut t = Table::new(&[
        ("ID", Right),
        ("RECEIVED (UTC)", Left),
        ("SOURCE", Left),
        ("TYPE", Left),
        ("KEY", Left),
        ("SEQ", Right),
        ("PROVIDER ID", Left),
    ]);
    for e in &events {
        let s = |k: &str| e[k].as_str().unwrap_or("").to_owned();
        t.row(vec![
            e["id"].to_string(),
            super::secrets::ms_to_rfc3339(e["received_at_ms"].as_i64().unwrap_or(0)),
            s("source"),
            s("type"),
            s("key"),
            e["sequence"]
                .as_i64()
                .map(|s| s.to_string())
                .unwrap_or_default(),
            s("event_id"),
        ]);
    }
    t.print();
    more(v);
}

fn print_one(v: &Value, output: Output) {
    if output == Output::Json {
        println!("{v}");
        return;
    }
    println!(
        "event {} ({}) from {}, type {}, key {}, received {}",
        v["id"],
        v["event_id"].as_str().unwrap_or(""),
        v["source"].as_str().unwrap_or(""),
        v["type"].as_str().unwrap_or(""),
        v["key"].as_str().unwrap_or("-"),
        super::secrets::ms_to_rfc3339(v["received_at_ms"].as_i64().unwrap_or(0))
    );
    if let Some(tp) = v["traceparent"].as_str() {
        println!("  trace {tp}");
    }
    for (name, value) in v["headers"].as_object().into_iter().flatten() {
        println!("  header {name}: {}", value.as_str().unwrap_or(""));
    }
    for d in v["deliveries"].as_array().into_iter().flatten() {
        println!(
            "  delivery {:>6} → {:<16} {:<12} attempts {}{}",
            d["id"],
            d["destination"].as_str().unwrap_or(""),
            d["state"].as_str().unwrap_or(""),
            d["attempts"],
            d["dead_reason"]
                .as_str()
                .map(|r| format!(" ({r})"))
                .unwrap_or_default()
        );
    }
    println!(
        "{}",
        serde_json::to_string_pretty(&v["payload"]).unwrap_or_default()
    );
}

fn print_rejected(v: &Value, output: Output) {
    if output == Output::Json {
        println!("{v}");
        return;
    }
    let items = v["items"].as_array().cloned().unwrap_or_default();
    if items.is_empty() {
        println!("no refused requests");
        return;
    }
    use super::table::{Align::*, Table};
    let mut t = Table::new(&[
        ("AT (UTC)", Left),
        ("SOURCE", Left),
        ("STATUS", Right),
        ("REASON", Left),
        ("SIZE", Right),
        ("DETAIL", Left),
    ]);
    for r in &items {
        let s = |k: &str| r[k].as_str().unwrap_or("").to_owned();
        let source = s("source");
        t.row(vec![
            super::secrets::ms_to_rfc3339(r["at_ms"].as_i64().unwrap_or(0)),
            if source.is_empty() {
                "(none)".into()
            } else {
                source
            },
            r["status"].to_string(),
            s("reason"),
            r["size"].to_string(),
            s("detail"),
        ]);
    }
    t.print();
}
