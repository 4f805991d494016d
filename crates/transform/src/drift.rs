//! Drift: what arrives compared with what was declared or, when nothing is, with the shape learned
//! from earlier payloads of the same subject (a source's event type, a connector's operation).
//!
//! A learned shape maps every field path (`data.object.email`, `items[].sku`) to the JSON types
//! seen there and how often. The first [`LEARN`] payloads of a subject only teach; after that a
//! payload drifts when it brings a field never seen (`new_field`), lacks one every earlier payload
//! had (`missing_field`), or gives a field a type it never had (`type_changed`, null included: a
//! vendor that starts sending nulls breaks consumers). A payload checked against a declared model
//! drifts on every schema error (`contract`). Each drift is reported once per subject, path and
//! kind: the shape absorbs it, and the record counts its repeats (first and last seen). An answer
//! carrying `Deprecation` or `Sunset` is recorded too (`deprecated`), with the dates the vendor gave.

use std::collections::{BTreeMap, HashMap};
use std::sync::Mutex;

use serde_json::Value;

use crate::Model;

/// Payloads a subject learns from before drift is reported.
pub const LEARN: u64 = 20;
/// Field paths kept per subject (deeper or wider payloads are learned up to this).
const MAX_FIELDS: usize = 500;
/// Field paths looked at in one payload: a payload wider than this is learned from its first
/// paths only, so one huge body cannot cost a map of all its keys.
const MAX_PATHS_PER_PAYLOAD: usize = 2 * MAX_FIELDS;
/// Subjects with a learned shape (and subjects counted for sampling) kept at once. Subjects come
/// from event types and request paths, which a caller chooses: beyond this the least recently
/// seen one is forgotten (it learns again if it comes back).
pub const MAX_SUBJECTS: usize = 1000;
/// Nesting followed.
const MAX_DEPTH: usize = 16;
/// Drift records kept (the oldest are dropped beyond).
const MAX_RECORDS: usize = 10_000;
/// Once a subject has learned, one payload in this many is looked at: drift persists, so a
/// sample finds it, and the hot paths (ingest, /proxy) stay cheap.
pub const SAMPLE: u64 = 4;
/// A subject offered this many payloads is busy: one in [`BUSY_SAMPLE`] is looked at (at
/// thousands a second, a lasting change is still seen within milliseconds).
const BUSY: u64 = 10_000;
const BUSY_SAMPLE: u64 = 64;

#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, serde::Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Kind {
    NewField,
    MissingField,
    TypeChanged,
    /// The payload breaks its declared model.
    Contract,
    /// A success status with a body that is not what the operation answers (not JSON, not an
    /// envelope).
    UnexpectedBody,
    /// The vendor announced the endpoint's end: `Deprecation` (RFC 9745) or `Sunset` (RFC 8594).
    Deprecated,
    /// A rollout's candidate (an API version, a mapping) gave another answer than the stable
    /// arm for the same call: found by shadowing.
    Differs,
}

impl Kind {
    pub fn as_str(self) -> &'static str {
        match self {
            Kind::NewField => "new_field",
            Kind::MissingField => "missing_field",
            Kind::TypeChanged => "type_changed",
            Kind::Contract => "contract",
            Kind::UnexpectedBody => "unexpected_body",
            Kind::Deprecated => "deprecated",
            Kind::Differs => "differs",
        }
    }
}

/// One drift of one payload.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Drift {
    pub path: String,
    pub kind: Kind,
    pub detail: String,
}

const NULL: u8 = 1;
const BOOL: u8 = 2;
const NUMBER: u8 = 4;
const STRING: u8 = 8;
const ARRAY: u8 = 16;
const OBJECT: u8 = 32;

fn type_bit(v: &Value) -> u8 {
    match v {
        Value::Null => NULL,
        Value::Bool(_) => BOOL,
        Value::Number(_) => NUMBER,
        Value::String(_) => STRING,
        Value::Array(_) => ARRAY,
        Value::Object(_) => OBJECT,
    }
}

