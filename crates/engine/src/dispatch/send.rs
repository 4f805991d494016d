//! One HTTP attempt of one delivery: the event's body, Standard Webhooks headers signed with the
//! destination's keys, and the same `webhook-id` / `Idempotency-Key` on every attempt so the
//! receiver can drop repeats.

use std::time::{Duration, SystemTime};

use http::{HeaderMap, HeaderName, HeaderValue};
use http_body_util::BodyExt;
use junction_config::Destination;
use junction_outbound::{Body, Failure, Upstream};
use junction_store::Claimed;

use super::classify::Sent;

/// Most of a response body kept with the attempt (masked).
const EXCERPT: usize = 1024;

/// The idempotency key of a delivery: stored with it, the same on every attempt and every
/// replay, and unique across databases and hubs.
pub fn idempotency_key(c: &Claimed) -> &str {
    &c.uid
}

/// Sends one attempt of `body` (the event's, or its mapped form). Returns what came back and a
/// masked excerpt of the response body. The destination's timeout covers the whole attempt.
pub async fn send(
    client: &Upstream,
    dest: &Destination,
    url: &url::Url,
    c: &Claimed,
    body: Vec<u8>,
    now_s: i64,
) -> (Sent, Option<String>) {
    let started = tokio::time::Instant::now();
    let id = idempotency_key(c);
    let method = dest.method.clone();
    let mut headers =
        HeaderMap::with_capacity(12 + dest.headers.len() + c.event.context.headers.len());
    let mut put = |name: HeaderName, value: &str| {
        // A value that cannot travel in a header (a provider's id with control characters) is
        // left out: these headers inform, the body and the signature are what count.
        if let Ok(v) = HeaderValue::from_str(value) {
            headers.append(name, v);
        }
    };
    let fixed = HeaderName::from_static;
    put(http::header::USER_AGENT, USER_AGENT);
    put(http::header::CONTENT_TYPE, "application/json");
    put(fixed("webhook-id"), id);
    put(fixed("webhook-timestamp"), &now_s.to_string());
    put(fixed("idempotency-key"), id);
    put(fixed("junction-source"), &c.event.source);
    put(fixed("junction-event-id"), &c.event.external_id);
    put(fixed("junction-event-type"), &c.event.event_type);
    put(fixed("junction-attempt"), &c.attempt.to_string());
    // The receiver's side of the trace continues the attempt's span, itself a child of the
    // trace the event arrived in (when spans are not exported, a child of the event's trace).
    put(
        fixed("traceparent"),
        &junction_telemetry::outgoing_traceparent(c.event.context.traceparent.as_deref()),
    );
    // The provider headers the source forwards (names checked when the config was loaded: none
    // is one of the headers set above).
    for (k, v) in &c.event.context.headers {
        if let Ok(name) = HeaderName::try_from(k.as_str()) {
            put(name, v);
        }
    }
    if !dest.signing.is_empty() {
        let sig = junction_auth::sign::standard_signature(dest.signing.keys(), id, now_s, &body);
        put(fixed("webhook-signature"), &sig);
    }
    for (name, v) in &dest.headers {
        put(name.clone(), v.expose());
    }
    let res = match client
        .send(method, url, headers, body.into(), dest.timeout)
        .await
    {
        Ok(r) => r,
        Err(Failure::Timeout) => return (Sent::Timeout, None),
        Err(Failure::Connect(e) | Failure::Other(e)) => {
            let e = match junction_outbound::tls::hint(&e) {
                Some(hint) => format!("{e} ({hint})"),
                None => e,
            };
            return (Sent::Transport(e), None);
        }
    };
    let status = res.status().as_u16();
    let header = |name: &str| {
        res.headers()
            .get(name)
            .and_then(|v| v.to_str().ok())
            .map(str::to_owned)
    };
    let retry_after = header("retry-after").and_then(|v| parse_retry_after(&v));
    let location = header("location");
    let left = dest.timeout.saturating_sub(started.elapsed());
    let excerpt = match tokio::time::timeout(left, excerpt(res.into_body())).await {
        Ok(Ok(e)) => e,
        // The status is in; a body cut short or slow after it does not change the verdict.
        Ok(Err(_)) | Err(_) if (200..300).contains(&status) => None,
        Ok(Err(e)) => return (Sent::Transport(e), None),
        Err(_) => return (Sent::Timeout, None),
    };
    (
        Sent::Answered {
            status,
            retry_after,
            location,
        },
        excerpt,
    )
}

const USER_AGENT: &str = concat!("junction/", env!("CARGO_PKG_VERSION"));

/// Reads up to [`EXCERPT`] bytes of the answer and masks them.
async fn excerpt(mut body: Body) -> Result<Option<String>, String> {
    let mut buf = Vec::new();
    while buf.len() < EXCERPT {
        match body.frame().await {
            Some(Ok(frame)) => {
                if let Some(chunk) = frame.data_ref() {
                    buf.extend_from_slice(chunk);
                }
            }
            None => break,
            Some(Err(e)) => return Err(format!("the response broke off: {e}")),
        }
    }
    if buf.is_empty() {
        return Ok(None);
    }
    buf.truncate(EXCERPT);
    let text = String::from_utf8_lossy(&buf);
    Ok(Some(junction_core::mask::mask(&text).into_owned()))
}

/// `Retry-After`: seconds or an HTTP date.
pub fn parse_retry_after(v: &str) -> Option<Duration> {
    if let Ok(secs) = v.trim().parse::<u64>() {
        return Some(Duration::from_secs(secs));
    }
    let at = httpdate::parse_http_date(v.trim()).ok()?;
    Some(at.duration_since(SystemTime::now()).unwrap_or_default())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn retry_after_reads_seconds_and_dates() {
        assert_eq!(parse_retry_after("120"), Some(Duration::from_secs(120)));
        assert_eq!(
            parse_retry_after("Wed, 21 Oct 2015 07:28:00 GMT"),
            Some(Duration::ZERO)
        );
        assert_eq!(parse_retry_after("soon"), None);
    }
}
