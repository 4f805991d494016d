-- The vault: secrets sealed with envelope encryption. The store never sees a plaintext value:
-- `ciphertext` is the value sealed under a per-secret data key, and `wrapped_key` is that data
-- key sealed under master key `master_version`.
CREATE TABLE vault_keys (
    version    INTEGER PRIMARY KEY,
    -- A known value sealed under this master key version: a wrong key is caught at start-up.
    key_check  BLOB    NOT NULL,
    created_at INTEGER NOT NULL
);

CREATE TABLE secrets (
    name           TEXT    PRIMARY KEY,
    version        INTEGER NOT NULL,
    master_version INTEGER NOT NULL,
    wrapped_key    BLOB    NOT NULL,
    ciphertext     BLOB    NOT NULL,
    created_at     INTEGER NOT NULL,
    updated_at     INTEGER NOT NULL
);
