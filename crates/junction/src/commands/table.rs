//! CLI tables: each column as wide as its widest cell (header included), so headers stand over
//! their columns whatever the values; numbers right-aligned; over-long cells cut with `…`.

/// A column's alignment.
#[derive(Clone, Copy, PartialEq, Eq)]
pub(super) enum Align {
    Left,
    Right,
}

/// Widest a cell may be before it is cut.
const MAX_WIDTH: usize = 60;

pub(super) struct Table {
    headers: Vec<(&'static str, Align)>,
    rows: Vec<Vec<String>>,
    indent: &'static str,
}

impl Table {
    pub(super) fn new(headers: &[(&'static str, Align)]) -> Self {
        Self {
            headers: headers.to_vec(),
            rows: Vec::new(),
            indent: "",
        }
    }

    /// Every line starts with `indent` (a table under a heading).
    pub(super) fn indented(mut self, indent: &'static str) -> Self {
        self.indent = indent;
        self
    }

    pub(super) fn row(&mut self, cells: Vec<String>) {
        self.rows.push(
            cells
                .into_iter()
                .map(|c| {
                    let c = c.replace(['\n', '\r', '\t'], " ");
                    if c.chars().count() > MAX_WIDTH {
                        format!("{}…", c.chars().take(MAX_WIDTH - 1).collect::<String>())
                    } else {
                        c
                    }
                })
                .collect(),
        );
    }

    pub(super) fn render(&self) -> String {
        let n = self.headers.len();
        let mut widths: Vec<usize> = self
            .headers
            .iter()
            .map(|(h, _)| h.chars().count())
            .collect();
        for r in &self.rows {
            for (i, c) in r.iter().enumerate().take(n) {
                widths[i] = widths[i].max(c.chars().count());
            }
        }
        let line = |cells: &mut dyn Iterator<Item = &str>| {
            let mut out = String::from(self.indent);
            for (i, c) in cells.enumerate().take(n) {
                if i > 0 {
                    out.push_str("  ");
                }
                let pad = widths[i].saturating_sub(c.chars().count());
                match self.headers[i].1 {
                    Align::Right => {
                        out.extend(std::iter::repeat_n(' ', pad));
                        out.push_str(c);
                    }
                    Align::Left => {
                        out.push_str(c);
                        if i + 1 < n {
                            out.extend(std::iter::repeat_n(' ', pad));
                        }
                    }
                }
            }
            out.truncate(out.trim_end().len());
            out.push('\n');
            out
        };
        let mut out = line(&mut self.headers.iter().map(|(h, _)| *h));
        for r in &self.rows {
            out.push_str(&line(&mut r.iter().map(String::as_str)));
        }
        out
    }

    pub(super) fn print(&self) {
        print!("{}", self.render());
    }
}

#[cfg(test)]
mod tests {
    use super::{Align::*, Table};

    #[test]
    fn headers_stand_over_their_columns_whatever_the_values() {
        let mut t = Table::new(&[("ID", Right), ("NAME", Left), ("STATE", Left)]);
        t.row(vec![
            "7".into(),
            "a-rather-long-destination-name".into(),
            "healthy".into(),
        ]);
        t.row(vec!["12345".into(), "b".into(), "failing".into()]);
        let text = t.render();
        let lines: Vec<&str> = text.lines().collect();
        let col = |l: &str, word: &str| l.find(word).unwrap();
        assert_eq!(col(lines[0], "NAME"), col(lines[1], "a-rather"));
        assert_eq!(col(lines[0], "NAME"), col(lines[2], "b"));
        assert_eq!(col(lines[0], "STATE"), col(lines[1], "healthy"));
        assert_eq!(col(lines[0], "STATE"), col(lines[2], "failing"));
        // Numbers end where their header ends.
        assert_eq!(lines[1].find('7').unwrap(), 4);
        assert!(lines[2].starts_with("12345"));
    }

    #[test]
    fn long_cells_are_cut_and_line_breaks_flattened() {
        let mut t = Table::new(&[("REASON", Left)]);
        t.row(vec![format!("{}\nsecond line", "x".repeat(100))]);
        let text = t.render();
        let row = text.lines().nth(1).unwrap();
        assert_eq!(row.chars().count(), 60);
        assert!(row.ends_with('…'));
        assert_eq!(text.lines().count(), 2);
    }
}
