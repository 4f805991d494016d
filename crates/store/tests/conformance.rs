//! The store conformance suite: every test runs against SQLite and against a real PostgreSQL.

use std::collections::HashMap;
use std::sync::Arc;
use std::time::Duration;

use junction_core::DatabaseUrl;
use junction_store::*;
use junction_testkit::postgres::TestDb;

const T0: i64 = 1_700_000_000_000;

fn options(url: DatabaseUrl) -> Options {
    Options {
        url,
        max_connections: 16,
        connect_timeout: Duration::from_secs(5),
    }
}

async fn sqlite() -> (Arc<dyn Store>, tempfile::TempDir) {
    let dir = tempfile::tempdir().unwrap();
    let store = open(&options(DatabaseUrl::Sqlite(dir.path().join("j.db"))))
        .await
        .unwrap();
    (store, dir)
}

async fn postgres() -> Option<(Arc<dyn Store>, TestDb)> {
    let db = TestDb::create().await?;
    let store = open(&options(DatabaseUrl::Postgres(db.url.clone())))
        .await
        .unwrap();
    Some((store, db))
}

macro_rules! conformance {
    ($($name:ident),* $(,)?) => {
        mod sqlite {
            $(
                #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
                async fn $name() {
                    let (store, _dir) = super::sqlite().await;
                    super::$name(store).await;
                }
            )*
        }
        mod postgres {
            $(
                #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
                async fn $name() {
                    let Some((store, _db)) = super::postgres().await else { return };
                    super::$name(store).await;
                }
            )*
        }
    };
}

conformance!(
    append_commits_event_with_its_deliveries,
    duplicate_event_creates_no_deliveries,
    concurrent_duplicates_create_one_event,
    claim_then_complete,
    work_is_not_claimed_before_it_is_due,
    lease_expiry_makes_work_claimable_again,
    expired_lease_holder_is_fenced_off,
    failed_attempt_is_retried_at_next_attempt_time,
    dead_letter_keeps_reason_and_last_response,
    release_returns_leases_without_counting_the_attempt,
    concurrent_claimers_take_each_delivery_exactly_once,
    claim_takes_only_the_named_destination,
    fifo_lane_delivers_in_sequence_order_one_at_a_time,
    fifo_stuck_key_blocks_only_itself,
    fifo_dead_head_blocks_its_key_until_replayed,
    a_quarantined_fifo_head_blocks_its_key_and_replays_apart_from_dead_letters,
    latest_marks_older_than_delivered_stale,
    wake_makes_a_destinations_backlog_due_now,
    dead_letters_are_listed_by_filter_and_replayed,
    destinations_are_disabled_and_enabled,
    purge_deletes_finished_events_and_keeps_dead_and_pending,
    a_late_earlier_event_waits_while_its_lane_is_in_flight,
    token_refresh_once_across_nodes_the_lease_is_taken_by_one,
    a_fenced_off_refresh_cannot_save_its_tokens,
    refresh_failures_mark_the_connection_needs_reauth,
    seeded_tokens_fence_off_a_refresh_in_progress,
    api_tokens_are_found_by_hash_listed_and_revoked,
    drift_records_add_up_across_writers,
    rejected_requests_keep_only_the_newest_per_source,
    audit_appends_at_once_form_one_unbroken_chain,
    minute_rows_are_replaced_per_process_and_purged,
    an_alert_fires_and_resolves_once_however_many_processes_try,
    events_are_found_by_source_type_key_and_time_newest_first,
    a_discarded_dead_letter_unblocks_its_fifo_key_and_is_never_sent,
    delivery_ids_are_globally_unique_and_the_same_on_every_attempt_and_replay,
    an_events_trace_and_forwarded_headers_travel_with_it_to_the_claim,
    deliveries_are_found_by_state_destination_route_source_and_time_newest_first,
    a_refresh_updates_a_firing_alerts_value_and_never_fires_one,
    a_job_slot_is_run_once_however_many_processes_race_for_it,
    a_run_whose_owner_stops_beating_is_failed_and_runs_are_trimmed,
    jobs_are_paused_and_resumed_once,
    an_async_call_is_taken_by_one_process_and_its_answer_kept_by_its_owner,
    quota_shares_of_live_processes_never_sum_above_the_limit_and_follow_demand,
    a_circuit_opened_by_one_process_is_seen_open_by_the_others_until_closed,
    a_learned_shape_is_replaced_only_by_one_learned_from_more_payloads,
    erasing_a_data_subject_removes_every_trace_and_later_events_about_it_are_not_stored,
    a_purge_deletes_only_the_sources_it_is_given,
);

fn keyed(id: &str, key: &str, seq: i64, ordering: Ordering, destination: &str) -> NewEvent {
    NewEvent {
        source: "crm".into(),
        external_id: id.into(),
        event_type: "customer.updated".into(),
        entity_key: Some(key.into()),
        sequence: Some(seq),
        received_at: T0,
        payload: b"{}".to_vec(),
        context: Default::default(),
        deliveries: vec![NewDelivery {
            route: "r".into(),
            destination: destination.into(),
            due_at: T0,
            ordering,
        }],
        tracked: false,
        subjects: Vec::new(),
    }
}

/// Appends `n` unordered events `e0…` with keys `k0…` for `destination`.
async fn add_unordered(store: &Arc<dyn Store>, n: usize, destination: &str) {
    for i in 0..n {
        let key = format!("k{i}");
        add(
            store,
            keyed(&format!("e{i}"), &key, 1, Ordering::None, destination),
        )
        .await;
    }
}

/// Appends an event that must be new.
async fn add(store: &Arc<dyn Store>, e: NewEvent) {
    assert!(!store.append(e).await.unwrap().is_duplicate());
}

fn claim_for(destination: &str, limit: usize, now: i64) -> Claim {
    Claim {
        destination: Some(destination.into()),
        ..claim("w", limit, now)
    }
}

fn ids(claimed: &[Claimed]) -> Vec<&str> {
    claimed
        .iter()
        .map(|c| c.event.external_id.as_str())
        .collect()
}

fn event(id: &str, routes: usize, due_at: i64) -> NewEvent {
    NewEvent {
        source: "stripe".into(),
        external_id: id.into(),
        event_type: "customer.updated".into(),
        entity_key: Some("cus_1".into()),
        sequence: Some(7),
        received_at: T0,
        payload: format!("{{\"id\":\"{id}\"}}").into_bytes(),
        context: Default::default(),
        deliveries: (0..routes)
            .map(|i| NewDelivery {
                route: format!("r{i}"),
                destination: format!("d{i}"),
                due_at,
                ordering: Ordering::None,
            })
            .collect(),
        tracked: false,
        subjects: Vec::new(),
    }
}

fn claim(owner: &str, limit: usize, now: i64) -> Claim {
    Claim {
        owner: owner.into(),
        limit,
        lease: Duration::from_secs(30),
        now,
        destination: None,
    }
}

fn attempt(status: i32) -> Attempt {
    Attempt {
        started_at: T0,
        duration_ms: 12,
        status: Some(status),
        error: None,
        response_excerpt: None,
    }
}

async fn append_commits_event_with_its_deliveries(store: Arc<dyn Store>) {
    let a = store.append(event("evt_1", 2, T0)).await.unwrap();
    let Appended::Created {
        event_id,
        deliveries,
    } = a
    else {
        panic!("{a:?}")
    };
    assert_eq!(deliveries, 2);
    let stored = store.event(event_id).await.unwrap().unwrap();
    assert_eq!(stored.payload, b"{\"id\":\"evt_1\"}");
    assert_eq!(stored.entity_key.as_deref(), Some("cus_1"));
    assert_eq!(stored.sequence, Some(7));
    let ds = store.deliveries_of(event_id).await.unwrap();
    assert_eq!(ds.len(), 2);
    assert!(ds
        .iter()
        .all(|d| d.state == DeliveryState::Pending && d.attempts == 0));
}

async fn an_events_trace_and_forwarded_headers_travel_with_it_to_the_claim(store: Arc<dyn Store>) {
    let context = EventContext {
        traceparent: Some("00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01".into()),
        headers: vec![
            ("x-github-event".into(), "push".into()),
            ("x-github-hook-id".into(), "42 \"quoted\" \u{e9}".into()),
        ],
    };
    let mut e = event("evt_ctx", 1, T0);
    e.context = context.clone();
    let id = store.append(e).await.unwrap().event_id();
    // And one without any: stored as nothing, read back as nothing.
    let plain = store
        .append(event("evt_plain", 1, T0))
        .await
        .unwrap()
        .event_id();
    assert_eq!(store.event(id).await.unwrap().unwrap().context, context);
    assert_eq!(
        store.event(plain).await.unwrap().unwrap().context,
        EventContext::default()
    );
    let got = store.claim(&claim("w1", 10, T0)).await.unwrap();
    let claimed = got.iter().find(|c| c.event.id == id).unwrap();
    assert_eq!(
        claimed.event.context, context,
        "the worker sees what was stored"
    );
}

async fn duplicate_event_creates_no_deliveries(store: Arc<dyn Store>) {
    let first = store.append(event("evt_1", 2, T0)).await.unwrap();
    let again = store.append(event("evt_1", 2, T0)).await.unwrap();
    assert_eq!(
        again,
        Appended::Duplicate {
            event_id: first.event_id()
        }
    );
    assert_eq!(
        store.deliveries_of(first.event_id()).await.unwrap().len(),
        2
    );
    let stats = store.queue_stats(T0).await.unwrap();
    assert_eq!(stats.pending, 2, "the duplicate added no delivery");
    // The same id from another source is another event.
    let mut other = event("evt_1", 1, T0);
    other.source = "github".into();
    assert!(!store.append(other).await.unwrap().is_duplicate());
}

async fn concurrent_duplicates_create_one_event(store: Arc<dyn Store>) {
    let tasks: Vec<_> = (0..32)
        .map(|_| {
            let store = store.clone();
            tokio::spawn(async move { store.append(event("evt_same", 1, T0)).await.unwrap() })
        })
        .collect();
    let mut results = Vec::new();
    for t in tasks {
        results.push(t.await.unwrap());
    }
    assert_eq!(
        results.iter().filter(|r| !r.is_duplicate()).count(),
        1,
        "{results:?}"
    );
    let id = results[0].event_id();
    assert!(results.iter().all(|r| r.event_id() == id));
    assert_eq!(store.queue_stats(T0).await.unwrap().pending, 1);
}

