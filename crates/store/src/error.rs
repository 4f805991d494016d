//! Store errors, classified by whether waiting can help.

use std::time::Duration;

/// How long callers are told to wait when the store is unavailable.
pub const RETRY_AFTER: Duration = Duration::from_secs(2);

#[derive(Debug, Clone, thiserror::Error)]
pub enum StoreError {
    /// The database cannot be reached or is overloaded; nothing was written. Retry later.
    #[error("the store is unavailable: {0}")]
    Unavailable(String),
    /// The lease was lost (expired and claimed by another worker, or released): the result of
    /// this attempt was not recorded.
    #[error("the lease on delivery {0} was lost")]
    LeaseLost(i64),
    /// The schema is newer than this binary, or a migration failed.
    #[error("store migration failed: {0}")]
    Migration(String),
    /// The audit log is sealed under the master key and this process has none: no admin
    /// action can be recorded until it is started with one. Waiting does not help.
    #[error("the audit log is sealed with a key from the master key, and this process has none")]
    NeedsMasterKey,
    /// Anything else: a bug or corrupt data.
    #[error("store error: {0}")]
    Internal(String),
}

impl StoreError {
    pub fn is_unavailable(&self) -> bool {
        matches!(self, StoreError::Unavailable(_))
    }
}

impl From<sqlx::Error> for StoreError {
    fn from(e: sqlx::Error) -> Self {
        use sqlx::Error as E;
        let text = junction_core::mask::mask(&e.to_string()).into_owned();
        match &e {
            E::Io(_)
            | E::Tls(_)
            | E::PoolTimedOut
            | E::PoolClosed
            | E::WorkerCrashed
            | E::Protocol(_) => StoreError::Unavailable(text),
            E::Database(db) => {
                let code = db.code().unwrap_or_default();
                // PostgreSQL: 08xxx connection exceptions, 57P0x shutdown, 53xxx resources,
                // 40001/40P01 serialization/deadlock. SQLite: 5 BUSY, 6 LOCKED, 13 FULL, 10 IOERR.
                let transient = code.starts_with("08")
                    || code.starts_with("57P")
                    || code.starts_with("53")
                    || code == "40001"
                    || code == "40P01"
                    || matches!(code.as_ref(), "5" | "6" | "13" | "10" | "261" | "517");
                if transient {
                    StoreError::Unavailable(text)
                } else {
                    StoreError::Internal(text)
                }
            }
            _ => StoreError::Internal(text),
        }
    }
}

impl From<StoreError> for junction_core::Error {
    fn from(e: StoreError) -> Self {
        match e {
            StoreError::Unavailable(_) => {
                junction_core::Error::store_unavailable(RETRY_AFTER).with_cause(e)
            }
            StoreError::NeedsMasterKey => junction_core::Error::new(
                junction_core::Code::NotReady,
                junction_core::Origin::Config,
                e.to_string(),
            )
            .with_hint(
                "start the hub with JUNCTION_MASTER_KEY set (the key the CLI used, e.g. for `junction secrets` or `tokens create`): admin actions are recorded in the sealed audit log before they run",
            ),
            other => junction_core::Error::internal(other.to_string()).with_cause(other),
        }
    }
}

impl From<rusqlite::Error> for StoreError {
    fn from(e: rusqlite::Error) -> Self {
        use rusqlite::ErrorCode as C;
        let text = junction_core::mask::mask(&e.to_string()).into_owned();
        match e.sqlite_error_code() {
            Some(
                C::DatabaseBusy
                | C::DatabaseLocked
                | C::DiskFull
                | C::SystemIoFailure
                | C::CannotOpen
                | C::OutOfMemory,
            ) => StoreError::Unavailable(text),
            _ => StoreError::Internal(text),
        }
    }
}
