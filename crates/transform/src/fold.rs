//! A source rewrite that makes object construction linear. jaq compiles `{a: x, b: y, c: z}` to
//! `{a: x} + ({b: y} + {c: z})`, and each `+` copies the accumulated right-hand object into the
//! new left one: building an n-key object costs O(n²) entry copies (a 20-key canonical record
//! spends most of its mapping time there). Written as `(({a: x} + {b: y}) + {c: z})`, each `+`
//! extends the (uniquely owned) accumulated object by one entry. Programs take their first output,
//! which both forms agree on; keys and their order are the same.
//!
//! The rewrite works on jaq's own tokens: a `{…}` block's top-level commas separate its entries
//! (jq does not allow a bare comma in an entry). Patterns (`. as {a: $x}`) and strings are left
//! as written.

use jaq_core::load::lex::{Lexer, Tok, Token};

/// Objects with fewer entries stay as written.
const MIN_ENTRIES: usize = 3;

/// The program with its object literals left-folded, or `None` if it does not lex (the
/// loader reports that) or has nothing to rewrite.
pub(crate) fn left_fold_objects(code: &str) -> Option<String> {
    let tokens = Lexer::new(code).lex().ok()?;
    let mut out = String::with_capacity(code.len() + 64);
    let mut changed = false;
    let end = emit(code, &tokens, 0, &mut out, &mut changed);
    out.push_str(&code[end..]);
    changed.then_some(out)
}

fn offset(code: &str, s: &str) -> usize {
    s.as_ptr() as usize - code.as_ptr() as usize
}

/// Copies `code` from `pos` through the end of `tokens`, rewriting object blocks; returns the
/// offset after the last token.
fn emit(
    code: &str,
    tokens: &[Token<&str>],
    mut pos: usize,
    out: &mut String,
    changed: &mut bool,
) -> usize {
    let mut pattern_next = false;
    for t in tokens {
        let start = offset(code, t.0);
        let end = start + t.0.len();
        out.push_str(&code[pos..start]);
        match &t.1 {
            Tok::Block(inner) if !pattern_next && t.0.starts_with('{') => {
                object(code, t.0, inner, out, changed)
            }
            Tok::Block(inner) if !pattern_next => {
                out.push_str(&t.0[..1]);
                let p = emit(code, inner, start + 1, out, changed);
                out.push_str(&code[p..end]);
            }
            _ => out.push_str(t.0),
        }
        pattern_next = matches!((&t.1, t.0), (Tok::Word, "as") | (Tok::Sym, "?//"));
        pos = end;
    }
    pos
}

fn object(code: &str, full: &str, inner: &[Token<&str>], out: &mut String, changed: &mut bool) {
    let start = offset(code, full);
    let end = start + full.len();
    let body = match inner.last() {
        Some(Token(s, Tok::Sym)) if *s == "}" => &inner[..inner.len() - 1],
        _ => inner,
    };
    let entries: Vec<&[Token<&str>]> = body
        .split(|t| matches!(t, Token(",", Tok::Sym)))
        .filter(|e| !e.is_empty())
        .collect();
    if entries.len() < MIN_ENTRIES {
        out.push('{');
        let p = emit(code, inner, start + 1, out, changed);
        out.push_str(&code[p..end]);
        return;
    }
    *changed = true;
    out.push_str(&"(".repeat(entries.len() - 1));
    for (i, e) in entries.iter().enumerate() {
        let mut text = String::new();
        let first = offset(code, e[0].0);
        emit(code, e, first, &mut text, changed);
        if i == 0 {
            out.push('{');
            out.push_str(&text);
            out.push('}');
        } else {
            out.push_str(" + {");
            out.push_str(&text);
            out.push_str("})");
        }
    }
}

#[cfg(test)]
mod tests {
    use super::left_fold_objects;

