//! The validated configuration. Runtime code only sees these types: every value here has been
//! parsed and checked, and every default applied.

use std::path::PathBuf;

pub use crate::server::resolved::{DatabaseUrl, LogFormat, Otlp, Server, Store, Telemetry};

/// The config file as read (`${VAR}`s expanded), kept to compare with the next reading. Its
/// `Debug` shows nothing: it may hold secrets.
#[derive(Clone, Default, PartialEq)]
pub struct AsRead(pub serde_json::Value);

impl AsRead {
    /// The value of a top-level section (null when absent).
    pub fn section(&self, name: &str) -> &serde_json::Value {
        self.0.get(name).unwrap_or(&serde_json::Value::Null)
    }
}

impl std::fmt::Debug for AsRead {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("AsRead(…)")
    }
}

/// The whole, validated configuration.
#[derive(Debug, Clone)]
pub struct Config {
    /// The file it came from, if any.
    pub path: Option<PathBuf>,
    pub server: Server,
    pub store: Store,
    /// `store.encrypt_payloads`: sources seal their payloads at rest unless they say otherwise.
    pub encrypt_payloads: bool,
    pub telemetry: Telemetry,
    /// Sources, destinations and routes.
    pub flows: crate::flow::resolved::Flows,
    /// Delivery worker settings.
    pub delivery: crate::flow::resolved::Delivery,
    /// Third-party APIs called through `/proxy`.
    pub connectors: std::collections::BTreeMap<String, crate::connect::resolved::Connector>,
    /// Canonical models and mappings.
    pub shapes: crate::data::resolved::Shapes,
    /// Alert rules and sinks.
    pub alerts: crate::alerts::resolved::Alerts,
    /// Work on a schedule.
    pub jobs: std::collections::BTreeMap<String, crate::jobs::Job>,
    /// Every `secret:NAME` the config holds, bound from the vault at start-up.
    pub vault_refs: Vec<crate::flow::resolved::VaultRef>,
    /// The file as read, `${VAR}`s expanded: what a reload compares section by section. It may
    /// hold secrets: never print it.
    pub document: AsRead,
    /// The files it was read from besides the config file (model schemas), for a reload to watch.
    pub files: Vec<std::path::PathBuf>,
    /// What was let through under [`crate::Overrides::allow_unresolved`]: each unset variable,
    /// where it stands.
    pub warnings: Vec<crate::ConfigError>,
}

impl Config {
    /// Which sources seal their payloads at rest: the default, and each source's own say.
    pub fn at_rest(&self) -> (bool, std::collections::HashMap<String, bool>) {
        let own = self
            .flows
            .sources
            .values()
            .filter_map(|s| Some((s.name.clone(), s.encrypt_payloads?)))
            .collect();
        (self.encrypt_payloads, own)
    }

    /// Whether anything is sealed at rest (the hub then needs the vault's data key).
    pub fn encrypts(&self) -> bool {
        let (default, own) = self.at_rest();
        default || own.values().any(|v| *v)
    }

    /// The vault secrets the config reads, each once, sorted.
    pub fn vault_names(&self) -> Vec<&str> {
        let names: std::collections::BTreeSet<&str> =
            self.vault_refs.iter().map(|r| r.name.as_str()).collect();
        names.into_iter().collect()
    }

    /// Binds every `secret:NAME` to its value from `lookup` (the opened vault). Each name the
    /// vault lacks is reported at its place in the file.
    pub fn bind_vault(
        &self,
        lookup: &dyn Fn(&str) -> Option<String>,
    ) -> Result<(), crate::ConfigErrors> {
        let mut errs = Vec::new();
        for r in &self.vault_refs {
            match lookup(&r.name) {
                Some(value) => match r.shape.check(&value) {
                    Ok(()) => r.secret.bind(&value),
                    Err(why) => {
                        let mut e = r.missing.clone();
                        e.message = format!("secret `{}` from the vault: {why}", r.name);
                        e.hint = Some(format!(
                            "set a valid value with `junction secrets set {}`",
                            r.name
                        ));
                        errs.push(e);
                    }
                },
                None => errs.push(r.missing.clone()),
            }
        }
        if errs.is_empty() {
            Ok(())
        } else {
            Err(crate::ConfigErrors(errs))
        }
    }
}
