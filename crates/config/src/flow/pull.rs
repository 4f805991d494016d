//! Pulled sources: `kind: sync` sources read a connector's paginated list operation on a
//! schedule, each record becoming an event routed like a webhook's.
//!
//! ```yaml
//! sources:
//!   crm-customers:
//!     kind: sync
//!     sync:
//!       connector: crm
//!       operation: list_customers   # paginated, read-only
//!       entity: customer            # events `customer.upserted` and `customer.deleted`
//!       key: .id                    # jq over the record as the operation maps it
//!       version: .updated_at        # RFC 3339 or an integer: the record's version
//!       since:                      # incremental: only records changed since the last pass
//!         param: updated_since      # the operation's query parameter
//!         format: rfc3339           # or unix, unix_ms
//!         lookback: 1m              # re-read this much before the last pass's start
//!       deletions:
//!         max_percent: 10           # a full pass deleting more waits for an operator
//! jobs:
//!   crm-sync: { every: 5m, sync: { source: crm-customers } }
//!   crm-refresh: { cron: "0 3 * * *", sync: { source: crm-customers, full: true } }
//! ```

use std::collections::BTreeMap;
use std::time::Duration;

use schemars::JsonSchema;
use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};

use crate::error::ConfigError;
use crate::units::HumanDuration;
use crate::yaml::{push, Document};
use junction_transform::Program;

/// What a sync pulls and how its records become events.
#[derive(Debug, Deserialize, Serialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct RawPull {
    /// The connector whose operation is read.
    pub connector: String,
    /// A paginated operation that reads (GET): each page's records, as its response mapping and
    /// model make them, become events.
    pub operation: String,
    /// Fixed parameters of every call (`{ status: active }`).
    #[serde(default)]
    pub input: Map<String, Value>,
    /// The connection of a multi-tenant connector (default `default`).
    #[serde(default)]
    pub connection: Option<String>,
    /// The name in the events' types: `{entity}.upserted`, `{entity}.deleted`. Default: the
    /// source's name.
    #[serde(default)]
    pub entity: Option<String>,
    /// The events' type (default `{entity}.upserted`), matched by routes' `types` like a
    /// webhook's. Deletions are `{entity}.deleted`.
    #[serde(default, rename = "type")]
    pub event_type: Option<String>,
    /// The event's body built from the record (jq), e.g. a webhook's envelope
    /// `{type: "customer.updated", data: {object: .}}` so routes and mappings see one shape.
    /// Default: the record as mapped.
    #[serde(default)]
    pub shape: Option<String>,
    /// The record's key (jq over the mapped record). Default `.id`.
    #[serde(default)]
    pub key: Option<String>,
    /// The record's version (jq): an RFC 3339 time such as `updated_at`, or an integer sequence.
    /// Routes with `ordering: latest` deliver only the newest version of each key. Without it,
    /// a record is emitted again whenever its content changes.
    #[serde(default)]
    pub version: Option<String>,
    /// Incremental passes: only the records changed since the last pass are asked for.
    #[serde(default)]
    pub since: Option<RawSince>,
    /// Incremental by the vendor's own cursor: each incremental pass starts from the cursor of
    /// the page the previous pass ended on (a change feed, a list in creation order), re-reading
    /// that page (its records are not emitted twice) and going on to what came after.
    #[serde(default)]
    pub resume_cursor: bool,
    /// Full passes: entities the list no longer shows become `deleted` events, within a limit.
    #[serde(default)]
    pub deletions: RawDeletions,
}

/// How an incremental pass asks for what changed.
#[derive(Debug, Deserialize, Serialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct RawSince {
    /// The operation's query parameter that takes the time (`updated_since`).
    pub param: String,
    /// How the time is written: `rfc3339` (default, whole seconds, UTC), `unix` (seconds) or
    /// `unix_ms`.
    #[serde(default)]
    pub format: TimeFormat,
    /// How far before the last pass's start the next one asks from (default 1m, at least 1s):
    /// covers the vendor's rounding, its indexing delay and an inclusive or exclusive bound.
    /// Records read twice are not emitted twice.
    #[serde(default)]
    pub lookback: Option<HumanDuration>,
}

#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Deserialize, Serialize, JsonSchema)]
#[serde(rename_all = "snake_case")]
pub enum TimeFormat {
    #[default]
    Rfc3339,
    Unix,
    UnixMs,
}

