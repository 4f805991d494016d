//! A sync's records as events: each page's NDJSON lines read (key, version, a hash of the
//! content), shaped, routed, and made the events they become — on the mapping threads, apart
//! from the pass that waits on the vendor and the store.

use junction_config::{Pull, Route};
use junction_store::PulledRecord;
use junction_transform::jq;
use serde_json::json;
use sha2::Digest;

use super::sync::Report;

/// Longest entity key kept (an event id holds it, with the version and hash).
const MAX_KEY: usize = 200;
/// Longest reason kept for a skipped record.
const MAX_WHY: usize = 300;

/// What turns one source's records into events.
pub(super) struct Records {
    pub source: String,
    pub pull: Pull,
    pub routes: Vec<Route>,
    /// The pull's `shape`, as a bounded mapping.
    pub shape: Option<junction_transform::Mapping>,
    pub reconcile: bool,
    /// Where each record's data subject is (the source's `event.subject`).
    pub subject: Option<junction_config::Pick>,
}

impl Records {
    /// A page's lines as records, each with the event it becomes.
    pub(super) fn records(&self, lines: &[u8], now: i64, report: &mut Report) -> Vec<PulledRecord> {
        let mut out = Vec::new();
        for line in lines.split(|b| *b == b'\n').filter(|l| !l.is_empty()) {
            report.records += 1;
            match self.record(line, now) {
                Ok(r) => out.push(r),
                Err(why) => {
                    report.skipped += 1;
                    if report.skipped_why.is_none() {
                        let why = bounded(why);
                        tracing::warn!(source = %self.source, why = %why, "a pulled record was skipped");
                        report.skipped_why = Some(why);
                    }
                }
            }
        }
        out
    }

    fn record(&self, line: &[u8], now: i64) -> Result<PulledRecord, String> {
        let json = jq::parse_json(line).map_err(|e| format!("a record is not JSON: {e}"))?;
        let key = match self.pull.key.first(json.clone()) {
            Ok(Some(v)) => jq::scalar_text(&v).filter(|k| !k.is_empty()),
            Ok(None) => None,
            Err(e) => {
                return Err(format!(
                    "reading the key with `{}` failed: {e}",
                    self.pull.key.code()
                ))
            }
        }
        .ok_or_else(|| format!("a record has no key (`{}`)", self.pull.key.code()))?;
        if key.len() > MAX_KEY {
            return Err(format!("a record's key is longer than {MAX_KEY} bytes"));
        }
        let seq = match &self.pull.version {
            None => None,
            Some(p) => match p.first(json.clone()) {
                Ok(Some(jq::Val::Null)) | Ok(None) => None,
                Ok(Some(v)) => Some(
                    crate::ingest::sequence_of(&v).map_err(|e| format!("{e} (record {key})"))?,
                ),
                Err(e) => {
                    return Err(format!(
                        "reading the version with `{}` failed: {e}",
                        p.code()
                    ))
                }
            },
        };
        let hash = hex::encode(&sha2::Sha256::digest(line)[..8]);
        let external_id = match seq {
            Some(s) => format!("{key}@{s}#{hash}"),
            None => format!("{key}#{hash}"),
        };
        let (payload, json) = match &self.shape {
            None => (line.to_vec(), json),
            Some(m) => {
                let mut out = Vec::new();
                m.map_value(json, &mut out)
                    .map_err(|e| format!("the shape failed on record {key}: {e}"))?;
                let json = jq::parse_json(&out)?;
                (out, json)
            }
        };
        let event_type = self.pull.event_type.clone();
        let deliveries = crate::ingest::deliveries(&self.routes, &event_type, Some(&json), now);
        let subjects =
            crate::ingest::subjects_of(&self.subject, &http::HeaderMap::new(), Some(&json))
                .map_err(|e| format!("{e} (record {key})"))?;
        let mut event = self.event(external_id, event_type, &key, seq, payload, deliveries, now);
        event.subjects = subjects;
        Ok(PulledRecord {
            seq,
            hash,
            deleted: false,
            event,
            key,
        })
    }

    pub(super) fn deletion(&self, key: String, now: i64) -> PulledRecord {
        let payload =
            serde_json::to_vec(&json!({ "key": key, "deleted": true })).unwrap_or_default();
        let event_type = format!("{}.deleted", self.pull.entity);
        let json = jq::parse_json(&payload).ok();
        let deliveries = crate::ingest::deliveries(&self.routes, &event_type, json.as_ref(), now);
        // After every version of the entity, in the lane its ordered routes keep.
        let external_id = format!("{key}@deleted:{now}");
        PulledRecord {
            seq: Some(now),
            hash: String::new(),
            deleted: true,
            event: self.event(
                external_id,
                event_type,
                &key,
                Some(now),
                payload,
                deliveries,
                now,
            ),
            key,
        }
    }

    #[allow(clippy::too_many_arguments)]
    fn event(
        &self,
        external_id: String,
        event_type: String,
        key: &str,
        seq: Option<i64>,
        payload: Vec<u8>,
        deliveries: Vec<junction_store::NewDelivery>,
        now: i64,
    ) -> junction_store::NewEvent {
        junction_store::NewEvent {
            source: self.source.clone(),
            external_id,
            event_type,
            entity_key: Some(key.to_owned()),
            sequence: seq,
            received_at: now,
            payload,
            context: self.context(),
            deliveries,
            tracked: false,
            subjects: Vec::new(),
        }
    }

    /// A new trace per event; a reconciliation's events say where they come from
    /// (`Junction-Origin: reconciliation`), so receivers can tell them from webhooks.
    fn context(&self) -> junction_store::EventContext {
        let mut c = junction_store::EventContext {
            traceparent: Some(junction_telemetry::outgoing_traceparent(None)),
            headers: Vec::new(),
        };
        if self.reconcile {
            c.headers
                .push(("junction-origin".into(), "reconciliation".into()));
        }
        c
    }
}

/// A jq error can quote the record: what is kept and logged of it is bounded.
fn bounded(mut why: String) -> String {
    if why.len() > MAX_WHY {
        let mut cut = MAX_WHY;
        while !why.is_char_boundary(cut) {
            cut -= 1;
        }
        why.truncate(cut);
        why.push('…');
    }
    why
}

#[cfg(test)]
mod tests {
    #[test]
    fn a_skipped_records_reason_is_bounded_on_a_character_boundary() {
        assert_eq!(super::bounded("short".into()), "short");
        let long = "é".repeat(1000);
        let cut = super::bounded(long);
        assert!(
            cut.len() <= super::MAX_WHY + '…'.len_utf8(),
            "{}",
            cut.len()
        );
        assert!(cut.ends_with('…'));
    }
}
