//! Pulled records on SQLite: a page judged and written on the writer thread, in one transaction.

use rusqlite::{params, Connection, OptionalExtension};

use crate::syncs::{judge, one_per_key, Known, PageOutcome, SyncPage};
use crate::writes::{Write, Written};
use crate::{Appended, StoreError};

pub(super) fn checkpoint(
    c: &Connection,
    source: &str,
    lane: &str,
) -> Result<Option<String>, StoreError> {
    Ok(
        c.prepare_cached("SELECT state FROM sync_checkpoints WHERE source = ?1 AND lane = ?2")?
            .query_row(params![source, lane], |r| r.get(0))
            .optional()?,
    )
}

/// Most keys looked up by one statement.
const LOOKUP: usize = 500;

/// What is known of `keys`' entities: a statement per [`LOOKUP`] keys, not one per key.
fn known(
    tx: &Connection,
    source: &str,
    keys: &[&str],
) -> Result<std::collections::HashMap<String, Known>, StoreError> {
    let mut out = std::collections::HashMap::with_capacity(keys.len());
    for chunk in keys.chunks(LOOKUP) {
        let marks = vec!["?"; chunk.len()].join(", ");
        let mut stmt = tx.prepare_cached(&format!(
            "SELECT key, seq, hash FROM entities WHERE source = ? AND key IN ({marks})"
        ))?;
        let args = std::iter::once(&source as &dyn rusqlite::ToSql)
            .chain(chunk.iter().map(|k| k as &dyn rusqlite::ToSql));
        let mut rows = stmt.query(rusqlite::params_from_iter(args))?;
        while let Some(row) = rows.next()? {
            out.insert(
                row.get(0)?,
                Known {
                    seq: row.get(1)?,
                    hash: row.get(2)?,
                },
            );
        }
    }
    Ok(out)
}

pub(super) fn page(c: &mut Connection, page: SyncPage) -> Result<PageOutcome, StoreError> {
    let tx = c.transaction_with_behavior(rusqlite::TransactionBehavior::Immediate)?;
    let mut out = PageOutcome::default();
    let records = one_per_key(page.records);
    let keys: Vec<&str> = records.iter().map(|r| r.key.as_str()).collect();
    let known = known(&tx, &page.source, &keys)?;
    drop(keys);
    for r in records {
        let verdict = judge(known.get(&r.key), &r);
        verdict.count(&mut out);
        let (key, seq, hash, deleted) = (r.key, r.seq, r.hash, r.deleted);
        let mut erased = false;
        if verdict.emits() {
            let destinations: Vec<String> = r
                .event
                .deliveries
                .iter()
                .map(|d| d.destination.clone())
                .collect();
            let written = super::writer::apply(&tx, &Write::Append(r.event))??;
            // An erased subject's record is not brought back, nor is its entity remembered.
            erased = matches!(written, Written::Appended(Appended::Erased));
            if let Written::Appended(Appended::Created { .. }) = written {
                for d in destinations {
                    if !out.destinations.contains(&d) {
                        out.destinations.push(d);
                    }
                }
            }
        }
        if deleted || erased {
            tx.prepare_cached("DELETE FROM entities WHERE source = ?1 AND key = ?2")?
                .execute(params![page.source, key])?;
        } else if verdict.emits() {
            tx.prepare_cached(
                "INSERT INTO entities (source, key, seq, hash, seen_at) VALUES (?1, ?2, ?3, ?4, ?5)
                 ON CONFLICT (source, key) DO UPDATE SET seq = excluded.seq, hash = excluded.hash, seen_at = excluded.seen_at",
            )?
            .execute(params![page.source, key, seq, hash, page.now])?;
        } else {
            tx.prepare_cached("UPDATE entities SET seen_at = ?3 WHERE source = ?1 AND key = ?2")?
                .execute(params![page.source, key, page.now])?;
        }
    }
    if let Some((lane, state)) = &page.checkpoint {
        tx.prepare_cached(
            "INSERT INTO sync_checkpoints (source, lane, state, updated_at) VALUES (?1, ?2, ?3, ?4)
             ON CONFLICT (source, lane) DO UPDATE SET state = excluded.state, updated_at = excluded.updated_at",
        )?
        .execute(params![page.source, lane, state, page.now])?;
    }
    tx.commit()?;
    Ok(out)
}

pub(super) fn counts(c: &Connection, source: &str, before: i64) -> Result<(u64, u64), StoreError> {
    Ok(c.prepare_cached(
        "SELECT COUNT(*), COALESCE(SUM(CASE WHEN seen_at < ?2 THEN 1 ELSE 0 END), 0)
         FROM entities WHERE source = ?1",
    )?
    .query_row(params![source, before], |r| {
        Ok((r.get::<_, i64>(0)? as u64, r.get::<_, i64>(1)? as u64))
    })?)
}

pub(super) fn absent(
    c: &Connection,
    source: &str,
    before: i64,
    after: &str,
    limit: usize,
) -> Result<Vec<String>, StoreError> {
    let mut stmt = c.prepare_cached(
        "SELECT key FROM entities WHERE source = ?1 AND seen_at < ?2 AND key > ?3 ORDER BY key LIMIT ?4",
    )?;
    let rows = stmt.query_map(params![source, before, after, limit as i64], |r| r.get(0))?;
    Ok(rows.collect::<Result<_, _>>()?)
}
