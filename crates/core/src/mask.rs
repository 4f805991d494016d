//! Secret masking: the last line of defence between a secret and a log line, error or metric.
//!
//! Two rules, applied to any text on its way out:
//! 1. every *registered* secret value (vault secrets, the database password, the master key,
//!    credential-like environment variables used by the config) is replaced by `***`;
//! 2. the value of any field, query parameter or header *named* like a credential
//!    (`password`, `secret`, `token`, `api_key`, `authorization`, `cookie`, …) is replaced by `***`,
//!    whether it appears as `name=value`, `"name":"value"` or `Name: value`.
//!
//! The registry is process-wide because log writers have no other way to reach it; registering is
//! rare (start-up, secret changes), masking is frequent, so reads take a shared lock only.

use std::borrow::Cow;
use std::sync::{Arc, OnceLock, RwLock};

use aho_corasick::AhoCorasick;
use regex::Regex;

/// What a masked value is replaced with.
pub const MASK: &str = "***";

/// Values shorter than this are not registered: masking `on` or `1` everywhere would destroy logs
/// and protect nothing.
const MIN_SECRET_LEN: usize = 6;

const NAME_WORDS: &str = r"password|passwd|secret|token|api[_-]?key|apikey|authorization|cookie|credential|private[_-]?key|signature|master[_-]?key";

struct Patterns {
    json_field: Regex,
    escaped_json_field: Regex,
    key_value: Regex,
    header: Regex,
    url_userinfo: Regex,
}

fn patterns() -> &'static Patterns {
    static P: OnceLock<Patterns> = OnceLock::new();
    P.get_or_init(|| {
        let name = format!(r"[A-Za-z0-9_.\-]*(?i:{NAME_WORDS})[A-Za-z0-9_.\-]*");
        Patterns {
            // "client_secret":"abc"
            json_field: Regex::new(&format!(r#"("{name}"\s*:\s*)"(?:[^"\\]|\\.)*""#)).expect("valid regex"),
            // the same inside a JSON string: \"token\":\"abc\"
            escaped_json_field: Regex::new(&format!(r#"(\\"{name}\\"\s*:\s*)\\"(?:[^"\\]|\\[^"])*?\\""#))
                .expect("valid regex"),
            // password=abc, api_key=abc&x=1, token="a b"
            key_value: Regex::new(&format!(r#"(\b{name}=)(?:"(?:[^"\\]|\\.)*"|[^\s&",;}}\]]+)"#))
                .expect("valid regex"),
            // Authorization: Bearer abc
            header: Regex::new(r"(?i)(\b(?:proxy-)?authorization|\bcookie|\bset-cookie|\bx-api-key)(\s*:\s*)[^\r\n,;]+")
                .expect("valid regex"),
            // scheme://user:password@host
            url_userinfo: Regex::new(r"(://[^/\s:@]*:)[^@\s/]+@").expect("valid regex"),
        }
    })
}

struct Registry {
    values: Vec<String>,
    matcher: Option<AhoCorasick>,
}

fn registry() -> &'static RwLock<Arc<Registry>> {
    static R: OnceLock<RwLock<Arc<Registry>>> = OnceLock::new();
    R.get_or_init(|| {
        RwLock::new(Arc::new(Registry {
            values: Vec::new(),
            matcher: None,
        }))
    })
}

/// Registers a secret value: from now on it is masked wherever it appears in logged or rendered text.
pub fn register(value: &str) {
    if value.len() < MIN_SECRET_LEN {
        return;
    }
    let lock = registry();
    let mut guard = lock.write().unwrap_or_else(|p| p.into_inner());
    if guard.values.iter().any(|v| v == value) {
        return;
    }
    let mut values = guard.values.clone();
    values.push(value.to_owned());
    // Longest first, so a secret that contains another is masked whole.
    values.sort_by_key(|v| std::cmp::Reverse(v.len()));
    let matcher = AhoCorasick::builder()
        .match_kind(aho_corasick::MatchKind::LeftmostLongest)
        .build(&values)
        .ok();
    *guard = Arc::new(Registry { values, matcher });
}

/// Masks registered secret values and credential-named fields in `text`, then personal data
/// ([`crate::pii`], unless `server.pii.mask` is off).
pub fn mask(text: &str) -> Cow<'_, str> {
    let out = secrets(text);
    match crate::pii::mask(&out) {
        Cow::Borrowed(_) => out,
        Cow::Owned(o) => Cow::Owned(o),
    }
}

/// Masks registered secret values and credential-named fields in `text`.
fn secrets(text: &str) -> Cow<'_, str> {
    let registry = registry().read().unwrap_or_else(|p| p.into_inner()).clone();
    let mut out: Cow<'_, str> = Cow::Borrowed(text);
    if let Some(m) = &registry.matcher {
        if m.is_match(text) {
            out = Cow::Owned(m.replace_all(text, &vec![MASK; registry.values.len()]));
        }
    }
    if !might_hold_credentials(&out) {
        return out;
    }
    let p = patterns();
    out = replace(out, &p.json_field, &format!("${{1}}\"{MASK}\""));
    out = replace(out, &p.escaped_json_field, &format!("${{1}}\\\"{MASK}\\\""));
    out = replace(out, &p.key_value, &format!("${{1}}{MASK}"));
    out = replace(out, &p.header, &format!("${{1}}${{2}}{MASK}"));
    out = replace(out, &p.url_userinfo, &format!("${{1}}{MASK}@"));
    out
}

/// A cheap first look: text without any of these words (or a URL password's `@`) has no
/// credential-named field, so the regular expressions need not run. Most log lines take this path.
fn might_hold_credentials(text: &str) -> bool {
    static WORDS: OnceLock<AhoCorasick> = OnceLock::new();
    WORDS
        .get_or_init(|| {
            AhoCorasick::builder()
                .ascii_case_insensitive(true)
                .build([
                    "pass",
                    "secret",
                    "token",
                    "key",
                    "auth",
                    "cookie",
                    "credential",
                    "signature",
                    "@",
                ])
                .expect("valid needles")
        })
        .is_match(text)
}

/// `text` with `re`'s matches replaced, still borrowed when nothing matched.
pub(crate) fn replace<'a>(text: Cow<'a, str>, re: &Regex, with: &str) -> Cow<'a, str> {
    match re.replace_all(&text, with) {
        Cow::Borrowed(_) => text,
        Cow::Owned(s) => Cow::Owned(s),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn registered_values_are_masked() {
        register("canary-value-1234");
        assert_eq!(mask("x canary-value-1234 y"), "x *** y");
        assert_eq!(mask("nothing here"), "nothing here");
    }

    #[test]
    fn short_values_are_not_registered() {
        register("abc");
        assert_eq!(mask("abc"), "abc");
    }

    #[test]
    fn credential_named_fields_are_masked() {
        assert_eq!(mask("password=hunter22 user=bob"), "password=*** user=bob");
        assert_eq!(
            mask(r#"{"client_secret":"abc\"def","a":1}"#),
            r#"{"client_secret":"***","a":1}"#
        );
        assert_eq!(
            mask(r#"{"message":"{\"api_key\":\"xyz\"}"}"#),
            r#"{"message":"{\"api_key\":\"***\"}"}"#
        );
        assert_eq!(
            mask("uri=/x?api_key=s3cr3t&page=2"),
            "uri=/x?api_key=***&page=2"
        );
        assert_eq!(mask("Authorization: Bearer abc.def"), "Authorization: ***");
        assert_eq!(
            mask("postgres://junction:pa55word@db:5432/x"),
            "postgres://junction:***@db:5432/x"
        );
    }
}
