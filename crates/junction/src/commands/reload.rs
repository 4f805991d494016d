//! Config changes without restarts. `serve` reloads its config when the file (or a model file it
//! reads) changes, on SIGHUP, on `POST /api/v1/reload` and `junction reload`. The new config is
//! checked as fully as at start-up first (every located error, the start-up refusals, the vault's
//! secrets); if it fails, the running config stays, the errors are logged, shown on the
//! dashboard and raised as the `config_reload_failed` alert. If it passes, new work uses it:
//! sources and routes for the next request, mappings and models for the next delivery attempt
//! and call; work already in flight finishes under the config it started with, and nothing
//! queued is touched (queues live in the store).
//!
//! Alert rules and sinks apply at the next evaluation; a destination's URL, method, headers,
//! timeout, signing, retry policy and statuses at its next attempt; a connector whose section
//! changed (or a new one) is rebuilt and takes the next call, with a fresh quota, circuit and
//! cache — the unchanged ones keep theirs. What a running process cannot swap — the listener,
//! the store, telemetry, delivery settings, a destination's concurrency and circuit policy — is
//! listed in the outcome as needing a restart. Adding or
//! removing a destination refuses the reload: routes would send events where no dispatcher runs.

use std::path::PathBuf;
use std::sync::Arc;
use std::time::{Duration, SystemTime};

use junction_config::{Config, Overrides};
use junction_server::reload::ReloadOutcome;
use junction_server::AppState;

use crate::cli::ConfigArgs;

/// Sections whose changes apply at once.
const LIVE: &[&str] = &["sources", "routes", "mappings", "models", "alerts"];

/// A destination's settings that only a restart changes (its dispatcher is sized and its
/// circuit built when the process starts).
const DESTINATION_FIXED: &[&str] = &["concurrency", "circuit"];

/// How often the watched files are looked at.
const WATCH_EVERY: Duration = Duration::from_secs(1);

/// Editors write a file in steps: a change is read once it has been still this long.
const SETTLE: Duration = Duration::from_millis(300);

pub struct Reloader {
    args: ConfigArgs,
    overrides: Overrides,
    state: AppState,
    engine: Arc<junction_engine::Engine>,
    hub: Arc<junction_connect::Hub>,
    /// One reload at a time.
    running: tokio::sync::Mutex<()>,
}

impl Reloader {
    pub fn new(
        args: ConfigArgs,
        overrides: Overrides,
        state: AppState,
        engine: Arc<junction_engine::Engine>,
        hub: Arc<junction_connect::Hub>,
    ) -> Arc<Self> {
        Arc::new(Self {
            args,
            overrides,
            state,
            engine,
            hub,
            running: tokio::sync::Mutex::new(()),
        })
    }

    /// Reads, checks and (if it passes) applies the config; records and returns the outcome.
    pub async fn reload(&self, trigger: &str) -> ReloadOutcome {
        let _one = self.running.lock().await;
        let mut outcome = ReloadOutcome {
            at_ms: junction_core::time::now_ms(),
            trigger: trigger.to_owned(),
            applied: false,
            errors: Vec::new(),
            restart_needed: Vec::new(),
            changed: Vec::new(),
        };
        match self.check().await {
            Err(errors) => outcome.errors = errors,
            Ok(new) => {
                let old = self.state.config();
                // Connectors are built before anything changes: one that cannot run refuses
                // the whole reload.
                match compare(&old, &new).and_then(|c| Ok((c, self.hub.prepare(&new)?))) {
                    Err(e) => outcome.errors.push(e),
                    Ok(((mut changed, restart_needed), connectors)) => {
                        let new = Arc::new(new);
                        changed.extend(connectors.changed.iter().cloned());
                        self.engine.ingest.reload(&new);
                        self.engine.dispatcher.reload(&new);
                        self.hub.commit(connectors);
                        self.hub.reload(&new);
                        self.state.set_config(new);
                        outcome.applied = true;
                        outcome.changed = changed;
                        outcome.restart_needed = restart_needed;
                    }
                }
            }
        }
        if outcome.applied {
            tracing::info!(
                trigger,
                changed = ?outcome.changed,
                restart_needed = ?outcome.restart_needed,
                "config reloaded"
            );
        } else {
            for e in &outcome.errors {
                tracing::error!(trigger, error = %e, "config reload refused; the running config stays");
            }
        }
        self.state.reload.record(outcome.clone());
        outcome
    }

