//! The GET cache of a connector: RFC 9111 semantics through `http-cache-semantics` (freshness
//! from Cache-Control / Expires, revalidation with ETag and Last-Modified, Vary), or a forced
//! TTL; bounded in bytes (the oldest entries go first); identical GETs in flight coalesced into
//! one upstream call. Entries outlive their freshness so a `fallback: stale` circuit can serve
//! the last good answer.

use std::collections::{HashMap, VecDeque};
use std::sync::{Arc, Mutex};
use std::time::{Duration, SystemTime};

use bytes::Bytes;
use http::{HeaderMap, StatusCode};
use http_cache_semantics::{AfterResponse, BeforeRequest, CacheOptions, CachePolicy};
use tokio::sync::watch;

/// Where an answer came from, as `X-Junction-Cache` says it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Outcome {
    /// Fresh in the cache: no upstream call.
    Hit,
    /// Not cached (or not cacheable): from the upstream.
    Miss,
    /// Stale in the cache, confirmed by the upstream's 304.
    Revalidated,
    /// An identical call was in flight: its answer, shared.
    Coalesced,
    /// The circuit is open: the last good answer, past its freshness.
    Stale,
    /// Not a cached kind of call (no cache, or not a GET).
    Bypass,
}

impl Outcome {
    /// The `X-Junction-Cache` value.
    pub fn as_str(self) -> &'static str {
        match self {
            Outcome::Hit => "HIT",
            Outcome::Miss => "MISS",
            Outcome::Revalidated => "REVALIDATED",
            Outcome::Coalesced => "COALESCED",
            Outcome::Stale => "STALE",
            Outcome::Bypass => "BYPASS",
        }
    }
}

/// A whole response, as kept by the cache and shared with coalesced callers.
#[derive(Clone, Debug)]
pub struct Cached {
    pub status: StatusCode,
    pub headers: HeaderMap,
    pub body: Bytes,
}

struct Entry {
    /// RFC 9111 policy; `None` in TTL mode.
    policy: Option<CachePolicy>,
    fresh_until: SystemTime,
    res: Cached,
    size: usize,
}

/// What the cache can do for a request.
pub enum Lookup {
    /// Serve this without calling the upstream.
    Fresh(Cached),
    /// Call the upstream with these conditional headers; a 304 revalidates the entry.
    Revalidate(HeaderMap),
    Miss,
}

pub struct ResponseCache {
    ttl: Option<Duration>,
    max_size: usize,
    pub max_entry: usize,
    entries: Mutex<Store>,
    flights: Arc<Flights>,
}

type Flights = Mutex<HashMap<String, watch::Sender<Option<Arc<Option<Cached>>>>>>;

#[derive(Default)]
struct Store {
    map: HashMap<String, Entry>,
    order: VecDeque<String>,
    bytes: usize,
}

fn options() -> CacheOptions {
    // One cache per connection of a connector: responses private to that credential are fine.
    CacheOptions {
        shared: false,
        ..Default::default()
    }
}

/// What the policy sees of a request: method, URI and the caller's headers (the injected
/// credentials stay out, so they neither vary nor block caching).
pub type Request = http::request::Parts;

impl ResponseCache {
    pub fn new(cfg: &junction_config::Cache) -> Self {
        Self {
            ttl: cfg.ttl,
            max_size: usize::try_from(cfg.max_size).unwrap_or(usize::MAX),
            max_entry: usize::try_from(cfg.max_entry).unwrap_or(usize::MAX),
            entries: Mutex::default(),
            flights: Arc::default(),
        }
    }

