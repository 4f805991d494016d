//! Deliveries into vendors' APIs: a destination that names a connector's operation hands each
//! attempt here. The event's (mapped) body is the operation's input — parameters by name, the
//! request model, the request mapping — and the call goes through the whole connector path
//! (credentials with refresh, quota shared with `/proxy` and `/ops` callers, retries, circuit).
//!
//! The delivery's key goes out in the connector's idempotency header (`retry.idempotency_header`)
//! on every attempt and replay, so the vendor drops repeats. A call that is not safe to repeat
//! (a POST or PATCH without such a header) is never retried blindly: when no answer comes back
//! after the request may have left, the attempt's outcome is unknown and the delivery is dead-
//! lettered for an operator to check and replay or discard.

use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;
use std::time::Duration;

use http::HeaderValue;
use junction_core::{Code, Error};
use junction_engine::dispatch::{OperationDelivery, Operations, Sent};
use serde_json::Value;

use super::request;
use crate::runtime::{AnswerBody, Call};
use crate::Hub;

/// Most bytes of the vendor's answer kept with the attempt (masked).
const EXCERPT: usize = 1024;

impl Operations for Hub {
    fn deliver<'a>(
        &'a self,
        delivery: OperationDelivery<'a>,
    ) -> Pin<Box<dyn Future<Output = (Sent, Option<String>)> + Send + 'a>> {
        Box::pin(self.deliver_into(delivery))
    }

    fn call<'a>(
        &'a self,
        connector: &'a str,
        operation: &'a str,
        input: serde_json::Map<String, Value>,
    ) -> Pin<Box<dyn Future<Output = (u16, Value)> + Send + 'a>> {
        Box::pin(super::call_for_job(self, connector, operation, input))
    }

    fn page<'a>(
        &'a self,
        c: junction_engine::dispatch::PageCall<'a>,
    ) -> junction_engine::dispatch::PageFuture<'a> {
        Box::pin(super::pull::page(
            self,
            c.connector,
            c.operation,
            c.connection,
            c.input,
            c.cursor,
        ))
    }
}

impl Hub {
    async fn deliver_into(&self, d: OperationDelivery<'_>) -> (Sent, Option<String>) {
        let Some(rt) = self.connector(d.connector) else {
            // A reload removed it while deliveries were queued: they wait, they are not lost.
            let held = Sent::Held {
                reason: format!("connector `{}` is not configured", d.connector),
                retry_after: Some(Duration::from_secs(30)),
            };
            return (held, None);
        };
        let Some(op) = rt.cfg.operations.get(d.operation).cloned() else {
            let why = format!(
                "connector `{}` has no operation `{}`",
                d.connector, d.operation
            );
            return (Sent::Refused(why), None);
        };
        // On a connector with versions, the rollout picks one by the event's key (a write is
        // never shadowed: the candidate would write twice).
        let chosen = rt.rollout.clone().and_then(|rollout| {
            let key = d.key.unwrap_or(d.idempotency_key);
            let arm = rollout.plan(key.as_bytes()).serve;
            let versions = rt.cfg.versions.as_ref()?;
            let version = versions.list.get(rollout.arm_name(arm))?;
            let op = version.operations.get(d.operation)?.clone();
            Some((rollout, arm, version.clone(), op))
        });
        let op = chosen.as_ref().map_or(op, |c| c.3.clone());
        let (sent, excerpt) = self
            .deliver_on(&rt, op, chosen.as_ref().map(|c| &c.2), &d)
            .await;
        if let Some((rollout, arm, _, _)) = &chosen {
            let ok = match &sent {
                Sent::Answered { status, .. } => *status < 500,
                Sent::Held { .. } => return (sent, excerpt),
                _ => false,
            };
            rollout.record(*arm, ok);
        }
        (sent, excerpt)
    }