fn type_names(bits: u8) -> String {
    let names = [
        (NULL, "null"),
        (BOOL, "boolean"),
        (NUMBER, "number"),
        (STRING, "string"),
        (ARRAY, "array"),
        (OBJECT, "object"),
    ];
    names
        .iter()
        .filter(|(b, _)| bits & b != 0)
        .map(|(_, n)| *n)
        .collect::<Vec<_>>()
        .join("|")
}

#[derive(Debug, Default, Clone, serde::Serialize, serde::Deserialize)]
struct Seen {
    types: u8,
    /// Payloads in which the field appeared.
    count: u64,
}

/// The learned shape of one subject (kept in the store, so a process that starts, or another
/// process, does not learn it again from nothing).
#[derive(Debug, Default, Clone, serde::Serialize, serde::Deserialize)]
pub struct Learned {
    samples: u64,
    fields: HashMap<String, Seen>,
}

impl Learned {
    /// Learns from `v` and returns how it drifts from what was learned before (nothing while
    /// still learning).
    pub fn observe(&mut self, v: &Value) -> Vec<Drift> {
        let mut here: HashMap<String, u8> = HashMap::new();
        collect("", v, 0, &mut here);
        let learning = self.samples < LEARN;
        let mut drifts = Vec::new();
        if !learning {
            for (path, seen) in &self.fields {
                // Fields inside arrays are absent whenever a list is empty: not drift.
                if seen.count == self.samples && !path.contains("[]") && !here.contains_key(path) {
                    drifts.push(Drift {
                        path: path.clone(),
                        kind: Kind::MissingField,
                        detail: format!(
                            "present in all {} earlier payloads, missing now",
                            self.samples
                        ),
                    });
                }
            }
        }
        for (path, bits) in &here {
            let room = self.fields.len() < MAX_FIELDS;
            match self.fields.get_mut(path) {
                Some(seen) => {
                    if !learning && seen.types & bits != *bits {
                        drifts.push(Drift {
                            path: path.clone(),
                            kind: Kind::TypeChanged,
                            detail: format!(
                                "was {}, now {}",
                                type_names(seen.types),
                                type_names(*bits & !seen.types)
                            ),
                        });
                    }
                    seen.types |= bits;
                    seen.count += 1;
                }
                None if room => {
                    if !learning {
                        drifts.push(Drift {
                            path: path.clone(),
                            kind: Kind::NewField,
                            detail: format!("new field ({})", type_names(*bits)),
                        });
                    }
                    self.fields.insert(
                        path.clone(),
                        Seen {
                            types: *bits,
                            count: 1,
                        },
                    );
                }
                None => {}
            }
        }
        self.samples += 1;
        drifts.sort_by(|a, b| a.path.cmp(&b.path));
        drifts
    }
}

/// Every field path of `v` with the types seen there (array items merged under `[]`).
fn collect(prefix: &str, v: &Value, depth: usize, out: &mut HashMap<String, u8>) {
    if depth >= MAX_DEPTH || out.len() >= MAX_PATHS_PER_PAYLOAD {
        return;
    }
    match v {
        Value::Object(m) => {
            for (k, child) in m {
                if out.len() >= MAX_PATHS_PER_PAYLOAD {
                    return;
                }
                let path = if prefix.is_empty() {
                    k.clone()
                } else {
                    format!("{prefix}.{k}")
                };
                *out.entry(path.clone()).or_default() |= type_bit(child);
                collect(&path, child, depth + 1, out);
            }
        }
        Value::Array(items) => {
            let path = format!("{prefix}[]");
            for item in items {
                *out.entry(path.clone()).or_default() |= type_bit(item);
                collect(&path, item, depth + 1, out);
            }
        }
        _ => {}
    }
}

