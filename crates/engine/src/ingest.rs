//! Webhook intake: verify → read the event's fields → match routes → append the event with its
//! deliveries in one transaction → answer. Nothing is acknowledged before the store commits, and
//! a refused request writes nothing.

use std::collections::HashMap;
use std::sync::Arc;

use junction_auth::{Rejection, Request, Verifier};
use junction_config::{Config, OrderingMode, Pick, Route, Source};
use junction_core::{Code, Error, Origin};
use junction_store::{Appended, EventContext, NewDelivery, NewEvent, Ordering, Store, StoreError};
use junction_telemetry::history;
use junction_transform::jq::{self, Val};
use sha2::Digest;

use crate::dispatch::Wakers;

/// One source, ready to take requests.
struct SourceRt {
    source: Source,
    verifier: Box<dyn Verifier>,
    routes: Vec<Route>,
    /// Whether reading the event needs the body as JSON (a jq pick or a route filter).
    needs_json: bool,
    received: metrics::Counter,
    accepted: metrics::Counter,
    duplicate: metrics::Counter,
    history: std::sync::Arc<history::Series>,
    /// Webhooks it accepts per process, and the windows as configured (for the refusal).
    limit: Option<(junction_resilience::LocalQuota, Vec<junction_config::Rate>)>,
}

/// What intake did with an accepted request.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, utoipa::ToSchema)]
pub struct Accepted {
    /// The provider's event id.
    pub id: String,
    /// Junction's id of the stored event.
    pub event: i64,
    /// The provider sent this id before: nothing new was stored.
    pub duplicate: bool,
    /// Deliveries created (0 for a duplicate).
    pub deliveries: usize,
    /// The event is about a data subject whose data was erased: acknowledged, not stored
    /// (`event` is 0).
    #[serde(skip_serializing_if = "std::ops::Not::not")]
    pub erased: bool,
}

/// Why a request was not accepted.
#[derive(Debug)]
pub enum IngestError {
    /// No source of that name; the nearest configured name, if one is close.
    UnknownSource(String, Option<String>),
    /// A `kind: sync` source: Junction pulls it, nothing is posted to it.
    Pulled(String),
    Rejected(Rejection),
    Malformed(String),
    Store(StoreError),
    /// Over the source's rate limit: (source, its windows, when to retry).
    RateLimited(String, Vec<junction_config::Rate>, std::time::Duration),
}

impl From<IngestError> for Error {
    fn from(e: IngestError) -> Self {
        match e {
            IngestError::UnknownSource(s, near) => {
                let shown: String = s.chars().take(64).collect();
                let e = Error::downstream(Code::NotFound, format!("no source named `{shown}`"));
                match near {
                    Some(n) => e.with_hint(format!(
                        "did you mean `{n}`? (POST /webhooks/{n}; sources are declared under `sources:` in junction.yaml)"
                    )),
                    None => e.with_hint("sources are declared under `sources:` in junction.yaml"),
                }
            }
            IngestError::Pulled(s) => Error::downstream(
                Code::NotFound,
                format!("`{s}` is a sync source: it takes no webhooks"),
            )
            .with_hint("Junction pulls a sync source from its connector on the schedule of its jobs; post webhooks to a `kind: webhook` source"),
            IngestError::Rejected(r) => {
                let hint = match r {
                    Rejection::OutsideWindow { .. } => {
                        "the signature may be right but its timestamp is not recent: check the sender's and this host's clocks (NTP), or widen the source's verify.tolerance; a replayed request is refused the same way"
                    }
                    Rejection::Missing(_) => {
                        "the request carries no signature: check that the provider signs its webhooks and that the source's verify.preset matches it"
                    }
                    _ => "check the signing secret and that the request is sent as the provider signed it",
                };
                Error::new(
                    Code::Unauthorized,
                    Origin::Downstream,
                    format!("{r} ({})", r.reason()),
                )
                .with_hint(hint)
            }
            IngestError::Malformed(m) => Error::downstream(Code::BadRequest, m),
            IngestError::Store(e) => e.into(),
            IngestError::RateLimited(source, rates, retry) => junction_server::limits::refused(
                &format!("source `{source}`"),
                &rates,
                retry,
                &format!("sources.{source}.rate_limits (or server.rate_limits.per_source)"),
            ),
        }
    }
}

