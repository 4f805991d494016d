//! Connections held by the queue's hot paths (group commits and claims).
//!
//! sqlx's pool checks a connection with a round trip when it hands it out (`ping`) and again when
//! it is given back, so a one-statement write through the pool costs three round trips, and on a
//! busy machine each one waits for both processes to be scheduled. The hot paths instead keep a
//! few pooled connections for themselves (taken from the pool once, so `store.max_connections`
//! still bounds what a process opens) and pay only for their statements, whose prepared forms
//! stay cached on those connections.
//!
//! A connection whose statement failed, or whose user was cancelled mid-statement, is closed
//! rather than reused: its state is unknown. The next user takes a fresh one from the pool, so a
//! database restart costs the statements in flight at the time and nothing after.

use std::ops::{Deref, DerefMut};

use sqlx::pool::PoolConnection;
use sqlx::{PgConnection, PgPool, Postgres};
use tokio::sync::{Mutex, MutexGuard};

use crate::StoreError;

type Slot = Option<PoolConnection<Postgres>>;

pub(super) struct Held {
    pool: PgPool,
    slots: Vec<Mutex<Slot>>,
}

/// A connection for one use: held (kept for the next user once [`Conn::keep`] says the
/// statement succeeded) or, when every held one is busy, an ordinary pooled one.
pub(super) struct Conn<'a> {
    slot: Option<MutexGuard<'a, Slot>>,
    pooled: Option<PoolConnection<Postgres>>,
    kept: bool,
}

impl Held {
    pub fn new(pool: PgPool, slots: usize) -> Self {
        Self {
            pool,
            slots: (0..slots).map(|_| Mutex::new(None)).collect(),
        }
    }

    /// A free held connection (opened from the pool if its slot is empty), or a pooled one
    /// when all are in use.
    pub async fn get(&self) -> Result<Conn<'_>, StoreError> {
        for slot in &self.slots {
            let Ok(mut guard) = slot.try_lock() else {
                continue;
            };
            if guard.is_none() {
                *guard = Some(self.pool.acquire().await?);
            }
            return Ok(Conn {
                slot: Some(guard),
                pooled: None,
                kept: false,
            });
        }
        Ok(Conn {
            slot: None,
            pooled: Some(self.pool.acquire().await?),
            kept: false,
        })
    }
}

impl Conn<'_> {
    /// The statements succeeded: the connection may be used again.
    pub fn keep(mut self) {
        self.kept = true;
    }
}

impl Deref for Conn<'_> {
    type Target = PgConnection;

    fn deref(&self) -> &PgConnection {
        match (&self.slot, &self.pooled) {
            (Some(slot), _) => slot.as_ref().expect("a held slot is filled before use"),
            (None, Some(c)) => c,
            (None, None) => unreachable!("a connection is either held or pooled"),
        }
    }
}

impl DerefMut for Conn<'_> {
    fn deref_mut(&mut self) -> &mut PgConnection {
        match (&mut self.slot, &mut self.pooled) {
            (Some(slot), _) => slot.as_mut().expect("a held slot is filled before use"),
            (None, Some(c)) => c,
            (None, None) => unreachable!("a connection is either held or pooled"),
        }
    }
}

impl Drop for Conn<'_> {
    fn drop(&mut self) {
        if self.kept {
            return;
        }
        let conn = match (&mut self.slot, &mut self.pooled) {
            (Some(slot), _) => slot.take(),
            (None, pooled) => pooled.take(),
        };
        if let Some(mut conn) = conn {
            conn.close_on_drop();
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use junction_testkit::postgres::TestDb;

    async fn pool() -> Option<(TestDb, PgPool)> {
        let db = TestDb::create().await?;
        let pool = sqlx::postgres::PgPoolOptions::new()
            .max_connections(4)
            .connect(&db.url)
            .await
            .unwrap();
        Some((db, pool))
    }

    async fn backend(c: &mut PgConnection) -> i32 {
        sqlx::query_scalar("SELECT pg_backend_pid()")
            .fetch_one(c)
            .await
            .unwrap()
    }

    #[tokio::test]
    async fn a_held_connection_is_reused_until_a_statement_fails() {
        let Some((_db, pool)) = pool().await else {
            return;
        };
        let held = Held::new(pool.clone(), 1);
        let mut c = held.get().await.unwrap();
        let first = backend(&mut c).await;
        c.keep();
        let mut c = held.get().await.unwrap();
        assert_eq!(backend(&mut c).await, first, "kept for the next user");
        let failed = sqlx::query("SELECT 1/0").execute(&mut *c).await;
        assert!(failed.is_err());
        drop(c);
        let mut c = held.get().await.unwrap();
        assert_ne!(
            backend(&mut c).await,
            first,
            "a failed connection is not reused"
        );
        c.keep();
    }

    #[tokio::test]
    async fn when_every_held_connection_is_busy_the_pool_serves() {
        let Some((_db, pool)) = pool().await else {
            return;
        };
        let held = Held::new(pool.clone(), 1);
        let mut a = held.get().await.unwrap();
        let mut b = held.get().await.unwrap();
        assert_ne!(backend(&mut a).await, backend(&mut b).await);
        a.keep();
        b.keep();
        assert_eq!(
            pool.size(),
            2,
            "the held connection counts against the pool"
        );
    }
}