/// Drift of `v` against a declared model: one per schema error.
pub fn against(model: &Model, v: &Value) -> Vec<Drift> {
    match model.validate(v) {
        Ok(()) => Vec::new(),
        Err(errors) => errors
            .into_iter()
            .map(|e| Drift {
                path: e.path,
                kind: Kind::Contract,
                detail: format!("breaks {}: {}", model.id, e.message),
            })
            .collect(),
    }
}

/// Most differences reported between two answers.
const MAX_DIFFERENCES: usize = 32;

/// Where `candidate` differs from `stable` (the same call answered by two versions or mapped by
/// two mappings): fields missing on one side, types that differ, values that differ. The detail
/// names types, never values (answers carry personal data). At most [`MAX_DIFFERENCES`],
/// [`MAX_DEPTH`] deep.
pub fn differences(
    stable: &Value,
    candidate: &Value,
    stable_name: &str,
    candidate_name: &str,
) -> Vec<Drift> {
    let mut out = Vec::new();
    let names = (stable_name, candidate_name);
    differ(stable, candidate, &mut String::new(), 0, names, &mut out);
    out
}

fn differ(
    a: &Value,
    b: &Value,
    path: &mut String,
    depth: usize,
    names: (&str, &str),
    out: &mut Vec<Drift>,
) {
    if out.len() >= MAX_DIFFERENCES || a == b {
        return;
    }
    match (a, b) {
        (Value::Object(x), Value::Object(y)) if depth < MAX_DEPTH => {
            let keys: std::collections::BTreeSet<&String> = x.keys().chain(y.keys()).collect();
            for k in keys {
                let len = path.len();
                path.push('/');
                path.push_str(k);
                match (x.get(k), y.get(k)) {
                    (Some(v), None) => note(
                        out,
                        path,
                        format!(
                            "{} has a {} here, {} has none",
                            names.0,
                            type_names(type_bit(v)),
                            names.1
                        ),
                    ),
                    (None, Some(v)) => note(
                        out,
                        path,
                        format!(
                            "{} has a {} here, {} has none",
                            names.1,
                            type_names(type_bit(v)),
                            names.0
                        ),
                    ),
                    (Some(v), Some(w)) => differ(v, w, path, depth + 1, names, out),
                    (None, None) => {}
                }
                path.truncate(len);
                if out.len() >= MAX_DIFFERENCES {
                    return;
                }
            }
        }
        (Value::Array(x), Value::Array(y)) if depth < MAX_DEPTH && x.len() == y.len() => {
            for (i, (v, w)) in x.iter().zip(y).enumerate() {
                let len = path.len();
                path.push('/');
                path.push_str(&i.to_string());
                differ(v, w, path, depth + 1, names, out);
                path.truncate(len);
            }
        }
        (Value::Array(x), Value::Array(y)) => note(
            out,
            path,
            format!(
                "{} has {} items, {} has {}",
                names.0,
                x.len(),
                names.1,
                y.len()
            ),
        ),
        _ if type_bit(a) != type_bit(b) => note(
            out,
            path,
            format!(
                "{} has a {}, {} a {}",
                names.0,
                type_names(type_bit(a)),
                names.1,
                type_names(type_bit(b))
            ),
        ),
        _ => note(
            out,
            path,
            format!("the {} values differ", type_names(type_bit(a))),
        ),
    }
}

fn note(out: &mut Vec<Drift>, path: &str, detail: String) {
    if out.len() < MAX_DIFFERENCES {
        out.push(Drift {
            path: if path.is_empty() {
                "/".into()
            } else {
                path.to_owned()
            },
            kind: Kind::Differs,
            detail,
        });
    }
}

/// A recorded drift: what, where, how often, since when.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct Record {
    /// `source` or `connector`.
    pub scope: String,
    /// `stripe/customer.updated`, `erp/GetCustomer`.
    pub subject: String,
    pub path: String,
    pub kind: Kind,
    /// The first occurrence's description.
    pub detail: String,
    pub first_seen: i64,
    pub last_seen: i64,
    pub count: u64,
}

