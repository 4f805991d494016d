//! Asynchronous request/reply for slow systems (RFC 7240 `Prefer: respond-async`, or
//! `respond_async: true` on an operation): the input is checked, the call is stored and answered
//! `202 Accepted` at once with its status URL, and it runs as a durable job — in this process at
//! once, and by any process's sweep if this one dies. `GET /ops/calls/{id}` answers the state
//! while it runs and `303 See Other` to `/ops/calls/{id}/result` once the vendor answered; only
//! the API token that made the call can read it.
//!
//! A call whose process died is run again when that is safe — an operation that only reads or
//! is idempotent by method (PUT, DELETE), or a connector with an idempotency header (the call's
//! id goes in it, so the vendor drops the repeat). Otherwise its outcome is unknown: it ends
//! with a 502 `outcome_unknown` for the caller to check the vendor, never sent twice blindly.

use std::sync::Arc;
use std::time::Duration;

use axum::extract::Path;
use axum::response::{IntoResponse, Response};
use http::{HeaderValue, StatusCode};
use junction_core::time::now_ms;
use junction_core::{Code, Error};
use junction_server::ApiError;
use junction_store::{AsyncCall, CallState, NewCall};
use serde_json::{json, Map, Value};

use crate::Hub;

/// How often a running call says it is alive, and how long without it before it is taken over.
const HEARTBEAT: Duration = Duration::from_secs(5);
const STALE: Duration = Duration::from_secs(30);
/// Answered calls are kept this long for their callers to read.
use junction_store::async_calls::KEEP_ANSWERED as KEEP;
/// Most bytes of an answer kept.
const MAX_KEPT: usize = 1 << 20;
/// Most asynchronous calls running in one process: past it, callers are asked to come back
/// (each running call holds its input and a task; the connector's own limits then apply).
const MAX_RUNNING: usize = 1024;

/// One running call's place, counted while it lives (from its acceptance to its answer).
struct Running(Arc<Hub>);

impl Running {
    /// Takes a place among the [`MAX_RUNNING`], or none when all are taken: the count and the
    /// check are one step, so callers arriving together (or before the calls accepted just now
    /// have started) cannot pass the bound.
    fn take(hub: &Arc<Hub>) -> Option<Self> {
        let before = hub
            .async_running
            .fetch_add(1, std::sync::atomic::Ordering::AcqRel);
        let place = Running(hub.clone());
        (before < MAX_RUNNING).then_some(place)
    }

    /// Counts a call this process runs whatever the count (one left behind by another).
    fn start(hub: &Arc<Hub>) -> Self {
        hub.async_running
            .fetch_add(1, std::sync::atomic::Ordering::AcqRel);
        Running(hub.clone())
    }
}

impl Drop for Running {
    fn drop(&mut self) {
        self.0
            .async_running
            .fetch_sub(1, std::sync::atomic::Ordering::AcqRel);
    }
}

/// Whether the caller asked for an asynchronous answer (`Prefer: respond-async`, RFC 7240).
pub fn wants_async(headers: &http::HeaderMap) -> bool {
    headers
        .get_all(http::header::HeaderName::from_static("prefer"))
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(','))
        .any(|p| p.trim().eq_ignore_ascii_case("respond-async"))
}

