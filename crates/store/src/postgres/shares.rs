//! Shared quotas and circuits on PostgreSQL: the quota's row is locked for the renewal, and
//! every time is the database's clock (`clock_timestamp()`), so processes whose clocks differ
//! agree on whose lease has lapsed.

use sqlx::{PgPool, Row};

use crate::shares::{self, sql, Holder, OpenCircuit, ShareGrant, ShareRequest};
use crate::StoreError;

fn p(n: usize) -> String {
    format!("${n}")
}

/// The database's clock, in Unix milliseconds.
const NOW: &str = "(extract(epoch FROM clock_timestamp()) * 1000)::bigint";

pub(super) async fn renew(pool: &PgPool, req: &ShareRequest) -> Result<ShareGrant, StoreError> {
    let mut tx = pool.begin().await?;
    sqlx::query(&sql::ensure(&p))
        .bind(&req.quota)
        .execute(&mut *tx)
        .await?;
    let row = sqlx::query(&format!(
        "SELECT paused_until, learned, {NOW} FROM quotas WHERE name = $1 FOR UPDATE"
    ))
    .bind(&req.quota)
    .fetch_one(&mut *tx)
    .await?;
    let (paused_until, learned, now): (i64, String, i64) =
        (row.try_get(0)?, row.try_get(1)?, row.try_get(2)?);
    let holders = sqlx::query(&sql::holders(&p))
        .bind(&req.quota)
        .fetch_all(&mut *tx)
        .await?
        .iter()
        .map(|r| {
            Ok(Holder {
                holder: r.try_get(0)?,
                claim: u32::try_from(r.try_get::<i64, _>(1)?).unwrap_or(shares::WHOLE),
                want: u32::try_from(r.try_get::<i64, _>(2)?).unwrap_or(shares::WHOLE),
                expires_at: r.try_get(3)?,
                hold_ms: r.try_get(4)?,
            })
        })
        .collect::<Result<Vec<_>, StoreError>>()?;
    let decision = shares::decide(req, &holders, now);
    sqlx::query(&sql::forget(&p))
        .bind(&req.quota)
        .bind(now)
        .execute(&mut *tx)
        .await?;
    sqlx::query(&sql::upsert(&p))
        .bind(&req.quota)
        .bind(&req.holder)
        .bind(i64::from(decision.claim))
        .bind(i64::from(req.want))
        .bind(now.saturating_add(req.ttl_ms))
        .bind(req.hold_ms)
        .execute(&mut *tx)
        .await?;
    let (pause, merged) = shares::next_quota_row(paused_until, &learned, req, now);
    let encoded = shares::encode_learned(&merged);
    if pause != paused_until || encoded != learned {
        sqlx::query(&sql::set_quota(&p))
            .bind(pause)
            .bind(&encoded)
            .bind(&req.quota)
            .execute(&mut *tx)
            .await?;
    }
    tx.commit().await?;
    Ok(ShareGrant {
        share: decision.share,
        ttl_ms: req.ttl_ms,
        paused_for_ms: (pause > now).then(|| pause - now),
        learned: merged,
        holders: decision.holders,
    })
}

pub(super) async fn mark(
    pool: &PgPool,
    name: &str,
    open_for_ms: Option<i64>,
    by: &str,
) -> Result<(), StoreError> {
    match open_for_ms {
        Some(ms) => {
            sqlx::query(&sql::open_circuit(&|n| {
                if n == 2 {
                    format!("{NOW} + $2")
                } else {
                    p(n)
                }
            }))
            .bind(name)
            .bind(ms)
            .bind(by)
            .execute(pool)
            .await?;
        }
        None => {
            sqlx::query(&sql::close_circuit(&p))
                .bind(name)
                .bind(by)
                .execute(pool)
                .await?;
        }
    }
    Ok(())
}

pub(super) async fn open(pool: &PgPool) -> Result<Vec<OpenCircuit>, StoreError> {
    sqlx::query(&sql::open_circuits(&|_| NOW.to_string()))
        .fetch_all(pool)
        .await?
        .iter()
        .map(|r| {
            Ok(OpenCircuit {
                name: r.try_get(0)?,
                open_for_ms: r.try_get(1)?,
                by: r.try_get(2)?,
            })
        })
        .collect()
}