type Key = (String, String, String, Kind);

/// Per subject of one scope: (last seen, payloads offered).
type Offers = HashMap<String, (u64, u64)>;

/// Learned shapes and drift records of this process. Every map is bounded: shapes and offer
/// counts by [`MAX_SUBJECTS`] (least recently seen evicted), records by `MAX_RECORDS`.
#[derive(Default)]
pub struct Tracker {
    /// (scope, subject) → (last seen, shape).
    shapes: Mutex<HashMap<(String, String), (u64, Learned)>>,
    /// Payloads offered per scope and subject, for sampling (looked up without allocating):
    /// subject → (last seen, offered).
    offered: Mutex<HashMap<String, Offers>>,
    /// A logical clock for "least recently seen".
    clock: std::sync::atomic::AtomicU64,
    /// What changed since the last [`Tracker::drain`]: counts are deltas.
    pending: Mutex<BTreeMap<Key, Record>>,
    records: Mutex<BTreeMap<Key, Record>>,
    /// Shapes that learned something since they were last saved: (scope, subject).
    unsaved: Mutex<std::collections::HashSet<(String, String)>>,
}

/// A learned shape as the store keeps it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SavedShape {
    pub scope: String,
    pub subject: String,
    /// Payloads it learned from: a stored shape is only replaced by one that saw more.
    pub samples: u64,
    /// The shape, as JSON.
    pub shape: String,
}

impl Tracker {
    /// Whether this payload of `subject` should be looked at: every one while the subject
    /// learns, then one in [`SAMPLE`], and one in [`BUSY_SAMPLE`] once it is busy.
    pub fn wants(&self, scope: &str, subject: &str) -> bool {
        let now = self.tick();
        let mut offered = self.offered.lock().unwrap_or_else(|p| p.into_inner());
        if !offered.contains_key(scope) {
            offered.insert(scope.to_owned(), HashMap::new());
        }
        let Some(subjects) = offered.get_mut(scope) else {
            return true;
        };
        if !subjects.contains_key(subject) {
            if subjects.len() >= MAX_SUBJECTS {
                evict_oldest(subjects, |(seen, _)| *seen);
            }
            subjects.insert(subject.to_owned(), (now, 0));
        }
        let Some((seen, n)) = subjects.get_mut(subject) else {
            return true;
        };
        *seen = now;
        *n += 1;
        *n <= LEARN * 2 || *n % if *n < BUSY { SAMPLE } else { BUSY_SAMPLE } == 0
    }

    fn tick(&self) -> u64 {
        self.clock
            .fetch_add(1, std::sync::atomic::Ordering::Relaxed)
    }

    /// The shapes that learned something since the last call, to save.
    pub fn unsaved_shapes(&self) -> Vec<SavedShape> {
        let keys = std::mem::take(&mut *self.unsaved.lock().unwrap_or_else(|p| p.into_inner()));
        let shapes = self.shapes.lock().unwrap_or_else(|p| p.into_inner());
        keys.into_iter()
            .filter_map(|key| {
                let (_, shape) = shapes.get(&key)?;
                Some(SavedShape {
                    samples: shape.samples,
                    shape: serde_json::to_string(shape).ok()?,
                    scope: key.0,
                    subject: key.1,
                })
            })
            .collect()
    }

    /// Takes a saved shape (from the store) where this process knows less of its subject;
    /// `false` when it was not taken (it knows as much, or the text is not a shape).
    pub fn adopt(&self, saved: &SavedShape) -> bool {
        let Ok(learned) = serde_json::from_str::<Learned>(&saved.shape) else {
            return false;
        };
        if learned.fields.len() > MAX_FIELDS {
            return false;
        }
        let now = self.tick();
        let mut shapes = self.shapes.lock().unwrap_or_else(|p| p.into_inner());
        let key = (saved.scope.clone(), saved.subject.clone());
        match shapes.get_mut(&key) {
            Some((_, mine)) if mine.samples >= learned.samples => false,
            Some((seen, mine)) => {
                *seen = now;
                *mine = learned;
                true
            }
            None => {
                if shapes.len() >= MAX_SUBJECTS {
                    return false;
                }
                shapes.insert(key, (now, learned));
                true
            }
        }
    }

