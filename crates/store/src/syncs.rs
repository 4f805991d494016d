//! Pulled records: the types of the `Syncs` aggregate and the rule, the same on both backends,
//! that decides what a record read from a vendor's list becomes.
//!
//! Every source that pulls (a sync, a webhook source's reconciliation) keeps one row per entity:
//! the newest version it has emitted (`seq`, from the record's `updated_at` or sequence, and a
//! hash of its content) and when it was last listed. A page of records is judged against those
//! rows and written — events, entity rows and the walk's checkpoint — in one transaction, so a
//! process killed between pages resumes exactly after the last page it committed.

use crate::NewEvent;

/// One record read from a vendor's list.
#[derive(Debug, Clone)]
pub struct PulledRecord {
    /// The entity's key (the vendor's id).
    pub key: String,
    /// Its version: `updated_at` in ms or a sequence (`None` when the source reads none).
    pub seq: Option<i64>,
    /// A hash of its content, so a change within one second of `updated_at` is still seen.
    pub hash: String,
    /// Not listed any more (a full refresh's deletion): the entity's row goes.
    pub deleted: bool,
    /// The event it becomes if it is new or newer than what was emitted.
    pub event: NewEvent,
}

/// One page, written with the walk's checkpoint in one transaction.
#[derive(Debug, Clone)]
pub struct SyncPage {
    pub source: String,
    pub records: Vec<PulledRecord>,
    /// `(lane, state)`: the walk's position after this page (a source has one lane per kind of
    /// pass, such as `incremental` and `full`).
    pub checkpoint: Option<(String, String)>,
    pub now: i64,
}

/// What a page did.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct PageOutcome {
    /// Entities not known before: their events were appended.
    pub new: u64,
    /// Entities newer than what was emitted: their events were appended.
    pub changed: u64,
    /// Entities listed as they were emitted: nothing appended.
    pub unchanged: u64,
    /// Entities listed older than what was emitted (a webhook brought a newer version): nothing
    /// appended.
    pub older: u64,
    /// Entities deleted (their `deleted` events appended).
    pub deleted: u64,
    /// Destinations of the deliveries created, to wake.
    pub destinations: Vec<String>,
}

/// What is known of an entity.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Known {
    pub seq: Option<i64>,
    pub hash: Option<String>,
}

/// What a record becomes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Verdict {
    New,
    Changed,
    Unchanged,
    Older,
    /// A deletion of an entity that is known.
    Deleted,
    /// A deletion of an entity not known (nothing to do).
    Gone,
}

impl Verdict {
    /// Whether the record's event is appended.
    pub fn emits(self) -> bool {
        matches!(self, Verdict::New | Verdict::Changed | Verdict::Deleted)
    }

    pub(crate) fn count(self, out: &mut PageOutcome) {
        match self {
            Verdict::New => out.new += 1,
            Verdict::Changed => out.changed += 1,
            Verdict::Unchanged => out.unchanged += 1,
            Verdict::Older => out.older += 1,
            Verdict::Deleted => out.deleted += 1,
            Verdict::Gone => {}
        }
    }
}

/// Judges a record against what is known of its entity: a version is emitted once, a newer one
/// always, an older one never (a poll does not overwrite a newer webhook). Two versions within
/// the same `updated_at` (vendors round it to the second) differ by their content's hash.
pub fn judge(known: Option<&Known>, r: &PulledRecord) -> Verdict {
    let Some(k) = known else {
        return if r.deleted {
            Verdict::Gone
        } else {
            Verdict::New
        };
    };
    if r.deleted {
        return Verdict::Deleted;
    }
    let other_content = k.hash.as_deref().is_some_and(|h| h != r.hash);
    match (k.seq, r.seq) {
        (Some(a), Some(b)) if b > a => Verdict::Changed,
        (Some(a), Some(b)) if b < a => Verdict::Older,
        _ if other_content => Verdict::Changed,
        _ => Verdict::Unchanged,
    }
}

/// A page's records with one record per key: a vendor whose list moved while it was read can
/// list an entity twice; the newer copy (the later one at equal versions) is kept.
pub(crate) fn one_per_key(records: Vec<PulledRecord>) -> Vec<PulledRecord> {
    let mut at: std::collections::HashMap<String, usize> = Default::default();
    let mut out: Vec<PulledRecord> = Vec::with_capacity(records.len());
    for r in records {
        match at.get(&r.key) {
            Some(&i) => {
                let newer = match (out[i].seq, r.seq) {
                    (Some(a), Some(b)) => b >= a,
                    _ => true,
                };
                if newer || r.deleted {
                    out[i] = r;
                }
            }
            None => {
                at.insert(r.key.clone(), out.len());
                out.push(r);
            }
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn rec(seq: Option<i64>, hash: &str, deleted: bool) -> PulledRecord {
        PulledRecord {
            key: "k".into(),
            seq,
            hash: hash.into(),
            deleted,
            event: NewEvent {
                source: "s".into(),
                external_id: "x".into(),
                event_type: "t".into(),
                entity_key: Some("k".into()),
                sequence: seq,
                received_at: 0,
                payload: vec![],
                context: Default::default(),
                deliveries: vec![],
                tracked: false,
                subjects: Vec::new(),
            },
        }
    }

    fn known(seq: Option<i64>, hash: Option<&str>) -> Known {
        Known {
            seq,
            hash: hash.map(str::to_owned),
        }
    }

    #[test]
    fn a_version_is_emitted_once_a_newer_one_always_an_older_one_never() {
        assert_eq!(judge(None, &rec(Some(5), "a", false)), Verdict::New);
        let k = known(Some(5), Some("a"));
        assert_eq!(
            judge(Some(&k), &rec(Some(5), "a", false)),
            Verdict::Unchanged
        );
        assert_eq!(judge(Some(&k), &rec(Some(6), "a", false)), Verdict::Changed);
        assert_eq!(judge(Some(&k), &rec(Some(4), "b", false)), Verdict::Older);
        // Same second, other content: a second change within the vendor's rounding.
        assert_eq!(judge(Some(&k), &rec(Some(5), "b", false)), Verdict::Changed);
        // Known from a webhook (no hash): the same version is not emitted again.
        let w = known(Some(5), None);
        assert_eq!(
            judge(Some(&w), &rec(Some(5), "b", false)),
            Verdict::Unchanged
        );
        // Without versions, content decides.
        let h = known(None, Some("a"));
        assert_eq!(judge(Some(&h), &rec(None, "a", false)), Verdict::Unchanged);
        assert_eq!(judge(Some(&h), &rec(None, "b", false)), Verdict::Changed);
        assert_eq!(judge(Some(&k), &rec(None, "", true)), Verdict::Deleted);
        assert_eq!(judge(None, &rec(None, "", true)), Verdict::Gone);
        assert!(Verdict::Deleted.emits() && !Verdict::Older.emits());
    }

    #[test]
    fn a_key_listed_twice_in_a_page_keeps_its_newer_copy() {
        let mut a = rec(Some(5), "a", false);
        let mut b = rec(Some(7), "b", false);
        let mut c = rec(Some(6), "c", false);
        a.key = "k".into();
        b.key = "k".into();
        c.key = "k".into();
        let mut other = rec(Some(1), "z", false);
        other.key = "j".into();
        let out = one_per_key(vec![a, b, other, c]);
        assert_eq!(out.len(), 2);
        assert_eq!(out[0].hash, "b");
        assert_eq!(out[1].key, "j");
    }
}
