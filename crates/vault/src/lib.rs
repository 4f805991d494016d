//! The vault: secrets stored sealed, opened only in memory, never logged.
//!
//! - Envelope encryption ([`seal`]): a random data key per secret value, XChaCha20-Poly1305, the
//!   data key wrapped by a master key. The store holds only sealed bytes.
//! - Master keys ([`Keyring`]) are versioned. [`Vault::open`] proves every key it is given
//!   against the check value recorded for that version, so a wrong key is a clear start-up error
//!   rather than garbage later; a secret sealed under a version the keyring lacks is reported too.
//! - [`Vault::rotate`] rewraps every data key under the current master key (values are not
//!   re-encrypted; their data keys are), compare-and-swap per secret, while servers keep running.
//! - Opened values are `secrecy` strings and are registered with the log masker.
//! - Every read, set, delete and key rotation is appended to the audit log under the vault's
//!   actor (`hub` for a server, `cli:<user>` for the CLI) before the value is handed out or
//!   changed: an access that cannot be recorded does not happen.
#![forbid(unsafe_code)]

mod keyring;
mod seal;

use std::sync::Arc;

use base64::Engine as _;

use junction_core::time::now_ms;
use junction_store::{NewAudit, SealedSecret, Store, StoreError, VaultKey};
pub use keyring::{Keyring, MasterKey};
pub use secrecy::{ExposeSecret, SecretString};

/// Why the vault refused.
#[derive(Debug, thiserror::Error)]
pub enum VaultError {
    #[error("the vault needs a master key: set JUNCTION_MASTER_KEY (or JUNCTION_MASTER_KEY_FILE); make one with `junction secrets new-key`")]
    NoMasterKey,
    #[error("bad master key: {why}")]
    MasterKey { why: String },
    #[error("master key v{version} is not the key this vault was sealed with (its check value does not open); give the right key for v{version}")]
    WrongMasterKey { version: i64 },
    #[error("{count} secret(s) are sealed under master key v{version}, which the keyring does not hold; add v{version} to JUNCTION_MASTER_KEY (then `junction secrets rotate-key` moves them to the current key)")]
    MissingMasterKey { version: i64, count: usize },
    #[error(
        "secret `{name}` does not open: its sealed bytes were changed or belong to another secret"
    )]
    Corrupt { name: String },
    #[error("`{name}` is not a valid secret name: use 1-128 letters, digits, `_`, `.` or `-`, starting with a letter or digit")]
    BadName { name: String },
    #[error("`{name}` is the hub's own secret (names starting `junction.` are): it cannot be set or deleted by hand")]
    Reserved { name: String },
    #[error("crypto failure: {0}")]
    Crypto(String),
    #[error(transparent)]
    Store(#[from] StoreError),
}

/// What `list` shows of a secret: never its value.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SecretInfo {
    pub name: String,
    pub version: i64,
    pub master_version: i64,
    pub created_at: i64,
    pub updated_at: i64,
}

/// What a rotation did.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Rotation {
    /// Data keys rewrapped under the current master key.
    pub rewrapped: usize,
    /// Secrets already under the current key.
    pub current: usize,
    /// Secrets set (and so sealed under the current key) while the rotation ran.
    pub raced: usize,
}

/// The names the vault accepts: the config's rule for `secret:NAME`, so both agree.
pub use junction_config::valid_secret_name as valid_name;

fn check_name(name: &str) -> Result<(), VaultError> {
    if valid_name(name) {
        Ok(())
    } else {
        Err(VaultError::BadName { name: name.into() })
    }
}

/// The hub's own secrets (the data key of payloads at rest) cannot be replaced or deleted by
/// hand: losing one loses every value sealed with it.
fn reserved(name: &str) -> Result<(), VaultError> {
    if name.starts_with("junction.") {
        return Err(VaultError::Reserved { name: name.into() });
    }
    Ok(())
}

/// The secret holding the data key of payloads sealed at rest.
pub const DATA_KEY: &str = "junction.data-key";

/// The vault over a store, with the master keys of this process.
pub struct Vault {
    store: Arc<dyn Store>,
    ring: Keyring,
    /// Who the audit log names for this vault's accesses, and from where.
    actor: (String, String),
}

