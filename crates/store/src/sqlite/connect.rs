//! Connections and API tokens on SQLite.

use rusqlite::{params, Connection as Db, OptionalExtension, Row};

use crate::connect_sql as sql;
use crate::*;

fn connection(r: &Row<'_>) -> rusqlite::Result<Connection> {
    Ok(Connection {
        connector: r.get(0)?,
        name: r.get(1)?,
        state: r.get(2)?,
        expires_at: r.get(3)?,
        refresh_at: r.get(4)?,
        refresh_epoch: r.get(5)?,
        refresh_until: r.get(6)?,
        token_version: r.get(7)?,
        failures: r.get(8)?,
        last_error: r.get(9)?,
        updated_at: r.get(10)?,
    })
}

fn token(r: &Row<'_>) -> rusqlite::Result<ApiToken> {
    Ok(ApiToken {
        id: r.get(0)?,
        name: r.get(1)?,
        token_hash: r.get(2)?,
        scopes: r.get(3)?,
        created_at: r.get(4)?,
        expires_at: r.get(5)?,
        revoked_at: r.get(6)?,
    })
}

pub(super) fn one(c: &Db, connector: &str, name: &str) -> Result<Option<Connection>, StoreError> {
    Ok(c.prepare_cached(&sql::connection())?
        .query_row([connector, name], connection)
        .optional()?)
}

pub(super) fn all(c: &Db) -> Result<Vec<Connection>, StoreError> {
    let mut stmt = c.prepare_cached(&sql::connections())?;
    let rows = stmt.query_map([], connection)?;
    Ok(rows.collect::<Result<_, _>>()?)
}

pub(super) fn lease(
    c: &mut Db,
    connector: &str,
    name: &str,
    now: i64,
    until: i64,
    seen_version: i64,
) -> Result<Option<i64>, StoreError> {
    let tx = c.transaction()?;
    tx.prepare_cached(sql::ENSURE)?
        .execute(params![connector, name, now])?;
    let epoch = tx
        .prepare_cached(sql::LEASE)?
        .query_row(params![until, connector, name, now, seen_version], |r| {
            r.get(0)
        })
        .optional()?;
    tx.commit()?;
    Ok(epoch)
}

pub(super) fn save(c: &mut Db, s: &SaveTokens) -> Result<bool, StoreError> {
    let tx = c.transaction()?;
    let applied = match s.epoch {
        Some(epoch) => {
            tx.prepare_cached(sql::SAVE_FENCED)?.execute(params![
                s.expires_at,
                s.refresh_at,
                s.now,
                s.connector,
                s.name,
                epoch
            ])? == 1
        }
        None => {
            tx.prepare_cached(sql::SAVE_SEEDED)?.execute(params![
                s.connector,
                s.name,
                s.expires_at,
                s.refresh_at,
                s.now
            ])?;
            true
        }
    };
    if applied {
        for secret in &s.secrets {
            super::vault::put(&tx, secret)?;
        }
        tx.commit()?;
    }
    Ok(applied)
}

pub(super) fn failed(c: &Db, f: &RefreshFailed) -> Result<Option<Connection>, StoreError> {
    Ok(c.prepare_cached(&sql::failed())?
        .query_row(
            params![f.error, f.now, f.reauth_after, f.connector, f.name, f.epoch],
            connection,
        )
        .optional()?)
}

pub(super) fn delete(c: &Db, connector: &str, name: &str) -> Result<bool, StoreError> {
    Ok(c.prepare_cached(sql::DELETE)?.execute([connector, name])? == 1)
}

pub(super) fn add_token(c: &Db, t: &ApiToken) -> Result<(), StoreError> {
    c.prepare_cached(sql::ADD_TOKEN)?.execute(params![
        t.id,
        t.name,
        t.token_hash,
        t.scopes,
        t.created_at,
        t.expires_at
    ])?;
    Ok(())
}

pub(super) fn token_by_hash(c: &Db, hash: &[u8]) -> Result<Option<ApiToken>, StoreError> {
    Ok(c.prepare_cached(&sql::token_by_hash())?
        .query_row([hash], token)
        .optional()?)
}

pub(super) fn tokens(c: &Db) -> Result<Vec<ApiToken>, StoreError> {
    let mut stmt = c.prepare_cached(&sql::tokens())?;
    let rows = stmt.query_map([], token)?;
    Ok(rows.collect::<Result<_, _>>()?)
}

pub(super) fn revoke(c: &Db, id: &str, now: i64) -> Result<bool, StoreError> {
    Ok(c.prepare_cached(sql::REVOKE_TOKEN)?
        .execute(params![now, id])?
        == 1)
}
