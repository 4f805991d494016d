//! Inline SVG charts drawn on the server.

use maud::{html, Markup};

/// A sparkline of `values` (oldest first), `bad` drawn as red bars under it (e.g. errors).
pub fn spark(values: &[f64], bad: &[f64], title: &str) -> Markup {
    const W: f64 = 180.0;
    const H: f64 = 32.0;
    let max = values
        .iter()
        .chain(bad)
        .copied()
        .fold(0.0f64, f64::max)
        .max(1.0);
    let n = values.len().max(2);
    let x = |i: usize| i as f64 * W / (n - 1) as f64;
    let y = |v: f64| H - 1.0 - v / max * (H - 2.0);
    let points: String = values
        .iter()
        .enumerate()
        .map(|(i, v)| format!("{:.1},{:.1} ", x(i), y(*v)))
        .collect();
    let bar_w = (W / n as f64).max(1.0);
    html! {
        svg.spark width=(W) height=(H) viewBox={"0 0 " (W) " " (H)} role="img" aria-label=(title) {
            title { (title) }
            @for (i, b) in bad.iter().enumerate() {
                @if *b > 0.0 {
                    rect x=(format!("{:.1}", x(i) - bar_w / 2.0)) y=(format!("{:.1}", y(*b))) width=(format!("{bar_w:.1}")) height=(format!("{:.1}", H - 1.0 - y(*b))) {}
                }
            }
            polyline points=(points) {}
        }
    }
}

#[cfg(test)]
mod tests {
    #[test]
    fn svg_shapes_are_closed_so_browsers_draw_them_all() {
        let svg = super::spark(&[0.0, 3.0, 1.0], &[0.0, 1.0, 0.0], "t").into_string();
        assert!(
            svg.contains("</rect>") && svg.contains("</polyline>"),
            "{svg}"
        );
        assert_eq!(svg.matches("<rect").count(), 1);
    }
}
