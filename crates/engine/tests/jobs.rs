//! The scheduler without a leader, driven tick by tick at chosen times: a missed slot runs once
//! (or not, with `missed: skip`), each later slot runs once however many processes tick, a
//! paused job starts nothing, a manual run never takes a scheduled slot — on SQLite and
//! PostgreSQL.

mod support;

use std::future::Future;
use std::pin::Pin;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::Duration;

use junction_engine::dispatch::{OperationDelivery, Operations, Sent};
use junction_engine::jobs::Scheduler;
use junction_server::AppState;
use junction_store::RunState;
use serde_json::{json, Map, Value};
use support::{Db, DbGuard};

/// Connectors that answer every probe call with 200, counting them.
#[derive(Default)]
struct Counting(AtomicUsize);

impl Operations for Counting {
    fn deliver<'a>(
        &'a self,
        _: OperationDelivery<'a>,
    ) -> Pin<Box<dyn Future<Output = (Sent, Option<String>)> + Send + 'a>> {
        Box::pin(async {
            let held = Sent::Held {
                reason: "not in this test".into(),
                retry_after: None,
            };
            (held, None)
        })
    }

    fn call<'a>(
        &'a self,
        _: &'a str,
        _: &'a str,
        _: Map<String, Value>,
    ) -> Pin<Box<dyn Future<Output = (u16, Value)> + Send + 'a>> {
        self.0.fetch_add(1, Ordering::SeqCst);
        Box::pin(async { (200, json!({ "id": "cus_1" })) })
    }

    fn page<'a>(
        &'a self,
        _: junction_engine::dispatch::PageCall<'a>,
    ) -> junction_engine::dispatch::PageFuture<'a> {
        Box::pin(async { Err((501, json!({ "error": { "message": "not in this test" } }))) })
    }
}

fn config(missed: &str) -> String {
    format!(
        r#"
connectors:
  crm:
    base_url: http://127.0.0.1:9
    operations:
      get_customer: {{ path: "/customers/{{id}}" }}
jobs:
  probe:
    every: 1m
    missed: {missed}
    probe: {{ connector: crm, calls: [ {{ operation: get_customer, input: {{ id: cus_1 }} }} ] }}
"#
    )
}

async fn state(db: Db, missed: &str) -> Option<(AppState, DbGuard)> {
    let (guard, url) = DbGuard::new(db).await?;
    let yaml = format!("store: {{ url: \"{url}\" }}\n{}", config(missed));
    let config =
        junction_config::load_str(&yaml, "junction.yaml", &Default::default(), &|_| None).unwrap();
    let options = junction_store::Options {
        url: config.store.url.clone(),
        max_connections: 8,
        connect_timeout: Duration::from_secs(5),
    };
    let store = junction_store::open(&options).await.unwrap();
    Some((AppState::new(config, store), guard))
}

/// Waits until every run of `probe` has finished.
async fn finished(state: &AppState, n: usize) -> Vec<junction_store::JobRun> {
    for _ in 0..100 {
        let runs = state
            .store
            .job_runs(Some("probe".into()), 100)
            .await
            .unwrap();
        if runs.len() == n && runs.iter().all(|r| r.state != RunState::Running) {
            return runs;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    panic!("runs did not finish");
}

const MIN: i64 = 60_000;

async fn a_missed_slot_runs_once_then_each_slot_once_across_processes(db: Db) {
    let Some((state, _guard)) = state(db, "run_once").await else {
        return;
    };
    let ops = Arc::new(Counting::default());
    let a = Scheduler::new(&state, Some(ops.clone()), Default::default());
    let b = Scheduler::new(&state, Some(ops.clone()), Default::default());
    let now = junction_core::time::now_ms();
    // The slot due when the processes start came due before them: missed, run once.
    a.tick(now).await.unwrap();
    b.tick(now).await.unwrap();
    a.tick(now + 1_000).await.unwrap();
    let runs = finished(&state, 1).await;
    assert_eq!(runs[0].trigger, "missed");
    assert_eq!(runs[0].slot, now.div_euclid(MIN) * MIN);
    assert_eq!(runs[0].state, RunState::Succeeded);
    // Ten later slots, both processes ticking several times within each: one run per slot.
    for i in 1..=10 {
        let t = now + i * MIN;
        let (x, y) = tokio::join!(a.tick(t), b.tick(t));
        x.unwrap();
        y.unwrap();
        a.tick(t + 500).await.unwrap();
        b.tick(t + 900).await.unwrap();
    }
    let runs = finished(&state, 11).await;
    let mut slots: Vec<i64> = runs.iter().map(|r| r.slot).collect();
    slots.sort();
    slots.dedup();
    assert_eq!(slots.len(), 11, "one run per slot");
    assert!(runs[..10].iter().all(|r| r.trigger == "schedule"));
    assert_eq!(ops.0.load(Ordering::SeqCst), 11, "one probe call per run");
    // Paused: nothing starts; a manual run still does, on a slot of its own.
    state.store.pause_job("probe", "test", now).await.unwrap();
    a.tick(now + 20 * MIN).await.unwrap();
    let id = a.run_now("probe", false).await.unwrap().unwrap();
    let runs = finished(&state, 12).await;
    assert_eq!(runs[0].id, id);
    assert_eq!(runs[0].trigger, "manual");
    assert!(runs[0].slot < 0);
    assert_eq!(a.run_now("nope", false).await.unwrap(), None);
}

async fn a_missed_slot_is_skipped_when_the_job_says_so(db: Db) {
    let Some((state, _guard)) = state(db, "skip").await else {
        return;
    };
    let ops = Arc::new(Counting::default());
    let a = Scheduler::new(&state, Some(ops.clone()), Default::default());
    let now = junction_core::time::now_ms();
    a.tick(now).await.unwrap();
    tokio::time::sleep(Duration::from_millis(200)).await;
    assert!(state
        .store
        .job_runs(Some("probe".into()), 10)
        .await
        .unwrap()
        .is_empty());
    a.tick(now + MIN).await.unwrap();
    let runs = finished(&state, 1).await;
    assert_eq!(runs[0].trigger, "schedule");
    assert_eq!(runs[0].slot, (now + MIN).div_euclid(MIN) * MIN);
}

macro_rules! on_both {
    ($($name:ident),* $(,)?) => {
        mod sqlite { $(
            #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
            async fn $name() { super::$name(super::Db::Sqlite).await }
        )* }
        mod postgres { $(
            #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
            async fn $name() { super::$name(super::Db::Postgres).await }
        )* }
    };
}

on_both!(
    a_missed_slot_runs_once_then_each_slot_once_across_processes,
    a_missed_slot_is_skipped_when_the_job_says_so,
);
