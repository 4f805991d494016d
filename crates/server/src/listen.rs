//! Accepting connections: HTTP/1 on hyper with a timer, so a client that is slow to send its
//! headers (or sits idle on a keep-alive connection) is closed after `server.header_timeout`, and
//! at most `server.max_connections` are open at once (fewer when the open-file limit is lower).
//! At the cap, the connection idle the longest makes room for the new one; with none idle, the
//! new one is closed as soon as it is accepted. Either way descriptors remain for the store and
//! vendors, and a flood of idle connections cannot lock `/healthz` out. On shutdown no connection is accepted, idle ones close, and each open
//! one finishes the exchange in progress.

use std::convert::Infallible;
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use axum::extract::ConnectInfo;
use axum::Router;
use hyper_util::rt::{TokioIo, TokioTimer};
use std::collections::BTreeMap;
use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering};
use std::sync::Mutex;
use tokio::net::TcpListener;

use tokio::sync::{watch, Notify, Semaphore};

/// How connections are accepted and kept.
#[derive(Debug, Clone, Copy)]
pub struct Limits {
    pub header_timeout: Duration,
    pub max_connections: usize,
}

/// Accepts connections on `listener` and serves `app` on each until `stop` turns true; then
/// waits (without a bound: the caller bounds it) until every connection has closed.
pub async fn run(
    listener: TcpListener,
    app: Router,
    limits: Limits,
    tls: Option<crate::tls::Acceptor>,
    mut stop: watch::Receiver<bool>,
) -> std::io::Result<()> {
    if let Some(tls) = &tls {
        tls.watch(stop.clone());
    }
    let max = within_descriptors(limits.max_connections);
    let limits = Limits {
        max_connections: max,
        ..limits
    };
    let slots = Arc::new(Semaphore::new(limits.max_connections));
    let idle = Arc::new(Registry::default());
    let refused = metrics::counter!("junction_http_connections_refused_total");
    let evicted = metrics::counter!("junction_http_connections_evicted_total");
    let open = metrics::gauge!("junction_http_connections_open");
    let handshakes_failed = metrics::counter!("junction_tls_handshake_failures_total");
    let mut builder = hyper::server::conn::http1::Builder::new();
    builder
        .timer(TokioTimer::new())
        .header_read_timeout(limits.header_timeout)
        .keep_alive(true);
    loop {
        let accepted = tokio::select! {
            biased;
            _ = stop.wait_for(|s| *s) => break,
            a = listener.accept() => a,
        };
        let (stream, peer) = match accepted {
            Ok(a) => a,
            Err(e) => {
                // Out of file descriptors, or a connection reset before it was accepted: both
                // pass; a short pause keeps an exhausted process from spinning.
                tracing::warn!(error = %e, "cannot accept a connection");
                tokio::time::sleep(Duration::from_millis(50)).await;
                continue;
            }
        };
        let slot = match slots.clone().try_acquire_owned() {
            Ok(s) => s,
            // At the cap: close the connection idle the longest (no request in flight), as
            // nginx does, so a flood of idle connections cannot lock out new callers
            // (`/healthz` among them); with none idle, the new connection is closed.
            Err(_) if idle.evict_oldest() => {
                evicted.increment(1);
                match tokio::time::timeout(
                    Duration::from_millis(100),
                    slots.clone().acquire_owned(),
                )
                .await
                {
                    Ok(Ok(s)) => s,
                    _ => {
                        refused.increment(1);
                        continue;
                    }
                }
            }
            Err(_) => {
                refused.increment(1);
                drop(stream);
                continue;
            }
        };
        let _ = stream.set_nodelay(true);
        open.increment(1.0);
        let (id, state) = idle.add();
        let (builder, app, stop) = (builder.clone(), app.clone(), stop.clone());
        let (open, idle) = (open.clone(), idle.clone());
        let acceptor = tls.as_ref().map(crate::tls::Acceptor::get);
        let handshakes_failed = handshakes_failed.clone();
        tokio::spawn(async move {
            match acceptor {
                None => {
                    serve_one(&builder, TokioIo::new(stream), app, peer, state, None, stop).await
                }
                // The handshake has the header timeout too: a client that connects and sends
                // nothing holds a slot no longer over TLS than over plain HTTP.
                Some(acceptor) => {
                    match tokio::time::timeout(limits.header_timeout, acceptor.accept(stream)).await
                    {
                        Ok(Ok(tls)) => {
                            let names = crate::tls::ClientNames::of(tls.get_ref().1);
                            let over = Some(names);
                            serve_one(&builder, TokioIo::new(tls), app, peer, state, over, stop)
                                .await
                        }
                        Ok(Err(e)) => {
                            handshakes_failed.increment(1);
                            tracing::debug!(%peer, error = %e, "TLS handshake failed");
                        }
                        Err(_) => {
                            handshakes_failed.increment(1);
                            tracing::debug!(%peer, "TLS handshake timed out");
                        }
                    }
                }
            }
            idle.remove(id);
            open.decrement(1.0);
            drop(slot);
        });
    }
    drop(listener);
    // Every slot back means every connection has closed.
    let _ = slots.acquire_many(limits.max_connections as u32).await;
    Ok(())
}

