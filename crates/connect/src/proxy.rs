//! `ANY /proxy/{connector}/{*path}`: internal services call vendors through Junction with a hub
//! API token; Junction injects the vendor credentials (the caller's `Authorization` never goes
//! upstream). Answers carry `X-Junction-Attempts` and `X-Junction-Cache`.

use std::sync::Arc;

use axum::body::Body;
use axum::extract::{Path, Request};
use axum::response::{IntoResponse, Response};
use http::{HeaderValue, StatusCode};
use junction_core::{Code, Error, Origin};
use junction_server::ApiError;

use crate::runtime::{AnswerBody, Call};
use crate::Hub;

/// The OpenAPI description of `/proxy` (one operation per method a scope can name).
#[derive(utoipa::OpenApi)]
#[openapi(paths(proxy_get, proxy_post, proxy_put, proxy_patch, proxy_delete))]
pub struct ProxyDoc;

macro_rules! proxy_doc {
    ($name:ident, $method:ident, $upper:literal) => {
        #[doc = concat!("`", $upper, " /proxy/{connector}/{path}`: the vendor's answer, as it sent it.")]
        #[utoipa::path($method, path = "/proxy/{connector}/{path}", tag = "proxy",
            summary = concat!("Call a vendor through a connector (", $upper, ")"),
            description = "Junction adds the connector's credentials (the caller's `Authorization` never goes upstream), keeps the call inside the vendor's quota, retries what is safe, answers from the cache when it may, and opens the circuit when the vendor fails. Needs an API token with the scope `proxy:CONNECTOR:METHOD`. `X-Junction-Connection` picks a connection of a multi-tenant connector.",
            params(
                ("connector" = String, Path, description = "The connector's name under `connectors:`"),
                ("path" = String, Path, description = "The path under the connector's base URL, with its query"),
                ("X-Junction-Connection" = Option<String>, Header, description = "The connection to use (default `default`)")),
            responses(
                (status = "default", description = "The vendor's answer with its status and headers, plus `X-Junction-Attempts` (requests sent upstream) and `X-Junction-Cache` (`HIT`, `MISS`, `REVALIDATED`, `COALESCED`, `STALE`, `BYPASS`)"),
                (status = 401, description = "No or unknown API token", body = junction_server::errors::ErrorBody),
                (status = 403, description = "The token's scopes do not allow this method on this connector", body = junction_server::errors::ErrorBody),
                (status = 404, description = "No connector of that name", body = junction_server::errors::ErrorBody),
                (status = 413, description = "The body is larger than `server.body_limit`", body = junction_server::errors::ErrorBody),
                (status = 429, description = "The connector's quota is spent for longer than the call may wait (`Retry-After` says how long)", body = junction_server::errors::ErrorBody),
                (status = 502, description = "The vendor failed, or its connection needs re-authorisation", body = junction_server::errors::ErrorBody),
                (status = 503, description = "The circuit is open: the vendor is failing and calls are refused until a probe succeeds", body = junction_server::errors::ErrorBody),
                (status = 504, description = "The vendor did not answer in time", body = junction_server::errors::ErrorBody)),
            security(("bearer" = [])))]
        #[allow(dead_code)]
        fn $name() {}
    };
}
proxy_doc!(proxy_get, get, "GET");
proxy_doc!(proxy_post, post, "POST");
proxy_doc!(proxy_put, put, "PUT");
proxy_doc!(proxy_patch, patch, "PATCH");
proxy_doc!(proxy_delete, delete, "DELETE");

