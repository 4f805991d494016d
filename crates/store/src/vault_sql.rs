//! The vault's statements, in SQL both backends accept. SQLite numbers `$N` placeholders in
//! order of first appearance, so each statement uses them in ascending order.

pub(crate) const KEYS: &str =
    "SELECT version, key_check, created_at FROM vault_keys ORDER BY version";

pub(crate) const ADD_KEY: &str = "INSERT INTO vault_keys (version, key_check, created_at)
     VALUES ($1, $2, $3) ON CONFLICT (version) DO NOTHING";

pub(crate) const PUT: &str =
    "INSERT INTO secrets (name, version, master_version, wrapped_key, ciphertext, created_at, updated_at)
     VALUES ($1, 1, $2, $3, $4, $5, $5)
     ON CONFLICT (name) DO UPDATE SET version = secrets.version + 1,
         master_version = excluded.master_version, wrapped_key = excluded.wrapped_key,
         ciphertext = excluded.ciphertext, updated_at = excluded.updated_at
     RETURNING version";

/// Stores version 1 of a secret unless one by that name exists (several processes creating
/// the same secret at once keep the first).
pub(crate) const PUT_NEW: &str =
    "INSERT INTO secrets (name, version, master_version, wrapped_key, ciphertext, created_at, updated_at)
     VALUES ($1, 1, $2, $3, $4, $5, $5)
     ON CONFLICT (name) DO NOTHING";

const COLUMNS: &str =
    "name, version, master_version, wrapped_key, ciphertext, created_at, updated_at";

pub(crate) fn one() -> String {
    format!("SELECT {COLUMNS} FROM secrets WHERE name = $1")
}

pub(crate) fn all() -> String {
    format!("SELECT {COLUMNS} FROM secrets ORDER BY name")
}

pub(crate) const DELETE: &str = "DELETE FROM secrets WHERE name = $1";

pub(crate) const REWRAP: &str =
    "UPDATE secrets SET master_version = $1, wrapped_key = $2 WHERE name = $3 AND version = $4";