/// Stores the call and answers `202` with its status URL; it starts running at once.
pub async fn accept(
    hub: &Arc<Hub>,
    connector: &str,
    operation: &str,
    connection: String,
    caller: &str,
    input: Map<String, Value>,
    callback: Option<String>,
) -> Result<Response, ApiError> {
    if let Some(dest) = &callback {
        let known = hub.destinations.load();
        if !known.contains(dest) {
            let shown: String = dest.chars().take(64).collect();
            let names: Vec<&str> = known.iter().take(20).map(String::as_str).collect();
            return Err(ApiError(
                Error::downstream(
                    Code::BadRequest,
                    format!("no destination `{shown}` for the callback"),
                )
                .with_hint(if names.is_empty() {
                    "a callback names a destination declared under `destinations:`".to_owned()
                } else {
                    format!(
                        "a callback names a configured destination: {}",
                        names.join(", ")
                    )
                }),
            ));
        }
    }
    let Some(place) = Running::take(hub) else {
        return Err(ApiError(
            Error::downstream(
                Code::NotReady,
                format!("{MAX_RUNNING} asynchronous calls are running in this hub already"),
            )
            .with_hint("retry after the Retry-After delay, or call synchronously")
            .with_retry_after(Duration::from_secs(5)),
        ));
    };
    let uid = format!("call_{}", uuid::Uuid::now_v7().simple());
    let now = now_ms();
    // Stored as taken by this process, which runs it at once: one write before the 202.
    let call = NewCall {
        uid: uid.clone(),
        connector: connector.to_owned(),
        operation: operation.to_owned(),
        connection,
        caller: caller.to_owned(),
        input: Value::Object(input).to_string(),
        owner: Some(hub.node_id.to_string()),
        callback,
        now,
    };
    hub.store.queue_call(call.clone()).await?;
    let taken = AsyncCall {
        uid: call.uid,
        connector: call.connector,
        operation: call.operation,
        connection: call.connection,
        caller: call.caller,
        input: call.input,
        state: CallState::Running,
        owner: call.owner,
        tries: 1,
        created_at: now,
        finished_at: None,
        status: None,
        body: None,
        callback: call.callback,
    };
    tokio::spawn(execute(hub.clone(), taken, place));
    let url = format!("/ops/calls/{uid}");
    let mut res = (
        StatusCode::ACCEPTED,
        axum::Json(
            json!({ "id": uid, "state": "queued", "status_url": url, "created_at_ms": now }),
        ),
    )
        .into_response();
    let h = res.headers_mut();
    if let Ok(v) = HeaderValue::from_str(&url) {
        h.insert(http::header::LOCATION, v);
    }
    h.insert(
        http::header::HeaderName::from_static("preference-applied"),
        HeaderValue::from_static("respond-async"),
    );
    h.insert(http::header::RETRY_AFTER, HeaderValue::from_static("1"));
    Ok(res)
}

/// Takes a call left behind and runs it to its answer, unless another process has it.
async fn run(hub: Arc<Hub>, uid: String) {
    let now = now_ms();
    let stale = now - STALE.as_millis() as i64;
    match hub.store.take_call(&uid, &hub.node_id, now, stale).await {
        Ok(Some(call)) => {
            let place = Running::start(&hub);
            execute(hub, call, place).await
        }
        Ok(None) => {}
        Err(e) => {
            tracing::warn!(call = %uid, error = %e, "an asynchronous call could not be taken; a later sweep will");
        }
    }
}

/// Runs a call this process holds to its answer.
async fn execute(hub: Arc<Hub>, call: AsyncCall, _running: Running) {
    let (uid, owner) = (call.uid.clone(), hub.node_id.to_string());
    // Stops beating when this task ends, however it ends: a call whose runner is gone must
    // go silent, so another process takes it over.
    let beat = Beating({
        let (hub, uid, owner) = (hub.clone(), uid.clone(), owner.clone());
        tokio::spawn(async move {
            loop {
                tokio::time::sleep(HEARTBEAT).await;
                let _ = hub.store.beat_call(&uid, &owner, now_ms()).await;
            }
        })
    });
    let (status, body) = if call.tries > 1 && !repeatable(&hub, &call) {
        // Taken before by a process that died: the vendor may have acted on it.
        let e = Error::downstream(
            Code::UpstreamFailed,
            format!(
                "the hub running this call stopped before the vendor's answer was kept; `{}` may or may not have acted",
                call.operation
            ),
        )
        .with_hint("check the vendor, then call again if it did not act (the operation is not safe to repeat blindly)");
        let mut body = e.to_body();
        body["error"]["code"] = json!("outcome_unknown");
        (502, body)
    } else {
        let input = match serde_json::from_str::<Value>(&call.input) {
            Ok(Value::Object(m)) => m,
            _ => Map::new(),
        };
        super::call_detached(
            &hub,
            &call.connector,
            &call.operation,
            &call.connection,
            input,
            Some(&call.uid),
        )
        .await
    };
    drop(beat);
    let (status, text) = match body.to_string() {
        t if t.len() > MAX_KEPT => (
            502,
            json!({ "error": { "code": "upstream_invalid",
                "message": format!("the answer is larger than an asynchronous call keeps ({MAX_KEPT} bytes)"),
                "hint": "call the operation synchronously, or page through it" } })
            .to_string(),
        ),
        _ if body.is_null() => (status, String::new()),
        t => (status, t),
    };
    let now = now_ms();
    let event = call
        .callback
        .as_deref()
        .map(|dest| callback_event(&call, dest, status, &text, now));
    match hub
        .store
        .finish_call(&uid, &owner, i32::from(status), text, now, event)
        .await
    {
        Ok(true) => {}
        Ok(false) => {
            tracing::warn!(call = %uid, "another process took this call over; its answer stands")
        }
        Err(e) => {
            tracing::warn!(call = %uid, error = %e, "the answer of an asynchronous call could not be kept; a sweep will run it again")
        }
    }
}

