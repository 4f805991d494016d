//! The jq language as Junction offers it: jq's standard library, minus what a mapping must not
//! reach (the environment — where secrets live —, stdin, stderr, `halt`), with every unbounded
//! generator metered (`meter.rs`), plus the prelude of integration chores.

use jaq_core::load::parse::Def;
use jaq_core::load::{self, Arena, File, Loader};
use jaq_core::native::Fun;
use jaq_core::{data, Compiler};
use jaq_json::Val;

pub(crate) type D = data::JustLut<Val>;
pub(crate) type Filter = jaq_core::Filter<D>;

/// Natives taken away: the process environment (secrets), input streams, logging to stderr, and
/// exiting the process.
const FORBIDDEN_FUNS: &[&str] = &[
    "env",
    "input",
    "inputs",
    "halt",
    "debug_empty",
    "stderr_empty",
];

/// Definitions that use the forbidden natives.
const FORBIDDEN_DEFS: &[(&str, usize)] = &[
    ("stderr", 0),
    ("debug", 0),
    ("debug", 1),
    ("halt", 0),
    ("halt_error", 0),
    ("halt_error", 1),
];

/// The standard generators, replaced by the metered ones below.
const METERED: &[(&str, usize)] = &[
    ("range", 1),
    ("range", 2),
    ("repeat", 1),
    ("recurse", 1),
    ("while", 2),
    ("until", 2),
    ("combinations", 0),
];

/// Loaded before the standard library, which builds on them (`recurse/0`, `combinations/1`…).
/// `_range` is the native `range/3`, renamed so that `range` can be redefined around it.
const GENERATORS: &str = r#"
def range($from; $upto; $by): _range($from; $upto; $by) | _tick;
def range($from; $upto): range($from; $upto; 1);
def range($upto): range(0; $upto; 1);
def repeat(f): def rec: _tick | (f, rec); rec;
def recurse(f): def rec: _tick | (., (f | rec)); rec;
def while(cond; update): def rec: _tick | if cond then ., (update | rec) else ({}[]) end; rec;
def until(cond; update): def rec: _tick | if cond then . else (update | rec) end; rec;
def combinations: .[][] |= [.] | reduce .[] as $a ([]; . + ($a[] | _tick));
def tojson: _sized | _tojson;
"#;

const PRELUDE: &str = include_str!("prelude.jq");

fn parse_defs(code: &'static str) -> Vec<Def<&'static str>> {
    load::parse(code, |p| p.defs()).unwrap_or_default()
}

/// The sandbox's generators as written (they hold the ticks), then the standard library and the
/// prelude with their operations guarded (`guard.rs`).
fn defs() -> impl Iterator<Item = Def<&'static str>> {
    let keep = |d: &Def<&'static str>| {
        let id = (d.name, d.args.len());
        !METERED.contains(&id) && !FORBIDDEN_DEFS.contains(&id)
    };
    let library = jaq_core::defs()
        .filter(keep)
        .chain(jaq_std::defs().filter(keep))
        .chain(jaq_json::defs())
        .chain(parse_defs(PRELUDE));
    parse_defs(GENERATORS)
        .into_iter()
        .chain(crate::guard::defs(library))
}

/// A library definition, seen at the lifetime of the program it is compiled with.
fn shorten<'a>(d: Def<&'static str>) -> Def<&'a str> {
    d
}

/// The name the user's program is compiled under, after the library's definitions.
const MAIN: &str = "_main";

fn funs() -> impl Iterator<Item = Fun<D>> {
    jaq_core::funs::<D>()
        .chain(jaq_std::funs())
        .chain(jaq_json::funs())
        .filter(|(name, _, _)| !FORBIDDEN_FUNS.contains(name))
        .map(|(name, args, f)| {
            // Renamed, so that the sandbox's metered definitions can wrap them.
            let name = match name {
                "range" => "_range",
                "tojson" => "_tojson",
                other => other,
            };
            (name, args, f)
        })
        .chain(crate::natives::funs())
}

