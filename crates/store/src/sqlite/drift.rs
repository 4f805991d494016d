//! The drift table on SQLite.

use rusqlite::{params, Connection};

use crate::drift_sql;
use crate::{DriftRecord, LearnedShape, StoreError};

fn p(n: usize) -> String {
    format!("?{n}")
}

pub(super) fn record(c: &mut Connection, records: &[DriftRecord]) -> Result<(), StoreError> {
    let tx = c.transaction()?;
    {
        let mut stmt = tx.prepare_cached(&drift_sql::upsert("MAX", "MIN", &p))?;
        for r in records {
            stmt.execute(params![
                r.scope,
                r.subject,
                r.path,
                r.kind,
                r.detail,
                r.first_seen,
                r.last_seen,
                r.count
            ])?;
        }
    }
    tx.commit()?;
    Ok(())
}

pub(super) fn list(c: &Connection, limit: usize) -> Result<Vec<DriftRecord>, StoreError> {
    let mut stmt = c.prepare_cached(&drift_sql::list(&p))?;
    let rows = stmt.query_map([limit as i64], |r| {
        Ok(DriftRecord {
            scope: r.get(0)?,
            subject: r.get(1)?,
            path: r.get(2)?,
            kind: r.get(3)?,
            detail: r.get(4)?,
            first_seen: r.get(5)?,
            last_seen: r.get(6)?,
            count: r.get(7)?,
        })
    })?;
    Ok(rows.collect::<Result<_, _>>()?)
}

pub(super) fn save_shapes(c: &mut Connection, shapes: &[LearnedShape]) -> Result<(), StoreError> {
    let tx = c.transaction()?;
    {
        let mut stmt = tx.prepare_cached(&drift_sql::save_shape(&p))?;
        for s in shapes {
            stmt.execute(params![s.scope, s.subject, s.samples, s.shape, s.saved_at])?;
        }
    }
    tx.execute(&drift_sql::trim_shapes(), [])?;
    tx.commit()?;
    Ok(())
}

pub(super) fn shapes(c: &Connection, limit: usize) -> Result<Vec<LearnedShape>, StoreError> {
    let mut stmt = c.prepare_cached(&drift_sql::shapes(&p))?;
    let rows = stmt.query_map([limit as i64], |r| {
        Ok(LearnedShape {
            scope: r.get(0)?,
            subject: r.get(1)?,
            samples: r.get(2)?,
            shape: r.get(3)?,
            saved_at: r.get(4)?,
        })
    })?;
    Ok(rows.collect::<Result<_, _>>()?)
}
