//! Expansion: every `connectors.NAME` and `sources.NAME` with `template:` becomes the template's
//! part with the entry merged over it, before the config is resolved.

use std::collections::BTreeMap;
use std::path::Path;

use serde_json::Value;

use super::merge::{from_template, merge};
use super::RawTemplate;
use crate::error::ConfigError;
use crate::yaml::{push, Document};

/// The sections whose entries may name a template, with the template's part each takes.
const PARTS: [(&str, &str); 2] = [("connectors", "connector"), ("sources", "source")];

/// Which template added a model or mapping, so two templates that define one name differently
/// are told apart from a config that overrides it.
type Supplied = BTreeMap<(&'static str, String), (String, Value)>;

/// Expands every entry that names a template; problems go to `errs`.
pub(crate) fn expand(doc: &mut Document, errs: &mut Vec<ConfigError>) {
    let mut supplied = Supplied::new();
    for (section, part) in PARTS {
        let names: Vec<String> = doc
            .value
            .get(section)
            .and_then(Value::as_object)
            .map(|m| {
                m.iter()
                    .filter(|(_, v)| v.get("template").is_some())
                    .map(|(k, _)| k.clone())
                    .collect()
            })
            .unwrap_or_default();
        for name in names {
            let before = errs.len();
            one(doc, section, part, &name, &mut supplied, errs);
            if errs.len() > before {
                // Checked no further: its fields would be reported missing, which they are not.
                if let Some(m) = doc.value[section].as_object_mut() {
                    m.remove(&name);
                }
            }
        }
    }
}

fn one(
    doc: &mut Document,
    section: &str,
    part: &'static str,
    name: &str,
    supplied: &mut Supplied,
    errs: &mut Vec<ConfigError>,
) {
    let ptr = push(&push("", section), name);
    let entry = doc.value[section][name].clone();
    let tptr = push(&ptr, "template");
    let Some(reference) = entry["template"].as_str() else {
        errs.push(doc.error_at(
            &tptr,
            "`template` is the name of a built-in template or a template file",
            Some("e.g. `template: hubspot` or `template: ./templates/acme.yaml`".into()),
        ));
        return;
    };
    let base = Path::new(&doc.file).parent().unwrap_or(Path::new(""));
    let (file, text) = match super::library::load(reference, base) {
        Ok(t) => t,
        Err((message, hint)) => {
            errs.push(doc.error_at(&tptr, message, Some(hint)));
            return;
        }
    };
    if super::library::is_path(reference) {
        doc.files.borrow_mut().push(base.join(reference));
    }
    let Some(vars) = given_vars(doc, &ptr, &entry, errs) else {
        return;
    };
    // Read once without values, for the declared variables and their defaults.
    let meta = match crate::yaml::parse(&text, &file, &|_| None, true) {
        Ok(m) => m,
        Err(e) => return errs.extend(e.0),
    };
    let raw: RawTemplate = match crate::check::whole(&meta) {
        Ok(r) => r,
        Err(e) => return errs.extend(e.0),
    };
    let before = errs.len();
    let declared: Vec<&str> = raw.vars.keys().map(String::as_str).collect();
    for var in vars.keys().filter(|v| !raw.vars.contains_key(*v)) {
        errs.push(doc.error_at_key(
            &push(&push(&ptr, "vars"), var),
            format!("template `{reference}` has no variable `{var}`"),
            Some(crate::check::suggest(var, &declared).replace("valid keys here", "its variables")),
        ));
    }
    let has_part = match part {
        "connector" => raw.connector.is_some(),
        _ => raw.source.is_some(),
    };
    if !has_part {
        errs.push(doc.error_at(
            &tptr,
            format!("template `{reference}` has no `{part}:` part"),
            Some(format!("it cannot be used under `{section}`")),
        ));
        return;
    }
    let lookup = |var: &str| {
        vars.get(var)
            .cloned()
            .or_else(|| raw.vars.get(var).and_then(|v| v.default.clone()))
    };
    let tdoc = match crate::yaml::parse(&text, &file, &lookup, true) {
        Ok(t) => t,
        Err(e) => return errs.extend(e.0),
    };
    for w in &tdoc.warnings {
        let Some(var) = w.message.split('`').nth(1) else {
            continue;
        };
        let in_part = w.field == part || w.field.starts_with(&format!("{part}."));
        match raw.vars.get(var) {
            None => errs.push(ConfigError {
                message: format!("`${{{var}}}` is not one of the template's `vars:`"),
                hint: Some(format!(
                    "declare it: `vars: {{ {var}: {{ description: … }} }}`"
                )),
                ..w.clone()
            }),
            Some(v) if in_part => errs.push(
                doc.error_at(
                    &ptr,
                    format!(
                        "template `{reference}` needs `vars.{var}`: {}",
                        v.description
                    ),
                    v.example
                        .as_ref()
                        .map(|e| format!("e.g. `vars: {{ {var}: {e} }}`")),
                ),
            ),
            Some(_) => {}
        }
    }
    if errs.len() > before {
        return;
    }
    let template_part = tdoc.value[part].clone();
    let keep = |at: &str| from_template(&template_part, &entry, &at[ptr.len()..]);
    doc.graft(&tdoc, &format!("/{part}"), &ptr, &keep);
    doc.value[section][name] = merge(template_part.clone(), &entry);
    for kind in ["models", "mappings"] {
        add_shared(doc, &tdoc, kind, reference, supplied, errs);
    }
}

/// The entry's `vars:`, each value as text.
fn given_vars(
    doc: &Document,
    ptr: &str,
    entry: &Value,
    errs: &mut Vec<ConfigError>,
) -> Option<BTreeMap<String, String>> {
    let mut out = BTreeMap::new();
    match entry.get("vars") {
        None | Some(Value::Null) => {}
        Some(Value::Object(m)) => {
            for (k, v) in m {
                let text = match v {
                    Value::String(s) => s.clone(),
                    Value::Number(n) => n.to_string(),
                    Value::Bool(b) => b.to_string(),
                    _ => {
                        errs.push(doc.error_at(
                            &push(&push(ptr, "vars"), k),
                            "a template variable is a text, a number or a boolean",
                            None,
                        ));
                        return None;
                    }
                };
                out.insert(k.clone(), text);
            }
        }
        Some(_) => {
            errs.push(doc.error_at(
                &push(ptr, "vars"),
                "`vars` maps the template's variables to values",
                Some("e.g. `vars: { subdomain: acme }`".into()),
            ));
            return None;
        }
    }
    Some(out)
}

/// The template's models (or mappings) join the config's, unless the config defines the name;
/// two templates defining one name differently is an error.
fn add_shared(
    doc: &mut Document,
    tdoc: &Document,
    kind: &'static str,
    reference: &str,
    supplied: &mut Supplied,
    errs: &mut Vec<ConfigError>,
) {
    let Some(items) = tdoc.value.get(kind).and_then(Value::as_object) else {
        return;
    };
    if !doc.value.get(kind).is_some_and(Value::is_object) {
        doc.value[kind] = Value::Object(Default::default());
    }
    for (name, value) in items {
        let at = push(&push("", kind), name);
        match supplied.get(&(kind, name.clone())) {
            Some((other, v)) if v != value => {
                errs.push(tdoc.error_at(
                    &at,
                    format!(
                        "templates `{other}` and `{reference}` define `{kind}.{name}` differently"
                    ),
                    Some(format!(
                        "define `{kind}.{name}` in the config to choose one"
                    )),
                ));
                continue;
            }
            Some(_) => continue,
            None => {}
        }
        if doc.value[kind].get(name).is_some() {
            continue;
        }
        doc.value[kind][name] = value.clone();
        doc.graft(tdoc, &at, &at, &|_| true);
        supplied.insert((kind, name.clone()), (reference.to_owned(), value.clone()));
    }
}
