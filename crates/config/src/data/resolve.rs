//! Raw → resolved for `models:` and `mappings:`: schemas read and compiled, programs compiled
//! (an error points at its line in the file), tests checked for shape. Routes and destinations
//! that name a mapping or a model are checked against these in [`check_links`].

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use serde_json::Value;

use crate::check::located;
use crate::data::raw::{RawLimits, RawMapping, RawModel};
use crate::data::resolved::{
    Expect, Limits, Mapping, MappingDef, MappingTest, Model, ModelRef, Shapes,
};
use crate::error::{nearest, ConfigError};
use crate::flow::resolved::Flows;
use crate::yaml::{push, Document};

pub(crate) fn resolve_shapes(doc: &Document, errs: &mut Vec<ConfigError>) -> Shapes {
    let mut shapes = Shapes::default();
    if let Some(models) = section(doc, "models", errs) {
        for (key, value) in models {
            let ptr = push("/models", key);
            if let Some((id, model)) = model(doc, &ptr, key, value, errs) {
                shapes.models.insert(id, Arc::new(model));
            }
        }
    }
    let raw: BTreeMap<String, RawMapping> = crate::check::entries(doc, "mappings", errs);
    for (name, raw) in raw {
        let ptr = push("/mappings", &name);
        if let Some(m) = mapping(doc, &ptr, &name, raw, &shapes.models, errs) {
            shapes.mappings.insert(name, m);
        }
    }
    shapes
}

fn section<'d>(
    doc: &'d Document,
    name: &str,
    errs: &mut Vec<ConfigError>,
) -> Option<&'d serde_json::Map<String, Value>> {
    let value = doc.value.get(name)?;
    match value {
        Value::Object(m) => Some(m),
        Value::Null => None,
        _ => {
            errs.push(doc.error_at(
                &push("", name),
                format!("`{name}` must be a mapping of names to entries"),
                None,
            ));
            None
        }
    }
}

/// The config file's folder: model files and a relative SQLite path are relative to it.
pub(crate) fn base_dir(doc: &Document) -> PathBuf {
    Path::new(&doc.file)
        .parent()
        .map(Path::to_path_buf)
        .unwrap_or_default()
}

fn model(
    doc: &Document,
    ptr: &str,
    key: &str,
    value: &Value,
    errs: &mut Vec<ConfigError>,
) -> Option<(ModelRef, Model)> {
    let id = match ModelRef::parse(key) {
        Ok(id) => id,
        Err(e) => {
            errs.push(doc.error_at_key(ptr, e, None));
            return None;
        }
    };
    let raw: RawModel = located(doc, ptr, value).map_err(|e| errs.push(e)).ok()?;
    let schema = match raw {
        RawModel::Inline(m) => m.schema,
        RawModel::File(file) => {
            let path = base_dir(doc).join(&file);
            doc.files.borrow_mut().push(path.clone());
            let text = match std::fs::read_to_string(&path) {
                Ok(t) => t,
                Err(e) => {
                    errs.push(doc.error_at(
                        ptr,
                        format!("cannot read the schema file {}: {e}", path.display()),
                        Some("paths are relative to the config file's folder".into()),
                    ));
                    return None;
                }
            };
            match serde_json::from_str(&text) {
                Ok(v) => v,
                Err(e) => {
                    errs.push(doc.error_at(
                        ptr,
                        format!("{}: not JSON: {e}", path.display()),
                        Some("a model is a JSON Schema document (draft 2020-12)".into()),
                    ));
                    return None;
                }
            }
        }
    };
    match Model::compile(id.clone(), &schema) {
        Ok(m) => Some((id, m)),
        Err(e) => {
            errs.push(doc.error_at(
                ptr,
                e,
                Some("see https://json-schema.org/draft/2020-12 for the keywords".into()),
            ));
            None
        }
    }
}

fn mapping(
    doc: &Document,
    ptr: &str,
    name: &str,
    raw: RawMapping,
    models: &BTreeMap<ModelRef, Arc<Model>>,
    errs: &mut Vec<ConfigError>,
) -> Option<MappingDef> {
    let before = errs.len();
    let program = program(doc, &push(ptr, "jq"), &raw.jq, errs);
    let to = raw
        .to
        .as_deref()
        .and_then(|to| model_ref(doc, &push(ptr, "to"), to, models, errs));
    let limits = limits(doc, &push(ptr, "limits"), &raw.limits, errs);
    let mut tests = Vec::new();
    for (i, t) in raw.tests.into_iter().enumerate() {
        let tptr = push(&push(ptr, "tests"), &i.to_string());
        let expect = match (t.output, t.error) {
            (Some(out), None) => Expect::Output(out),
            (None, Some(err)) => Expect::Error(err),
            _ => {
                errs.push(doc.error_at(
                    &tptr,
                    "a test gives either `output` or `error`",
                    Some("output: the exact result expected; error: text the failure must contain".into()),
                ));
                continue;
            }
        };
        tests.push(MappingTest {
            name: t.name.unwrap_or_else(|| format!("test {}", i + 1)),
            input: t.input,
            expect,
            at: doc.error_at(&tptr, "", None).location(),
        });
    }
    if errs.len() > before {
        return None;
    }
    Some(MappingDef {
        mapping: Mapping::new(name, program?, limits?),
        to,
        tests,
        at: doc.error_at_key(ptr, "", None).location(),
    })
}

