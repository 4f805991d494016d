//! jq values out: compact JSON written in one pass that also enforces the output limits (size,
//! depth) and refuses what JSON cannot say (NaN, infinities, non-string keys), and a drop that
//! cannot overflow the stack on a deeply nested value.

use std::io::Write as _;

use jaq_json::{Num, Val};

/// Why a value could not be written as JSON.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum OutputError {
    TooDeep(usize),
    TooLarge(usize),
    NotJson(String),
}

impl std::fmt::Display for OutputError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            OutputError::TooDeep(d) => write!(f, "the output is nested deeper than {d} levels"),
            OutputError::TooLarge(n) => write!(f, "the output is larger than {n} bytes"),
            OutputError::NotJson(why) => write!(f, "the output is not JSON: {why}"),
        }
    }
}

/// Writes `v` as compact JSON into `out`, within `max_depth` and `max_bytes`.
pub fn write_json(
    v: &Val,
    max_depth: usize,
    max_bytes: usize,
    out: &mut Vec<u8>,
) -> Result<(), OutputError> {
    let start = out.len();
    write(v, 0, max_depth, start + max_bytes, out)?;
    if out.len() > start + max_bytes {
        return Err(OutputError::TooLarge(max_bytes));
    }
    Ok(())
}

fn write(
    v: &Val,
    depth: usize,
    max_depth: usize,
    end: usize,
    out: &mut Vec<u8>,
) -> Result<(), OutputError> {
    match v {
        Val::Null => out.extend_from_slice(b"null"),
        Val::Bool(true) => out.extend_from_slice(b"true"),
        Val::Bool(false) => out.extend_from_slice(b"false"),
        Val::Num(n) => number(n, out)?,
        Val::TStr(b) | Val::BStr(b) => string(b, out),
        Val::Arr(items) => {
            if depth >= max_depth {
                return Err(OutputError::TooDeep(max_depth));
            }
            out.push(b'[');
            for (i, item) in items.iter().enumerate() {
                if i > 0 {
                    out.push(b',');
                }
                write(item, depth + 1, max_depth, end, out)?;
                if out.len() > end {
                    return Err(OutputError::TooLarge(end));
                }
            }
            out.push(b']');
        }
        Val::Obj(map) => {
            if depth >= max_depth {
                return Err(OutputError::TooDeep(max_depth));
            }
            out.push(b'{');
            for (i, (k, item)) in map.iter().enumerate() {
                if i > 0 {
                    out.push(b',');
                }
                match k {
                    Val::TStr(b) | Val::BStr(b) => string(b, out),
                    other => {
                        return Err(OutputError::NotJson(format!(
                            "an object key is not a string ({other})"
                        )))
                    }
                }
                out.push(b':');
                write(item, depth + 1, max_depth, end, out)?;
                if out.len() > end {
                    return Err(OutputError::TooLarge(end));
                }
            }
            out.push(b'}');
        }
    }
    Ok(())
}

fn number(n: &Num, out: &mut Vec<u8>) -> Result<(), OutputError> {
    match n {
        Num::Float(f) if !f.is_finite() => {
            return Err(OutputError::NotJson(format!(
                "the number {n} has no JSON form"
            )))
        }
        Num::Float(f) if f.fract() == 0.0 && f.abs() < 1e15 => {
            let _ = write!(out, "{}", *f as i64);
        }
        _ => {
            let _ = write!(out, "{n}");
        }
    }
    Ok(())
}

fn string(b: &[u8], out: &mut Vec<u8>) {
    let text = String::from_utf8_lossy(b);
    // serde_json's escaping: quotes, backslashes and control characters.
    let _ = serde_json::to_writer(&mut *out, &*text);
}

/// The size of `v` written as text (an upper bound for control characters, which take up to six
/// bytes escaped), or `None` as soon as it passes `cap`. Shared parts count each time they
/// appear, as they would in the text: a small array holding one large string many times is
/// large. Stops early, so it costs at most about `cap` bytes' worth of walking.
pub fn text_size_within(v: &Val, cap: usize) -> Option<usize> {
    let mut total = 0usize;
    let mut stack = vec![v];
    while let Some(v) = stack.pop() {
        total = total.saturating_add(match v {
            Val::Null | Val::Bool(_) => 5,
            Val::Num(n) => number_size(n),
            Val::TStr(b) | Val::BStr(b) => b.len() + 2,
            Val::Arr(items) => {
                stack.extend(items.iter());
                items.len() + 2
            }
            Val::Obj(map) => {
                for (k, item) in map.iter() {
                    stack.push(k);
                    stack.push(item);
                }
                2 * map.len() + 2
            }
        });
        if total > cap {
            return None;
        }
    }
    Some(total)
}

/// Bytes of a number's text (for a big integer, from its bit length).
pub(crate) fn number_size(n: &Num) -> usize {
    match n {
        Num::Int(_) | Num::Float(_) => 24,
        Num::BigInt(b) => (b.bits() / 3) as usize + 2,
        Num::Dec(s) => s.len(),
    }
}

/// Drops a value without recursion, so a value nested millions deep cannot overflow the stack.
pub fn drop_deep(v: Val) {
    let mut stack = vec![v];
    while let Some(v) = stack.pop() {
        match v {
            Val::Arr(items) => {
                if let Ok(items) = jaq_json::Rc::try_unwrap(items) {
                    stack.extend(items);
                }
            }
            Val::Obj(map) => {
                if let Ok(map) = jaq_json::Rc::try_unwrap(map) {
                    for (k, v) in map {
                        stack.push(k);
                        stack.push(v);
                    }
                }
            }
            _ => {}
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn json(code: &str) -> Result<String, OutputError> {
        let v = crate::parse_json(code.as_bytes()).unwrap();
        let mut out = Vec::new();
        write_json(&v, 64, 1 << 20, &mut out).map(|()| String::from_utf8(out).unwrap())
    }

    #[test]
    fn values_are_written_as_compact_json() {
        assert_eq!(
            json(r#"{"a": [1, 2.5, "x\"y\n", null, true], "b": {}}"#).unwrap(),
            r#"{"a":[1,2.5,"x\"y\n",null,true],"b":{}}"#
        );
        assert_eq!(json("12.50").unwrap(), "12.50");
    }

    #[test]
    fn limits_are_enforced() {
        let deep = "[".repeat(70) + &"]".repeat(70);
        assert_eq!(json(&deep), Err(OutputError::TooDeep(64)));
        let v = crate::parse_json(b"[\"aaaaaaaaaa\",\"bbbbbbbbbb\"]").unwrap();
        let mut out = Vec::new();
        assert!(matches!(
            write_json(&v, 64, 10, &mut out),
            Err(OutputError::TooLarge(_))
        ));
    }

    #[test]
    fn deep_values_drop_without_recursion() {
        let mut v = Val::Null;
        for _ in 0..1_000_000 {
            v = Val::Arr(jaq_json::Rc::new(vec![v]));
        }
        drop_deep(v);
    }
}
