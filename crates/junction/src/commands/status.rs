//! `junction status`: a running hub at a glance — readiness, firing alerts, connectors,
//! destinations and sources over the last five minutes. Exit 1 when the hub is unreachable or
//! not ready.

use std::process::ExitCode;

use reqwest::Method;
use serde_json::{json, Value};

use super::remote::Client;
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
        .map_err(|e| format!("cannot reach the hub at {}: {e}", remote.server))?;
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
        for a in &firing {
            println!(
                "  {:<8} {:<24} {}",
                a["severity"].as_str().unwrap_or(""),
                a["rule"].as_str().unwrap_or(""),
                a["message"].as_str().unwrap_or("")
            );
        }
    }
    let num = |v: &Value| v.as_u64().map_or("-".to_owned(), |n| n.to_string());
    let ms = |v: &Value| v.as_f64().map_or("-".to_owned(), |n| format!("{n:.0}ms"));
    println!(
        "\nconnectors (last 5 min)\n  {:<16} {:<10} {:>7} {:>7} {:>8}",
        "NAME", "CIRCUIT", "CALLS", "ERRORS", "P95"
    );
    for k in connectors["connectors"].as_array().into_iter().flatten() {
        let name = k["name"].as_str().unwrap_or("");
        let t = totals("connector", name);
        println!(
            "  {:<16} {:<10} {:>7} {:>7} {:>8}",
            name,
            k["circuit"].as_str().unwrap_or(""),
            num(&t["calls"]),
            num(&t["errors"]),
            ms(&t["p95_ms"])
        );
    }
    println!(
        "\ndestinations (last 5 min)\n  {:<16} {:<10} {:>9} {:>7} {:>8} {:>6}",
        "NAME", "STATE", "DELIVERED", "FAILED", "PENDING", "DEAD"
    );
    for d in destinations["items"].as_array().into_iter().flatten() {
        let name = d["name"].as_str().unwrap_or("");
        let t = totals("destination", name);
        let state = if d["disabled"] == true {
            "disabled"
        } else {
            d["circuit"].as_str().unwrap_or("")
        };
        println!(
            "  {:<16} {:<10} {:>9} {:>7} {:>8} {:>6}",
            name,
            state,
            num(&t["delivered"]),
            num(&t["failed"]),
            num(&d["pending"]),
            num(&d["dead"])
        );
    }
    let sources: Vec<&Value> = stats["series"]
        .as_array()
        .into_iter()
        .flatten()
        .filter(|s| s["kind"] == "source")
        .collect();
    if !sources.is_empty() {
        println!(
            "\nsources (last 5 min)\n  {:<16} {:>9} {:>10} {:>9}",
            "NAME", "RECEIVED", "DUPLICATES", "REJECTED"
        );
        for s in sources {
            let t = &s["totals"];
            println!(
                "  {:<16} {:>9} {:>10} {:>9}",
                s["name"].as_str().unwrap_or(""),
                num(&t["received"]),
                num(&t["duplicates"]),
                num(&t["rejected"])
            );
        }
    }
    Ok(is_ready)
}
