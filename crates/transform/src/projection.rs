//! Mappings that only pick fields — `{id, email: .email_address, city: .address.city}`, the most
//! common mapping of a vendor's record — run without jq: each picked value is copied from the
//! record's bytes, with the meaning jq gives the program (a missing field is `null`). Anything the
//! copy cannot decide exactly as jq would (a path through a value that is not an object, a record
//! that is not an object, a key written with escapes, a document nested too deep, an output over
//! the limit) is left to jq, which answers or fails as it always does.

use serde::de::{Deserialize, Deserializer, MapAccess, Visitor};
use serde_json::value::RawValue;

/// An object's fields as written, each value unparsed; a key written with escapes fails (jq
/// decides those). Looked up from the end: of repeated keys, the last counts, as in jq.
struct Fields<'a>(Vec<(&'a str, &'a RawValue)>);

impl<'a> Fields<'a> {
    fn get(&self, key: &str) -> Option<&'a RawValue> {
        self.0
            .iter()
            .rev()
            .find(|(k, _)| *k == key)
            .map(|(_, v)| *v)
    }
}

impl<'de: 'a, 'a> Deserialize<'de> for Fields<'a> {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct V;
        impl<'de> Visitor<'de> for V {
            type Value = Fields<'de>;
            fn expecting(&self, f: &mut std::fmt::Formatter) -> std::fmt::Result {
                f.write_str("an object")
            }
            fn visit_map<M: MapAccess<'de>>(self, mut m: M) -> Result<Fields<'de>, M::Error> {
                let mut out = Vec::with_capacity(m.size_hint().unwrap_or(16));
                while let Some((k, v)) = m.next_entry::<&'de str, &'de RawValue>()? {
                    out.push((k, v));
                }
                Ok(Fields(out))
            }
        }
        d.deserialize_map(V)
    }
}

/// A program that is one object of picked fields.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Projection {
    /// Output key → the path of the field it takes.
    fields: Vec<(String, Vec<String>)>,
}

/// Words jq reads as keywords, never as a field name.
const KEYWORDS: &[&str] = &[
    "if", "then", "elif", "else", "end", "as", "def", "reduce", "foreach", "try", "catch", "label",
    "import", "include", "and", "or", "not", "__loc__", "true", "false", "null",
];

fn ident(s: &str) -> bool {
    let mut chars = s.chars();
    matches!(chars.next(), Some(c) if c.is_ascii_alphabetic() || c == '_')
        && chars.all(|c| c.is_ascii_alphanumeric() || c == '_')
        && !KEYWORDS.contains(&s)
}

impl Projection {
    /// The projection `code` is, if it is one: `{a, b: .c, d: .e.f}` and nothing else.
    pub fn of(code: &str) -> Option<Projection> {
        let inner = code.trim().strip_prefix('{')?.strip_suffix('}')?;
        if inner.contains([
            '{', '}', '(', ')', '[', ']', '"', '\'', '|', '$', '#', '\\', '@', '?',
        ]) {
            return None;
        }
        let mut fields: Vec<(String, Vec<String>)> = Vec::new();
        if inner.trim().is_empty() {
            return Some(Projection { fields });
        }
        for entry in inner.split(',') {
            let (key, path) = match entry.split_once(':') {
                None => {
                    let key = entry.trim();
                    (key.to_owned(), vec![key.to_owned()])
                }
                Some((key, path)) => {
                    let path = path.trim().strip_prefix('.')?;
                    // `.a .b` is not `.a.b`: no space inside a path.
                    if path.contains(char::is_whitespace) {
                        return None;
                    }
                    let steps: Vec<String> = path.split('.').map(str::to_owned).collect();
                    if !steps.iter().all(|s| ident(s)) {
                        return None;
                    }
                    (key.trim().to_owned(), steps)
                }
            };
            if !ident(&key) || fields.iter().any(|(k, _)| *k == key) {
                return None;
            }
            fields.push((key, path));
        }
        Some(Projection { fields })
    }

    /// Writes the projection of `record` (one JSON document) into `out`; `None` (and `out` as it
    /// was) when jq must decide.
    pub fn apply(
        &self,
        record: &[u8],
        max_depth: usize,
        max_out: usize,
        out: &mut Vec<u8>,
    ) -> Option<()> {
        let start = out.len();
        let done = self.write(record, max_depth, max_out, out);
        if done.is_none() {
            out.truncate(start);
        }
        done
    }

