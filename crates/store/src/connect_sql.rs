//! Connections and API tokens, in SQL both backends accept. SQLite numbers `$N` placeholders in
//! order of first appearance, so each statement uses them in ascending order.

const CONNECTION: &str = "connector, name, state, expires_at, refresh_at, refresh_epoch, \
    refresh_until, token_version, failures, last_error, updated_at";

pub(crate) fn connection() -> String {
    format!("SELECT {CONNECTION} FROM connections WHERE connector = $1 AND name = $2")
}

pub(crate) fn connections() -> String {
    format!("SELECT {CONNECTION} FROM connections ORDER BY connector, name")
}

pub(crate) const ENSURE: &str = "INSERT INTO connections (connector, name, updated_at)
     VALUES ($1, $2, $3) ON CONFLICT (connector, name) DO NOTHING";

/// Takes the refresh lease when it is free or expired, and nobody saved tokens since the taker
/// read `token_version`: the fenced lease of DESIGN.md.
pub(crate) const LEASE: &str = "UPDATE connections
     SET refresh_until = $1, refresh_epoch = refresh_epoch + 1
     WHERE connector = $2 AND name = $3 AND refresh_until < $4 AND token_version = $5
     RETURNING refresh_epoch";

/// Saves new token times under the lease's epoch, releasing the lease.
pub(crate) const SAVE_FENCED: &str = "UPDATE connections
     SET expires_at = $1, refresh_at = $2, updated_at = $3, refresh_until = 0,
         token_version = token_version + 1, failures = 0, last_error = NULL, state = 'active'
     WHERE connector = $4 AND name = $5 AND refresh_epoch = $6";

/// Saves seeded tokens unconditionally, fencing off any refresh in progress.
pub(crate) const SAVE_SEEDED: &str = "INSERT INTO connections
         (connector, name, state, expires_at, refresh_at, refresh_epoch, token_version, updated_at)
     VALUES ($1, $2, 'active', $3, $4, 1, 1, $5)
     ON CONFLICT (connector, name) DO UPDATE SET state = 'active',
         expires_at = excluded.expires_at, refresh_at = excluded.refresh_at,
         refresh_epoch = connections.refresh_epoch + 1, refresh_until = 0,
         token_version = connections.token_version + 1, failures = 0, last_error = NULL,
         updated_at = excluded.updated_at";

/// Records a failed refresh under the lease's epoch; the connection needs re-authorisation
/// once failures reach the threshold.
pub(crate) fn failed() -> String {
    format!(
        "UPDATE connections
         SET failures = failures + 1, last_error = $1, refresh_until = 0, updated_at = $2,
             state = CASE WHEN failures + 1 >= $3 THEN 'needs_reauth' ELSE state END
         WHERE connector = $4 AND name = $5 AND refresh_epoch = $6
         RETURNING {CONNECTION}"
    )
}

pub(crate) const DELETE: &str = "DELETE FROM connections WHERE connector = $1 AND name = $2";

const TOKEN: &str = "id, name, token_hash, scopes, created_at, expires_at, revoked_at";

pub(crate) const ADD_TOKEN: &str = "INSERT INTO api_tokens
     (id, name, token_hash, scopes, created_at, expires_at) VALUES ($1, $2, $3, $4, $5, $6)";

pub(crate) fn token_by_hash() -> String {
    format!("SELECT {TOKEN} FROM api_tokens WHERE token_hash = $1")
}

pub(crate) fn tokens() -> String {
    format!("SELECT {TOKEN} FROM api_tokens ORDER BY created_at, id")
}

pub(crate) const REVOKE_TOKEN: &str =
    "UPDATE api_tokens SET revoked_at = $1 WHERE id = $2 AND revoked_at IS NULL";
