//! `junction status`: a running hub at a glance — readiness, firing alerts, connectors,
//! destinations and sources over the last five minutes. Exit 1 when the hub is unreachable or
//! not ready.

use std::process::ExitCode;

use reqwest::Method;
use serde_json::{json, Value};

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
    let alerts = c.call(Method::GET, "/api/v1/alerts", None).await?;
    let connectors = c.call(Method::GET, "/api/v1/connectors", None).await?;
    let destinations = c.call(Method::GET, "/api/v1/destinations", None).await?;
    let stats = c.call(Method::GET, "/api/v1/stats?minutes=5", None).await?;
    let totals = |kind: &str, name: &str| -> Value {
        stats["series"]
            .as_array()
            .into_iter()
            .flatten()
            .find(|s| s["kind"] == kind && s["name"] == name)
            .map_or(Value::Null, |s| {
                let mut t = s["totals"].clone();
                t["p95_ms"] = s["p95_ms"].clone();
                t
            })
    };
    let firing: Vec<&Value> = alerts["alerts"]
        .as_array()
        .into_iter()
        .flatten()
        .filter(|a| a["state"] == "firing")
        .collect();
    if remote.output == Output::Json {
        let report = json!({
            "ready": ready, "alerts_firing": firing, "connectors": connectors["connectors"],
            "destinations": destinations["items"], "last_5_minutes": stats["series"],
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
            let s = |k: &str| a[k].as_str().unwrap_or("").to_owned();
            t.row(vec![s("severity"), s("rule"), s("message")]);
        }
        t.print();
    }
    let num = |v: &Value| v.as_u64().map_or("-".to_owned(), |n| n.to_string());
    let ms = |v: &Value| v.as_f64().map_or("-".to_owned(), |n| format!("{n:.0}ms"));
    println!("\nconnectors (last 5 min)");
    let mut table = Table::new(&[
        ("NAME", Left),
        ("STATE", Left),
        ("CALLS", Right),
        ("ERRORS", Right),
        ("P95", Right),
    ])
    .indented("  ");
    for k in connectors["connectors"].as_array().into_iter().flatten() {
        let name = k["name"].as_str().unwrap_or("");
        let t = totals("connector", name);
        table.row(vec![
            name.to_owned(),
            circuit_words(k["circuit"].as_str().unwrap_or("")),
            num(&t["calls"]),
            num(&t["errors"]),
            ms(&t["p95_ms"]),
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
    for d in destinations["items"].as_array().into_iter().flatten() {
        let name = d["name"].as_str().unwrap_or("");
        let t = totals("destination", name);
        let state = if d["disabled"] == true {
            "disabled".to_owned()
        } else {
            circuit_words(d["circuit"].as_str().unwrap_or(""))
        };
        table.row(vec![
            name.to_owned(),
            state,
            num(&t["delivered"]),
            num(&t["failed"]),
            num(&d["pending"]),
            num(&d["dead"]),
        ]);
    }
    table.print();
    let sources: Vec<&Value> = stats["series"]
        .as_array()
        .into_iter()
        .flatten()
        .filter(|s| s["kind"] == "source")
        .collect();
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
            let t = &s["totals"];
            table.row(vec![
                s["name"].as_str().unwrap_or("").to_owned(),
                num(&t["received"]),
                num(&t["duplicates"]),
                num(&t["rejected"]),
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