/// Webhook intake for every configured source.
pub struct Ingest {
    store: Arc<dyn Store>,
    sources: arc_swap::ArcSwap<HashMap<String, Arc<SourceRt>>>,
    inspector: Arc<junction_server::inspect::Inspector>,
    wakers: Arc<Wakers>,
    drift: Arc<junction_transform::drift::Tracker>,
    history: Arc<history::Registry>,
}

impl Ingest {
    /// The configured source nearest to a name that matched none (names longer than any real
    /// one are not compared).
    fn nearest(&self, name: &str) -> Option<String> {
        if name.len() > 64 {
            return None;
        }
        let sources = self.sources.load();
        junction_config::nearest(name, sources.keys().map(String::as_str)).map(str::to_owned)
    }

    /// Intake for `config`'s sources, storing into the state's store and recording into its
    /// inspector, drift tracker and history.
    pub fn new(config: &Config, state: &junction_server::AppState, wakers: Arc<Wakers>) -> Self {
        Self {
            store: state.store.clone(),
            inspector: state.inspector.clone(),
            drift: state.drift.clone(),
            sources: arc_swap::ArcSwap::from_pointee(Self::sources(config, &state.history)),
            history: state.history.clone(),
            wakers,
        }
    }

    /// Takes `config`'s sources and routes for every request that starts from now on; requests
    /// already inside [`Ingest::accept`] finish with the ones they started with.
    pub fn reload(&self, config: &Config) {
        self.sources
            .store(Arc::new(Self::sources(config, &self.history)));
    }

    fn sources(config: &Config, registry: &history::Registry) -> HashMap<String, Arc<SourceRt>> {
        let flows = &config.flows;
        flows
            .sources
            .values()
            .map(|s| {
                let routes: Vec<Route> = flows
                    .routes
                    .values()
                    .filter(|r| r.from == s.name)
                    .cloned()
                    .collect();
                let e = &s.event;
                let needs_json = [&e.id, &e.event_type, &e.key, &e.sequence, &e.subject]
                    .iter()
                    .any(|p| p.as_ref().is_some_and(Pick::needs_body))
                    || routes.iter().any(|r| r.filter.is_some());
                let label = s.name.clone();
                let rates = s
                    .rate_limits
                    .clone()
                    .unwrap_or_else(|| config.server.per_source.clone());
                let limit = junction_server::limits::limiter(&rates).map(|l| (l, rates));
                let rt = SourceRt {
                    limit,
                    verifier: junction_auth::build(&s.verify),
                    source: s.clone(),
                    routes,
                    needs_json,
                    received: metrics::counter!("junction_webhooks_received_total", "source" => label.clone()),
                    accepted: metrics::counter!("junction_webhooks_accepted_total", "source" => label.clone()),
                    duplicate: metrics::counter!("junction_webhooks_duplicate_total", "source" => label),
                    history: registry.series(history::Kind::Source, &s.name),
                };
                (s.name.clone(), Arc::new(rt))
            })
            .collect()
    }

