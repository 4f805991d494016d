//! Webhooks in, events out, over real HTTP on both stores: every guarantee of the inbound path.

mod support;

use std::collections::HashMap;
use std::time::Duration;

use serde_json::json;
use support::*;

const CONFIG: &str = r#"
sources:
  crm:
    kind: webhook
    verify: { preset: standard_webhooks, secrets: [ env:WHSEC ] }
    event: { key: .data.object.id, sequence: .sequence }
destinations:
  billing:
    url: "{sink}/billing"
    signing: { secrets: [ env:SIGNING ] }
    retry: { attempts: 3, base: 50ms, max: 200ms }
    circuit: { failures: 1000, probe_after: 100ms }
  audit:
    url: "{sink}/audit"
    retry: { attempts: 3, base: 50ms, max: 200ms }
    circuit: { failures: 1000, probe_after: 100ms }
routes:
  to-billing:
    from: crm
    types: [ "customer.*" ]
    to: [ billing ]
  everything-to-audit:
    from: crm
    where: .sequence > 0
    to: [ audit ]
"#;

on_both!(
    committed_events_are_delivered_to_every_matched_destination,
    duplicate_event_is_answered_2xx_and_creates_no_deliveries,
    bad_signature_is_401_and_stores_nothing,
    every_attempt_of_a_delivery_carries_the_same_idempotency_key,
    dead_letters_are_replayed_and_delivered,
    a_destination_header_reference_is_resolved_never_sent_as_written,
);

async fn committed_events_are_delivered_to_every_matched_destination(url: String) {
    let mock = mock().await;
    let hub = Hub::start(CONFIG, &url, &mock).await;
    emit(&mock, stream(hub.url("/webhooks/crm"), 50)).await;
    wait_for(Duration::from_secs(20), "100 deliveries", || {
        received(&mock).iter().filter(|d| d.answered == 200).count() >= 100
    })
    .await;
    let got = received(&mock);
    let billing: Vec<_> = got.iter().filter(|d| d.path == "/sink/billing").collect();
    let audit: Vec<_> = got.iter().filter(|d| d.path == "/sink/audit").collect();
    assert_eq!((billing.len(), audit.len()), (50, 50));
    // Deliveries are signed under the destination's key (Standard Webhooks), verifiable by anyone.
    let d = billing[0];
    let sig = junction_auth::sign::standard_signature(
        &[junction_config::standard_key(SIGNING).unwrap()],
        &d.headers["webhook-id"],
        d.headers["webhook-timestamp"].parse().unwrap(),
        d.body.as_bytes(),
    );
    assert_eq!(d.headers["webhook-signature"], sig);
    assert!(
        !audit[0].headers.contains_key("webhook-signature"),
        "unsigned destination"
    );
    assert_eq!(d.headers["junction-event-type"], "customer.updated");
    let sent = mock.state.sent.snapshot().1;
    assert!(
        sent.iter().all(|s| s.status == 202),
        "every event was answered 202"
    );
    hub.stop().await;
}

async fn duplicate_event_is_answered_2xx_and_creates_no_deliveries(url: String) {
    let mock = mock().await;
    let hub = Hub::start(CONFIG, &url, &mock).await;
    let mut req = stream(hub.url("/webhooks/crm"), 40);
    req.duplicates = 0.5;
    req.concurrency = 8;
    emit(&mock, req).await;
    let sent = mock.state.sent.snapshot().1;
    assert!(sent.len() > 50, "duplicates were sent: {}", sent.len());
    assert!(sent.iter().all(|s| (200..300).contains(&s.status)));
    assert!(
        sent.iter().any(|s| s.status == 200),
        "duplicates answer 200"
    );
    wait_for(Duration::from_secs(20), "80 deliveries", || {
        received(&mock).len() >= 80
    })
    .await;
    tokio::time::sleep(Duration::from_millis(300)).await;
    assert_eq!(
        received(&mock).len(),
        80,
        "one delivery per event and destination"
    );
    // A duplicate answers with the first copy's event and `duplicate: true`.
    let body =
        r#"{"id":"evt_dup","type":"customer.updated","sequence":1,"data":{"object":{"id":"c"}}}"#;
    let post = || async {
        let res = post_signed(&hub, "/webhooks/crm", "evt_dup", body, WHSEC, 0).await;
        (
            res.status().as_u16(),
            res.json::<serde_json::Value>().await.unwrap(),
        )
    };
    let (s1, first) = post().await;
    let (s2, second) = post().await;
    assert_eq!((s1, first["duplicate"].as_bool()), (202, Some(false)));
    assert_eq!((s2, second["duplicate"].as_bool()), (200, Some(true)));
    assert_eq!(first["event"], second["event"]);
    assert_eq!(second["deliveries"], 0);
    hub.stop().await;
}