impl Vault {
    /// Proves the keyring against the store (see the crate docs) and records the check value of
    /// any version seen for the first time.
    pub async fn open(store: Arc<dyn Store>, ring: Keyring) -> Result<Self, VaultError> {
        let known = store.vault_keys().await?;
        for key in ring.keys() {
            match known.iter().find(|k| k.version == key.version) {
                Some(k) if !seal::verify_check(key, &k.check) => {
                    return Err(VaultError::WrongMasterKey {
                        version: key.version,
                    })
                }
                Some(_) => {}
                None => {
                    store
                        .add_vault_key(VaultKey {
                            version: key.version,
                            check: seal::key_check(key)?,
                            created_at: now_ms(),
                        })
                        .await?;
                    // Another process may have recorded the same version at the same moment
                    // with another key: read back what won.
                    let now_known = store.vault_keys().await?;
                    if let Some(k) = now_known.iter().find(|k| k.version == key.version) {
                        if !seal::verify_check(key, &k.check) {
                            return Err(VaultError::WrongMasterKey {
                                version: key.version,
                            });
                        }
                    }
                }
            }
        }
        let secrets = store.secrets().await?;
        for version in secrets
            .iter()
            .map(|s| s.master_version)
            .collect::<std::collections::BTreeSet<_>>()
        {
            if ring.get(version).is_none() {
                return Err(VaultError::MissingMasterKey {
                    version,
                    count: secrets
                        .iter()
                        .filter(|s| s.master_version == version)
                        .count(),
                });
            }
        }
        Ok(Self {
            store,
            ring,
            actor: ("hub".into(), "local".into()),
        })
    }

    /// Names `actor` (from `origin`) in the audit entries of this vault's accesses.
    pub fn acting_as(mut self, actor: impl Into<String>, origin: impl Into<String>) -> Self {
        self.actor = (actor.into(), origin.into());
        self
    }

    async fn audit(
        &self,
        action: &str,
        target: &str,
        detail: serde_json::Value,
    ) -> Result<(), VaultError> {
        self.store
            .append_audit(NewAudit {
                at: now_ms(),
                actor: self.actor.0.clone(),
                action: action.into(),
                target: target.into(),
                origin: self.actor.1.clone(),
                detail: detail.to_string(),
            })
            .await?;
        Ok(())
    }

    /// Seals `value` under the current master key as the next version of `name`.
    pub async fn set(&self, name: &str, value: &SecretString) -> Result<i64, VaultError> {
        reserved(name)?;
        let sealed = self.seal(name, value.expose_secret())?;
        self.audit("secret.set", name, serde_json::json!({}))
            .await?;
        let version = self.store.put_secret(sealed).await?;
        tracing::info!(secret = name, version, "secret set");
        Ok(version)
    }

    /// Opens a secret; `None` if there is none by that name. The value is registered with the
    /// log masker.
    pub async fn get(&self, name: &str) -> Result<Option<SecretString>, VaultError> {
        check_name(name)?;
        let Some(sealed) = self.store.secret(name).await? else {
            return Ok(None);
        };
        self.audit(
            "secret.read",
            name,
            serde_json::json!({ "version": sealed.version }),
        )
        .await?;
        let value = self.open_sealed(&sealed)?;
        junction_core::mask::register(value.expose_secret());
        Ok(Some(value))
    }

    /// Seals `value` as the next version of `name` without storing it, for a caller that
    /// stores it in a transaction of its own (a connection's tokens with their refresh state).
    pub fn seal(&self, name: &str, value: &str) -> Result<SealedSecret, VaultError> {
        check_name(name)?;
        let master = self.ring.current();
        let (wrapped_key, ciphertext) = seal::seal_secret(master, name, value.as_bytes())?;
        let now = now_ms();
        Ok(SealedSecret {
            name: name.into(),
            version: 0,
            master_version: master.version,
            wrapped_key,
            ciphertext,
            created_at: now,
            updated_at: now,
        })
    }

    /// Opens a sealed row read from the store.
    pub fn open_sealed(&self, s: &SealedSecret) -> Result<SecretString, VaultError> {
        let master = self
            .ring
            .get(s.master_version)
            .ok_or(VaultError::MissingMasterKey {
                version: s.master_version,
                count: 1,
            })?;
        let corrupt = || VaultError::Corrupt {
            name: s.name.clone(),
        };
        let data_key = seal::unwrap_key(master, &s.name, &s.wrapped_key).ok_or_else(corrupt)?;
        let plain = seal::open_value(&data_key, &s.name, &s.ciphertext).ok_or_else(corrupt)?;
        let text = String::from_utf8(plain.to_vec()).map_err(|_| corrupt())?;
        Ok(SecretString::from(text))
    }