/// Serves `app` on one accepted connection until it closes, is evicted (idle at the cap), or the
/// server stops (then the exchange in progress finishes first). `over_tls`: `None` for plain
/// HTTP, `Some` over TLS with the client certificate's names when one was presented.
async fn serve_one<I>(
    builder: &hyper::server::conn::http1::Builder,
    io: I,
    app: Router,
    peer: SocketAddr,
    state: Arc<ConnState>,
    over_tls: Option<Option<crate::tls::ClientNames>>,
    mut stop: watch::Receiver<bool>,
) where
    I: hyper::rt::Read + hyper::rt::Write + Unpin + Send + 'static,
{
    let conn = builder.serve_connection(io, service(app, peer, state.clone(), over_tls));
    tokio::pin!(conn);
    let done = tokio::select! {
        r = conn.as_mut() => Some(r),
        _ = stop.wait_for(|s| *s) => None,
        // Evicted: dropping the connection closes it (it had no request in flight).
        _ = state.evict.notified() => Some(Ok(())),
    };
    if done.is_none() {
        conn.as_mut().graceful_shutdown();
        let _ = conn.as_mut().await;
    }
}

/// The connection cap, lowered to three quarters of the process's open-file limit when that is
/// smaller: the rest stays for the store, vendors and the listener, so a flood of connections
/// meets the cap (closed at once) before the process runs out of descriptors.
fn within_descriptors(configured: usize) -> usize {
    let Some(soft) = open_file_limit() else {
        return configured;
    };
    let budget = (soft - soft / 4).max(16);
    if budget < configured {
        tracing::info!(
            configured,
            open_file_limit = soft,
            max_connections = budget,
            "server.max_connections lowered to fit the open-file limit (raise it with ulimit -n)"
        );
        return budget;
    }
    configured
}

/// The soft limit on open files, from `/proc/self/limits` (Linux); `None` elsewhere or unlimited.
fn open_file_limit() -> Option<usize> {
    let text = std::fs::read_to_string("/proc/self/limits").ok()?;
    let line = text.lines().find(|l| l.starts_with("Max open files"))?;
    line["Max open files".len()..]
        .split_whitespace()
        .next()?
        .parse()
        .ok()
}

/// One connection's state, as the accept loop sees it.
#[derive(Default)]
struct ConnState {
    /// Requests being answered now (a connection with none is idle, and may be evicted).
    in_flight: AtomicUsize,
    evict: Notify,
}

/// The open connections, oldest first, for eviction at the cap.
#[derive(Default)]
struct Registry {
    next: AtomicU64,
    open: Mutex<BTreeMap<u64, Arc<ConnState>>>,
}

impl Registry {
    fn add(&self) -> (u64, Arc<ConnState>) {
        let id = self.next.fetch_add(1, Ordering::Relaxed);
        let state = Arc::new(ConnState::default());
        self.lock().insert(id, state.clone());
        (id, state)
    }

    fn remove(&self, id: u64) {
        self.lock().remove(&id);
    }

    /// Tells the oldest idle connection to close; false if every connection is busy.
    fn evict_oldest(&self) -> bool {
        let mut open = self.lock();
        let oldest = open
            .iter()
            .find(|(_, c)| c.in_flight.load(Ordering::Acquire) == 0)
            .map(|(id, _)| *id);
        match oldest.and_then(|id| open.remove(&id)) {
            Some(c) => {
                c.evict.notify_one();
                true
            }
            None => false,
        }
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, BTreeMap<u64, Arc<ConnState>>> {
        self.open.lock().unwrap_or_else(|p| p.into_inner())
    }
}

/// Counts a request in flight on its connection until its answer is sent (or dropped).
struct InFlight(Arc<ConnState>);

impl InFlight {
    fn new(state: Arc<ConnState>) -> Self {
        state.in_flight.fetch_add(1, Ordering::AcqRel);
        Self(state)
    }
}

impl Drop for InFlight {
    fn drop(&mut self) {
        self.0.in_flight.fetch_sub(1, Ordering::AcqRel);
    }
}

type Incoming = http::Request<hyper::body::Incoming>;

/// The router as one connection's service, with the peer's address in each request (what
/// `ConnectInfo<SocketAddr>` extractors read) and [`crate::tls::OverTls`] on a TLS connection,
/// counting its requests in flight.
fn service(
    app: Router,
    peer: SocketAddr,
    state: Arc<ConnState>,
    over_tls: Option<Option<crate::tls::ClientNames>>,
) -> impl hyper::service::Service<
    Incoming,
    Response = axum::response::Response,
    Error = Infallible,
    Future = impl std::future::Future<Output = Result<axum::response::Response, Infallible>> + Send,
> {
    hyper::service::service_fn(move |mut req: Incoming| {
        req.extensions_mut().insert(ConnectInfo(peer));
        if let Some(names) = &over_tls {
            req.extensions_mut().insert(crate::tls::OverTls);
            if let Some(names) = names {
                req.extensions_mut().insert(names.clone());
            }
        }
        let mut app = app.clone();
        let busy = InFlight::new(state.clone());
        let answer = tower::Service::call(&mut app, req.map(axum::body::Body::new));
        // The request stays in flight until its body has been sent (or dropped): a connection
        // streaming an answer is busy, and never evicted.
        futures_util::FutureExt::map(answer, move |r| {
            r.map(|res| {
                res.map(|body| {
                    axum::body::Body::new(http_body_util::BodyExt::map_frame(body, move |f| {
                        let _sending = &busy;
                        f
                    }))
                })
            })
        })
    })
}
