-- The vault: secrets sealed with envelope encryption. The store never sees a plaintext value:
-- `ciphertext` is the value sealed under a per-secret data key, and `wrapped_key` is that data
-- key sealed under master key `master_version`.
CREATE TABLE vault_keys (
    version    BIGINT  PRIMARY KEY,
    -- A known value sealed under this master key version: a wrong key is caught at start-up.
    key_check  BYTEA   NOT NULL,
    created_at BIGINT  NOT NULL
);

CREATE TABLE secrets (
    name           TEXT    PRIMARY KEY,
    version        BIGINT  NOT NULL,
    master_version BIGINT  NOT NULL,
    wrapped_key    BYTEA   NOT NULL,
    ciphertext     BYTEA   NOT NULL,
    created_at     BIGINT  NOT NULL,
    updated_at     BIGINT  NOT NULL
);