async fn bad_signature_is_401_and_stores_nothing(url: String) {
    let mock = mock().await;
    let hub = Hub::start(CONFIG, &url, &mock).await;
    let c = reqwest::Client::new();
    let body = r#"{"id":"evt_1","type":"customer.updated","sequence":1}"#;
    let ts = junction_core::time::now_ms() / 1000;
    let mut headers = junction_mock::sign(
        &junction_mock::Scheme::StandardWebhooks,
        "whsec_d3Jvbmcta2V5",
        "evt_1",
        ts,
        body.as_bytes(),
    )
    .unwrap();
    let send = |headers: Vec<(String, String)>, body: &'static str, path: &'static str| {
        let mut r = c.post(hub.url(path)).body(body);
        for (k, v) in headers {
            r = r.header(k, v);
        }
        async move {
            let res = r.send().await.unwrap();
            (
                res.status().as_u16(),
                res.json::<serde_json::Value>().await.unwrap_or_default(),
            )
        }
    };
    let (status, body_json) = send(headers.clone(), body, "/webhooks/crm").await;
    assert_eq!(status, 401);
    assert_eq!(body_json["error"]["code"], "unauthorized");
    assert!(body_json["error"]["message"]
        .as_str()
        .unwrap()
        .contains("bad_signature"));
    // Old timestamp: outside the window even with the right key.
    headers = junction_mock::sign(
        &junction_mock::Scheme::StandardWebhooks,
        WHSEC,
        "evt_1",
        ts - 3600,
        body.as_bytes(),
    )
    .unwrap();
    let (status, body_json) = send(headers, body, "/webhooks/crm").await;
    assert_eq!(status, 401);
    assert!(body_json["error"]["message"]
        .as_str()
        .unwrap()
        .contains("timestamp_outside_window"));
    let (status, _) = send(vec![], body, "/webhooks/crm").await;
    assert_eq!(status, 401, "missing signature");
    let (status, body_json) = send(vec![], body, "/webhooks/nope").await;
    assert_eq!(
        (status, body_json["error"]["code"].as_str()),
        (404, Some("not_found"))
    );
    // Malformed JSON with a valid signature: 400.
    let bad = "{not json";
    let headers = junction_mock::sign(
        &junction_mock::Scheme::StandardWebhooks,
        WHSEC,
        "evt_2",
        ts,
        bad.as_bytes(),
    )
    .unwrap();
    let (status, body_json) = send(headers, bad, "/webhooks/crm").await;
    assert_eq!(
        (status, body_json["error"]["code"].as_str()),
        (400, Some("bad_request"))
    );
    // A signed body nested 100,000 deep: refused, and the process is still serving.
    let deep = "[".repeat(100_000) + &"]".repeat(100_000);
    let res = post_signed(&hub, "/webhooks/crm", "evt_deep", &deep, WHSEC, 0).await;
    assert_eq!(res.status(), 400);
    let e: serde_json::Value = res.json().await.unwrap();
    assert!(
        e["error"]["message"]
            .as_str()
            .unwrap()
            .contains("nested deeper"),
        "{e}"
    );
    assert_eq!(
        hub.store().queue_stats(0).await.unwrap().pending,
        0,
        "nothing was stored"
    );
    let metrics = hub.metrics().await;
    assert!(
        metrics
            .contains("junction_webhooks_rejected_total{source=\"crm\",reason=\"bad_signature\"}"),
        "{metrics}"
    );
    hub.stop().await;
}

