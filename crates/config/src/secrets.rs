//! Secrets in the config: `env:NAME` read when the file is loaded, `secret:NAME` opened from the
//! vault at start-up, both masked in every log; and the checks every section shares for them.

use std::sync::{Arc, OnceLock};

use base64::Engine as _;

use crate::error::ConfigError;
use crate::yaml::Document;

/// A secret value read at load time. Its `Debug` never shows it, and it is registered with the
/// log masker so it cannot leak through a log line either.
#[derive(Clone, PartialEq, Eq)]
pub struct Secret(Arc<OnceLock<Arc<str>>>);

impl Secret {
    pub fn new(value: &str) -> Self {
        let s = Self::unbound();
        s.bind(value);
        s
    }

    /// A secret whose value arrives later (a vault reference, bound at start-up).
    pub(crate) fn unbound() -> Self {
        Self(Arc::new(OnceLock::new()))
    }

    /// Sets the value (the first binding wins) and registers it with the log masker.
    pub(crate) fn bind(&self, value: &str) {
        junction_core::mask::register(value);
        let _ = self.0.set(value.into());
    }

    /// The same secret (a clone of it), not merely an equal value.
    pub(crate) fn same(&self, other: &Secret) -> bool {
        Arc::ptr_eq(&self.0, &other.0)
    }

    pub fn is_bound(&self) -> bool {
        self.0.get().is_some()
    }

    /// The value. Empty only for a vault reference not yet bound, which start-up refuses.
    pub fn expose(&self) -> &str {
        self.0.get().map(|v| &**v).unwrap_or("")
    }
}

impl std::fmt::Debug for Secret {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("Secret(***)")
    }
}

/// A configured header value: as written, or a secret (`env:NAME`, `secret:NAME`) resolved
/// when the config is loaded (or, from the vault, at start-up) and masked in every log.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum HeaderText {
    Plain(String),
    Secret(Secret),
}

impl HeaderText {
    /// The value to send.
    pub fn expose(&self) -> &str {
        match self {
            HeaderText::Plain(s) => s,
            HeaderText::Secret(s) => s.expose(),
        }
    }
}

/// What a secret's value must look like, checked when it is known (at load for `env:`, at
/// start-up for `secret:`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum SecretShape {
    Any,
    /// A Standard Webhooks key (`whsec_…` base64).
    StandardKey,
    /// A Standard Webhooks Ed25519 public key (32 bytes).
    Ed25519Public,
    /// PEM certificates (a client certificate's chain, a CA bundle).
    PemCertificates,
    /// A PEM private key.
    PemKey,
}

impl SecretShape {
    pub(crate) fn check(self, value: &str) -> Result<(), String> {
        match self {
            SecretShape::Any => Ok(()),
            SecretShape::StandardKey => crate::standard_key(value).map(|_| ()),
            SecretShape::Ed25519Public => match crate::standard_key(value) {
                Ok(k) if k.len() == 32 => Ok(()),
                Ok(_) => Err("an Ed25519 public key is 32 bytes".into()),
                Err(e) => Err(e),
            },
            SecretShape::PemCertificates if value.contains("-----BEGIN CERTIFICATE-----") => Ok(()),
            SecretShape::PemCertificates => {
                Err("not a PEM certificate (expected -----BEGIN CERTIFICATE----- blocks)".into())
            }
            SecretShape::PemKey
                if value.contains("-----BEGIN ") && value.contains("PRIVATE KEY-----") =>
            {
                Ok(())
            }
            SecretShape::PemKey => {
                Err("not a PEM private key (expected -----BEGIN PRIVATE KEY-----)".into())
            }
        }
    }
}

/// A `secret:NAME` in the config: opened from the vault once the store is open.
#[derive(Debug, Clone)]
pub struct VaultRef {
    pub name: String,
    pub(crate) secret: Secret,
    pub(crate) shape: SecretShape,
    /// The located error reported if the vault has no such secret.
    pub(crate) missing: crate::error::ConfigError,
}

/// Where secrets come from while resolving: the environment now, the vault later (references
/// are collected and bound once the store is open; see [`Config::bind_vault`]).
pub(crate) struct SecretSources<'a> {
    pub env: &'a dyn Fn(&str) -> Option<String>,
    pub vault: std::cell::RefCell<Vec<VaultRef>>,
    /// An unset `env:NAME` is a warning (the secret stays unbound), not an error.
    pub lenient: bool,
    pub warnings: std::cell::RefCell<Vec<ConfigError>>,
}