    /// Everything `serve` checks at start-up, on the file as it is now.
    async fn check(&self) -> Result<Config, Vec<String>> {
        let (args, overrides) = (self.args.clone(), self.overrides.clone());
        let loaded =
            tokio::task::spawn_blocking(move || super::serve::load(&args, &overrides)).await;
        let config = match loaded {
            Ok(Ok(c)) => c,
            Ok(Err(e)) => return Err(e.lines().map(str::to_owned).collect()),
            Err(e) => return Err(vec![format!("the config could not be read: {e}")]),
        };
        let refused = super::preflight::problems(&config);
        if !refused.is_empty() {
            return Err(refused.into_iter().map(|r| r.text).collect());
        }
        super::secrets::bind(&config, &self.state.store)
            .await
            .map_err(|e| vec![e])?;
        Ok(config)
    }

    /// Reloads when a watched file changes (the config file and the model files it reads),
    /// and on SIGHUP, until the process stops.
    pub fn watch(self: &Arc<Self>) {
        let me = self.clone();
        tokio::spawn(async move {
            let mut seen = me.fingerprint();
            loop {
                tokio::time::sleep(WATCH_EVERY).await;
                let now = me.fingerprint();
                if now == seen {
                    continue;
                }
                // Wait until the file stands still, then read it once.
                let mut settled = now;
                loop {
                    tokio::time::sleep(SETTLE).await;
                    let again = me.fingerprint();
                    if again == settled {
                        break;
                    }
                    settled = again;
                }
                seen = settled;
                me.reload("file").await;
            }
        });
        #[cfg(unix)]
        {
            let me = self.clone();
            tokio::spawn(async move {
                use tokio::signal::unix::{signal, SignalKind};
                let Ok(mut hup) = signal(SignalKind::hangup()) else {
                    tracing::warn!(
                        "cannot listen for SIGHUP; reload with `junction reload` instead"
                    );
                    return;
                };
                while hup.recv().await.is_some() {
                    me.reload("signal").await;
                }
            });
        }
    }

    /// The watched files' modification times and sizes.
    fn fingerprint(&self) -> Vec<(PathBuf, Option<(SystemTime, u64)>)> {
        let config = self.state.config();
        let Some(path) = config.path.clone() else {
            return Vec::new();
        };
        std::iter::once(path)
            .chain(config.files.iter().cloned())
            .map(|p| {
                let meta = std::fs::metadata(&p)
                    .ok()
                    .and_then(|m| Some((m.modified().ok()?, m.len())));
                (p, meta)
            })
            .collect()
    }
}

/// `POST /api/v1/reload` (reload now; 200 with the outcome when applied, 422 with its errors when
/// refused) and `GET /api/v1/reload` (the last outcome), behind the admin guard.
pub fn routes(reloader: Arc<Reloader>) -> axum::Router<AppState> {
    use axum::routing::get;
    axum::Router::new()
        .route("/api/v1/reload", get(last).post(run))
        .layer(axum::Extension(reloader))
}

/// The last reload's outcome (`null` before the first).
#[utoipa::path(get, path = "/api/v1/reload", tag = "admin", summary = "The last config reload's outcome",
    responses(
        (status = 200, description = "The last reload's outcome, or null before the first", body = Option<ReloadOutcome>),
        (status = 401, description = "No or unknown token", body = junction_server::errors::ErrorBody),
        (status = 403, description = "The token's role is too low", body = junction_server::errors::ErrorBody)),
    security(("bearer" = [])))]
pub async fn last(
    axum::extract::State(state): axum::extract::State<AppState>,
) -> axum::Json<Option<ReloadOutcome>> {
    axum::Json(state.reload.last())
}