async fn every_attempt_of_a_delivery_carries_the_same_idempotency_key(url: String) {
    let mock = mock().await;
    // Half the sink's answers fail: deliveries are retried.
    set_sink(&mock, json!({ "seed": 3, "errors": [[503, 0.5]] })).await;
    let hub = Hub::start(CONFIG, &url, &mock).await;
    emit(&mock, stream(hub.url("/webhooks/crm"), 30)).await;
    all_settled(&hub, Duration::from_secs(30)).await;
    let mut keys: HashMap<String, std::collections::BTreeSet<String>> = HashMap::new();
    for d in received(&mock).iter().filter(|d| d.path == "/sink/billing") {
        keys.entry(d.headers["junction-event-id"].clone())
            .or_default()
            .insert(d.idempotency_key.clone().unwrap());
        // Each attempt carries trace context, so the receiver's spans join a trace.
        let tp = d.headers.get("traceparent").map(String::as_str);
        assert!(
            tp.and_then(junction_telemetry::TraceParent::parse)
                .is_some(),
            "{tp:?}"
        );
    }
    assert!(received(&mock).len() > 40, "there were retries");
    for (event, k) in keys {
        assert_eq!(k.len(), 1, "event {event} carried keys {k:?}");
    }
    hub.stop().await;
}

async fn dead_letters_are_replayed_and_delivered(url: String) {
    let mock = mock().await;
    set_sink(&mock, json!({ "errors": [[500, 1.0]] })).await;
    let hub = Hub::start(CONFIG, &url, &mock).await;
    emit(&mock, stream(hub.url("/webhooks/crm"), 5)).await;
    let store = hub.store().clone();
    wait_for_async(Duration::from_secs(20), "5 billing dead letters", || {
        let store = store.clone();
        async move {
            let f = junction_store::DeadFilter {
                destination: Some("billing".into()),
                ..Default::default()
            };
            store.dead_letters(&f, 0, 100).await.unwrap().len() == 5
        }
    })
    .await;
    let list = hub.get("/api/v1/dead-letters?destination=billing").await;
    let items = list["items"].as_array().unwrap();
    assert_eq!(items.len(), 5);
    assert!(
        items[0]["dead_reason"]
            .as_str()
            .unwrap()
            .contains("gave up after 3 attempts"),
        "{}",
        items[0]
    );
    assert_eq!(items[0]["last_status"], 500);
    let id = items[0]["id"].as_i64().unwrap();
    let detail = hub.get(&format!("/api/v1/deliveries/{id}")).await;
    assert_eq!(detail["history"].as_array().unwrap().len(), 3);
    set_sink(&mock, json!({})).await;
    let (status, one) = hub
        .post(&format!("/api/v1/deliveries/{id}/replay"), json!({}))
        .await;
    assert_eq!((status, &one["replayed"]), (200, &json!(true)));
    let (status, again) = hub
        .post(&format!("/api/v1/deliveries/{id}/replay"), json!({}))
        .await;
    assert_eq!(
        (status, again["error"]["code"].as_str()),
        (409, Some("conflict"))
    );
    let (status, bulk) = hub
        .post(
            "/api/v1/dead-letters/replay",
            json!({ "destination": "billing" }),
        )
        .await;
    assert_eq!((status, bulk["replayed"].as_u64()), (200, Some(4)));
    wait_for(
        Duration::from_secs(20),
        "replayed deliveries to arrive",
        || {
            received(&mock)
                .iter()
                .filter(|d| d.path == "/sink/billing" && d.answered == 200)
                .count()
                == 5
        },
    )
    .await;
    hub.stop().await;
}

/// A `where` that cannot run on an event (here: adding 1 to a string) does not match it; the
/// event is stored and goes where the other routes send it.
/// Junction protects itself and its database: webhooks over a source's `rate_limits` are
/// answered 429 with `Retry-After` before their signature is checked or anything is stored; the
/// other sources keep the default limit.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_source_over_its_rate_limit_is_answered_429_before_anything_is_verified_or_stored() {
    let Some((_g, url)) = DbGuard::new(Db::Sqlite).await else {
        return;
    };
    let mock = mock().await;
    let yaml = r#"
server:
  rate_limits: { per_source: [ 100/s ] }
sources:
  crm:
    kind: webhook
    verify: { preset: standard_webhooks, secrets: [ env:WHSEC ] }
    rate_limits: [ 3/min ]
  erp:
    kind: webhook
    verify: { preset: standard_webhooks, secrets: [ env:WHSEC ] }
