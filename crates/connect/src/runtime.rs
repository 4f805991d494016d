//! One connector at run time: the outbound pipeline of DESIGN.md —
//! confine the path → cache? → concurrency slot → quota (FIFO queue, up to `max_wait`) →
//! circuit → credentials → send within the deadline → learn from rate-limit headers →
//! classify → retry (full jitter, within the budget, idempotent or keyed calls only).

use std::sync::atomic::AtomicU64;
use std::sync::Arc;
use std::time::{Duration, SystemTime};

use bytes::Bytes;
use http::{HeaderMap, HeaderName, HeaderValue, Method, StatusCode};
use junction_config::{Connector, Grant, OutboundAuth};
use junction_core::{Code, Error, Origin};
use junction_resilience::{Circuit, LocalQuota, QuotaState, RetryBudget, Window, WHOLE};
use junction_store::Backend;
use tokio::time::Instant;

mod cost;
mod send;

pub use cost::Terms;

use crate::auth::tokens::{TokenManager, TokenScheme};
use crate::auth::{basic_value, bearer_value, Auth, Outgoing};
use crate::cache::{self, Cached, Flight, Lookup, Outcome as CacheOutcome, ResponseCache};

tokio::task_local! {
    /// Set around calls made to check a vendor rather than to serve traffic (contract probes):
    /// their outcomes are not counted by the circuit, so a probe that finds a broken contract
    /// never stops real traffic (they still queue for the quota like any call).
    pub(crate) static UNCOUNTED: ();
}

/// Whether the circuit counts the current call's outcome.
pub(crate) fn counted() -> bool {
    UNCOUNTED.try_with(|_| ()).is_err()
}

/// A call from an internal service.
pub struct Call {
    pub method: Method,
    /// The path under the connector, as received (percent-encoded).
    pub path: String,
    pub query: Option<String>,
    /// The caller's headers; hop-by-hop ones, `Authorization`, `Cookie` and `X-Junction-*` are dropped.
    pub headers: HeaderMap,
    pub body: Bytes,
    pub connection: String,
    /// The API version the call is pinned to (its path prefix or header is already in `path`
    /// or `headers`): part of the cache key, so versions never answer for each other.
    pub version: Option<String>,
    /// Its price in the quota's points, and whether it is safe to repeat.
    pub terms: Terms,
}

/// The upstream's answer (or the cache's), on its way back to the caller.
pub struct Answer {
    pub status: StatusCode,
    pub headers: HeaderMap,
    pub body: AnswerBody,
    /// Upstream attempts made (0 when served from the cache).
    pub attempts: u32,
    /// Where it came from: the cache, the upstream, or both.
    pub cache: CacheOutcome,
    /// Whether the vendor failed is for the caller to say (see [`Deferred`]).
    pub deferred: Option<Deferred>,
}

/// A circuit verdict left to the caller: a SOAP service answers HTTP 500 both when it fails (a
/// `Server` fault) and when it refuses the request (a `Client` fault), and only the body tells
/// which. Settled once; dropped unsettled, the call is not counted (a probe frees its slot).
#[derive(Clone)]
pub struct Deferred(
    Arc<std::sync::Mutex<Option<(junction_resilience::Permit, Instant, Duration)>>>,
);

impl Deferred {
    pub fn settle(&self, vendor_ok: bool) {
        let taken = self.0.lock().map(|mut g| g.take()).unwrap_or(None);
        if let Some((permit, at, elapsed)) = taken {
            permit.record(at, vendor_ok, elapsed);
        }
    }
}

pub enum AnswerBody {
    Full(Bytes),
    /// Streamed from the upstream, after `prefix` (bytes already read while deciding to cache).
    Stream {
        prefix: Bytes,
        rest: junction_outbound::Response,
    },
}

pub struct Runtime {
    pub cfg: Connector,
    upstream: junction_outbound::Upstream,
    /// What the connector trusts and presents (for the certificates' expiry).
    pub tls: junction_outbound::tls::Tls,
    /// The connector's own headers and version pin, parsed once.
    default_headers: HeaderMap,
    auth: Auth,
    pub(crate) quota: Arc<LocalQuota>,
    /// Each connection's own quota (`connection_quotas`), made on its first call.
    connection_quotas: Option<Arc<ConnectionQuotas>>,
    /// Set when the quota is split with other processes: wakes the renewal when a call waits
    /// for want of a share.
    pub(crate) shared: Option<Arc<junction_server::shared::SharedLimits>>,
    /// The fair queue in front of the quota: callers take their share in arrival order.
    queue: tokio::sync::Mutex<()>,
    slots: tokio::sync::Semaphore,
    in_flight: AtomicU64,
    pub circuit: Arc<Circuit>,
    budget: RetryBudget,
    cache: Option<ResponseCache>,
    metrics: crate::metrics::Metrics,
    /// Each operation's metrics, by name.
    pub(crate) op_metrics: std::collections::HashMap<String, crate::metrics::OperationMetrics>,
    /// The last calls, for the connector page.
    pub recent: crate::recent::Recent,
    /// The hub's drift tracker (shapes learned from answers, drift found).
    pub drift: Arc<junction_transform::drift::Tracker>,
    /// The rollout between the connector's `versions:` (set by the hub, which keeps rollouts
    /// across reloads).
    pub rollout: Option<Arc<junction_server::rollouts::Tracked>>,
}