    /// Subjects with a learned shape now (at most [`MAX_SUBJECTS`]).
    pub fn learned_subjects(&self) -> usize {
        self.shapes.lock().unwrap_or_else(|p| p.into_inner()).len()
    }

    /// Learns from a payload of `subject` (without a declared model) and records its drift.
    pub fn observe(&self, scope: &str, subject: &str, v: &Value, now_ms: i64) -> Vec<Drift> {
        let now = self.tick();
        let drifts = {
            let mut shapes = self.shapes.lock().unwrap_or_else(|p| p.into_inner());
            let key = (scope.to_owned(), subject.to_owned());
            if !shapes.contains_key(&key) && shapes.len() >= MAX_SUBJECTS {
                evict_oldest(&mut shapes, |(seen, _)| *seen);
            }
            let (seen, shape) = shapes.entry(key.clone()).or_default();
            *seen = now;
            let drifts = shape.observe(v);
            let mut unsaved = self.unsaved.lock().unwrap_or_else(|p| p.into_inner());
            if unsaved.len() < MAX_SUBJECTS {
                unsaved.insert(key);
            }
            drifts
        };
        self.record(scope, subject, &drifts, now_ms);
        drifts
    }

    /// Records drifts found another way (against a model, an unexpected body).
    pub fn record(&self, scope: &str, subject: &str, drifts: &[Drift], now_ms: i64) {
        if drifts.is_empty() {
            return;
        }
        let mut records = self.records.lock().unwrap_or_else(|p| p.into_inner());
        let mut pending = self.pending.lock().unwrap_or_else(|p| p.into_inner());
        for d in drifts {
            // No subject label: subjects come from event types and paths callers choose, and
            // labels must come from closed sets. The records name the subject.
            metrics::counter!("junction_schema_drift_total", "scope" => scope.to_owned(), "kind" => d.kind.as_str())
                .increment(1);
            let r = Record {
                scope: scope.to_owned(),
                subject: subject.to_owned(),
                path: d.path.clone(),
                kind: d.kind,
                detail: d.detail.clone(),
                first_seen: now_ms,
                last_seen: now_ms,
                count: 1,
            };
            let key = (r.scope.clone(), r.subject.clone(), r.path.clone(), r.kind);
            if !records.contains_key(&key) {
                tracing::warn!(scope, subject, path = %d.path, kind = d.kind.as_str(), detail = %d.detail, "schema drift");
                if records.len() >= MAX_RECORDS {
                    let oldest = records
                        .iter()
                        .min_by_key(|(_, r)| r.last_seen)
                        .map(|(k, _)| k.clone());
                    if let Some(oldest) = oldest {
                        records.remove(&oldest);
                    }
                }
            }
            merge(&mut records, r.clone());
            merge(&mut pending, r);
        }
    }

    /// What changed since the last drain (counts are deltas), to be persisted; see [`Tracker::restore`].
    pub fn drain(&self) -> Vec<Record> {
        let mut pending = self.pending.lock().unwrap_or_else(|p| p.into_inner());
        std::mem::take(&mut *pending).into_values().collect()
    }

    /// What changed since the last drain, left in place (for a reader that adds it to what is
    /// persisted).
    pub fn unflushed(&self) -> Vec<Record> {
        let pending = self.pending.lock().unwrap_or_else(|p| p.into_inner());
        pending.values().cloned().collect()
    }

