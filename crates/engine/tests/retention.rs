//! Retention of dead letters and quarantined deliveries: past its destination's retention a
//! dead letter is discarded (its `fifo` key flows again), one kept forever (`0s`) stays.

mod support;

use std::time::Duration;

use junction_store::{DeadFilter, DeliveryState};
use serde_json::json;
use support::*;

const CONFIG: &str = r#"
sources:
  crm:
    kind: webhook
    verify: { preset: none }
    event: { id: .id, key: .key, sequence: .seq }
destinations:
  billing:
    url: "{sink}/billing"
    retry: { attempts: 1 }
    dead_letter_retention: 1d
  ledger:
    url: "{sink}/ledger"
    retry: { attempts: 1 }
delivery: { poll_interval: 50ms, dead_letter_retention: 0s }
routes:
  r: { from: crm, ordering: fifo, to: [ billing, ledger ] }
"#;

on_both!(
    a_dead_letter_past_its_retention_is_discarded_and_its_fifo_key_flows_again,
    delivered_events_are_deleted_after_their_sources_retention,
    audit_entries_past_their_retention_move_to_the_archive_and_the_chain_still_verifies,
);

const PER_SOURCE: &str = r#"
sources:
  crm: { kind: webhook, verify: { preset: none }, event: { id: .id } }
  shop: { kind: webhook, verify: { preset: none }, event: { id: .id }, retention: 0s }
  erp: { kind: webhook, verify: { preset: none }, event: { id: .id }, retention: 3d }
destinations:
  sink: { url: "{sink}/all" }
delivery: { poll_interval: 50ms, retention: 1d }
routes:
  a: { from: crm, to: [ sink ] }
  b: { from: shop, to: [ sink ] }
  c: { from: erp, to: [ sink ] }
"#;

async fn delivered_events_are_deleted_after_their_sources_retention(url: String) {
    let mock = mock().await;
    let hub = Hub::start(PER_SOURCE, &url, &mock).await;
    let kept = hub.get("/api/v1/retention").await;
    let erp = kept["items"]
        .as_array()
        .unwrap()
        .iter()
        .find(|i| i["source"] == "erp")
        .unwrap_or_else(|| panic!("{kept}"));
    assert_eq!(
        (&erp["seconds"], &erp["setting"]),
        (&json!(3 * 86_400), &json!("sources.erp.retention"))
    );
    for source in ["crm", "shop", "erp"] {
        let (status, _) = hub
            .post(
                &format!("/webhooks/{source}"),
                json!({ "id": format!("{source}-1") }),
            )
            .await;
        assert_eq!(status, 202);
    }
    all_settled(&hub, Duration::from_secs(15)).await;
    let left = || async {
        let mut ids: Vec<String> = hub
            .store()
            .events(&junction_store::EventFilter::default(), 10)
            .await
            .unwrap()
            .into_iter()
            .map(|e| e.external_id)
            .collect();
        ids.sort();
        ids
    };
    let now = junction_core::time::now_ms();
    let purge =
        |days: i64| junction_engine::maintain::purge_delivered(&hub.state, now + days * 86_400_000);
    assert_eq!(purge(0).await, 0);
    assert_eq!(
        purge(2).await,
        1,
        "crm's events go after delivery.retention"
    );
    assert_eq!(left().await, ["erp-1", "shop-1"]);
    assert_eq!(purge(4).await, 1, "erp's after its own 3d");
    assert_eq!(left().await, ["shop-1"], "shop keeps them (0s)");
    hub.stop().await;
}

async fn dead(hub: &Hub, destination: &str) -> usize {
    let filter = DeadFilter {
        destination: Some(destination.into()),
        ..Default::default()
    };
    hub.store()
        .dead_letters(&filter, 0, 100)
        .await
        .unwrap()
        .len()
}

