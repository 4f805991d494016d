//! What `serve` refuses at start-up that the config file alone cannot show: the master key is
//! malformed, or missing while the config reads vault secrets or keeps OAuth / JWT tokens sealed.
//! `check` runs the same function, so a config that `check` accepts does not make `serve` exit.
//! Also where a process takes its audit seal from the master key.

use junction_config::Config;

/// One reason `serve` would not start.
pub struct Refusal {
    /// A complete message with its hint.
    pub text: String,
    /// The master key is missing (a secret `check --allow-unresolved` lets through), as opposed
    /// to malformed.
    pub missing_key: bool,
}

impl std::fmt::Display for Refusal {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.text)
    }
}

/// Every start-up refusal of `config` in this environment, each a complete message with a hint.
pub fn problems(config: &Config) -> Vec<Refusal> {
    let key = match junction_vault::Keyring::from_env() {
        Ok(k) => k,
        Err(e) => {
            return vec![Refusal {
                text: format!("error: {e}\nhint: `junction secrets new-key` prints a valid key"),
                missing_key: false,
            }]
        }
    };
    if key.is_some() {
        return Vec::new();
    }
    let mut out = Vec::new();
    let names = config.vault_names();
    if !names.is_empty() {
        out.push(format!(
            "error: the config reads {} secret(s) from the vault ({}) but no master key is set\nhint: set JUNCTION_MASTER_KEY (or JUNCTION_MASTER_KEY_FILE) to the key the secrets were stored with",
            names.len(),
            names.join(", ")
        ));
    }
    let sealed: Vec<String> = config
        .connectors
        .values()
        .filter(|c| c.auth.as_ref().is_some_and(|a| a.uses_tokens()))
        .map(|c| format!("{} ({})", c.name, c.auth.as_ref().map_or("", |a| a.kind())))
        .collect();
    if !sealed.is_empty() {
        out.push(format!(
            "error: connector(s) {} keep their tokens sealed in the store, which needs a master key\nhint: set JUNCTION_MASTER_KEY (`junction secrets new-key` prints one)",
            sealed.join(", ")
        ));
    }
    if config.encrypts() {
        out.push("error: payloads are encrypted at rest (store.encrypt_payloads, or a source's encrypt_payloads) with a data key the vault keeps, which needs a master key\nhint: set JUNCTION_MASTER_KEY (`junction secrets new-key` prints one)".to_owned());
    }
    out.into_iter()
        .map(|text| Refusal {
            text,
            missing_key: true,
        })
        .collect()
}

/// Seals this process's audit entries with a key derived from the master key, when one is set
/// (a malformed key is reported by [`problems`] or by the command that needs it).
pub fn seal_audit_from_env() {
    if let Ok(Some(ring)) = junction_vault::Keyring::from_env() {
        junction_store::ops::seal_audit_with(
            ring.derived(junction_store::ops::SEAL_LABEL)
                .into_iter()
                .map(|(v, k)| (v, *k))
                .collect(),
        );
    }
}