    /// Puts back what a drain took but could not persist.
    pub fn restore(&self, drained: Vec<Record>) {
        let mut pending = self.pending.lock().unwrap_or_else(|p| p.into_inner());
        for r in drained {
            merge(&mut pending, r);
        }
    }

    /// Every record, newest first.
    pub fn records(&self) -> Vec<Record> {
        let records = self.records.lock().unwrap_or_else(|p| p.into_inner());
        let mut out: Vec<Record> = records.values().cloned().collect();
        out.sort_by_key(|r| std::cmp::Reverse(r.last_seen));
        out
    }
}

/// Removes the entry seen least recently (`seen` reads its stamp): one pass, only when a map
/// is full and a new subject arrives.
fn evict_oldest<K: Clone + Eq + std::hash::Hash, V>(
    map: &mut HashMap<K, V>,
    seen: impl Fn(&V) -> u64,
) {
    let oldest = map
        .iter()
        .min_by_key(|(_, v)| seen(v))
        .map(|(k, _)| k.clone());
    if let Some(k) = oldest {
        map.remove(&k);
    }
}

fn merge(into: &mut BTreeMap<Key, Record>, r: Record) {
    let key = (r.scope.clone(), r.subject.clone(), r.path.clone(), r.kind);
    match into.get_mut(&key) {
        Some(e) => {
            e.count += r.count;
            e.first_seen = e.first_seen.min(r.first_seen);
            e.last_seen = e.last_seen.max(r.last_seen);
        }
        None => {
            into.insert(key, r);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn learned(n: u64, v: &Value) -> Learned {
        let mut l = Learned::default();
        for _ in 0..n {
            assert!(l.observe(v).is_empty());
        }
        l
    }

    fn kinds(d: &[Drift]) -> Vec<(&str, Kind)> {
        d.iter().map(|d| (d.path.as_str(), d.kind)).collect()
    }

    #[test]
    fn differences_name_renamed_and_retyped_fields_never_values() {
        let v1 = json!({"id": "cus_1", "email": "a@b.c", "created": 1, "tags": ["x"], "address": {"city": "Oslo"}});
        let v2 = json!({"id": "cus_1", "email_address": "a@b.c", "created": "1970", "tags": ["x"], "address": {"city": "Bergen"}});
        let d = differences(&v1, &v2, "v1", "v2");
        let paths: Vec<&str> = d.iter().map(|d| d.path.as_str()).collect();
        assert_eq!(
            paths,
            ["/address/city", "/created", "/email", "/email_address"]
        );
        assert!(d.iter().all(|d| d.kind == Kind::Differs));
        assert_eq!(d[2].detail, "v1 has a string here, v2 has none");
        assert!(d
            .iter()
            .all(|d| !d.detail.contains("Oslo") && !d.detail.contains("a@b.c")));
        assert!(differences(&v1, &v1, "v1", "v2").is_empty());
        let wide: serde_json::Map<String, Value> =
            (0..500).map(|i| (format!("f{i}"), json!(i))).collect();
        assert_eq!(
            differences(&Value::Object(wide), &json!({}), "a", "b").len(),
            MAX_DIFFERENCES
        );
    }

    #[test]
    fn nothing_drifts_while_learning_or_when_the_shape_holds() {
        let v = json!({"id": "c1", "email": "a@b.c", "items": [{"sku": "a"}]});
        let mut l = learned(LEARN, &v);
        assert!(l.observe(&v).is_empty());
        assert!(l
            .observe(&json!({"id": "c2", "email": "x@y.z", "items": []}))
            .is_empty());
    }

    #[test]
    fn new_missing_and_retyped_fields_drift_once_each() {
        let v = json!({"id": "c1", "email": "a@b.c", "amount": 5, "items": [{"sku": "a"}]});
        let mut l = learned(LEARN, &v);
        let d = l.observe(
            &json!({"id": "c1", "email_address": "a@b.c", "amount": "5.00", "items": [{"sku": 1}]}),
        );
        assert_eq!(
            kinds(&d),
            vec![
                ("amount", Kind::TypeChanged),
                ("email", Kind::MissingField),
                ("email_address", Kind::NewField),
                ("items[].sku", Kind::TypeChanged),
            ]
        );
        assert!(d[0].detail.contains("was number, now string"), "{d:?}");
        // Reported once: the shape has absorbed the change.
        let again = l.observe(
            &json!({"id": "c1", "email_address": "a@b.c", "amount": "5.00", "items": [{"sku": 1}]}),
        );
        assert!(again.is_empty(), "{again:?}");
        let nulls = l
            .observe(&json!({"id": null, "email_address": "a@b.c", "amount": "5.00", "items": []}));
        assert_eq!(kinds(&nulls), vec![("id", Kind::TypeChanged)]);
    }

    #[test]
    fn the_tracker_records_first_and_last_seen_and_counts() {
        let t = Tracker::default();
        let v = json!({"a": 1});
        for i in 0..LEARN {
            t.observe("source", "s/t", &v, i as i64);
        }
        t.observe("source", "s/t", &json!({"a": 1, "b": 2}), 100);
        t.record(
            "source",
            "s/t",
            &[Drift {
                path: "b".into(),
                kind: Kind::NewField,
                detail: "again".into(),
            }],
            200,
        );
        let r = t.records();
        assert_eq!(r.len(), 1);
        assert_eq!((r[0].first_seen, r[0].last_seen, r[0].count), (100, 200, 2));
        assert_eq!(r[0].subject, "s/t");
        let drained = t.drain();
        assert_eq!(drained.len(), 1);
        assert_eq!(drained[0].count, 2);
        assert!(t.drain().is_empty(), "a drain takes what changed once");
        t.restore(drained);
        assert_eq!(t.drain()[0].count, 2, "what could not be persisted is kept");
    }

    #[test]
    fn subjects_a_caller_chooses_cannot_grow_the_tracker_without_bound() {
        let t = Tracker::default();
        let wide: Value = Value::Object(
            (0..50_000)
                .map(|i| (format!("field_{i}"), json!(i)))
                .collect(),
        );
        for i in 0..(MAX_SUBJECTS * 3) {
            let subject = format!("s/type-{i}");
            assert!(t.wants("source", &subject));
            t.observe("source", &subject, &json!({"a": 1}), i as i64);
        }
        assert_eq!(t.learned_subjects(), MAX_SUBJECTS);
        let offered: usize = t.offered.lock().unwrap().values().map(HashMap::len).sum();
        assert_eq!(offered, MAX_SUBJECTS);
        // The most recent subjects are the ones kept.
        let kept = t.shapes.lock().unwrap();
        assert!(kept.contains_key(&(
            "source".to_owned(),
            format!("s/type-{}", MAX_SUBJECTS * 3 - 1)
        )));
        assert!(!kept.contains_key(&("source".to_owned(), "s/type-0".to_owned())));
        drop(kept);
        // One very wide payload is learned from a bounded number of its paths.
        let mut l = Learned::default();
        l.observe(&wide);
        assert!(l.fields.len() <= MAX_FIELDS, "{}", l.fields.len());
    }

    #[test]
    fn every_payload_is_looked_at_while_learning_then_a_sample_and_fewer_when_busy() {
        let t = Tracker::default();
        let looked = |from: u64, to: u64| (from..to).filter(|_| t.wants("connector", "c")).count();
        assert_eq!(looked(0, LEARN * 2), (LEARN * 2) as usize);
        let n = 4000;
        assert_eq!(looked(LEARN * 2, LEARN * 2 + n), (n / SAMPLE) as usize);
        let _ = looked(LEARN * 2 + n, BUSY);
        assert_eq!(looked(BUSY, BUSY + 64 * 100), 100);
        assert!(t.wants("connector", "other"), "subjects are counted apart");
    }
}