/// Most connections whose quota a connector keeps. Beyond, an idle one (nothing counted, no
/// pause) is forgotten to make room — its next call starts an empty count, as it would have
/// found — so names a caller makes up cannot grow memory, nor push out a busy tenant's count.
const MAX_CONNECTION_QUOTAS: usize = 100_000;
/// Quotas looked at, oldest first, for an idle one to forget when the map is full.
const EVICTION_PROBES: usize = 16;

/// Each connection's quota, and the order they were made in (the oldest forgotten first).
type Made = (
    std::collections::HashMap<String, Arc<LocalQuota>>,
    std::collections::VecDeque<String>,
);

/// The per-connection quotas of one connector.
struct ConnectionQuotas {
    windows: Vec<Window>,
    jitter: Duration,
    /// Split between processes: each connection's quota follows the connector's share.
    shared: bool,
    made: std::sync::Mutex<Made>,
}

impl ConnectionQuotas {
    /// The largest part of a window any connection's quota occupies now (of the whole).
    /// (Each quota's lock is taken under the map's, as when the map forgets an idle one.)
    fn usage(&self, now: Instant) -> u32 {
        let g = self.made.lock().unwrap_or_else(|p| p.into_inner());
        g.0.values().map(|q| q.usage(now)).max().unwrap_or(0)
    }

    /// The connection's quota, if it has one yet.
    fn existing(&self, connection: &str) -> Option<Arc<LocalQuota>> {
        let g = self.made.lock().unwrap_or_else(|p| p.into_inner());
        g.0.get(connection).cloned()
    }

    /// The connection's quota; `None` when the map is full of busy ones.
    fn of(&self, connection: &str, now: Instant) -> Option<Arc<LocalQuota>> {
        let mut g = self.made.lock().unwrap_or_else(|p| p.into_inner());
        if let Some(q) = g.0.get(connection) {
            return Some(q.clone());
        }
        if g.0.len() >= MAX_CONNECTION_QUOTAS && !evict_idle(&mut g, now) {
            return None;
        }
        let q = Arc::new(if self.shared {
            LocalQuota::shared(&self.windows, self.jitter)
        } else {
            LocalQuota::with_jitter(&self.windows, self.jitter)
        });
        g.0.insert(connection.to_owned(), q.clone());
        g.1.push_back(connection.to_owned());
        Some(q)
    }
}

/// Forgets one idle quota among the oldest few; `false` when they are all busy.
fn evict_idle(made: &mut Made, now: Instant) -> bool {
    for _ in 0..EVICTION_PROBES.min(made.1.len()) {
        let Some(name) = made.1.pop_front() else {
            return false;
        };
        let idle = made.0.get(&name).is_none_or(|q| {
            let s = q.snapshot(now);
            s.paused_for.is_none() && s.windows.iter().all(|(_, used, _)| *used == 0)
        });
        if idle {
            made.0.remove(&name);
            return true;
        }
        made.1.push_back(name);
    }
    false
}

/// A call's place in the quota, taken when it was admitted: it counts in every window until the
/// call is answered ([`Reserved::settled`]) and for a window after. Dropped before its request
/// left, the place is given back; dropped after (the caller went away), the call is settled then.
pub(crate) struct Reserved<'a> {
    quota: &'a LocalQuota,
    /// Points reserved.
    cost: u32,
    /// The place in the connection's own quota, when it has one.
    connection: Option<Arc<LocalQuota>>,
    admitted: Instant,
    left: bool,
    settled: bool,
}

impl Reserved<'_> {
    /// The request leaves now; returns how long it waited since admission.
    pub(crate) fn leaving(&mut self, now: Instant) -> Duration {
        self.left = true;
        now.saturating_duration_since(self.admitted)
    }

    /// The call's answer (or failure) is in.
    pub(crate) fn settled(mut self, now: Instant) {
        self.settled = true;
        self.quota.settled_cost(now, self.cost);
        if let Some(c) = &self.connection {
            c.settled_cost(now, self.cost);
        }
    }

    /// Points it reserved.
    pub(crate) fn cost(&self) -> u32 {
        self.cost
    }

    /// The connection's own quota, which the vendor's answers teach.
    pub(crate) fn connection_quota(&self) -> Option<Arc<LocalQuota>> {
        self.connection.clone()
    }
}

