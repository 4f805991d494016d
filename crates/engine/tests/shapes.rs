//! Data in one shape on the delivery path: a route's mapping reshapes bodies, a destination's
//! model validates them, and an event that fails either is quarantined — never delivered
//! half-valid, never lost — and replays once the mapping or model is fixed.

mod support;

use std::time::Duration;

use serde_json::{json, Value};
use support::*;

on_both!(an_invalid_event_is_quarantined_never_delivered_and_replays_once_fixed);

const CONFIG: &str = r#"
sources:
  crm:
    kind: webhook
    verify: { preset: standard_webhooks, secrets: [ env:WHSEC ] }
models:
  customer@1:
    schema:
      type: object
      required: [id, email]
      additionalProperties: false
      properties:
        id: { type: string }
        email: { type: string, format: email }
        created_at: { type: [string, "null"], format: date-time }
mappings:
  to_customer:
    to: customer@1
    jq: '.data | {id, email: (.email | ascii_downcase), created_at: (.created | iso8601)}'
destinations:
  customers:
    url: "{sink}/customers"
    model: customer@1
    retry: { attempts: 3, base: 20ms, max: 50ms }
routes:
  r:
    from: crm
    map: to_customer
    to: [ customers ]
"#;

/// The fixed release: numbers are turned into text, and a missing email is a placeholder.
const FIXED: &str = "'.data | {id, email: (.email // \"unknown@example.com\" | tostring | ascii_downcase | if test(\"@\") then . else . + \"@example.com\" end), created_at: (.created | iso8601)}'";

async fn post(hub: &Hub, id: &str, data: Value) -> u16 {
    let body = json!({ "type": "customer.updated", "data": data }).to_string();
    post_signed(hub, "/webhooks/crm", id, &body, WHSEC, 0)
        .await
        .status()
        .as_u16()
}

fn sunk(mock: &junction_mock::Mock) -> Vec<Value> {
    received(mock)
        .iter()
        .filter(|d| d.path == "/sink/customers")
        .map(|d| serde_json::from_str(&d.body).unwrap())
        .collect()
}

async fn quarantined(hub: &Hub) -> Vec<Value> {
    hub.get("/api/v1/quarantine").await["items"]
        .as_array()
        .unwrap()
        .clone()
}

async fn an_invalid_event_is_quarantined_never_delivered_and_replays_once_fixed(url: String) {
    let mock = mock().await;
    let hub = Hub::start(CONFIG, &url, &mock).await;
    assert_eq!(
        post(
            &hub,
            "ev_good",
            json!({"id": "c1", "email": "A@B.COM", "created": 0})
        )
        .await,
        202
    );
    // The mapping fails: ascii_downcase of a number.
    assert_eq!(
        post(&hub, "ev_number", json!({"id": "c2", "email": 42})).await,
        202
    );
    // The mapping runs, but its output breaks customer@1 (not an email address).
    assert_eq!(
        post(&hub, "ev_bad_email", json!({"id": "c3", "email": "nobody"})).await,
        202
    );
    all_settled(&hub, Duration::from_secs(10)).await;

    let bodies = sunk(&mock);
    assert_eq!(
        bodies,
        vec![json!({"id": "c1", "email": "a@b.com", "created_at": "1970-01-01T00:00:00Z"})],
        "only the valid event is delivered, in the mapped shape"
    );
    let q = quarantined(&hub).await;
    assert_eq!(q.len(), 2, "{q:#?}");
    let reason = |id: &str| {
        q.iter()
            .find(|d| d["event_id"] == id)
            .and_then(|d| d["dead_reason"].as_str())
            .unwrap_or_default()
            .to_owned()
    };
    assert!(
        reason("ev_number").contains("mapping `to_customer`"),
        "{q:#?}"
    );
    assert!(
        reason("ev_bad_email").contains("breaks customer@1"),
        "{q:#?}"
    );
    assert!(reason("ev_bad_email").contains("email"), "{q:#?}");
    assert!(q.iter().all(|d| d["state"] == "quarantined"));
    // Quarantined is not dead: the dead-letter queue stays empty.
    let dead = hub.get("/api/v1/dead-letters").await;
    assert_eq!(dead["items"].as_array().unwrap().len(), 0, "{dead}");
    let m = hub.metrics().await;
    assert!(
        m.contains(
            "junction_quarantined_total{destination=\"customers\",route=\"r\",kind=\"program\"} 1"
        ),
        "{m}"
    );
    assert!(m.contains("kind=\"validation\"} 1"), "{m}");
    hub.stop().await;

    // The mapping is fixed and the hub restarted: replaying delivers both.
    let fixed = CONFIG.replace(
        "'.data | {id, email: (.email | ascii_downcase), created_at: (.created | iso8601)}'",
        FIXED,
    );
    let hub = Hub::start(&fixed, &url, &mock).await;
    let (status, body) = hub.post("/api/v1/quarantine/replay", json!({})).await;
    assert_eq!(
        (status, body["replayed"].as_u64()),
        (200, Some(2)),
        "{body}"
    );
    all_settled(&hub, Duration::from_secs(10)).await;
    let bodies = sunk(&mock);
    assert_eq!(bodies.len(), 3, "{bodies:#?}");
    assert!(bodies.contains(&json!({"id": "c2", "email": "42@example.com", "created_at": null})));
    assert!(
        bodies.contains(&json!({"id": "c3", "email": "nobody@example.com", "created_at": null}))
    );
    assert!(quarantined(&hub).await.is_empty());
    hub.stop().await;
}