destinations:
  a: { url: "{sink}/a" }
routes:
  all: { from: crm, to: [ a ] }
  erp: { from: erp, to: [ a ] }
"#;
    let hub = Hub::start(yaml, &url, &mock).await;
    let body = |i: usize| format!(r#"{{"id":"evt_{i}","type":"customer.updated"}}"#);
    for i in 0..3 {
        let res = post_signed(
            &hub,
            "/webhooks/crm",
            &format!("evt_{i}"),
            &body(i),
            WHSEC,
            0,
        )
        .await;
        assert_eq!(res.status(), 202, "{i}");
    }
    let res = post_signed(&hub, "/webhooks/crm", "evt_3", &body(3), WHSEC, 0).await;
    assert_eq!(res.status(), 429);
    let wait: u64 = res.headers()["retry-after"]
        .to_str()
        .unwrap()
        .parse()
        .unwrap();
    assert!((1..=61).contains(&wait), "{wait}");
    let err: serde_json::Value = res.json().await.unwrap();
    assert_eq!(err["error"]["code"], "rate_limited", "{err}");
    // Refused before verification: a forged request is refused the same way, not with 401.
    let forged = reqwest::Client::new()
        .post(hub.url("/webhooks/crm"))
        .body("{}")
        .send()
        .await
        .unwrap();
    assert_eq!(forged.status(), 429);
    let res = post_signed(&hub, "/webhooks/erp", "evt_e", &body(9), WHSEC, 0).await;
    assert_eq!(res.status(), 202, "another source keeps its own limit");
    all_settled(&hub, Duration::from_secs(10)).await;
    assert_eq!(
        received(&mock).len(),
        4,
        "only the accepted events were stored"
    );
    assert!(hub
        .metrics()
        .await
        .contains(r#"junction_webhooks_rejected_total{source="crm",reason="rate_limited"} 2"#));
    hub.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_failing_route_filter_skips_the_route_and_keeps_the_event() {
    let Some((_g, url)) = DbGuard::new(Db::Sqlite).await else {
        return;
    };
    let mock = mock().await;
    let yaml = r#"
sources:
  crm:
    kind: webhook
    verify: { preset: standard_webhooks, secrets: [ env:WHSEC ] }
destinations:
  a: { url: "{sink}/a" }
  b: { url: "{sink}/b" }
routes:
  picky: { from: crm, where: ".n + 1 > 0", to: [ a ] }
  all: { from: crm, to: [ b ] }
"#;
    let hub = Hub::start(yaml, &url, &mock).await;
    let body = r#"{"type":"t","n":"not a number"}"#;
    let res = post_signed(&hub, "/webhooks/crm", "evt_f", body, WHSEC, 0).await;
    assert_eq!(res.status(), 202);
    let v: serde_json::Value = res.json().await.unwrap();
    assert_eq!(
        v["deliveries"], 1,
        "only the route without the failing filter: {v}"
    );
    wait_for(Duration::from_secs(10), "the delivery to b", || {
        received(&mock).iter().any(|d| d.path == "/sink/b")
    })
    .await;
    let metrics = hub.metrics().await;
    assert!(
        metrics.contains("junction_route_filter_errors_total{route=\"picky\"} 1"),
        "{metrics}"
    );
    hub.stop().await;
}

async fn a_destination_header_reference_is_resolved_never_sent_as_written(url: String) {
    let mock = mock().await;
    let config = r#"
sources:
  crm:
    kind: webhook
    verify: { preset: standard_webhooks, secrets: [ env:WHSEC ] }
destinations:
  partner:
    url: "{sink}/partner"
    headers: { Authorization: "env:SHARED", X-Plain: "as written" }
routes:
  r:
    from: crm
    to: [ partner ]
"#;
    let hub = Hub::start(config, &url, &mock).await;
    emit(&mock, stream(hub.url("/webhooks/crm"), 1)).await;
    wait_for(Duration::from_secs(20), "the delivery", || {
        received(&mock).iter().any(|d| d.answered == 200)
    })
    .await;
    let d = &received(&mock)[0];
    assert_eq!(d.headers["authorization"], "shared-secret");
    assert_eq!(d.headers["x-plain"], "as written");
    hub.stop().await;
}