impl Drop for Reserved<'_> {
    fn drop(&mut self) {
        let quotas = std::iter::once(self.quota).chain(self.connection.as_deref());
        for q in quotas {
            match (self.settled, self.left) {
                (true, _) => {}
                (false, true) => q.settled_cost(Instant::now(), self.cost),
                (false, false) => q.unsent_cost(self.cost),
            }
        }
    }
}

/// A connection's quota place held while the call waits for the connector's: given back
/// unless taken into the call's [`Reserved`].
struct OwnPlace(Option<Arc<LocalQuota>>, u32);

impl OwnPlace {
    fn take(mut self) -> Option<Arc<LocalQuota>> {
        self.0.take()
    }
}

impl Drop for OwnPlace {
    fn drop(&mut self) {
        if let Some(q) = &self.0 {
            q.unsent_cost(self.1);
        }
    }
}

/// How soon a call waiting on a partial share of a split quota looks again (a renewal it asked
/// for may have granted more).
const SHARE_POLL: Duration = Duration::from_millis(50);

const HOP_BY_HOP: &[&str] = &[
    "connection",
    "keep-alive",
    "proxy-connection",
    "proxy-authenticate",
    "proxy-authorization",
    "te",
    "trailer",
    "transfer-encoding",
    "upgrade",
];

/// Headers of the caller that never go upstream: hop-by-hop ones, the caller's credentials,
/// Junction's own, and what a proxy would vouch for (`Forwarded`, `X-Forwarded-*`,
/// `X-Real-IP`): Junction does not, so a caller cannot claim another address or host.
fn dropped_upstream(name: &str) -> bool {
    HOP_BY_HOP.contains(&name)
        || matches!(
            name,
            "host" | "authorization" | "cookie" | "content-length" | "forwarded" | "x-real-ip"
        )
        || name.starts_with("x-junction-")
        || name.starts_with("x-forwarded-")
}

/// The header names a `Connection` header lists (lowercase): they are hop-by-hop too.
fn connection_named(headers: &HeaderMap) -> Vec<String> {
    headers
        .get_all(http::header::CONNECTION)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(',').map(|s| s.trim().to_ascii_lowercase()))
        .collect()
}

/// Removes hop-by-hop headers, and those the `Connection` header names.
pub fn strip_hop_by_hop(headers: &mut HeaderMap) {
    // Most messages carry none: look before removing (a removal by name parses and hashes it).
    if !headers.keys().any(|k| HOP_BY_HOP.contains(&k.as_str())) {
        return;
    }
    let named = connection_named(headers);
    for n in named
        .iter()
        .map(String::as_str)
        .chain(HOP_BY_HOP.iter().copied())
    {
        headers.remove(n);
    }
}

fn valid_connection(name: &str) -> bool {
    !name.is_empty()
        && name.len() <= 64
        && name
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_')
}

impl Runtime {
    /// What the vendor last said a connection with its own quota has left (now).
    pub fn connection_upstream_remaining(&self, connection: &str) -> Option<u64> {
        self.connection_remaining(connection, Instant::now())
    }

    /// What the vendor last said a connection with its own quota has left.
    pub(crate) fn connection_remaining(&self, connection: &str, now: Instant) -> Option<u64> {
        let cq = self.connection_quotas.as_ref()?;
        let made = cq.made.lock().unwrap_or_else(|p| p.into_inner());
        made.0.get(connection)?.snapshot(now).upstream_remaining
    }

    /// A connection's own quota, when the connector has them and it has been called.
    pub(crate) fn connection_quota(&self, connection: &str) -> Option<Arc<LocalQuota>> {
        self.connection_quotas.as_ref()?.existing(connection)
    }

    /// The token manager of a token scheme (OAuth2, JWT bearer).
    pub(crate) fn token_manager(&self) -> Option<&Arc<crate::auth::tokens::TokenManager>> {
        match &self.auth {
            Auth::Tokens(t) => Some(t),
            _ => None,
        }
    }
}

