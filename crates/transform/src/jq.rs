//! jq programs: compiled once (at config load), run many times.
//!
//! A program is parsed and compiled with jq's standard library; compile errors carry the line and
//! column inside the program so config errors can point at them. Running yields the first output
//! only (extraction and predicates need one value), so `repeat(.)` and other generators stop at
//! once. Values are jaq's own (`Val`), parsed straight from the body bytes, no serde tree.

use jaq_core::{unwrap_valr, Ctx, Vars};
pub use jaq_json::Val;

use crate::meter::Limits;
pub use crate::sandbox::JqError;
use crate::sandbox::{Filter, D};

/// A compiled jq program; cheap to clone (the compiled form is shared).
#[derive(Clone)]
pub struct Program {
    code: std::sync::Arc<str>,
    filter: std::sync::Arc<Filter>,
}

impl std::fmt::Debug for Program {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_tuple("Program").field(&self.code).finish()
    }
}

impl PartialEq for Program {
    fn eq(&self, other: &Self) -> bool {
        self.code == other.code
    }
}

impl Program {
    /// Parses and compiles `code` in Junction's sandbox (jq's standard library without the
    /// environment or process control, metered generators, the prelude; no recursive `def`).
    pub fn compile(code: &str) -> Result<Self, JqError> {
        Ok(Self {
            code: code.into(),
            filter: std::sync::Arc::new(crate::sandbox::compile(code)?),
        })
    }

    /// The program's source text.
    pub fn code(&self) -> &str {
        &self.code
    }

    /// Runs the program on `input` within the default limits and returns its first output
    /// (`None` if it yields nothing).
    pub fn first(&self, input: Val) -> Result<Option<Val>, String> {
        self.run(input, Limits::default())
    }

    /// Runs the program on `input` within `limits` (steps and time; the output's size and depth
    /// are the caller's to check) and returns its first output. A panic inside the interpreter
    /// is caught and reported as an error.
    pub fn run(&self, input: Val, limits: Limits) -> Result<Option<Val>, String> {
        let run = || {
            let _armed = crate::meter::arm(limits);
            let ctx = Ctx::<D>::new(&self.filter.lut, Vars::new([]));
            let mut out = self.filter.id.run((ctx, input)).map(unwrap_valr);
            match out.next() {
                None => Ok(None),
                Some(Ok(v)) => Ok(Some(v)),
                Some(Err(e)) => Err(error_text(e)),
            }
        };
        std::panic::catch_unwind(std::panic::AssertUnwindSafe(run))
            .unwrap_or_else(|_| Err("the program failed inside the jq interpreter".into()))
    }

    /// Runs the program as a predicate: true when its first output is truthy (not false or null).
    pub fn test(&self, input: Val) -> Result<bool, String> {
        Ok(matches!(self.first(input)?, Some(v) if truthy(&v)))
    }
}

/// An error's text: a string raised with `error("…")` as written, anything else as JSON.
fn error_text(e: jaq_core::Error<Val>) -> String {
    match e.into_val() {
        Val::TStr(b) | Val::BStr(b) => String::from_utf8_lossy(&b).into_owned(),
        other => other.to_string(),
    }
}

/// Deepest nesting of arrays and objects accepted in a document. The parser recurses per level,
/// so without a limit a body of `[[[[…` could exhaust the stack and abort the process.
pub const MAX_DEPTH: usize = 128;

/// Parses one JSON document into a jq value; refuses text that is not UTF-8 and documents
/// nested deeper than [`MAX_DEPTH`].
pub fn parse_json(bytes: &[u8]) -> Result<Val, String> {
    if let Err(e) = std::str::from_utf8(bytes) {
        return Err(format!("the JSON is not UTF-8 ({e})"));
    }
    if nesting(bytes) > MAX_DEPTH {
        return Err(format!("the JSON is nested deeper than {MAX_DEPTH} levels"));
    }
    jaq_json::read::parse_single(bytes).map_err(|e| e.to_string())
}

/// The deepest array/object nesting in `bytes`, skipping string contents (one pass, no parse).
pub(crate) fn nesting(bytes: &[u8]) -> usize {
    let (mut depth, mut deepest, mut in_string, mut escaped) = (0usize, 0usize, false, false);
    for &b in bytes {
        if in_string {
            match (escaped, b) {
                (true, _) => escaped = false,
                (false, b'\\') => escaped = true,
                (false, b'"') => in_string = false,
                _ => {}
            }
            continue;
        }
        match b {
            b'"' => in_string = true,
            b'[' | b'{' => {
                depth += 1;
                deepest = deepest.max(depth);
            }
            b']' | b'}' => depth = depth.saturating_sub(1),
            _ => {}
        }
    }
    deepest
}

