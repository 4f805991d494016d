//! `junction status`: a running hub at a glance — readiness, firing alerts, connectors,
//! destinations and sources over the last five minutes. Exit 1 when the hub is unreachable or
//! not ready.

use std::process::ExitCode;

use serde_json::{json, Value};

use junction_connect::admin::ConnectorList;
use junction_engine::bodies::DestinationList;
use junction_server::admin::bodies::{AlertItem, AlertList, Stats, StatsSeries};

use super::remote::Client;
use super::table::{Align::*, Table};
use crate::cli::{Output, Remote};

pub async fn run(remote: Remote) -> ExitCode {
    match status(&remote).await {
        Ok(true) => ExitCode::SUCCESS,
        Ok(false) => ExitCode::from(super::EXIT_FAILURE),
        Err(e) => {
            eprintln!("error: {e}");
            ExitCode::from(super::EXIT_FAILURE)
        }
    }
}

async fn status(remote: &Remote) -> Result<bool, String> {
    let c = Client::new(remote);
    let ready = reqwest::get(format!("{}/readyz", remote.server.trim_end_matches('/')))
        .await
        .map_err(|e| super::remote::unreachable(&remote.server, &e))?;
    let is_ready = ready.status().is_success();
    let ready: Value = ready.json().await.unwrap_or(Value::Null);
    let alerts: AlertList = c.get("/api/v1/alerts").await?;
    let connectors: ConnectorList = c.get("/api/v1/connectors").await?;
    let destinations: DestinationList = c.get("/api/v1/destinations").await?;
    let stats: Stats = c.get("/api/v1/stats?minutes=5").await?;
    let series = |kind: &str, name: &str| {
        stats
            .series
            .iter()
            .find(|s| s.kind == kind && s.name == name)
    };
    let firing: Vec<&AlertItem> = alerts
        .alerts
        .iter()
        .filter(|a| a.state == "firing")
        .collect();
    if remote.output == Output::Json {
        let report = json!({
            "ready": ready, "alerts_firing": firing, "connectors": connectors.connectors,
            "destinations": destinations.items, "last_5_minutes": stats.series,
        });
        println!("{report}");
        return Ok(is_ready);
    }
    println!(
        "hub {}: {} ({} store)",
        remote.server,
        ready["status"].as_str().unwrap_or("unknown"),
        ready["backend"].as_str().unwrap_or("?")
    );
    if firing.is_empty() {
        println!("alerts: none firing");
    } else {
        println!("alerts: {} firing", firing.len());
        let mut t =
            Table::new(&[("SEVERITY", Left), ("RULE", Left), ("MESSAGE", Left)]).indented("  ");
        for a in &firing {
            t.row(vec![a.severity.clone(), a.rule.clone(), a.message.clone()]);
        }
        t.print();
    }
    // A counter of a series' totals; `-` when the series has no history yet.
    let num = |s: Option<&StatsSeries>, counter: &str| {
        s.and_then(|s| s.totals.get(counter))
            .map_or("-".to_owned(), |n| n.to_string())
    };
    let p95 = |s: Option<&StatsSeries>| {
        s.and_then(|s| s.p95_ms)
            .map_or("-".to_owned(), |n| format!("{n:.0}ms"))
    };
    println!("\nconnectors (last 5 min)");
    let mut table = Table::new(&[
        ("NAME", Left),
        ("STATE", Left),
        ("CALLS", Right),
        ("ERRORS", Right),
        ("P95", Right),
    ])
    .indented("  ");
    for k in &connectors.connectors {
        let s = series("connector", &k.name);
        table.row(vec![
            k.name.clone(),
            circuit_words(&k.circuit),
            num(s, "calls"),
            num(s, "errors"),
            p95(s),
        ]);
    }
    table.print();
    println!("\ndestinations (last 5 min)");
    let mut table = Table::new(&[
        ("NAME", Left),
        ("STATE", Left),
        ("DELIVERED", Right),
        ("FAILED", Right),
        ("PENDING", Right),
        ("DEAD", Right),
    ])
    .indented("  ");
    for d in &destinations.items {
        let s = series("destination", &d.name);
        let state = if d.disabled {
            "disabled".to_owned()
        } else {
            circuit_words(&d.circuit)
        };
        table.row(vec![
            d.name.clone(),
            state,
            num(s, "delivered"),
            num(s, "failed"),
            d.pending.to_string(),
            d.dead.to_string(),
        ]);
    }
    table.print();
    let sources: Vec<&StatsSeries> = stats.series.iter().filter(|s| s.kind == "source").collect();
    if !sources.is_empty() {
        println!("\nsources (last 5 min)");
        let mut table = Table::new(&[
            ("NAME", Left),
            ("RECEIVED", Right),
            ("DUPLICATES", Right),
            ("REJECTED", Right),
        ])
        .indented("  ");
        for s in sources {
            table.row(vec![
                s.name.clone(),
                num(Some(s), "received"),
                num(Some(s), "duplicates"),
                num(Some(s), "rejected"),
            ]);
        }
        table.print();
    }
    Ok(is_ready)
}

/// A circuit's state in the words an operator reads right ("open" reads as "available").
fn circuit_words(state: &str) -> String {
    match state {
        "closed" => "healthy".into(),
        "open" => "failing: paused until a probe succeeds".into(),
        "half_open" | "half-open" => "probing".into(),
        other => other.into(),
    }
}
