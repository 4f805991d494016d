//! Pulled records on PostgreSQL: a page judged and written in one transaction, each kind of write
//! one statement over arrays. The entity rows of the page are locked first, in key order, so two
//! processes pulling the same source judge one after the other.

use std::collections::HashMap;

use sqlx::{PgPool, Row};

use crate::syncs::{judge, one_per_key, Known, PageOutcome, SyncPage};
use crate::writes::{AppendBatch, Write};
use crate::StoreError;

pub(super) async fn checkpoint(
    pool: &PgPool,
    source: &str,
    lane: &str,
) -> Result<Option<String>, StoreError> {
    let row = sqlx::query("SELECT state FROM sync_checkpoints WHERE source = $1 AND lane = $2")
        .bind(source)
        .bind(lane)
        .fetch_optional(pool)
        .await?;
    Ok(match row {
        Some(r) => Some(r.try_get(0)?),
        None => None,
    })
}

pub(super) async fn page(pool: &PgPool, page: SyncPage) -> Result<PageOutcome, StoreError> {
    let mut records = one_per_key(page.records);
    records.sort_by(|a, b| a.key.cmp(&b.key));
    let keys: Vec<&str> = records.iter().map(|r| r.key.as_str()).collect();
    let mut tx = pool.begin().await?;
    let rows = sqlx::query(
        "SELECT key, seq, hash FROM entities WHERE source = $1 AND key = ANY($2) ORDER BY key FOR UPDATE",
    )
    .bind(&page.source)
    .bind(&keys)
    .fetch_all(&mut *tx)
    .await?;
    let mut known: HashMap<String, Known> = HashMap::with_capacity(rows.len());
    for r in rows {
        known.insert(
            r.try_get("key")?,
            Known {
                seq: r.try_get("seq")?,
                hash: r.try_get("hash")?,
            },
        );
    }
    let mut out = PageOutcome::default();
    let mut emitted: Vec<Write> = Vec::new();
    let (mut upsert, mut seen, mut gone) = (vec![], vec![], vec![]);
    for r in &records {
        let verdict = judge(known.get(&r.key), r);
        verdict.count(&mut out);
        if verdict.emits() {
            emitted.push(Write::Append(r.event.clone()));
        }
        if r.deleted {
            gone.push(r.key.as_str());
        } else if verdict.emits() {
            upsert.push(r);
        } else {
            seen.push(r.key.as_str());
        }
    }
    let batch = AppendBatch::new(&emitted);
    if !batch.firsts.is_empty() {
        let ids = super::write::append(&mut tx, &batch).await?;
        // An erased subject's record is not brought back, nor is its entity remembered.
        let erased = |r: &crate::PulledRecord| {
            ids.get(&(r.event.source.clone(), r.event.external_id.clone()))
                .is_some_and(|(id, _)| *id == crate::writes::ERASED)
        };
        gone.extend(upsert.iter().filter(|r| erased(r)).map(|r| r.key.as_str()));
        upsert.retain(|r| !erased(r));
        for w in &emitted {
            let Write::Append(e) = w else { continue };
            let created = ids
                .get(&(e.source.clone(), e.external_id.clone()))
                .is_some_and(|(_, created)| *created);
            if created {
                for d in &e.deliveries {
                    if !out.destinations.contains(&d.destination) {
                        out.destinations.push(d.destination.clone());
                    }
                }
            }
        }
    }
    if !upsert.is_empty() {
        sqlx::query(
            "INSERT INTO entities (source, key, seq, hash, seen_at)
             SELECT $1, k, s, h, $5 FROM UNNEST($2::text[], $3::int8[], $4::text[]) AS t(k, s, h)
             ON CONFLICT (source, key) DO UPDATE SET seq = EXCLUDED.seq, hash = EXCLUDED.hash, seen_at = EXCLUDED.seen_at",
        )
        .bind(&page.source)
        .bind(upsert.iter().map(|r| r.key.as_str()).collect::<Vec<_>>())
        .bind(upsert.iter().map(|r| r.seq).collect::<Vec<_>>())
        .bind(upsert.iter().map(|r| r.hash.as_str()).collect::<Vec<_>>())
        .bind(page.now)
        .execute(&mut *tx)
        .await?;
    }
    if !seen.is_empty() {
        sqlx::query("UPDATE entities SET seen_at = $3 WHERE source = $1 AND key = ANY($2)")
            .bind(&page.source)
            .bind(&seen)
            .bind(page.now)
            .execute(&mut *tx)
            .await?;
    }
    if !gone.is_empty() {
        sqlx::query("DELETE FROM entities WHERE source = $1 AND key = ANY($2)")
            .bind(&page.source)
            .bind(&gone)
            .execute(&mut *tx)
            .await?;
    }
    if let Some((lane, state)) = &page.checkpoint {
        sqlx::query(
            "INSERT INTO sync_checkpoints (source, lane, state, updated_at) VALUES ($1, $2, $3, $4)
             ON CONFLICT (source, lane) DO UPDATE SET state = EXCLUDED.state, updated_at = EXCLUDED.updated_at",
        )
        .bind(&page.source)
        .bind(lane)
        .bind(state)
        .bind(page.now)
        .execute(&mut *tx)
        .await?;
    }
    tx.commit().await?;
    Ok(out)
}

pub(super) async fn counts(
    pool: &PgPool,
    source: &str,
    before: i64,
) -> Result<(u64, u64), StoreError> {
    let r = sqlx::query(
        "SELECT COUNT(*)::int8, COUNT(*) FILTER (WHERE seen_at < $2)::int8 FROM entities WHERE source = $1",
    )
    .bind(source)
    .bind(before)
    .fetch_one(pool)
    .await?;
    Ok((
        r.try_get::<i64, _>(0)? as u64,
        r.try_get::<i64, _>(1)? as u64,
    ))
}

pub(super) async fn absent(
    pool: &PgPool,
    source: &str,
    before: i64,
    after: &str,
    limit: usize,
) -> Result<Vec<String>, StoreError> {
    let rows = sqlx::query(
        "SELECT key FROM entities WHERE source = $1 AND seen_at < $2 AND key > $3 ORDER BY key LIMIT $4",
    )
    .bind(source)
    .bind(before)
    .bind(after)
    .bind(limit as i64)
    .fetch_all(pool)
    .await?;
    rows.iter()
        .map(|r| r.try_get::<String, _>(0).map_err(StoreError::from))
        .collect()
}
