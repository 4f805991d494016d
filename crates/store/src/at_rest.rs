//! Event payloads, stored headers and attempts' response excerpts sealed at rest
//! (`store.encrypt_payloads`, `sources.X.encrypt_payloads`): XChaCha20-Poly1305 under one data
//! key that the vault keeps sealed under the master key (so a master key rotation rewraps it),
//! a random 24-byte nonce per value, the kind of value bound as associated data. A copy of the
//! database file, its WAL or a backup shows none of those values.
//!
//! The stored form is self-describing, so sealed and plain rows live side by side (turning it on
//! or off needs no migration, and rows written before stay readable):
//! - bytes (payloads): `MAGIC ‖ 1 ‖ nonce ‖ ciphertext`; a plain payload that happens to start
//!   with `MAGIC` is stored `MAGIC ‖ 0 ‖ payload`; any other payload is stored as it is.
//! - text (headers, excerpts): `TEXT_MAGIC` then `1:` and base64 of nonce ‖ ciphertext, or `0:`
//!   and the text for a plain text starting with `TEXT_MAGIC`.
//!
//! The data key and which sources are sealed are process-wide, set at start-up and on reload
//! ([`configure`], [`set_policy`]), like the audit log's seal keys.

use std::borrow::Cow;
use std::collections::HashMap;
use std::sync::{Arc, RwLock};

use base64::Engine as _;
use chacha20poly1305::aead::{Aead, KeyInit, Payload};
use chacha20poly1305::{XChaCha20Poly1305, XNonce};

use crate::StoreError;

const MAGIC: &[u8] = b"\x00JXS";
const TEXT_MAGIC: &str = "\u{1}jxs";
const NONCE: usize = 24;
const SEALED: u8 = 1;
const PLAIN: u8 = 0;

/// What is sealed, with what.
#[derive(Default)]
struct State {
    cipher: Option<XChaCha20Poly1305>,
    /// Sources' payloads are sealed unless named `false` here …
    default: bool,
    /// … or sealed when named `true`.
    sources: HashMap<String, bool>,
}

static STATE: RwLock<Option<Arc<State>>> = RwLock::new(None);

fn state() -> Option<Arc<State>> {
    STATE.read().unwrap_or_else(|p| p.into_inner()).clone()
}

/// Sets the data key (`None`: this process cannot seal or open; sealed rows fail to read with
/// a clear error) and the policy.
pub fn configure(key: Option<[u8; 32]>, default: bool, sources: HashMap<String, bool>) {
    let cipher = key.map(|k| XChaCha20Poly1305::new(&k.into()));
    *STATE.write().unwrap_or_else(|p| p.into_inner()) = Some(Arc::new(State {
        cipher,
        default,
        sources,
    }));
}

/// Changes which sources are sealed (a config reload), keeping the key.
pub fn set_policy(default: bool, sources: HashMap<String, bool>) {
    let mut slot = STATE.write().unwrap_or_else(|p| p.into_inner());
    let cipher = slot.as_ref().and_then(|s| s.cipher.clone());
    if cipher.is_none() && (default || sources.values().any(|v| *v)) {
        tracing::warn!("encrypt_payloads was turned on by a reload, but this process started without the data key: payloads stay unsealed until it restarts");
    }
    *slot = Some(Arc::new(State {
        cipher,
        default,
        sources,
    }));
}

/// Whether `source`'s payloads are sealed now.
pub fn seals(source: &str) -> bool {
    state().is_some_and(|s| s.cipher.is_some() && s.wants(source))
}

impl State {
    fn wants(&self, source: &str) -> bool {
        self.sources.get(source).copied().unwrap_or(self.default)
    }

    /// Any source sealed: attempts' excerpts (which may quote a payload) are sealed too.
    fn any(&self) -> bool {
        self.default || self.sources.values().any(|v| *v)
    }
}

fn seal(cipher: &XChaCha20Poly1305, kind: &[u8], plain: &[u8]) -> Option<Vec<u8>> {
    let mut nonce = [0u8; NONCE];
    getrandom::fill(&mut nonce).ok()?;
    let sealed = cipher
        .encrypt(
            XNonce::from_slice(&nonce),
            Payload {
                msg: plain,
                aad: kind,
            },
        )
        .ok()?;
    let mut out = Vec::with_capacity(NONCE + sealed.len());
    out.extend_from_slice(&nonce);
    out.extend_from_slice(&sealed);
    Some(out)
}

fn open(kind: &[u8], sealed: &[u8]) -> Result<Vec<u8>, StoreError> {
    let st = state();
    let cipher = st.as_ref().and_then(|s| s.cipher.as_ref()).ok_or_else(|| {
        StoreError::Internal(
            "this value is encrypted at rest and this process has no data key: set JUNCTION_MASTER_KEY to the hub's master key".into(),
        )
    })?;
    if sealed.len() < NONCE {
        return Err(corrupt());
    }
    let (nonce, body) = sealed.split_at(NONCE);
    cipher
        .decrypt(
            XNonce::from_slice(nonce),
            Payload {
                msg: body,
                aad: kind,
            },
        )
        .map_err(|_| corrupt())
}

fn corrupt() -> StoreError {
    StoreError::Internal(
        "a value encrypted at rest does not open with the data key: the row was changed, or the vault's data key was replaced".into(),
    )
}