async fn claim_then_complete(store: Arc<dyn Store>) {
    let id = store
        .append(event("evt_1", 1, T0))
        .await
        .unwrap()
        .event_id();
    let got = store.claim(&claim("w1", 10, T0)).await.unwrap();
    assert_eq!(got.len(), 1);
    let c = &got[0];
    assert_eq!((c.attempt, c.event.id, c.route.as_str()), (1, id, "r0"));
    assert_eq!(c.event.payload, b"{\"id\":\"evt_1\"}");
    store.complete(c.lease, attempt(200), T0 + 5).await.unwrap();
    let d = store.delivery(c.lease.delivery_id).await.unwrap().unwrap();
    assert_eq!(
        (d.state, d.attempts, d.last_status, d.finished_at),
        (DeliveryState::Delivered, 1, Some(200), Some(T0 + 5))
    );
    let attempts = store.attempts(d.id).await.unwrap();
    assert_eq!(attempts.len(), 1);
    assert_eq!(
        (attempts[0].attempt, attempts[0].outcome.as_str()),
        (1, "delivered")
    );
    assert!(store
        .claim(&claim("w1", 10, T0 + 3_600_000))
        .await
        .unwrap()
        .is_empty());
}

async fn work_is_not_claimed_before_it_is_due(store: Arc<dyn Store>) {
    store.append(event("evt_1", 1, T0 + 1_000)).await.unwrap();
    assert!(store.claim(&claim("w1", 10, T0)).await.unwrap().is_empty());
    assert_eq!(
        store
            .claim(&claim("w1", 10, T0 + 1_000))
            .await
            .unwrap()
            .len(),
        1
    );
}

async fn lease_expiry_makes_work_claimable_again(store: Arc<dyn Store>) {
    store.append(event("evt_1", 1, T0)).await.unwrap();
    let first = store.claim(&claim("crashed", 10, T0)).await.unwrap();
    assert_eq!(first.len(), 1);
    // While the lease holds, nobody else gets it.
    assert!(store
        .claim(&claim("w2", 10, T0 + 29_000))
        .await
        .unwrap()
        .is_empty());
    // The holder crashed: once the lease expires, the delivery is due again.
    let again = store.claim(&claim("w2", 10, T0 + 30_000)).await.unwrap();
    assert_eq!(again.len(), 1);
    assert_eq!(again[0].lease.delivery_id, first[0].lease.delivery_id);
    assert_eq!(again[0].attempt, 2, "a crashed attempt still counts");
    assert!(again[0].lease.epoch > first[0].lease.epoch);
    store
        .complete(again[0].lease, attempt(200), T0 + 31_000)
        .await
        .unwrap();
}

async fn expired_lease_holder_is_fenced_off(store: Arc<dyn Store>) {
    store.append(event("evt_1", 1, T0)).await.unwrap();
    let old = store.claim(&claim("slow", 10, T0)).await.unwrap().remove(0);
    let new = store
        .claim(&claim("w2", 10, T0 + 31_000))
        .await
        .unwrap()
        .remove(0);
    assert!(matches!(
        store.extend_lease(old.lease, T0 + 90_000).await,
        Err(StoreError::LeaseLost(_))
    ));
    assert!(matches!(
        store.complete(old.lease, attempt(200), T0 + 32_000).await,
        Err(StoreError::LeaseLost(_))
    ));
    store.extend_lease(new.lease, T0 + 90_000).await.unwrap();
    store
        .complete(new.lease, attempt(200), T0 + 33_000)
        .await
        .unwrap();
    let attempts = store.attempts(new.lease.delivery_id).await.unwrap();
    assert_eq!(
        attempts.len(),
        1,
        "the fenced-off attempt was not recorded: {attempts:?}"
    );
    assert_eq!(attempts[0].attempt, 2);
}

async fn failed_attempt_is_retried_at_next_attempt_time(store: Arc<dyn Store>) {
    store.append(event("evt_1", 1, T0)).await.unwrap();
    let c = store.claim(&claim("w1", 10, T0)).await.unwrap().remove(0);
    let mut a = attempt(503);
    a.error = Some("service unavailable".into());
    store.fail(c.lease, a, T0 + 5_000, T0 + 10).await.unwrap();
    let d = store.delivery(c.lease.delivery_id).await.unwrap().unwrap();
    assert_eq!(
        (d.state, d.last_status, d.next_attempt_at),
        (DeliveryState::Pending, Some(503), T0 + 5_000)
    );
    assert_eq!(d.last_error.as_deref(), Some("service unavailable"));
    assert!(store
        .claim(&claim("w1", 10, T0 + 4_999))
        .await
        .unwrap()
        .is_empty());
    let retry = store.claim(&claim("w1", 10, T0 + 5_000)).await.unwrap();
    assert_eq!(retry[0].attempt, 2);
}

async fn dead_letter_keeps_reason_and_last_response(store: Arc<dyn Store>) {
    store.append(event("evt_1", 1, T0)).await.unwrap();
    let c = store.claim(&claim("w1", 10, T0)).await.unwrap().remove(0);
    let a = Attempt {
        started_at: T0,
        duration_ms: 40,
        status: Some(422),
        error: Some("unprocessable entity".into()),
        response_excerpt: Some("{\"error\":\"bad customer\"}".into()),
    };
    store
        .dead_letter(
            c.lease,
            a,
            "permanent failure: 422 from destination",
            T0 + 50,
        )
        .await
        .unwrap();
    let d = store.delivery(c.lease.delivery_id).await.unwrap().unwrap();
    assert_eq!(d.state, DeliveryState::Dead);
    assert_eq!(
        d.dead_reason.as_deref(),
        Some("permanent failure: 422 from destination")
    );
    assert_eq!(d.last_status, Some(422));
    let attempts = store.attempts(d.id).await.unwrap();
    assert_eq!(attempts[0].outcome, "dead");
    assert_eq!(
        attempts[0].record.response_excerpt.as_deref(),
        Some("{\"error\":\"bad customer\"}")
    );
    assert!(
        store
            .claim(&claim("w1", 10, T0 + 86_400_000))
            .await
            .unwrap()
            .is_empty(),
        "dead work is never claimed"
    );
    assert_eq!(store.queue_stats(T0).await.unwrap().dead, 1);
}

async fn release_returns_leases_without_counting_the_attempt(store: Arc<dyn Store>) {
    store.append(event("evt_1", 3, T0)).await.unwrap();
    let held = store.claim(&claim("node-a", 10, T0)).await.unwrap();
    assert_eq!(held.len(), 3);
    assert_eq!(store.release("node-a", T0 + 100).await.unwrap(), 3);
    let again = store.claim(&claim("node-b", 10, T0 + 100)).await.unwrap();
    assert_eq!(again.len(), 3);
    assert!(
        again.iter().all(|c| c.attempt == 1),
        "the released attempt did not count"
    );
    assert!(matches!(
        store.complete(held[0].lease, attempt(200), T0 + 200).await,
        Err(StoreError::LeaseLost(_))
    ));
}

/// Appends `n` events of one delivery each, 64 at a time.
async fn fill(store: &Arc<dyn Store>, n: usize) {
    let tasks: Vec<_> = (0..64)
        .map(|w| {
            let store = store.clone();
            tokio::spawn(async move {
                for i in (w..n).step_by(64) {
                    store
                        .append(event(&format!("evt_{i}"), 1, T0))
                        .await
                        .unwrap();
                }
            })
        })
        .collect();
    for t in tasks {
        t.await.unwrap();
    }
}

/// `claimers` workers over the given stores claim and complete until nothing is due.
async fn drain(stores: Vec<Arc<dyn Store>>, claimers: usize) -> HashMap<i64, usize> {
    let mut tasks = Vec::new();
    for w in 0..claimers {
        let store = stores[w % stores.len()].clone();
        tasks.push(tokio::spawn(async move {
            let mut mine = Vec::new();
            loop {
                let got = store
                    .claim(&claim(&format!("w{w}"), 100, T0))
                    .await
                    .unwrap();
                if got.is_empty() {
                    return mine;
                }
                // Finish the claimed work concurrently, as a worker does: the finishes share commits.
                let done = futures_util::future::join_all(
                    got.iter()
                        .map(|c| store.complete(c.lease, attempt(200), T0)),
                )
                .await;
                for (c, r) in got.iter().zip(done) {
                    r.unwrap();
                    mine.push(c.lease.delivery_id);
                }
            }
        }));
    }
    let mut seen: HashMap<i64, usize> = HashMap::new();
    for t in tasks {
        for id in t.await.unwrap() {
            *seen.entry(id).or_default() += 1;
        }
    }
    seen
}

