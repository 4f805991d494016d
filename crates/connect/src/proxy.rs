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

pub async fn proxy(
    axum::Extension(hub): axum::Extension<Arc<Hub>>,
    Path((connector, _)): Path<(String, String)>,
    req: Request,
) -> Result<Response, ApiError> {
    let (parts, body) = req.into_parts();
    let authz = parts
        .headers
        .get(http::header::AUTHORIZATION)
        .and_then(|v| v.to_str().ok());
    let token = hub.tokens.verify(authz).await?;
    let Some(rt) = hub.connectors.get(&connector) else {
        return Err(ApiError(
            Error::new(
                Code::NotFound,
                Origin::Downstream,
                format!("unknown connector `{connector}`"),
            )
            .with_hint("connectors are declared under `connectors:` in junction.yaml"),
        ));
    };
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
        return crate::soap::call(rt, &shapes, soap, operation, connection, body).await;
    }
    let method = parts.method.clone();
    let answer = rt
        .call(Call {
            method: parts.method,
            path: path.clone(),
            query: parts.uri.query().map(str::to_owned),
            headers: parts.headers,
            body,
            connection,
        })
        .await?;
    crate::drift::deprecation(&connector, &method, &path, &answer.headers);
    if let AnswerBody::Full(bytes) = &answer.body {
        if answer.status.is_success() && is_json(&answer.headers) {
            crate::drift::observe(&connector, &method, &path, bytes.clone());
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
    res.headers_mut()
        .insert("x-junction-cache", HeaderValue::from_static(answer.cache));
    Ok(res)
}

fn is_json(headers: &http::HeaderMap) -> bool {
    headers
        .get(http::header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .and_then(junction_transform::codec::Format::from_content_type)
        == Some(junction_transform::codec::Format::Json)
}
