//! The master keys: `JUNCTION_MASTER_KEY` (or the file `JUNCTION_MASTER_KEY_FILE` names) holds one
//! or more versioned 256-bit keys, `v2:BASE64,v1:BASE64`. The highest version seals; every listed
//! version opens, so a key can be rotated without downtime: add the new version, run
//! `junction secrets rotate-key` (which rewraps every data key under it), then drop the old one.

use base64::engine::general_purpose::STANDARD;
use base64::Engine;
use zeroize::Zeroizing;

use crate::VaultError;

/// A 256-bit master key and its version.
pub struct MasterKey {
    pub version: i64,
    pub(crate) key: Zeroizing<[u8; 32]>,
}

impl std::fmt::Debug for MasterKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "MasterKey(v{}, ***)", self.version)
    }
}

/// Every master key the process holds, highest version first.
#[derive(Debug)]
pub struct Keyring {
    keys: Vec<MasterKey>,
}

impl Keyring {
    /// Reads `JUNCTION_MASTER_KEY`, else the file named by `JUNCTION_MASTER_KEY_FILE`.
    /// `Ok(None)` when neither is set.
    pub fn from_env() -> Result<Option<Self>, VaultError> {
        Self::from_lookup(&|name| std::env::var(name).ok())
    }

    pub fn from_lookup(env: &dyn Fn(&str) -> Option<String>) -> Result<Option<Self>, VaultError> {
        if let Some(text) = env("JUNCTION_MASTER_KEY").filter(|t| !t.trim().is_empty()) {
            let text = Zeroizing::new(text);
            return Self::parse(&text, "JUNCTION_MASTER_KEY").map(Some);
        }
        if let Some(path) = env("JUNCTION_MASTER_KEY_FILE").filter(|t| !t.trim().is_empty()) {
            let text = std::fs::read_to_string(&path).map_err(|e| VaultError::MasterKey {
                why: format!("cannot read JUNCTION_MASTER_KEY_FILE {path}: {e}"),
            })?;
            let text = Zeroizing::new(text);
            return Self::parse(&text, &path).map(Some);
        }
        Ok(None)
    }

    /// Parses `v2:BASE64,v1:BASE64` (commas or newlines between keys; a lone key without a
    /// version is version 1). `origin` names where the text came from, for errors.
    pub fn parse(text: &str, origin: &str) -> Result<Self, VaultError> {
        let mut keys: Vec<MasterKey> = Vec::new();
        for (i, part) in text
            .split([',', '\n'])
            .map(str::trim)
            .filter(|p| !p.is_empty() && !p.starts_with('#'))
            .enumerate()
        {
            let (version, encoded) = match part.split_once(':') {
                Some((v, k)) => {
                    let version = v
                        .strip_prefix('v')
                        .and_then(|n| n.parse::<i64>().ok())
                        .filter(|n| *n >= 1)
                        .ok_or_else(|| VaultError::MasterKey {
                            why: format!(
                                "key {} in {origin} has version `{v}`; write v1, v2, … before the colon",
                                i + 1
                            ),
                        })?;
                    (version, k)
                }
                None => (1, part),
            };
            let bytes = Zeroizing::new(STANDARD.decode(encoded.trim()).map_err(|_| {
                VaultError::MasterKey {
                    why: format!(
                        "key v{version} in {origin} is not base64; make one with `junction secrets new-key`"
                    ),
                }
            })?);
            let key: [u8; 32] = bytes.as_slice().try_into().map_err(|_| VaultError::MasterKey {
                why: format!(
                    "key v{version} in {origin} is {} bytes; a master key is 32 random bytes (`junction secrets new-key`)",
                    bytes.len()
                ),
            })?;
            if keys.iter().any(|k| k.version == version) {
                return Err(VaultError::MasterKey {
                    why: format!("{origin} lists version v{version} twice"),
                });
            }
            keys.push(MasterKey {
                version,
                key: Zeroizing::new(key),
            });
        }
        if keys.is_empty() {
            return Err(VaultError::MasterKey {
                why: format!("{origin} holds no key"),
            });
        }
        keys.sort_by_key(|k| std::cmp::Reverse(k.version));
        Ok(Self { keys })
    }

    /// A fresh random key, written as the keyring text for `version`.
    pub fn generate(version: i64) -> Result<Zeroizing<String>, VaultError> {
        let mut key = Zeroizing::new([0u8; 32]);
        crate::seal::random(key.as_mut_slice())?;
        Ok(Zeroizing::new(format!(
            "v{version}:{}",
            STANDARD.encode(key.as_slice())
        )))
    }

    /// The key new secrets are sealed with: the highest version.
    pub fn current(&self) -> &MasterKey {
        &self.keys[0]
    }

    pub fn get(&self, version: i64) -> Option<&MasterKey> {
        self.keys.iter().find(|k| k.version == version)
    }

    pub fn keys(&self) -> &[MasterKey] {
        &self.keys
    }

    /// A key for another purpose derived from each master key (HMAC-SHA256 of `label` under
    /// it), by version, highest first: the master keys themselves never leave the vault.
    pub fn derived(&self, label: &str) -> Vec<(i64, Zeroizing<[u8; 32]>)> {
        use hmac::{Hmac, Mac};
        self.keys
            .iter()
            .filter_map(|k| {
                let mut mac = Hmac::<sha2::Sha256>::new_from_slice(k.key.as_slice()).ok()?;
                mac.update(label.as_bytes());
                let mut out = Zeroizing::new([0u8; 32]);
                out.copy_from_slice(&mac.finalize().into_bytes());
                Some((k.version, out))
            })
            .collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const A: &str = "q83vEjRWeJCrze8SNFZ4kKvN7xI0VniQq83vEjRWeJA=";

    fn err(text: &str) -> String {
        Keyring::parse(text, "JUNCTION_MASTER_KEY")
            .unwrap_err()
            .to_string()
    }

    #[test]
    fn the_highest_version_seals_and_a_bare_key_is_version_one() {
        let ring = Keyring::parse(&format!("v1:{A}\nv3:{A}, v2:{A}"), "x").unwrap();
        assert_eq!(ring.current().version, 3);
        assert!(ring.get(1).is_some() && ring.get(2).is_some());
        assert_eq!(Keyring::parse(A, "x").unwrap().current().version, 1);
        let generated = Keyring::generate(4).unwrap();
        assert_eq!(
            Keyring::parse(&generated, "x").unwrap().current().version,
            4
        );
    }

    #[test]
    fn malformed_keys_are_refused_with_a_reason_and_never_echoed() {
        assert!(err("v1:not-base64!").contains("not base64"));
        assert!(err("v1:c2hvcnQ=").contains("is 5 bytes"));
        assert!(err(&format!("x1:{A}")).contains("write v1, v2"));
        assert!(err(&format!("v1:{A},v1:{A}")).contains("twice"));
        assert!(err(" , ").contains("holds no key"));
        assert!(!err("v1:c2hvcnQ=").contains("c2hvcnQ"));
        assert!(!format!("{:?}", Keyring::parse(A, "x").unwrap()).contains(A));
    }
}
