//! The rejected-requests table on PostgreSQL.

use sqlx::{PgPool, Row};

use crate::rejected_sql;
use crate::{RejectedRequest, StoreError};

fn p(n: usize) -> String {
    format!("${n}")
}

pub(super) async fn record(
    pool: &PgPool,
    r: &RejectedRequest,
    keep: usize,
) -> Result<(), StoreError> {
    let headers = serde_json::to_string(&r.headers).unwrap_or_else(|_| "[]".into());
    let mut tx = pool.begin().await?;
    sqlx::query(&rejected_sql::insert(&p))
        .bind(&r.source)
        .bind(r.at_ms)
        .bind(&r.reason)
        .bind(r.status)
        .bind(&r.detail)
        .bind(headers)
        .bind(&r.body)
        .bind(r.size)
        .execute(&mut *tx)
        .await?;
    sqlx::query(&rejected_sql::trim(&p))
        .bind(&r.source)
        .bind(keep as i64)
        .execute(&mut *tx)
        .await?;
    tx.commit().await?;
    Ok(())
}

pub(super) async fn list(
    pool: &PgPool,
    source: Option<String>,
    limit: usize,
) -> Result<Vec<RejectedRequest>, StoreError> {
    let rows = sqlx::query(&rejected_sql::list(&p))
        .bind(source)
        .bind(limit as i64)
        .fetch_all(pool)
        .await?;
    rows.iter()
        .map(|r| {
            let headers: String = r.try_get("headers")?;
            Ok(RejectedRequest {
                id: r.try_get("id")?,
                source: r.try_get("source")?,
                at_ms: r.try_get("at_ms")?,
                reason: r.try_get("reason")?,
                status: r.try_get("status")?,
                detail: r.try_get("detail")?,
                headers: serde_json::from_str(&headers).unwrap_or_default(),
                body: r.try_get("body")?,
                size: r.try_get("size")?,
            })
        })
        .collect()
}