impl Runtime {
    pub fn new(
        cfg: Connector,
        store: Arc<dyn junction_store::Store>,
        vault: Option<Arc<junction_vault::Vault>>,
        drift: Arc<junction_transform::drift::Tracker>,
        history: &junction_telemetry::history::Registry,
    ) -> Result<Self, String> {
        let store_backend = store.backend();
        let mut default_headers = cfg.headers.clone();
        if let Some((k, v)) = &cfg.version_header {
            default_headers.insert(k.clone(), v.clone());
        }
        let tls = junction_outbound::tls::Tls::new(cfg.tls.ca.as_deref(), cfg.tls.identity_pem());
        // The token endpoint is the vendor's too: it sees the same authorities and certificate.
        let token_tls = tls
            .client_config()
            .map_err(|e| format!("connector {}: tls: {e}", cfg.name))?;
        let upstream = junction_outbound::Upstream::with_config(
            cfg.timeouts.connect,
            cfg.concurrency as usize,
            token_tls.clone(),
        );
        let token_client = || {
            reqwest::Client::builder()
                .tls_backend_preconfigured(token_tls.clone())
                .connect_timeout(cfg.timeouts.connect)
                .redirect(reqwest::redirect::Policy::none())
                .pool_max_idle_per_host(cfg.concurrency as usize)
                .tcp_nodelay(true)
                .build()
                .map_err(|e| {
                    format!(
                        "cannot build the HTTP client of connector {}: {e}",
                        cfg.name
                    )
                })
        };
        let needs_vault = |what: &str| {
            format!(
                "connector {}: {what} tokens are kept sealed in the store; set JUNCTION_MASTER_KEY (see `junction secrets new-key`)",
                cfg.name
            )
        };
        let auth = match &cfg.auth {
            None => Auth::None,
            Some(OutboundAuth::ApiKey { place, key }) => Auth::ApiKey {
                place: place.clone(),
                key: key.expose().to_owned(),
            },
            Some(OutboundAuth::Basic { username, password }) => Auth::Header {
                name: http::header::AUTHORIZATION,
                value: basic_value(username, password.expose()).map_err(|e| e.to_string())?,
            },
            Some(OutboundAuth::Bearer { token }) => Auth::Header {
                name: http::header::AUTHORIZATION,
                value: bearer_value(token.expose()).map_err(|e| e.to_string())?,
            },
            Some(OutboundAuth::Hmac(h)) => Auth::Hmac(h.clone()),
            Some(OutboundAuth::OAuth2 { grant, oauth }) => {
                let scheme = TokenScheme::OAuth {
                    grant: *grant,
                    oauth: oauth.clone(),
                };
                Auth::Tokens(Arc::new(
                    TokenManager::new(
                        &cfg.name,
                        scheme,
                        oauth.lifetime,
                        store,
                        vault.clone().ok_or_else(|| needs_vault("oauth2"))?,
                        token_client()?,
                    )
                    .telling(cfg.connection_events.clone()),
                ))
            }
            Some(OutboundAuth::JwtBearer { jwt, lifetime }) => Auth::Tokens(Arc::new(
                TokenManager::new(
                    &cfg.name,
                    TokenScheme::Jwt(jwt.clone()),
                    *lifetime,
                    store,
                    vault.clone().ok_or_else(|| needs_vault("jwt_bearer"))?,
                    token_client()?,
                )
                .telling(cfg.connection_events.clone()),
            )),
        };
        let windows: Vec<Window> = cfg
            .quotas
            .iter()
            .map(|r| Window {
                limit: r.limit,
                window: r.window,
            })
            .collect();
        // Several processes on PostgreSQL split the quota into leased shares.
        let quota = if store_backend == Backend::Postgres {
            LocalQuota::shared(&windows, cfg.quota_jitter)
        } else {
            LocalQuota::with_jitter(&windows, cfg.quota_jitter)
        };
        let connection_quotas = (!cfg.connection_quotas.is_empty()).then(|| ConnectionQuotas {
            shared: store_backend == Backend::Postgres,
            windows: cfg
                .connection_quotas
                .iter()
                .map(|r| Window {
                    limit: r.limit,
                    window: r.window,
                })
                .collect(),
            jitter: cfg.quota_jitter,
            made: Default::default(),
        });
        let connection_quotas = connection_quotas.map(Arc::new);
        if let Some(cq) = connection_quotas.as_ref().filter(|c| c.shared) {
            // The connector's share is what each connection's quota may use of its own limit
            // in this process: the connections' usage keeps it from shrinking under them.
            let cq = Arc::downgrade(cq);
            quota.set_dependents(Arc::new(move |now| {
                cq.upgrade().map_or(0, |cq| cq.usage(now))
            }));
        }
        Ok(Self {
            upstream,
            tls,
            default_headers,
            auth,
            quota: Arc::new(quota),
            connection_quotas,
            shared: None,
            queue: tokio::sync::Mutex::new(()),
            slots: tokio::sync::Semaphore::new(cfg.concurrency as usize),
            in_flight: AtomicU64::new(0),
            circuit: Arc::new(Circuit::new(cfg.circuit)),
            budget: RetryBudget::new(cfg.retry.budget.unwrap_or_default()),
            cache: cfg.cache.as_ref().map(ResponseCache::new),
            metrics: crate::metrics::Metrics::new(history, &cfg.name),
            op_metrics: crate::metrics::OperationMetrics::for_connector(&cfg),
            recent: crate::recent::Recent::default(),
            drift,
            rollout: None,
            cfg,
        })
    }

