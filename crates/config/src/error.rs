//! Config errors that point at the file, line, column and field, and say how to fix it.

use std::fmt;

/// One problem in the configuration.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ConfigError {
    /// The file (or `env VAR` / `--flag` for values that came from there).
    pub file: String,
    /// 1-based line, when the problem has a place in the file.
    pub line: Option<usize>,
    /// 1-based column, when the problem has a place in the file.
    pub col: Option<usize>,
    /// The field, dotted: `server.listen`, `routes.orders.to[0]`. Empty for the whole file.
    pub field: String,
    /// What is wrong.
    pub message: String,
    /// How to fix it.
    pub hint: Option<String>,
}

impl ConfigError {
    pub(crate) fn whole_file(file: &str, message: String, hint: &str) -> Self {
        Self {
            file: file.to_owned(),
            line: None,
            col: None,
            field: String::new(),
            message,
            hint: Some(hint.to_owned()),
        }
    }

    /// `file:line:col` (or as much of it as is known).
    pub fn location(&self) -> String {
        match (self.line, self.col) {
            (Some(l), Some(c)) => format!("{}:{l}:{c}", self.file),
            (Some(l), None) => format!("{}:{l}", self.file),
            _ => self.file.clone(),
        }
    }
}

impl fmt::Display for ConfigError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let message = junction_core::mask::mask(&self.message);
        if self.field.is_empty() {
            write!(f, "{}: {message}", self.location())?;
        } else {
            write!(f, "{}: `{}`: {message}", self.location(), self.field)?;
        }
        if let Some(hint) = &self.hint {
            write!(f, "\n  hint: {}", junction_core::mask::mask(hint))?;
        }
        Ok(())
    }
}

/// Every problem found in one load, in file order.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ConfigErrors(pub Vec<ConfigError>);

impl ConfigErrors {
    pub(crate) fn one(e: ConfigError) -> Self {
        Self(vec![e])
    }

    pub fn iter(&self) -> impl Iterator<Item = &ConfigError> {
        self.0.iter()
    }

    pub fn len(&self) -> usize {
        self.0.len()
    }

    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }
}

impl fmt::Display for ConfigErrors {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        for (i, e) in self.0.iter().enumerate() {
            if i > 0 {
                writeln!(f)?;
            }
            write!(f, "error: {e}")?;
        }
        Ok(())
    }
}

impl std::error::Error for ConfigErrors {}

/// The nearest of `candidates` to `word`, if it is close enough to be what the user meant (the
/// config's "did you mean", and intake's for an unknown source).
pub fn nearest<'a>(word: &str, candidates: impl IntoIterator<Item = &'a str>) -> Option<&'a str> {
    candidates
        .into_iter()
        .map(|c| (c, strsim::jaro_winkler(word, c)))
        .filter(|(c, score)| *score >= 0.8 || strsim::damerau_levenshtein(word, c) <= 2)
        .max_by(|a, b| a.1.total_cmp(&b.1))
        .map(|(c, _)| c)
}

#[cfg(test)]
mod tests {
    use super::nearest;

    #[test]
    fn suggests_close_keys_only() {
        assert_eq!(nearest("lisen", ["listen", "body_limit"]), Some("listen"));
        assert_eq!(
            nearest("bodylimit", ["listen", "body_limit"]),
            Some("body_limit")
        );
        assert_eq!(nearest("zzz", ["listen", "body_limit"]), None);
    }
}
