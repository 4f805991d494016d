//! The vault's rows on PostgreSQL.

use sqlx::postgres::PgRow;
use sqlx::{PgPool, Row};

use crate::vault_sql as sql;
use crate::*;

fn sealed(r: &PgRow) -> Result<SealedSecret, StoreError> {
    Ok(SealedSecret {
        name: r.try_get(0)?,
        version: r.try_get(1)?,
        master_version: r.try_get(2)?,
        wrapped_key: r.try_get(3)?,
        ciphertext: r.try_get(4)?,
        created_at: r.try_get(5)?,
        updated_at: r.try_get(6)?,
    })
}

pub(super) async fn keys(pool: &PgPool) -> Result<Vec<VaultKey>, StoreError> {
    sqlx::query(sql::KEYS)
        .fetch_all(pool)
        .await?
        .iter()
        .map(|r| {
            Ok(VaultKey {
                version: r.try_get(0)?,
                check: r.try_get(1)?,
                created_at: r.try_get(2)?,
            })
        })
        .collect()
}

pub(super) async fn add_key(pool: &PgPool, key: &VaultKey) -> Result<(), StoreError> {
    sqlx::query(sql::ADD_KEY)
        .bind(key.version)
        .bind(&key.check)
        .bind(key.created_at)
        .execute(pool)
        .await?;
    Ok(())
}

pub(super) async fn put(pool: &PgPool, s: &SealedSecret) -> Result<i64, StoreError> {
    let r = sqlx::query(sql::PUT)
        .bind(&s.name)
        .bind(s.master_version)
        .bind(&s.wrapped_key)
        .bind(&s.ciphertext)
        .bind(s.updated_at)
        .fetch_one(pool)
        .await?;
    Ok(r.try_get(0)?)
}

pub(super) async fn put_new(pool: &PgPool, s: &SealedSecret) -> Result<bool, StoreError> {
    let r = sqlx::query(sql::PUT_NEW)
        .bind(&s.name)
        .bind(s.master_version)
        .bind(&s.wrapped_key)
        .bind(&s.ciphertext)
        .bind(s.updated_at)
        .execute(pool)
        .await?;
    Ok(r.rows_affected() == 1)
}

pub(super) async fn one(pool: &PgPool, name: &str) -> Result<Option<SealedSecret>, StoreError> {
    sqlx::query(&sql::one())
        .bind(name)
        .fetch_optional(pool)
        .await?
        .as_ref()
        .map(sealed)
        .transpose()
}

pub(super) async fn all(pool: &PgPool) -> Result<Vec<SealedSecret>, StoreError> {
    sqlx::query(&sql::all())
        .fetch_all(pool)
        .await?
        .iter()
        .map(sealed)
        .collect()
}

pub(super) async fn delete(pool: &PgPool, name: &str) -> Result<bool, StoreError> {
    Ok(sqlx::query(sql::DELETE)
        .bind(name)
        .execute(pool)
        .await?
        .rows_affected()
        == 1)
}

pub(super) async fn rewrap(
    pool: &PgPool,
    name: &str,
    version: i64,
    master_version: i64,
    wrapped_key: &[u8],
) -> Result<bool, StoreError> {
    Ok(sqlx::query(sql::REWRAP)
        .bind(master_version)
        .bind(wrapped_key)
        .bind(name)
        .bind(version)
        .execute(pool)
        .await?
        .rows_affected()
        == 1)
}
