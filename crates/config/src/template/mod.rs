//! Provider templates: a connector (and a webhook source) written once for a vendor — base URL,
//! auth, version pin, quotas and the vendor's rate-limit headers, pagination, retries, webhook
//! verification, operations with their models and mappings — and used by name:
//! `connectors: { crm: { template: hubspot, vars: { client_id: … } } }`.
//!
//! A template is YAML (`crates/config/templates/NAME.yaml` for the built-in library, or a file
//! the config names). Expansion happens on the parsed document before anything is resolved:
//! the template's `connector:` (or `source:`) part is the base and the user's entry is merged
//! over it (mappings merge key by key, anything else the user writes replaces the template's;
//! `null` removes a key), its `models:` and `mappings:` join the config's unless the config
//! defines the same name. So every check of a connector applies to a template's parts, and an
//! error in a part the template supplied names the template's file and line.

mod expand;
mod library;
mod merge;

use std::collections::BTreeMap;
use std::path::Path;

use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

use crate::error::{ConfigError, ConfigErrors};

pub(crate) use expand::expand;

/// A template file as written.
#[derive(Debug, Deserialize, Serialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct RawTemplate {
    /// The template's name (`hubspot`): what `template:` names.
    pub template: String,
    /// The vendor and API, for listings (`HubSpot CRM`).
    pub title: String,
    /// The kind of API (`crm`, `payments`, `support`, `chat`, `dev-tools`, `accounting`).
    #[serde(default)]
    pub category: Option<String>,
    /// The vendor's API reference.
    #[serde(default)]
    pub docs: Option<String>,
    /// What a user gives (`${NAME}` in the parts below), each with what it is.
    #[serde(default)]
    pub vars: BTreeMap<String, RawVar>,
    /// The connector: any field of `connectors.NAME`.
    #[serde(default)]
    pub connector: Option<serde_json::Value>,
    /// The webhook source: any field of `sources.NAME`.
    #[serde(default)]
    pub source: Option<serde_json::Value>,
    /// Models the operations and mappings use, added to the config's `models:`.
    #[serde(default)]
    pub models: BTreeMap<String, serde_json::Value>,
    /// Mappings the operations use, added to the config's `mappings:`.
    #[serde(default)]
    pub mappings: BTreeMap<String, serde_json::Value>,
}

/// A template's variable.
#[derive(Debug, Clone, Deserialize, Serialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct RawVar {
    /// What to give, in one line.
    pub description: String,
    /// The value when the user gives none; without one the variable is required.
    #[serde(default)]
    pub default: Option<String>,
    /// A value that shows the form (for `junction connectors new` and lint).
    #[serde(default)]
    pub example: Option<String>,
}

/// What a template offers, for listings and scaffolds.
#[derive(Debug, Clone)]
pub struct TemplateInfo {
    pub name: String,
    pub title: String,
    pub category: Option<String>,
    pub docs: Option<String>,
    /// Where it was read (`templates/hubspot.yaml (built in)` or the file).
    pub file: String,
    pub vars: BTreeMap<String, RawVar>,
    pub has_connector: bool,
    pub has_source: bool,
    /// The connector's operations with their summaries.
    pub operations: Vec<(String, Option<String>)>,
    /// The connector's auth kind.
    pub auth: Option<String>,
}

/// The names of the built-in templates, sorted.
pub fn builtin_names() -> Vec<&'static str> {
    library::BUILTIN.iter().map(|(n, _)| *n).collect()
}

/// A template by name (built in) or path (relative to `base`), described.
pub fn describe(reference: &str, base: &Path) -> Result<TemplateInfo, ConfigErrors> {
    let (file, text) = library::load(reference, base).map_err(|(message, hint)| {
        ConfigErrors::one(ConfigError::whole_file(reference, message, &hint))
    })?;
    let doc = crate::yaml::parse(&text, &file, &|_| None, true)?;
    let raw: RawTemplate = crate::check::whole(&doc)?;
    let operations = raw
        .connector
        .as_ref()
        .and_then(|c| c.get("operations"))
        .and_then(|o| o.as_object())
        .map(|ops| {
            ops.iter()
                .map(|(n, o)| {
                    let summary = o.get("summary").and_then(|s| s.as_str()).map(str::to_owned);
                    (n.clone(), summary)
                })
                .collect()
        })
        .unwrap_or_default();
    let auth = raw
        .connector
        .as_ref()
        .and_then(|c| c.pointer("/auth/kind"))
        .and_then(|k| k.as_str())
        .map(str::to_owned);
    Ok(TemplateInfo {
        name: raw.template,
        title: raw.title,
        category: raw.category,
        docs: raw.docs,
        file,
        vars: raw.vars,
        has_connector: raw.connector.is_some(),
        has_source: raw.source.is_some(),
        operations,
        auth,
    })
}