/// Compiles a jq program written at `ptr`; an error names its line in the file.
fn program(
    doc: &Document,
    ptr: &str,
    code: &str,
    errs: &mut Vec<ConfigError>,
) -> Option<junction_transform::Program> {
    match junction_transform::Program::compile(code) {
        Ok(p) => Some(p),
        Err(e) => {
            // An error "at the end" is put on the program's last line.
            let line = e.line.min(code.trim_end().lines().count().max(1));
            let mut err = doc.error_at(
                ptr,
                format!(
                    "{} (line {line}, column {} of the program)",
                    e.message, e.column
                ),
                Some("mappings are jq programs; see `junction test` to run their examples".into()),
            );
            // The scalar's place is where its text starts (for `jq: |`, the line after the key).
            if let (Some(l), Some(c)) = (err.line, err.col) {
                err.line = Some(l + line - 1);
                err.col = Some(c + e.column - 1);
            }
            errs.push(err);
            None
        }
    }
}

fn model_ref(
    doc: &Document,
    ptr: &str,
    text: &str,
    models: &BTreeMap<ModelRef, Arc<Model>>,
    errs: &mut Vec<ConfigError>,
) -> Option<Arc<Model>> {
    let id = match ModelRef::parse(text) {
        Ok(id) => id,
        Err(e) => {
            errs.push(doc.error_at(ptr, e, None));
            return None;
        }
    };
    match models.get(&id) {
        Some(m) => Some(m.clone()),
        None => {
            let names: Vec<String> = models.keys().map(|k| k.to_string()).collect();
            let hint = match nearest(text, names.iter().map(String::as_str)) {
                _ if names.is_empty() => "there are no models; declare it under `models:`".into(),
                Some(n) => format!("did you mean `{n}`? models: {}", names.join(", ")),
                None => format!("models: {}", names.join(", ")),
            };
            errs.push(doc.error_at(ptr, format!("no model `{id}`"), Some(hint)));
            None
        }
    }
}

fn limits(
    doc: &Document,
    ptr: &str,
    raw: &RawLimits,
    errs: &mut Vec<ConfigError>,
) -> Option<Limits> {
    let d = Limits::default();
    let l = Limits {
        time: raw.time.as_ref().map_or(d.time, |t| t.0),
        steps: raw.steps.unwrap_or(d.steps),
        output: raw.output.as_ref().map_or(d.output, |b| b.0 as usize),
        depth: raw.depth.unwrap_or(d.depth),
        memory: raw.memory.as_ref().map_or(d.memory, |b| b.0 as usize),
    };
    let mut ok = true;
    if l.time.is_zero() || l.time > std::time::Duration::from_secs(10) {
        errs.push(doc.error_at(
            &push(ptr, "time"),
            "time must be above 0 and at most 10s",
            Some("one event's mapping runs on a shared thread; keep it short".into()),
        ));
        ok = false;
    }
    if l.memory < 1 << 20 || l.memory > 1 << 30 {
        errs.push(doc.error_at(
            &push(ptr, "memory"),
            "memory must be 1MiB to 1GiB",
            Some("the default is 64MiB".into()),
        ));
        ok = false;
    }
    if l.depth == 0 || l.depth > 512 {
        errs.push(doc.error_at(&push(ptr, "depth"), "depth must be 1 to 512", None));
        ok = false;
    }
    if l.output == 0 || l.output > 64 << 20 {
        errs.push(doc.error_at(
            &push(ptr, "output"),
            "output must be above 0 and at most 64MiB",
            None,
        ));
        ok = false;
    }
    ok.then_some(l)
}

