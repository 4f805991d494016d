//! OAuth endpoints, the sink, and the `/_mock/` control and inspection endpoints.

use super::*;

/// `POST|PUT /sink/{path}`: record the delivery, then answer as the sink setting says.
pub(super) async fn sink(
    AxState(state): St,
    method: http::Method,
    uri: axum::http::Uri,
    headers: HeaderMap,
    body: axum::body::Bytes,
) -> Response {
    let (fate, latency) = state.sink_chaos.next();
    let header = |name: &str| {
        headers
            .get(name)
            .and_then(|v| v.to_str().ok())
            .map(str::to_owned)
    };
    let answered = match &fate {
        Fate::Error(s) => *s,
        Fate::Hang | Fate::Reset => 0,
        _ => 200,
    };
    state.received.push(Delivery {
        at_ms: std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map(|d| d.as_millis() as i64)
            .unwrap_or(0),
        at_us: state.started.elapsed().as_micros() as u64,
        method: method.to_string(),
        path: uri.path().to_owned(),
        headers: headers
            .iter()
            .map(|(k, v)| {
                (
                    k.as_str().to_owned(),
                    String::from_utf8_lossy(v.as_bytes()).into_owned(),
                )
            })
            .collect(),
        body: String::from_utf8_lossy(&body).into_owned(),
        idempotency_key: header("idempotency-key").or_else(|| header("webhook-id")),
        answered,
    });
    if !latency.is_zero() {
        tokio::time::sleep(latency).await;
    }
    match chaos_instead(&fate).await {
        Some(mut res) => {
            if res.status() == StatusCode::TOO_MANY_REQUESTS {
                res.headers_mut()
                    .insert("retry-after", HeaderValue::from_static("1"));
            }
            res
        }
        None => Json(json!({ "received": true })).into_response(),
    }
}

/// Replaces a chaos setting from a JSON body; answers the setting now in force.
fn put_setting(target: &crate::chaos::ChaosState, body: &[u8]) -> Response {
    let chaos: crate::Chaos = match serde_json::from_slice(body) {
        Ok(c) => c,
        Err(e) => {
            return error(
                StatusCode::BAD_REQUEST,
                "invalid_request_error",
                &format!("invalid setting: {e}"),
            )
        }
    };
    match target.set(chaos) {
        Ok(()) => Json(target.get()).into_response(),
        Err(e) => error(StatusCode::BAD_REQUEST, "invalid_request_error", &e),
    }
}

pub(super) async fn get_sink(AxState(state): St) -> Response {
    Json(state.sink_chaos.get()).into_response()
}

/// `PUT /_mock/sink`: how the sink answers, in the chaos format (e.g. `{"errors":[[410,1.0]]}`).
pub(super) async fn put_sink(AxState(state): St, body: axum::body::Bytes) -> Response {
    put_setting(&state.sink_chaos, &body)
}

pub(super) async fn delete_sink(AxState(state): St) -> Response {
    put_setting(&state.sink_chaos, b"{}")
}

/// `GET /_mock/deliveries-received`: what the sink received (`?path=` filters by prefix).
pub(super) async fn deliveries_received(
    AxState(state): St,
    Query(q): Query<BTreeMap<String, String>>,
) -> Response {
    let (total, mut kept) = state.received.snapshot();
    if let Some(prefix) = q.get("path") {
        kept.retain(|d| d.path.starts_with(prefix.as_str()));
    }
    Json(json!({ "total": total, "deliveries": kept })).into_response()
}

pub(super) async fn get_chaos(AxState(state): St) -> Response {
    Json(state.chaos.get()).into_response()
}

/// `PUT /_mock/chaos`: replace the setting (and restart its deterministic sequence).
pub(super) async fn put_chaos(AxState(state): St, body: axum::body::Bytes) -> Response {
    put_setting(&state.chaos, &body)
}

pub(super) async fn delete_chaos(AxState(state): St) -> Response {
    put_setting(&state.chaos, b"{}")
}

/// `POST /oauth/token` (form body; client credentials in HTTP basic or the body).
pub(super) async fn token(
    AxState(state): St,
    headers: HeaderMap,
    body: axum::body::Bytes,
) -> Response {
    if !state.config.auth.token_delay.is_zero() {
        tokio::time::sleep(state.config.auth.token_delay).await;
    }
    let form: std::collections::HashMap<String, String> =
        url::form_urlencoded::parse(&body).into_owned().collect();
    let basic = headers
        .get("authorization")
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.strip_prefix("Basic "))
        .and_then(|b| {
            use base64::Engine;
            base64::engine::general_purpose::STANDARD
                .decode(b.trim())
                .ok()
        })
        .and_then(|d| String::from_utf8(d).ok())
        .and_then(|d| d.split_once(':').map(|(u, p)| (u.to_owned(), p.to_owned())));
    let (status, body) = state.tokens.token(&state.config.auth, &form, basic);
    let mut res = (
        StatusCode::from_u16(status).unwrap_or(StatusCode::BAD_REQUEST),
        Json(body),
    )
        .into_response();
    res.headers_mut()
        .insert("cache-control", HeaderValue::from_static("no-store"));
    res
}

/// `GET /oauth/authorize`: approves at once and redirects with a code.
pub(super) async fn authorize(
    AxState(state): St,
    Query(q): Query<std::collections::HashMap<String, String>>,
) -> Response {
    match state.tokens.authorize(&state.config.auth, &q) {
        Ok(location) => (StatusCode::FOUND, [("location", location)]).into_response(),
        Err(e) => error(StatusCode::BAD_REQUEST, "invalid_request", &e),
    }
}

