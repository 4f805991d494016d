//! The program as it runs: every operation that can grow a value is followed by a memory check,
//! and the operations that can build a large value in one step are replaced by ones that refuse
//! before they allocate. The generators' ticks (`sandbox.rs`) bound loops; these bound what one
//! step of a loop — or a long chain of steps without a loop, such as `def d: . + .; d | d | d …`
//! — may build, so no program on any input can take more than about twice its memory limit.
//!
//! The rewrite works on jaq's parsed terms; the standard library's definitions get it too, since
//! `join`, `add`, `map`, `sub` and the rest are where loops over input live.
//!
//! | written          | runs as                                   | why                            |
//! |------------------|-------------------------------------------|--------------------------------|
//! | `l + r`          | `(l + r \| _mem)` (as written if a side is a literal) | doubling in a chain |
//! | `l * r`          | `_times(l; r)`                            | `"x" * 1e12`, big-integer squaring |
//! | `l += r`         | `(l += r \| _mem)`                        | as `+`                         |
//! | `l *= r`         | `r as $v \| l \|= _times(.; $v)`          | as `*`                         |
//! | `l \|= r`        | `l \|= (r \| _mem)`                       | one growth per updated element |
//! | `[f]`            | `[f \| _mem]`                             | one growth per element         |
//! | `reduce/foreach` | source `\| _mem`                          | one growth per element         |
//! | `"\(f)"`         | `"\(f \| _sized)"`                        | a value shared many times, written out |
//!
//! `_mem` checks memory and (now and then) the clock without spending a generator step, so a
//! program's step count means what it did before.

use jaq_core::load::lex::StrPart;
use jaq_core::load::parse::{BinaryOp, Def, Pattern, Term};
use jaq_core::ops::Math;
use jaq_core::path::{Part, Path};

/// The name the rewritten right-hand side of `l *= r` is bound to.
const RHS: &str = "$__junction_rhs";

/// `def`s with their bodies guarded.
pub(crate) fn defs<'s>(
    defs: impl Iterator<Item = Def<&'s str>>,
) -> impl Iterator<Item = Def<&'s str>> {
    defs.map(|d| Def {
        name: d.name,
        args: d.args,
        body: term(d.body),
    })
}

fn call<'s>(name: &'s str, args: Vec<Term<&'s str>>) -> Term<&'s str> {
    Term::Call(name, args)
}

fn then<'s>(t: Term<&'s str>, name: &'s str) -> Term<&'s str> {
    Term::BinOp(
        Box::new(t),
        BinaryOp::Pipe(None),
        Box::new(call(name, Vec::new())),
    )
}

fn bx(t: Term<&str>) -> Box<Term<&str>> {
    Box::new(term(t))
}

/// `t` with its operations guarded.
pub(crate) fn term(t: Term<&str>) -> Term<&str> {
    match t {
        Term::Id | Term::Recurse | Term::Num(_) | Term::Var(_) | Term::Break(_) => t,
        Term::Str(fmt, parts) => Term::Str(
            fmt,
            parts
                .into_iter()
                .map(|p| match p {
                    StrPart::Term(t) => StrPart::Term(then(term(t), "_sized")),
                    other => other,
                })
                .collect(),
        ),
        Term::Arr(None) => Term::Arr(None),
        Term::Arr(Some(t)) => Term::Arr(Some(Box::new(then(term(*t), "_mem")))),
        Term::Obj(entries) => Term::Obj(
            entries
                .into_iter()
                .map(|(k, v)| (term(k), v.map(term)))
                .collect(),
        ),
        Term::Neg(t) => Term::Neg(bx(*t)),
        Term::BinOp(l, op, r) => binop(*l, op, *r),
        Term::Label(name, t) => Term::Label(name, bx(*t)),
        Term::Fold(name, xs, pat, args) => Term::Fold(
            name,
            Box::new(then(term(*xs), "_mem")),
            pattern(pat),
            args.into_iter().map(term).collect(),
        ),
        Term::TryCatch(t, c) => Term::TryCatch(bx(*t), c.map(|c| bx(*c))),
        Term::IfThenElse(branches, otherwise) => Term::IfThenElse(
            branches
                .into_iter()
                .map(|(c, t)| (term(c), term(t)))
                .collect(),
            otherwise.map(|e| bx(*e)),
        ),
        Term::Def(ds, t) => Term::Def(defs(ds.into_iter()).collect(), bx(*t)),
        Term::Call(name, args) => Term::Call(name, args.into_iter().map(term).collect()),
        Term::Path(head, path) => Term::Path(
            bx(*head),
            Path(
                path.0
                    .into_iter()
                    .map(|(part, opt)| (path_part(part), opt))
                    .collect(),
            ),
        ),
    }
}

fn path_part(p: Part<Term<&str>>) -> Part<Term<&str>> {
    match p {
        Part::Index(i) => Part::Index(term(i)),
        Part::Range(from, upto) => Part::Range(from.map(term), upto.map(term)),
    }
}

fn pattern(p: Pattern<&str>) -> Pattern<&str> {
    match p {
        Pattern::Var(v) => Pattern::Var(v),
        Pattern::Arr(ps) => Pattern::Arr(ps.into_iter().map(pattern).collect()),
        Pattern::Obj(entries) => Pattern::Obj(
            entries
                .into_iter()
                .map(|(k, p)| (term(k), pattern(p)))
                .collect(),
        ),
    }
}

/// A literal whose size the program text bounds: an object literal (its values are shared, not
/// copied), a number, a string without interpolation. Adding one to anything grows it by a
/// bounded amount, so it cannot double a value; object literals are also how `fold.rs` builds
/// every object, the hottest `+` of a mapping.
fn bounded(t: &Term<&str>) -> bool {
    match t {
        Term::Obj(_) | Term::Num(_) | Term::Arr(None) => true,
        Term::Str(_, parts) => parts.iter().all(|p| !matches!(p, StrPart::Term(_))),
        _ => false,
    }
}

fn binop<'s>(l: Term<&'s str>, op: BinaryOp<&'s str>, r: Term<&'s str>) -> Term<&'s str> {
    let (l, r) = (term(l), term(r));
    match op {
        BinaryOp::Math(Math::Add) | BinaryOp::UpdateMath(Math::Add)
            if bounded(&l) || bounded(&r) =>
        {
            Term::BinOp(Box::new(l), op, Box::new(r))
        }
        BinaryOp::Math(Math::Add) | BinaryOp::UpdateMath(Math::Add) => {
            then(Term::BinOp(Box::new(l), op, Box::new(r)), "_mem")
        }
        BinaryOp::Math(Math::Mul) => call("_times", vec![l, r]),
        BinaryOp::UpdateMath(Math::Mul) => Term::BinOp(
            Box::new(r),
            BinaryOp::Pipe(Some(Pattern::Var(RHS))),
            Box::new(Term::BinOp(
                Box::new(l),
                BinaryOp::Update,
                Box::new(call("_times", vec![Term::Id, Term::Var(RHS)])),
            )),
        ),
        BinaryOp::Update => Term::BinOp(Box::new(l), op, Box::new(then(r, "_mem"))),
        BinaryOp::Pipe(Some(p)) => {
            Term::BinOp(Box::new(l), BinaryOp::Pipe(Some(pattern(p))), Box::new(r))
        }
        other => Term::BinOp(Box::new(l), other, Box::new(r)),
    }
}
