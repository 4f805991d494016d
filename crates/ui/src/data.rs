//! The per-minute history, read once per page.

use junction_store::{Store, StoreError};
use junction_telemetry::history::{self, Figures, Kind, Merged, MINUTE_MS};

/// The last `span` minutes of every series, merged across processes.
pub struct History {
    merged: Merged,
    /// The first minute shown.
    pub first: i64,
    pub span: i64,
}

impl History {
    pub async fn load(store: &dyn Store, span: i64) -> Result<Self, StoreError> {
        let now = history::minute_of(junction_core::time::now_ms());
        let first = now - (span - 1) * MINUTE_MS;
        let merged = junction_server::history::merged(store, first).await?;
        Ok(Self {
            merged,
            first,
            span,
        })
    }

    /// One counter per minute, oldest first, zeros where nothing happened.
    pub fn per_minute(&self, kind: Kind, name: &str, counter: usize) -> Vec<f64> {
        let minutes = self.merged.get(&(kind, name.to_owned()));
        (0..self.span)
            .map(|i| {
                minutes
                    .and_then(|m| m.get(&(self.first + i * MINUTE_MS)))
                    .map_or(0.0, |f| f.count(counter) as f64)
            })
            .collect()
    }

    /// The sum over the last `minutes` minutes.
    pub fn total(&self, kind: Kind, name: &str, minutes: i64) -> Figures {
        let since = self.first + (self.span - minutes.min(self.span)) * MINUTE_MS;
        self.merged
            .get(&(kind, name.to_owned()))
            .map(|m| history::total(m, since))
            .unwrap_or_default()
    }

    /// Every name with history of `kind`.
    pub fn names(&self, kind: Kind) -> Vec<String> {
        self.merged
            .keys()
            .filter(|(k, _)| *k == kind)
            .map(|(_, n)| n.clone())
            .collect()
    }
}

/// `part / whole` as a percentage with one decimal, or `–`.
pub fn percent(part: u64, whole: u64) -> String {
    if whole == 0 {
        "–".into()
    } else {
        format!("{:.1}%", part as f64 * 100.0 / whole as f64)
    }
}

/// One labelled figure of a detail page's summary.
pub fn fact(label: &str, value: maud::Markup) -> maud::Markup {
    maud::html! { div { dt { (label) } dd { (value) } } }
}

/// p50 / p95 / p99 of `t`'s latencies, or `–` without any.
pub fn quantiles(t: &Figures) -> maud::Markup {
    let q = |p: f64| {
        t.quantile_ms(p)
            .map_or("–".into(), |v| format!("{v:.0} ms"))
    };
    maud::html! { (q(0.5)) " / " (q(0.95)) " / " (q(0.99)) }
}

/// Texts counted by equal value, most frequent first (ties by text), at most 10; a long text
/// is cut at 160 characters, so near-identical reasons with long tails group together.
pub fn grouped(texts: impl Iterator<Item = String>) -> Vec<(String, usize)> {
    let mut counts: std::collections::BTreeMap<String, usize> = Default::default();
    for t in texts {
        let cut: String = t.chars().take(160).collect();
        *counts.entry(cut).or_default() += 1;
    }
    let mut out: Vec<_> = counts.into_iter().collect();
    out.sort_by(|a, b| b.1.cmp(&a.1).then_with(|| a.0.cmp(&b.0)));
    out.truncate(10);
    out
}