    /// The data key payloads, headers and excerpts are sealed with at rest
    /// (`store.encrypt_payloads`): 32 random bytes kept sealed as the secret [`DATA_KEY`], so a
    /// master key rotation rewraps it with the others. Made when `create` and there is none
    /// (processes starting at once all keep the first one stored); `None` when there is none
    /// and `create` is false.
    pub async fn data_key(
        &self,
        create: bool,
    ) -> Result<Option<zeroize::Zeroizing<[u8; 32]>>, VaultError> {
        if self.store.secret(DATA_KEY).await?.is_none() {
            if !create {
                return Ok(None);
            }
            let mut key = zeroize::Zeroizing::new([0u8; 32]);
            seal::random(&mut key[..])?;
            let text =
                zeroize::Zeroizing::new(base64::engine::general_purpose::STANDARD.encode(&key[..]));
            let sealed = self.seal(DATA_KEY, &text)?;
            self.audit("secret.create", DATA_KEY, serde_json::json!({}))
                .await?;
            if self.store.put_new_secret(sealed).await? {
                tracing::info!("made the data key of payloads encrypted at rest");
            }
        }
        let value = self
            .get(DATA_KEY)
            .await?
            .ok_or_else(|| VaultError::Corrupt {
                name: DATA_KEY.into(),
            })?;
        let bytes = zeroize::Zeroizing::new(
            base64::engine::general_purpose::STANDARD
                .decode(value.expose_secret())
                .map_err(|_| VaultError::Corrupt {
                    name: DATA_KEY.into(),
                })?,
        );
        let mut key = zeroize::Zeroizing::new([0u8; 32]);
        if bytes.len() != 32 {
            return Err(VaultError::Corrupt {
                name: DATA_KEY.into(),
            });
        }
        key.copy_from_slice(&bytes);
        Ok(Some(key))
    }

    /// Every secret's name, versions and dates.
    pub async fn list(&self) -> Result<Vec<SecretInfo>, VaultError> {
        Ok(self
            .store
            .secrets()
            .await?
            .into_iter()
            .map(|s| SecretInfo {
                name: s.name,
                version: s.version,
                master_version: s.master_version,
                created_at: s.created_at,
                updated_at: s.updated_at,
            })
            .collect())
    }

    pub async fn delete(&self, name: &str) -> Result<bool, VaultError> {
        check_name(name)?;
        reserved(name)?;
        self.audit("secret.delete", name, serde_json::json!({}))
            .await?;
        let deleted = self.store.delete_secret(name).await?;
        if deleted {
            tracing::info!(secret = name, "secret deleted");
        }
        Ok(deleted)
    }

    /// Rewraps every data key not yet under the current master key. Safe while servers run:
    /// a value never changes, only the key that wraps its data key, and each row is swapped only
    /// if nobody set the secret meanwhile.
    pub async fn rotate(&self) -> Result<Rotation, VaultError> {
        let current = self.ring.current();
        self.audit(
            "vault.rotate_key",
            "master-key",
            serde_json::json!({ "to_version": current.version }),
        )
        .await?;
        let mut r = Rotation::default();
        for s in self.store.secrets().await? {
            if s.master_version == current.version {
                r.current += 1;
                continue;
            }
            let old = self
                .ring
                .get(s.master_version)
                .ok_or(VaultError::MissingMasterKey {
                    version: s.master_version,
                    count: 1,
                })?;
            let data_key = seal::unwrap_key(old, &s.name, &s.wrapped_key).ok_or_else(|| {
                VaultError::Corrupt {
                    name: s.name.clone(),
                }
            })?;
            let wrapped = seal::wrap_key(current, &s.name, &data_key)?;
            if self
                .store
                .rewrap_secret(&s.name, s.version, current.version, wrapped)
                .await?
            {
                r.rewrapped += 1;
            } else {
                r.raced += 1;
            }
        }
        tracing::info!(
            rewrapped = r.rewrapped,
            master_version = current.version,
            "vault master key rotated"
        );
        Ok(r)
    }

    /// The master key version new secrets are sealed with.
    pub fn current_version(&self) -> i64 {
        self.ring.current().version
    }
}