    /// Takes one webhook request. `now` is in ms.
    /// `client`: the names of the connection's TLS client certificate, if it presented one.
    pub async fn accept(
        &self,
        source: &str,
        headers: &http::HeaderMap,
        body: &[u8],
        client: Option<&junction_server::tls::ClientNames>,
        now: i64,
    ) -> Result<Accepted, IngestError> {
        let sources = self.sources.load();
        let Some(rt) = sources.get(source).cloned() else {
            drop(sources);
            let e = IngestError::UnknownSource(source.to_owned(), self.nearest(source));
            self.refused(None, "unknown_source", 404, &e, headers, body, now);
            return Err(e);
        };
        drop(sources);
        let rt = &*rt;
        if rt.source.pull.is_some() {
            let e = IngestError::Pulled(rt.source.name.clone());
            self.refused(
                Some(&rt.source.name),
                "unknown_source",
                404,
                &e,
                headers,
                body,
                now,
            );
            return Err(e);
        }
        rt.received.increment(1);
        rt.history.add(history::source::RECEIVED, 1);
        if let Some((limit, rates)) = &rt.limit {
            if let Err(retry) = junction_server::limits::admit(limit, tokio::time::Instant::now()) {
                // Refused before any work: no signature checked, nothing kept.
                self.rejected(rt, "rate_limited");
                return Err(IngestError::RateLimited(
                    rt.source.name.clone(),
                    rates.clone(),
                    retry,
                ));
            }
        }
        let req = Request {
            headers,
            body,
            now: now.div_euclid(1000),
        };
        let allowed = &rt.source.client_certificate;
        let verified = if allowed.is_empty()
            || client.is_some_and(|c| c.0.iter().any(|n| allowed.contains(n)))
        {
            rt.verifier.verify(&req)
        } else {
            Err(junction_auth::verify::Rejection::ClientCertificate(
                match client {
                    None => "this source accepts callers with a client certificate only".into(),
                    Some(c) => format!(
                        "the client certificate ({}) is not one this source accepts",
                        c.0.join(", ")
                    ),
                },
            ))
        };
        if let Err(r) = verified {
            self.rejected(rt, r.reason());
            let reason = r.reason();
            let e = IngestError::Rejected(r);
            self.refused(Some(&rt.source.name), reason, 401, &e, headers, body, now);
            return Err(e);
        }
        let event = match read_event(rt, headers, body, now) {
            Ok(e) => e,
            Err(m) => {
                self.rejected(rt, "malformed");
                let e = IngestError::Malformed(m);
                self.refused(
                    Some(&rt.source.name),
                    "bad_body",
                    400,
                    &e,
                    headers,
                    body,
                    now,
                );
                return Err(e);
            }
        };
        let external_id = event.external_id.clone();
        let subject = format!("{}/{}", rt.source.name, event.event_type);
        let destinations: Vec<String> = event
            .deliveries
            .iter()
            .map(|d| d.destination.clone())
            .collect();
        let appended = self.store.append(event).await.map_err(IngestError::Store)?;
        Ok(match appended {
            Appended::Created {
                event_id,
                deliveries,
            } => {
                rt.accepted.increment(1);
                rt.history.add(history::source::ACCEPTED, 1);
                for d in &destinations {
                    self.wakers.wake(d);
                }
                if self.drift.wants("source", &subject) {
                    learn_shape(self.drift.clone(), subject, body, now);
                }
                Accepted {
                    id: external_id,
                    event: event_id,
                    duplicate: false,
                    deliveries,
                    erased: false,
                }
            }
            Appended::Duplicate { event_id } => {
                rt.duplicate.increment(1);
                rt.history.add(history::source::DUPLICATES, 1);
                Accepted {
                    id: external_id,
                    event: event_id,
                    duplicate: true,
                    deliveries: 0,
                    erased: false,
                }
            }
            Appended::Erased => {
                metrics::counter!("junction_webhooks_erased_total", "source" => rt.source.name.clone())
                    .increment(1);
                tracing::info!(source = %rt.source.name, "a webhook about an erased data subject was acknowledged and not stored");
                Accepted {
                    id: external_id,
                    event: 0,
                    duplicate: false,
                    deliveries: 0,
                    erased: true,
                }
            }
        })
    }

    /// Keeps a refused request for the request inspector.
    #[allow(clippy::too_many_arguments)]
    fn refused(
        &self,
        source: Option<&str>,
        reason: &'static str,
        status: u16,
        e: &IngestError,
        headers: &http::HeaderMap,
        body: &[u8],
        now: i64,
    ) {
        let detail = match e {
            IngestError::UnknownSource(s, _) => {
                format!(
                    "no source named `{}`",
                    s.chars().take(64).collect::<String>()
                )
            }
            IngestError::Pulled(s) => format!("`{s}` is a sync source"),
            IngestError::Rejected(r) => r.to_string(),
            IngestError::Malformed(m) => m.clone(),
            IngestError::Store(e) => e.to_string(),
            IngestError::RateLimited(s, ..) => format!("`{s}` is over its rate limit"),
        };
        self.inspector.record(
            junction_server::inspect::Refusal {
                source,
                reason,
                status,
                detail,
                headers,
                body,
                size: body.len(),
            },
            now,
        );
    }

    fn rejected(&self, rt: &SourceRt, reason: &'static str) {
        metrics::counter!("junction_webhooks_rejected_total", "source" => rt.source.name.clone(), "reason" => reason)
            .increment(1);
        rt.history.add(history::source::REJECTED, 1);
    }
}

