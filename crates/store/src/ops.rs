//! What operators see and steer by: the audit log (hash-chained), the per-minute history behind
//! charts and alerts, and alert state shared by every process.

use sha2::{Digest, Sha256};

/// An audit entry to append; the store numbers it and chains its hash.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NewAudit {
    pub at: i64,
    /// Who: an API token id (`token:ab12…`), `env-admin-token`, `loopback`, `cli:<user>`, `hub`.
    pub actor: String,
    /// What, as `noun.verb`: `delivery.replay`, `secret.set`, `token.create`, `secret.read`.
    pub action: String,
    /// On what: a delivery id, a secret's name, a request path.
    pub target: String,
    /// From where: the client's address, or `local` for the CLI on the server's machine.
    pub origin: String,
    /// Anything else, as JSON text (status code, filter, count).
    pub detail: String,
}

/// A stored audit entry.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct AuditRecord {
    pub seq: i64,
    pub at: i64,
    pub actor: String,
    pub action: String,
    pub target: String,
    pub origin: String,
    pub detail: String,
    pub prev_hash: String,
    pub hash: String,
}

/// The hash before the first entry.
pub const GENESIS: &str = "0000000000000000000000000000000000000000000000000000000000000000";

/// The hash of an entry: SHA-256 over the previous hash and every field, each length-prefixed
/// so no two different entries hash the same text.
pub fn chain_hash(prev_hash: &str, seq: i64, e: &NewAudit) -> String {
    let mut h = Sha256::new();
    for_each_part(prev_hash, seq, e, |b| h.update(b));
    hex::encode(h.finalize())
}

/// A sealed entry's hash: the same parts under HMAC-SHA256 with a key derived from master key
/// `version`, written `k{version}:{hex}`. Without the master key, nobody can rebuild it.
pub fn sealed_hash(
    version: i64,
    key: &[u8; 32],
    prev_hash: &str,
    seq: i64,
    e: &NewAudit,
) -> String {
    use hmac::Mac;
    let Ok(mut mac) = hmac::Hmac::<Sha256>::new_from_slice(key) else {
        return String::new();
    };
    for_each_part(prev_hash, seq, e, |b| mac.update(b));
    format!("k{version}:{}", hex::encode(mac.finalize().into_bytes()))
}

fn for_each_part(prev_hash: &str, seq: i64, e: &NewAudit, mut feed: impl FnMut(&[u8])) {
    let seq = seq.to_string();
    let at = e.at.to_string();
    for part in [
        prev_hash, &seq, &at, &e.actor, &e.action, &e.target, &e.origin, &e.detail,
    ] {
        feed(&(part.len() as u64).to_be_bytes());
        feed(part.as_bytes());
    }
}

/// The master key version a sealed hash names (`k2:…` → 2); `None` for a plain SHA-256 hash.
fn seal_version(hash: &str) -> Option<i64> {
    hash.strip_prefix('k')?.split_once(':')?.0.parse().ok()
}

/// This process's audit seal keys by master key version, highest first (empty: no master key).
static SEAL: std::sync::RwLock<Vec<(i64, [u8; 32])>> = std::sync::RwLock::new(Vec::new());

/// Seals the entries this process appends with `keys` (derived from the master keys, highest
/// version first; see `Keyring::derived`), and lets it check sealed entries. Without a master
/// key a process appends plain entries, and may not append after a sealed one.
pub fn seal_audit_with(keys: Vec<(i64, [u8; 32])>) {
    let mut keys = keys;
    keys.sort_by_key(|(v, _)| std::cmp::Reverse(*v));
    *SEAL.write().unwrap_or_else(|p| p.into_inner()) = keys;
}

/// The label audit seal keys are derived under.
pub const SEAL_LABEL: &str = "junction audit log v1";

fn seal_key(version: Option<i64>) -> Option<(i64, [u8; 32])> {
    let keys = SEAL.read().unwrap_or_else(|p| p.into_inner());
    match version {
        None => keys.first().copied(),
        Some(v) => keys.iter().find(|(k, _)| *k == v).copied(),
    }
}