/// The stored form of `source`'s payload.
pub(crate) fn seal_payload<'a>(source: &str, payload: &'a [u8]) -> Cow<'a, [u8]> {
    let st = state();
    if let Some((st, cipher)) = st.as_ref().and_then(|s| Some((s, s.cipher.as_ref()?))) {
        if st.wants(source) {
            if let Some(sealed) = seal(cipher, b"payload", payload) {
                let mut out = Vec::with_capacity(MAGIC.len() + 1 + sealed.len());
                out.extend_from_slice(MAGIC);
                out.push(SEALED);
                out.extend_from_slice(&sealed);
                return Cow::Owned(out);
            }
            tracing::error!("no system randomness: a payload is stored unsealed");
        }
    }
    if payload.starts_with(MAGIC) {
        let mut out = Vec::with_capacity(MAGIC.len() + 1 + payload.len());
        out.extend_from_slice(MAGIC);
        out.push(PLAIN);
        out.extend_from_slice(payload);
        return Cow::Owned(out);
    }
    Cow::Borrowed(payload)
}

/// A payload as read from the store.
pub(crate) fn open_payload(stored: Vec<u8>) -> Result<Vec<u8>, StoreError> {
    match stored.strip_prefix(MAGIC) {
        None => Ok(stored),
        Some([PLAIN, rest @ ..]) => Ok(rest.to_vec()),
        Some([SEALED, rest @ ..]) => open(b"payload", rest),
        Some(_) => Err(corrupt()),
    }
}

/// A text column: stored headers of events, or attempts' excerpts.
#[derive(Clone, Copy)]
pub(crate) enum Kind {
    Headers,
    Excerpt,
}

impl Kind {
    fn aad(self) -> &'static [u8] {
        match self {
            Kind::Headers => b"headers",
            Kind::Excerpt => b"excerpt",
        }
    }
}

/// The stored form of a text column: `source`'s event headers, or (`None`) an excerpt. Plain
/// text is borrowed as it is.
pub(crate) fn seal_text<'a>(
    kind: Kind,
    source: Option<&str>,
    text: Option<&'a str>,
) -> Option<Cow<'a, str>> {
    let text = text?;
    let st = state();
    if let Some((st, cipher)) = st.as_ref().and_then(|s| Some((s, s.cipher.as_ref()?))) {
        let wanted = match source {
            Some(source) => st.wants(source),
            None => st.any(),
        };
        if wanted {
            if let Some(sealed) = seal(cipher, kind.aad(), text.as_bytes()) {
                let b64 = base64::engine::general_purpose::STANDARD_NO_PAD.encode(sealed);
                return Some(Cow::Owned(format!("{TEXT_MAGIC}1:{b64}")));
            }
        }
    }
    if text.starts_with(TEXT_MAGIC) {
        return Some(Cow::Owned(format!("{TEXT_MAGIC}0:{text}")));
    }
    Some(Cow::Borrowed(text))
}

/// A text column as read from the store.
pub(crate) fn open_text(kind: Kind, stored: Option<String>) -> Result<Option<String>, StoreError> {
    let Some(stored) = stored else {
        return Ok(None);
    };
    let Some(rest) = stored.strip_prefix(TEXT_MAGIC) else {
        return Ok(Some(stored));
    };
    if let Some(plain) = rest.strip_prefix("0:") {
        return Ok(Some(plain.to_owned()));
    }
    let b64 = rest.strip_prefix("1:").ok_or_else(corrupt)?;
    let sealed = base64::engine::general_purpose::STANDARD_NO_PAD
        .decode(b64)
        .map_err(|_| corrupt())?;
    let plain = open(kind.aad(), &sealed)?;
    String::from_utf8(plain).map(Some).map_err(|_| corrupt())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sealed_and_plain_values_read_back_whatever_they_start_with() {
        configure(
            Some([9u8; 32]),
            false,
            HashMap::from([("crm".to_owned(), true)]),
        );
        let body = br#"{"email":"ada@example.org"}"#;
        let sealed = seal_payload("crm", body).into_owned();
        assert!(!sealed.windows(5).any(|w| w == b"email"));
        assert_eq!(open_payload(sealed).unwrap(), body);
        // Not sealed for another source; a plain payload that looks sealed is escaped.
        assert!(matches!(seal_payload("shop", body), Cow::Borrowed(_)));
        let tricky = [MAGIC, &[SEALED], b"junk"].concat();
        let stored = seal_payload("shop", &tricky).into_owned();
        assert_eq!(open_payload(stored).unwrap(), tricky);

        let h = seal_text(Kind::Headers, Some("crm"), Some("{\"x-id\":\"1\"}"))
            .unwrap()
            .into_owned();
        assert!(h.starts_with(TEXT_MAGIC) && !h.contains("x-id"));
        assert_eq!(
            open_text(Kind::Headers, Some(h)).unwrap().unwrap(),
            "{\"x-id\":\"1\"}"
        );
        let e = seal_text(Kind::Excerpt, None, Some("card 4111"))
            .unwrap()
            .into_owned();
        assert!(!e.contains("4111"));
        // A value moved to another kind of column does not open.
        assert!(open_text(Kind::Headers, Some(e.clone())).is_err());
        assert_eq!(
            open_text(Kind::Excerpt, Some(e)).unwrap().unwrap(),
            "card 4111"
        );
        let odd = format!("{TEXT_MAGIC}1:zz");
        set_policy(false, HashMap::new());
        let stored = seal_text(Kind::Excerpt, None, Some(&odd))
            .unwrap()
            .into_owned();
        assert_eq!(
            open_text(Kind::Excerpt, Some(stored)).unwrap().unwrap(),
            odd
        );
        configure(None, false, HashMap::new());
    }
}