/// Reads, checks and applies the config file now.
#[utoipa::path(post, path = "/api/v1/reload", tag = "admin", summary = "Reload the config file now",
    responses(
        (status = 200, description = "The new config runs", body = ReloadOutcome),
        (status = 422, description = "The new config was refused; the running one stays", body = ReloadOutcome),
        (status = 401, description = "No or unknown token", body = junction_server::errors::ErrorBody),
        (status = 403, description = "The token's role is too low", body = junction_server::errors::ErrorBody),
        (status = 503, description = "The store is unavailable (the audit log could not be written)", body = junction_server::errors::ErrorBody)),
    security(("bearer" = [])))]
pub async fn run(
    axum::Extension(reloader): axum::Extension<Arc<Reloader>>,
) -> (http::StatusCode, axum::Json<ReloadOutcome>) {
    let outcome = reloader.reload("api").await;
    let status = if outcome.applied {
        http::StatusCode::OK
    } else {
        http::StatusCode::UNPROCESSABLE_ENTITY
    };
    (status, axum::Json(outcome))
}

/// `junction reload`: asks the hub at `--server` to reload, prints what happened.
pub async fn cli(remote: crate::cli::Remote) -> std::process::ExitCode {
    let client = super::remote::Client::new(&remote);
    let (status, body) = match client.answer(reqwest::Method::POST, "/api/v1/reload").await {
        Ok(a) => a,
        Err(e) => {
            eprintln!("error: {e}");
            return std::process::ExitCode::from(super::EXIT_FAILURE);
        }
    };
    if remote.output == crate::cli::Output::Json {
        println!("{body}");
    }
    let outcome = || serde_json::from_value::<ReloadOutcome>(body.clone()).ok();
    match (status.as_u16(), outcome()) {
        (200, Some(o)) => {
            if remote.output == crate::cli::Output::Table {
                println!("reloaded: {}", o.changed.join(", "));
                if !o.restart_needed.is_empty() {
                    println!(
                        "needs a restart to take effect: {}",
                        o.restart_needed.join(", ")
                    );
                }
            }
            std::process::ExitCode::SUCCESS
        }
        (422, Some(o)) => {
            eprintln!("error: the hub refused the new config and keeps running the previous one:");
            for e in &o.errors {
                eprintln!("{e}");
            }
            std::process::ExitCode::from(super::EXIT_CONFIG)
        }
        _ => {
            let e = &body["error"];
            eprintln!(
                "error: the hub answered {status}: {}",
                e["message"].as_str().unwrap_or("no details")
            );
            if let Some(h) = e["hint"].as_str() {
                eprintln!("hint: {h}");
            }
            std::process::ExitCode::from(super::EXIT_FAILURE)
        }
    }
}

/// The reload routes' part of the OpenAPI document.
#[derive(utoipa::OpenApi)]
#[openapi(paths(last, run), components(schemas(ReloadOutcome)))]
pub struct ApiDoc;

