//! Connections and API tokens on PostgreSQL.

use sqlx::postgres::PgRow;
use sqlx::{PgPool, Row};

use crate::connect_sql as sql;
use crate::*;

fn connection(r: &PgRow) -> Result<Connection, StoreError> {
    Ok(Connection {
        connector: r.try_get(0)?,
        name: r.try_get(1)?,
        state: r.try_get(2)?,
        expires_at: r.try_get(3)?,
        refresh_at: r.try_get(4)?,
        refresh_epoch: r.try_get(5)?,
        refresh_until: r.try_get(6)?,
        token_version: r.try_get(7)?,
        failures: r.try_get(8)?,
        last_error: r.try_get(9)?,
        updated_at: r.try_get(10)?,
    })
}

fn token(r: &PgRow) -> Result<ApiToken, StoreError> {
    Ok(ApiToken {
        id: r.try_get(0)?,
        name: r.try_get(1)?,
        token_hash: r.try_get(2)?,
        scopes: r.try_get(3)?,
        created_at: r.try_get(4)?,
        expires_at: r.try_get(5)?,
        revoked_at: r.try_get(6)?,
    })
}

pub(super) async fn one(
    pool: &PgPool,
    connector: &str,
    name: &str,
) -> Result<Option<Connection>, StoreError> {
    sqlx::query(&sql::connection())
        .bind(connector)
        .bind(name)
        .fetch_optional(pool)
        .await?
        .as_ref()
        .map(connection)
        .transpose()
}

pub(super) async fn all(pool: &PgPool) -> Result<Vec<Connection>, StoreError> {
    sqlx::query(&sql::connections())
        .fetch_all(pool)
        .await?
        .iter()
        .map(connection)
        .collect()
}

pub(super) async fn lease(
    pool: &PgPool,
    connector: &str,
    name: &str,
    now: i64,
    until: i64,
    seen_version: i64,
) -> Result<Option<i64>, StoreError> {
    sqlx::query(sql::ENSURE)
        .bind(connector)
        .bind(name)
        .bind(now)
        .execute(pool)
        .await?;
    let row = sqlx::query(sql::LEASE)
        .bind(until)
        .bind(connector)
        .bind(name)
        .bind(now)
        .bind(seen_version)
        .fetch_optional(pool)
        .await?;
    Ok(row.map(|r| r.try_get(0)).transpose()?)
}

pub(super) async fn save(pool: &PgPool, s: &SaveTokens) -> Result<bool, StoreError> {
    let mut tx = pool.begin().await?;
    let applied = match s.epoch {
        Some(epoch) => {
            sqlx::query(sql::SAVE_FENCED)
                .bind(s.expires_at)
                .bind(s.refresh_at)
                .bind(s.now)
                .bind(&s.connector)
                .bind(&s.name)
                .bind(epoch)
                .execute(&mut *tx)
                .await?
                .rows_affected()
                == 1
        }
        None => {
            sqlx::query(sql::SAVE_SEEDED)
                .bind(&s.connector)
                .bind(&s.name)
                .bind(s.expires_at)
                .bind(s.refresh_at)
                .bind(s.now)
                .execute(&mut *tx)
                .await?;
            true
        }
    };
    if applied {
        for secret in &s.secrets {
            sqlx::query(crate::vault_sql::PUT)
                .bind(&secret.name)
                .bind(secret.master_version)
                .bind(&secret.wrapped_key)
                .bind(&secret.ciphertext)
                .bind(secret.updated_at)
                .execute(&mut *tx)
                .await?;
        }
        tx.commit().await?;
    }
    Ok(applied)
}

pub(super) async fn failed(
    pool: &PgPool,
    f: &RefreshFailed,
) -> Result<Option<Connection>, StoreError> {
    sqlx::query(&sql::failed())
        .bind(&f.error)
        .bind(f.now)
        .bind(f.reauth_after)
        .bind(&f.connector)
        .bind(&f.name)
        .bind(f.epoch)
        .fetch_optional(pool)
        .await?
        .as_ref()
        .map(connection)
        .transpose()
}

pub(super) async fn delete(pool: &PgPool, connector: &str, name: &str) -> Result<bool, StoreError> {
    Ok(sqlx::query(sql::DELETE)
        .bind(connector)
        .bind(name)
        .execute(pool)
        .await?
        .rows_affected()
        == 1)
}

pub(super) async fn add_token(pool: &PgPool, t: &ApiToken) -> Result<(), StoreError> {
    sqlx::query(sql::ADD_TOKEN)
        .bind(&t.id)
        .bind(&t.name)
        .bind(&t.token_hash)
        .bind(&t.scopes)
        .bind(t.created_at)
        .bind(t.expires_at)
        .execute(pool)
        .await?;
    Ok(())
}

pub(super) async fn token_by_hash(
    pool: &PgPool,
    hash: &[u8],
) -> Result<Option<ApiToken>, StoreError> {
    sqlx::query(&sql::token_by_hash())
        .bind(hash)
        .fetch_optional(pool)
        .await?
        .as_ref()
        .map(token)
        .transpose()
}

pub(super) async fn tokens(pool: &PgPool) -> Result<Vec<ApiToken>, StoreError> {
    sqlx::query(&sql::tokens())
        .fetch_all(pool)
        .await?
        .iter()
        .map(token)
        .collect()
}

pub(super) async fn revoke(pool: &PgPool, id: &str, now: i64) -> Result<bool, StoreError> {
    Ok(sqlx::query(sql::REVOKE_TOKEN)
        .bind(now)
        .bind(id)
        .execute(pool)
        .await?
        .rows_affected()
        == 1)
}
