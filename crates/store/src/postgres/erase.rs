//! Erasure by data subject on PostgreSQL. The rows go in one transaction; their bytes stay in
//! dead tuples until vacuum reclaims the space and in the server's WAL until it is recycled
//! (docs/data-protection.md says what that means for backups and archives).

use sqlx::{PgPool, Row};

use crate::erase_sql;
use crate::{Erase, ErasedCounts, ErasureRecord, StoreError};

fn p(n: usize) -> String {
    format!("${n}")
}

fn has(column: &str, param: &str) -> String {
    format!("strpos({column}, {param}) > 0")
}

pub(super) async fn erase(pool: &PgPool, e: &Erase) -> Result<ErasedCounts, StoreError> {
    let mut tx = pool.begin().await?;
    let ids: Vec<i64> = sqlx::query_scalar(&erase_sql::events_of(&p))
        .bind(&e.subject[..])
        .fetch_all(&mut *tx)
        .await?;
    let mut by_subject = [0u64; 5];
    if !ids.is_empty() {
        let among = |column: &str| format!("{column} = ANY($1)");
        for (i, sql) in erase_sql::by_subject(&among).iter().enumerate() {
            by_subject[i] = sqlx::query(sql)
                .bind(&ids)
                .execute(&mut *tx)
                .await?
                .rows_affected();
        }
    }
    let mut by_value = [0u64; 3];
    if let Some(v) = e.value.as_deref().filter(|v| !v.is_empty()) {
        for (i, sql) in erase_sql::by_value(&p, &has).iter().enumerate() {
            by_value[i] = sqlx::query(sql)
                .bind(v)
                .execute(&mut *tx)
                .await?
                .rows_affected();
        }
    }
    let counts = erase_sql::counts(by_subject, by_value);
    if e.record {
        sqlx::query(&erase_sql::record(&p))
            .bind(&e.subject[..])
            .bind(e.at)
            .bind(&e.actor)
            .bind(&e.reason)
            .bind(serde_json::to_string(&counts).unwrap_or_default())
            .execute(&mut *tx)
            .await?;
    }
    tx.commit().await?;
    Ok(counts)
}

fn read(r: sqlx::postgres::PgRow) -> Result<ErasureRecord, StoreError> {
    Ok(erase_sql::row(
        r.try_get(0)?,
        r.try_get(1)?,
        r.try_get(2)?,
        r.try_get(3)?,
        r.try_get(4)?,
        r.try_get(5)?,
    ))
}

pub(super) async fn newest(pool: &PgPool, limit: usize) -> Result<Vec<ErasureRecord>, StoreError> {
    sqlx::query(&erase_sql::newest(&p))
        .bind(limit as i64)
        .fetch_all(pool)
        .await?
        .into_iter()
        .map(read)
        .collect()
}