    fn write(
        &self,
        record: &[u8],
        max_depth: usize,
        max_out: usize,
        out: &mut Vec<u8>,
    ) -> Option<()> {
        let text = std::str::from_utf8(record).ok()?;
        if crate::jq::nesting(record) > max_depth {
            return None;
        }
        let top: Fields = serde_json::from_str(text).ok()?;
        let start = out.len();
        out.push(b'{');
        for (i, (key, path)) in self.fields.iter().enumerate() {
            if i > 0 {
                out.push(b',');
            }
            serde_json::to_writer(&mut *out, key).ok()?;
            out.push(b':');
            match pick(&top, path)? {
                Some(raw) => out.extend(raw.get().bytes().map(|b| match b {
                    b'\n' | b'\r' => b' ',
                    b => b,
                })),
                None => out.extend_from_slice(b"null"),
            }
            if out.len() - start > max_out {
                return None;
            }
        }
        out.push(b'}');
        Some(())
    }
}

/// The value at `path`: `Some(None)` for jq's `null` (a missing field, or a `null` on the way),
/// `None` when a step meets a value jq cannot index by name.
fn pick<'a>(top: &Fields<'a>, path: &[String]) -> Option<Option<&'a RawValue>> {
    let (first, rest) = path.split_first()?;
    let mut at = match top.get(first) {
        Some(v) => v,
        None => return Some(None),
    };
    for step in rest {
        let text = at.get().trim_start();
        if text.starts_with("null") {
            return Some(None);
        }
        if !text.starts_with('{') {
            return None;
        }
        let fields: Fields = serde_json::from_str(at.get()).ok()?;
        at = match fields.get(step) {
            Some(v) => v,
            None => return Some(None),
        };
    }
    Some(Some(at))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::mapping::Mapping;
    use crate::{Limits, Program};

    fn jq(code: &str, input: &str) -> Option<serde_json::Value> {
        let m = Mapping::new("m", Program::compile(code).unwrap(), Limits::default());
        let mut out = Vec::new();
        m.map_json(input.as_bytes(), &mut out).ok()?;
        serde_json::from_slice(&out).ok()
    }

    fn fast(code: &str, input: &str) -> Option<serde_json::Value> {
        let p = Projection::of(code).expect("a projection");
        let mut out = Vec::new();
        p.apply(input.as_bytes(), 128, 1 << 20, &mut out)?;
        Some(serde_json::from_slice(&out).unwrap())
    }

    #[test]
    fn only_plain_picks_are_projections() {
        for code in [
            "{id, email: .email_address, name, city: .address.city}",
            "{}",
            " { a : .b.c } ",
        ] {
            assert!(Projection::of(code).is_some(), "{code}");
        }
        for code in [
            "{id: .id | ascii_downcase}",
            "{id: (.id)}",
            "{\"id\": .id}",
            "{id: .a[0]}",
            "{id: .a?}",
            "{id: $x}",
            "{id, id}",
            "{if}",
            "{a: .b .c}",
            ".",
            "{a: .b} + {c: 1}",
            "{a: .b # comment\n}",
            "{a: 1}",
            "{a: .}",
        ] {
            assert!(Projection::of(code).is_none(), "{code}");
        }
    }

    #[test]
    fn a_projection_answers_what_jq_answers() {
        let code =
            "{id, email: .email_address, city: .address.city, zip: .address.zip, gone: .no.such}";
        let inputs = [
            r#"{"id":"c1","email_address":"a@b.c","address":{"city":"Lyon"},"x":[1,2]}"#,
            r#"{"id":1.50,"email_address":"\u00e9\n","address":null}"#,
            r#"{"id":{"deep":[1,{"a":2}]},"address":{"city":null,"zip":12345678901234567890}}"#,
            r#"{"id":"dup","id":"last"}"#,
            "{}",
            "{\n  \"id\": \"pretty\",\n  \"address\": {\n    \"city\": \"Oslo\"\n  }\n}",
        ];
        for input in inputs {
            assert_eq!(fast(code, input), jq(code, input), "{input}");
        }
    }

    #[test]
    fn what_jq_must_decide_is_left_to_it() {
        let code = "{city: .address.city}";
        // jq fails on these (a string indexed by name, a record that is not an object) or they
        // are beyond the copy (an escaped key, nesting over the limit).
        for input in [
            r#"{"address":"Lyon"}"#,
            r#"[1,2]"#,
            r#"null"#,
            r#"{"addr\u0065ss":{"city":"x"}}"#,
            &format!("{{\"address\":{}{}}}", "[".repeat(200), "]".repeat(200)),
        ] {
            let mut out = b"kept".to_vec();
            assert!(
                Projection::of(code)
                    .unwrap()
                    .apply(input.as_bytes(), 128, 1 << 20, &mut out)
                    .is_none(),
                "{input}"
            );
            assert_eq!(out, b"kept");
        }
        let mut out = Vec::new();
        let big = format!("{{\"city\":\"{}\"}}", "x".repeat(100));
        assert!(Projection::of("{city}")
            .unwrap()
            .apply(big.as_bytes(), 128, 50, &mut out)
            .is_none());
    }
}