/// The event that delivers a call's answer to its callback destination (with the destination's
/// signing, retries and dead letters): `{id, connector, operation, status, answer}`.
fn callback_event(
    call: &AsyncCall,
    destination: &str,
    status: u16,
    text: &str,
    now: i64,
) -> junction_store::NewEvent {
    let answer = serde_json::from_str::<Value>(text).unwrap_or(Value::Null);
    let payload = json!({
        "id": call.uid,
        "connector": call.connector,
        "operation": call.operation,
        "status": status,
        "answer": answer,
        "finished_at_ms": now,
    });
    crate::Raised {
        source: CALLBACK_SOURCE,
        route: CALLBACK_ROUTE,
        id: call.uid.clone(),
        event_type: "call.done",
        key: None,
        payload,
        destination,
    }
    .event(now)
}

/// The source and route of callback events: names no config can declare (they hold a dot).
pub const CALLBACK_SOURCE: &str = "ops.calls";
const CALLBACK_ROUTE: &str = "ops.callback";

/// Whether running `call` again cannot make the vendor act twice.
fn repeatable(hub: &Hub, call: &AsyncCall) -> bool {
    let Some(rt) = hub.connector(&call.connector) else {
        return false;
    };
    if rt.cfg.soap.is_some() {
        return false;
    }
    let by_method = rt
        .cfg
        .operations
        .get(&call.operation)
        .is_some_and(|op| op.repeatable());
    by_method || rt.cfg.idempotency_header.is_some()
}

/// Runs the calls whose process died, and forgets answers kept long enough; until shutdown.
pub fn sweep(hub: &Arc<Hub>, state: &junction_server::AppState) {
    let hub = hub.clone();
    let task = tokio::spawn(async move {
        let mut purged = 0i64;
        loop {
            tokio::time::sleep(HEARTBEAT).await;
            let now = now_ms();
            match hub
                .store
                .abandoned_calls(now - STALE.as_millis() as i64, 100)
                .await
            {
                Ok(uids) => {
                    for uid in uids {
                        tokio::spawn(run(hub.clone(), uid));
                    }
                }
                Err(e) => {
                    tracing::warn!(error = %e, "abandoned asynchronous calls could not be read")
                }
            }
            if now - purged > 300_000 {
                purged = now;
                let _ = hub.store.purge_calls(now - KEEP.as_millis() as i64).await;
            }
        }
    });
    state.on_shutdown(Box::new(move |_| {
        Box::pin(async move {
            task.abort();
        })
    }));
}

/// The call `id`, if `token` made it (anyone else gets the same 404 as for no call).
async fn mine(hub: &Hub, token: &str, id: &str) -> Result<AsyncCall, ApiError> {
    let call = if id.len() <= 64 {
        hub.store.get_call(id).await?
    } else {
        None
    };
    call.filter(|c| c.caller == token).ok_or_else(|| {
        ApiError(
            Error::downstream(Code::NotFound, format!("no asynchronous call `{id}`")).with_hint(
                "a call is read with the API token that made it, for 24 hours after its answer",
            ),
        )
    })
}