pub async fn proxy(
    axum::Extension(hub): axum::Extension<Arc<Hub>>,
    Path((connector, _)): Path<(String, String)>,
    req: Request,
) -> Result<Response, ApiError> {
    let (parts, body) = req.into_parts();
    let token = hub.caller(&parts.headers, &parts.extensions).await?;
    let rt = hub.connector_or_404(&connector)?;
    // The scope is checked against what goes to the vendor: every SOAP call is a POST,
    // whatever method the caller used.
    let sent = if rt.cfg.soap.is_some() {
        http::Method::POST
    } else {
        parts.method.clone()
    };
    if !crate::api_tokens::allows(&token.scopes, &connector, sent.as_str()) {
        return Err(ApiError(
            Error::new(
                Code::Forbidden,
                Origin::Downstream,
                format!(
                    "API token `{}` may not {sent} on connector `{connector}`",
                    token.id
                ),
            )
            .with_hint(format!(
                "create a token with --scope proxy:{connector}:{sent}"
            )),
        ));
    }
    // The path as received (still percent-encoded), after /proxy/{connector}.
    let raw = parts.uri.path();
    let prefix_len = "/proxy/".len()
        + raw["/proxy/".len()..]
            .find('/')
            .unwrap_or(raw.len() - "/proxy/".len());
    let path = raw[prefix_len..].to_owned();
    let connection = parts
        .headers
        .get("x-junction-connection")
        .and_then(|v| v.to_str().ok())
        .unwrap_or("default")
        .to_owned();
    let limit = hub.body_limit;
    let body = axum::body::to_bytes(body, limit).await.map_err(|_| {
        ApiError(
            Error::new(
                Code::BodyTooLarge,
                Origin::Downstream,
                format!(
                    "the request body is larger than the server accepts ({})",
                    junction_core::units::bytes_text(limit)
                ),
            )
            .with_hint(format!(
                "send a smaller body, or raise server.body_limit in junction.yaml (now {})",
                junction_core::units::bytes_text(limit)
            )),
        )
    })?;
    if let Some(soap) = &rt.cfg.soap {
        let operation = path.trim_matches('/');
        let shapes = hub.shapes.load_full();
        return crate::soap::call(&rt, &shapes, soap, operation, connection, body).await;
    }
    let method = parts.method.clone();
    let mut headers = parts.headers;
    let (path, version) = match rt.current_version() {
        Some(v) => {
            if let Some((name, value)) = &v.header {
                headers.insert(name.clone(), value.clone());
            }
            (format!("{}{path}", v.path), Some(v.name.clone()))
        }
        None => (path, None),
    };
    let answer = rt
        .call(Call {
            method: parts.method,
            path: path.clone(),
            query: parts.uri.query().map(str::to_owned),
            headers,
            body,
            connection,
            version,
            terms: crate::runtime::Terms::default(),
        })
        .await?;
    crate::drift::deprecation(&rt.drift, &connector, &method, &path, &answer.headers);
    if let AnswerBody::Full(bytes) = &answer.body {
        if answer.status.is_success() && is_json(&answer.headers) {
            crate::drift::observe(rt.drift.clone(), &connector, &method, &path, bytes.clone());
        }
    }
    let status = StatusCode::from_u16(answer.status.as_u16()).unwrap_or(StatusCode::BAD_GATEWAY);
    let body = match answer.body {
        AnswerBody::Full(b) => Body::from(b),
        AnswerBody::Stream { prefix, rest } if prefix.is_empty() => Body::new(rest.into_body()),
        AnswerBody::Stream { prefix, rest } => {
            let head = futures_util::stream::once(async move {
                Ok::<_, hyper::Error>(http_body::Frame::data(prefix))
            });
            let tail = http_body_util::BodyStream::new(rest.into_body());
            Body::new(http_body_util::StreamBody::new(
                futures_util::StreamExt::chain(head, tail),
            ))
        }
    };
    let mut res = (status, body).into_response();
    *res.headers_mut() = answer.headers;
    res.headers_mut()
        .insert("x-junction-attempts", HeaderValue::from(answer.attempts));
    res.headers_mut().insert(
        "x-junction-cache",
        HeaderValue::from_static(answer.cache.as_str()),
    );
    Ok(res)
}

fn is_json(headers: &http::HeaderMap) -> bool {
    headers
        .get(http::header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .and_then(junction_transform::codec::Format::from_content_type)
        == Some(junction_transform::codec::Format::Json)
}
