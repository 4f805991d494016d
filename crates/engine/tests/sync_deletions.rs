//! Full passes and deletions: entities a full pass no longer lists become `deleted` events, and
//! the guard refuses to delete more than the source's share without an operator's confirmation
//! (a vendor answering an empty list must not delete your customers).

use std::sync::{Arc, Mutex};

use junction_engine::dispatch::{PageFuture, Pulled};
use junction_engine::jobs::sync::{Failed, Pager, Report, Syncer};
use junction_store::{EventFilter, Store};
use serde_json::{json, Map, Value};

/// A vendor listing whatever ids it holds, two per page.
struct List(Mutex<Vec<String>>);

impl Pager for List {
    fn page<'a>(&'a self, _: Map<String, Value>, cursor: Option<&'a str>) -> PageFuture<'a> {
        Box::pin(async move {
            let ids = self.0.lock().unwrap().clone();
            let start: usize = cursor.map_or(0, |c| c.parse().unwrap());
            let end = (start + 2).min(ids.len());
            let mut lines = Vec::new();
            for id in &ids[start..end] {
                lines.extend_from_slice(json!({ "id": id, "name": id }).to_string().as_bytes());
                lines.push(b'\n');
            }
            Ok(Pulled {
                lines,
                next: (end < ids.len()).then(|| end.to_string()),
                vendor_now: None,
            })
        })
    }
}

const CONFIG: &str = r#"
connectors:
  crm:
    base_url: http://127.0.0.1:9
    operations:
      list:
        path: /records
        paginate: { style: cursor, records: data, param: after, next: next }
destinations:
  sink: { url: "http://127.0.0.1:9/sink" }
sources:
  customers:
    kind: sync
    sync: { connector: crm, operation: list, entity: customer, deletions: { max_percent: 25 } }
  feed:
    kind: sync
    sync: { connector: crm, operation: list, entity: customer, resume_cursor: true }
routes:
  all: { from: customers, to: [ sink ] }
"#;

struct Fixture {
    _dir: tempfile::TempDir,
    store: Arc<dyn Store>,
    config: junction_config::Config,
}

async fn fixture() -> Fixture {
    let dir = tempfile::tempdir().unwrap();
    let overrides = junction_config::Overrides {
        database_url: Some(format!("sqlite://{}", dir.path().join("j.db").display())),
        ..Default::default()
    };
    let config = junction_config::load_str(CONFIG, "junction.yaml", &overrides, &|_| None)
        .unwrap_or_else(|e| panic!("{e}"));
    let store = junction_store::open(&config.store).await.unwrap();
    Fixture {
        _dir: dir,
        store,
        config,
    }
}

fn ids(range: std::ops::Range<u32>) -> Vec<String> {
    range.map(|i| format!("cus_{i:03}")).collect()
}

async fn pass(f: &Fixture, vendor: &List, confirm: bool) -> Result<Report, Failed> {
    let clock = junction_core::time::now_ms;
    let source = &f.config.flows.sources["customers"];
    let syncer = Syncer::new(f.store.as_ref(), &f.config, source, &clock).unwrap();
    let r = syncer
        .pass(vendor, true, confirm, &mut |_| {}, &|_| {})
        .await;
    // Seen times are in ms: the next pass starts strictly later.
    tokio::time::sleep(std::time::Duration::from_millis(3)).await;
    r
}

async fn types(f: &Fixture) -> Vec<(String, String)> {
    let filter = EventFilter {
        source: Some("customers".into()),
        ..Default::default()
    };
    let mut out: Vec<(String, String)> = f
        .store
        .events(&filter, 1000)
        .await
        .unwrap()
        .into_iter()
        .map(|e| (e.event_type, e.entity_key.unwrap_or_default()))
        .collect();
    out.sort();
    out
}

#[tokio::test]
async fn a_full_pass_emits_deletions_for_what_the_list_no_longer_shows() {
    let f = fixture().await;
    let vendor = List(Mutex::new(ids(0..20)));
    let r = pass(&f, &vendor, false).await.unwrap();
    assert_eq!((r.pages, r.records, r.new), (10, 20, 20));
    // Two of twenty gone (10 %, within the 25 % the source allows).
    vendor
        .0
        .lock()
        .unwrap()
        .retain(|id| id != "cus_003" && id != "cus_017");
    let r = pass(&f, &vendor, false).await.unwrap();
    assert_eq!(
        (r.unchanged, r.deleted, r.absent, r.known),
        (18, 2, Some(2), Some(20))
    );
    let events = types(&f).await;
    let deleted: Vec<&str> = events
        .iter()
        .filter(|(t, _)| t == "customer.deleted")
        .map(|(_, k)| k.as_str())
        .collect();
    assert_eq!(deleted, ["cus_003", "cus_017"]);
    assert_eq!(events.len(), 22);
    // Deleted once: the next pass finds nothing to delete.
    let r = pass(&f, &vendor, false).await.unwrap();
    assert_eq!((r.deleted, r.absent), (0, Some(0)));
    // A deleted entity that comes back is new again.
    vendor.0.lock().unwrap().push("cus_003".into());
    let r = pass(&f, &vendor, false).await.unwrap();
    assert_eq!(r.new, 1);
}

