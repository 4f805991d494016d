//! Running a mapping's examples: the output compared field by field with what was expected (each
//! difference on its own line, with its path), or the failure's text checked.

use serde_json::Value;

use crate::{describe, Mapping, Model};

/// What an example expects.
#[derive(Debug, Clone, Copy)]
pub enum Expected<'a> {
    Output(&'a Value),
    /// The mapping (or its model's validation) must fail with an error containing this text.
    Error(&'a str),
}

/// Runs one example: `Ok` if it passes, else what went wrong, one line per difference.
pub fn check_example(
    mapping: &Mapping,
    model: Option<&Model>,
    input: &Value,
    expected: Expected<'_>,
) -> Result<(), Vec<String>> {
    let got = run(mapping, model, input);
    match (expected, got) {
        (Expected::Output(want), Ok(actual)) => {
            let d = diff(want, &actual);
            if d.is_empty() {
                Ok(())
            } else {
                Err(d)
            }
        }
        (Expected::Output(_), Err(e)) => Err(vec![format!("failed: {e}")]),
        (Expected::Error(text), Err(e)) if e.contains(text) => Ok(()),
        (Expected::Error(text), Err(e)) => Err(vec![format!(
            "failed as expected, but the error does not contain {text:?}: {e}"
        )]),
        (Expected::Error(text), Ok(actual)) => Err(vec![format!(
            "expected an error containing {text:?}, got the output {actual}"
        )]),
    }
}

/// Maps `input` and validates the output against `model`, as delivery does.
pub fn run(mapping: &Mapping, model: Option<&Model>, input: &Value) -> Result<Value, String> {
    let body = serde_json::to_vec(input).map_err(|e| e.to_string())?;
    let mut out = Vec::new();
    mapping
        .map_json(&body, &mut out)
        .map_err(|e| e.to_string())?;
    let value: Value = serde_json::from_slice(&out).map_err(|e| e.to_string())?;
    if let Some(model) = model {
        model
            .validate(&value)
            .map_err(|errs| format!("the output breaks {}: {}", model.id, describe(&errs)))?;
    }
    Ok(value)
}

/// Every difference between two JSON values, as `PATH: …` lines (JSON pointer paths).
pub fn diff(expected: &Value, actual: &Value) -> Vec<String> {
    let mut out = Vec::new();
    walk("", expected, actual, &mut out);
    out
}

fn walk(path: &str, want: &Value, got: &Value, out: &mut Vec<String>) {
    let here = if path.is_empty() { "/" } else { path };
    match (want, got) {
        (Value::Object(w), Value::Object(g)) => {
            for (k, wv) in w {
                let p = format!("{path}/{}", k.replace('~', "~0").replace('/', "~1"));
                match g.get(k) {
                    Some(gv) => walk(&p, wv, gv, out),
                    None => out.push(format!("{p}: missing (expected {wv})")),
                }
            }
            for (k, gv) in g {
                if !w.contains_key(k) {
                    let p = format!("{path}/{}", k.replace('~', "~0").replace('/', "~1"));
                    out.push(format!("{p}: unexpected {gv}"));
                }
            }
        }
        (Value::Array(w), Value::Array(g)) => {
            for (i, (wv, gv)) in w.iter().zip(g).enumerate() {
                walk(&format!("{path}/{i}"), wv, gv, out);
            }
            if w.len() != g.len() {
                out.push(format!(
                    "{here}: expected {} item(s), got {}",
                    w.len(),
                    g.len()
                ));
            }
        }
        (Value::Number(w), Value::Number(g)) if w.as_f64() == g.as_f64() => {}
        _ if want == got => {}
        _ => out.push(format!("{here}: expected {want}, got {got}")),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::{Limits, ModelRef, Program};
    use serde_json::json;

    fn mapping(code: &str) -> Mapping {
        Mapping::new("m", Program::compile(code).unwrap(), Limits::default())
    }

    #[test]
    fn differences_are_listed_by_path() {
        let d = diff(
            &json!({"id": "c1", "email": "a@b.com", "tags": [1, 2], "n": 1}),
            &json!({"id": "c1", "email": "A@B.COM", "tags": [1], "extra": true, "n": 1.0}),
        );
        assert_eq!(
            d,
            vec![
                r#"/email: expected "a@b.com", got "A@B.COM""#,
                "/tags: expected 2 item(s), got 1",
                "/extra: unexpected true",
            ]
        );
    }

    #[test]
    fn examples_pass_and_fail_as_they_should() {
        let m = mapping("{id: .id, email: (.email | ascii_downcase)}");
        let input = json!({"id": "c1", "email": "A@B.COM"});
        let good = json!({"id": "c1", "email": "a@b.com"});
        let bad = json!({"id": "c1", "email": "A@B.COM"});
        assert!(check_example(&m, None, &input, Expected::Output(&good)).is_ok());
        let e = check_example(&m, None, &input, Expected::Output(&bad)).unwrap_err();
        assert_eq!(e.len(), 1, "{e:?}");
        assert!(check_example(&m, None, &json!({"email": 5}), Expected::Error("cannot")).is_ok());
        let e = check_example(&m, None, &input, Expected::Error("boom")).unwrap_err();
        assert!(e[0].contains("expected an error"), "{e:?}");
    }

    #[test]
    fn an_output_that_breaks_its_model_fails_the_example() {
        let model = Model::compile(
            ModelRef::parse("c@1").unwrap(),
            &json!({"type": "object", "required": ["id"], "properties": {"id": {"type": "string"}}}),
        )
        .unwrap();
        let m = mapping("{id: .n}");
        let e = run(&m, Some(&model), &json!({"n": 5})).unwrap_err();
        assert!(e.contains("breaks c@1") && e.contains("/id"), "{e}");
        assert!(check_example(
            &m,
            Some(&model),
            &json!({"n": 5}),
            Expected::Error("breaks c@1")
        )
        .is_ok());
    }
}