/// Reads id, type, key and sequence, and matches routes.
fn read_event(
    rt: &SourceRt,
    headers: &http::HeaderMap,
    body: &[u8],
    now: i64,
) -> Result<NewEvent, String> {
    // Another format is decoded (and so checked) whether or not anything reads it: a body that
    // cannot become JSON would only fail later, at delivery.
    let decoded = match rt.source.format.to_json(body) {
        None => None,
        Some(Ok(json)) => Some(json),
        Some(Err(e)) => {
            let name = format!("{:?}", rt.source.format).to_lowercase();
            return Err(format!("the body is not valid {name}: {e}"));
        }
    };
    let json = if rt.needs_json {
        let text = decoded.as_deref().unwrap_or(body);
        Some(jq::parse_json(text).map_err(|e| format!("the body is not valid JSON: {e}"))?)
    } else {
        None
    };
    let e = &rt.source.event;
    let text = |pick: &Option<Pick>, field: &str| -> Result<Option<String>, String> {
        match pick_value(pick, headers, json.as_ref(), field)? {
            None => Ok(None),
            Some(v) => jq::scalar_text(&v)
                .map(Some)
                .ok_or_else(|| format!("the event's {field} is not a string or number")),
        }
    };
    let id = match &e.id {
        Some(_) => text(&e.id, "id")?
            .filter(|s| !s.is_empty())
            .ok_or_else(|| format!("the event has no id ({})", describe(&e.id)))?,
        None => format!("sha256:{}", hex::encode(sha2::Sha256::digest(body))),
    };
    if id.len() > 255 {
        return Err("the event id is longer than 255 characters".into());
    }
    let event_type = text(&e.event_type, "type")?.unwrap_or_else(|| "unknown".into());
    let key = text(&e.key, "key")?;
    if event_type.len() > 255 || key.as_ref().is_some_and(|k| k.len() > 255) {
        return Err("the event's type or key is longer than 255 characters".into());
    }
    let sequence = match pick_value(&e.sequence, headers, json.as_ref(), "sequence")? {
        None => None,
        Some(v) => Some(sequence_of(&v)?),
    };
    let deliveries = deliveries(&rt.routes, &event_type, json.as_ref(), now);
    let subjects = subjects_of(&e.subject, headers, json.as_ref())?;
    Ok(NewEvent {
        source: rt.source.name.clone(),
        external_id: id,
        event_type,
        entity_key: key,
        sequence,
        received_at: now,
        payload: body.to_vec(),
        context: context_of(&rt.source, headers),
        deliveries,
        tracked: rt.source.reconcile.is_some(),
        subjects,
    })
}

/// The deliveries `routes` make of an event of `event_type` (its body as `json`, which a route's
/// `where` reads), due after each route's reorder window.
pub(crate) fn deliveries(
    routes: &[Route],
    event_type: &str,
    json: Option<&Val>,
    now: i64,
) -> Vec<NewDelivery> {
    let mut deliveries = Vec::new();
    for route in routes {
        if !route.matches_type(event_type) {
            continue;
        }
        if let (Some(filter), Some(json)) = (&route.filter, json) {
            match filter.test(json.clone()) {
                Ok(true) => {}
                Ok(false) => continue,
                // A filter that cannot run on this event does not match it; the event itself is
                // still stored (other routes may take it) and the mistake is made visible.
                Err(err) => {
                    metrics::counter!("junction_route_filter_errors_total", "route" => route.name.clone())
                        .increment(1);
                    tracing::warn!(route = %route.name, error = %err, "the route's `where` failed on an event; the route does not match it");
                    continue;
                }
            }
        }
        let ordering = match route.ordering {
            OrderingMode::None => Ordering::None,
            OrderingMode::Fifo => Ordering::Fifo,
            OrderingMode::Latest => Ordering::Latest,
        };
        let hold = junction_core::time::ms(route.reorder_window);
        for to in &route.to {
            deliveries.push(NewDelivery {
                route: route.name.clone(),
                destination: to.clone(),
                due_at: now + hold,
                ordering,
            });
        }
    }
    deliveries
}