    #[test]
    fn wide_objects_are_left_folded() {
        assert_eq!(
            left_fold_objects("{a: 1, b: .x, c}").as_deref(),
            Some("(({a: 1} + {b: .x}) + {c})")
        );
        assert_eq!(
            left_fold_objects("{a: {x: 1, y: 2, z: 3}, b: 2, c: [{p: 1, q: 2, r: 3}]}").as_deref(),
            Some("(({a: (({x: 1} + {y: 2}) + {z: 3})} + {b: 2}) + {c: [(({p: 1} + {q: 2}) + {r: 3})]})")
        );
    }

    #[test]
    fn small_objects_patterns_and_strings_are_left_alone() {
        assert_eq!(left_fold_objects("{a: 1, b: 2} | .a"), None);
        assert_eq!(
            left_fold_objects(". as {a: $x, b: $y, c: $z} | $x"),
            None,
            "a destructuring pattern is not an object"
        );
        assert_eq!(left_fold_objects(r#""{a, b, c}""#), None);
        assert_eq!(
            left_fold_objects("reduce .[] as {a: $a, b: $b, c: $c} (0; . + $a)"),
            None
        );
    }

    /// Both forms give the same first output (or both fail) on a corpus of programs and inputs.
    #[test]
    fn folded_programs_answer_as_written_ones_do() {
        use crate::sandbox::compile_as_written;
        use jaq_core::{unwrap_valr, Ctx, Vars};
        let programs = [
            "{a: .x, b: .y, c: .z}",
            "{a: .x, a: .y, b: 1}",
            "{\"a b\": 1, (.k): 2, \"x\": 0, c: 3}",
            ". as $v | {$v, a: 1, b: 2, c: ($v | length)}",
            "{a: 1,\n  # a comment, with a comma\n  b: 2,\n  c: {d: 3, e: 4, f: 5}.e}",
            "{a: (.x, .y), b: (1, 2), c: 3}",
            "[.[]? | {a: ., b: 2, c: 3}]",
            "{a: .x | tostring, b: (.y // \"none\"), c: if .z then 1 else 2 end, d: reduce range(3) as $i (0; . + $i)}",
            "{a: 1, b: 2, c: 3} | {x: .a, y: .b, z: .c, w: (.a + .b)}",
            "{a: 1, b: 2, c: 3,}",
            "{if: 1, then: 2, else: 3}",
            "def f: {a: 1, b: 2, c: 3}; f | .b",
            "{a: empty, b: 1, c: 2}",
            "{a: error(\"boom\"), b: 1, c: 2}",
            "\"\\({a: 1, b: 2, c: 3})\"",
            ". as [$p, {q: $q, r: $r, s: $s}] | {$p, $q, $r, $s}",
            "{a: .x, b: .y, c: .z}?",
            "{\"\\(.k)\": 1, b: 2, c: 3}",
        ];
        let inputs = [
            "null",
            r#"{"x": 1, "y": "two", "z": [3], "k": "key"}"#,
            r#"[1, {"q": 2, "r": 3, "s": 4}]"#,
            r#"[1, 2]"#,
        ];
        let first = |f: &crate::sandbox::Filter, input: &str| {
            let v = crate::parse_json(input.as_bytes()).unwrap();
            let ctx = Ctx::<crate::sandbox::D>::new(&f.lut, Vars::new([]));
            let out = f.id.run((ctx, v)).map(unwrap_valr).next();
            match out {
                None => "no output".to_string(),
                Some(Ok(v)) => v.to_string(),
                Some(Err(_)) => "error".to_string(),
            }
        };
        for p in programs {
            let written = compile_as_written(p).unwrap_or_else(|e| panic!("{p}: {e}"));
            let folded = left_fold_objects(p).unwrap_or_else(|| p.to_string());
            let folded_f =
                compile_as_written(&folded).unwrap_or_else(|e| panic!("{p} → {folded}: {e}"));
            for i in inputs {
                assert_eq!(
                    first(&written, i),
                    first(&folded_f, i),
                    "{p} → {folded} on {i}"
                );
            }
        }
    }
}