/// `GET /_mock/tokens`: every token response issued, in order.
pub(super) async fn tokens(AxState(state): St) -> Response {
    Json(json!({ "issued": state.tokens.issued() })).into_response()
}

/// `GET /_mock/requests`: what the mock received (`?path=` filters by path prefix).
pub(super) async fn requests(
    AxState(state): St,
    Query(q): Query<BTreeMap<String, String>>,
) -> Response {
    let (total, mut kept) = state.log.snapshot();
    if let Some(prefix) = q.get("path") {
        kept.retain(|r| r.path.starts_with(prefix.as_str()));
    }
    Json(json!({ "total": total, "requests": kept })).into_response()
}

/// `POST /_mock/reset`: forget what was recorded and return to the configured start: seeded data,
/// chaos and sink settings as configured.
pub(super) async fn reset(AxState(state): St) -> Response {
    state.log.clear();
    state.tokens.clear();
    state.quotas.clear();
    let _ = state.chaos.set(state.config.chaos.clone());
    let _ = state.sink_chaos.set(state.config.sink.clone());
    state.received.clear();
    state.sent.clear();
    *state.write() = Dataset::generate(state.config.seed, state.config.customers);
    Json(json!({ "reset": true })).into_response()
}

/// `POST /_mock/webhooks/send`: send signed events to a target (see `emit::SendRequest`);
/// answers when every attempt is done, with how many there were.
pub(super) async fn send_webhooks(AxState(state): St, body: axum::body::Bytes) -> Response {
    let mut req: crate::SendRequest = match serde_json::from_slice(&body) {
        Ok(r) => r,
        Err(e) => {
            return error(
                StatusCode::BAD_REQUEST,
                "invalid_request_error",
                &format!("invalid send request: {e}"),
            )
        }
    };
    if let Err(e) = crate::emit::check(&req) {
        return error(StatusCode::BAD_REQUEST, "invalid_request_error", &e);
    }
    if let Some(p) = state.config.persona {
        let people = state
            .read()
            .customers
            .iter()
            .take(req.keys.max(1))
            .cloned()
            .collect();
        req.persona = Some((p, people));
    }
    if req.background {
        let log = state.sent.clone();
        tokio::spawn(async move {
            if let Err(e) = crate::emit::send(req, log).await {
                tracing::warn!(error = %e, "background webhook sending failed");
            }
        });
        return (StatusCode::ACCEPTED, Json(json!({ "started": true }))).into_response();
    }
    match crate::emit::send(req, state.sent.clone()).await {
        Ok(attempts) => Json(json!({ "attempts": attempts })).into_response(),
        Err(e) => error(StatusCode::BAD_REQUEST, "invalid_request_error", &e),
    }
}

/// `POST /_mock/changes`: changes customers and announces each with a webhook, some dropped,
/// duplicated or reordered (see `changes`). Answers when every webhook was sent:
/// `{changed, sent, accepted, dropped}`.
pub(super) async fn changes(AxState(state): St, body: axum::body::Bytes) -> Response {
    let req: crate::ChangeRequest = match serde_json::from_slice(&body) {
        Ok(r) => r,
        Err(e) => {
            return error(
                StatusCode::BAD_REQUEST,
                "invalid_request_error",
                &format!("invalid change request: {e}"),
            )
        }
    };
    if let Err(e) = crate::changes::check(&req) {
        return error(StatusCode::BAD_REQUEST, "invalid_request_error", &e);
    }
    let (planned, dropped) = crate::changes::plan(&req, &mut state.write());
    let sent = planned.len();
    match crate::changes::send(&req, planned).await {
        Ok(accepted) => Json(
            json!({ "changed": req.count, "sent": sent, "accepted": accepted, "dropped": dropped }),
        )
        .into_response(),
        Err(e) => error(StatusCode::BAD_REQUEST, "invalid_request_error", &e),
    }
}

/// `GET /_mock/webhooks-sent`: every attempt the mock made, in order.
pub(super) async fn webhooks_sent(AxState(state): St) -> Response {
    let (total, sent) = state.sent.snapshot();
    Json(json!({ "total": total, "sent": sent })).into_response()
}

/// `POST /soap`: the SOAP 1.1 service; faults are HTTP 500 with a `soap:Fault` body.
pub(super) async fn soap(AxState(state): St, body: axum::body::Bytes) -> Response {
    let xml_answer = |status: StatusCode, text: String| {
        let mut res = (status, text).into_response();
        res.headers_mut().insert(
            "content-type",
            HeaderValue::from_static("text/xml; charset=utf-8"),
        );
        res
    };
    let Ok(text) = std::str::from_utf8(&body) else {
        return xml_answer(
            StatusCode::INTERNAL_SERVER_ERROR,
            crate::soap::fault(true, "the request is not UTF-8"),
        );
    };
    let call = match crate::soap::parse(text) {
        Ok(c) => c,
        Err(e) => {
            return xml_answer(
                StatusCode::INTERNAL_SERVER_ERROR,
                crate::soap::fault(true, &e),
            )
        }
    };
    match crate::soap::run(&call, &state.read()) {
        Ok(xml) => xml_answer(StatusCode::OK, xml),
        Err((client, message)) => xml_answer(
            StatusCode::INTERNAL_SERVER_ERROR,
            crate::soap::fault(client, &message),
        ),
    }
}
