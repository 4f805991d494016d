//! Raw → resolved: deserialize each section on its own (so one mistake does not hide the next),
//! then check what serde cannot: addresses, URLs, ranges, sections that are not supported yet.

use serde::de::DeserializeOwned;

use crate::check::{located, suggest};
use crate::error::{ConfigError, ConfigErrors};
use crate::resolved::Config;
use crate::server::raw::{RawServer, RawStore, RawTelemetry};
use crate::server::resolve::{resolve_server, resolve_store, resolve_telemetry};
use crate::yaml::{push, Document};
use crate::Overrides;

pub(crate) fn resolve(
    doc: &Document,
    overrides: &Overrides,
    env: &dyn Fn(&str) -> Option<String>,
) -> Result<Config, ConfigErrors> {
    let sources = crate::secrets::SecretSources {
        env,
        vault: Default::default(),
        lenient: overrides.allow_unresolved,
        warnings: Default::default(),
    };
    let mut errs = Vec::new();
    let schema = crate::json_schema();
    let sections: Vec<&str> = schema["properties"]
        .as_object()
        .map(|p| p.keys().map(String::as_str).collect())
        .unwrap_or_default();
    let root = doc.value.as_object().cloned().unwrap_or_default();
    for key in root.keys() {
        let ptr = push("", key);
        if !sections.contains(&key.as_str()) {
            errs.push(doc.error_at_key(
                &ptr,
                format!("unknown section `{key}`"),
                Some(suggest(key, &sections)),
            ));
        }
    }

    let server: RawServer = section(doc, "server", &mut errs).unwrap_or_default();
    let store: RawStore = section(doc, "store", &mut errs).unwrap_or_default();
    let encrypt_payloads = store.encrypt_payloads;
    let telemetry: RawTelemetry = section(doc, "telemetry", &mut errs).unwrap_or_default();

    let server = resolve_server(doc, server, overrides, &mut errs);
    let store = resolve_store(doc, store, overrides, &mut errs);
    let telemetry = resolve_telemetry(doc, telemetry, overrides, &mut errs);
    let shapes = crate::data::resolve::resolve_shapes(doc, &mut errs);
    let flows = crate::flow::resolve::resolve_flows(doc, &sources, &mut errs);
    let delivery = crate::flow::resolve::resolve_delivery(doc, &mut errs);
    let connectors = crate::connect::resolve::resolve_connectors(doc, &sources, &mut errs);
    crate::connect::resolve::check_unified(doc, &connectors, &mut errs);
    let destinations: Vec<&str> = flows.destinations.keys().map(String::as_str).collect();
    crate::connect::resolve::check_connection_events(doc, &connectors, &destinations, &mut errs);
    crate::data::resolve::check_links(doc, &flows, &connectors, &shapes, &mut errs);
    let pulls = flows
        .sources
        .values()
        .flat_map(|s| {
            let at = |field| push(&push("/sources", &s.name), field);
            [
                s.pull.as_ref().map(|p| (at("sync"), p)),
                s.reconcile.as_ref().map(|p| (at("reconcile"), p)),
            ]
        })
        .flatten()
        .collect();
    crate::flow::pull::check_pulls(doc, pulls, &connectors, &mut errs);
    if server
        .as_ref()
        .is_some_and(|s| s.tls.as_ref().is_none_or(|t| t.client_ca.is_none()))
    {
        for s in flows
            .sources
            .values()
            .filter(|s| !s.client_certificate.is_empty())
        {
            errs.push(doc.error_at(
                &push(&push("/sources", &s.name), "client_certificate"),
                "client certificates are asked for only with server.tls.client_ca",
                Some("add `server.tls.client_ca: FILE` (the authorities that issue the providers' certificates)".into()),
            ));
        }
    }
    let alerts = crate::alerts::resolve::resolve_alerts(doc, &mut errs);
    let jobs = crate::jobs::resolve_jobs(doc, &connectors, &flows, &mut errs);

    match (server, store, telemetry, delivery) {
        (Some(server), Some(store), Some(telemetry), Some(delivery)) if errs.is_empty() => {
            Ok(Config {
                path: None,
                server,
                store,
                encrypt_payloads,
                telemetry,
                flows,
                delivery,
                connectors,
                shapes,
                alerts,
                jobs,
                vault_refs: sources.vault.into_inner(),
                document: crate::resolved::AsRead(doc.value.clone()),
                files: doc.files.borrow().clone(),
                warnings: doc
                    .warnings
                    .iter()
                    .cloned()
                    .chain(sources.warnings.into_inner())
                    .collect(),
            })
        }
        _ => {
            errs.sort_by_key(|e| (e.file != doc.file, e.line, e.col));
            Err(ConfigErrors(errs))
        }
    }
}

/// Deserializes one top-level section, turning serde's error into a located one.
fn section<T: DeserializeOwned>(
    doc: &Document,
    name: &str,
    errs: &mut Vec<ConfigError>,
) -> Option<T> {
    let value = doc.value.get(name)?;
    if value.is_null() {
        return None;
    }
    located(doc, &push("", name), value)
        .map_err(|e| errs.push(e))
        .ok()
}