    /// The rollout between this connector's versions, as the config sets it up.
    pub fn rollout_of(cfg: &Connector) -> Option<junction_resilience::rollout::Rollout> {
        cfg.versions.as_ref().map(|v| {
            junction_resilience::rollout::Rollout::new(
                format!("connector:{}", cfg.name),
                v.rollout.stable.clone(),
                v.rollout.candidate.clone(),
                v.rollout.mode,
                v.rollout.rollback,
            )
        })
    }

    /// The version `/proxy` calls use: the stable one, or the candidate once switched to it
    /// (and not rolled back). A relay has no mapping to keep callers' shapes, so it is never
    /// canaried or shadowed.
    pub fn current_version(&self) -> Option<&junction_config::ApiVersion> {
        let versions = self.cfg.versions.as_ref()?;
        let switched = self.rollout.as_ref().is_some_and(|r| {
            r.mode() == junction_resilience::rollout::Mode::Switch && r.rolled_back().is_none()
        });
        if switched {
            versions.candidate()
        } else {
            versions.stable()
        }
    }

    pub fn quota(&self) -> &dyn QuotaState {
        &*self.quota
    }

    fn check_connection(&self, connection: &str) -> Result<(), Error> {
        if !valid_connection(connection) {
            return Err(Error::new(
                Code::BadRequest,
                Origin::Downstream,
                "invalid X-Junction-Connection",
            )
            .with_hint("connection names use 1-64 letters, digits, `-` and `_`"));
        }
        let per_connection = matches!(
            self.cfg.auth,
            Some(OutboundAuth::OAuth2 {
                grant: Grant::RefreshToken,
                ..
            })
        );
        if connection != "default" && !per_connection {
            return Err(Error::new(
                Code::NotFound,
                Origin::Downstream,
                format!(
                    "connector {} has only the `default` connection",
                    self.cfg.name
                ),
            )
            .with_hint("its credentials come from the config; drop X-Junction-Connection"));
        }
        Ok(())
    }

    /// Runs a call through the whole pipeline.
    pub async fn call(&self, call: Call) -> Result<Answer, Error> {
        let started = Instant::now();
        let at_ms = junction_core::time::now_ms();
        let (method, connection) = (call.method.to_string(), call.connection.clone());
        let path = call.path.clone();
        let (result, waited) = crate::recent::measuring_wait(self.call_inner(call, started)).await;
        // Junction's own refusals (bad path, quota spent, unknown connection) are not vendor calls.
        match &result {
            Ok(a) => self.metrics.call(Some(a.status.as_u16())),
            Err(e) if e.origin() == Origin::Upstream => self.metrics.call(None),
            Err(_) => {}
        }
        let elapsed = started.elapsed();
        self.metrics.call_seconds.record(elapsed.as_secs_f64());
        if result.is_ok() {
            self.metrics
                .history
                .observe_ms(elapsed.as_secs_f64() * 1000.0);
        }
        self.metrics
            .circuit_state
            .set(self.circuit.state(Instant::now()).level());
        let (status, error, attempts, cache) = match &result {
            Ok(a) => (
                Some(a.status.as_u16()),
                None,
                a.attempts,
                Some(a.cache.as_str().to_owned()),
            ),
            Err(e) => (None, Some(e.code().as_str().to_owned()), 0, None),
        };
        self.recent.push(crate::recent::RecentCall {
            at_ms,
            method,
            path,
            connection,
            status,
            error,
            latency_ms: elapsed.as_secs_f64() * 1000.0,
            attempts,
            cache,
            quota_wait_ms: waited.as_secs_f64() * 1000.0,
        });
        result
    }