impl AuditRecord {
    /// Numbers and chains `e` after `head` (`None`: the first entry), sealed when this process
    /// has a master key. A process without one may not extend a sealed log: its plain entry
    /// would read as a downgrade.
    pub fn chain(head: Option<(i64, String)>, e: NewAudit) -> Result<Self, crate::StoreError> {
        let (seq, prev_hash) = match head {
            Some((seq, hash)) => (seq + 1, hash),
            None => (1, GENESIS.to_owned()),
        };
        let hash = match seal_key(None) {
            Some((v, key)) => sealed_hash(v, &key, &prev_hash, seq, &e),
            None if seal_version(&prev_hash).is_some() => {
                return Err(crate::StoreError::NeedsMasterKey)
            }
            None => chain_hash(&prev_hash, seq, &e),
        };
        Ok(Self {
            seq,
            at: e.at,
            actor: e.actor,
            action: e.action,
            target: e.target,
            origin: e.origin,
            detail: e.detail,
            prev_hash,
            hash,
        })
    }

    /// The hash this entry should have (`None`: it is sealed under a key this process lacks).
    fn recomputed(&self) -> Option<String> {
        let e = NewAudit {
            at: self.at,
            actor: self.actor.clone(),
            action: self.action.clone(),
            target: self.target.clone(),
            origin: self.origin.clone(),
            detail: self.detail.clone(),
        };
        match seal_version(&self.hash) {
            Some(v) => {
                let (v, key) = seal_key(Some(v))?;
                Some(sealed_hash(v, &key, &self.prev_hash, self.seq, &e))
            }
            None => Some(chain_hash(&self.prev_hash, self.seq, &e)),
        }
    }
}

/// Where a chain stops holding.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ChainBreak {
    #[error("entry {seq} was changed: its hash does not match its content")]
    Modified { seq: i64 },
    #[error("entry {expected} is missing (the next entry is {found})")]
    Missing { expected: i64, found: i64 },
    #[error("entry {seq} does not follow the entry before it (its previous hash differs)")]
    Unlinked { seq: i64 },
    #[error("the log ends at entry {last} but its head says {head}: entries at the end were deleted or the head was changed")]
    Truncated { last: i64, head: i64 },
    #[error("entry {seq} is not the one whose hash was kept: the log was rewritten from there or before, and its chain rebuilt")]
    Rewritten { seq: i64 },
    #[error("the log has no entry {seq}, whose hash was kept: entries were deleted and the chain rebuilt")]
    AnchorMissing { seq: i64 },
    #[error("entry {seq}, whose hash was kept, was moved to the archive: check with `--archive DIR` (server.audit.archive)")]
    AnchorArchived { seq: i64 },
    #[error("the log starts after entry {start} (older ones were archived), but the archive read ends at entry {last}: archive files are missing")]
    ArchiveGap { last: i64, start: i64 },
    #[error("entry {seq} is sealed with master key version {version}, which this process does not have: set JUNCTION_MASTER_KEY to check it")]
    NeedsKey { seq: i64, version: i64 },
    #[error("entry {seq} is not sealed with the master key: the log was rebuilt without it from there, or the entry was written before sealing or by a process without the key")]
    Unsealed { seq: i64 },
}

/// A head kept outside the database (`SEQ:HASH`, as `junction audit verify` prints it). Anyone
/// who can write the database can rebuild the whole chain; they cannot change a copy kept
/// elsewhere, so a log checked against it proves every entry up to it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Anchor {
    pub seq: i64,
    pub hash: String,
}

impl std::str::FromStr for Anchor {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, String> {
        let (seq, hash) = s
            .split_once(':')
            .ok_or_else(|| format!("`{s}` is not SEQ:HASH"))?;
        let seq: i64 = seq
            .trim()
            .parse()
            .map_err(|_| format!("`{seq}` is not an entry number"))?;
        let hash = hash.trim().to_ascii_lowercase();
        // A plain hash, or a sealed one (`k1:…`).
        let digits = match hash.split_once(':') {
            Some((_, d)) if seal_version(&hash).is_some() => d,
            _ => hash.as_str(),
        };
        if seq < 1 || digits.len() != 64 || !digits.bytes().all(|b| b.is_ascii_hexdigit()) {
            return Err(format!(
                "`{s}` is not SEQ:HASH (a positive number, then 64 hex digits, sealed ones after `kN:`)"
            ));
        }
        Ok(Self { seq, hash })
    }
}

impl std::fmt::Display for Anchor {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}:{}", self.seq, self.hash)
    }
}

