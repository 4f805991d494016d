//! YAML text → a JSON value, with the line and column of every node and every mapping key.
//!
//! Invariants: keys are unique scalars; aliases are expanded but the total node count is bounded
//! (an alias bomb is an error, not an out-of-memory); `${VAR}`s are expanded inside scalar values
//! only, and a plain scalar is typed after expansion (`port: ${PORT}` is a number).

use std::collections::HashMap;

use saphyr_parser::{Event, Parser, ScalarStyle, Span};
use serde_json::{Map, Number, Value};

use crate::error::{ConfigError, ConfigErrors};
use crate::interpolate::{interpolate, Problem};

/// A node budget far above any real config, far below what hurts.
const MAX_NODES: usize = 200_000;
const MAX_DEPTH: usize = 64;

/// A 1-based line and column.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Loc {
    pub line: usize,
    pub col: usize,
    /// 0: the document's own file; `n`: its `n`th grafted file (a connector template).
    pub file: u16,
}

impl From<Span> for Loc {
    fn from(s: Span) -> Self {
        Loc {
            line: s.start.line(),
            col: s.start.col() + 1,
            file: 0,
        }
    }
}

/// The parsed document: its value and where each part of it stands.
pub(crate) struct Document {
    pub file: String,
    pub value: Value,
    /// Unset variables let through in lenient mode, each where it stands.
    pub warnings: Vec<ConfigError>,
    /// Other files read while resolving (model schemas), for a reload to watch.
    pub files: std::cell::RefCell<Vec<std::path::PathBuf>>,
    /// Files whose parts were grafted in (templates), by `Loc::file - 1`.
    grafted: Vec<String>,
    values: HashMap<String, Loc>,
    keys: HashMap<String, Loc>,
}

impl Document {
    /// Where the value at JSON pointer `ptr` stands, or its nearest located ancestor.
    pub fn value_loc(&self, ptr: &str) -> Option<Loc> {
        let mut p = ptr;
        loop {
            if let Some(l) = self.values.get(p) {
                return Some(*l);
            }
            p = &p[..p.rfind('/')?];
        }
    }

    /// Where the key of the mapping entry at `ptr` stands (falls back to the value's place).
    pub fn key_loc(&self, ptr: &str) -> Option<Loc> {
        self.keys.get(ptr).copied().or_else(|| self.value_loc(ptr))
    }

    /// An error at the value of `ptr`.
    pub fn error_at(
        &self,
        ptr: &str,
        message: impl Into<String>,
        hint: Option<String>,
    ) -> ConfigError {
        self.error(self.value_loc(ptr), ptr, message, hint)
    }

    /// An error at the key of `ptr`.
    pub fn error_at_key(
        &self,
        ptr: &str,
        message: impl Into<String>,
        hint: Option<String>,
    ) -> ConfigError {
        self.error(self.key_loc(ptr), ptr, message, hint)
    }

    /// Places the parts of `from` under `from_ptr` at `to_ptr` of this document, for those
    /// pointers `keep` accepts: errors in parts a template supplied name the template's file.
    pub fn graft(
        &mut self,
        from: &Document,
        from_ptr: &str,
        to_ptr: &str,
        keep: &dyn Fn(&str) -> bool,
    ) {
        let index = match self.grafted.iter().position(|f| *f == from.file) {
            Some(i) => i,
            None => {
                self.grafted.push(from.file.clone());
                self.grafted.len() - 1
            }
        };
        let file = u16::try_from(index + 1).unwrap_or(u16::MAX);
        let rebase = |ptr: &str| -> Option<String> {
            let rest = ptr.strip_prefix(from_ptr)?;
            (rest.is_empty() || rest.starts_with('/')).then(|| format!("{to_ptr}{rest}"))
        };
        for (source, target) in [
            (&from.values, &mut self.values),
            (&from.keys, &mut self.keys),
        ] {
            for (ptr, loc) in source {
                if let Some(at) = rebase(ptr).filter(|at| keep(at)) {
                    target.insert(at, Loc { file, ..*loc });
                }
            }
        }
    }

    fn error(
        &self,
        loc: Option<Loc>,
        ptr: &str,
        message: impl Into<String>,
        hint: Option<String>,
    ) -> ConfigError {
        let file = match loc.map(|l| l.file) {
            None | Some(0) => self.file.clone(),
            Some(n) => self
                .grafted
                .get(usize::from(n) - 1)
                .cloned()
                .unwrap_or_else(|| self.file.clone()),
        };
        ConfigError {
            file,
            line: loc.map(|l| l.line),
            col: loc.map(|l| l.col),
            field: dotted(ptr),
            message: message.into(),
            hint,
        }
    }
}

/// Appends a key to a JSON pointer.
pub(crate) fn push(ptr: &str, key: &str) -> String {
    format!("{ptr}/{}", key.replace('~', "~0").replace('/', "~1"))
}

