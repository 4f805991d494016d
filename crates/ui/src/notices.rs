//! `/ui/drift` (schema drift and deprecation notices), `/ui/rejected` (the request inspector) and
//! `/ui/alerts`.

use axum::extract::State;
use axum::response::Response;
use junction_server::{ApiError, AppState};
use maud::html;

use crate::layout::{badge, page, when};

/// Inbound requests refused at intake, newest first: why, when, masked headers, body excerpt.
pub async fn rejected(State(state): State<AppState>) -> Result<Response, ApiError> {
    let items = state.store.rejected(None, 200).await?;
    let body = html! {
        p { "The newest " (junction_server::inspect::KEEP) " refused requests per source. Signature and credential headers are masked; bodies are cut at 2 KiB with known secrets masked." }
        @if items.is_empty() { p.empty { "No request has been refused." } } @else {
            table #rejected {
                thead { tr { th { "Received (UTC)" } th { "Source" } th.num { "Status" } th { "Reason" } th { "Detail" } th.num { "Bytes" } th { "Request" } } }
                tbody { @for r in &items {
                    tr {
                        td { (when(r.at_ms)) }
                        td { @if r.source.is_empty() { em { "none" } } @else { (r.source) } }
                        td.num { (r.status) }
                        td { (badge(&r.reason)) }
                        td { (r.detail) }
                        td.num { (r.size) }
                        td {
                            details {
                                summary { "headers and body" }
                                table.kv { tbody { @for (k, v) in &r.headers { tr { td { code { (k) } } td { code { (v) } } } } } }
                                @if !r.body.is_empty() { pre { (r.body) } }
                            }
                        }
                    }
                } }
            }
        }
    };
    Ok(page("Rejected requests", "/ui/rejected", None, None, body))
}

pub async fn drift(State(state): State<AppState>) -> Result<Response, ApiError> {
    let records = junction_engine::maintain::drift(state.store.as_ref(), &state.drift, 500).await?;
    let now = junction_core::time::now_ms();
    let (deprecations, drift): (Vec<_>, Vec<_>) =
        records.iter().partition(|r| r.kind == "deprecated");
    let body = html! {
        h2 { "Deprecation and sunset notices" }
        @if deprecations.is_empty() { p.empty { "No vendor has announced a deprecation." } } @else {
            table #deprecations {
                thead { tr { th { "Endpoint" } th { "Notice" } th.num { "Seen" } th { "Last seen (UTC)" } } }
                tbody { @for r in &deprecations {
                    tr { td { (r.subject) } td { (notice(&r.detail, now)) } td.num { (r.count) } td { (when(r.last_seen)) } }
                } }
            }
        }
        h2 { "Schema drift" }
        @if drift.is_empty() { p.empty { "Every payload matches the shape learned for it." } } @else {
            table #drift {
                thead { tr { th { "Where" } th { "Subject" } th { "Path" } th { "Change" } th { "Detail" } th.num { "Seen" } th { "First / last seen (UTC)" } } }
                tbody { @for r in &drift {
                    tr {
                        td { (r.scope) } td { (r.subject) } td { code { (r.path) } } td { (badge(&r.kind)) }
                        td { (r.detail) } td.num { (r.count) } td { (when(r.first_seen)) br; (when(r.last_seen)) }
                    }
                } }
            }
        }
    };
    Ok(page(
        "Drift and deprecations",
        "/ui/drift",
        None,
        None,
        body,
    ))
}

