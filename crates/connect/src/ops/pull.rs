//! One page of a paginated operation for a sync: the request built and the answer mapped and
//! checked exactly as `/ops` does, on the connector's current version, with its credentials,
//! quota, retries and circuit (a sync is real traffic). The page's records come back as NDJSON
//! lines of the canonical shape, with the cursor of the next page and the vendor's clock.

use axum::response::Response;
use junction_engine::dispatch::Pulled;
use serde_json::{json, Map, Value};

use super::pages::Position;
use super::{error_of, Hub, OpCall};

pub(crate) async fn page(
    hub: &Hub,
    connector: &str,
    operation: &str,
    connection: &str,
    input: Map<String, Value>,
    cursor: Option<&str>,
) -> Result<Pulled, (u16, Value)> {
    let (rt, op, version) = super::detached(hub, connector, operation)?;
    let Some(p) = op.paginate.clone() else {
        return Err((
            400,
            json!({ "error": { "code": "bad_request", "message": format!("`{operation}` is not paginated") } }),
        ));
    };
    let built = OpCall::build(
        operation,
        connector,
        rt,
        op,
        hub.shapes.load_full(),
        input,
        connection.to_owned(),
        version.as_ref(),
    )
    .await;
    let call = match built {
        Ok(c) => c,
        Err(res) => return Err(answer_of(res).await),
    };
    let pos = match cursor {
        None => Position::Start,
        Some(t) => call
            .caller_position(&p, t)
            .map_err(|e| (400, e.0.to_body()))?,
    };
    let fetched = match call.fetch(&p, &pos, 0).await {
        Ok(f) => f,
        Err(res) => return Err(answer_of(res).await),
    };
    let lines = match call.lines(fetched.records).await {
        Ok(l) => l,
        Err(res) => return Err(answer_of(res).await),
    };
    Ok(Pulled {
        lines,
        next: fetched.next.map(|n| n.token()),
        vendor_now: fetched.date,
    })
}

async fn answer_of(res: Response) -> (u16, Value) {
    let status = res.status().as_u16();
    (status, json!({ "error": error_of(res).await }))
}