/// `/routes/orders/to/0` → `routes.orders.to[0]`.
pub(crate) fn dotted(ptr: &str) -> String {
    let mut out = String::new();
    for seg in ptr.split('/').skip(1) {
        let seg = seg.replace("~1", "/").replace("~0", "~");
        if !out.is_empty() && seg.chars().all(|c| c.is_ascii_digit()) {
            out.push_str(&format!("[{seg}]"));
        } else {
            if !out.is_empty() {
                out.push('.');
            }
            out.push_str(&seg);
        }
    }
    out
}

/// Parses `text`; `env` supplies `${VAR}`s. All interpolation problems are reported together.
/// With `lenient`, an unset variable is a warning and stands as the text `unresolved-VAR`.
pub(crate) fn parse(
    text: &str,
    file: &str,
    env: &dyn Fn(&str) -> Option<String>,
    lenient: bool,
) -> Result<Document, ConfigErrors> {
    let mut b = Builder {
        file,
        env,
        lenient,
        warnings: Vec::new(),
        events: Parser::new_from_str(text),
        anchors: HashMap::new(),
        nodes: 0,
        values: HashMap::new(),
        keys: HashMap::new(),
        problems: Vec::new(),
    };
    let value = match b.document() {
        Ok(v) => v,
        Err(e) => {
            b.problems.push(e);
            Value::Null
        }
    };
    if !b.problems.is_empty() {
        return Err(ConfigErrors(b.problems));
    }
    let value = if value.is_null() {
        Value::Object(Map::new())
    } else {
        value
    };
    if !value.is_object() {
        return Err(ConfigErrors::one(ConfigError {
            file: file.to_owned(),
            line: Some(1),
            col: Some(1),
            field: String::new(),
            message: "the config must be a mapping of sections (server:, store:, …)".into(),
            hint: Some("start from examples/quickstart.yaml".into()),
        }));
    }
    Ok(Document {
        file: file.to_owned(),
        value,
        warnings: b.warnings,
        files: Default::default(),
        grafted: Vec::new(),
        values: b.values,
        keys: b.keys,
    })
}

struct Builder<'a, 'i> {
    file: &'a str,
    env: &'a dyn Fn(&str) -> Option<String>,
    lenient: bool,
    warnings: Vec<ConfigError>,
    events: Parser<'i, saphyr_parser::StrInput<'i>>,
    anchors: HashMap<usize, Value>,
    nodes: usize,
    values: HashMap<String, Loc>,
    keys: HashMap<String, Loc>,
    problems: Vec<ConfigError>,
}