/// Checks a whole log, in order, against its head. Answers how many entries hold.
pub struct Verifier {
    prev: Option<(i64, String)>,
    count: u64,
    anchor: Option<Anchor>,
    /// An entry seen so far was sealed: every later one must be.
    sealed: bool,
    /// Every entry must be sealed (the verifier has the key, and no plain history is allowed).
    require_sealed: bool,
    /// The archive was walked first: the store's entries must go on from its last.
    archive_walked: bool,
}

impl Default for Verifier {
    fn default() -> Self {
        Self::new()
    }
}

impl Verifier {
    pub fn new() -> Self {
        Self {
            prev: None,
            count: 0,
            anchor: None,
            sealed: false,
            require_sealed: false,
            archive_walked: false,
        }
    }

    /// Plain (unsealed) entries are breaks anywhere, not only after a sealed one: what a
    /// process holding the master key asks, so a log rebuilt entirely without it is caught.
    pub fn requiring_seals(self, require: bool) -> Self {
        Self {
            require_sealed: require,
            ..self
        }
    }

    /// A verifier that also checks the entry of `anchor` has the hash kept there.
    pub fn anchored(anchor: Option<Anchor>) -> Self {
        Self {
            anchor,
            ..Self::new()
        }
    }

    /// Continues a log whose entries up to `start` were archived (and not walked here): the
    /// next entry must follow it. An anchor inside the archived part cannot be checked.
    pub fn after(mut self, start: (i64, String)) -> Result<Self, ChainBreak> {
        if let Some(a) = self.anchor.as_ref().filter(|a| a.seq <= start.0) {
            return Err(ChainBreak::AnchorArchived { seq: a.seq });
        }
        self.sealed |= seal_version(&start.1).is_some();
        self.prev = Some(start);
        Ok(self)
    }

    /// Marks the archive as walked (even if it held nothing): the store's entries must then
    /// go on from the archive's last, and an archive missing files is a break.
    pub fn archive_walked(self) -> Self {
        Self {
            archive_walked: true,
            ..self
        }
    }

    /// The last entry walked.
    pub fn last(&self) -> i64 {
        self.prev.as_ref().map(|p| p.0).unwrap_or(0)
    }

    /// Feeds the next entry (by ascending `seq`).
    pub fn next(&mut self, r: &AuditRecord) -> Result<(), ChainBreak> {
        let (expected_seq, expected_prev) = match &self.prev {
            Some((seq, hash)) => (seq + 1, hash.as_str()),
            None => (1, GENESIS),
        };
        if r.seq != expected_seq {
            return Err(ChainBreak::Missing {
                expected: expected_seq,
                found: r.seq,
            });
        }
        match (seal_version(&r.hash), self.sealed || self.require_sealed) {
            (None, true) => return Err(ChainBreak::Unsealed { seq: r.seq }),
            (Some(_), _) => self.sealed = true,
            (None, false) => {}
        }
        match r.recomputed() {
            Some(h) if h == r.hash => {}
            Some(_) => return Err(ChainBreak::Modified { seq: r.seq }),
            None => {
                return Err(ChainBreak::NeedsKey {
                    seq: r.seq,
                    version: seal_version(&r.hash).unwrap_or(0),
                })
            }
        }
        if r.prev_hash != expected_prev {
            return Err(ChainBreak::Unlinked { seq: r.seq });
        }
        if self
            .anchor
            .as_ref()
            .is_some_and(|a| a.seq == r.seq && a.hash != r.hash)
        {
            return Err(ChainBreak::Rewritten { seq: r.seq });
        }
        self.prev = Some((r.seq, r.hash.clone()));
        self.count += 1;
        Ok(())
    }

    /// Ends the walk: the last entry must be the head.
    pub fn finish(self, head: Option<(i64, String)>) -> Result<u64, ChainBreak> {
        let last = self.prev.as_ref().map(|p| p.0).unwrap_or(0);
        if let Some(a) = self.anchor.as_ref().filter(|a| a.seq > last) {
            return Err(ChainBreak::AnchorMissing { seq: a.seq });
        }
        match head {
            Some((seq, hash)) if seq == last && self.prev.as_ref().map(|p| &p.1) == Some(&hash) => {
                Ok(self.count)
            }
            None if last == 0 => Ok(0),
            Some((seq, _)) => Err(ChainBreak::Truncated { last, head: seq }),
            None => Err(ChainBreak::Truncated { last, head: 0 }),
        }
    }
}

