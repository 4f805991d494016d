//! What an event carries to its receivers beside its body: the trace it arrived in, continued
//! by every delivery attempt (webhook → queue → destination is one trace), and the provider
//! headers its source forwards — kept with the event and shown by `events show`.

mod support;

use junction_mock::{Mock, MockConfig};
use serde_json::{json, Value};
use support::*;

const ADMIN: &str = "context-admin-token";
const CALLER_TRACE: &str = "4bf92f3577b34da6a3ce929d0e0e4736";
const CALLER_PARENT: &str = "00f067aa0ba902b7";

/// The (trace id, parent id) of a `traceparent`.
fn ids(traceparent: &str) -> (String, String) {
    let parts: Vec<&str> = traceparent.split('-').collect();
    assert_eq!(parts.len(), 4, "{traceparent}");
    (parts[1].to_owned(), parts[2].to_owned())
}

/// The sink's received deliveries of one event (by its `junction-event-id`), oldest first,
/// once `done` holds for them.
async fn received(
    http: &reqwest::Client,
    mock: &Mock,
    event: &str,
    done: impl Fn(&[Value]) -> bool,
) -> Vec<Value> {
    let mine = |all: &[Value]| -> Vec<Value> {
        all.iter()
            .filter(|d| d["headers"]["junction-event-id"] == event)
            .cloned()
            .collect()
    };
    let all = sink_until(http, &mock.url(), "/sink/ci", |all| done(&mine(all))).await;
    mine(&all)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_webhooks_trace_and_chosen_headers_reach_every_delivery_attempt() {
    let mock = Mock::start(MockConfig::default(), "127.0.0.1:0".parse().unwrap())
        .await
        .unwrap();
    let http = reqwest::Client::new();
    // The sink fails until told otherwise: the first event gets a retry.
    set_sink(&http, &mock.url(), json!({ "errors": [[500, 1.0]] })).await;
    let dir = tempfile::tempdir().unwrap();
    let yaml = format!(
        r#"
store: {{ url: "sqlite://{}/j.db" }}
delivery: {{ poll_interval: 50ms }}
sources:
  github:
    kind: webhook
    verify: {{ preset: none }}
    event: {{ id: "header:X-GitHub-Delivery", type: "header:X-GitHub-Event" }}
    forward_headers: [ X-GitHub-Event, X-GitHub-Hook-ID ]
destinations:
  ci:
    url: "{}/sink/ci"
    retry: {{ attempts: 8, base: 200ms, max: 400ms }}
routes:
  r: {{ from: github, to: [ ci ] }}
"#,
        dir.path().display(),
        mock.url()
    );
    let hub = Served::start(
        &write_config(dir.path(), &yaml),
        &[("JUNCTION_ADMIN_TOKEN", ADMIN)],
    );
    let webhook = |delivery: &str, traceparent: Option<String>| {
        let mut req = http
            .post(format!("{}/webhooks/github", hub.base))
            .header("X-GitHub-Delivery", delivery)
            .header("X-GitHub-Event", "push")
            .header("X-GitHub-Hook-ID", "42")
            .header("X-GitHub-Unlisted", "not forwarded")
            .json(&json!({ "ref": "refs/heads/main" }));
        if let Some(tp) = traceparent {
            req = req.header("traceparent", tp);
        }
        req.send()
    };

    // A webhook in the caller's trace: each attempt is a new span of that same trace.
    let r = webhook(
        "d-traced",
        Some(format!("00-{CALLER_TRACE}-{CALLER_PARENT}-01")),
    )
    .await
    .unwrap();
    assert_eq!(r.status(), 202);
    let event: Value = r.json().await.unwrap();
    let failed = received(&http, &mock, "d-traced", |d| !d.is_empty()).await;
    set_sink(&http, &mock.url(), json!({})).await;
    let attempts = received(&http, &mock, "d-traced", |d| {
        d.iter().any(|a| a["answered"] == 200)
    })
    .await;
    assert_eq!(failed[0]["answered"], 500);
    assert_eq!(attempts.last().unwrap()["answered"], 200);
    let mut parents = Vec::new();
    for a in &attempts {
        let h = &a["headers"];
        let (trace, parent) = ids(h["traceparent"].as_str().unwrap());
        assert_eq!(
            trace, CALLER_TRACE,
            "attempt {}: {h}",
            h["junction-attempt"]
        );
        assert_ne!(parent, CALLER_PARENT, "the caller's span is not Junction's");
        parents.push(parent);
        assert_eq!(h["x-github-event"], "push", "{h}");
        assert_eq!(h["x-github-hook-id"], "42", "{h}");
        assert!(
            h.get("x-github-unlisted").is_none(),
            "only listed headers: {h}"
        );
    }
    parents.dedup();
    assert_eq!(
        parents.len(),
        attempts.len(),
        "each attempt is its own span"
    );

    // The event keeps them: the API and `events show` say so.
    let id = event["event"].as_i64().unwrap();
    let shown: Value = http
        .get(format!("{}/api/v1/events/{id}", hub.base))
        .bearer_auth(ADMIN)
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(
        shown["headers"],
        json!({ "x-github-event": "push", "x-github-hook-id": "42" })
    );
    assert_eq!(ids(shown["traceparent"].as_str().unwrap()).0, CALLER_TRACE);
    let (code, out, err) = against(&hub.base, Some(ADMIN), &["events", "show", &id.to_string()]);
    assert_eq!(code, Some(0), "{err}");
    assert!(out.contains(&format!("trace 00-{CALLER_TRACE}-")), "{out}");
    assert!(out.contains("header x-github-hook-id: 42"), "{out}");

    // A webhook with no trace of its own starts one, and its delivery continues it.
    let r = webhook("d-untraced", None).await.unwrap();
    let id = r.json::<Value>().await.unwrap()["event"].as_i64().unwrap();
    let sent = received(&http, &mock, "d-untraced", |d| !d.is_empty()).await;
    let stored: Value = http
        .get(format!("{}/api/v1/events/{id}", hub.base))
        .bearer_auth(ADMIN)
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let (event_trace, _) = ids(stored["traceparent"].as_str().unwrap());
    let (delivery_trace, _) = ids(sent[0]["headers"]["traceparent"].as_str().unwrap());
    assert_eq!(delivery_trace, event_trace);
    assert_ne!(event_trace, CALLER_TRACE);
    let (code, logs) = hub.terminate();
    assert_eq!(code, Some(0), "{logs}");
}
