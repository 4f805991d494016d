//! Personal data masking: what an operator reading logs, attempt excerpts, quarantine reasons,
//! rejected-request samples — or a viewer reading events — is not shown.
//!
//! Two rules, like [`crate::mask`]'s for secrets, applied to any text on its way out:
//! 1. the value of a field *named* like personal data (`email`, `phone`, `ssn`, `iban`,
//!    `date_of_birth`, … and the names `server.pii.fields` adds), as `"name": "value"` or
//!    `name=value`, becomes `***`;
//! 2. values that *look* like personal data wherever they are: email addresses (the part before
//!    `@`), payment card numbers (13–19 digits, first digit 2–6, that pass the Luhn check: ids and
//!    millisecond timestamps do not), US social security numbers (`123-45-6789`) and
//!    international phone numbers (`+` and 8–15 digits).
//!
//! On by default (`server.pii.mask`); configured once per process (and on each reload).

use std::borrow::Cow;
use std::sync::{Arc, OnceLock, RwLock};

use regex::Regex;

use crate::mask::{replace, MASK};

/// Field names masked whatever the config says (compared case-insensitively, `-` and `_`
/// alike, as the whole name).
pub const DEFAULT_FIELDS: &[&str] = &[
    "email",
    "email_address",
    "phone",
    "phone_number",
    "mobile",
    "ssn",
    "social_security_number",
    "national_id",
    "tax_id",
    "passport",
    "passport_number",
    "iban",
    "card_number",
    "pan",
    "date_of_birth",
    "dob",
    "birthdate",
];

struct Settings {
    enabled: bool,
    /// The names, lower case with `_`, for JSON keys.
    plain: std::collections::HashSet<String>,
    /// Any of the names, in either spelling: text without one skips the two regexes below.
    names: aho_corasick::AhoCorasick,
    json_field: Regex,
    key_value: Regex,
}

fn build(enabled: bool, extra: &[String]) -> Settings {
    let plain: Vec<String> = DEFAULT_FIELDS
        .iter()
        .map(|s| (*s).to_owned())
        .chain(
            extra
                .iter()
                .map(|s| s.to_ascii_lowercase().replace('-', "_")),
        )
        .filter(|n| !n.is_empty() && n.len() <= 64)
        .collect();
    let spellings: Vec<String> = plain
        .iter()
        .flat_map(|n| [n.clone(), n.replace('_', "-")])
        .collect();
    let mut names: Vec<String> = plain
        .iter()
        .map(|n| regex::escape(n).replace('_', "[_-]"))
        .collect();
    names.sort();
    names.dedup();
    let alt = names.join("|");
    Settings {
        enabled,
        plain: plain.iter().cloned().collect(),
        names: aho_corasick::AhoCorasick::builder()
            .ascii_case_insensitive(true)
            .build(&spellings)
            .expect("valid needles"),
        // "email": "a@b.c", "phone": 5551234 — strings and numbers.
        json_field: Regex::new(&format!(
            r#"(?i)("(?:{alt})"\s*:\s*)(?:"(?:[^"\\]|\\.)*"|-?[0-9][0-9.eE+-]*)"#
        ))
        .expect("valid regex"),
        // email=a@b.c
        key_value: Regex::new(&format!(r#"(?i)(\b(?:{alt})=)[^\s&",;}}\]]+"#))
            .expect("valid regex"),
    }
}

fn settings() -> &'static RwLock<Arc<Settings>> {
    static S: OnceLock<RwLock<Arc<Settings>>> = OnceLock::new();
    S.get_or_init(|| RwLock::new(Arc::new(build(true, &[]))))
}

/// Turns masking on or off for this process and adds field names to the default list.
pub fn configure(enabled: bool, extra_fields: &[String]) {
    let lock = settings();
    let mut guard = lock.write().unwrap_or_else(|p| p.into_inner());
    *guard = Arc::new(build(enabled, extra_fields));
}

struct Patterns {
    email: Regex,
    digits: Regex,
    ssn: Regex,
    phone: Regex,
}

fn patterns() -> &'static Patterns {
    static P: OnceLock<Patterns> = OnceLock::new();
    P.get_or_init(|| Patterns {
        email: Regex::new(r"[A-Za-z0-9._%+\-]{1,64}@([A-Za-z0-9\-]{1,63}(?:\.[A-Za-z0-9\-]{1,63})*\.[A-Za-z]{2,24})")
            .expect("valid regex"),
        // 13–19 digits, optionally in groups separated by one space or dash.
        digits: Regex::new(r"\b[2-6][0-9](?:[ \-]?[0-9]){11,17}\b").expect("valid regex"),
        ssn: Regex::new(r"\b[0-9]{3}-[0-9]{2}-[0-9]{4}\b").expect("valid regex"),
        phone: Regex::new(r"\+[1-9][0-9]{0,2}(?:[ .\-]?\(?[0-9]{1,4}\)?){2,5}").expect("valid regex"),
    })
}

/// Whether `digits` (separators ignored) pass the Luhn check.
fn luhn(text: &str) -> bool {
    let digits: Vec<u32> = text.chars().filter_map(|c| c.to_digit(10)).collect();
    if !(13..=19).contains(&digits.len()) {
        return false;
    }
    let sum: u32 = digits
        .iter()
        .rev()
        .enumerate()
        .map(|(i, &d)| {
            if i % 2 == 1 {
                let x = d * 2;
                if x > 9 {
                    x - 9
                } else {
                    x
                }
            } else {
                d
            }
        })
        .sum();
    sum % 10 == 0
}