async fn a_dead_letter_past_its_retention_is_discarded_and_its_fifo_key_flows_again(url: String) {
    let mock = mock().await;
    set_sink(&mock, json!({ "errors": [[500, 1.0]] })).await;
    let hub = Hub::start(CONFIG, &url, &mock).await;
    // The admin API says what is kept, for how long, and which setting says so.
    let kept = hub.get("/api/v1/retention").await;
    let item = |what: &str, dest: &str| {
        kept["items"]
            .as_array()
            .unwrap()
            .iter()
            .find(|i| i["what"] == what && i["destination"] == dest)
            .cloned()
            .unwrap_or_else(|| panic!("{what} of {dest}: {kept}"))
    };
    let billing = item("dead letters", "billing");
    assert_eq!(
        (&billing["seconds"], &billing["setting"]),
        (
            &json!(86_400),
            &json!("destinations.billing.dead_letter_retention")
        )
    );
    let ledger = item("dead letters", "ledger");
    assert_eq!(
        (&ledger["seconds"], &ledger["kept"], &ledger["setting"]),
        (
            &json!(null),
            &json!("until replayed or discarded"),
            &json!("delivery.dead_letter_retention")
        )
    );
    assert_eq!(
        item("quarantined deliveries", "billing")["seconds"],
        90 * 86_400
    );
    let (status, _) = hub
        .post(
            "/webhooks/crm",
            json!({ "id": "e1", "key": "cus_1", "seq": 1 }),
        )
        .await;
    assert_eq!(status, 202);
    wait_for_async(Duration::from_secs(15), "both dead letters", || async {
        dead(&hub, "billing").await == 1 && dead(&hub, "ledger").await == 1
    })
    .await;
    set_sink(&mock, json!({})).await;
    let (status, _) = hub
        .post(
            "/webhooks/crm",
            json!({ "id": "e2", "key": "cus_1", "seq": 2 }),
        )
        .await;
    assert_eq!(status, 202);
    // The dead head blocks its key.
    tokio::time::sleep(Duration::from_millis(500)).await;
    assert!(received(&mock).iter().all(|d| d.answered != 200));

    let now = junction_core::time::now_ms();
    assert_eq!(
        junction_engine::maintain::expire_parked(&hub.state, now).await,
        0,
        "nothing is a day old yet"
    );
    let later = now + 2 * 86_400_000;
    assert_eq!(
        junction_engine::maintain::expire_parked(&hub.state, later).await,
        1,
        "billing's dead letter expires; ledger keeps its own (0s: until an operator acts)"
    );
    assert_eq!(dead(&hub, "billing").await, 0);
    assert_eq!(dead(&hub, "ledger").await, 1);
    let expired = hub
        .store()
        .deliveries(
            &junction_store::DeliveryFilter {
                state: Some(DeliveryState::Discarded),
                ..Default::default()
            },
            10,
        )
        .await
        .unwrap();
    assert_eq!(expired.len(), 1);
    let reason = expired[0].dead_reason.as_deref().unwrap_or_default();
    assert!(
        reason.starts_with("expired: kept 1day (dead_letter_retention)"),
        "{reason}"
    );
    // billing's key flows again: the next event of cus_1 arrives.
    wait_for(Duration::from_secs(10), "e2 at billing", || {
        received(&mock)
            .iter()
            .any(|d| d.answered == 200 && d.path.ends_with("/billing"))
    })
    .await;
    hub.stop().await;
}