/// The config entries that use a template: the connector (and the source, when it has one),
/// each variable written with its example or default, required ones marked.
pub fn scaffold(name: &str, info: &TemplateInfo, reference: &str) -> String {
    let mut vars = String::new();
    for (var, v) in &info.vars {
        let (value, note) = match (&v.default, &v.example) {
            (Some(d), _) => (d.clone(), format!("{} (default)", v.description)),
            (None, Some(e)) => (e.clone(), format!("{} (required)", v.description)),
            (None, None) => (String::new(), format!("{} (required)", v.description)),
        };
        vars.push_str(&format!(
            "      {var}: {}   # {note}\n",
            serde_json::Value::String(value)
        ));
    }
    let vars = if vars.is_empty() {
        String::new()
    } else {
        format!("    vars:\n{vars}")
    };
    let mut out = format!(
        "# {} — {}\n",
        info.title,
        info.docs.as_deref().unwrap_or("")
    );
    if info.has_connector {
        out.push_str(&format!(
            "connectors:\n  {name}:\n    template: {reference}\n{vars}    # Override any field of the template here, e.g. quotas: [ 5/s ]\n"
        ));
    }
    if info.has_source {
        out.push_str(&format!(
            "sources:\n  {name}:\n    template: {reference}\n{vars}"
        ));
    }
    out
}

/// Checks a template file the way `junction check` checks a config: it is expanded into a
/// config of its own (its variables set to their examples) and resolved; every error names
/// the template's file and line.
pub fn lint(path: &Path) -> Result<(TemplateInfo, crate::Config), ConfigErrors> {
    let absolute = std::path::absolute(path).unwrap_or_else(|_| path.to_path_buf());
    let reference = absolute.display().to_string();
    let info = describe(&reference, Path::new(""))?;
    let mut errs = Vec::new();
    let whole = |message: String, hint: &str| ConfigError::whole_file(&info.file, message, hint);
    for (var, v) in &info.vars {
        if v.default.is_none() && v.example.is_none() {
            errs.push(whole(
                format!("variable `{var}` is required but has no `example`"),
                "give it an example (shown by `junction connectors new`) or a default",
            ));
        }
    }
    if !info.has_connector && !info.has_source {
        errs.push(whole(
            "the template has neither a `connector:` nor a `source:` part".into(),
            "add the connector's fields under `connector:`",
        ));
    }
    let vars: serde_json::Map<String, serde_json::Value> = info
        .vars
        .iter()
        .filter(|(_, v)| v.default.is_none())
        .map(|(k, v)| (k.clone(), v.example.clone().unwrap_or_default().into()))
        .collect();
    let entry = serde_json::json!({ "template": reference, "vars": vars });
    let mut config = serde_json::Map::new();
    if info.has_connector {
        config.insert(
            "connectors".into(),
            serde_json::json!({ &info.name: entry }),
        );
    }
    if info.has_source {
        config.insert("sources".into(), serde_json::json!({ &info.name: entry }));
    }
    let text = serde_json::Value::Object(config).to_string();
    let overrides = crate::Overrides {
        allow_unresolved: true,
        ..Default::default()
    };
    match crate::load_str(&text, "(a config using the template)", &overrides, &|_| {
        None
    }) {
        Ok(config) if errs.is_empty() => Ok((info, config)),
        Ok(_) => Err(ConfigErrors(errs)),
        Err(e) => {
            errs.extend(e.0);
            Err(ConfigErrors(errs))
        }
    }
}