/// Masks personal data in `text` (see the module's doc). Each rule runs only when the text holds
/// what it needs (a field name, an `@`, a `+`, a run of digits), so most log lines pass through
/// a few byte scans and are returned untouched.
pub fn mask(text: &str) -> Cow<'_, str> {
    let s = settings().read().unwrap_or_else(|p| p.into_inner()).clone();
    if !s.enabled {
        return Cow::Borrowed(text);
    }
    let p = patterns();
    let bytes = text.as_bytes();
    let mut out: Cow<'_, str> = Cow::Borrowed(text);
    if s.names.is_match(text) {
        out = replace(out, &s.json_field, r#"${1}"***""#);
        out = replace(out, &s.key_value, "${1}***");
    }
    if bytes.contains(&b'@') {
        out = replace(out, &p.email, "***@${1}");
    }
    if !bytes.windows(3).any(|w| w.iter().all(u8::is_ascii_digit)) {
        return out;
    }
    out = replace(out, &p.ssn, MASK);
    let cards = p.digits.replace_all(&out, |c: &regex::Captures<'_>| {
        let m = &c[0];
        if luhn(m) {
            let digits: Vec<char> = m.chars().filter(char::is_ascii_digit).collect();
            let last: String = digits[digits.len() - 4..].iter().collect();
            format!("{MASK}{last}")
        } else {
            m.to_owned()
        }
    });
    if let Cow::Owned(o) = cards {
        out = Cow::Owned(o);
    }
    if !bytes.contains(&b'+') {
        return out;
    }
    let phones = p.phone.replace_all(&out, |c: &regex::Captures<'_>| {
        let n = c[0].chars().filter(char::is_ascii_digit).count();
        if (8..=15).contains(&n) {
            format!("+{MASK}")
        } else {
            c[0].to_owned()
        }
    });
    if let Cow::Owned(o) = phones {
        out = Cow::Owned(o);
    }
    out
}

/// Masks personal data in a JSON document: every string value as [`mask`] does, and every
/// value of a field named like personal data.
pub fn mask_json(v: &mut serde_json::Value) {
    let s = settings().read().unwrap_or_else(|p| p.into_inner()).clone();
    if s.enabled {
        walk(v, &s, 0);
    }
}

fn walk(v: &mut serde_json::Value, s: &Settings, depth: usize) {
    if depth > 128 {
        return;
    }
    match v {
        serde_json::Value::String(text) => {
            if let Cow::Owned(m) = mask(text) {
                *text = m;
            }
        }
        serde_json::Value::Array(items) => items.iter_mut().for_each(|i| walk(i, s, depth + 1)),
        serde_json::Value::Object(map) => {
            for (k, val) in map.iter_mut() {
                let named = s.plain.contains(&k.to_ascii_lowercase().replace('-', "_"));
                if named && !val.is_null() && !val.is_object() && !val.is_array() {
                    *val = serde_json::Value::String(MASK.into());
                } else {
                    walk(val, s, depth + 1);
                }
            }
        }
        _ => {}
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn personal_data_is_masked_wherever_it_appears_and_ids_and_timestamps_are_not() {
        // Emails keep their domain (which tenant, not who).
        assert_eq!(
            mask("to alice.l@example.org failed"),
            "to ***@example.org failed"
        );
        // A Visa test number passes Luhn: masked but its last four.
        assert_eq!(mask("card 4111 1111 1111 1111 ok"), "card ***1111 ok");
        assert_eq!(mask("card 4111-1111-1111-1111"), "card ***1111");
        // Millisecond timestamps, event ids and numbers that fail Luhn stay.
        assert_eq!(
            mask("at 1764800000000 evt_4111111111111112"),
            "at 1764800000000 evt_4111111111111112"
        );
        assert_eq!(
            mask("ssn 123-45-6789, date 2026-12-03"),
            "ssn ***, date 2026-12-03"
        );
        assert_eq!(mask("call +44 20 7946 0958 now"), "call +*** now");
        assert_eq!(mask("version +1.2"), "version +1.2");
        assert_eq!(
            mask(r#"{"id":"cus_1","phone":"555-0100","dob":"1990-01-01","n":3}"#),
            r#"{"id":"cus_1","phone":"***","dob":"***","n":3}"#
        );
        assert_eq!(mask("nothing personal"), "nothing personal");
    }

    #[test]
    fn a_json_document_is_masked_by_field_name_and_by_value() {
        let mut v = serde_json::json!({
            "id": "cus_1",
            "Email": "bob@example.com",
            "note": "call bob@example.com",
            "cards": [{"card_number": 4111111111111111u64}],
            "address": {"city": "Paris"},
        });
        mask_json(&mut v);
        assert_eq!(v["Email"], "***");
        assert_eq!(v["note"], "call ***@example.com");
        assert_eq!(v["cards"][0]["card_number"], "***");
        assert_eq!(v["address"]["city"], "Paris");
        assert_eq!(v["id"], "cus_1");
    }

    #[test]
    fn configured_field_names_are_masked_beside_the_default_ones() {
        let s = build(true, &["loyalty-id".into()]);
        assert!(s.json_field.is_match(r#""loyalty_id": "L-77""#));
        assert!(s.json_field.is_match(r#""LOYALTY-ID":"L-77""#));
        assert!(s.json_field.is_match(r#""email":"x""#));
        assert!(!s.json_field.is_match(r#""emails_sent": 3"#));
        assert!(s.key_value.is_match("phone=5550100"));
    }

    #[test]
    fn luhn_is_checked() {
        assert!(luhn("4111111111111111"));
        assert!(luhn("5500 0000 0000 0004"));
        assert!(!luhn("4111111111111112"));
        assert!(!luhn("41111"));
    }
}
