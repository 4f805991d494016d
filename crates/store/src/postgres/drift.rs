//! The drift table on PostgreSQL.

use sqlx::{PgPool, Row};

use crate::drift_sql;
use crate::{DriftRecord, LearnedShape, StoreError};

fn p(n: usize) -> String {
    format!("${n}")
}

pub(super) async fn record(pool: &PgPool, records: &[DriftRecord]) -> Result<(), StoreError> {
    let sql = drift_sql::upsert("GREATEST", "LEAST", &p);
    let mut tx = pool.begin().await?;
    for r in records {
        sqlx::query(&sql)
            .bind(&r.scope)
            .bind(&r.subject)
            .bind(&r.path)
            .bind(&r.kind)
            .bind(&r.detail)
            .bind(r.first_seen)
            .bind(r.last_seen)
            .bind(r.count)
            .execute(&mut *tx)
            .await?;
    }
    tx.commit().await?;
    Ok(())
}

pub(super) async fn list(pool: &PgPool, limit: usize) -> Result<Vec<DriftRecord>, StoreError> {
    let rows = sqlx::query(&drift_sql::list(&p))
        .bind(limit as i64)
        .fetch_all(pool)
        .await?;
    rows.iter()
        .map(|r| {
            Ok(DriftRecord {
                scope: r.try_get("scope")?,
                subject: r.try_get("subject")?,
                path: r.try_get("path")?,
                kind: r.try_get("kind")?,
                detail: r.try_get("detail")?,
                first_seen: r.try_get("first_seen")?,
                last_seen: r.try_get("last_seen")?,
                count: r.try_get("count")?,
            })
        })
        .collect()
}

pub(super) async fn save_shapes(pool: &PgPool, shapes: &[LearnedShape]) -> Result<(), StoreError> {
    let sql = drift_sql::save_shape(&p);
    let mut tx = pool.begin().await?;
    for s in shapes {
        sqlx::query(&sql)
            .bind(&s.scope)
            .bind(&s.subject)
            .bind(s.samples)
            .bind(&s.shape)
            .bind(s.saved_at)
            .execute(&mut *tx)
            .await?;
    }
    sqlx::query(&drift_sql::trim_shapes())
        .execute(&mut *tx)
        .await?;
    tx.commit().await?;
    Ok(())
}

pub(super) async fn shapes(pool: &PgPool, limit: usize) -> Result<Vec<LearnedShape>, StoreError> {
    sqlx::query(&drift_sql::shapes(&p))
        .bind(limit as i64)
        .fetch_all(pool)
        .await?
        .iter()
        .map(|r| {
            Ok(LearnedShape {
                scope: r.try_get(0)?,
                subject: r.try_get(1)?,
                samples: r.try_get(2)?,
                shape: r.try_get(3)?,
                saved_at: r.try_get(4)?,
            })
        })
        .collect()
}
