//! One HTTP attempt of one delivery: the event's body, Standard Webhooks headers signed with the
//! destination's keys, and the same `webhook-id` / `Idempotency-Key` on every attempt so the
//! receiver can drop repeats.

use std::time::{Duration, SystemTime};

use junction_config::Destination;
use junction_store::Claimed;

use super::classify::Sent;

/// Most of a response body kept with the attempt (masked).
const EXCERPT: usize = 1024;

/// The idempotency key of a delivery: the same on every attempt and every replay.
pub fn idempotency_key(c: &Claimed) -> String {
    format!("msg_{}_{}", c.event.id, c.lease.delivery_id)
}

/// Sends one attempt of `body` (the event's, or its mapped form). Returns what came back and a
/// masked excerpt of the response body.
pub async fn send(
    client: &reqwest::Client,
    dest: &Destination,
    c: &Claimed,
    body: Vec<u8>,
    now_s: i64,
) -> (Sent, Option<String>) {
    let id = idempotency_key(c);
    let method =
        reqwest::Method::from_bytes(dest.method.as_bytes()).unwrap_or(reqwest::Method::POST);
    let mut req = client
        .request(method, dest.url.clone())
        .timeout(dest.timeout)
        .header("content-type", "application/json")
        .header("webhook-id", &id)
        .header("webhook-timestamp", now_s.to_string())
        .header("idempotency-key", &id)
        .header("junction-source", &c.event.source)
        .header("junction-event-id", &c.event.external_id)
        .header("junction-event-type", &c.event.event_type)
        .header("junction-attempt", c.attempt.to_string());
    if !dest.signing.is_empty() {
        let sig = junction_auth::sign::standard_signature(dest.signing.keys(), &id, now_s, &body);
        req = req.header("webhook-signature", sig);
    }
    for (k, v) in &dest.headers {
        req = req.header(k.as_str(), v.as_str());
    }
    let res = match req.body(body).send().await {
        Ok(r) => r,
        Err(e) if e.is_timeout() => return (Sent::Timeout, None),
        Err(e) => return (Sent::Transport(transport_reason(&e)), None),
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
    let excerpt = match excerpt(res).await {
        Ok(e) => e,
        // The status is in; a body cut short after it does not change the verdict.
        Err(_) if (200..300).contains(&status) => None,
        Err(e) => return (Sent::Transport(e), None),
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

async fn excerpt(mut res: reqwest::Response) -> Result<Option<String>, String> {
    let mut buf = Vec::new();
    while buf.len() < EXCERPT {
        match res.chunk().await {
            Ok(Some(chunk)) => buf.extend_from_slice(&chunk),
            Ok(None) => break,
            Err(e) => return Err(format!("the response broke off: {}", transport_reason(&e))),
        }
    }
    if buf.is_empty() {
        return Ok(None);
    }
    buf.truncate(EXCERPT);
    let text = String::from_utf8_lossy(&buf);
    Ok(Some(junction_core::mask::mask(&text).into_owned()))
}

fn transport_reason(e: &reqwest::Error) -> String {
    use std::error::Error as _;
    let mut text = e.to_string();
    let mut source = e.source();
    while let Some(s) = source {
        text.push_str(": ");
        text.push_str(&s.to_string());
        source = s.source();
    }
    text
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