/// Why a program did not compile: a message and where in the program (1-based line and column).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct JqError {
    pub message: String,
    pub line: usize,
    pub column: usize,
}

impl std::fmt::Display for JqError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            f,
            "jq: {} (line {}, column {} of the program)",
            self.message, self.line, self.column
        )
    }
}

impl std::error::Error for JqError {}

/// Parses and compiles `code` in the sandbox. Errors are reported against `code` as written;
/// what runs is the same program with its object literals built in linear time (`fold.rs`).
pub(crate) fn compile(code: &str) -> Result<Filter, JqError> {
    let filter = compile_as_written(code)?;
    match crate::fold::left_fold_objects(code) {
        Some(folded) => Ok(compile_as_written(&folded).unwrap_or(filter)),
        None => Ok(filter),
    }
}

/// Compiles `code` as written, guarded (`guard.rs`): the program is checked by jaq's loader as
/// written (so errors point into it), then its terms are guarded and compiled as the definition
/// `_main`, after the library's.
pub(crate) fn compile_as_written(code: &str) -> Result<Filter, JqError> {
    let loader = Loader::new(defs());
    let arena = Arena::default();
    let file = File { code, path: () };
    loader.load(&arena, file).map_err(|errs| {
        let (msg, at) = match errs.into_iter().next().map(|(_, e)| e) {
            Some(load::Error::Lex(v)) => v
                .first()
                .map(|(exp, at)| (format!("expected {}", exp.as_str()), *at))
                .unwrap_or(("cannot read the program".into(), code)),
            Some(load::Error::Parse(v)) => v
                .first()
                .map(|(exp, at)| {
                    let found = if at.is_empty() { "the end" } else { at };
                    (format!("expected {}, found {found}", exp.as_str()), *at)
                })
                .unwrap_or(("cannot parse the program".into(), code)),
            Some(load::Error::Io(v)) => v
                .first()
                .map(|(path, e)| (format!("cannot load module {path}: {e}"), *path))
                .unwrap_or(("cannot load a module".into(), code)),
            None => ("cannot read the program".into(), code),
        };
        located(code, msg, at)
    })?;
    if let Some(r) = crate::recursion::find(code) {
        return Err(located(
            code,
            format!(
                "`{}` calls itself: recursive definitions are not allowed (use reduce, foreach, recurse, until or limit, which run within the mapping's limits)",
                r.name
            ),
            r.at,
        ));
    }
    let main = load::parse(code, |p| p.term())
        .ok_or_else(|| located(code, "cannot parse the program".into(), code))?;
    let main = Def {
        name: MAIN,
        args: Vec::new(),
        body: crate::guard::term(main),
    };
    let loader = Loader::new(defs().map(shorten).chain(std::iter::once(main)));
    let arena = Arena::default();
    let file = File {
        code: MAIN,
        path: (),
    };
    let modules = loader
        .load(&arena, file)
        .map_err(|_| located(code, "cannot load the guarded program".into(), code))?;
    Compiler::default()
        .with_funs(funs())
        .compile(modules)
        .map_err(|errs| {
            let first = errs.into_iter().flat_map(|(_, e)| e).next();
            match first {
                Some((name, undefined)) => located(
                    code,
                    format!("undefined {} `{name}`", undefined.as_str()),
                    name,
                ),
                None => located(code, "cannot compile the program".into(), code),
            }
        })
}

fn located(code: &str, message: String, at: &str) -> JqError {
    let offset = (at.as_ptr() as usize)
        .checked_sub(code.as_ptr() as usize)
        .filter(|o| *o <= code.len())
        .unwrap_or(0);
    let before = &code[..offset];
    let line = before.matches('\n').count() + 1;
    let column = before.rsplit('\n').next().map_or(0, |l| l.chars().count()) + 1;
    JqError {
        message,
        line,
        column,
    }
}