/// Walks the whole audit log of `store` page by page against its head: how many entries hold,
/// or where the chain breaks (the outer error: the store could not be read).
pub async fn verify_audit(
    store: &dyn crate::Store,
) -> Result<Result<u64, ChainBreak>, crate::StoreError> {
    verify_audit_anchored(store, None, false).await
}

/// Whether this process seals audit entries (it has a master key).
pub fn sealing() -> bool {
    seal_key(None).is_some()
}

/// [`verify_audit`], also checking the log still holds `anchor` (a head kept elsewhere), and,
/// with `require_sealed`, that every entry is sealed.
pub async fn verify_audit_anchored(
    store: &dyn crate::Store,
    anchor: Option<Anchor>,
    require_sealed: bool,
) -> Result<Result<u64, ChainBreak>, crate::StoreError> {
    verify_audit_from(
        store,
        Verifier::anchored(anchor).requiring_seals(require_sealed),
    )
    .await
}

/// Walks the store's audit log with `v`, which may have walked the archive's entries already
/// (`junction audit verify --archive`): the store's entries continue where they end.
pub async fn verify_audit_from(
    store: &dyn crate::Store,
    mut v: Verifier,
) -> Result<Result<u64, ChainBreak>, crate::StoreError> {
    // The head first: entries appended during the walk are past it and not checked.
    let head = store.audit_head().await?;
    let start = store.audit_start().await?;
    match start {
        Some(start) if v.prev.is_none() && !v.archive_walked => match v.after(start) {
            Ok(next) => v = next,
            Err(b) => return Ok(Err(b)),
        },
        Some((start, _)) if v.last() < start => {
            return Ok(Err(ChainBreak::ArchiveGap {
                last: v.last(),
                start,
            }))
        }
        _ => {}
    }
    let mut after = v.last();
    loop {
        let page = store.audit_after(after, 1000).await?;
        let Some(last) = page.last() else { break };
        after = last.seq;
        for r in &page {
            if head.as_ref().is_some_and(|(h, _)| r.seq > *h) {
                return Ok(v.finish(head));
            }
            if let Err(b) = v.next(r) {
                return Ok(Err(b));
            }
        }
    }
    Ok(v.finish(head))
}

/// One series' figures for one minute from one process.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MinuteRow {
    /// The minute's start, unix ms.
    pub minute: i64,
    /// `connector`, `source` or `destination`.
    pub kind: String,
    pub name: String,
    pub node: String,
    /// A JSON object of counters: `{"calls": 120, "errors": 3}`.
    pub counts: String,
    /// A JSON array of latency bucket counts (see the telemetry crate's history buckets).
    pub hist: String,
}

/// An alert as every process sees it.
#[derive(Debug, Clone, PartialEq, serde::Serialize)]
pub struct AlertRecord {
    /// `rule/subject`.
    pub key: String,
    pub rule: String,
    pub subject: String,
    pub severity: String,
    pub state: crate::states::AlertState,
    pub value: f64,
    pub message: String,
    /// When it entered its state.
    pub since: i64,
    pub updated_at: i64,
    /// How many times it has fired.
    pub fired_count: i64,
}

/// Fire (from no alert or a resolved one) or resolve (a firing one). Only one of several
/// processes attempting the same change succeeds, and only that one notifies.
#[derive(Debug, Clone, PartialEq)]
pub struct AlertChange {
    pub rule: String,
    pub subject: String,
    pub severity: String,
    pub fire: bool,
    /// Only updates the value and message of an alert that is firing (its reading moved):
    /// never fires, resolves or notifies.
    pub refresh: bool,
    pub value: f64,
    pub message: String,
    pub at: i64,
}

impl AlertChange {
    pub fn key(&self) -> String {
        format!("{}/{}", self.rule, self.subject)
    }
}

pub(crate) mod sql {
    pub const AUDIT_COLUMNS: &str =
        "seq, at, actor, action, target, origin, detail, prev_hash, hash";

    pub fn audit_insert(p: &dyn Fn(usize) -> String) -> String {
        format!(
            "INSERT INTO audit ({AUDIT_COLUMNS}) VALUES ({}, {}, {}, {}, {}, {}, {}, {}, {})",
            p(1),
            p(2),
            p(3),
            p(4),
            p(5),
            p(6),
            p(7),
            p(8),
            p(9)
        )
    }

    pub fn head_upsert(p: &dyn Fn(usize) -> String) -> String {
        format!(
            "INSERT INTO audit_head (id, seq, hash) VALUES (1, {}, {})
             ON CONFLICT (id) DO UPDATE SET seq = excluded.seq, hash = excluded.hash",
            p(1),
            p(2)
        )
    }