/// What changed from `old` to `new`: the sections that now run, and those that need a restart.
/// Refuses a change of the set of destinations.
fn compare(old: &Config, new: &Config) -> Result<(Vec<String>, Vec<String>), String> {
    let (a, b) = (&old.document, &new.document);
    let old_dest: Vec<&String> = old.flows.destinations.keys().collect();
    let new_dest: Vec<&String> = new.flows.destinations.keys().collect();
    if old_dest != new_dest {
        let added: Vec<&str> = new_dest
            .iter()
            .filter(|d| !old_dest.contains(d))
            .map(|d| d.as_str())
            .collect();
        let removed: Vec<&str> = old_dest
            .iter()
            .filter(|d| !new_dest.contains(d))
            .map(|d| d.as_str())
            .collect();
        return Err(format!(
            "destinations added ({}) or removed ({}): restart the hub to apply this config (its dispatchers start with the process)",
            if added.is_empty() { "none".into() } else { added.join(", ") },
            if removed.is_empty() { "none".into() } else { removed.join(", ") }
        ));
    }
    let mut sections: Vec<&str> =
        a.0.as_object()
            .into_iter()
            .chain(b.0.as_object())
            .flat_map(|m| m.keys().map(String::as_str))
            .collect();
    sections.sort_unstable();
    sections.dedup();
    let (mut changed, mut restart) = (Vec::new(), Vec::new());
    for s in sections {
        if s == "connectors" {
            // Rebuilt connector by connector by `Hub::prepare`, which names them.
            continue;
        }
        if s == "destinations" {
            for name in &new_dest {
                let (x, y) = (&a.section(s)[name.as_str()], &b.section(s)[name.as_str()]);
                for key in DESTINATION_FIXED {
                    if x[*key] != y[*key] {
                        restart.push(format!("destinations.{name}.{key}"));
                    }
                }
                let live = |v: &serde_json::Value| {
                    let mut v = v.clone();
                    if let Some(m) = v.as_object_mut() {
                        m.retain(|k, _| !DESTINATION_FIXED.contains(&k.as_str()));
                    }
                    v
                };
                if live(x) != live(y) {
                    changed.push(format!("destinations.{name}"));
                }
            }
        } else if a.section(s) != b.section(s) {
            if LIVE.contains(&s) {
                changed.push(s.to_owned());
            } else {
                restart.push(s.to_owned());
            }
        }
    }
    // Model files may change with the config file untouched: their models are reloaded anyway.
    if old.files != new.files || changed.is_empty() {
        changed.push("models (files re-read)".into());
    }
    Ok((changed, restart))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn config(yaml: &str) -> Config {
        junction_config::load_str(yaml, "junction.yaml", &Overrides::default(), &|_| None).unwrap()
    }

    const BASE: &str = "sources:\n  s: { kind: webhook, verify: { preset: none } }\ndestinations:\n  d: { url: 'http://127.0.0.1:9/x' }\nroutes:\n  r: { from: s, to: [d] }\n";

    #[test]
    fn live_sections_apply_and_the_rest_waits_for_a_restart() {
        let old = config(BASE);
        let new = config(&format!("{BASE}server:\n  body_limit: 2MiB\n").replace(
            "routes:\n  r: { from: s, to: [d] }",
            "routes:\n  r: { from: s, to: [d], types: ['a.*'] }",
        ));
        let (changed, restart) = compare(&old, &new).unwrap();
        assert!(changed.contains(&"routes".to_owned()), "{changed:?}");
        assert_eq!(restart, vec!["server".to_owned()]);
    }

    #[test]
    fn a_destination_added_or_removed_refuses_the_reload() {
        let old = config(BASE);
        let new = config(&BASE.replace(
            "  d: { url: 'http://127.0.0.1:9/x' }\n",
            "  d: { url: 'http://127.0.0.1:9/x' }\n  e: { url: 'http://127.0.0.1:9/y' }\n",
        ));
        let e = compare(&old, &new).unwrap_err();
        assert!(e.contains("added (e)") && e.contains("restart"), "{e}");
    }

    #[test]
    fn a_destinations_url_and_retries_apply_but_its_concurrency_waits_for_a_restart() {
        let old = config(BASE);
        let new = config(&BASE.replace(
            "'http://127.0.0.1:9/x' }",
            "'http://127.0.0.1:9/z', retry: { attempts: 3 } }",
        ));
        let (changed, restart) = compare(&old, &new).unwrap();
        assert!(restart.is_empty(), "{restart:?}");
        assert!(
            changed.contains(&"destinations.d".to_owned()),
            "{changed:?}"
        );
        let new = config(&BASE.replace(
            "'http://127.0.0.1:9/x' }",
            "'http://127.0.0.1:9/x', concurrency: 4 }",
        ));
        let (changed, restart) = compare(&old, &new).unwrap();
        assert_eq!(restart, vec!["destinations.d.concurrency".to_owned()]);
        assert!(
            !changed.contains(&"destinations.d".to_owned()),
            "{changed:?}"
        );
    }

    #[test]
    fn alert_rules_apply_without_a_restart() {
        let old = config(BASE);
        let new = config(&format!("{BASE}alerts:\n  evaluate_every: 5s\n"));
        let (changed, restart) = compare(&old, &new).unwrap();
        assert!(changed.contains(&"alerts".to_owned()), "{changed:?}");
        assert!(restart.is_empty(), "{restart:?}");
    }
}