#[tokio::test]
async fn an_empty_list_deletes_nothing_without_an_operators_confirmation() {
    let f = fixture().await;
    let vendor = List(Mutex::new(ids(0..20)));
    pass(&f, &vendor, false).await.unwrap();
    vendor.0.lock().unwrap().clear();
    match pass(&f, &vendor, false).await {
        Err(
            e @ Failed::TooManyDeletions {
                absent: 20,
                known: 20,
                ..
            },
        ) => {
            let text = e.to_string();
            assert!(
                text.contains("20 of 20") && text.contains("--confirm-deletions"),
                "{text}"
            );
        }
        other => panic!("{other:?}"),
    }
    assert!(types(&f)
        .await
        .iter()
        .all(|(t, _)| t == "customer.upserted"));
    // The vendor is fixed: nothing was lost, nothing is emitted again.
    *vendor.0.lock().unwrap() = ids(0..20);
    let r = pass(&f, &vendor, false).await.unwrap();
    assert_eq!((r.unchanged, r.new, r.deleted), (20, 0, 0));
    // Really gone, and confirmed: deleted.
    vendor.0.lock().unwrap().truncate(5);
    assert!(pass(&f, &vendor, false).await.is_err());
    let r = pass(&f, &vendor, true).await.unwrap();
    assert_eq!(r.deleted, 15);
    assert_eq!(
        types(&f)
            .await
            .iter()
            .filter(|(t, _)| t == "customer.deleted")
            .count(),
        15
    );
}

#[tokio::test]
async fn a_pass_cut_short_resumes_after_its_last_committed_page() {
    let f = fixture().await;
    let vendor = List(Mutex::new(ids(0..10)));
    // Dies at the fourth page: three pages (six records) are committed with their checkpoint.
    struct Dying<'a>(&'a List, Mutex<u32>);
    impl Pager for Dying<'_> {
        fn page<'a>(
            &'a self,
            input: Map<String, Value>,
            cursor: Option<&'a str>,
        ) -> PageFuture<'a> {
            let mut n = self.1.lock().unwrap();
            *n += 1;
            if *n == 4 {
                return Box::pin(async { Err((503, json!({ "error": { "message": "down" } }))) });
            }
            self.0.page(input, cursor)
        }
    }
    let dying = Dying(&vendor, Mutex::new(0));
    let clock = junction_core::time::now_ms;
    let source = &f.config.flows.sources["customers"];
    let syncer = Syncer::new(f.store.as_ref(), &f.config, source, &clock).unwrap();
    let mut seen = Vec::new();
    let e = syncer
        .pass(&dying, true, false, &mut |r| seen.push(r.records), &|_| {})
        .await
        .unwrap_err();
    assert!(e.to_string().contains("503"), "{e}");
    assert_eq!(seen, [2, 4, 6]);
    let r = pass(&f, &vendor, false).await.unwrap();
    assert!(r.resumed);
    // This run read the last two pages; the entities of the first three are not new to it.
    assert_eq!((r.pages, r.records, r.new), (2, 4, 4), "{r:?}");
    assert_eq!((r.known, r.absent), (Some(10), Some(0)));
    assert_eq!(types(&f).await.len(), 10);
}

#[tokio::test]
async fn an_incremental_pass_by_the_vendors_cursor_goes_on_from_where_the_last_one_ended() {
    let f = fixture().await;
    let vendor = List(Mutex::new(ids(0..5)));
    let clock = junction_core::time::now_ms;
    let source = &f.config.flows.sources["feed"];
    let syncer = Syncer::new(f.store.as_ref(), &f.config, source, &clock).unwrap();
    let r = syncer
        .pass(&vendor, false, false, &mut |_| {}, &|_| {})
        .await
        .unwrap();
    assert_eq!((r.pages, r.new), (3, 5));
    // Three more in the feed: the next pass starts at the page the last one ended on.
    vendor.0.lock().unwrap().extend(ids(5..8));
    let r = syncer
        .pass(&vendor, false, false, &mut |_| {}, &|_| {})
        .await
        .unwrap();
    assert_eq!(
        (r.pages, r.records, r.new, r.unchanged),
        (2, 4, 3, 1),
        "{r:?}"
    );
    // Nothing new: one page read, nothing emitted.
    let r = syncer
        .pass(&vendor, false, false, &mut |_| {}, &|_| {})
        .await
        .unwrap();
    assert_eq!((r.pages, r.new), (1, 0), "{r:?}");
}