    pub const HEAD: &str = "SELECT seq, hash FROM audit_head WHERE id = 1";

    pub const START: &str = "SELECT seq, hash FROM audit_start WHERE id = 1";

    pub fn hash_of(p: &dyn Fn(usize) -> String) -> String {
        format!("SELECT hash FROM audit WHERE seq = {}", p(1))
    }

    pub fn delete_through(p: &dyn Fn(usize) -> String) -> String {
        format!("DELETE FROM audit WHERE seq <= {}", p(1))
    }

    pub fn start_upsert(p: &dyn Fn(usize) -> String) -> String {
        format!(
            "INSERT INTO audit_start (id, seq, hash) VALUES (1, {}, {})
             ON CONFLICT (id) DO UPDATE SET seq = excluded.seq, hash = excluded.hash
             WHERE excluded.seq > audit_start.seq",
            p(1),
            p(2)
        )
    }

    pub fn audit_page(p: &dyn Fn(usize) -> String) -> String {
        format!(
            "SELECT {AUDIT_COLUMNS} FROM audit WHERE seq > {} ORDER BY seq LIMIT {}",
            p(1),
            p(2)
        )
    }

    pub fn audit_newest(p: &dyn Fn(usize) -> String) -> String {
        format!(
            "SELECT {AUDIT_COLUMNS} FROM audit ORDER BY seq DESC LIMIT {}",
            p(1)
        )
    }

    pub fn minutes_upsert(p: &dyn Fn(usize) -> String) -> String {
        format!(
            "INSERT INTO minutes (minute, kind, name, node, counts, hist)
             VALUES ({}, {}, {}, {}, {}, {})
             ON CONFLICT (minute, kind, name, node) DO UPDATE SET
               counts = excluded.counts, hist = excluded.hist",
            p(1),
            p(2),
            p(3),
            p(4),
            p(5),
            p(6)
        )
    }

    pub fn minutes_since(p: &dyn Fn(usize) -> String) -> String {
        format!(
            "SELECT minute, kind, name, node, counts, hist FROM minutes WHERE minute >= {}
             ORDER BY minute, kind, name",
            p(1)
        )
    }

    pub fn minutes_purge(p: &dyn Fn(usize) -> String) -> String {
        format!("DELETE FROM minutes WHERE minute < {}", p(1))
    }

    pub const ALERT_COLUMNS: &str =
        "key, rule, subject, severity, state, value, message, since, updated_at, fired_count";

    /// Fires: inserts, or turns a resolved alert firing again; a firing one is left alone.
    pub fn alert_fire(p: &dyn Fn(usize) -> String) -> String {
        format!(
            "INSERT INTO alerts ({ALERT_COLUMNS})
             VALUES ({}, {}, {}, {}, 'firing', {}, {}, {}, {}, 1)
             ON CONFLICT (key) DO UPDATE SET state = 'firing', value = excluded.value,
               message = excluded.message, severity = excluded.severity, since = excluded.since,
               updated_at = excluded.updated_at, fired_count = alerts.fired_count + 1
             WHERE alerts.state <> 'firing'",
            p(1),
            p(2),
            p(3),
            p(4),
            p(5),
            p(6),
            p(7),
            p(8)
        )
    }

    /// Resolves a firing alert.
    pub fn alert_resolve(p: &dyn Fn(usize) -> String) -> String {
        format!(
            "UPDATE alerts SET state = 'resolved', value = {}, message = {}, since = {},
               updated_at = {} WHERE key = {} AND state = 'firing'",
            p(1),
            p(2),
            p(3),
            p(4),
            p(5)
        )
    }

    pub fn alert_refresh(p: &dyn Fn(usize) -> String) -> String {
        format!(
            "UPDATE alerts SET value = {}, message = {} WHERE key = {} AND state = 'firing'",
            p(1),
            p(2),
            p(3)
        )
    }