    async fn call_inner(&self, call: Call, started: Instant) -> Result<Answer, Error> {
        let deadline = started + self.cfg.timeouts.total;
        let url = crate::path::target(&self.cfg, &call.path, call.query.as_deref())?;
        self.check_connection(&call.connection)?;
        let mut headers = HeaderMap::with_capacity(call.headers.len() + self.cfg.headers.len() + 2);
        // Hop-by-hop headers (and those `Connection` names) stay here, as do the caller's
        // credentials and Junction's own headers.
        let named = connection_named(&call.headers);
        for (k, v) in call.headers.iter() {
            if !dropped_upstream(k.as_str()) && !named.iter().any(|n| n == k.as_str()) {
                headers.append(k.clone(), v.clone());
            }
        }
        for (k, v) in &self.default_headers {
            headers.insert(k.clone(), v.clone());
        }
        // The vendor's side of the trace continues Junction's (or the caller's) under a new
        // parent: the caller's own span is not the one calling the vendor.
        let incoming = call
            .headers
            .get("traceparent")
            .and_then(|v| v.to_str().ok());
        if let Ok(tp) = HeaderValue::from_str(&junction_telemetry::outgoing_traceparent(incoming)) {
            headers.insert(HeaderName::from_static("traceparent"), tp);
        }
        let cache = self.cache.as_ref().filter(|_| call.method == Method::GET);
        let Some(cache) = cache else {
            let out = Outgoing {
                method: call.method,
                url,
                headers,
                body: call.body,
            };
            let (res, attempts) = self
                .send(out, &call.connection, call.terms, started, deadline)
                .await?;
            return whole_or_streamed(res, attempts, CacheOutcome::Bypass).await;
        };
        let key = format!(
            "{}\n{}\n{url}",
            call.connection,
            call.version.as_deref().unwrap_or("")
        );
        let mut req = http::Request::new(());
        *req.uri_mut() = url
            .as_str()
            .parse()
            .map_err(|_| Error::internal("unparsable upstream URL"))?;
        *req.headers_mut() = headers.clone();
        let (req, ()) = req.into_parts();
        let mut conditional = None;
        match cache.lookup(&key, &req, SystemTime::now()) {
            Lookup::Fresh(c) => return Ok(self.cached(c, CacheOutcome::Hit)),
            Lookup::Revalidate(h) => conditional = Some(h),
            Lookup::Miss => {}
        }
        let leader = match cache.flight(&key) {
            Flight::Lead(l) => Some(l),
            Flight::Follow(rx) => {
                if let Some(c) = cache::follow(rx).await {
                    return Ok(self.cached(c, CacheOutcome::Coalesced));
                }
                None
            }
        };
        let mut out = Outgoing {
            method: Method::GET,
            url,
            headers,
            body: call.body,
        };
        if let Some(h) = &conditional {
            out.headers.extend(h.clone());
        }
        let sent = self
            .send(out, &call.connection, call.terms, started, deadline)
            .await;
        let (res, attempts) = match sent {
            Ok(r) => r,
            Err(e) if e.code() == Code::CircuitOpen && self.cfg.stale_fallback => {
                return match cache.last_good(&key) {
                    Some(c) => Ok(self.cached(c, CacheOutcome::Stale)),
                    None => Err(e),
                };
            }
            Err(e) => return Err(e),
        };
        let now = SystemTime::now();
        if res.status() == StatusCode::NOT_MODIFIED && conditional.is_some() {
            if let Some(c) = cache.revalidated(&key, &req, res.headers(), now) {
                self.count_cache(CacheOutcome::Revalidated);
                if let Some(l) = leader {
                    l.publish(Some(c.clone()));
                }
                return Ok(answer(c, attempts, CacheOutcome::Revalidated));
            }
        }
        self.count_cache(CacheOutcome::Miss);
        let fits =
            junction_outbound::content_length(&res).is_none_or(|n| n as usize <= cache.max_entry);
        if !res.status().is_success() || !fits {
            return whole_or_streamed(res, attempts, CacheOutcome::Miss).await;
        }
        let (status, mut res_headers) = (res.status(), res.headers().clone());
        strip_hop_by_hop(&mut res_headers);
        match read_up_to(res, cache.max_entry).await {
            Ok(Ok(body)) => {
                let c = Cached {
                    status,
                    headers: res_headers,
                    body,
                };
                cache.put(&key, &req, &c, now);
                if let Some(l) = leader {
                    l.publish(Some(c.clone()));
                }
                Ok(answer(c, attempts, CacheOutcome::Miss))
            }
            Ok(Err((prefix, rest))) => Ok(streamed(rest, prefix, attempts, CacheOutcome::Miss)),
            Err(e) => Err(Error::new(
                Code::UpstreamFailed,
                Origin::Upstream,
                format!("{} cut its answer short: {e}", self.cfg.name),
            )),
        }
    }

    fn count_cache(&self, result: CacheOutcome) {
        self.metrics.cache(result);
    }

    fn cached(&self, c: Cached, how: CacheOutcome) -> Answer {
        self.count_cache(how);
        let mut a = answer(c, 0, how);
        if how == CacheOutcome::Stale {
            a.headers
                .insert("x-junction-stale", HeaderValue::from_static("true"));
        }
        a
    }

