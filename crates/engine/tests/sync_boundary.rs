//! Proof at the boundary: thousands of randomized sync runs against a simulated vendor — records
//! sharing the checkpoint's second, times rounded to the second, Junction's clock skewed from the
//! vendor's, records updated and created while a pass pages, and runs killed between pages —
//! lose no record and emit none twice. Each scenario runs on its own source in one real store;
//! its seed is printed when it fails, and `SYNC_SEED=N` replays one.

mod support;

use std::collections::{BTreeMap, HashMap, HashSet};
use std::sync::atomic::{AtomicI64, Ordering};
use std::sync::{Arc, Mutex};

use junction_engine::dispatch::{PageFuture, Pulled};
use junction_engine::jobs::sync::{Failed, Pager, Syncer};
use junction_store::{EventFilter, Store};
use serde_json::{json, Map, Value};
use support::{Db, DbGuard};

/// A small deterministic generator (xorshift64*), so a failing scenario replays from its seed.
struct Rng(u64);

impl Rng {
    fn new(seed: u64) -> Self {
        Rng(seed.wrapping_mul(0x9E37_79B9_7F4A_7C15) | 1)
    }
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 >> 12;
        self.0 ^= self.0 << 25;
        self.0 ^= self.0 >> 27;
        self.0.wrapping_mul(0x2545_F491_4F6C_DD1D)
    }
    fn below(&mut self, n: u64) -> u64 {
        self.next() % n.max(1)
    }
    fn chance(&mut self, percent: u64) -> bool {
        self.below(100) < percent
    }
}

#[derive(Clone, Copy)]
struct Rec {
    updated_ms: i64,
    rev: u32,
}

/// How this scenario's vendor behaves.
#[derive(Clone, Copy, Debug)]
struct Traits {
    /// Lists by `(updated, id)` (else by id); either way a keyset cursor.
    by_updated: bool,
    /// `updated_since` is inclusive (else exclusive).
    inclusive: bool,
    /// Sends a `Date` header (else Junction's skewed clock is all there is).
    date: bool,
    page_size: usize,
    /// Junction's clock minus the vendor's, in ms.
    skew: i64,
}

struct Vendor {
    clock: AtomicI64,
    state: Mutex<VendorState>,
    traits: Traits,
}

struct VendorState {
    records: BTreeMap<String, Rec>,
    rng: Rng,
    next_id: u32,
    /// Mutations while paging (off for the final quiet passes).
    churn: bool,
    /// The page call at which the current run is killed (`u64::MAX`: never).
    kill_at: u64,
    calls: u64,
}

impl Vendor {
    fn now(&self) -> i64 {
        self.clock.load(Ordering::SeqCst)
    }

    /// Some records change, some appear; the vendor's clock moves on.
    fn churn(&self, s: &mut VendorState) {
        let step = s.rng.below(1_500) as i64;
        let now = self.clock.fetch_add(step, Ordering::SeqCst) + step;
        if !s.churn {
            return;
        }
        // Changes arrive slower than pages are read (a list ordered by `updated` that changes
        // faster than it is read has no end).
        if !s.rng.chance(40) {
            return;
        }
        for _ in 0..1 + s.rng.below(2) {
            let n = s.records.len() as u64;
            let pick = s.rng.below(n);
            if let Some((_, r)) = s.records.iter_mut().nth(pick as usize) {
                r.rev += 1;
                r.updated_ms = now;
            }
        }
        if s.rng.chance(25) {
            s.next_id += 1;
            let id = format!("r{:05}", s.next_id);
            s.records.insert(
                id,
                Rec {
                    updated_ms: now,
                    rev: 1,
                },
            );
        }
    }

    fn line(id: &str, r: &Rec) -> String {
        // The vendor rounds its times to the second.
        let updated = humantime::format_rfc3339_seconds(
            std::time::UNIX_EPOCH + std::time::Duration::from_millis(r.updated_ms as u64),
        );
        json!({ "id": id, "updated_at": updated.to_string(), "rev": r.rev }).to_string()
    }
}