async fn concurrent_claimers_take_each_delivery_exactly_once(store: Arc<dyn Store>) {
    fill(&store, 10_000).await;
    let seen = drain(vec![store.clone()], 4).await;
    assert_eq!(seen.len(), 10_000, "every delivery was claimed");
    assert!(
        seen.values().all(|n| *n == 1),
        "no delivery was claimed twice"
    );
    let stats = store.queue_stats(T0).await.unwrap();
    assert_eq!(stats.pending, 0);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn postgres_two_clients_take_each_delivery_exactly_once() {
    let Some(db) = TestDb::create().await else {
        return;
    };
    let a = open(&options(DatabaseUrl::Postgres(db.url.clone())))
        .await
        .unwrap();
    let b = open(&options(DatabaseUrl::Postgres(db.url.clone())))
        .await
        .unwrap();
    fill(&a, 10_000).await;
    let seen = drain(vec![a.clone(), b.clone()], 4).await;
    assert_eq!(seen.len(), 10_000);
    assert!(
        seen.values().all(|n| *n == 1),
        "no delivery was claimed twice"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn postgres_store_recovers_when_the_database_returns() {
    let Some(db) = TestDb::create().await else {
        return;
    };
    let proxy = junction_testkit::proxy::Proxy::start(db.server_addr()).await;
    let mut opts = options(DatabaseUrl::Postgres(db.url_via(proxy.port)));
    opts.connect_timeout = Duration::from_secs(1);
    let store = open(&opts).await.unwrap();
    store.append(event("before", 1, T0)).await.unwrap();

    proxy.cut();
    let err = store.append(event("during", 1, T0)).await.unwrap_err();
    assert!(err.is_unavailable(), "{err:?}");
    assert!(store.ping().await.unwrap_err().is_unavailable());

    proxy.restore();
    let mut recovered = false;
    for _ in 0..50 {
        if store.append(event("after", 1, T0)).await.is_ok() {
            recovered = true;
            break;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    assert!(recovered, "the store recovered without a restart");
    assert_eq!(
        store.queue_stats(T0).await.unwrap().pending,
        2,
        "the failed append wrote nothing"
    );
}

#[tokio::test]
async fn unreachable_database_fails_to_open_with_a_clear_error() {
    let mut opts = options(DatabaseUrl::Postgres(
        "postgres://junction:pw-canary-9@127.0.0.1:1/none".into(),
    ));
    opts.connect_timeout = Duration::from_millis(500);
    let err = open(&opts).await.err().expect("must fail");
    let text = err.to_string();
    assert!(err.is_unavailable(), "{text}");
    assert!(
        text.contains("cannot reach PostgreSQL at postgres://junction:***@127.0.0.1:1/none"),
        "{text}"
    );
    assert!(!text.contains("pw-canary-9"), "{text}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sqlite_in_memory_store_serves_reads_and_writes() {
    let store = open(&options(DatabaseUrl::Sqlite(":memory:".into())))
        .await
        .unwrap();
    claim_then_complete(store.clone()).await;
    assert_eq!(store.queue_stats(T0).await.unwrap().pending, 0);
    store.ping().await.unwrap();
}

async fn claim_takes_only_the_named_destination(store: Arc<dyn Store>) {
    add(&store, keyed("a", "k1", 1, Ordering::None, "one")).await;
    add(&store, keyed("b", "k2", 1, Ordering::None, "two")).await;
    let got = store.claim(&claim_for("two", 10, T0)).await.unwrap();
    assert_eq!(ids(&got), ["b"]);
    assert_eq!(got[0].destination, "two");
    let got = store.claim(&claim_for("two", 10, T0)).await.unwrap();
    assert!(got.is_empty());
    let got = store.claim(&claim_for("one", 10, T0)).await.unwrap();
    assert_eq!(ids(&got), ["a"]);
}

async fn fifo_lane_delivers_in_sequence_order_one_at_a_time(store: Arc<dyn Store>) {
    // Arrive out of order: 3, 1, 2.
    for (id, seq) in [("e3", 3), ("e1", 1), ("e2", 2)] {
        store
            .append(keyed(id, "k", seq, Ordering::Fifo, "d"))
            .await
            .unwrap();
    }
    let mut order = Vec::new();
    for _ in 0..3 {
        let got = store.claim(&claim_for("d", 10, T0)).await.unwrap();
        assert_eq!(got.len(), 1, "one in flight per key: {:?}", ids(&got));
        // While it is held, nothing else of the key is claimable.
        assert!(store
            .claim(&claim_for("d", 10, T0))
            .await
            .unwrap()
            .is_empty());
        order.push(got[0].event.external_id.clone());
        store
            .complete(got[0].lease, attempt(200), T0)
            .await
            .unwrap();
    }
    assert_eq!(order, ["e1", "e2", "e3"]);
}

async fn fifo_stuck_key_blocks_only_itself(store: Arc<dyn Store>) {
    add(&store, keyed("a1", "a", 1, Ordering::Fifo, "d")).await;
    add(&store, keyed("a2", "a", 2, Ordering::Fifo, "d")).await;
    add(&store, keyed("b1", "b", 1, Ordering::Fifo, "d")).await;
    add(&store, keyed("b2", "b", 2, Ordering::Fifo, "d")).await;
    let got = store.claim(&claim_for("d", 10, T0)).await.unwrap();
    assert_eq!(ids(&got), ["a1", "b1"]);
    // a1 fails and waits for a retry in a minute; b flows on.
    let a1 = got.iter().find(|c| c.event.external_id == "a1").unwrap();
    let b1 = got.iter().find(|c| c.event.external_id == "b1").unwrap();
    store
        .fail(a1.lease, attempt(503), T0 + 60_000, T0)
        .await
        .unwrap();
    store.complete(b1.lease, attempt(200), T0).await.unwrap();
    let got = store.claim(&claim_for("d", 10, T0 + 1)).await.unwrap();
    assert_eq!(ids(&got), ["b2"], "a2 waits behind a1; b2 goes");
}

async fn fifo_dead_head_blocks_its_key_until_replayed(store: Arc<dyn Store>) {
    add(&store, keyed("a1", "a", 1, Ordering::Fifo, "d")).await;
    add(&store, keyed("a2", "a", 2, Ordering::Fifo, "d")).await;
    let got = store.claim(&claim_for("d", 10, T0)).await.unwrap();
    store
        .dead_letter(got[0].lease, attempt(500), "gave up", T0)
        .await
        .unwrap();
    assert!(
        store
            .claim(&claim_for("d", 10, T0))
            .await
            .unwrap()
            .is_empty(),
        "a dead head keeps its key blocked (order would break)"
    );
    let replayed = store.replay(&DeadFilter::default(), 100, T0).await.unwrap();
    assert_eq!(replayed.len(), 1);
    let got = store.claim(&claim_for("d", 10, T0)).await.unwrap();
    assert_eq!(ids(&got), ["a1"]);
    assert_eq!(got[0].attempt, 1, "a replay starts a fresh attempt count");
    store
        .complete(got[0].lease, attempt(200), T0)
        .await
        .unwrap();
    let got = store.claim(&claim_for("d", 10, T0)).await.unwrap();
    assert_eq!(ids(&got), ["a2"]);
}

async fn a_quarantined_fifo_head_blocks_its_key_and_replays_apart_from_dead_letters(
    store: Arc<dyn Store>,
) {
    add(&store, keyed("q1", "q", 1, Ordering::Fifo, "d")).await;
    add(&store, keyed("q2", "q", 2, Ordering::Fifo, "d")).await;
    add(&store, keyed("x1", "x", 1, Ordering::Fifo, "d")).await;
    let got = store.claim(&claim_for("d", 10, T0)).await.unwrap();
    assert_eq!(ids(&got), ["q1", "x1"]);
    for c in &got {
        let outcome = if c.event.external_id == "q1" {
            Outcome::Quarantined {
                reason: "the body breaks customer@1: /email: not an email".into(),
            }
        } else {
            Outcome::Dead {
                reason: "gave up".into(),
            }
        };
        store
            .finish(Finish {
                lease: c.lease,
                attempt: Attempt::default(),
                outcome,
                now: T0,
            })
            .await
            .unwrap();
    }
    assert!(
        store
            .claim(&claim_for("d", 10, T0))
            .await
            .unwrap()
            .is_empty(),
        "a quarantined head keeps its key blocked (order would break)"
    );
    let stats = store.queue_stats(T0).await.unwrap();
    assert_eq!((stats.dead, stats.quarantined), (1, 1));
    let q = DeadFilter {
        quarantined: true,
        ..Default::default()
    };
    let listed = store.dead_letters(&q, 0, 10).await.unwrap();
    assert_eq!(listed.len(), 1);
    assert_eq!(listed[0].external_id, "q1");
    assert_eq!(listed[0].delivery.state, DeliveryState::Quarantined);
    assert!(listed[0]
        .delivery
        .dead_reason
        .as_deref()
        .unwrap()
        .contains("customer@1"));
    let dead = store
        .dead_letters(&DeadFilter::default(), 0, 10)
        .await
        .unwrap();
    assert_eq!(
        dead.len(),
        1,
        "dead letters and quarantine are listed apart"
    );
    assert_eq!(store.replay(&q, 100, T0).await.unwrap().len(), 1);
    let got = store.claim(&claim_for("d", 10, T0)).await.unwrap();
    assert_eq!(ids(&got), ["q1"]);
    assert_eq!(store.queue_stats(T0).await.unwrap().quarantined, 0);
}

async fn latest_marks_older_than_delivered_stale(store: Arc<dyn Store>) {
    add(&store, keyed("v5", "k", 5, Ordering::Latest, "d")).await;
    let got = store.claim(&claim_for("d", 10, T0)).await.unwrap();
    store
        .complete(got[0].lease, attempt(200), T0)
        .await
        .unwrap();
    // An older version arrives late, and a newer one.
    let late = store
        .append(keyed("v3", "k", 3, Ordering::Latest, "d"))
        .await
        .unwrap();
    add(&store, keyed("v6", "k", 6, Ordering::Latest, "d")).await;
    let got = store.claim(&claim_for("d", 10, T0)).await.unwrap();
    assert!(
        got.is_empty(),
        "v3 is stale, v6 waits behind it: {:?}",
        ids(&got)
    );
    let d = &store.deliveries_of(late.event_id()).await.unwrap()[0];
    assert_eq!(d.state, DeliveryState::Stale);
    assert!(d.last_error.as_deref().unwrap_or("").contains("stale"));
    let got = store.claim(&claim_for("d", 10, T0)).await.unwrap();
    assert_eq!(ids(&got), ["v6"]);
    // Other keys are not affected.
    add(&store, keyed("o1", "other", 1, Ordering::Latest, "d")).await;
    let got2 = store.claim(&claim_for("d", 10, T0)).await.unwrap();
    assert_eq!(ids(&got2), ["o1"]);
}

async fn wake_makes_a_destinations_backlog_due_now(store: Arc<dyn Store>) {
    add_unordered(&store, 3, "d").await;
    add(&store, keyed("x", "kx", 1, Ordering::None, "other")).await;
    let got = store.claim(&claim("w", 10, T0)).await.unwrap();
    for c in &got {
        store
            .fail(c.lease, attempt(503), T0 + 3_600_000, T0)
            .await
            .unwrap();
    }
    assert!(store
        .claim(&claim("w", 10, T0 + 1))
        .await
        .unwrap()
        .is_empty());
    assert_eq!(store.wake("d", T0 + 1).await.unwrap(), 3);
    let got = store.claim(&claim("w", 10, T0 + 1)).await.unwrap();
    assert_eq!(got.len(), 3);
    assert!(got.iter().all(|c| c.destination == "d"));
}

async fn dead_letters_are_listed_by_filter_and_replayed(store: Arc<dyn Store>) {
    for (i, dest) in ["d1", "d1", "d2"].iter().enumerate() {
        store
            .append(keyed(
                &format!("e{i}"),
                &format!("k{i}"),
                1,
                Ordering::None,
                dest,
            ))
            .await
            .unwrap();
    }
    let got = store.claim(&claim("w", 10, T0)).await.unwrap();
    for c in &got {
        let mut a = attempt(500);
        a.response_excerpt = Some("upstream exploded".into());
        store
            .dead_letter(c.lease, a, format!("500 from {}", c.destination), T0 + 5)
            .await
            .unwrap();
    }
    let all = store
        .dead_letters(&DeadFilter::default(), 0, 100)
        .await
        .unwrap();
    assert_eq!(all.len(), 3);
    assert_eq!(all[0].source, "crm");
    assert_eq!(all[0].delivery.last_status, Some(500));
    let d1 = DeadFilter {
        destination: Some("d1".into()),
        ..Default::default()
    };
    assert_eq!(store.dead_letters(&d1, 0, 100).await.unwrap().len(), 2);
    let page = store
        .dead_letters(&d1, all[0].delivery.id, 100)
        .await
        .unwrap();
    assert_eq!(page.len(), 1, "paging after an id");
    let by_error = DeadFilter {
        error: Some("from d2".into()),
        ..Default::default()
    };
    assert_eq!(
        store.dead_letters(&by_error, 0, 100).await.unwrap().len(),
        1
    );
    let window = DeadFilter {
        since: Some(T0 + 6),
        ..Default::default()
    };
    assert!(store
        .dead_letters(&window, 0, 100)
        .await
        .unwrap()
        .is_empty());
    let one = DeadFilter {
        ids: vec![all[2].delivery.id],
        ..Default::default()
    };
    assert_eq!(
        store.replay(&one, 100, T0 + 10).await.unwrap(),
        vec![all[2].delivery.id]
    );
    let replayed = store.replay(&d1, 100, T0 + 10).await.unwrap();
    assert_eq!(replayed.len(), 2);
    assert!(store
        .dead_letters(&DeadFilter::default(), 0, 100)
        .await
        .unwrap()
        .is_empty());
    let got = store.claim(&claim("w", 10, T0 + 10)).await.unwrap();
    assert_eq!(got.len(), 3, "replayed deliveries are due again");
    let history = store.attempts(got[0].lease.delivery_id).await.unwrap();
    assert_eq!(history.len(), 1, "the dead attempt is kept in the history");
}

async fn destinations_are_disabled_and_enabled(store: Arc<dyn Store>) {
    assert!(store.disabled().await.unwrap().is_empty());
    store
        .set_disabled("hooks", Some("410 Gone"), T0)
        .await
        .unwrap();
    store
        .set_disabled("hooks", Some("410 Gone again"), T0 + 1)
        .await
        .unwrap();
    let d = store.disabled().await.unwrap();
    assert_eq!(d.len(), 1);
    assert_eq!(d[0].reason, "410 Gone again");
    store.set_disabled("hooks", None, T0 + 2).await.unwrap();
    assert!(store.disabled().await.unwrap().is_empty());
}

async fn purge_deletes_finished_events_and_keeps_dead_and_pending(store: Arc<dyn Store>) {
    add_unordered(&store, 4, "d").await;
    let got = store.claim(&claim("w", 3, T0)).await.unwrap();
    store
        .complete(got[0].lease, attempt(200), T0)
        .await
        .unwrap();
    store
        .complete(got[1].lease, attempt(200), T0)
        .await
        .unwrap();
    store
        .dead_letter(got[2].lease, attempt(500), "x", T0)
        .await
        .unwrap();
    // e3 stays pending.
    assert_eq!(store.purge(T0 + 1, 100, &Sources::All).await.unwrap(), 2);
    assert!(store.event(got[0].event.id).await.unwrap().is_none());
    assert!(store
        .attempts(got[0].lease.delivery_id)
        .await
        .unwrap()
        .is_empty());
    assert!(
        store.event(got[2].event.id).await.unwrap().is_some(),
        "dead letters are kept"
    );
    assert_eq!(store.queue_stats(T0).await.unwrap().pending, 1);
    assert_eq!(store.purge(T0 + 1, 100, &Sources::All).await.unwrap(), 0);
    assert_eq!(
        store.purge(T0 - 1, 100, &Sources::All).await.unwrap(),
        0,
        "nothing older than the cutoff"
    );
}

async fn a_late_earlier_event_waits_while_its_lane_is_in_flight(store: Arc<dyn Store>) {
    add(&store, keyed("v2", "k", 2, Ordering::Latest, "d")).await;
    let got = store.claim(&claim_for("d", 10, T0)).await.unwrap();
    assert_eq!(ids(&got), ["v2"]);
    // v1 arrives while v2 is being sent: it must not overtake it.
    add(&store, keyed("v1", "k", 1, Ordering::Latest, "d")).await;
    assert!(store
        .claim(&claim_for("d", 10, T0))
        .await
        .unwrap()
        .is_empty());
    store
        .complete(got[0].lease, attempt(200), T0)
        .await
        .unwrap();
    assert!(
        store
            .claim(&claim_for("d", 10, T0))
            .await
            .unwrap()
            .is_empty(),
        "v1 is now older than the delivered v2: stale"
    );
    // An expired lease does not hold the lane.
    add(&store, keyed("w2", "w", 2, Ordering::Fifo, "d")).await;
    let got = store.claim(&claim_for("d", 10, T0)).await.unwrap();
    assert_eq!(ids(&got), ["w2"]);
    add(&store, keyed("w1", "w", 1, Ordering::Fifo, "d")).await;
    let later = T0 + 31_000;
    let got = store.claim(&claim_for("d", 10, later)).await.unwrap();
    assert_eq!(
        ids(&got),
        ["w1"],
        "after the lease expired, the lane's head goes first"
    );
}

fn sealed(name: &str, byte: u8) -> SealedSecret {
    SealedSecret {
        name: name.into(),
        version: 0,
        master_version: 1,
        wrapped_key: vec![byte; 8],
        ciphertext: vec![byte; 16],
        created_at: T0,
        updated_at: T0,
    }
}

fn save(epoch: Option<i64>, byte: u8) -> SaveTokens {
    SaveTokens {
        connector: "crm".into(),
        name: "default".into(),
        epoch,
        expires_at: Some(T0 + 3_600_000),
        refresh_at: Some(T0 + 2_880_000),
        secrets: vec![sealed("conn.crm.default.access", byte)],
        now: T0,
    }
}

async fn token_refresh_once_across_nodes_the_lease_is_taken_by_one(store: Arc<dyn Store>) {
    // Many takers at once (as many nodes would): exactly one gets the lease.
    let takers = (0..16).map(|_| {
        let store = store.clone();
        tokio::spawn(async move {
            store
                .take_refresh_lease("crm", "default", T0, T0 + 30_000, 0)
                .await
                .unwrap()
        })
    });
    let won: Vec<i64> = futures_util::future::join_all(takers)
        .await
        .into_iter()
        .filter_map(|r| r.unwrap())
        .collect();
    assert_eq!(won.len(), 1, "exactly one taker holds the lease: {won:?}");
    let row = store.connection("crm", "default").await.unwrap().unwrap();
    assert_eq!(
        (row.refresh_epoch, row.refresh_until),
        (won[0], T0 + 30_000)
    );
    // While it is live nobody else gets it; once expired, the next taker does, with a new epoch.
    assert_eq!(
        store
            .take_refresh_lease("crm", "default", T0 + 29_999, T0 + 60_000, 0)
            .await
            .unwrap(),
        None
    );
    let next = store
        .take_refresh_lease("crm", "default", T0 + 30_001, T0 + 60_000, 0)
        .await
        .unwrap();
    assert_eq!(next, Some(won[0] + 1));
    // Saving releases the lease.
    assert!(store.save_tokens(save(next, 1)).await.unwrap());
    let row = store.connection("crm", "default").await.unwrap().unwrap();
    assert_eq!(row.refresh_until, 0);
    assert_eq!(row.expires_at, Some(T0 + 3_600_000));
    assert_eq!(row.token_version, 1);
    assert!(
        store
            .take_refresh_lease("crm", "default", T0 + 30_002, T0 + 60_000, 0)
            .await
            .unwrap()
            .is_none(),
        "a taker that read the row before those tokens were saved does not refresh again"
    );
    assert!(store
        .take_refresh_lease("crm", "default", T0 + 30_002, T0 + 60_000, 1)
        .await
        .unwrap()
        .is_some());
}

async fn a_fenced_off_refresh_cannot_save_its_tokens(store: Arc<dyn Store>) {
    let first = store
        .take_refresh_lease("crm", "default", T0, T0 + 1_000, 0)
        .await
        .unwrap();
    // The first holder stalls past its lease; a second takes over and saves.
    let second = store
        .take_refresh_lease("crm", "default", T0 + 2_000, T0 + 3_000, 0)
        .await
        .unwrap();
    assert!(store.save_tokens(save(second, 2)).await.unwrap());
    assert!(
        !store.save_tokens(save(first, 1)).await.unwrap(),
        "the stale holder is fenced off"
    );
    let secret = store
        .secret("conn.crm.default.access")
        .await
        .unwrap()
        .unwrap();
    assert_eq!(secret.ciphertext, vec![2; 16], "the winner's tokens stay");
    assert_eq!(secret.version, 1);
}

async fn refresh_failures_mark_the_connection_needs_reauth(store: Arc<dyn Store>) {
    for n in 1..=3 {
        let epoch = store
            .take_refresh_lease("crm", "default", T0 + n, T0 + n + 1, 0)
            .await
            .unwrap()
            .unwrap();
        let row = store
            .refresh_failed(RefreshFailed {
                connector: "crm".into(),
                name: "default".into(),
                epoch,
                error: format!("failure {n}"),
                reauth_after: 3,
                now: T0 + n,
            })
            .await
            .unwrap()
            .unwrap();
        assert_eq!(row.failures, n);
        assert_eq!(row.refresh_until, 0, "a failure releases the lease");
        let expected = if n < 3 {
            ConnectionState::Active
        } else {
            ConnectionState::NeedsReauth
        };
        assert_eq!(row.state, expected);
        assert_eq!(
            row.last_error.as_deref(),
            Some(format!("failure {n}").as_str())
        );
    }
    // A stale epoch records nothing.
    assert!(store
        .refresh_failed(RefreshFailed {
            connector: "crm".into(),
            name: "default".into(),
            epoch: 0,
            error: "late".into(),
            reauth_after: 1,
            now: T0,
        })
        .await
        .unwrap()
        .is_none());
    // Seeding new credentials makes it active again.
    assert!(store.save_tokens(save(None, 3)).await.unwrap());
    let row = store.connection("crm", "default").await.unwrap().unwrap();
    assert_eq!((row.state.as_str(), row.failures), ("active", 0));
    assert_eq!(store.connections().await.unwrap().len(), 1);
    assert!(store.delete_connection("crm", "default").await.unwrap());
    assert!(store.connection("crm", "default").await.unwrap().is_none());
}

async fn seeded_tokens_fence_off_a_refresh_in_progress(store: Arc<dyn Store>) {
    assert!(store.save_tokens(save(None, 1)).await.unwrap());
    let epoch = store
        .take_refresh_lease("crm", "default", T0, T0 + 30_000, 1)
        .await
        .unwrap();
    // An operator seeds a new refresh token while the refresh runs.
    assert!(store.save_tokens(save(None, 2)).await.unwrap());
    assert!(!store.save_tokens(save(epoch, 3)).await.unwrap());
    let secret = store
        .secret("conn.crm.default.access")
        .await
        .unwrap()
        .unwrap();
    assert_eq!((secret.ciphertext[0], secret.version), (2, 2));
}

async fn api_tokens_are_found_by_hash_listed_and_revoked(store: Arc<dyn Store>) {
    let token = ApiToken {
        id: "tok1".into(),
        name: "billing".into(),
        token_hash: vec![7; 32],
        scopes: "proxy:crm:GET".into(),
        created_at: T0,
        expires_at: None,
        revoked_at: None,
    };
    store.add_api_token(token.clone()).await.unwrap();
    assert_eq!(
        store.api_token_by_hash(&[7; 32]).await.unwrap(),
        Some(token.clone())
    );
    assert_eq!(store.api_token_by_hash(&[8; 32]).await.unwrap(), None);
    assert!(store.revoke_api_token("tok1", T0 + 1).await.unwrap());
    assert!(!store.revoke_api_token("tok1", T0 + 2).await.unwrap());
    let all = store.api_tokens().await.unwrap();
    assert_eq!(all.len(), 1);
    assert_eq!(all[0].revoked_at, Some(T0 + 1));
}

async fn rejected_requests_keep_only_the_newest_per_source(store: Arc<dyn Store>) {
    let rec = |source: &str, n: i64| RejectedRequest {
        id: 0,
        source: source.into(),
        at_ms: n,
        reason: "bad_signature".into(),
        status: 401,
        detail: format!("attempt {n}"),
        headers: vec![("webhook-signature".into(), "***".into())],
        body: "{}".into(),
        size: 2,
    };
    for n in 0..7 {
        store.record_rejected(rec("crm", n), 5).await.unwrap();
    }
    store.record_rejected(rec("shop", 100), 5).await.unwrap();
    let crm = store.rejected(Some("crm".into()), 100).await.unwrap();
    let kept: Vec<i64> = crm.iter().map(|r| r.at_ms).collect();
    assert_eq!(kept, vec![6, 5, 4, 3, 2], "the newest five, newest first");
    assert_eq!(
        crm[0].headers,
        vec![("webhook-signature".to_owned(), "***".to_owned())]
    );
    let all = store.rejected(None, 100).await.unwrap();
    assert_eq!(all.len(), 6);
    assert_eq!(all[0].source, "shop");
    assert_eq!(store.rejected(None, 2).await.unwrap().len(), 2);
}

async fn drift_records_add_up_across_writers(store: Arc<dyn Store>) {
    let rec = |path: &str, seen: i64, count: i64| DriftRecord {
        scope: "source".into(),
        subject: "crm/customer.updated".into(),
        path: path.into(),
        kind: "type_changed".into(),
        detail: format!("first seen at {seen}"),
        first_seen: seen,
        last_seen: seen,
        count,
    };
    store
        .record_drift(vec![rec("data.email", T0 + 10, 2)])
        .await
        .unwrap();
    // Another process saw the same drift earlier and later, and another one.
    store
        .record_drift(vec![rec("data.email", T0, 3), rec("data.id", T0 + 5, 1)])
        .await
        .unwrap();
    store
        .record_drift(vec![rec("data.email", T0 + 20, 1)])
        .await
        .unwrap();
    store.record_drift(vec![]).await.unwrap();
    let all = store.drift(10).await.unwrap();
    assert_eq!(all.len(), 2);
    let email = &all[0];
    assert_eq!(email.path, "data.email", "most recently seen first");
    assert_eq!(
        (email.first_seen, email.last_seen, email.count),
        (T0, T0 + 20, 6)
    );
    assert_eq!(
        email.detail,
        format!("first seen at {}", T0 + 10),
        "the first detail stays"
    );
    assert_eq!(store.drift(1).await.unwrap().len(), 1);
}

async fn audit_appends_at_once_form_one_unbroken_chain(store: Arc<dyn Store>) {
    let mut tasks = Vec::new();
    for i in 0..40 {
        let store = store.clone();
        tasks.push(tokio::spawn(async move {
            store
                .append_audit(NewAudit {
                    at: T0 + i,
                    actor: format!("token:{i}"),
                    action: "delivery.replay".into(),
                    target: i.to_string(),
                    origin: "127.0.0.1".into(),
                    detail: "{}".into(),
                })
                .await
                .unwrap()
        }));
    }
    for t in tasks {
        t.await.unwrap();
    }
    let rows = store.audit_after(0, 1000).await.unwrap();
    assert_eq!(rows.len(), 40);
    let mut v = ops::Verifier::new();
    for r in &rows {
        v.next(r).unwrap();
    }
    let head = store.audit_head().await.unwrap();
    assert_eq!(head, Some((40, rows[39].hash.clone())));
    assert_eq!(v.finish(head), Ok(40));
    assert_eq!(store.audit_after(38, 10).await.unwrap().len(), 2);
    let newest = store.audit_newest(3).await.unwrap();
    assert_eq!(
        newest.iter().map(|r| r.seq).collect::<Vec<_>>(),
        vec![40, 39, 38]
    );
}

async fn minute_rows_are_replaced_per_process_and_purged(store: Arc<dyn Store>) {
    let row = |minute: i64, node: &str, calls: u64| MinuteRow {
        minute,
        kind: "connector".into(),
        name: "crm".into(),
        node: node.into(),
        counts: format!("{{\"calls\":{calls}}}"),
        hist: "[1,2]".into(),
    };
    store
        .save_minutes(vec![row(T0, "a", 5), row(T0, "b", 7)])
        .await
        .unwrap();
    store.save_minutes(vec![row(T0, "a", 9)]).await.unwrap();
    store
        .save_minutes(vec![row(T0 + 60_000, "a", 1)])
        .await
        .unwrap();
    store.save_minutes(vec![]).await.unwrap();
    let all = store.minutes(T0).await.unwrap();
    assert_eq!(all.len(), 3);
    let a0 = all
        .iter()
        .find(|r| r.minute == T0 && r.node == "a")
        .unwrap();
    assert_eq!(
        a0.counts, "{\"calls\":9}",
        "a process's later figures replace its earlier ones"
    );
    assert_eq!(store.minutes(T0 + 1).await.unwrap().len(), 1);
    assert_eq!(store.purge_minutes(T0 + 60_000).await.unwrap(), 2);
    assert_eq!(store.minutes(0).await.unwrap().len(), 1);
}

async fn an_alert_fires_and_resolves_once_however_many_processes_try(store: Arc<dyn Store>) {
    let change = |fire: bool, at: i64| AlertChange {
        rule: "connector_error_rate".into(),
        subject: "crm".into(),
        severity: "warning".into(),
        fire,
        refresh: false,
        value: 0.12,
        message: "crm: 12% of calls failed over 5m".into(),
        at,
    };
    let mut tasks = Vec::new();
    for _ in 0..8 {
        let store = store.clone();
        tasks.push(tokio::spawn(async move {
            store.change_alert(change(true, T0)).await.unwrap()
        }));
    }
    let mut won = 0;
    for t in tasks {
        won += t.await.unwrap() as usize;
    }
    assert_eq!(won, 1, "exactly one process fires (and notifies)");
    assert!(!store.change_alert(change(true, T0 + 1)).await.unwrap());
    let a = &store.alerts().await.unwrap()[0];
    assert_eq!(
        (a.key.as_str(), a.state.as_str(), a.since, a.fired_count),
        ("connector_error_rate/crm", "firing", T0, 1)
    );
    assert!(store.change_alert(change(false, T0 + 10)).await.unwrap());
    assert!(!store.change_alert(change(false, T0 + 11)).await.unwrap());
    assert!(store.change_alert(change(true, T0 + 20)).await.unwrap());
    let a = &store.alerts().await.unwrap()[0];
    assert_eq!(
        (a.state.as_str(), a.since, a.fired_count),
        ("firing", T0 + 20, 2)
    );
    let mut never = change(false, T0);
    never.subject = "erp".into();
    assert!(
        !store.change_alert(never).await.unwrap(),
        "nothing to resolve"
    );
}

async fn a_refresh_updates_a_firing_alerts_value_and_never_fires_one(store: Arc<dyn Store>) {
    let change = |fire: bool, refresh: bool, value: f64| AlertChange {
        rule: "connector_error_rate".into(),
        subject: "crm".into(),
        severity: "warning".into(),
        fire,
        refresh,
        value,
        message: format!("crm: {value} of calls failed"),
        at: T0,
    };
    // Nothing firing: a refresh creates nothing.
    assert!(!store.change_alert(change(true, true, 0.3)).await.unwrap());
    assert!(store.alerts().await.unwrap().is_empty());
    assert!(store.change_alert(change(true, false, 0.1)).await.unwrap());
    assert!(!store.change_alert(change(true, true, 0.4)).await.unwrap());
    let a = &store.alerts().await.unwrap()[0];
    assert_eq!(
        (a.state.as_str(), a.value, a.message.as_str(), a.fired_count),
        ("firing", 0.4, "crm: 0.4 of calls failed", 1)
    );
    // Resolved: a late refresh from another process does not bring it back.
    assert!(store.change_alert(change(false, false, 0.0)).await.unwrap());
    assert!(!store.change_alert(change(true, true, 0.5)).await.unwrap());
    let a = &store.alerts().await.unwrap()[0];
    assert_eq!((a.state.as_str(), a.value), ("resolved", 0.0));
}

async fn events_are_found_by_source_type_key_and_time_newest_first(store: Arc<dyn Store>) {
    for i in 0..6i64 {
        let mut e = keyed(
            &format!("e{i}"),
            &format!("k{}", i % 2),
            i,
            Ordering::None,
            "billing",
        );
        e.received_at = T0 + i * 1000;
        if i >= 4 {
            e.event_type = "invoice.paid".into();
        }
        add(&store, e).await;
    }
    let ids = |v: Vec<StoredEvent>| v.into_iter().map(|e| e.external_id).collect::<Vec<_>>();
    let all = store.events(&EventFilter::default(), 10).await.unwrap();
    assert_eq!(ids(all.clone()), vec!["e5", "e4", "e3", "e2", "e1", "e0"]);
    let f = EventFilter {
        entity_key: Some("k1".into()),
        event_type: Some("customer.updated".into()),
        ..Default::default()
    };
    assert_eq!(ids(store.events(&f, 10).await.unwrap()), vec!["e3", "e1"]);
    let f = EventFilter {
        source: Some("crm".into()),
        since: Some(T0 + 2000),
        until: Some(T0 + 5000),
        ..Default::default()
    };
    assert_eq!(
        ids(store.events(&f, 10).await.unwrap()),
        vec!["e4", "e3", "e2"]
    );
    let page = EventFilter {
        before_id: Some(all[1].id),
        ..Default::default()
    };
    assert_eq!(ids(store.events(&page, 2).await.unwrap()), vec!["e3", "e2"]);
    let none = EventFilter {
        source: Some("erp".into()),
        ..Default::default()
    };
    assert!(store.events(&none, 10).await.unwrap().is_empty());
}

async fn deliveries_are_found_by_state_destination_route_source_and_time_newest_first(
    store: Arc<dyn Store>,
) {
    // Three events at T0, T0+1s, T0+2s, each with a delivery to d0 (route r0) and d1 (route r1).
    for i in 0..3i64 {
        let mut e = event(&format!("e{i}"), 2, T0);
        e.received_at = T0 + i * 1000;
        add(&store, e).await;
    }
    let mut other = event("o1", 1, T0 + 3000);
    other.source = "github".into();
    other.received_at = T0 + 3000;
    add(&store, other).await;
    // Deliver one, dead-letter another.
    let got = store.claim(&claim_for("d1", 10, T0 + 5000)).await.unwrap();
    store
        .complete(got[0].lease, attempt(200), T0 + 5000)
        .await
        .unwrap();
    store
        .dead_letter(got[1].lease, attempt(500), "gave up", T0 + 5000)
        .await
        .unwrap();
    let (delivered, dead) = (got[0].lease.delivery_id, got[1].lease.delivery_id);
    let find = |f: DeliveryFilter, limit: usize| {
        let store = store.clone();
        async move {
            store
                .deliveries(&f, limit)
                .await
                .unwrap()
                .into_iter()
                .map(|d| d.id)
                .collect::<Vec<_>>()
        }
    };
    let all = find(DeliveryFilter::default(), 100).await;
    assert_eq!(all.len(), 7);
    assert!(all.windows(2).all(|w| w[0] > w[1]), "newest first: {all:?}");
    let state = |s| DeliveryFilter {
        state: Some(s),
        ..Default::default()
    };
    assert_eq!(find(state(DeliveryState::Delivered), 10).await, [delivered]);
    assert_eq!(find(state(DeliveryState::Dead), 10).await, [dead]);
    assert_eq!(find(state(DeliveryState::Pending), 10).await.len(), 5);
    let f = DeliveryFilter {
        destination: Some("d0".into()),
        route: Some("r0".into()),
        source: Some("stripe".into()),
        since: Some(T0 + 1000),
        ..Default::default()
    };
    let found = find(f, 10).await;
    assert_eq!(found.len(), 2, "{found:?}");
    for id in &found {
        let d = store.delivery(*id).await.unwrap().unwrap();
        assert_eq!((d.destination.as_str(), d.route.as_str()), ("d0", "r0"));
        assert!(d.created_at >= T0 + 1000);
    }
    let f = DeliveryFilter {
        source: Some("github".into()),
        until: Some(T0 + 4000),
        ..Default::default()
    };
    assert_eq!(find(f, 10).await.len(), 1);
    let page = DeliveryFilter {
        before_id: Some(all[2]),
        ..Default::default()
    };
    assert_eq!(find(page, 2).await, all[3..5]);
}

async fn a_discarded_dead_letter_unblocks_its_fifo_key_and_is_never_sent(store: Arc<dyn Store>) {
    add(&store, keyed("a1", "a", 1, Ordering::Fifo, "d")).await;
    add(&store, keyed("a2", "a", 2, Ordering::Fifo, "d")).await;
    let got = store.claim(&claim_for("d", 10, T0)).await.unwrap();
    store
        .dead_letter(got[0].lease, attempt(500), "gave up", T0)
        .await
        .unwrap();
    let dead_id = got[0].lease.delivery_id;
    assert!(store
        .claim(&claim_for("d", 10, T0))
        .await
        .unwrap()
        .is_empty());
    let quarantined_only = DeadFilter {
        quarantined: true,
        ..Default::default()
    };
    assert!(store
        .discard(&quarantined_only, 10, T0 + 1, "discarded by token:x")
        .await
        .unwrap()
        .is_empty());
    let ids_discarded = store
        .discard(&DeadFilter::default(), 10, T0 + 1, "discarded by token:x")
        .await
        .unwrap();
    assert_eq!(ids_discarded, vec![dead_id]);
    let d = store.delivery(dead_id).await.unwrap().unwrap();
    assert_eq!(d.state, DeliveryState::Discarded);
    assert_eq!(
        d.dead_reason.as_deref(),
        Some("discarded by token:x (was: gave up)")
    );
    assert!(store
        .dead_letters(&DeadFilter::default(), 0, 10)
        .await
        .unwrap()
        .is_empty());
    assert!(
        store
            .replay(&DeadFilter::default(), 10, T0 + 2)
            .await
            .unwrap()
            .is_empty(),
        "a discarded delivery is not a dead letter any more"
    );
    let got = store.claim(&claim_for("d", 10, T0 + 2)).await.unwrap();
    assert_eq!(ids(&got), ["a2"], "the key flows again");
}

async fn delivery_ids_are_globally_unique_and_the_same_on_every_attempt_and_replay(
    store: Arc<dyn Store>,
) {
    // A second, fresh database of the same backend kind: its row ids start where ours did.
    let (other, _dir) = sqlite().await;
    store.append(event("evt_1", 2, T0)).await.unwrap();
    other.append(event("evt_1", 2, T0)).await.unwrap();
    let ours = store.claim(&claim("w", 10, T0)).await.unwrap();
    let theirs = other.claim(&claim("w", 10, T0)).await.unwrap();
    assert_eq!(ours.len(), 2);
    assert_eq!(
        (ours[0].event.id, ours[0].lease.delivery_id),
        (theirs[0].event.id, theirs[0].lease.delivery_id),
        "both databases start their row ids alike"
    );
    for c in ours.iter().chain(&theirs) {
        assert!(c.uid.starts_with("msg_") && c.uid.len() == 36, "{}", c.uid);
    }
    assert_ne!(
        ours[0].uid, ours[1].uid,
        "each delivery of an event has its own id"
    );
    assert_ne!(
        ours[0].uid, theirs[0].uid,
        "ids never repeat across databases"
    );
    // The next attempt (after a crash), a dead letter and its replay all keep the id.
    let again = store.claim(&claim("w2", 10, T0 + 30_000)).await.unwrap();
    let first = again
        .iter()
        .find(|c| c.lease.delivery_id == ours[0].lease.delivery_id)
        .unwrap();
    assert_eq!(first.uid, ours[0].uid);
    store
        .dead_letter(first.lease, attempt(500), "500", T0 + 30_001)
        .await
        .unwrap();
    let only = DeadFilter {
        ids: vec![first.lease.delivery_id],
        ..Default::default()
    };
    store.replay(&only, 10, T0 + 30_002).await.unwrap();
    let replayed = store.claim(&claim("w3", 10, T0 + 30_002)).await.unwrap();
    let replayed = replayed
        .iter()
        .find(|c| c.lease.delivery_id == first.lease.delivery_id)
        .unwrap();
    assert_eq!(
        replayed.uid, ours[0].uid,
        "a replay is the same delivery to the receiver"
    );
}

#[cfg(unix)]
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sqlite_files_are_readable_by_their_owner_only() {
    use std::os::unix::fs::PermissionsExt;
    let (store, dir) = sqlite().await;
    store.append(event("evt_1", 1, T0)).await.unwrap();
    for name in ["j.db", "j.db-wal", "j.db-shm"] {
        let path = dir.path().join(name);
        let Ok(meta) = std::fs::metadata(&path) else {
            assert_ne!(name, "j.db", "the database file exists");
            continue;
        };
        assert_eq!(
            meta.permissions().mode() & 0o777,
            0o600,
            "{name} is readable by others"
        );
    }
}

fn new_run(job: &str, slot: i64, owner: &str, now: i64) -> junction_store::NewRun {
    junction_store::NewRun {
        job: job.into(),
        slot,
        trigger: junction_store::Trigger::Schedule,
        owner: owner.into(),
        now,
    }
}

async fn a_job_slot_is_run_once_however_many_processes_race_for_it(store: Arc<dyn Store>) {
    // Eight "processes" race for each of 20 slots.
    for slot in 0..20i64 {
        let tries = (0..8).map(|p| {
            let store = store.clone();
            async move {
                store
                    .start_run(new_run("probe", slot * 60_000, &format!("node-{p}"), 1_000))
                    .await
                    .unwrap()
            }
        });
        let won: Vec<i64> = futures_util::future::join_all(tries)
            .await
            .into_iter()
            .flatten()
            .collect();
        assert_eq!(won.len(), 1, "slot {slot}: {won:?}");
    }
    let runs = store.job_runs(Some("probe".into()), 100).await.unwrap();
    assert_eq!(runs.len(), 20);
    assert!(runs.windows(2).all(|w| w[0].id > w[1].id), "newest first");
    assert_eq!(store.last_slot("probe").await.unwrap(), Some(19 * 60_000));
    assert_eq!(store.last_slot("other").await.unwrap(), None);
    // Another job's slots are its own.
    assert!(store
        .start_run(new_run("other", 0, "n", 1))
        .await
        .unwrap()
        .is_some());
    // Finished once, with its result.
    let id = runs[0].id;
    assert!(store
        .finish_run(
            id,
            RunState::Succeeded,
            r#"{"calls":[]}"#.into(),
            None,
            2_000
        )
        .await
        .unwrap());
    assert!(
        !store
            .finish_run(
                id,
                RunState::Failed,
                "{}".into(),
                Some("late".into()),
                3_000
            )
            .await
            .unwrap(),
        "a finished run stays as it finished"
    );
    let run = store.job_run(id).await.unwrap().unwrap();
    assert_eq!(run.state, RunState::Succeeded);
    assert_eq!(run.finished_at, Some(2_000));
    assert_eq!(run.result, r#"{"calls":[]}"#);
    assert_eq!(run.error, None);
}

async fn a_run_whose_owner_stops_beating_is_failed_and_runs_are_trimmed(store: Arc<dyn Store>) {
    let alive = store
        .start_run(new_run("sync", 1, "a", 1_000))
        .await
        .unwrap()
        .unwrap();
    let dead = store
        .start_run(new_run("sync", 2, "b", 1_000))
        .await
        .unwrap()
        .unwrap();
    assert!(store
        .beat_run(alive, r#"{"records":10}"#.into(), 40_000)
        .await
        .unwrap());
    assert_eq!(store.fail_stale_runs(30_000, 41_000).await.unwrap(), 1);
    let dead = store.job_run(dead).await.unwrap().unwrap();
    assert_eq!(dead.state, RunState::Failed);
    assert!(dead.error.unwrap().contains("stopped"));
    let alive = store.job_run(alive).await.unwrap().unwrap();
    assert_eq!(alive.state, RunState::Running);
    assert_eq!(alive.progress, r#"{"records":10}"#);
    // Only the newest finished runs are kept.
    let keep = junction_store::jobs::KEEP_RUNS;
    for slot in 0..keep + 20 {
        let id = store
            .start_run(new_run("busy", 100 + slot, "a", 1))
            .await
            .unwrap()
            .unwrap();
        store
            .finish_run(id, RunState::Succeeded, "{}".into(), None, 2)
            .await
            .unwrap();
    }
    let runs = store.job_runs(Some("busy".into()), 1_000).await.unwrap();
    assert_eq!(runs.len() as i64, keep);
    assert_eq!(runs[0].slot, 100 + keep + 19);
}

async fn jobs_are_paused_and_resumed_once(store: Arc<dyn Store>) {
    assert!(store.paused_jobs().await.unwrap().is_empty());
    assert!(store.pause_job("probe", "token:ab", 1).await.unwrap());
    assert!(!store.pause_job("probe", "token:cd", 2).await.unwrap());
    assert_eq!(store.paused_jobs().await.unwrap(), vec!["probe".to_owned()]);
    assert!(store.resume_job("probe").await.unwrap());
    assert!(!store.resume_job("probe").await.unwrap());
    assert!(store.paused_jobs().await.unwrap().is_empty());
}

async fn an_async_call_is_taken_by_one_process_and_its_answer_kept_by_its_owner(
    store: Arc<dyn Store>,
) {
    let call = |uid: &str| junction_store::NewCall {
        uid: uid.into(),
        connector: "crm".into(),
        operation: "get_customer".into(),
        connection: "default".into(),
        caller: "token:ab".into(),
        input: r#"{"id":"cus_1"}"#.into(),
        owner: None,
        callback: Some("hooks".into()),
        now: 1_000,
    };
    store.queue_call(call("call_1")).await.unwrap();
    assert!(
        store.queue_call(call("call_1")).await.is_err(),
        "ids are unique"
    );
    // Of four processes, one takes it.
    let tries = (0..4).map(|p| {
        let store = store.clone();
        async move {
            store
                .take_call("call_1", &format!("node-{p}"), 2_000, 0)
                .await
                .unwrap()
        }
    });
    let taken: Vec<_> = futures_util::future::join_all(tries)
        .await
        .into_iter()
        .flatten()
        .collect();
    assert_eq!(taken.len(), 1);
    let owner = taken[0].owner.clone().unwrap();
    assert_eq!(taken[0].tries, 1);
    assert_eq!(taken[0].state, junction_store::CallState::Running);
    // Alive: not abandoned; silent past the deadline: abandoned, taken over, the old owner fenced.
    assert!(store.beat_call("call_1", &owner, 10_000).await.unwrap());
    assert!(store.abandoned_calls(5_000, 10).await.unwrap().is_empty());
    assert_eq!(
        store.abandoned_calls(20_000, 10).await.unwrap(),
        vec!["call_1".to_owned()]
    );
    let again = store
        .take_call("call_1", "node-new", 50_000, 20_000)
        .await
        .unwrap()
        .unwrap();
    assert_eq!(again.tries, 2);
    // The answer and its callback event are written together, by the owner only.
    let answer = |id: &str| {
        let mut e = event(id, 0, 52_000);
        e.source = "ops.calls".into();
        e.deliveries = vec![NewDelivery {
            route: "ops.callback".into(),
            destination: "hooks".into(),
            due_at: 52_000,
            ordering: Ordering::None,
        }];
        e
    };
    assert!(
        !store
            .finish_call(
                "call_1",
                &owner,
                200,
                "{}".into(),
                51_000,
                Some(answer("lost"))
            )
            .await
            .unwrap(),
        "the old owner's answer is refused"
    );
    assert!(store
        .finish_call(
            "call_1",
            "node-new",
            200,
            r#"{"id":"cus_1"}"#.into(),
            52_000,
            Some(answer("call_1")),
        )
        .await
        .unwrap());
    let filter = EventFilter {
        source: Some("ops.calls".into()),
        ..Default::default()
    };
    let events = store.events(&filter, 10).await.unwrap();
    assert_eq!(
        events.len(),
        1,
        "the fenced owner's callback was not written"
    );
    assert_eq!(events[0].external_id, "call_1");
    assert_eq!(store.deliveries_of(events[0].id).await.unwrap().len(), 1);
    assert_eq!(
        store
            .get_call("call_1")
            .await
            .unwrap()
            .unwrap()
            .callback
            .as_deref(),
        Some("hooks")
    );
    let done = store.get_call("call_1").await.unwrap().unwrap();
    assert_eq!(done.state, junction_store::CallState::Done);
    assert_eq!(
        (done.status, done.body.as_deref()),
        (Some(200), Some(r#"{"id":"cus_1"}"#))
    );
    assert!(store
        .take_call("call_1", "x", 90_000, 80_000)
        .await
        .unwrap()
        .is_none());
    // Stored as taken by the process that runs it at once.
    let mut mine = call("call_2");
    mine.owner = Some("node-a".into());
    store.queue_call(mine).await.unwrap();
    let held = store.get_call("call_2").await.unwrap().unwrap();
    assert_eq!(held.state, junction_store::CallState::Running);
    assert_eq!((held.owner.as_deref(), held.tries), (Some("node-a"), 1));
    assert!(store
        .take_call("call_2", "node-b", 1_500, 500)
        .await
        .unwrap()
        .is_none());
    assert_eq!(store.purge_calls(52_001).await.unwrap(), 1);
    assert!(store.get_call("call_1").await.unwrap().is_none());
    assert!(
        store.get_call("call_2").await.unwrap().is_some(),
        "running calls are kept"
    );
}

fn share_req(holder: &str, want: u32, usage: u32) -> junction_store::ShareRequest {
    junction_store::ShareRequest {
        quota: "connector:crm".into(),
        holder: holder.into(),
        want,
        usage,
        ttl_ms: 60_000,
        hold_ms: 1_050,
        pause_ms: 0,
        learned: vec![],
    }
}

async fn quota_shares_of_live_processes_never_sum_above_the_limit_and_follow_demand(
    store: Arc<dyn Store>,
) {
    use junction_store::shares::WHOLE;
    // Alone, a process gets the whole quota.
    let a = store.renew_share(share_req("a", WHOLE, 0)).await.unwrap();
    assert_eq!((a.share, a.holders), (WHOLE, 1));
    // Three busy processes renewing at once, each using all it was granted: every round's
    // shares sum to at most the whole, and they converge on a third each.
    let mut used = std::collections::HashMap::from([("a", WHOLE), ("b", 0), ("c", 0)]);
    let mut last = Vec::new();
    for _ in 0..8 {
        let round = ["a", "b", "c"].map(|h| {
            let store = store.clone();
            let usage = used[h];
            async move {
                (
                    h,
                    store.renew_share(share_req(h, WHOLE, usage)).await.unwrap(),
                )
            }
        });
        let grants = futures_util::future::join_all(round).await;
        let sum: u64 = grants.iter().map(|(_, g)| u64::from(g.share)).sum();
        assert!(sum <= u64::from(WHOLE), "shares sum to {sum}: {grants:?}");
        for (h, g) in &grants {
            used.insert(*h, g.share);
        }
        last = grants.iter().map(|(_, g)| g.share).collect();
    }
    assert!(
        last.iter().all(|s| s.abs_diff(WHOLE / 3) <= 1),
        "a third each: {last:?}"
    );
    // Two go idle: the busy one gets what they leave.
    for h in ["b", "c"] {
        store
            .renew_share(share_req(h, WHOLE / 100, 0))
            .await
            .unwrap();
    }
    let a = store
        .renew_share(share_req("a", WHOLE, WHOLE / 3))
        .await
        .unwrap();
    assert_eq!(a.share, WHOLE - 2 * (WHOLE / 100), "{a:?}");
    // A pause and a learned window one process reports reach the others at their renewal.
    let mut paused = share_req("b", WHOLE / 100, 0);
    paused.pause_ms = 30_000;
    paused.learned = vec![(50, 1_000)];
    store.renew_share(paused).await.unwrap();
    let mut stricter = share_req("a", WHOLE, 0);
    stricter.learned = vec![(80, 1_000), (900, 60_000)];
    let a = store.renew_share(stricter).await.unwrap();
    let pause = a.paused_for_ms.expect("the pause is shared");
    assert!((25_000..=30_000).contains(&pause), "{pause}");
    assert_eq!(
        a.learned,
        vec![(50, 1_000), (900, 60_000)],
        "the stricter limit per window"
    );
    // A holder whose lease lapsed keeps its claim until its calls have left the window, then
    // gives it up.
    let mut short = share_req("d", WHOLE, 0);
    short.quota = "connector:other".into();
    short.ttl_ms = 200;
    short.hold_ms = 300;
    assert_eq!(store.renew_share(short.clone()).await.unwrap().share, WHOLE);
    let mut e = short.clone();
    e.holder = "e".into();
    e.ttl_ms = 60_000;
    assert_eq!(
        store.renew_share(e.clone()).await.unwrap().share,
        0,
        "d holds it all"
    );
    tokio::time::sleep(Duration::from_millis(300)).await;
    assert_eq!(
        store.renew_share(e.clone()).await.unwrap().share,
        0,
        "lapsed, but its calls may still be in the window"
    );
    tokio::time::sleep(Duration::from_millis(300)).await;
    assert_eq!(store.renew_share(e).await.unwrap().share, WHOLE);
}

async fn a_circuit_opened_by_one_process_is_seen_open_by_the_others_until_closed(
    store: Arc<dyn Store>,
) {
    assert!(store.open_circuits().await.unwrap().is_empty());
    store
        .mark_circuit("connector:crm", Some(5_000), "node-a")
        .await
        .unwrap();
    // A shorter mark never cuts a longer one short.
    store
        .mark_circuit("connector:crm", Some(1_000), "node-b")
        .await
        .unwrap();
    let open = store.open_circuits().await.unwrap();
    assert_eq!(open.len(), 1);
    assert_eq!(
        (open[0].name.as_str(), open[0].by.as_str()),
        ("connector:crm", "node-a")
    );
    assert!((4_000..=5_000).contains(&open[0].open_for_ms), "{open:?}");
    store
        .mark_circuit("connector:crm", None, "node-a")
        .await
        .unwrap();
    assert!(store.open_circuits().await.unwrap().is_empty());
    // Reopened after a close.
    store
        .mark_circuit("connector:crm", Some(2_000), "node-b")
        .await
        .unwrap();
    assert_eq!(store.open_circuits().await.unwrap()[0].by, "node-b");
}

async fn a_learned_shape_is_replaced_only_by_one_learned_from_more_payloads(store: Arc<dyn Store>) {
    let shape = |samples: i64, text: &str, at: i64| LearnedShape {
        scope: "source".into(),
        subject: "crm/customer.updated".into(),
        samples,
        shape: text.into(),
        saved_at: at,
    };
    store
        .save_shapes(vec![shape(30, "thirty", 1)])
        .await
        .unwrap();
    store.save_shapes(vec![shape(5, "five", 2)]).await.unwrap();
    assert_eq!(
        store.learned_shapes(10).await.unwrap(),
        vec![shape(30, "thirty", 1)]
    );
    store.save_shapes(vec![shape(31, "more", 3)]).await.unwrap();
    assert_eq!(
        store.learned_shapes(10).await.unwrap(),
        vec![shape(31, "more", 3)]
    );
}

/// An event about `subjects`, with one delivery to `d0`.
fn about(id: &str, subjects: &[&str], payload: &str) -> NewEvent {
    let mut e = event(id, 1, T0);
    e.entity_key = Some(format!("key-{id}"));
    e.payload = payload.as_bytes().to_vec();
    e.subjects = subjects.iter().map(|s| subject_hash(s)).collect();
    e
}

async fn erasing_a_data_subject_removes_every_trace_and_later_events_about_it_are_not_stored(
    store: Arc<dyn Store>,
) {
    let alice = r#"{"customer":"cus_alice","email":"alice@example.com"}"#;
    let bob = r#"{"customer":"cus_bob"}"#;
    for i in 0..3 {
        add(&store, about(&format!("a{i}"), &["cus_alice"], alice)).await;
    }
    add(&store, about("b0", &["cus_bob"], bob)).await;
    add(&store, about("b1", &["cus_bob"], bob)).await;
    // About both: it goes with either.
    add(&store, about("ab", &["cus_bob", "cus_alice"], alice)).await;
    // One of Alice's deliveries is a dead letter with the vendor's answer quoting her.
    let claimed = store.claim(&claim("w", 100, T0)).await.unwrap();
    let a0 = claimed
        .iter()
        .find(|c| c.event.external_id == "a0")
        .unwrap();
    let mut a = attempt(422);
    a.response_excerpt = Some("unknown customer alice@example.com".into());
    store.dead_letter(a0.lease, a, "422", T0 + 1).await.unwrap();
    let reject = |body: &str| RejectedRequest {
        id: 0,
        source: "stripe".into(),
        at_ms: T0,
        reason: "bad_signature".into(),
        status: 401,
        detail: "bad signature".into(),
        headers: vec![],
        body: body.into(),
        size: body.len() as i64,
    };
    store.record_rejected(reject(alice), 50).await.unwrap();
    store.record_rejected(reject(bob), 50).await.unwrap();
    store
        .record_drift(vec![DriftRecord {
            scope: "source".into(),
            subject: "stripe/customer.updated".into(),
            path: "email".into(),
            kind: "type_changed".into(),
            detail: "was a string, got \"cus_alice\"".into(),
            first_seen: T0,
            last_seen: T0,
            count: 1,
        }])
        .await
        .unwrap();

    let erased = store
        .erase(Erase {
            subject: subject_hash("cus_alice"),
            value: Some("cus_alice".into()),
            actor: "token:admin".into(),
            reason: "GDPR request 42".into(),
            at: T0 + 10,
            record: true,
        })
        .await
        .unwrap();
    assert_eq!(
        (
            erased.events,
            erased.deliveries,
            erased.attempts,
            erased.rejected,
            erased.drift
        ),
        (4, 4, 1, 1, 1),
        "{erased:?}"
    );
    let left = store.events(&EventFilter::default(), 100).await.unwrap();
    let mut ids: Vec<&str> = left.iter().map(|e| e.external_id.as_str()).collect();
    ids.sort();
    assert_eq!(ids, ["b0", "b1"], "Bob's events stay");
    assert_eq!(
        store.queue_stats(T0).await.unwrap().dead,
        0,
        "the dead letter went"
    );
    let samples = store.rejected(None, 10).await.unwrap();
    assert_eq!(samples.len(), 1);
    assert!(!samples[0].body.contains("alice"));
    assert!(store.drift(10).await.unwrap().is_empty());

    // Kept: the hash, who, why and what went; never the identifier.
    let kept = store.erasures(10).await.unwrap();
    assert_eq!(kept.len(), 1);
    assert_eq!(kept[0].subject, subject_hash("cus_alice"));
    assert_eq!(
        (kept[0].actor.as_str(), kept[0].reason.as_str()),
        ("token:admin", "GDPR request 42")
    );
    assert_eq!(kept[0].erased, erased);

    // A provider's retry, a sync or a replay about Alice is not stored again.
    let back = store
        .append(about("a9", &["cus_alice"], alice))
        .await
        .unwrap();
    assert_eq!(back, Appended::Erased);
    let back = store
        .append(about("ab2", &["cus_bob", "cus_alice"], alice))
        .await
        .unwrap();
    assert_eq!(back, Appended::Erased);
    assert_eq!(
        store
            .events(&EventFilter::default(), 100)
            .await
            .unwrap()
            .len(),
        2
    );

    // A sweep repeats the erasure without keeping it twice.
    let swept = store
        .erase(Erase {
            subject: subject_hash("cus_alice"),
            value: None,
            actor: "token:admin".into(),
            reason: "GDPR request 42".into(),
            at: T0 + 20,
            record: false,
        })
        .await
        .unwrap();
    assert_eq!(swept, ErasedCounts::default());
    assert_eq!(store.erasures(10).await.unwrap().len(), 1);

    // Bob's index is intact: erasing him finds both his events.
    let bob_erased = store
        .erase(Erase {
            subject: subject_hash(" cus_bob "),
            value: None,
            actor: "a".into(),
            reason: "r".into(),
            at: T0 + 30,
            record: true,
        })
        .await
        .unwrap();
    assert_eq!(bob_erased.events, 2);
    // Newest first, at most `limit`.
    let newest = store.erasures(1).await.unwrap();
    assert_eq!(newest.len(), 1);
    assert_eq!(newest[0].subject, subject_hash("cus_bob"));
    assert!(store
        .events(&EventFilter::default(), 100)
        .await
        .unwrap()
        .is_empty());
}

/// The bytes are gone from the files, not only the rows: the database, its free pages and the
/// WAL hold no trace of the subject's values after the erasure.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sqlite_erasure_leaves_no_byte_of_the_subject_in_the_database_or_its_wal() {
    let (store, dir) = sqlite().await;
    let alice = |i: usize| {
        format!(
            r#"{{"n":{i},"customer":"cus_alice_7f3a","email":"alice.liddell@example.org","bio":"{}"}}"#,
            "Wonderland ".repeat(if i == 0 { 800 } else { 3 })
        )
    };
    for i in 0..2_000 {
        let e = if i % 40 == 0 {
            about(&format!("a{i}"), &["cus_alice_7f3a"], &alice(i))
        } else {
            about(
                &format!("o{i}"),
                &[&format!("cus_{i}")],
                &format!(r#"{{"n":{i},"customer":"cus_{i}","email":"user{i}@example.net"}}"#),
            )
        };
        add(&store, e).await;
    }
    let erased = store
        .erase(Erase {
            subject: subject_hash("cus_alice_7f3a"),
            value: Some("cus_alice_7f3a".into()),
            actor: "t".into(),
            reason: "r".into(),
            at: T0,
            record: true,
        })
        .await
        .unwrap();
    assert_eq!(erased.events, 50);
    let scan = |what: &str| -> Vec<String> {
        let mut found = Vec::new();
        for name in ["j.db", "j.db-wal"] {
            let Ok(bytes) = std::fs::read(dir.path().join(name)) else {
                continue;
            };
            for needle in ["cus_alice_7f3a", "alice.liddell@example.org", "Wonderland"] {
                let n = bytes
                    .windows(needle.len())
                    .filter(|w| *w == needle.as_bytes())
                    .count();
                if n > 0 {
                    found.push(format!("{what}: {name} holds `{needle}` {n} times"));
                }
            }
        }
        found
    };
    let found = scan("while open");
    assert!(found.is_empty(), "{found:?}");
    // Others' data is still there (the scan can see what is in the files).
    let db = std::fs::read(dir.path().join("j.db")).unwrap();
    let wal = std::fs::read(dir.path().join("j.db-wal")).unwrap_or_default();
    let seen = |needle: &str| {
        db.windows(needle.len()).any(|w| w == needle.as_bytes())
            || wal.windows(needle.len()).any(|w| w == needle.as_bytes())
    };
    assert!(seen("user1@example.net"));
    drop(store);
    let found = scan("after closing");
    assert!(found.is_empty(), "{found:?}");
}

async fn a_purge_deletes_only_the_sources_it_is_given(store: Arc<dyn Store>) {
    for (id, source) in [("a1", "crm"), ("a2", "crm"), ("b1", "shop"), ("c1", "erp")] {
        let mut e = event(id, 0, T0);
        e.source = source.into();
        add(&store, e).await;
    }
    let left = |store: Arc<dyn Store>| async move {
        let mut ids: Vec<String> = store
            .events(&EventFilter::default(), 100)
            .await
            .unwrap()
            .into_iter()
            .map(|e| e.external_id)
            .collect();
        ids.sort();
        ids
    };
    let only = Sources::Only("crm".into());
    assert_eq!(store.purge(T0 + 1, 100, &only).await.unwrap(), 2);
    assert_eq!(left(store.clone()).await, ["b1", "c1"]);
    let except = Sources::Except(vec!["shop".into(), "crm".into()]);
    assert_eq!(store.purge(T0 + 1, 100, &except).await.unwrap(), 1);
    assert_eq!(left(store.clone()).await, ["b1"], "shop keeps its own");
    assert_eq!(store.purge(T0 + 1, 100, &Sources::All).await.unwrap(), 1);
}