    pub fn alerts_all() -> String {
        format!("SELECT {ALERT_COLUMNS} FROM alerts ORDER BY state, updated_at DESC")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn entry(n: i64) -> NewAudit {
        NewAudit {
            at: 1_700_000_000_000 + n,
            actor: "token:abc".into(),
            action: "delivery.replay".into(),
            target: n.to_string(),
            origin: "127.0.0.1".into(),
            detail: "{}".into(),
        }
    }

    fn log(n: i64) -> Vec<AuditRecord> {
        let mut out: Vec<AuditRecord> = Vec::new();
        for i in 0..n {
            let head = out.last().map(|r| (r.seq, r.hash.clone()));
            out.push(AuditRecord::chain(head, entry(i)).unwrap());
        }
        out
    }

    #[test]
    fn a_sealed_log_cannot_be_rebuilt_without_the_master_key() {
        seal_audit_with(vec![(1, [7u8; 32])]);
        let rows = log(5);
        assert!(rows.iter().all(|r| r.hash.starts_with("k1:")), "{rows:?}");
        let head = rows.last().map(|r| (r.seq, r.hash.clone()));
        assert_eq!(verify(&rows, head.clone()), Ok(5));
        // Someone with the database but not the key rewrites entry 3 and rebuilds the chain.
        let mut forged = rows[..2].to_vec();
        for (i, r) in rows[2..].iter().enumerate() {
            let mut e = entry(2 + i as i64);
            if i == 0 {
                e.actor = "nobody".into();
            }
            let prev = forged.last().map(|r| r.hash.clone()).unwrap();
            let seq = r.seq;
            let hash = chain_hash(&prev, seq, &e);
            forged.push(AuditRecord {
                seq,
                at: e.at,
                actor: e.actor,
                action: e.action,
                target: e.target,
                origin: e.origin,
                detail: e.detail,
                prev_hash: prev,
                hash,
            });
        }
        let forged_head = forged.last().map(|r| (r.seq, r.hash.clone()));
        assert_eq!(
            verify(&forged, forged_head),
            Err(ChainBreak::Unsealed { seq: 3 })
        );
        // Rebuilt from the first entry, plain throughout: caught by a verifier that holds the
        // key and so requires seals.
        let plain: Vec<AuditRecord> = {
            let keys = SEAL.read().unwrap().clone();
            seal_audit_with(Vec::new());
            let l = log(5);
            seal_audit_with(keys);
            l
        };
        let mut v = Verifier::new().requiring_seals(true);
        assert_eq!(v.next(&plain[0]), Err(ChainBreak::Unsealed { seq: 1 }));
        // A key of their own makes a sealed entry that the real key does not reproduce.
        let mut wrong = rows.clone();
        wrong[2].actor = "nobody".into();
        wrong[2].hash = sealed_hash(1, &[9u8; 32], &wrong[2].prev_hash, 3, &entry(2));
        assert_eq!(
            verify(&wrong, head.clone()),
            Err(ChainBreak::Modified { seq: 3 })
        );
        // Without the key: sealed entries cannot be checked, nor the log extended.
        seal_audit_with(Vec::new());
        assert_eq!(
            verify(&rows, head.clone()),
            Err(ChainBreak::NeedsKey { seq: 1, version: 1 })
        );
        assert!(AuditRecord::chain(head, entry(9)).is_err());
    }

    fn verify(rows: &[AuditRecord], head: Option<(i64, String)>) -> Result<u64, ChainBreak> {
        let mut v = Verifier::new();
        for r in rows {
            v.next(r)?;
        }
        v.finish(head)
    }

    #[test]
    fn the_audit_chain_detects_a_modified_or_deleted_row() {
        let rows = log(5);
        let head = Some((5, rows[4].hash.clone()));
        assert_eq!(verify(&rows, head.clone()), Ok(5));
        assert_eq!(verify(&[], None), Ok(0));

        let mut changed = rows.clone();
        changed[2].actor = "someone-else".into();
        assert_eq!(
            verify(&changed, head.clone()),
            Err(ChainBreak::Modified { seq: 3 })
        );

        let mut deleted = rows.clone();
        deleted.remove(1);
        assert_eq!(
            verify(&deleted, head.clone()),
            Err(ChainBreak::Missing {
                expected: 2,
                found: 3
            })
        );

        // Rewriting a row with a fresh hash still breaks the link to the next one.
        let mut rehashed = rows.clone();
        rehashed[2].target = "other".into();
        rehashed[2].hash = rehashed[2].recomputed().unwrap();
        assert_eq!(
            verify(&rehashed, head.clone()),
            Err(ChainBreak::Unlinked { seq: 4 })
        );

        let truncated = &rows[..4];
        assert_eq!(
            verify(truncated, head),
            Err(ChainBreak::Truncated { last: 4, head: 5 })
        );
    }
}
