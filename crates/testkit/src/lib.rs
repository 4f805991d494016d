//! Test support: real databases and real network faults, no mocks.
//!
//! - [`postgres`]: a fresh PostgreSQL database per test, dropped afterwards. Required when `CI=true`;
//!   elsewhere a test may skip, loudly, when no server answers.
//! - [`proxy`]: a TCP proxy on 127.0.0.1 that can cut every connection and refuse new ones, to take
//!   a database (or any upstream) away and give it back without touching the real server.
#![forbid(unsafe_code)]

pub mod postgres;
pub mod proxy;

/// A fresh SQLite database URL in a temporary folder (kept alive by the returned guard).
pub fn sqlite_url() -> (String, tempfile::TempDir) {
    let dir = tempfile::tempdir().expect("temp dir");
    let url = format!("sqlite://{}", dir.path().join("junction.db").display());
    (url, dir)
}
