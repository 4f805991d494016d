//! Accepting connections: HTTP/1 on hyper with a timer, so a client that is slow to send its
//! headers (or sits idle on a keep-alive connection) is closed after `server.header_timeout`, and
//! at most `server.max_connections` are open at once. A connection over the cap is closed as soon
//! as it is accepted: its file descriptor is given back at once, so the store, vendors and
//! `/healthz` keep theirs. On shutdown no connection is accepted, idle ones close, and each open
//! one finishes the exchange in progress.

use std::convert::Infallible;
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use axum::extract::ConnectInfo;
use axum::Router;
use hyper_util::rt::{TokioIo, TokioTimer};
use tokio::net::TcpListener;
use tokio::sync::{watch, Semaphore};

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
    mut stop: watch::Receiver<bool>,
) -> std::io::Result<()> {
    let slots = Arc::new(Semaphore::new(limits.max_connections));
    let refused = metrics::counter!("junction_http_connections_refused_total");
    let open = metrics::gauge!("junction_http_connections_open");
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
        let Ok(slot) = slots.clone().try_acquire_owned() else {
            refused.increment(1);
            drop(stream);
            continue;
        };
        let _ = stream.set_nodelay(true);
        open.increment(1.0);
        let app = app.clone();
        let conn = builder.serve_connection(TokioIo::new(stream), service(app, peer));
        let mut stop = stop.clone();
        let open = open.clone();
        tokio::spawn(async move {
            tokio::pin!(conn);
            let done = tokio::select! {
                r = conn.as_mut() => Some(r),
                _ = stop.wait_for(|s| *s) => None,
            };
            if done.is_none() {
                conn.as_mut().graceful_shutdown();
                let _ = conn.as_mut().await;
            }
            open.decrement(1.0);
            drop(slot);
        });
    }
    drop(listener);
    // Every slot back means every connection has closed.
    let _ = slots.acquire_many(limits.max_connections as u32).await;
    Ok(())
}

type Incoming = http::Request<hyper::body::Incoming>;

/// The router as one connection's service, with the peer's address in each request (what
/// `ConnectInfo<SocketAddr>` extractors read). The router's own future is returned, not boxed.
fn service(
    app: Router,
    peer: SocketAddr,
) -> impl hyper::service::Service<
    Incoming,
    Response = axum::response::Response,
    Error = Infallible,
    Future = axum::routing::future::RouteFuture<Infallible>,
> {
    hyper::service::service_fn(move |mut req: Incoming| {
        req.extensions_mut().insert(ConnectInfo(peer));
        let mut app = app.clone();
        tower::Service::call(&mut app, req.map(axum::body::Body::new))
    })
}