    /// Waits for a concurrency slot and the quota, in arrival order, until `until` — first for
    /// the connection's own quota, outside the connector's queue, so a tenant out of quota
    /// never holds up the others.
    async fn admit(
        &self,
        connection: &str,
        cost: u32,
        until: Instant,
    ) -> Result<(tokio::sync::SemaphorePermit<'_>, Reserved<'_>), Error> {
        let waited = Instant::now();
        let own = match &self.connection_quotas {
            None => None,
            Some(cq) => {
                let Some(q) = cq.of(connection, Instant::now()) else {
                    return Err(self.connection_spent(connection, Duration::from_secs(1)));
                };
                self.wait_for(&q, cost, until, true)
                    .await
                    .map_err(|retry_in| self.connection_spent(connection, retry_in))?;
                Some(q)
            }
        };
        // Given back if the connector's quota is not reached in time.
        let own = OwnPlace(own, cost);
        let slot = tokio::time::timeout_at(until, self.slots.acquire())
            .await
            .map_err(|_| self.spent(Duration::from_secs(1)))?
            .map_err(|_| Error::internal("connector closed"))?;
        let _queue = tokio::time::timeout_at(until, self.queue.lock())
            .await
            .map_err(|_| self.spent(Duration::from_secs(1)))?;
        self.wait_for(&self.quota, cost, until, false)
            .await
            .map_err(|retry_in| self.spent(retry_in))?;
        let place = Reserved {
            quota: &self.quota,
            cost,
            connection: own.take(),
            admitted: Instant::now(),
            left: false,
            settled: false,
        };
        let waited = waited.elapsed();
        self.metrics.quota_wait_seconds.record(waited.as_secs_f64());
        crate::recent::waited(waited);
        Ok((slot, place))
    }

    /// Waits until `q` takes a call of `cost` points, or says how long a caller should wait
    /// when that would be past `until`. Split with other processes and holding less than all of
    /// it, a renewal may grant more (an idle start holds 1 %): it asks for one now and looks
    /// again soon instead of sleeping until the small share frees up. A connection's quota
    /// (`follows`) takes the connector's share first, and asks for more through it.
    async fn wait_for(
        &self,
        q: &LocalQuota,
        cost: u32,
        until: Instant,
        follows: bool,
    ) -> Result<(), Duration> {
        loop {
            let now = Instant::now();
            if follows {
                if let Some(lease) = self.quota.lease() {
                    q.follow(lease);
                }
            }
            match q.try_reserve_cost(now, cost) {
                Ok(()) => return Ok(()),
                Err(at) if self.quota.share(now).is_some_and(|s| s < WHOLE) => {
                    if follows {
                        self.quota.wanted();
                    }
                    if let Some(shared) = &self.shared {
                        shared.wake();
                    }
                    let at = at.min(now + SHARE_POLL);
                    if at > until {
                        return Err(Duration::from_secs(1));
                    }
                    tokio::time::sleep_until(at).await
                }
                Err(at) if at > until => return Err(at - now),
                Err(at) => tokio::time::sleep_until(at).await,
            }
        }
    }

    fn connection_spent(&self, connection: &str, retry_in: Duration) -> Error {
        self.metrics.quota_rejected.increment(1);
        Error::new(
            Code::RateLimited,
            Origin::Internal,
            format!(
                "connection {connection} of connector {} has spent its own quota: no call could be sent within max_wait",
                self.cfg.name
            ),
        )
        .with_hint("retry after the Retry-After delay; the connector's connection_quotas are each tenant's limit at the vendor")
        .with_retry_after(retry_in)
    }

    fn circuit_open(&self, retry_in: Duration) -> Error {
        Error::new(
            Code::CircuitOpen,
            Origin::Upstream,
            format!(
                "connector {} is failing; its circuit is open",
                self.cfg.name
            ),
        )
        .with_hint("calls resume automatically after a successful probe")
        .with_retry_after(retry_in)
    }

    fn spent(&self, retry_in: Duration) -> Error {
        self.metrics.quota_rejected.increment(1);
        self.metrics
            .history
            .add(junction_telemetry::history::connector::QUOTA_REJECTED, 1);
        Error::new(
            Code::RateLimited,
            Origin::Internal,
            format!("connector {}'s quota is spent: no call could be sent within max_wait", self.cfg.name),
        )
        .with_hint("retry after the Retry-After delay, or raise the connector's max_wait or quotas if the vendor allows")
        .with_retry_after(retry_in.max(Duration::from_secs(1)))
    }

    fn deadline_error(&self) -> Error {
        Error::new(
            Code::Timeout,
            Origin::Upstream,
            format!(
                "the call to connector {} ran past its total deadline",
                self.cfg.name
            ),
        )
        .with_hint("raise the connector's timeouts.total, or max_wait if calls queue for quota")
    }
}