/// The event's trace (a child of the caller's `traceparent`, or of this request's span when
/// spans are exported, else a new trace) and the provider headers its source forwards.
fn context_of(source: &Source, headers: &http::HeaderMap) -> EventContext {
    let incoming = headers.get("traceparent").and_then(|v| v.to_str().ok());
    let mut kept: Vec<(String, String)> = Vec::new();
    for name in &source.forward_headers {
        let mut value = String::new();
        for v in headers.get_all(name.as_str()) {
            let Ok(v) = v.to_str() else { continue };
            if !value.is_empty() {
                value.push_str(", ");
            }
            value.push_str(v);
        }
        // Bounded: a value too long to be a provider's metadata is not kept.
        if !value.is_empty() && value.len() <= junction_config::MAX_FORWARD_HEADER_VALUE {
            kept.push((name.clone(), value));
        }
    }
    EventContext {
        traceparent: Some(junction_telemetry::outgoing_traceparent(incoming)),
        headers: kept,
    }
}

fn describe(pick: &Option<Pick>) -> String {
    match pick {
        Some(Pick::Header(h)) => format!("header `{h}`"),
        Some(Pick::Jq(p)) => format!("`{}`", p.code()),
        None => "not configured".into(),
    }
}

fn pick_value(
    pick: &Option<Pick>,
    headers: &http::HeaderMap,
    json: Option<&Val>,
    field: &str,
) -> Result<Option<Val>, String> {
    match pick {
        None => Ok(None),
        Some(Pick::Header(h)) => Ok(headers
            .get(h.as_str())
            .and_then(|v| v.to_str().ok())
            .map(|s| Val::from(s.to_owned()))),
        Some(Pick::Jq(p)) => {
            let json = json.ok_or_else(|| "the body is not JSON".to_owned())?;
            match p.first(json.clone()) {
                Ok(Some(Val::Null)) | Ok(None) => Ok(None),
                Ok(Some(v)) => Ok(Some(v)),
                Err(e) => Err(format!(
                    "reading the event's {field} with `{}` failed: {e}",
                    p.code()
                )),
            }
        }
    }
}

/// The data subjects `pick` reads (a string or number, or an array of them), as the hashes the
/// store keeps. An event whose subject cannot be read is refused: stored, it could not be
/// erased.
pub(crate) fn subjects_of(
    pick: &Option<Pick>,
    headers: &http::HeaderMap,
    json: Option<&Val>,
) -> Result<Vec<[u8; 32]>, String> {
    let Some(v) = pick_value(pick, headers, json, "subject")? else {
        return Ok(Vec::new());
    };
    let values: Vec<Val> = match &v {
        Val::Arr(items) => items.iter().cloned().collect(),
        _ => vec![v],
    };
    let mut out: Vec<[u8; 32]> = Vec::new();
    for v in values {
        if matches!(v, Val::Null) {
            continue;
        }
        let text = jq::scalar_text(&v).ok_or_else(|| {
            "the event's subject is not a string, a number or an array of them".to_owned()
        })?;
        if text.trim().is_empty() {
            continue;
        }
        if text.len() > 255 {
            return Err("the event's subject is longer than 255 characters".into());
        }
        let h = junction_store::subject_hash(&text);
        if !out.contains(&h) {
            out.push(h);
        }
        if out.len() > junction_store::MAX_SUBJECTS {
            return Err(format!(
                "the event names more than {} data subjects",
                junction_store::MAX_SUBJECTS
            ));
        }
    }
    Ok(out)
}

/// A sequence is an integer, or an RFC 3339 timestamp (in ms).
pub(crate) fn sequence_of(v: &Val) -> Result<i64, String> {
    if let Some(n) = jq::as_i64(v) {
        return Ok(n);
    }
    if let Some(text) = jq::as_str(v).and_then(|b| std::str::from_utf8(b).ok()) {
        if let Ok(t) = humantime::parse_rfc3339_weak(text.trim()) {
            let ms = t
                .duration_since(std::time::UNIX_EPOCH)
                .map(|d| d.as_millis() as i64)
                .unwrap_or(0);
            return Ok(ms);
        }
    }
    Err("the event's sequence is neither an integer nor an RFC 3339 timestamp".into())
}

/// Compares the event's body with the shape learned for its source and type (schema drift), off
/// the request's path: the answer does not wait for it.
fn learn_shape(
    drift: Arc<junction_transform::drift::Tracker>,
    subject: String,
    body: &[u8],
    now: i64,
) {
    let body = body.to_vec();
    tokio::spawn(async move {
        if let Ok(v) = serde_json::from_slice::<serde_json::Value>(&body) {
            drift.observe("source", &subject, &v, now);
        }
    });
}