async fn audit_entries_past_their_retention_move_to_the_archive_and_the_chain_still_verifies(
    url: String,
) {
    use junction_store::audit_archive;
    use junction_store::ops::{verify_audit_anchored, verify_audit_from, ChainBreak, Verifier};

    let dir = tempfile::tempdir().unwrap();
    let archive = dir.path().join("audit-archive");
    let yaml = format!(
        "server: {{ audit: {{ retention: 30d, archive: \"{}\" }} }}\n",
        archive.display()
    );
    let hub = Hub::start_raw(&yaml, &url).await;
    let store = hub.state.store.clone();
    let now = junction_core::time::now_ms();
    let day = 86_400_000;
    let mut hashes = Vec::new();
    for i in 0..25 {
        let at = if i < 20 { now - 100 * day + i } else { now };
        let rec = store
            .append_audit(junction_store::NewAudit {
                at,
                actor: "token:ops".into(),
                action: "POST /api/v1/replay".into(),
                target: format!("delivery:{i}"),
                origin: "127.0.0.1".into(),
                detail: "{}".into(),
            })
            .await
            .unwrap();
        hashes.push(rec.hash);
    }
    let anchor = |seq: i64| -> junction_store::ops::Anchor {
        format!("{seq}:{}", hashes[seq as usize - 1])
            .parse()
            .unwrap()
    };

    // The 20 old entries go to files and out of the database; the 5 recent stay. (The hub's
    // own maintenance may have archived some while they were appended.)
    junction_engine::maintain::archive_audit(&hub.state, now).await;
    assert_eq!(
        junction_engine::maintain::archive_audit(&hub.state, now).await,
        0,
        "done once"
    );
    let files = audit_archive::files(&archive).unwrap();
    assert!(!files.is_empty());
    let last = files
        .last()
        .unwrap()
        .file_name()
        .unwrap()
        .to_str()
        .unwrap()
        .to_owned();
    assert!(last.ends_with("-000000000020.jsonl"), "{files:?}");
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        let mode = |p: &std::path::Path| std::fs::metadata(p).unwrap().permissions().mode() & 0o777;
        assert!(files.iter().all(|f| mode(f) == 0o600));
        assert_eq!(mode(&archive), 0o700);
    }
    let kept = store.audit_after(0, 100).await.unwrap();
    assert_eq!(kept.first().map(|r| r.seq), Some(21));
    assert_eq!(kept.len(), 5);
    assert_eq!(
        store.audit_start().await.unwrap(),
        Some((20, hashes[19].clone()))
    );

    // The database alone verifies from where it starts; with the archive, from entry 1.
    assert_eq!(
        verify_audit_anchored(store.as_ref(), Some(anchor(23)), false)
            .await
            .unwrap(),
        Ok(5)
    );
    assert_eq!(
        verify_audit_anchored(store.as_ref(), Some(anchor(7)), false)
            .await
            .unwrap(),
        Err(ChainBreak::AnchorArchived { seq: 7 })
    );
    let walked = audit_archive::walk(&archive, Verifier::anchored(Some(anchor(7))))
        .unwrap()
        .unwrap();
    assert_eq!(
        verify_audit_from(store.as_ref(), walked).await.unwrap(),
        Ok(25)
    );

    // New entries chain on; a later pass archives nothing recent.
    let next = store
        .append_audit(junction_store::NewAudit {
            at: now,
            actor: "token:ops".into(),
            action: "POST /api/v1/replay".into(),
            target: "delivery:25".into(),
            origin: "127.0.0.1".into(),
            detail: "{}".into(),
        })
        .await
        .unwrap();
    assert_eq!(
        (next.seq, next.prev_hash.as_str()),
        (26, hashes[24].as_str())
    );

    // A changed archived entry, or a missing archive file, is caught.
    let holding = files
        .iter()
        .find(|f| std::fs::read_to_string(f).unwrap().contains("delivery:3\""))
        .unwrap();
    let text = std::fs::read_to_string(holding).unwrap();
    std::fs::write(holding, text.replacen("delivery:3\"", "delivery:9\"", 1)).unwrap();
    let walked = audit_archive::walk(&archive, Verifier::new()).unwrap();
    assert_eq!(walked.err(), Some(ChainBreak::Modified { seq: 4 }));
    for f in &files {
        std::fs::remove_file(f).unwrap();
    }
    let walked = audit_archive::walk(&archive, Verifier::new())
        .unwrap()
        .unwrap();
    assert_eq!(
        verify_audit_from(store.as_ref(), walked).await.unwrap(),
        Err(ChainBreak::ArchiveGap { last: 0, start: 20 })
    );

    // The retention endpoint says where older entries go.
    let kept = hub.get("/api/v1/retention").await;
    let audit = kept["items"]
        .as_array()
        .unwrap()
        .iter()
        .find(|i| i["what"] == "audit log (hash-chained)")
        .unwrap_or_else(|| panic!("{kept}"));
    assert_eq!(audit["setting"], "server.audit");
    assert_eq!(audit["seconds"], 30 * 86_400);
}