fn answer(c: Cached, attempts: u32, how: CacheOutcome) -> Answer {
    Answer {
        status: c.status,
        headers: c.headers,
        body: AnswerBody::Full(c.body),
        attempts,
        cache: how,
        deferred: None,
    }
}

fn streamed(
    res: junction_outbound::Response,
    prefix: Bytes,
    attempts: u32,
    how: CacheOutcome,
) -> Answer {
    let mut headers = res.headers().clone();
    strip_hop_by_hop(&mut headers);
    let deferred = res.extensions().get::<Deferred>().cloned();
    Answer {
        status: res.status(),
        headers,
        body: AnswerBody::Stream { prefix, rest: res },
        attempts,
        cache: how,
        deferred,
    }
}

/// Answers up to this size are read whole and relayed in one write; larger ones stream.
const SMALL: u64 = 64 * 1024;

/// Relays a small answer whole (headers and body leave in one write, as a buffering proxy
/// does); streams a large or unsized one.
async fn whole_or_streamed(
    res: junction_outbound::Response,
    attempts: u32,
    how: CacheOutcome,
) -> Result<Answer, Error> {
    if junction_outbound::content_length(&res).is_none_or(|n| n > SMALL) {
        return Ok(streamed(res, Bytes::new(), attempts, how));
    }
    let status = res.status();
    let mut headers = res.headers().clone();
    strip_hop_by_hop(&mut headers);
    let deferred = res.extensions().get::<Deferred>().cloned();
    let body = http_body_util::BodyExt::collect(res.into_body())
        .await
        .map(|b| b.to_bytes())
        .map_err(|e| {
            Error::new(
                Code::UpstreamFailed,
                Origin::Upstream,
                format!("the upstream cut its answer short: {e}"),
            )
        })?;
    Ok(Answer {
        status,
        headers,
        body: AnswerBody::Full(body),
        attempts,
        cache: how,
        deferred,
    })
}

/// Reads the body if it fits in `limit`; otherwise hands back what was read and the rest.
async fn read_up_to(
    mut res: junction_outbound::Response,
    limit: usize,
) -> Result<Result<Bytes, (Bytes, junction_outbound::Response)>, hyper::Error> {
    let mut buf = bytes::BytesMut::new();
    while let Some(frame) = http_body_util::BodyExt::frame(res.body_mut()).await {
        if let Ok(chunk) = frame?.into_data() {
            buf.extend_from_slice(&chunk);
            if buf.len() > limit {
                return Ok(Err((buf.freeze(), res)));
            }
        }
    }
    Ok(Ok(buf.freeze()))
}

/// Compile-time proof that the pipeline's futures can run on any worker thread.
#[cfg(test)]
#[allow(dead_code)]
fn _send_check(rt: &'static Runtime, o: Outgoing, c: Call) {
    fn is_send<T: Send>(_: T) {}
    is_send(rt.admit("default", 1, Instant::now()));
    is_send(rt.send(o, "x", Terms::default(), Instant::now(), Instant::now()));
    is_send(rt.call(c));
}
#[cfg(test)]
#[allow(dead_code)]
fn _send_check2(
    a: &'static Auth,
    m: &'static TokenManager,
    o: &'static mut Outgoing,
    h: &'static reqwest::Client,
    oa: &'static junction_config::OAuth,
) {
    fn is_send<T: Send>(_: T) {}
    is_send(m.token("x"));
    is_send(crate::auth::grant::client_credentials(h, oa));
    is_send(crate::auth::grant::refresh(h, oa, "x"));
    is_send(a.apply("x", o));
}

#[cfg(test)]
mod connection_quotas {
    use super::*;

    fn made(names: &[&str]) -> Made {
        let mut m = Made::default();
        for n in names {
            let q = Arc::new(LocalQuota::new(&[Window {
                limit: 10,
                window: Duration::from_secs(10),
            }]));
            m.0.insert((*n).to_owned(), q);
            m.1.push_back((*n).to_owned());
        }
        m
    }

    #[tokio::test(start_paused = true)]
    async fn a_full_map_forgets_an_idle_connection_never_a_busy_one() {
        let now = Instant::now();
        let mut m = made(&["busy", "idle"]);
        m.0["busy"].try_acquire(now).unwrap();
        assert!(evict_idle(&mut m, now));
        assert!(m.0.contains_key("busy") && !m.0.contains_key("idle"));
        assert_eq!(m.1, ["busy"]);
        // Only busy ones left: nothing is forgotten, the caller is refused instead.
        assert!(!evict_idle(&mut m, now));
        assert!(m.0.contains_key("busy"));
        // Once its window has passed it is idle again.
        tokio::time::advance(Duration::from_secs(11)).await;
        assert!(evict_idle(&mut m, Instant::now()));
        assert!(m.0.is_empty() && m.1.is_empty());
    }
}