impl TimeFormat {
    /// `ms` written in this format (RFC 3339 and `unix` round down to the second).
    pub fn write(self, ms: i64) -> String {
        match self {
            TimeFormat::UnixMs => ms.to_string(),
            TimeFormat::Unix => ms.div_euclid(1000).to_string(),
            TimeFormat::Rfc3339 => {
                let secs = ms.div_euclid(1000).max(0) as u64;
                humantime::format_rfc3339_seconds(std::time::UNIX_EPOCH + Duration::from_secs(secs))
                    .to_string()
            }
        }
    }
}

/// The deletion guard of full passes.
#[derive(Debug, Default, Deserialize, Serialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct RawDeletions {
    /// Emit `deleted` events for entities a full pass no longer lists (default true).
    #[serde(default)]
    pub detect: Option<bool>,
    /// The most a full pass deletes on its own, as a percentage of the entities known (default
    /// 10): past it the run fails and an operator confirms (`junction jobs run NAME
    /// --confirm-deletions`). A vendor answering an empty list must not delete your customers.
    #[serde(default)]
    pub max_percent: Option<f64>,
}

/// A resolved pull.
#[derive(Debug, Clone)]
pub struct Pull {
    pub connector: String,
    pub operation: String,
    pub input: Map<String, Value>,
    pub connection: String,
    pub entity: String,
    /// The type of the records' events.
    pub event_type: String,
    pub shape: Option<Program>,
    pub key: Program,
    pub version: Option<Program>,
    pub since: Option<Since>,
    /// Incremental passes continue from the last page's cursor.
    pub resume_cursor: bool,
    /// `None`: deletions are not detected.
    pub max_delete_percent: Option<f64>,
}

#[derive(Debug, Clone, PartialEq)]
pub struct Since {
    pub param: String,
    pub format: TimeFormat,
    pub lookback: Duration,
}

impl Pull {
    /// Whether passes can ask for only what changed (`since:` or the vendor's cursor).
    pub fn incremental(&self) -> bool {
        self.since.is_some() || self.resume_cursor
    }
}

impl PartialEq for Pull {
    fn eq(&self, o: &Self) -> bool {
        self.connector == o.connector
            && self.operation == o.operation
            && self.input == o.input
            && self.connection == o.connection
            && self.entity == o.entity
            && self.event_type == o.event_type
            && self.shape.as_ref().map(Program::code) == o.shape.as_ref().map(Program::code)
            && self.key.code() == o.key.code()
            && self.version.as_ref().map(Program::code) == o.version.as_ref().map(Program::code)
            && self.since == o.since
            && self.resume_cursor == o.resume_cursor
            && self.max_delete_percent == o.max_delete_percent
    }
}

/// Most bytes of a pull's fixed input.
const MAX_INPUT: usize = 16 * 1024;

fn entity_name(s: &str) -> bool {
    !s.is_empty()
        && s.len() <= 64
        && s.bytes()
            .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'-' | b'_' | b'.'))
}

