//! The page shell: navigation, flash message, stylesheet.

use axum::response::{Html, IntoResponse, Response};
use maud::{html, Markup, DOCTYPE};

const STYLE: &str = include_str!("style.css");

pub async fn stylesheet() -> Response {
    (
        [
            (http::header::CONTENT_TYPE, "text/css; charset=utf-8"),
            (http::header::CACHE_CONTROL, "public, max-age=3600"),
        ],
        STYLE,
    )
        .into_response()
}

const NAV: [(&str, &str); 11] = [
    ("/ui/", "Overview"),
    ("/ui/events", "Events"),
    ("/ui/deliveries", "Deliveries"),
    ("/ui/dead-letters", "Dead letters"),
    ("/ui/quarantine", "Quarantine"),
    ("/ui/rejected", "Rejected"),
    ("/ui/drift", "Drift"),
    ("/ui/alerts", "Alerts"),
    ("/ui/jobs", "Jobs"),
    ("/ui/connections", "Connections"),
    ("/ui/api", "API"),
];

/// What every dashboard answer carries: no framing by any site (clickjacking), nothing loaded
/// or run that is not the page's own, no referrer beyond this origin, no type sniffing.
pub async fn protect(mut res: Response) -> Response {
    use http::header::{
        HeaderValue, CONTENT_SECURITY_POLICY, REFERRER_POLICY, X_CONTENT_TYPE_OPTIONS,
        X_FRAME_OPTIONS,
    };
    let h = res.headers_mut();
    h.insert(X_FRAME_OPTIONS, HeaderValue::from_static("DENY"));
    h.insert(
        CONTENT_SECURITY_POLICY,
        HeaderValue::from_static(
            "default-src 'self'; script-src 'none'; object-src 'none'; frame-ancestors 'none'; form-action 'self'; base-uri 'none'",
        ),
    );
    h.insert(REFERRER_POLICY, HeaderValue::from_static("same-origin"));
    h.insert(X_CONTENT_TYPE_OPTIONS, HeaderValue::from_static("nosniff"));
    res
}

/// A whole page. `refresh`: seconds between automatic reloads (the overview's live view).
pub fn page(
    title: &str,
    active: &str,
    flash: Option<&str>,
    refresh: Option<u32>,
    body: Markup,
) -> Response {
    let markup = html! {
        (DOCTYPE)
        html lang="en" {
            head {
                meta charset="utf-8";
                meta name="viewport" content="width=device-width, initial-scale=1";
                @if let Some(s) = refresh { meta http-equiv="refresh" content=(s); }
                title { (title) " · Junction" }
                link rel="stylesheet" href="/ui/style.css";
            }
            body {
                header {
                    a.brand href="/ui/" { "Junction" }
                    nav {
                        @for (href, label) in NAV {
                            a href=(href) class=[(href == active).then_some("active")] { (label) }
                        }
                    }
                    @if crate::signed_in() {
                        form.logout method="post" action="/ui/logout" { button type="submit" { "Sign out" } }
                    }
                }
                main {
                    @if let Some(f) = flash { p.flash role="status" { (f) } }
                    h1 { (title) }
                    (body)
                }
            }
        }
    };
    Html(markup.into_string()).into_response()
}

/// A time in ms since the epoch as UTC `YYYY-MM-DD HH:MM:SS`.
pub fn when(ms: i64) -> String {
    let secs = ms.div_euclid(1000);
    let days = secs.div_euclid(86_400);
    let rem = secs.rem_euclid(86_400);
    let (y, m, d) = civil(days);
    format!(
        "{y:04}-{m:02}-{d:02} {:02}:{:02}:{:02}",
        rem / 3600,
        rem % 3600 / 60,
        rem % 60
    )
}

/// Days since 1970-01-01 → (year, month, day), proleptic Gregorian.
fn civil(days: i64) -> (i64, i64, i64) {
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z.rem_euclid(146_097);
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let d = doy - (153 * mp + 2) / 5 + 1;
    let m = if mp < 10 { mp + 3 } else { mp - 9 };
    (yoe + era * 400 + i64::from(m <= 2), m, d)
}

/// A state as a coloured badge.
pub fn badge(state: &str) -> Markup {
    let class = match state {
        "delivered" | "closed" | "resolved" | "active" | "ok" => "ok",
        "pending" | "half_open" | "half-open" | "stale" | "info" | "discarded" => "warn",
        "dead" | "open" | "quarantined" | "firing" | "disabled" | "critical" | "needs_reauth" => {
            "bad"
        }
        "warning" => "warn",
        _ => "neutral",
    };
    html! { span class={"badge " (class)} { (state) } }
}

/// A circuit's state in the words an operator reads right: "open" reads as "available".
pub fn circuit_badge(state: &str) -> Markup {
    let (class, text) = match state {
        "closed" => ("ok", "healthy"),
        "open" => ("bad", "failing: paused until a probe succeeds"),
        "half_open" | "half-open" => ("warn", "probing"),
        other => ("neutral", other),
    };
    html! { span class={"badge " (class)} title={"circuit " (state)} { (text) } }
}

/// Seconds as a person reads them: `under 1s`, `45s`, `2m 30s`, `1h 5m`.
pub fn seconds(s: f64) -> String {
    if !s.is_finite() || s < 1.0 {
        return "under 1s".into();
    }
    let s = s.round() as u64;
    match s {
        0..=59 => format!("{s}s"),
        60..=3599 if s % 60 == 0 => format!("{}m", s / 60),
        60..=3599 => format!("{}m {}s", s / 60, s % 60),
        _ if s % 3600 / 60 == 0 => format!("{}h", s / 3600),
        _ => format!("{}h {}m", s / 3600, s % 3600 / 60),
    }
}

/// A configured duration as written: `250ms` under a second, else as [`seconds`].
pub fn duration(d: std::time::Duration) -> String {
    if d < std::time::Duration::from_secs(1) {
        format!("{}ms", d.as_millis())
    } else {
        seconds(d.as_secs_f64())
    }
}

/// `1 attempt`, `3 attempts`.
pub fn count(n: u64, one: &str, many: &str) -> String {
    format!("{n} {}", if n == 1 { one } else { many })
}

#[cfg(test)]
mod tests {
    #[test]
    fn circuit_states_and_durations_read_as_words() {
        let h = super::circuit_badge("open").into_string();
        assert!(h.contains("failing: paused until a probe succeeds"), "{h}");
        assert!(super::circuit_badge("closed")
            .into_string()
            .contains("healthy"));
        assert_eq!(super::seconds(0.2), "under 1s");
        assert_eq!(super::seconds(45.0), "45s");
        assert_eq!(super::seconds(150.0), "2m 30s");
        assert_eq!(super::seconds(3900.0), "1h 5m");
    }

    #[test]
    fn times_are_utc_calendar_dates() {
        assert_eq!(super::when(0), "1970-01-01 00:00:00");
        assert_eq!(super::when(1_700_000_000_000), "2023-11-14 22:13:20");
        assert_eq!(super::when(951_782_400_000), "2000-02-29 00:00:00");
    }
}
