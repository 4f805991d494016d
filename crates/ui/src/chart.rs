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

/// A larger chart of per-minute `values` (and `bad` as red bars) from minute `first` (ms), with
/// a time axis (UTC) and the top of the scale. Only the span that has data is drawn (at least
/// the last 10 minutes): an hour of zeros before the first event is left out.
pub fn timeline(values: &[f64], bad: &[f64], first: i64, title: &str) -> Markup {
    const W: f64 = 640.0;
    const H: f64 = 120.0;
    const LEFT: f64 = 40.0;
    const BOTTOM: f64 = 18.0;
    let n = values.len().max(bad.len());
    let has =
        |i: usize| values.get(i).is_some_and(|v| *v > 0.0) || bad.get(i).is_some_and(|v| *v > 0.0);
    let start = (0..n)
        .find(|i| has(*i))
        .unwrap_or(n)
        .min(n.saturating_sub(10));
    let (values, bad) = (
        &values[start.min(values.len())..],
        &bad[start.min(bad.len())..],
    );
    let first = first + start as i64 * junction_telemetry::history::MINUTE_MS;
    let n = values.len().max(bad.len()).max(2);
    let max = values
        .iter()
        .chain(bad)
        .copied()
        .fold(0.0f64, f64::max)
        .max(1.0);
    let (pw, ph) = (W - LEFT - 4.0, H - BOTTOM - 4.0);
    let x = |i: usize| LEFT + i as f64 * pw / (n - 1) as f64;
    let y = |v: f64| 4.0 + ph - v / max * ph;
    let points: String = values
        .iter()
        .enumerate()
        .map(|(i, v)| format!("{:.1},{:.1} ", x(i), y(*v)))
        .collect();
    let bar_w = (pw / n as f64).max(1.0);
    let clock = |i: usize| {
        let ms = first + i as i64 * junction_telemetry::history::MINUTE_MS;
        let m = ms.div_euclid(60_000).rem_euclid(24 * 60);
        format!("{:02}:{:02}", m / 60, m % 60)
    };
    let ticks = [0, (n - 1) / 2, n - 1];
    let top = if max >= 10.0 {
        format!("{max:.0}")
    } else {
        format!("{max:.1}")
    };
    html! {
        svg.timeline width=(W) height=(H) viewBox={"0 0 " (W) " " (H)} role="img" aria-label=(title) {
            title { (title) }
            line x1=(LEFT) y1=(4.0 + ph) x2=(W - 4.0) y2=(4.0 + ph) {}
            line x1=(LEFT) y1="4" x2=(LEFT) y2=(4.0 + ph) {}
            text.axis x=(LEFT - 4.0) y="12" text-anchor="end" { (top) }
            text.axis x=(LEFT - 4.0) y=(4.0 + ph) text-anchor="end" { "0" }
            @for (i, t) in ticks.into_iter().enumerate() {
                text.axis x=(format!("{:.1}", x(t))) y=(H - 4.0) text-anchor=(["start", "middle", "end"][i]) { (clock(t)) }
            }
            @for (i, b) in bad.iter().enumerate() {
                @if *b > 0.0 {
                    rect x=(format!("{:.1}", x(i) - bar_w / 2.0)) y=(format!("{:.1}", y(*b))) width=(format!("{bar_w:.1}")) height=(format!("{:.1}", 4.0 + ph - y(*b))) {}
                }
            }
            polyline points=(points) {}
        }
    }
}

#[cfg(test)]
mod tests {
    #[test]
    fn a_timeline_starts_where_data_starts_and_labels_its_minutes() {
        // 60 minutes from 10:00 UTC, data only in the last 20.
        let first = 10 * 3_600_000;
        let mut v = vec![0.0; 60];
        v[40] = 5.0;
        v[59] = 2.0;
        let svg = super::timeline(&v, &[0.0; 60], first, "t").into_string();
        assert!(
            svg.contains(">10:40<"),
            "starts at the first minute with data: {svg}"
        );
        assert!(svg.contains(">10:59<"), "{svg}");
        assert!(!svg.contains(">10:00<"), "{svg}");
        assert!(svg.contains(">5.0<"), "the top of the scale: {svg}");
        // Nothing at all: the last 10 minutes, not an error.
        let empty = super::timeline(&[0.0; 60], &[0.0; 60], first, "t").into_string();
        assert!(
            empty.contains(">10:50<") && empty.contains(">10:59<"),
            "{empty}"
        );
    }

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