/// `GET /ops/calls/{id}`: the state while it runs, `303` to the result once answered.
#[utoipa::path(get, path = "/ops/calls/{id}", tag = "operations",
    summary = "An asynchronous operation call: its state, or 303 to its answer",
    description = "A call made with `Prefer: respond-async` (or to an operation with `respond_async: true`) is answered `202 Accepted` with this URL in `Location`. While it runs: 200 with its state and `Retry-After`; once the vendor answered: 303 to `/ops/calls/{id}/result`. Only the API token that made the call reads it, for 24 hours after its answer.",
    params(("id" = String, Path, description = "The call's id (`call_…`)")),
    responses(
        (status = 200, description = "Queued or running: `{id, state, connector, operation, created_at_ms, tries}`"),
        (status = 303, description = "Answered: `Location` is the answer"),
        (status = 401, description = "No or unknown API token", body = junction_server::errors::ErrorBody),
        (status = 404, description = "No such call for this token", body = junction_server::errors::ErrorBody)),
    security(("bearer" = [])))]
pub async fn status(
    axum::Extension(hub): axum::Extension<Arc<Hub>>,
    Path(id): Path<String>,
    parts: http::request::Parts,
) -> Result<Response, ApiError> {
    let token = hub.caller(&parts.headers, &parts.extensions).await?;
    let call = mine(&hub, &token.id, &id).await?;
    if call.state == CallState::Done {
        let mut res = StatusCode::SEE_OTHER.into_response();
        if let Ok(v) = HeaderValue::from_str(&format!("/ops/calls/{id}/result")) {
            res.headers_mut().insert(http::header::LOCATION, v);
        }
        return Ok(res);
    }
    let mut res = axum::Json(json!({
        "id": call.uid, "state": call.state.as_str(),
        "connector": call.connector, "operation": call.operation,
        "created_at_ms": call.created_at, "tries": call.tries,
    }))
    .into_response();
    res.headers_mut()
        .insert(http::header::RETRY_AFTER, HeaderValue::from_static("1"));
    Ok(res)
}

/// `GET /ops/calls/{id}/result`: the answer as the synchronous call would have given it.
#[utoipa::path(get, path = "/ops/calls/{id}/result", tag = "operations",
    summary = "The answer of an asynchronous operation call",
    description = "The status and body the synchronous call would have answered (a vendor's refusal, a broken model and the rest included); `outcome_unknown` (502) when the hub running a call that is not safe to repeat stopped before its answer was kept.",
    params(("id" = String, Path, description = "The call's id (`call_…`)")),
    responses(
        (status = 200, description = "The operation's answer"),
        (status = 401, description = "No or unknown API token", body = junction_server::errors::ErrorBody),
        (status = 404, description = "No such call for this token, or the vendor's own 404", body = junction_server::errors::ErrorBody),
        (status = 409, description = "Not answered yet", body = junction_server::errors::ErrorBody),
        (status = 502, description = "The vendor failed, or the outcome is unknown", body = junction_server::errors::ErrorBody)),
    security(("bearer" = [])))]
pub async fn result(
    axum::Extension(hub): axum::Extension<Arc<Hub>>,
    Path(id): Path<String>,
    parts: http::request::Parts,
) -> Result<Response, ApiError> {
    let token = hub.caller(&parts.headers, &parts.extensions).await?;
    let call = mine(&hub, &token.id, &id).await?;
    let (Some(status), Some(body)) = (call.status, call.body) else {
        return Err(ApiError(
            Error::downstream(Code::Conflict, format!("call `{id}` has no answer yet"))
                .with_hint(format!("poll GET /ops/calls/{id} until it answers 303")),
        ));
    };
    let status = StatusCode::from_u16(status as u16).unwrap_or(StatusCode::BAD_GATEWAY);
    let mut res = (status, body).into_response();
    res.headers_mut().insert(
        http::header::CONTENT_TYPE,
        HeaderValue::from_static("application/json"),
    );
    Ok(res)
}

/// A heartbeat task, stopped when dropped.
struct Beating(tokio::task::JoinHandle<()>);

impl Drop for Beating {
    fn drop(&mut self) {
        self.0.abort();
    }
}