impl<'i> Builder<'_, 'i> {
    fn next(&mut self) -> Result<(Event<'i>, Span), ConfigError> {
        match self.events.next() {
            Some(Ok(ev)) => Ok(ev),
            Some(Err(e)) => Err(ConfigError {
                file: self.file.to_owned(),
                line: Some(e.marker().line()),
                col: Some(e.marker().col() + 1),
                field: String::new(),
                message: format!("invalid YAML: {}", e.info()),
                hint: Some("check indentation and quoting near this place".into()),
            }),
            None => Err(self.at(None, "", "unexpected end of the YAML stream".into(), None)),
        }
    }

    fn at(
        &self,
        loc: Option<Loc>,
        ptr: &str,
        message: String,
        hint: Option<String>,
    ) -> ConfigError {
        ConfigError {
            file: self.file.to_owned(),
            line: loc.map(|l| l.line),
            col: loc.map(|l| l.col),
            field: dotted(ptr),
            message,
            hint,
        }
    }

    fn document(&mut self) -> Result<Value, ConfigError> {
        let mut value = Value::Null;
        let mut docs = 0;
        loop {
            let (ev, span) = self.next()?;
            match ev {
                Event::StreamStart | Event::DocumentEnd | Event::Nothing => {}
                Event::DocumentStart(_) => {
                    docs += 1;
                    if docs > 1 {
                        return Err(self.at(
                            Some(span.into()),
                            "",
                            "the config holds more than one YAML document".into(),
                            Some("keep one document per file: remove the extra `---`".into()),
                        ));
                    }
                }
                Event::StreamEnd => return Ok(value),
                ev => value = self.node(ev, span, "", 0)?,
            }
        }
    }

    fn count(&mut self, span: Span, n: usize) -> Result<(), ConfigError> {
        self.nodes += n;
        if self.nodes > MAX_NODES {
            return Err(self.at(
                Some(span.into()),
                "",
                format!("the document expands to more than {MAX_NODES} nodes"),
                Some(
                    "aliases that repeat large anchors multiply the document; write the values out"
                        .into(),
                ),
            ));
        }
        Ok(())
    }

    fn node(
        &mut self,
        ev: Event<'i>,
        span: Span,
        ptr: &str,
        depth: usize,
    ) -> Result<Value, ConfigError> {
        if depth > MAX_DEPTH {
            return Err(self.at(
                Some(span.into()),
                ptr,
                format!("nesting deeper than {MAX_DEPTH} levels"),
                None,
            ));
        }
        self.count(span, 1)?;
        self.values.insert(ptr.to_owned(), span.into());
        let (value, anchor) = match ev {
            Event::Scalar(text, style, anchor, tag) => {
                let quoted = style != ScalarStyle::Plain || tag.is_some_and(|t| t.suffix == "str");
                (self.scalar(&text, quoted, span, ptr), anchor)
            }
            Event::Alias(id) => {
                let v = self.anchors.get(&id).cloned().ok_or_else(|| {
                    self.at(
                        Some(span.into()),
                        ptr,
                        "alias to an unknown anchor".into(),
                        None,
                    )
                })?;
                let size = size_of(&v);
                self.count(span, size)?;
                (v, 0)
            }
            Event::SequenceStart(anchor, _) => {
                let mut items = Vec::new();
                loop {
                    let (ev, span) = self.next()?;
                    if matches!(ev, Event::SequenceEnd) {
                        break;
                    }
                    let child = push(ptr, &items.len().to_string());
                    items.push(self.node(ev, span, &child, depth + 1)?);
                }
                (Value::Array(items), anchor)
            }
            Event::MappingStart(anchor, _) => (Value::Object(self.mapping(ptr, depth)?), anchor),
            other => {
                return Err(self.at(
                    Some(span.into()),
                    ptr,
                    format!("unexpected YAML event {other:?}"),
                    None,
                ));
            }
        };
        if anchor > 0 {
            self.anchors.insert(anchor, value.clone());
        }
        Ok(value)
    }

    fn mapping(&mut self, ptr: &str, depth: usize) -> Result<Map<String, Value>, ConfigError> {
        let mut map = Map::new();
        loop {
            let (ev, span) = self.next()?;
            let key = match ev {
                Event::MappingEnd => return Ok(map),
                Event::Scalar(text, ..) => text.into_owned(),
                _ => {
                    return Err(self.at(
                        Some(span.into()),
                        ptr,
                        "mapping keys must be plain strings".into(),
                        None,
                    ));
                }
            };
            let child = push(ptr, &key);
            if map.contains_key(&key) {
                return Err(self.at(
                    Some(span.into()),
                    &child,
                    format!("duplicate key `{key}`"),
                    Some("each key may appear once in a mapping; merge the two entries".into()),
                ));
            }
            self.keys.insert(child.clone(), span.into());
            let (ev, vspan) = self.next()?;
            let value = self.node(ev, vspan, &child, depth + 1)?;
            map.insert(key, value);
        }
    }

    fn scalar(&mut self, text: &str, quoted: bool, span: Span, ptr: &str) -> Value {
        if !text.contains('$') {
            return if quoted {
                Value::String(text.to_owned())
            } else {
                plain(text)
            };
        }
        let mut unset: Vec<String> = Vec::new();
        let outcome = loop {
            let env = |name: &str| {
                (self.env)(name).filter(|v| !v.is_empty()).or_else(|| {
                    unset
                        .contains(&name.to_owned())
                        .then(|| format!("unresolved-{name}"))
                })
            };
            match interpolate(text, &env) {
                Err(Problem::Unset(var)) if self.lenient && !unset.contains(&var) => {
                    unset.push(var)
                }
                other => break other,
            }
        };
        for var in unset {
            let w = self.at(
                Some(span.into()),
                ptr,
                format!("environment variable `{var}` is not set"),
                Some(format!("checked with `unresolved-{var}` in its place; set {var} before `junction serve`")),
            );
            self.warnings.push(w);
        }
        match outcome {
            Ok(done) => {
                for (name, value) in &done.vars {
                    if looks_like_credential(name) {
                        junction_core::mask::register(value);
                    }
                }
                if quoted {
                    Value::String(done.text)
                } else {
                    plain(&done.text)
                }
            }
            Err(problem) => {
                let (message, hint) = match problem {
                    Problem::Unset(var) => (
                        format!("environment variable `{var}` is not set"),
                        format!("set {var}, or give a default: ${{{var}:-value}}"),
                    ),
                    Problem::Unterminated => (
                        "`${` without a closing `}`".into(),
                        "write ${NAME} or ${NAME:-default}; $${ writes a literal ${".into(),
                    ),
                    Problem::BadName(body) => (
                        format!("`${{{body}}}` is not a variable reference"),
                        "variable names are letters, digits and `_`: ${NAME} or ${NAME:-default}"
                            .into(),
                    ),
                };
                let e = self.at(Some(span.into()), ptr, message, Some(hint));
                self.problems.push(e);
                Value::Null
            }
        }
    }
}

