//! Building the router and running it until a shutdown signal, then stopping gracefully:
//! readiness turns 503, no new connections are accepted, in-flight requests get the grace period
//! to finish, and every lease this process holds is released so other nodes can take the work.

use std::future::Future;

use axum::routing::get;
use axum::Router;
use tokio::net::TcpListener;
use tower_http::limit::RequestBodyLimitLayer;

use crate::{health, observe, AppState};

/// The full application: Junction's routes plus `extra` (merged before the middleware, so it gets
/// all of it), with every layer applied.
pub fn router(state: AppState, extra: Option<Router<AppState>>) -> Router {
    // Install the recorder before the first request, or that request's metrics are lost.
    junction_telemetry::metrics::handle();
    let limit = state.config().server.body_limit;
    let edge_state = state.clone();
    let timeout = state.config().server.request_timeout;
    let mut routes = Router::new()
        .route("/healthz", get(health::healthz))
        .route("/readyz", get(health::readyz))
        .route("/metrics", get(health::metrics));
    if let Some(extra) = extra {
        routes = routes.merge(extra);
    }
    routes
        .with_state(state)
        .layer(RequestBodyLimitLayer::new(limit))
        .layer(axum::extract::DefaultBodyLimit::max(limit))
        .layer(axum::middleware::from_fn(move |req, next| {
            observe::edge(timeout, limit, edge_state.clone(), req, next)
        }))
}

/// Resolves on SIGINT (Ctrl-C) or SIGTERM. The handlers are installed when this is called, not
/// when the future is first polled: a signal that arrives once the server answers (its first
/// request may be served before the shutdown future is polled) stops it cleanly instead of
/// killing it. Call it from within the runtime, before serving.
pub fn shutdown_signal() -> impl std::future::Future<Output = ()> + Send {
    #[cfg(unix)]
    let (int, term) = {
        use tokio::signal::unix::{signal, SignalKind};
        (
            signal(SignalKind::interrupt()).ok(),
            signal(SignalKind::terminate()).ok(),
        )
    };
    async move {
        #[cfg(unix)]
        {
            let wait = |s: Option<tokio::signal::unix::Signal>| async move {
                match s {
                    Some(mut s) => {
                        s.recv().await;
                    }
                    None => std::future::pending::<()>().await,
                }
            };
            tokio::select! {
                _ = wait(int) => {}
                _ = wait(term) => {}
            }
        }
        #[cfg(not(unix))]
        {
            let _ = tokio::signal::ctrl_c().await;
        }
    }
}

/// Serves on `listener` until `shutdown` resolves, then stops gracefully within the configured grace.
pub async fn serve(
    listener: TcpListener,
    state: AppState,
    extra: Option<Router<AppState>>,
    shutdown: impl Future<Output = ()> + Send + 'static,
) -> std::io::Result<()> {
    let grace = state.config().server.shutdown_grace;
    let app = router(state.clone(), extra);
    let (stop_tx, stop_rx) = tokio::sync::watch::channel(false);
    health::spawn_monitor(state.clone(), stop_rx.clone());
    let limits = crate::listen::Limits {
        header_timeout: state.config().server.header_timeout,
        max_connections: state.config().server.max_connections,
    };
    let tls = match &state.config().server.tls {
        Some(files) => Some(crate::tls::Acceptor::load(files).map_err(std::io::Error::other)?),
        None => None,
    };
    let server = crate::listen::run(listener, app, limits, tls, stop_rx.clone());
    let mut server = tokio::spawn(server);
    tokio::select! {
        r = &mut server => {
            return r.map_err(std::io::Error::other)?;
        }
        _ = shutdown => {}
    }
    state.health.begin_shutdown();
    tracing::info!(
        grace_s = grace.as_secs_f64(),
        "shutting down: refusing new connections, finishing in-flight requests"
    );
    let _ = stop_tx.send(true);
    match tokio::time::timeout(grace, &mut server).await {
        Ok(r) => r.map_err(std::io::Error::other)??,
        Err(_) => {
            tracing::warn!(
                grace_s = grace.as_secs_f64(),
                "in-flight requests did not finish within the grace period; closing them"
            );
            server.abort();
        }
    }
    let drains: Vec<crate::Drain> =
        std::mem::take(&mut *state.drains.lock().unwrap_or_else(|p| p.into_inner()));
    for drain in drains {
        drain(grace).await;
    }
    match state
        .store
        .release(&state.node_id, junction_core::time::now_ms())
        .await
    {
        Ok(n) => tracing::info!(released = n, "released leases"),
        Err(e) => tracing::warn!(error = %e, "could not release leases; they expire by themselves"),
    }
    tracing::info!("stopped");
    Ok(())
}
