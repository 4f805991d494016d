//! Opening SQLite connections with Junction's settings, migrations, and the background checkpointer.

use std::path::{Path, PathBuf};
use std::sync::mpsc;
use std::time::Duration;

use rusqlite::{Connection, OpenFlags};

use crate::{migrate, StoreError};

/// Where the database lives.
#[derive(Clone, Debug)]
pub(super) struct Target {
    path: PathBuf,
}

/// Creates the database file readable by its owner only (0600) if it does not exist yet: it
/// holds events, sealed secrets and the audit log. SQLite gives its `-wal` and `-shm` files the
/// database file's permissions. An existing file keeps the permissions it has.
fn create_private(path: &Path) -> Result<(), StoreError> {
    let mut options = std::fs::OpenOptions::new();
    options.write(true).create_new(true);
    #[cfg(unix)]
    std::os::unix::fs::OpenOptionsExt::mode(&mut options, 0o600);
    match options.open(path) {
        Ok(_) => Ok(()),
        Err(e) if e.kind() == std::io::ErrorKind::AlreadyExists => Ok(()),
        Err(e) => Err(StoreError::Unavailable(format!(
            "cannot create the SQLite database {}: {e}",
            path.display()
        ))),
    }
}

impl Target {
    pub fn new(path: &Path) -> Result<Self, StoreError> {
        if path.as_os_str() != ":memory:" {
            if let Some(dir) = path.parent().filter(|d| !d.as_os_str().is_empty()) {
                std::fs::create_dir_all(dir).map_err(|e| {
                    StoreError::Unavailable(format!(
                        "cannot create the folder {}: {e}",
                        dir.display()
                    ))
                })?;
            }
            create_private(path)?;
        }
        Ok(Self {
            path: path.to_path_buf(),
        })
    }

    pub fn is_memory(&self) -> bool {
        self.path.as_os_str() == ":memory:"
    }

    fn open(&self, flags: OpenFlags, busy: Duration) -> Result<Connection, StoreError> {
        let conn = Connection::open_with_flags(&self.path, flags).map_err(|e| {
            StoreError::Unavailable(format!(
                "cannot open the SQLite database {}: {e}",
                self.path.display()
            ))
        })?;
        conn.busy_timeout(busy)?;
        conn.set_prepared_statement_cache_capacity(64);
        Ok(conn)
    }

    /// The one connection that writes: WAL, synchronous FULL, no auto-checkpoint; foreign keys are
    /// not enforced here (see `writer`).
    pub fn open_writer(&self, busy: Duration) -> Result<Connection, StoreError> {
        let conn = self.open(
            OpenFlags::SQLITE_OPEN_READ_WRITE
                | OpenFlags::SQLITE_OPEN_CREATE
                | OpenFlags::SQLITE_OPEN_NO_MUTEX,
            busy,
        )?;
        let mode: String = conn.query_row("PRAGMA journal_mode = WAL", [], |r| r.get(0))?;
        if mode != "wal" && !self.is_memory() {
            return Err(StoreError::Internal(format!(
                "SQLite refused WAL mode (got `{mode}`)"
            )));
        }
        conn.execute_batch(&format!(
            "PRAGMA synchronous = FULL; PRAGMA foreign_keys = OFF; PRAGMA temp_store = MEMORY;
             PRAGMA cache_size = -32768; PRAGMA wal_autocheckpoint = {}; PRAGMA secure_delete = ON;",
            if self.is_memory() { 1000 } else { 0 }
        ))?;
        Ok(conn)
    }

    /// A read-only connection.
    pub fn open_reader(&self, busy: Duration) -> Result<Connection, StoreError> {
        let conn = self.open(
            OpenFlags::SQLITE_OPEN_READ_ONLY | OpenFlags::SQLITE_OPEN_NO_MUTEX,
            busy,
        )?;
        conn.execute_batch("PRAGMA cache_size = -8192;")?;
        Ok(conn)
    }
}

/// Applies pending migrations in one immediate transaction (so two processes cannot both apply).
pub(super) fn migrate(conn: &mut Connection) -> Result<(), StoreError> {
    let tx = conn.transaction_with_behavior(rusqlite::TransactionBehavior::Immediate)?;
    tx.execute_batch(migrate::HISTORY_TABLE)?;
    let applied: i64 = tx.query_row(
        "SELECT COALESCE(MAX(version), 0) FROM junction_migrations",
        [],
        |r| r.get(0),
    )?;
    migrate::check_not_newer(applied, migrate::SQLITE)?;
    for m in migrate::SQLITE.iter().filter(|m| m.version > applied) {
        tx.execute_batch(m.sql).map_err(|e| {
            StoreError::Migration(format!("migration {} ({}): {e}", m.version, m.name))
        })?;
        tx.execute(
            "INSERT INTO junction_migrations (version, name, applied_at) VALUES (?1, ?2, ?3)",
            rusqlite::params![m.version, m.name, junction_core::time::now_ms()],
        )?;
        tracing::info!(
            version = m.version,
            name = m.name,
            "applied store migration"
        );
    }
    tx.commit()?;
    Ok(())
}

/// Copies the WAL into the database every 200 ms on a thread and connection of its own. PASSIVE
/// checkpoints never block the writer; once one catches up, the writer reuses the WAL from its
/// start, so the WAL stays bounded under steady load. Stops when dropped.
pub(super) struct Checkpointer {
    _stop: mpsc::Sender<()>,
}

impl Checkpointer {
    pub fn start(target: &Target, busy: Duration) -> Result<Self, StoreError> {
        let conn = target.open(
            OpenFlags::SQLITE_OPEN_READ_WRITE | OpenFlags::SQLITE_OPEN_NO_MUTEX,
            busy,
        )?;
        let (stop, stopped) = mpsc::channel::<()>();
        std::thread::Builder::new()
            .name("junction-sqlite-checkpoint".into())
            .spawn(move || loop {
                match stopped.recv_timeout(Duration::from_millis(200)) {
                    Err(mpsc::RecvTimeoutError::Timeout) => {
                        if let Err(e) =
                            conn.query_row("PRAGMA wal_checkpoint(PASSIVE)", [], |_| Ok(()))
                        {
                            tracing::warn!(error = %e, "WAL checkpoint failed; retrying");
                        }
                    }
                    _ => {
                        let _ = conn.query_row("PRAGMA wal_checkpoint(PASSIVE)", [], |_| Ok(()));
                        return;
                    }
                }
            })
            .map_err(|e| StoreError::Internal(format!("cannot start the checkpointer: {e}")))?;
        Ok(Self { _stop: stop })
    }
}
