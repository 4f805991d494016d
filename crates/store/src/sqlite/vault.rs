//! The vault's rows on SQLite.

use rusqlite::{params, Connection, OptionalExtension, Row};

use crate::vault_sql as sql;
use crate::*;

fn sealed(r: &Row<'_>) -> rusqlite::Result<SealedSecret> {
    Ok(SealedSecret {
        name: r.get(0)?,
        version: r.get(1)?,
        master_version: r.get(2)?,
        wrapped_key: r.get(3)?,
        ciphertext: r.get(4)?,
        created_at: r.get(5)?,
        updated_at: r.get(6)?,
    })
}

pub(super) fn keys(c: &Connection) -> Result<Vec<VaultKey>, StoreError> {
    let mut stmt = c.prepare_cached(sql::KEYS)?;
    let rows = stmt.query_map([], |r| {
        Ok(VaultKey {
            version: r.get(0)?,
            check: r.get(1)?,
            created_at: r.get(2)?,
        })
    })?;
    Ok(rows.collect::<Result<_, _>>()?)
}

pub(super) fn add_key(c: &Connection, key: &VaultKey) -> Result<(), StoreError> {
    c.prepare_cached(sql::ADD_KEY)?
        .execute(params![key.version, key.check, key.created_at])?;
    Ok(())
}

pub(super) fn put(c: &Connection, s: &SealedSecret) -> Result<i64, StoreError> {
    Ok(c.prepare_cached(sql::PUT)?.query_row(
        params![
            s.name,
            s.master_version,
            s.wrapped_key,
            s.ciphertext,
            s.updated_at
        ],
        |r| r.get(0),
    )?)
}

pub(super) fn put_new(c: &Connection, s: &SealedSecret) -> Result<bool, StoreError> {
    let n = c.prepare_cached(sql::PUT_NEW)?.execute(params![
        s.name,
        s.master_version,
        s.wrapped_key,
        s.ciphertext,
        s.updated_at
    ])?;
    Ok(n == 1)
}

pub(super) fn one(c: &Connection, name: &str) -> Result<Option<SealedSecret>, StoreError> {
    Ok(c.prepare_cached(&sql::one())?
        .query_row([name], sealed)
        .optional()?)
}

pub(super) fn all(c: &Connection) -> Result<Vec<SealedSecret>, StoreError> {
    let mut stmt = c.prepare_cached(&sql::all())?;
    let rows = stmt.query_map([], sealed)?;
    Ok(rows.collect::<Result<_, _>>()?)
}

pub(super) fn delete(c: &Connection, name: &str) -> Result<bool, StoreError> {
    Ok(c.prepare_cached(sql::DELETE)?.execute([name])? == 1)
}

pub(super) fn rewrap(
    c: &Connection,
    name: &str,
    version: i64,
    master_version: i64,
    wrapped_key: &[u8],
) -> Result<bool, StoreError> {
    Ok(c.prepare_cached(sql::REWRAP)?.execute(params![
        master_version,
        wrapped_key,
        name,
        version
    ])? == 1)
}
