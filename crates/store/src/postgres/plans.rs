//! The queue's statements keep their plans as the queue grows (real PostgreSQL; skipped with a
//! loud message off CI when the server is unreachable, like the conformance suite).

use std::sync::Arc;
use std::time::Duration;

use junction_core::DatabaseUrl;
use junction_testkit::postgres::TestDb;
use sqlx::{Connection, PgConnection, Row};

use crate::{NewDelivery, NewEvent, Ordering, Store};

async fn store(db: &TestDb) -> Arc<dyn Store> {
    crate::open(&crate::Options {
        url: DatabaseUrl::Postgres(db.url.clone()),
        max_connections: 8,
        connect_timeout: Duration::from_secs(5),
    })
    .await
    .unwrap()
}

fn event(i: usize) -> NewEvent {
    NewEvent {
        source: "stripe".into(),
        external_id: format!("evt_{i}"),
        event_type: "customer.updated".into(),
        entity_key: None,
        sequence: None,
        received_at: 1,
        payload: b"{}".to_vec(),
        context: Default::default(),
        deliveries: vec![NewDelivery {
            route: "r".into(),
            destination: "d".into(),
            due_at: 1,
            ordering: Ordering::None,
        }],
        tracked: false,
        subjects: Vec::new(),
    }
}

/// Statistics taken when the queue held 300 delivered rows, then 20,000 pending rows added:
/// the cached (generic) plan of the batch statement still finishes deliveries through the
/// primary key. It used to filter on `state = 'pending'`, which let the planner pick the
/// partial queue index — and scan every pending delivery for each batch of finishes.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn finishing_deliveries_never_scans_the_queue_whatever_the_statistics_say() {
    let Some(db) = TestDb::create().await else {
        return;
    };
    let _store = store(&db).await;
    let mut c = PgConnection::connect(&db.url).await.unwrap();
    sqlx::raw_sql(
        "INSERT INTO events (source, external_id, event_type, received_at, payload)
           SELECT 's', 'e' || g, 't', 1, '\\x7b7d' FROM generate_series(1, 20300) g;
         INSERT INTO deliveries (event_id, route, destination, state, next_attempt_at, created_at, finished_at)
           SELECT id, 'r', 'd', 'delivered', 1, 1, 2 FROM events WHERE id <= 300;
         ANALYZE deliveries;
         INSERT INTO deliveries (event_id, route, destination, next_attempt_at, created_at)
           SELECT id, 'r', 'd', 1, 1 FROM events WHERE id > 300;",
    )
    .execute(&mut c)
    .await
    .unwrap();
    let params = vec!["NULL"; 35].join(", ");
    let rows = sqlx::raw_sql(&format!(
        "SET plan_cache_mode = force_generic_plan;
         PREPARE batch AS {};
         EXPLAIN EXECUTE batch({params});",
        super::write::BATCH_SQL
    ))
    .fetch_all(&mut c)
    .await
    .unwrap();
    let plan: Vec<String> = rows
        .iter()
        .filter_map(|r| r.try_get::<String, _>(0).ok())
        .collect();
    let plan = plan.join("\n");
    // The finishing part of the plan: from `CTE done` to the next CTE.
    let update = &plan[plan.find("CTE done").expect(&plan)..];
    let update = &update[..update.find("CTE recorded").expect(&plan)];
    assert!(
        update.contains("deliveries_pkey") && !update.contains("Seq Scan"),
        "finishing must look deliveries up by primary key:\n{plan}"
    );
    assert!(
        !update.contains("deliveries_destination_due"),
        "finishing must not read the queue index:\n{plan}"
    );
}

/// A process that queues as many deliveries as the queue held analyzes the queue tables, so
/// every session's cached plans are made again for the larger table (without waiting for
/// autovacuum, which looks once a minute).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_queue_tables_are_analyzed_as_they_grow() {
    let Some(db) = TestDb::create().await else {
        return;
    };
    let store = store(&db).await;
    let mut c = PgConnection::connect(&db.url).await.unwrap();
    let tasks: Vec<_> = (0..1_200)
        .map(|i| {
            let store = store.clone();
            tokio::spawn(async move { store.append(event(i)).await.unwrap() })
        })
        .collect();
    for t in tasks {
        t.await.unwrap();
    }
    let deadline = tokio::time::Instant::now() + Duration::from_secs(10);
    while analyzed(&mut c).await == 0 {
        // Statistics a backend reports reach the view within a second.
        assert!(
            tokio::time::Instant::now() < deadline,
            "1,200 deliveries queued on an empty queue and the queue tables were not analyzed"
        );
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
}

async fn analyzed(c: &mut PgConnection) -> i64 {
    sqlx::query_scalar("SELECT analyze_count FROM pg_stat_user_tables WHERE relname = 'deliveries'")
        .fetch_one(c)
        .await
        .unwrap()
}
