//! The audit log, minute history and alerts on PostgreSQL. Appends to the audit chain take a
//! transaction-scoped advisory lock, so processes appending at once still form one chain.

use sqlx::postgres::PgRow;
use sqlx::{PgPool, Row};

use crate::ops::sql;
use crate::{AlertChange, AlertRecord, AuditRecord, MinuteRow, NewAudit, StoreError};

/// Key of the advisory lock that serialises audit appends.
const AUDIT_LOCK: i64 = 0x6a75_6e61_7564_i64;

fn p(n: usize) -> String {
    format!("${n}")
}

fn audit_row(r: &PgRow) -> Result<AuditRecord, StoreError> {
    Ok(AuditRecord {
        seq: r.try_get("seq")?,
        at: r.try_get("at")?,
        actor: r.try_get("actor")?,
        action: r.try_get("action")?,
        target: r.try_get("target")?,
        origin: r.try_get("origin")?,
        detail: r.try_get("detail")?,
        prev_hash: r.try_get("prev_hash")?,
        hash: r.try_get("hash")?,
    })
}

pub(super) async fn head(pool: &PgPool) -> Result<Option<(i64, String)>, StoreError> {
    let row = sqlx::query(sql::HEAD).fetch_optional(pool).await?;
    row.map(|r| Ok((r.try_get("seq")?, r.try_get("hash")?)))
        .transpose()
}

pub(super) async fn append_audit(pool: &PgPool, e: NewAudit) -> Result<AuditRecord, StoreError> {
    let mut tx = pool.begin().await?;
    sqlx::query("SELECT pg_advisory_xact_lock($1)")
        .bind(AUDIT_LOCK)
        .execute(&mut *tx)
        .await?;
    let head = sqlx::query(sql::HEAD)
        .fetch_optional(&mut *tx)
        .await?
        .map(|r| -> Result<(i64, String), StoreError> {
            Ok((r.try_get("seq")?, r.try_get("hash")?))
        })
        .transpose()?;
    let rec = AuditRecord::chain(head, e)?;
    sqlx::query(&sql::audit_insert(&p))
        .bind(rec.seq)
        .bind(rec.at)
        .bind(&rec.actor)
        .bind(&rec.action)
        .bind(&rec.target)
        .bind(&rec.origin)
        .bind(&rec.detail)
        .bind(&rec.prev_hash)
        .bind(&rec.hash)
        .execute(&mut *tx)
        .await?;
    sqlx::query(&sql::head_upsert(&p))
        .bind(rec.seq)
        .bind(&rec.hash)
        .execute(&mut *tx)
        .await?;
    tx.commit().await?;
    Ok(rec)
}

pub(super) async fn audit_start(pool: &PgPool) -> Result<Option<(i64, String)>, StoreError> {
    let row = sqlx::query(sql::START).fetch_optional(pool).await?;
    row.map(|r| Ok((r.try_get("seq")?, r.try_get("hash")?)))
        .transpose()
}

/// Under the audit lock, so archivers in several processes take turns.
pub(super) async fn drop_audit_through(
    pool: &PgPool,
    seq: i64,
    hash: &str,
) -> Result<u64, StoreError> {
    let mut tx = pool.begin().await?;
    sqlx::query("SELECT pg_advisory_xact_lock($1)")
        .bind(AUDIT_LOCK)
        .execute(&mut *tx)
        .await?;
    let kept: Option<String> = sqlx::query_scalar(&sql::hash_of(&p))
        .bind(seq)
        .fetch_optional(&mut *tx)
        .await?;
    if kept.as_deref() != Some(hash) {
        return Ok(0);
    }
    let n = sqlx::query(&sql::delete_through(&p))
        .bind(seq)
        .execute(&mut *tx)
        .await?
        .rows_affected();
    sqlx::query(&sql::start_upsert(&p))
        .bind(seq)
        .bind(hash)
        .execute(&mut *tx)
        .await?;
    tx.commit().await?;
    Ok(n)
}