/// Events of one source and type teach their shape; a later event that renames a field and
/// retypes another is recorded as drift and shown at /api/v1/drift.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn source_events_that_drift_from_their_learned_shape_are_recorded() {
    let Some((_g, url)) = DbGuard::new(Db::Sqlite).await else {
        return;
    };
    let mock = mock().await;
    let hub = Hub::start(CONFIG, &url, &mock).await;
    for i in 0..junction_transform::drift::LEARN {
        let data = json!({"id": format!("c{i}"), "email": "a@b.com", "created": 0});
        assert_eq!(post(&hub, &format!("ev_learn_{i}"), data).await, 202);
    }
    let drifted = json!({"id": "c99", "email_address": "a@b.com", "created": "1970-01-01"});
    assert_eq!(post(&hub, "ev_drifted", drifted).await, 202);
    let mut items = Vec::new();
    for _ in 0..100 {
        items = hub.get("/api/v1/drift").await["items"]
            .as_array()
            .unwrap()
            .clone();
        if items.len() >= 3 {
            break;
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    let found = |path: &str, kind: &str| {
        items.iter().any(|r| {
            r["subject"] == "crm/customer.updated" && r["path"] == path && r["kind"] == kind
        })
    };
    assert!(found("data.email", "missing_field"), "{items:#?}");
    assert!(found("data.email_address", "new_field"), "{items:#?}");
    assert!(found("data.created", "type_changed"), "{items:#?}");
    let m = hub.metrics().await;
    assert!(
        m.contains("junction_schema_drift_total{scope=\"source\",kind=\"new_field\"} 1"),
        "{m}"
    );
    hub.stop().await;
}

const FORMATS: &str = r#"
sources:
  sms:
    kind: webhook
    format: form
    verify: { preset: none }
    event: { id: .MessageSid, type: '"sms.received"', key: .From }
  erp:
    kind: webhook
    format: xml
    verify: { preset: none }
    event: { id: '.order["@id"]', type: '"order.created"' }
mappings:
  sms_to_message:
    jq: '{sid: .MessageSid, from: .From, text: .Body}'
destinations:
  messages: { url: "{sink}/messages" }
  orders: { url: "{sink}/orders" }
routes:
  texts: { from: sms, map: sms_to_message, to: [ messages ] }
  orders: { from: erp, to: [ orders ] }
"#;

/// A form-encoded webhook (as Twilio sends) and an XML one are verified, decoded to JSON for
/// extraction and mapping, and delivered as JSON; a body that cannot be decoded is a 400.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn form_and_xml_webhooks_are_decoded_mapped_and_delivered_as_json() {
    let Some((_g, url)) = DbGuard::new(Db::Sqlite).await else {
        return;
    };
    let mock = mock().await;
    let hub = Hub::start(FORMATS, &url, &mock).await;
    let http = reqwest::Client::new();
    let send = |path: &str, ct: &str, body: &str| {
        http.post(hub.url(path))
            .header("content-type", ct)
            .body(body.to_owned())
            .send()
    };
    let r = send(
        "/webhooks/sms",
        "application/x-www-form-urlencoded",
        "MessageSid=SM1&From=%2B15550001&Body=hello+there",
    )
    .await
    .unwrap();
    assert_eq!(r.status(), 202);
    let r = send(
        "/webhooks/erp",
        "application/xml",
        r#"<order id="o1"><total currency="EUR">12.50</total><line>a</line><line>b</line></order>"#,
    )
    .await
    .unwrap();
    assert_eq!(r.status(), 202, "{:?}", r.text().await);
    let r = send(
        "/webhooks/erp",
        "application/xml",
        "<!DOCTYPE x [<!ENTITY a \"b\">]><order/>",
    )
    .await
    .unwrap();
    assert_eq!(r.status(), 400);
    assert!(r.text().await.unwrap().contains("DTD"));
    all_settled(&hub, Duration::from_secs(10)).await;
    let body = |path: &str| -> Value {
        received(&mock)
            .iter()
            .find(|d| d.path == path)
            .map(|d| serde_json::from_str(&d.body).unwrap())
            .unwrap_or(Value::Null)
    };
    assert_eq!(
        body("/sink/messages"),
        json!({"sid": "SM1", "from": "+15550001", "text": "hello there"})
    );
    assert_eq!(
        body("/sink/orders"),
        json!({"order": {"@id": "o1", "total": {"@currency": "EUR", "#text": "12.50"}, "line": ["a", "b"]}})
    );
    hub.stop().await;
}