impl Pager for Vendor {
    fn page<'a>(&'a self, input: Map<String, Value>, cursor: Option<&'a str>) -> PageFuture<'a> {
        Box::pin(async move {
            let mut s = self.state.lock().unwrap();
            s.calls += 1;
            if s.calls >= s.kill_at {
                // The process dies: nothing of this page is committed.
                return Err((599, json!({ "error": { "message": "killed" } })));
            }
            self.churn(&mut s);
            let since_s = input.get("updated_since").and_then(Value::as_str).map(|t| {
                humantime::parse_rfc3339(t)
                    .unwrap()
                    .duration_since(std::time::UNIX_EPOCH)
                    .unwrap()
                    .as_secs() as i64
            });
            let t = self.traits;
            let mut rows: Vec<(i64, &String, &Rec)> = s
                .records
                .iter()
                .filter(|(_, r)| {
                    let secs = r.updated_ms.div_euclid(1000);
                    since_s.is_none_or(|since| {
                        if t.inclusive {
                            secs >= since
                        } else {
                            secs > since
                        }
                    })
                })
                .map(|(id, r)| {
                    (
                        if t.by_updated {
                            r.updated_ms.div_euclid(1000)
                        } else {
                            0
                        },
                        id,
                        r,
                    )
                })
                .collect();
            rows.sort_by(|a, b| (a.0, a.1).cmp(&(b.0, b.1)));
            let after: Option<(i64, String)> = cursor.map(|c| {
                let (k, id) = c.split_once('|').unwrap();
                (k.parse().unwrap(), id.to_owned())
            });
            let start = match &after {
                None => 0,
                Some((k, id)) => rows
                    .iter()
                    .position(|(rk, rid, _)| (*rk, rid.as_str()) > (*k, id.as_str()))
                    .unwrap_or(rows.len()),
            };
            let end = (start + t.page_size).min(rows.len());
            let mut lines = Vec::new();
            for (_, id, r) in &rows[start..end] {
                lines.extend_from_slice(Vendor::line(id, r).as_bytes());
                lines.push(b'\n');
            }
            let next = (end < rows.len()).then(|| {
                let (k, id, _) = rows[end - 1];
                format!("{k}|{id}")
            });
            let now = self.now();
            Ok(Pulled {
                lines,
                next,
                vendor_now: t.date.then_some(now.div_euclid(1000) * 1000),
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
        query: [updated_since]
        paginate: { style: cursor, records: data, param: starting_after, next: next }
sources:
  s:
    kind: sync
    sync:
      connector: crm
      operation: list
      entity: record
      version: .updated_at
      since: { param: updated_since, lookback: 5s }
"#;

/// One scenario: a vendor, runs with churn and kills, then quiet runs; then the proof.
async fn scenario(store: &dyn Store, config: &junction_config::Config, seed: u64) {
    let mut rng = Rng::new(seed);
    let traits = Traits {
        by_updated: rng.chance(50),
        inclusive: rng.chance(50),
        date: rng.chance(50),
        page_size: 2 + rng.below(5) as usize,
        // Within the lookback (5 s) less the time a page takes.
        skew: rng.below(6_000) as i64 - 3_000,
    };
    let mut records = BTreeMap::new();
    let start = 1_800_000_000_000 + rng.below(1_000_000) as i64;
    let initial = 5 + rng.below(25) as u32;
    for i in 0..initial {
        // Several share a second, and the checkpoint's second.
        let updated_ms = start - 10_000 + rng.below(10_000) as i64;
        records.insert(format!("r{i:05}"), Rec { updated_ms, rev: 1 });
    }
    let vendor = Vendor {
        clock: AtomicI64::new(start),
        state: Mutex::new(VendorState {
            records,
            rng: Rng::new(seed ^ 0xABCD),
            next_id: initial,
            churn: true,
            kill_at: u64::MAX,
            calls: 0,
        }),
        traits,
    };
    let mut source = config.flows.sources["s"].clone();
    source.name = format!("s{seed}");
    let clock = |v: &Vendor| v.now() + traits.skew;
    let junction_clock = || clock(&vendor);
    let syncer = Syncer::new(store, config, &source, &junction_clock).unwrap();
    let runs = 6 + rng.below(6);
    let mut killed = 0;
    for run in 0..runs + 3 {
        let quiet = run >= runs;
        {
            let mut s = vendor.state.lock().unwrap();
            s.churn = !quiet;
            s.calls = 0;
            s.kill_at = if !quiet && rng.chance(40) {
                1 + rng.below(6)
            } else {
                u64::MAX
            };
        }
        match syncer
            .pass(&vendor, false, false, &mut |_| {}, &|_| {})
            .await
        {
            Ok(r) => {
                if std::env::var("SYNC_SEED").is_ok() {
                    eprintln!("{r:?}");
                }
            }
            Err(Failed::Vendor(599, _)) => killed += 1,
            Err(e) => panic!("seed {seed}: {e}"),
        }
        // Time passes between runs.
        let gap = rng.below(4_000) as i64;
        vendor.clock.fetch_add(gap, Ordering::SeqCst);
    }
    if std::env::var("SYNC_SEED").is_ok() {
        let s = vendor.state.lock().unwrap();
        eprintln!(
            "seed {seed} {traits:?}: {runs} runs, {killed} killed, {} records",
            s.records.len()
        );
    }

    // The proof: every record's newest event is the vendor's current revision; no revision twice.
    let filter = EventFilter {
        source: Some(source.name.clone()),
        ..Default::default()
    };
    let events = store.events(&filter, 100_000).await.unwrap();
    let mut newest: HashMap<String, u32> = HashMap::new();
    let mut seen: HashSet<(String, u32)> = HashSet::new();
    for e in &events {
        let v: Value = serde_json::from_slice(&e.payload).unwrap();
        let (id, rev) = (
            v["id"].as_str().unwrap().to_owned(),
            v["rev"].as_u64().unwrap() as u32,
        );
        assert!(
            seen.insert((id.clone(), rev)),
            "seed {seed} ({traits:?}): {id} rev {rev} emitted twice"
        );
        let n = newest.entry(id).or_default();
        *n = (*n).max(rev);
    }
    let s = vendor.state.lock().unwrap();
    for (id, r) in &s.records {
        assert_eq!(
            newest.get(id).copied(),
            Some(r.rev),
            "seed {seed} ({traits:?}): {id} is at rev {} at the vendor",
            r.rev
        );
    }
}

async fn prove(url: String, seeds: u64) {
    let overrides = junction_config::Overrides {
        database_url: Some(url),
        ..Default::default()
    };
    let config = junction_config::load_str(CONFIG, "junction.yaml", &overrides, &|_| None)
        .unwrap_or_else(|e| panic!("{e}"));
    let store: Arc<dyn Store> = junction_store::open(&config.store).await.unwrap();
    let seeds: Vec<u64> = match std::env::var("SYNC_SEED") {
        Ok(s) => vec![s.parse().unwrap()],
        Err(_) => (1..=std::env::var("SYNC_SEEDS").map_or(seeds, |n| n.parse().unwrap())).collect(),
    };
    for seed in seeds {
        scenario(store.as_ref(), &config, seed).await;
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sync_boundary_no_record_lost_none_emitted_twice_over_thousands_of_runs() {
    // A real SQLite store, on memory-backed files where the machine has them: the proof is in
    // the transactions, not in the disk's fsyncs.
    let dir = match std::path::Path::new("/dev/shm").is_dir() {
        true => tempfile::tempdir_in("/dev/shm").unwrap(),
        false => tempfile::tempdir().unwrap(),
    };
    prove(
        format!("sqlite://{}", dir.path().join("j.db").display()),
        400,
    )
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sync_boundary_holds_on_postgres() {
    let Some((_db, url)) = DbGuard::new(Db::Postgres).await else {
        return;
    };
    prove(url, 40).await;
}