/// Resolves a source's `sync:` (the links to connectors are checked by [`check_pulls`]).
pub(crate) fn resolve(
    doc: &Document,
    ptr: &str,
    source: &str,
    raw: RawPull,
    errs: &mut Vec<ConfigError>,
) -> Option<Pull> {
    let before = errs.len();
    let jq = |field: &str, code: &str, errs: &mut Vec<ConfigError>| {
        Program::compile(code)
            .map_err(|e| {
                errs.push(doc.error_at(
                    &push(ptr, field),
                    e.to_string(),
                    Some("write a jq expression over the mapped record, such as .id".into()),
                ))
            })
            .ok()
    };
    let key = jq("key", raw.key.as_deref().unwrap_or(".id"), errs);
    let version = raw.version.as_deref().and_then(|v| jq("version", v, errs));
    let shape = raw.shape.as_deref().and_then(|v| jq("shape", v, errs));
    let entity = raw.entity.unwrap_or_else(|| source.to_owned());
    if !entity_name(&entity) {
        errs.push(doc.error_at(
            &push(ptr, "entity"),
            format!("`{entity}`: an entity's name is 1 to 64 letters, digits, `.`, `-` or `_`"),
            None,
        ));
    }
    let event_type = raw
        .event_type
        .unwrap_or_else(|| format!("{entity}.upserted"));
    if event_type.is_empty() || event_type.len() > 255 {
        errs.push(doc.error_at(
            &push(ptr, "type"),
            "an event type is 1 to 255 characters",
            None,
        ));
    }
    if serde_json::to_vec(&raw.input).map_or(0, |v| v.len()) > MAX_INPUT {
        errs.push(doc.error_at(
            &push(ptr, "input"),
            format!("the input is at most {MAX_INPUT} bytes"),
            None,
        ));
    }
    let since = raw.since.map(|s| {
        let lookback = s.lookback.map_or(Duration::from_secs(60), |l| l.0);
        if !(Duration::from_secs(1)..=Duration::from_secs(7 * 86_400)).contains(&lookback) {
            errs.push(doc.error_at(
                &push(&push(ptr, "since"), "lookback"),
                "`lookback` is between 1s and 7d",
                Some("at least a second: it covers a vendor rounding times to the second".into()),
            ));
        }
        Since {
            param: s.param,
            format: s.format,
            lookback,
        }
    });
    if raw.resume_cursor && since.is_some() {
        errs.push(doc.error_at(
            &push(ptr, "resume_cursor"),
            "an incremental pass asks by `since:` or resumes the vendor's cursor, not both",
            Some("keep `since:` for a list filtered by update time, `resume_cursor` for a change feed".into()),
        ));
    }
    let percent = raw.deletions.max_percent.unwrap_or(10.0);
    if !(0.0..=100.0).contains(&percent) {
        errs.push(doc.error_at(
            &push(&push(ptr, "deletions"), "max_percent"),
            "`max_percent` is between 0 and 100",
            None,
        ));
    }
    if errs.len() > before {
        return None;
    }
    Some(Pull {
        connector: raw.connector,
        operation: raw.operation,
        input: raw.input,
        connection: raw.connection.unwrap_or_else(|| "default".into()),
        entity,
        event_type,
        shape,
        key: key?,
        version,
        since,
        resume_cursor: raw.resume_cursor,
        max_delete_percent: raw.deletions.detect.unwrap_or(true).then_some(percent),
    })
}

/// A pull's connector and operation exist, the operation reads and is paginated, and the
/// `since` parameter is one of its query parameters.
pub(crate) fn check_pulls(
    doc: &Document,
    pulls: Vec<(String, &Pull)>,
    connectors: &BTreeMap<String, crate::connect::resolved::Connector>,
    errs: &mut Vec<ConfigError>,
) {
    for (ptr, p) in pulls {
        let Some(c) = connectors.get(&p.connector) else {
            let declared = doc
                .value
                .get("connectors")
                .and_then(|c| c.get(&p.connector))
                .is_some();
            if !declared {
                let names: Vec<&str> = connectors.keys().map(String::as_str).collect();
                errs.push(doc.error_at(
                    &push(&ptr, "connector"),
                    format!("no connector `{}`", p.connector),
                    Some(if names.is_empty() {
                        "declare it under `connectors:`".into()
                    } else {
                        format!("connectors: {}", names.join(", "))
                    }),
                ));
            }
            continue;
        };
        let optr = push(&ptr, "operation");
        let Some(op) = c.operations.get(&p.operation) else {
            let known: Vec<&str> = c.operations.keys().map(String::as_str).collect();
            errs.push(doc.error_at(
                &optr,
                format!("connector `{}` has no operation `{}`", c.name, p.operation),
                Some(format!("operations: {}", known.join(", "))),
            ));
            continue;
        };
        if c.soap.is_some() || !matches!(op.method, http::Method::GET) {
            errs.push(doc.error_at(
                &optr,
                format!("`{}` is not a GET: a sync only reads", p.operation),
                Some("sync a list operation that reads".into()),
            ));
        } else if op.paginate.is_none() {
            errs.push(doc.error_at(
                &optr,
                format!("`{}` is not paginated: a sync reads a list", p.operation),
                Some("give the operation `paginate:` (its records and how the next page is asked for)".into()),
            ));
        }
        if let Some(s) = &p.since {
            if !op.params().any(|q| q == s.param) {
                errs.push(doc.error_at(
                    &push(&push(&ptr, "since"), "param"),
                    format!("`{}` is not a parameter of `{}`", s.param, p.operation),
                    Some("declare it in the operation's `query:`".into()),
                ));
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn times_are_written_in_the_vendors_format() {
        let ms = 1_700_000_000_999;
        assert_eq!(TimeFormat::UnixMs.write(ms), "1700000000999");
        assert_eq!(TimeFormat::Unix.write(ms), "1700000000");
        assert_eq!(TimeFormat::Rfc3339.write(ms), "2023-11-14T22:13:20Z");
    }
}