pub(crate) type Env<'a> = &'a SecretSources<'a>;

/// Reads `env:NAME` now; records `secret:NAME` to be opened from the vault at start-up. Inline
/// values are refused with a located error.
pub(crate) fn secret(
    doc: &Document,
    ptr: &str,
    text: &str,
    env: Env,
    errs: &mut Vec<ConfigError>,
) -> Option<Secret> {
    if let Some(var) = text.strip_prefix("env:") {
        return match (env.env)(var).filter(|v| !v.is_empty()) {
            Some(v) => Some(Secret::new(&v)),
            None if env.lenient => {
                env.warnings.borrow_mut().push(doc.error_at(
                    ptr,
                    format!("the environment variable `{var}` is not set"),
                    Some(format!("export {var}=… before `junction serve`")),
                ));
                Some(Secret::unbound())
            }
            None => {
                errs.push(doc.error_at(
                    ptr,
                    format!("the environment variable `{var}` is not set"),
                    Some(format!("export {var}=… before starting junction")),
                ));
                None
            }
        };
    }
    if let Some(name) = text.strip_prefix("secret:") {
        if !valid_secret_name(name) {
            errs.push(doc.error_at(
                ptr,
                format!("`{name}` is not a valid secret name"),
                Some("use 1-128 letters, digits, `_`, `.` or `-`, starting with a letter or digit".into()),
            ));
            return None;
        }
        let secret = Secret::unbound();
        env.vault.borrow_mut().push(VaultRef {
            name: name.to_owned(),
            secret: secret.clone(),
            shape: SecretShape::Any,
            missing: doc.error_at(
                ptr,
                format!("secret `{name}` is not in the vault"),
                Some(format!(
                    "store it with `junction secrets set {name}` (the value is read from stdin)"
                )),
            ),
        });
        return Some(secret);
    }
    let hint = "write env:NAME (from the environment) or secret:NAME (from the vault); secrets are never written in the config";
    // The value may itself be a secret: never echo it.
    errs.push(doc.error_at(
        ptr,
        "a secret must be a reference, not a value",
        Some(hint.into()),
    ));
    None
}

/// Decodes a Standard Webhooks key: `whsec_`/`whpk_` prefix optional, base64 body.
pub fn standard_key(text: &str) -> Result<Vec<u8>, String> {
    let body = text
        .strip_prefix("whsec_")
        .or_else(|| text.strip_prefix("whpk_"))
        .unwrap_or(text);
    let key = base64::engine::general_purpose::STANDARD
        .decode(body)
        .map_err(|_| "the key is not base64 (expected whsec_ followed by base64)".to_owned())?;
    if key.is_empty() {
        return Err("the key is empty".into());
    }
    Ok(key)
}

/// The names the vault accepts (the same rule as `junction-vault`).
pub fn valid_secret_name(name: &str) -> bool {
    let mut chars = name.chars();
    name.len() <= 128
        && chars.next().is_some_and(|c| c.is_ascii_alphanumeric())
        && chars.all(|c| c.is_ascii_alphanumeric() || matches!(c, '_' | '.' | '-'))
}

/// For a vault secret (not known yet): records the shape its value must have, checked when it is
/// bound, and answers true. For a known one: false (check it now).
pub(crate) fn defer(env: Env, secret: &Secret, shape: SecretShape) -> bool {
    if secret.is_bound() {
        return false;
    }
    if let Some(r) = env
        .vault
        .borrow_mut()
        .iter_mut()
        .find(|r| r.secret.same(secret))
    {
        r.shape = shape;
    }
    true
}

/// Refuses a value written as a reference (`env:NAME`, `secret:NAME`) where references are not
/// resolved: sent as written, it would reach the receiver literally. `${VAR}` works everywhere.
pub(crate) fn no_reference(doc: &Document, ptr: &str, value: &str, errs: &mut Vec<ConfigError>) {
    if value.starts_with("env:") || value.starts_with("secret:") {
        errs.push(doc.error_at(
            ptr,
            "references (env:NAME, secret:NAME) are not resolved here: the text would be sent as written",
            Some("write ${VAR} to read the value from the environment when the config is loaded".into()),
        ));
    }
}
