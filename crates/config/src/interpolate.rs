//! `${VAR}` and `${VAR:-default}` in scalar values; `$${` writes a literal `${`.

/// Why a value could not be interpolated.
#[derive(Debug, PartialEq, Eq)]
pub(crate) enum Problem {
    Unset(String),
    Unterminated,
    BadName(String),
}

/// What interpolation produced: the text, and the variables it read (to register credential-like ones).
pub(crate) struct Interpolated {
    pub text: String,
    pub vars: Vec<(String, String)>,
}

/// Expands the variables in `s`, reading them through `env`. An empty variable counts as unset for `:-`.
pub(crate) fn interpolate(
    s: &str,
    env: &dyn Fn(&str) -> Option<String>,
) -> Result<Interpolated, Problem> {
    let mut out = String::with_capacity(s.len());
    let mut vars = Vec::new();
    let mut rest = s;
    while let Some(i) = rest.find('$') {
        out.push_str(&rest[..i]);
        let after = &rest[i + 1..];
        if let Some(tail) = after.strip_prefix("${") {
            out.push_str("${");
            rest = tail;
        } else if let Some(body_on) = after.strip_prefix('{') {
            let end = body_on.find('}').ok_or(Problem::Unterminated)?;
            let body = &body_on[..end];
            let (name, default) = match body.split_once(":-") {
                Some((n, d)) => (n, Some(d)),
                None => (body, None),
            };
            if name.is_empty() || !name.chars().all(|c| c.is_ascii_alphanumeric() || c == '_') {
                return Err(Problem::BadName(body.to_owned()));
            }
            match (env(name).filter(|v| !v.is_empty()), default) {
                (Some(v), _) => {
                    out.push_str(&v);
                    vars.push((name.to_owned(), v));
                }
                (None, Some(d)) => out.push_str(d),
                (None, None) => return Err(Problem::Unset(name.to_owned())),
            }
            rest = &body_on[end + 1..];
        } else {
            out.push('$');
            rest = after;
        }
    }
    out.push_str(rest);
    Ok(Interpolated { text: out, vars })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn env(name: &str) -> Option<String> {
        match name {
            "HOST" => Some("db.internal".into()),
            "EMPTY" => Some(String::new()),
            _ => None,
        }
    }

    #[test]
    fn expands_set_variables_and_defaults() {
        let r = interpolate("pg://${HOST}:${PORT:-5432}/x", &env).unwrap();
        assert_eq!(r.text, "pg://db.internal:5432/x");
        assert_eq!(interpolate("${EMPTY:-d}", &env).unwrap().text, "d");
        assert_eq!(
            interpolate("a$b $${HOST}", &env).unwrap().text,
            "a$b ${HOST}"
        );
    }

    #[test]
    fn reports_unset_and_malformed() {
        assert_eq!(
            interpolate("${NOPE}", &env).err(),
            Some(Problem::Unset("NOPE".into()))
        );
        assert_eq!(
            interpolate("${HOST", &env).err(),
            Some(Problem::Unterminated)
        );
        assert_eq!(
            interpolate("${A B}", &env).err(),
            Some(Problem::BadName("A B".into()))
        );
    }
}