/// Routes name existing mappings; destinations name existing models; a route's mapping produces
/// the model each of its destinations requires.
pub(crate) fn check_links(
    doc: &Document,
    flows: &Flows,
    connectors: &BTreeMap<String, crate::connect::resolved::Connector>,
    shapes: &Shapes,
    errs: &mut Vec<ConfigError>,
) {
    for (cname, c) in connectors {
        let cptr = push("/connectors", cname);
        let versioned = c.versions.iter().flat_map(|v| {
            v.list.iter().flat_map(|(vname, version)| {
                let vptr = push(&push(&cptr, "versions"), vname);
                version
                    .operations
                    .iter()
                    .map(move |(o, op)| (push(&push(&vptr, "operations"), o), op))
            })
        });
        let ops = c
            .operations
            .iter()
            .map(|(o, op)| (push(&push(&cptr, "operations"), o), op))
            .chain(versioned);
        for (optr, op) in ops {
            for (at, m) in [("request", &op.request), ("response", &op.response)] {
                let mptr = push(&optr, at);
                if let Some(map) = &m.map {
                    if !shapes.mappings.contains_key(map) {
                        errs.push(doc.error_at(
                            &push(&mptr, "map"),
                            format!("no mapping named `{map}`"),
                            Some("declare it under `mappings:`".into()),
                        ));
                    }
                }
                if let Some(model) = &m.model {
                    if !shapes.models.contains_key(model) {
                        errs.push(doc.error_at(
                            &push(&mptr, "model"),
                            format!("no model `{model}`"),
                            Some("declare it under `models:`".into()),
                        ));
                    }
                }
            }
        }
    }
    for (name, d) in &flows.destinations {
        if let crate::flow::resolved::Target::Operation {
            connector,
            operation,
            connection,
        } = &d.target
        {
            let ptr = push("/destinations", name);
            match connectors.get(connector) {
                None => errs.push(doc.error_at(
                    &push(&ptr, "connector"),
                    format!("no connector `{connector}`"),
                    Some("declare it under `connectors:`".into()),
                )),
                Some(c) if c.soap.is_some() => errs.push(doc.error_at(
                    &push(&ptr, "connector"),
                    format!("`{connector}` is a SOAP connector; deliveries go to REST operations"),
                    None,
                )),
                Some(c) if !c.operations.contains_key(operation) => {
                    let known: Vec<&str> = c.operations.keys().map(String::as_str).collect();
                    errs.push(doc.error_at(
                        &push(&ptr, "operation"),
                        format!("connector `{connector}` has no operation `{operation}`"),
                        Some(format!("operations: {}", known.join(", "))),
                    ))
                }
                Some(c)
                    if connection != "default"
                        && !matches!(
                            c.auth,
                            Some(crate::connect::resolved::OutboundAuth::OAuth2 {
                                grant: crate::connect::resolved::Grant::RefreshToken,
                                ..
                            })
                        ) =>
                {
                    errs.push(doc.error_at(
                        &push(&ptr, "connection"),
                        format!("connector `{connector}` has only the `default` connection"),
                        Some("connections other than `default` are for `oauth2_refresh_token` connectors".into()),
                    ))
                }
                Some(c) if c.operations[operation].paginate.is_some() => errs.push(doc.error_at(
                    &push(&ptr, "operation"),
                    format!("`{operation}` lists records (it is paginated); a delivery needs an operation that acts on one"),
                    None,
                )),
                Some(_) => {}
            }
        }
    }
    let names: Vec<&str> = shapes.mappings.keys().map(String::as_str).collect();
    let arms = flows.routes.iter().flat_map(|(name, route)| {
        let rptr = push("/routes", name);
        let candidate = route.rollout.as_ref().map(|r| {
            (
                push(&push(&rptr, "rollout"), "candidate"),
                r.candidate.clone(),
            )
        });
        route
            .map
            .clone()
            .map(|m| (push(&rptr, "map"), m))
            .into_iter()
            .chain(candidate)
            .map(move |(ptr, map)| (route, ptr, map))
    });
    for (route, ptr, map) in arms {
        let map = &map;
        let Some(def) = shapes.mappings.get(map) else {
            let hint = match nearest(map, names.iter().copied()) {
                _ if names.is_empty() => {
                    "there are no mappings; declare it under `mappings:`".into()
                }
                Some(n) => format!("did you mean `{n}`? mappings: {}", names.join(", ")),
                None => format!("mappings: {}", names.join(", ")),
            };
            errs.push(doc.error_at(&ptr, format!("no mapping named `{map}`"), Some(hint)));
            continue;
        };
        for dest in &route.to {
            let Some(want) = flows.destinations.get(dest).and_then(|d| d.model.as_ref()) else {
                continue;
            };
            if !shapes.models.contains_key(want) {
                continue; // reported at the destination
            }
            let gives = def.to.as_ref().map(|m| &m.id);
            if gives != Some(want) {
                errs.push(doc.error_at(
                    &ptr,
                    format!(
                        "destination `{dest}` requires {want}, but mapping `{map}` produces {}",
                        gives.map_or("no declared model".to_string(), |g| g.to_string())
                    ),
                    Some(format!(
                        "set `to: {want}` on the mapping, or map with one that does"
                    )),
                ));
            }
        }
    }
    for (name, dest) in &flows.destinations {
        if let Some(want) = &dest.model {
            if !shapes.models.contains_key(want) {
                errs.push(doc.error_at(
                    &push(&push("/destinations", name), "model"),
                    format!("no model `{want}`"),
                    Some("declare it under `models:`".into()),
                ));
            }
        }
    }
}
