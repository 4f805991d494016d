//! Programs may not define recursive functions. Every unbounded loop must then go through a
//! generator of the sandbox, which spends the run's budget (`meter.rs`); a recursive `def` could
//! loop forever or exhaust the thread's stack without ever touching it. The standard library's
//! own recursive definitions (`recurse`, `walk`, `paths`…) stay available: they are the
//! sandbox's, not the program's.

use jaq_core::load::lex::StrPart;
use jaq_core::load::parse::{BinaryOp, Def, Pattern, Term};
use jaq_core::path::Part;

/// A function the program defines that calls itself (directly or from a nested definition).
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Recursive<'s> {
    pub name: &'s str,
    /// The call, inside the program's text (for its line and column).
    pub at: &'s str,
}

/// Finds the first recursive definition in `code`, if the program parses (a program that does
/// not parse is reported by the loader instead).
pub(crate) fn find(code: &str) -> Option<Recursive<'_>> {
    let term = jaq_core::load::parse(code, |p| p.term())?;
    let mut scope = Vec::new();
    walk(&term, &mut scope)
}

/// A name in scope: a definition (open while its body is being walked) or a filter parameter.
struct Entry<'s> {
    name: &'s str,
    arity: usize,
    open: bool,
}

fn walk<'s>(t: &Term<&'s str>, scope: &mut Vec<Entry<'s>>) -> Option<Recursive<'s>> {
    match t {
        Term::Id | Term::Recurse | Term::Num(_) | Term::Var(_) | Term::Break(_) => None,
        Term::Str(_, parts) => parts.iter().find_map(|p| match p {
            StrPart::Term(t) => walk(t, scope),
            _ => None,
        }),
        Term::Arr(t) => t.as_deref().and_then(|t| walk(t, scope)),
        Term::Obj(entries) => entries
            .iter()
            .find_map(|(k, v)| walk(k, scope).or_else(|| v.as_ref().and_then(|v| walk(v, scope)))),
        Term::Neg(t) | Term::Label(_, t) => walk(t, scope),
        Term::BinOp(l, op, r) => {
            let pat = match op {
                BinaryOp::Pipe(Some(p)) => pattern(p, scope),
                _ => None,
            };
            pat.or_else(|| walk(l, scope)).or_else(|| walk(r, scope))
        }
        Term::Fold(_, xs, p, args) => walk(xs, scope)
            .or_else(|| pattern(p, scope))
            .or_else(|| args.iter().find_map(|a| walk(a, scope))),
        Term::TryCatch(t, c) => {
            walk(t, scope).or_else(|| c.as_deref().and_then(|c| walk(c, scope)))
        }
        Term::IfThenElse(branches, otherwise) => branches
            .iter()
            .find_map(|(c, t)| walk(c, scope).or_else(|| walk(t, scope)))
            .or_else(|| otherwise.as_deref().and_then(|t| walk(t, scope))),
        Term::Path(t, path) => walk(t, scope).or_else(|| {
            path.0.iter().find_map(|(part, _)| match part {
                Part::Index(i) => walk(i, scope),
                Part::Range(a, b) => a
                    .as_ref()
                    .and_then(|a| walk(a, scope))
                    .or_else(|| b.as_ref().and_then(|b| walk(b, scope))),
            })
        }),
        Term::Call(name, args) => {
            let hit = scope
                .iter()
                .rev()
                .find(|e| e.name == *name && e.arity == args.len());
            if let Some(e) = hit {
                if e.open {
                    return Some(Recursive { name, at: name });
                }
            }
            args.iter().find_map(|a| walk(a, scope))
        }
        Term::Def(defs, body) => {
            let mark = scope.len();
            let found = defs.iter().find_map(|d| def(d, scope));
            let found = found.or_else(|| walk(body, scope));
            scope.truncate(mark);
            found
        }
    }
}

/// Walks a definition's body with it open, then leaves it in scope, closed.
fn def<'s>(d: &Def<&'s str, Term<&'s str>>, scope: &mut Vec<Entry<'s>>) -> Option<Recursive<'s>> {
    scope.push(Entry {
        name: d.name,
        arity: d.args.len(),
        open: true,
    });
    let own = scope.len() - 1;
    let mark = scope.len();
    for a in d.args.iter().filter(|a| !a.starts_with('$')) {
        scope.push(Entry {
            name: a,
            arity: 0,
            open: false,
        });
    }
    let found = walk(&d.body, scope);
    scope.truncate(mark);
    scope[own].open = false;
    found
}

fn pattern<'s>(p: &Pattern<&'s str>, scope: &mut Vec<Entry<'s>>) -> Option<Recursive<'s>> {
    match p {
        Pattern::Var(_) => None,
        Pattern::Arr(ps) => ps.iter().find_map(|p| pattern(p, scope)),
        Pattern::Obj(entries) => entries
            .iter()
            .find_map(|(k, p)| walk(k, scope).or_else(|| pattern(p, scope))),
    }
}

#[cfg(test)]
mod tests {
    use super::find;

    #[test]
    fn recursive_definitions_are_found() {
        assert_eq!(find("def f: f; f").map(|r| r.name), Some("f"));
        assert_eq!(find("def f: 1 + f; 0").map(|r| r.name), Some("f"));
        assert_eq!(
            find("def outer: def inner: outer; inner; outer").map(|r| r.name),
            Some("outer")
        );
        assert_eq!(
            find("def f(g): [.[] | g] | f(g); 1").map(|r| r.name),
            Some("f")
        );
        assert_eq!(find(r#""\(def f: f; f)""#).map(|r| r.name), Some("f"));
    }

    #[test]
    fn ordinary_programs_pass() {
        assert_eq!(find("def f: .a; f | f"), None);
        assert_eq!(find("def f(g): g | g; f(.a)"), None);
        // A parameter named like the function shadows it: calling it is not recursion.
        assert_eq!(find("def f(f): f; f(.)"), None);
        // Another arity is another function.
        assert_eq!(find("def f($x): $x; def f: f(1); f"), None);
        assert_eq!(find(".a | map(.b) | recurse(.c?) | {x: (.y // 1)}"), None);
    }
}