/// jq's truthiness: everything but `false` and `null`.
pub fn truthy(v: &Val) -> bool {
    !matches!(v, Val::Null | Val::Bool(false))
}

/// A string value's text, a number's decimal form; `None` for null, arrays and objects.
pub fn scalar_text(v: &Val) -> Option<String> {
    match v {
        Val::TStr(b) | Val::BStr(b) => Some(String::from_utf8_lossy(b).into_owned()),
        Val::Num(_) | Val::Bool(_) => Some(v.to_string()),
        _ => None,
    }
}

/// An integer value (floats with no fraction count), or a numeric string.
pub fn as_i64(v: &Val) -> Option<i64> {
    match v {
        Val::Num(jaq_json::Num::Int(i)) => i64::try_from(*i).ok(),
        Val::Num(n) => {
            let f: f64 = n.to_string().parse().ok()?;
            (f.fract() == 0.0 && f.abs() < 9.0e15).then_some(f as i64)
        }
        Val::TStr(b) => std::str::from_utf8(b).ok()?.trim().parse().ok(),
        _ => None,
    }
}

/// Turns a jq value into a string, if it is one.
pub fn as_str(v: &Val) -> Option<&[u8]> {
    match v {
        Val::TStr(b) | Val::BStr(b) => Some(b),
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn run(code: &str, input: &str) -> Option<Val> {
        Program::compile(code)
            .unwrap()
            .first(parse_json(input.as_bytes()).unwrap())
            .unwrap()
    }

    #[test]
    fn paths_and_std_functions_run() {
        let v = run(
            ".data.object.customer",
            r#"{"data":{"object":{"customer":"cus_1"}}}"#,
        );
        assert_eq!(scalar_text(&v.unwrap()).as_deref(), Some("cus_1"));
        let v = run(
            ".type | startswith(\"customer.\")",
            r#"{"type":"customer.updated"}"#,
        );
        assert!(truthy(&v.unwrap()));
        let v = run("[.items[] | .n] | add", r#"{"items":[{"n":1},{"n":2}]}"#).unwrap();
        assert_eq!(as_i64(&v), Some(3));
    }

    #[test]
    fn generators_yield_their_first_value() {
        let v = run("repeat(1)", "null").unwrap();
        assert_eq!(as_i64(&v), Some(1));
        assert_eq!(run("empty", "null"), None.map(|v: Val| v));
    }

    #[test]
    fn syntax_errors_point_into_the_program() {
        let e = Program::compile(".a |\n  (.b").unwrap_err();
        assert_eq!(e.line, 2, "{e}");
        assert!(e.message.contains("closing parenthesis"), "{e}");
        let e = Program::compile(".a | nosuchfn").unwrap_err();
        assert!(e.message.contains("nosuchfn"), "{e}");
        assert_eq!((e.line, e.column), (1, 6));
    }

    #[test]
    fn runtime_errors_are_reported_not_panicked() {
        let p = Program::compile(".a.b").unwrap();
        assert!(p.first(parse_json(br#"{"a":5}"#).unwrap()).is_err());
    }

    #[test]
    fn deeply_nested_input_is_refused_not_a_stack_overflow() {
        let deep = "[".repeat(200_000) + &"]".repeat(200_000);
        let e = parse_json(deep.as_bytes()).unwrap_err();
        assert!(e.contains("nested"), "{e}");
        let ok = "[".repeat(100) + &"]".repeat(100);
        assert!(parse_json(ok.as_bytes()).is_ok());
        // Brackets inside strings do not count.
        let text = format!("{{\"a\":\"{}\\\"\"}}", "[".repeat(1000));
        assert!(parse_json(text.as_bytes()).is_ok(), "{text}");
    }

    #[test]
    fn invalid_utf8_is_refused() {
        let e = parse_json(b"{\"a\": \"\xff\xfe\"}").unwrap_err();
        assert!(e.contains("UTF-8"), "{e}");
    }

    #[test]
    fn numbers_convert() {
        assert_eq!(
            as_i64(&parse_json(b"1700000000123").unwrap()),
            Some(1700000000123)
        );
        assert_eq!(as_i64(&parse_json(b"12.0").unwrap()), Some(12));
        assert_eq!(as_i64(&parse_json(b"\"42\"").unwrap()), Some(42));
        assert_eq!(as_i64(&parse_json(b"1.5").unwrap()), None);
    }
}