/// A destination whose circuit opens at the first failure and gives up on a delivery at once.
const PROBED: &str = r#"
sources:
  crm:
    kind: webhook
    verify: { preset: standard_webhooks, secrets: [ env:WHSEC ] }
models:
  customer@1:
    schema:
      type: object
      required: [id, email]
      properties: { id: { type: string }, email: { type: string, format: email } }
mappings:
  to_customer:
    to: customer@1
    jq: '.data | {id, email}'
destinations:
  customers:
    url: "{sink}/customers"
    model: customer@1
    retry: { attempts: 1 }
    circuit: { failures: 1, open_for: 300ms }
routes:
  r: { from: crm, map: to_customer, to: [ customers ] }
"#;

/// The circuit's probe is whatever delivery comes due first; when that one is quarantined
/// (nothing was sent, so nothing was learned about the destination), the probe's slot is freed
/// and the next delivery probes instead of the destination waiting for a verdict that never
/// comes.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_quarantined_probe_does_not_leave_the_destinations_circuit_half_open() {
    let Some((_g, url)) = DbGuard::new(Db::Sqlite).await else {
        return;
    };
    let mock = mock().await;
    let hub = Hub::start(PROBED, &url, &mock).await;
    set_sink(&mock, json!({ "errors": [[503, 1.0]] })).await;
    let ok = json!({"id": "c1", "email": "a@b.com"});
    assert_eq!(post(&hub, "ev_fails", ok).await, 202);
    wait_for_async(
        Duration::from_secs(10),
        "the failed delivery to be dead",
        || async {
            hub.get("/api/v1/dead-letters").await["items"]
                .as_array()
                .is_some_and(|a| a.len() == 1)
        },
    )
    .await;
    set_sink(&mock, json!({})).await;
    // The circuit is open; once open_for passes, this delivery is the probe, and it is
    // quarantined before anything is sent (no email: it breaks customer@1).
    assert_eq!(post(&hub, "ev_probe", json!({"id": "c2"})).await, 202);
    wait_for_async(
        Duration::from_secs(10),
        "the probe to be quarantined",
        || async { quarantined(&hub).await.len() == 1 },
    )
    .await;
    let after = json!({"id": "c3", "email": "c@d.com"});
    assert_eq!(post(&hub, "ev_after", after).await, 202);
    wait_for(
        Duration::from_secs(10),
        "the next delivery to go out",
        || sunk(&mock).iter().any(|b| b["id"] == "c3"),
    )
    .await;
    let dests = hub.get("/api/v1/destinations").await;
    assert_eq!(dests["items"][0]["circuit"], "closed", "{dests}");
    hub.stop().await;
}