    /// One attempt on `op` (as `version` has it, on a connector with versions).
    async fn deliver_on(
        &self,
        rt: &Arc<crate::Runtime>,
        op: junction_config::Operation,
        version: Option<&junction_config::ApiVersion>,
        d: &OperationDelivery<'_>,
    ) -> (Sent, Option<String>) {
        let input = match serde_json::from_slice::<Value>(&d.body) {
            Ok(Value::Object(m)) => m,
            _ => {
                let why = "the event's body is not a JSON object: map it to the operation's input with the route's `map`";
                return (Sent::Refused(why.into()), None);
            }
        };
        let shapes = self.shapes.load_full();
        let mut req = match request::build(d.operation, &op, &shapes, input).await {
            Ok(r) => r,
            Err(refused) => return (Sent::Refused(super::error_message(refused).await), None),
        };
        if let Some(v) = version {
            super::versions::pin(v, &mut req.headers);
        }
        let mut safe = op.repeatable();
        if let Some(h) = &rt.cfg.idempotency_header {
            if let Ok(v) = HeaderValue::from_str(d.idempotency_key) {
                req.headers.insert(h.clone(), v);
                safe = true;
            }
        }
        let query = super::encode_query(&req.query);
        let call = Call {
            method: op.method.clone(),
            path: req.path,
            query: (!query.is_empty()).then_some(query),
            headers: req.headers,
            body: req.body,
            connection: d.connection.to_owned(),
            version: version.map(|v| v.name.clone()),
            terms: crate::runtime::Terms {
                cost: op.cost,
                safe: op.safe,
            },
        };
        let answer = match tokio::time::timeout(d.timeout, rt.call(call)).await {
            Err(_) if safe => return (Sent::Timeout, None),
            Err(_) => {
                let why = format!(
                    "no answer within the destination's timeout ({:?})",
                    d.timeout
                );
                return (Sent::Unknown(why), None);
            }
            Ok(Err(e)) => return (failed(e, safe), None),
            Ok(Ok(a)) => a,
        };
        let header = |name: http::HeaderName| {
            answer
                .headers
                .get(name)
                .and_then(|v| v.to_str().ok())
                .map(str::to_owned)
        };
        let retry_after = header(http::header::RETRY_AFTER)
            .and_then(|v| junction_engine::dispatch::parse_retry_after(&v));
        let location = header(http::header::LOCATION);
        let status = answer.status.as_u16();
        if let (200..=299, AnswerBody::Full(body)) = (status, &answer.body) {
            self.check_answer(rt, &op, &shapes, d, body).await;
        }
        let excerpt = excerpt(answer.body).await;
        (
            Sent::Answered {
                status,
                retry_after,
                location,
            },
            excerpt,
        )
    }
}

impl Hub {
    /// A vendor that accepts a delivery but answers outside the operation's response model has
    /// drifted: the delivery stands (the vendor took it), the drift is recorded. Sampled like
    /// every drift check.
    async fn check_answer(
        &self,
        rt: &crate::Runtime,
        op: &junction_config::Operation,
        shapes: &junction_config::Shapes,
        d: &OperationDelivery<'_>,
        body: &[u8],
    ) {
        let Some(model) = op
            .response
            .model
            .as_ref()
            .and_then(|m| shapes.models.get(m))
        else {
            return;
        };
        let subject = &format!("{}/{}", d.connector, d.operation);
        if !rt.drift.wants("connector", subject) {
            return;
        }
        let now = junction_core::time::now_ms();
        let unexpected = |detail: String| junction_transform::drift::Drift {
            path: String::new(),
            kind: junction_transform::drift::Kind::UnexpectedBody,
            detail,
        };
        let Ok(value) = serde_json::from_slice::<Value>(body) else {
            let d = unexpected("a 2xx answer that is not JSON".into());
            rt.drift.record("connector", subject, &[d], now);
            return;
        };
        match super::message::map(
            shapes,
            &op.response,
            value,
            subject,
            super::message::Side::Answer,
        )
        .await
        {
            Ok(mapped) => {
                let drifts = junction_transform::drift::against(model, &mapped);
                rt.drift.record("connector", subject, &drifts, now);
            }
            Err(e) => {
                let d = unexpected(e.0.message().to_owned());
                rt.drift.record("connector", subject, &[d], now);
            }
        }
    }
}

/// A call that ended without an answer, as a delivery attempt.
fn failed(e: Error, safe: bool) -> Sent {
    let never_sent = std::error::Error::source(&e)
        .is_some_and(|c| c.downcast_ref::<junction_outbound::NeverSent>().is_some());
    match e.code() {
        Code::RateLimited | Code::CircuitOpen | Code::NotReady | Code::StoreUnavailable => {
            Sent::Held {
                reason: e.message().to_owned(),
                retry_after: e.retry_after(),
            }
        }
        Code::NeedsReauth => Sent::Held {
            reason: format!(
                "{} (an operator must re-authorise the connection)",
                e.message()
            ),
            retry_after: Some(Duration::from_secs(60)),
        },
        Code::Timeout if safe => Sent::Timeout,
        Code::UpstreamFailed if safe || never_sent => Sent::Transport(e.message().to_owned()),
        Code::Timeout | Code::UpstreamFailed => Sent::Unknown(e.message().to_owned()),
        _ => Sent::Refused(e.message().to_owned()),
    }
}

/// The first bytes of the vendor's answer, masked.
async fn excerpt(body: AnswerBody) -> Option<String> {
    let bytes = match body {
        AnswerBody::Full(b) => b,
        AnswerBody::Stream { prefix, rest } if prefix.len() >= EXCERPT => {
            drop(rest);
            prefix
        }
        AnswerBody::Stream { prefix, rest } => {
            use http_body_util::BodyExt;
            let mut buf = prefix.to_vec();
            let mut body = rest.into_body();
            while buf.len() < EXCERPT {
                match body.frame().await {
                    Some(Ok(f)) => {
                        if let Some(d) = f.data_ref() {
                            buf.extend_from_slice(d);
                        }
                    }
                    _ => break,
                }
            }
            buf.into()
        }
    };
    if bytes.is_empty() {
        return None;
    }
    let text = String::from_utf8_lossy(&bytes[..bytes.len().min(EXCERPT)]);
    Some(junction_core::mask::mask(&text).into_owned())
}
