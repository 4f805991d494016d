//! Asynchronous operation calls on PostgreSQL.

use sqlx::postgres::PgRow;
use sqlx::{PgPool, Row};

use crate::async_calls::{self as sql, AsyncCall, NewCall};
use crate::StoreError;

fn p(n: usize) -> String {
    format!("${n}")
}

fn row(r: &PgRow) -> Result<AsyncCall, StoreError> {
    Ok(sql::from_parts((
        r.try_get(0)?,
        r.try_get(1)?,
        r.try_get(2)?,
        r.try_get(3)?,
        r.try_get(4)?,
        r.try_get(5)?,
        r.try_get(6)?,
        r.try_get(7)?,
        r.try_get(8)?,
        r.try_get(9)?,
        r.try_get(10)?,
        r.try_get(11)?,
        r.try_get(12)?,
        r.try_get(13)?,
    )))
}

pub(super) async fn queue(pool: &PgPool, call: &NewCall) -> Result<(), StoreError> {
    sqlx::query(&sql::insert(&p))
        .bind(&call.uid)
        .bind(&call.connector)
        .bind(&call.operation)
        .bind(&call.connection)
        .bind(&call.caller)
        .bind(&call.input)
        .bind(call.now)
        .bind(&call.owner)
        .bind(&call.callback)
        .execute(pool)
        .await?;
    Ok(())
}

pub(super) async fn take(
    pool: &PgPool,
    uid: &str,
    owner: &str,
    now: i64,
    stale_before: i64,
) -> Result<Option<AsyncCall>, StoreError> {
    let r = sqlx::query(&sql::take(&p))
        .bind(uid)
        .bind(owner)
        .bind(now)
        .bind(stale_before)
        .fetch_optional(pool)
        .await?;
    r.as_ref().map(row).transpose()
}

pub(super) async fn beat(
    pool: &PgPool,
    uid: &str,
    owner: &str,
    now: i64,
) -> Result<bool, StoreError> {
    Ok(sqlx::query(&sql::beat(&p))
        .bind(uid)
        .bind(owner)
        .bind(now)
        .execute(pool)
        .await?
        .rows_affected()
        > 0)
}

/// Records the answer if `owner` still holds the call and, in the same transaction, appends the
/// event that delivers it to the call's callback.
pub(super) async fn finish(
    pool: &PgPool,
    uid: &str,
    owner: &str,
    status: i32,
    body: &str,
    now: i64,
    event: Option<crate::NewEvent>,
) -> Result<bool, StoreError> {
    let mut tx = pool.begin().await?;
    let held = sqlx::query(&sql::finish(&p))
        .bind(uid)
        .bind(owner)
        .bind(status)
        .bind(body)
        .bind(now)
        .execute(&mut *tx)
        .await?
        .rows_affected()
        > 0;
    if let (true, Some(e)) = (held, event) {
        let writes = [crate::writes::Write::Append(e)];
        let batch = crate::writes::AppendBatch::new(&writes);
        super::write::append(&mut tx, &batch).await?;
    }
    tx.commit().await?;
    Ok(held)
}

pub(super) async fn get(pool: &PgPool, uid: &str) -> Result<Option<AsyncCall>, StoreError> {
    let r = sqlx::query(&sql::get(&p))
        .bind(uid)
        .fetch_optional(pool)
        .await?;
    r.as_ref().map(row).transpose()
}

pub(super) async fn abandoned(
    pool: &PgPool,
    before: i64,
    limit: usize,
) -> Result<Vec<String>, StoreError> {
    let rows = sqlx::query(&sql::abandoned(&p))
        .bind(before)
        .bind(limit as i64)
        .fetch_all(pool)
        .await?;
    rows.iter()
        .map(|r| r.try_get(0).map_err(StoreError::from))
        .collect()
}

pub(super) async fn purge(pool: &PgPool, before: i64) -> Result<u64, StoreError> {
    Ok(sqlx::query(&sql::purge(&p))
        .bind(before)
        .execute(pool)
        .await?
        .rows_affected())
}
