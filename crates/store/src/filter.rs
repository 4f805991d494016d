//! The dead-letter filter as SQL, written once for both backends (they differ only in how a
//! parameter and a list of ids are spelled).

use crate::{DeadFilter, DeliveryFilter, EventFilter};

/// A bound value.
pub(crate) enum Param {
    Int(i64),
    Text(String),
    Ids(Vec<i64>),
}

/// How a backend spells parameter `n` (1-based) and "id is in list parameter `n`".
pub(crate) struct Dialect {
    pub param: fn(usize) -> String,
    pub in_ids: fn(&str, usize) -> String,
}

pub(crate) const SQLITE: Dialect = Dialect {
    param: |n| format!("?{n}"),
    in_ids: |col, n| format!("{col} IN (SELECT value FROM json_each(?{n}))"),
};

pub(crate) const POSTGRES: Dialect = Dialect {
    param: |n| format!("${n}"),
    in_ids: |col, n| format!("{col} = ANY(${n})"),
};

/// `WHERE …` over `deliveries d JOIN events e` for dead letters matching `f` with `d.id > after`,
/// and its parameters in order.
pub(crate) fn dead_where(f: &DeadFilter, after: i64, dialect: &Dialect) -> (String, Vec<Param>) {
    let mut params = vec![Param::Int(after)];
    let state = if f.quarantined { "quarantined" } else { "dead" };
    let mut sql = format!(
        "WHERE d.state = '{state}' AND d.id > {}",
        (dialect.param)(1)
    );
    // `clause` gets the new parameter's number.
    let mut add = |sql: &mut String, clause: &dyn Fn(usize) -> String, p: Param| {
        params.push(p);
        sql.push_str(" AND ");
        sql.push_str(&clause(params.len()));
    };
    let p = |n: usize| (dialect.param)(n);
    if !f.ids.is_empty() {
        add(
            &mut sql,
            &|n| (dialect.in_ids)("d.id", n),
            Param::Ids(f.ids.clone()),
        );
    }
    let text: [(&Option<String>, &str); 4] = [
        (&f.source, "e.source"),
        (&f.destination, "d.destination"),
        (&f.route, "d.route"),
        (&f.event_type, "e.event_type"),
    ];
    for (value, column) in text {
        if let Some(v) = value {
            add(
                &mut sql,
                &|n| format!("{column} = {}", p(n)),
                Param::Text(v.clone()),
            );
        }
    }
    if let Some(since) = f.since {
        add(
            &mut sql,
            &|n| format!("d.finished_at >= {}", p(n)),
            Param::Int(since),
        );
    }
    if let Some(until) = f.until {
        add(
            &mut sql,
            &|n| format!("d.finished_at < {}", p(n)),
            Param::Int(until),
        );
    }
    if let Some(err) = &f.error {
        let pattern = format!(
            "%{}%",
            err.replace('\\', "\\\\")
                .replace('%', "\\%")
                .replace('_', "\\_")
        );
        add(
            &mut sql,
            &|n| {
                let p = p(n);
                format!(
                    "(COALESCE(d.dead_reason, '') LIKE {p} ESCAPE '\\' OR COALESCE(d.last_error, '') LIKE {p} ESCAPE '\\')"
                )
            },
            Param::Text(pattern),
        );
    }
    (sql, params)
}

/// `WHERE a = ? AND b >= ? …` of the given equalities (`column`, text) and comparisons
/// (`column op`, integer), skipping those without a value; empty when none has one.
fn conjunction(
    equal: &[(Option<&str>, &str)],
    compare: &[(Option<i64>, &str)],
    dialect: &Dialect,
) -> (String, Vec<Param>) {
    let mut params = Vec::new();
    let mut clauses = Vec::new();
    for (value, column) in equal {
        if let Some(v) = value {
            params.push(Param::Text((*v).to_owned()));
            clauses.push(format!("{column} = {}", (dialect.param)(params.len())));
        }
    }
    for (value, cmp) in compare {
        if let Some(v) = value {
            params.push(Param::Int(*v));
            clauses.push(format!("{cmp} {}", (dialect.param)(params.len())));
        }
    }
    let sql = if clauses.is_empty() {
        String::new()
    } else {
        format!("WHERE {}", clauses.join(" AND "))
    };
    (sql, params)
}

/// `WHERE …` over `events` for `f`, and its parameters in order.
pub(crate) fn event_where(f: &EventFilter, dialect: &Dialect) -> (String, Vec<Param>) {
    conjunction(
        &[
            (f.source.as_deref(), "source"),
            (f.event_type.as_deref(), "event_type"),
            (f.entity_key.as_deref(), "entity_key"),
            (f.external_id.as_deref(), "external_id"),
        ],
        &[
            (f.since, "received_at >="),
            (f.until, "received_at <"),
            (f.before_id, "id <"),
        ],
        dialect,
    )
}

/// `WHERE …` over `deliveries d JOIN events e` for `f`, and its parameters in order.
pub(crate) fn delivery_where(f: &DeliveryFilter, dialect: &Dialect) -> (String, Vec<Param>) {
    conjunction(
        &[
            (f.state.map(|s| s.as_str()), "d.state"),
            (f.destination.as_deref(), "d.destination"),
            (f.route.as_deref(), "d.route"),
            (f.source.as_deref(), "e.source"),
        ],
        &[
            (f.since, "d.created_at >="),
            (f.until, "d.created_at <"),
            (f.before_id, "d.id <"),
        ],
        dialect,
    )
}