pub async fn alerts(State(state): State<AppState>) -> Result<Response, ApiError> {
    let alerts = state.store.alerts().await?;
    let config = state.config();
    let rules = &config.alerts.rules;
    let body = html! {
        @if alerts.is_empty() { p.empty { "No alert has fired." } } @else {
            table #alerts {
                thead { tr { th { "State" } th { "Severity" } th { "Rule" } th { "Subject" } th { "Message" } th { "Since (UTC)" } th.num { "Fired" } } }
                tbody { @for a in &alerts {
                    tr { td { (badge(a.state.as_str())) } td { (badge(&a.severity)) } td { (a.rule) } td { (a.subject) } td { (a.message) } td { (when(a.since)) } td.num { (a.fired_count) } }
                } }
            }
        }
        h2 { "Rules" }
        table #rules {
            thead { tr { th { "Rule" } th { "Signal" } th.num { "Above" } th { "Over" } th { "For" } th { "Resolve after" } th { "Severity" } } }
            tbody { @for r in rules {
                tr {
                    td { (r.name) } td { (r.signal.as_str()) } td.num { (r.above) }
                    td { (format!("{:?}", r.over)) } td { (format!("{:?}", r.for_)) } td { (format!("{:?}", r.resolve_after)) }
                    td { (r.severity.as_str()) }
                }
            } }
        }
    };
    Ok(page("Alerts", "/ui/alerts", None, None, body))
}

/// A vendor's `Deprecation` / `Sunset` notice as a person reads it: the dates written out and
/// how far off they are (`Sunset: Wed, 30 Jun 2027 …` → "removed on 2027-06-30 (in 210 days)").
/// Parts that are not dates are kept as sent.
pub(crate) fn notice(detail: &str, now_ms: i64) -> String {
    let date = |v: &str| -> Option<i64> {
        if let Some(secs) = v.strip_prefix('@') {
            return secs.trim().parse::<i64>().ok().map(|s| s * 1000);
        }
        httpdate::parse_http_date(v.trim())
            .ok()
            .and_then(|t| t.duration_since(std::time::UNIX_EPOCH).ok())
            .map(|d| d.as_millis() as i64)
    };
    let day = |ms: i64| when(ms)[..10].to_owned();
    let off = |ms: i64| {
        let days = (ms - now_ms) / 86_400_000;
        let n = |d: i64| format!("{d} day{}", if d == 1 { "" } else { "s" });
        match days {
            0 => "today".to_owned(),
            1.. => format!("in {}", n(days)),
            _ => format!("{} ago", n(-days)),
        }
    };
    detail
        .split("; ")
        .map(|part| {
            if let Some(v) = part.strip_prefix("Deprecation: ") {
                return match date(v) {
                    Some(ms) if ms > now_ms => {
                        format!("deprecated from {} ({})", day(ms), off(ms))
                    }
                    Some(ms) => format!("deprecated since {} ({})", day(ms), off(ms)),
                    None if v.trim() == "true" => "deprecated".to_owned(),
                    None => part.to_owned(),
                };
            }
            if let Some(v) = part.strip_prefix("Sunset: ") {
                return match date(v) {
                    Some(ms) => format!("removed on {} ({})", day(ms), off(ms)),
                    None => part.to_owned(),
                };
            }
            if let Some(v) = part.strip_prefix("Link: ") {
                return format!("documented at {v}");
            }
            part.to_owned()
        })
        .collect::<Vec<_>>()
        .join("; ")
}

#[cfg(test)]
mod tests {
    #[test]
    fn deprecation_and_sunset_notices_show_their_dates_and_how_far_off() {
        // 2026-12-02 00:00 UTC.
        let now = 1_796_169_600_000;
        let text = super::notice(
            "Deprecation: @1796083200; Sunset: Wed, 30 Jun 2027 23:59:59 GMT; Link: <https://api.example.com/deprecations>; rel=\"deprecation\"",
            now,
        );
        assert_eq!(
            text,
            "deprecated since 2026-12-01 (1 day ago); removed on 2027-06-30 (in 210 days); documented at <https://api.example.com/deprecations>; rel=\"deprecation\""
        );
        assert_eq!(super::notice("Deprecation: true", now), "deprecated");
        assert_eq!(super::notice("Sunset: soon-ish", now), "Sunset: soon-ish");
    }
}