fn looks_like_credential(name: &str) -> bool {
    let n = name.to_ascii_uppercase();
    [
        "SECRET",
        "TOKEN",
        "PASSWORD",
        "PASSWD",
        "KEY",
        "CREDENTIAL",
        "DATABASE_URL",
    ]
    .iter()
    .any(|w| n.contains(w))
}

fn size_of(v: &Value) -> usize {
    match v {
        Value::Array(a) => 1 + a.iter().map(size_of).sum::<usize>(),
        Value::Object(m) => 1 + m.values().map(size_of).sum::<usize>(),
        _ => 1,
    }
}

/// Types a plain scalar by the YAML 1.2 core schema.
fn plain(s: &str) -> Value {
    match s {
        "" | "~" | "null" | "Null" | "NULL" => return Value::Null,
        "true" | "True" | "TRUE" => return Value::Bool(true),
        "false" | "False" | "FALSE" => return Value::Bool(false),
        _ => {}
    }
    let body = s.strip_prefix(['-', '+']).unwrap_or(s);
    if !body.is_empty() && body.bytes().all(|b| b.is_ascii_digit()) {
        if let Ok(i) = s.parse::<i64>() {
            return Value::Number(i.into());
        }
    }
    if let Some(hex) = s.strip_prefix("0x") {
        if let Ok(i) = i64::from_str_radix(hex, 16) {
            return Value::Number(i.into());
        }
    }
    if let Some(oct) = s.strip_prefix("0o") {
        if let Ok(i) = i64::from_str_radix(oct, 8) {
            return Value::Number(i.into());
        }
    }
    let float_chars = body
        .bytes()
        .all(|b| b.is_ascii_digit() || matches!(b, b'.' | b'e' | b'E' | b'-' | b'+'));
    if float_chars && body.bytes().any(|b| b.is_ascii_digit()) {
        if let Some(n) = s.parse::<f64>().ok().and_then(Number::from_f64) {
            return Value::Number(n);
        }
    }
    Value::String(s.to_owned())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn no_env(_: &str) -> Option<String> {
        None
    }

    #[test]
    fn records_positions_of_values_and_keys() {
        let doc = parse(
            "server:\n  listen: 1.2.3.4:80\n  body_limit: 2MiB\n",
            "f.yaml",
            &no_env,
            false,
        )
        .unwrap();
        assert_eq!(
            doc.value_loc("/server/listen"),
            Some(Loc {
                line: 2,
                col: 11,
                file: 0
            })
        );
        assert_eq!(
            doc.key_loc("/server/body_limit"),
            Some(Loc {
                line: 3,
                col: 3,
                file: 0
            })
        );
        assert_eq!(doc.value["server"]["listen"], "1.2.3.4:80");
    }

    #[test]
    fn types_plain_scalars_and_keeps_quoted_ones_strings() {
        let doc = parse(
            "a: 12\nb: '12'\nc: true\nd: 1.5\ne: ~\nf: 1.2.3\n",
            "f",
            &no_env,
            false,
        )
        .unwrap();
        assert_eq!(doc.value["a"], 12);
        assert_eq!(doc.value["b"], "12");
        assert_eq!(doc.value["c"], true);
        assert_eq!(doc.value["d"], 1.5);
        assert!(doc.value["e"].is_null());
        assert_eq!(doc.value["f"], "1.2.3");
    }

    #[test]
    fn interpolated_plain_scalars_are_typed_after_expansion() {
        let env = |n: &str| (n == "PORT").then(|| "8081".to_string());
        let doc = parse("port: ${PORT}\nq: \"${PORT}\"\n", "f", &env, false).unwrap();
        assert_eq!(doc.value["port"], 8081);
        assert_eq!(doc.value["q"], "8081");
    }

    #[test]
    fn duplicate_keys_are_errors() {
        let err = parse("a: 1\na: 2\n", "f", &no_env, false).err().unwrap();
        assert_eq!(err.0[0].line, Some(2));
        assert!(err.0[0].message.contains("duplicate key"));
    }

    #[test]
    fn alias_bombs_are_refused() {
        let mut text = String::from("a0: &a0 [x, x, x, x, x, x, x, x, x, x]\n");
        for i in 1..8 {
            let p = i - 1;
            text.push_str(&format!("a{i}: &a{i} [*a{p}, *a{p}, *a{p}, *a{p}, *a{p}, *a{p}, *a{p}, *a{p}, *a{p}, *a{p}]\n"));
        }
        let err = parse(&text, "f", &no_env, false).err().unwrap();
        assert!(err.0[0].message.contains("expands to more than"), "{err}");
    }

    #[test]
    fn dotted_paths() {
        assert_eq!(dotted("/routes/orders/to/0"), "routes.orders.to[0]");
        assert_eq!(dotted(""), "");
    }
}
