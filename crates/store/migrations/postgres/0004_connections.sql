-- Connections: one set of credentials for a connector. The tokens themselves are vault secrets
-- (`conn.CONNECTOR.NAME.access` / `.refresh`); this row holds what is not secret: when the
-- access token expires, and the fenced refresh lease that makes a refresh happen once across
-- every process sharing the database.
CREATE TABLE connections (
    connector     TEXT    NOT NULL,
    name          TEXT    NOT NULL,
    -- active | needs_reauth
    state         TEXT    NOT NULL DEFAULT 'active',
    -- When the stored access token expires (ms since the epoch); NULL when there is none.
    expires_at    BIGINT,
    -- When the stored access token should be refreshed (ms since the epoch).
    refresh_at    BIGINT,
    -- Raised by every lease taken; a refresh persists only under the epoch it took.
    refresh_epoch BIGINT  NOT NULL DEFAULT 0,
    -- A refresh in progress holds the lease until then (ms since the epoch); 0 when free.
    refresh_until BIGINT  NOT NULL DEFAULT 0,
    -- Bumped whenever new tokens are saved, so processes see that the tokens changed.
    token_version BIGINT  NOT NULL DEFAULT 0,
    failures      BIGINT  NOT NULL DEFAULT 0,
    last_error    TEXT,
    updated_at    BIGINT  NOT NULL,
    PRIMARY KEY (connector, name)
);

-- Hub API tokens for /proxy callers. Only a SHA-256 of the token is kept.
CREATE TABLE api_tokens (
    id           TEXT    PRIMARY KEY,
    name         TEXT    NOT NULL,
    token_hash   BYTEA      NOT NULL UNIQUE,
    -- Space-separated scopes, e.g. `proxy:crm:GET proxy:erp:*`.
    scopes       TEXT    NOT NULL,
    created_at   BIGINT  NOT NULL,
    expires_at   BIGINT,
    revoked_at   BIGINT
);
