//! `junction jobs list | show | run | pause | resume`: a running hub's jobs, through its admin
//! API (`Authorization: Bearer $JUNCTION_ADMIN_TOKEN` when the hub requires it).

use std::process::ExitCode;

use clap::Subcommand;
use junction_engine::jobs::http::{JobDetail, JobItem, JobList, RunItem, RunStarted};

use super::remote::Client;
use crate::cli::{Output, Remote};

#[derive(Subcommand, Debug)]
pub enum JobsCommand {
    /// Every job: schedule, paused, next run, last run.
    List {
        #[command(flatten)]
        remote: Remote,
    },
    /// One job and its latest runs.
    Show {
        #[command(flatten)]
        remote: Remote,
        name: String,
    },
    /// Run a job now (paused or not).
    Run {
        #[command(flatten)]
        remote: Remote,
        name: String,
        /// Let a sync's full pass delete more entities than its source's `max_percent` (after
        /// checking that the vendor really no longer lists them).
        #[arg(long)]
        confirm_deletions: bool,
    },
    /// Pause a job: no scheduled run starts until it is resumed, on every hub.
    Pause {
        #[command(flatten)]
        remote: Remote,
        name: String,
    },
    /// Resume a paused job.
    Resume {
        #[command(flatten)]
        remote: Remote,
        name: String,
    },
}

pub async fn run(cmd: JobsCommand) -> ExitCode {
    let result = match cmd {
        JobsCommand::List { remote } => list(&remote).await,
        JobsCommand::Show { remote, name } => show(&remote, &name).await,
        JobsCommand::Run {
            remote,
            name,
            confirm_deletions,
        } => start(&remote, &name, confirm_deletions).await,
        JobsCommand::Pause { remote, name } => switch(&remote, &name, "pause").await,
        JobsCommand::Resume { remote, name } => switch(&remote, &name, "resume").await,
    };
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("error: {e}");
            ExitCode::from(super::EXIT_FAILURE)
        }
    }
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

fn last(r: &Option<RunItem>) -> String {
    match r {
        None => "never".into(),
        Some(r) => format!(
            "{} {} ({})",
            r.state,
            time(Some(r.started_at_ms)),
            r.trigger
        ),
    }
}

/// A job name as one path segment.
fn segment(name: &str) -> String {
    name.bytes()
        .map(|b| match b {
            b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'-' | b'_' | b'.' => (b as char).to_string(),
            _ => format!("%{b:02X}"),
        })
        .collect()
}

async fn list(remote: &Remote) -> Result<(), String> {
    let c = Client::new(remote);
    let list: JobList = c.get("/api/v1/jobs").await?;
    match remote.output {
        Output::Json => println!(
            "{}",
            serde_json::to_string_pretty(&list).unwrap_or_default()
        ),
        Output::Table if list.jobs.is_empty() => println!("no jobs: the config declares none"),
        Output::Table => {
            use super::table::{Align::*, Table};
            let mut t = Table::new(&[
                ("JOB", Left),
                ("KIND", Left),
                ("SCHEDULE", Left),
                ("STATE", Left),
                ("NEXT RUN", Left),
                ("LAST RUN", Left),
            ]);
            for j in &list.jobs {
                t.row(vec![
                    j.name.clone(),
                    j.kind.clone(),
                    j.schedule.clone(),
                    if j.paused { "paused" } else { "active" }.into(),
                    if j.paused {
                        "-".into()
                    } else {
                        time(j.next_run_at_ms)
                    },
                    last(&j.last_run),
                ]);
            }
            t.print();
        }
    }
    Ok(())
}

async fn show(remote: &Remote, name: &str) -> Result<(), String> {
    let c = Client::new(remote);
    let d: JobDetail = c.get(&format!("/api/v1/jobs/{}", segment(name))).await?;
    if remote.output == Output::Json {
        println!("{}", serde_json::to_string_pretty(&d).unwrap_or_default());
        return Ok(());
    }
    let j = &d.job;
    println!("job         {} ({})", j.name, j.kind);
    println!(
        "schedule    {}{}",
        j.schedule,
        if j.paused { " — paused" } else { "" }
    );
    println!("next run    {}", time(j.next_run_at_ms));
    if let Some(last) = d.runs.iter().find(|r| r.state != "running") {
        if let Some(calls) = last.result["calls"].as_array() {
            println!("last run    #{} {}:", last.id, last.state);
            for c in calls {
                println!(
                    "  {:<24} {:>4}  {}",
                    c["operation"].as_str().unwrap_or("-"),
                    c["status"],
                    c["error"]["message"].as_str().unwrap_or("ok")
                );
            }
        }
    }
    println!("runs (newest first):");
    for r in &d.runs {
        println!(
            "  #{:<6} {:<9} {}  {:<8} {}",
            r.id,
            r.state,
            time(Some(r.started_at_ms)),
            r.trigger,
            r.error.as_deref().unwrap_or("")
        );
    }
    Ok(())
}

async fn start(remote: &Remote, name: &str, confirm: bool) -> Result<(), String> {
    let c = Client::new(remote);
    let query = if confirm {
        "?confirm_deletions=true"
    } else {
        ""
    };
    let v = c
        .call(
            reqwest::Method::POST,
            &format!("/api/v1/jobs/{}/run{query}", segment(name)),
            None,
        )
        .await?;
    let started: RunStarted = serde_json::from_value(v).map_err(|e| e.to_string())?;
    match remote.output {
        Output::Json => println!(
            "{}",
            serde_json::to_string_pretty(&started).unwrap_or_default()
        ),
        Output::Table => println!(
            "run {} of {} started; follow it with `junction jobs show {}`",
            started.run_id, started.job, started.job
        ),
    }
    Ok(())
}

async fn switch(remote: &Remote, name: &str, verb: &str) -> Result<(), String> {
    let c = Client::new(remote);
    let v = c
        .call(
            reqwest::Method::POST,
            &format!("/api/v1/jobs/{}/{verb}", segment(name)),
            None,
        )
        .await?;
    let j: JobItem = serde_json::from_value(v).map_err(|e| e.to_string())?;
    match remote.output {
        Output::Json => println!("{}", serde_json::to_string_pretty(&j).unwrap_or_default()),
        Output::Table => println!(
            "{} is {}",
            j.name,
            if j.paused { "paused" } else { "active" }
        ),
    }
    Ok(())
}