pub(super) async fn audit_after(
    pool: &PgPool,
    after: i64,
    limit: usize,
) -> Result<Vec<AuditRecord>, StoreError> {
    let rows = sqlx::query(&sql::audit_page(&p))
        .bind(after)
        .bind(limit as i64)
        .fetch_all(pool)
        .await?;
    rows.iter().map(audit_row).collect()
}

pub(super) async fn audit_newest(
    pool: &PgPool,
    limit: usize,
) -> Result<Vec<AuditRecord>, StoreError> {
    let rows = sqlx::query(&sql::audit_newest(&p))
        .bind(limit as i64)
        .fetch_all(pool)
        .await?;
    rows.iter().map(audit_row).collect()
}

pub(super) async fn save_minutes(pool: &PgPool, rows: &[MinuteRow]) -> Result<(), StoreError> {
    let sql = sql::minutes_upsert(&p);
    let mut tx = pool.begin().await?;
    for r in rows {
        sqlx::query(&sql)
            .bind(r.minute)
            .bind(&r.kind)
            .bind(&r.name)
            .bind(&r.node)
            .bind(&r.counts)
            .bind(&r.hist)
            .execute(&mut *tx)
            .await?;
    }
    tx.commit().await?;
    Ok(())
}

pub(super) async fn minutes(pool: &PgPool, since: i64) -> Result<Vec<MinuteRow>, StoreError> {
    let rows = sqlx::query(&sql::minutes_since(&p))
        .bind(since)
        .fetch_all(pool)
        .await?;
    rows.iter()
        .map(|r| {
            Ok(MinuteRow {
                minute: r.try_get("minute")?,
                kind: r.try_get("kind")?,
                name: r.try_get("name")?,
                node: r.try_get("node")?,
                counts: r.try_get("counts")?,
                hist: r.try_get("hist")?,
            })
        })
        .collect()
}

pub(super) async fn purge_minutes(pool: &PgPool, before: i64) -> Result<u64, StoreError> {
    Ok(sqlx::query(&sql::minutes_purge(&p))
        .bind(before)
        .execute(pool)
        .await?
        .rows_affected())
}

pub(super) async fn change_alert(pool: &PgPool, a: &AlertChange) -> Result<bool, StoreError> {
    let key = a.key();
    if a.refresh {
        sqlx::query(&sql::alert_refresh(&p))
            .bind(a.value)
            .bind(&a.message)
            .bind(&key)
            .execute(pool)
            .await?;
        return Ok(false);
    }
    let done = if a.fire {
        sqlx::query(&sql::alert_fire(&p))
            .bind(&key)
            .bind(&a.rule)
            .bind(&a.subject)
            .bind(&a.severity)
            .bind(a.value)
            .bind(&a.message)
            .bind(a.at)
            .bind(a.at)
            .execute(pool)
            .await?
    } else {
        sqlx::query(&sql::alert_resolve(&p))
            .bind(a.value)
            .bind(&a.message)
            .bind(a.at)
            .bind(a.at)
            .bind(&key)
            .execute(pool)
            .await?
    };
    Ok(done.rows_affected() == 1)
}

pub(super) async fn alerts(pool: &PgPool) -> Result<Vec<AlertRecord>, StoreError> {
    let rows = sqlx::query(&sql::alerts_all()).fetch_all(pool).await?;
    rows.iter()
        .map(|r| {
            Ok(AlertRecord {
                key: r.try_get("key")?,
                rule: r.try_get("rule")?,
                subject: r.try_get("subject")?,
                severity: r.try_get("severity")?,
                state: r.try_get("state")?,
                value: r.try_get("value")?,
                message: r.try_get("message")?,
                since: r.try_get("since")?,
                updated_at: r.try_get("updated_at")?,
                fired_count: r.try_get("fired_count")?,
            })
        })
        .collect()
}