    fn store(&self) -> std::sync::MutexGuard<'_, Store> {
        self.entries.lock().unwrap_or_else(|p| p.into_inner())
    }

    pub fn lookup(&self, key: &str, req: &Request, now: SystemTime) -> Lookup {
        let store = self.store();
        let Some(e) = store.map.get(key) else {
            return Lookup::Miss;
        };
        match &e.policy {
            None if now < e.fresh_until => Lookup::Fresh(e.res.clone()),
            None => Lookup::Miss,
            Some(policy) => match policy.before_request(req, now) {
                BeforeRequest::Fresh(parts) => Lookup::Fresh(Cached {
                    status: e.res.status,
                    headers: parts.headers,
                    body: e.res.body.clone(),
                }),
                BeforeRequest::Stale {
                    request,
                    matches: true,
                } => {
                    let mut conditional = HeaderMap::new();
                    for h in [http::header::IF_NONE_MATCH, http::header::IF_MODIFIED_SINCE] {
                        if let Some(v) = request.headers.get(&h) {
                            conditional.insert(h, v.clone());
                        }
                    }
                    if conditional.is_empty() {
                        Lookup::Miss
                    } else {
                        Lookup::Revalidate(conditional)
                    }
                }
                BeforeRequest::Stale { .. } => Lookup::Miss,
            },
        }
    }

    /// Keeps a response if its headers (or the TTL mode) allow; false if it was not kept.
    pub fn put(&self, key: &str, req: &Request, res: &Cached, now: SystemTime) -> bool {
        if res.body.len() > self.max_entry {
            return false;
        }
        let (policy, fresh_until) = match self.ttl {
            Some(ttl) if res.status.is_success() => (None, now + ttl),
            Some(_) => return false,
            None => {
                let mut parts = http::Response::new(());
                *parts.status_mut() = res.status;
                *parts.headers_mut() = res.headers.clone();
                let policy = CachePolicy::new_options(req, &parts, now, options());
                if !policy.is_storable() || !res.status.is_success() {
                    return false;
                }
                let until = now + policy.time_to_live(now);
                (Some(policy), until)
            }
        };
        let size = res.body.len()
            + res
                .headers
                .iter()
                .map(|(k, v)| k.as_str().len() + v.len())
                .sum::<usize>()
            + key.len();
        let mut store = self.store();
        if let Some(old) = store.map.remove(key) {
            store.bytes -= old.size;
            store.order.retain(|k| k != key);
        }
        while store.bytes + size > self.max_size {
            let Some(oldest) = store.order.pop_front() else {
                break;
            };
            if let Some(e) = store.map.remove(&oldest) {
                store.bytes -= e.size;
            }
        }
        store.bytes += size;
        store.order.push_back(key.to_owned());
        store.map.insert(
            key.to_owned(),
            Entry {
                policy,
                fresh_until,
                res: res.clone(),
                size,
            },
        );
        true
    }

    /// A 304 answered a revalidation: the entry is fresh again; returns it to serve.
    pub fn revalidated(
        &self,
        key: &str,
        req: &Request,
        not_modified: &HeaderMap,
        now: SystemTime,
    ) -> Option<Cached> {
        let mut store = self.store();
        let e = store.map.get_mut(key)?;
        let policy = e.policy.as_ref()?;
        let mut res = http::Response::new(());
        *res.status_mut() = StatusCode::NOT_MODIFIED;
        *res.headers_mut() = not_modified.clone();
        match policy.after_response(req, &res, now) {
            AfterResponse::NotModified(policy, parts) => {
                e.fresh_until = now + policy.time_to_live(now);
                e.policy = Some(policy);
                e.res.headers = parts.headers;
                Some(e.res.clone())
            }
            AfterResponse::Modified(..) => None,
        }
    }

    /// The last good response for `key`, fresh or not (the stale fallback).
    pub fn last_good(&self, key: &str) -> Option<Cached> {
        self.store().map.get(key).map(|e| e.res.clone())
    }

    /// Joins the call in flight for `key`, or leads one. A follower gets the leader's response
    /// (`None` when the leader could not share one: it failed, went away or the body was too
    /// large), then calls on its own.
    pub fn flight(&self, key: &str) -> Flight {
        let mut flights = self.flights.lock().unwrap_or_else(|p| p.into_inner());
        if let Some(tx) = flights.get(key) {
            return Flight::Follow(tx.subscribe());
        }
        let (tx, _) = watch::channel(None);
        flights.insert(key.to_owned(), tx.clone());
        Flight::Lead(Leader {
            flights: self.flights.clone(),
            key: key.to_owned(),
            tx,
        })
    }
}

pub enum Flight {
    Lead(Leader),
    Follow(watch::Receiver<Option<Arc<Option<Cached>>>>),
}

/// The caller that makes the upstream call for everyone waiting on the same GET.
pub struct Leader {
    flights: Arc<Flights>,
    key: String,
    tx: watch::Sender<Option<Arc<Option<Cached>>>>,
}

impl Leader {
    pub fn publish(self, res: Option<Cached>) {
        let _ = self.tx.send(Some(Arc::new(res)));
    }
}

impl Drop for Leader {
    fn drop(&mut self) {
        self.flights
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .remove(&self.key);
    }
}

/// Waits for the leader's response.
pub async fn follow(mut rx: watch::Receiver<Option<Arc<Option<Cached>>>>) -> Option<Cached> {
    let shared = rx.wait_for(|v| v.is_some()).await.ok()?.clone()?;
    (*shared).clone()
}
