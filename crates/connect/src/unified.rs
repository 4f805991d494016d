//! Unified endpoints: one canonical resource over several vendors. `GET /unified/crm/contacts?
//! connection=hubspot` lists through the connector the connection names, with the operation its
//! `unified:` says; the answer is the operation's — canonical records checked against the one
//! model every connector serving the resource answers, one opaque `next_cursor`, Junction's one
//! error shape — whichever vendor is behind it. It is exactly a call of that operation (`/ops`):
//! the token needs its `op:` scope, and quota, retries, circuit, mapping and masking apply.

use std::sync::Arc;

use axum::extract::{Path, Request};
use axum::response::Response;
use http::HeaderValue;
use junction_core::{Code, Error};
use junction_server::ApiError;

use crate::Hub;

/// Most bytes of `connection=` (a connector's name, `:`, a connection's name).
const MAX_CONNECTION: usize = 129;

fn not_found(key: &str, hub: &Hub) -> ApiError {
    let known = resources(hub);
    ApiError(
        Error::downstream(Code::NotFound, format!("no connector serves `{key}`")).with_hint(
            if known.is_empty() {
                "give a connector `unified: { \"crm/contacts\": { list: …, get: … } }`".to_owned()
            } else {
                format!("unified resources: {}", known.join(", "))
            },
        ),
    )
}

/// Every unified resource any connector serves, sorted.
fn resources(hub: &Hub) -> Vec<String> {
    let mut keys: Vec<String> = hub
        .connectors()
        .values()
        .flat_map(|rt| rt.cfg.unified.keys().cloned().collect::<Vec<_>>())
        .collect();
    keys.sort();
    keys.dedup();
    keys
}

/// The query's pairs other than `connection`, passed on to the operation.
type Rest = Vec<(String, String)>;

/// `connection=CONNECTOR[:CONNECTION]` from the query, and the rest of the query.
fn connection(query: &str) -> Result<(String, String, Rest), String> {
    let mut named = None;
    let mut rest = Vec::new();
    for (k, v) in url::form_urlencoded::parse(query.as_bytes()) {
        if k == "connection" {
            named = Some(v.into_owned());
        } else {
            rest.push((k.into_owned(), v.into_owned()));
        }
    }
    let named = named.ok_or("`connection` is required: the connector (and connection) to ask")?;
    let (connector, conn) = named.split_once(':').unwrap_or((&named, "default"));
    let plain = junction_config::valid_entry_name;
    if named.len() > MAX_CONNECTION || !plain(connector) || !plain(conn) {
        return Err(format!(
            "`{}` is not CONNECTOR or CONNECTOR:CONNECTION",
            named.chars().take(80).collect::<String>()
        ));
    }
    Ok((connector.to_owned(), conn.to_owned(), rest))
}

/// `GET /unified/{category}/{resource}`: one page (or `all=true`) of the resource.
pub async fn list(
    axum::Extension(hub): axum::Extension<Arc<Hub>>,
    Path((category, resource)): Path<(String, String)>,
    req: Request,
) -> Result<Response, ApiError> {
    forward(hub, format!("{category}/{resource}"), None, req).await
}

/// `GET /unified/{category}/{resource}/{id}`: one record.
pub async fn one(
    axum::Extension(hub): axum::Extension<Arc<Hub>>,
    Path((category, resource, id)): Path<(String, String, String)>,
    req: Request,
) -> Result<Response, ApiError> {
    forward(hub, format!("{category}/{resource}"), Some(id), req).await
}

/// The call of the operation behind the resource, as `GET /ops/{connector}/{operation}`.
async fn forward(
    hub: Arc<Hub>,
    key: String,
    id: Option<String>,
    req: Request,
) -> Result<Response, ApiError> {
    let bad = |why: String| {
        ApiError(Error::downstream(Code::BadRequest, why).with_hint(
            "add ?connection=CONNECTOR (or CONNECTOR:CONNECTION for a tenant's connection)",
        ))
    };
    let (connector, conn, mut query) =
        connection(req.uri().query().unwrap_or_default()).map_err(bad)?;
    let Some(unified) = hub
        .connector(&connector)
        .and_then(|rt| rt.cfg.unified.get(&key).cloned())
    else {
        // Only a refused call lists who serves the resource.
        let mut serving: Vec<String> = hub
            .connectors()
            .values()
            .filter(|rt| rt.cfg.unified.contains_key(&key))
            .map(|rt| rt.cfg.name.clone())
            .collect();
        if serving.is_empty() {
            return Err(not_found(&key, &hub));
        }
        serving.sort();
        return Err(ApiError(
            Error::downstream(
                Code::NotFound,
                format!("connector `{connector}` does not serve `{key}`"),
            )
            .with_hint(format!("connectors serving it: {}", serving.join(", "))),
        ));
    };
    let operation = match (&id, &unified.list, &unified.get) {
        (None, Some(list), _) => list.clone(),
        (Some(id), _, Some((get, param))) => {
            query.retain(|(k, _)| k != param);
            query.push((param.clone(), id.clone()));
            get.clone()
        }
        (None, None, _) => {
            return Err(ApiError(Error::downstream(
                Code::MethodNotAllowed,
                format!(
                    "connector `{connector}` reads `{key}` one by one only: GET /unified/{key}/ID"
                ),
            )))
        }
        (Some(_), _, None) => {
            return Err(ApiError(Error::downstream(
                Code::MethodNotAllowed,
                format!("connector `{connector}` lists `{key}` but does not read one by id"),
            )))
        }
    };
    let (mut parts, body) = req.into_parts();
    let mut uri = format!("/ops/{connector}/{operation}");
    if !query.is_empty() {
        uri.push('?');
        uri.push_str(
            &url::form_urlencoded::Serializer::new(String::new())
                .extend_pairs(&query)
                .finish(),
        );
    }
    parts.uri = uri
        .parse()
        .map_err(|_| bad("the query cannot be passed on".into()))?;
    parts.method = http::Method::GET;
    let connection = HeaderValue::from_str(&conn).map_err(|_| bad("bad connection".into()))?;
    parts.headers.insert("x-junction-connection", connection);
    let answer = crate::ops::handle(
        axum::Extension(hub.clone()),
        Path((connector.clone(), operation)),
        Request::from_parts(parts, body),
    )
    .await;
    let mut res = answer?;
    let h = res.headers_mut();
    if let Ok(v) = HeaderValue::from_str(&connector) {
        h.insert("junction-connector", v);
    }
    if let Some(v) = unified.model.and_then(|m| HeaderValue::from_str(&m).ok()) {
        h.insert("junction-model", v);
    }
    Ok(res)
}

/// `GET /unified`: the resources, their model and the connectors serving each (any API token).
pub async fn index(
    axum::Extension(hub): axum::Extension<Arc<Hub>>,
    req: Request,
) -> Result<Response, ApiError> {
    let (parts, _) = req.into_parts();
    hub.caller(&parts.headers, &parts.extensions).await?;
    let mut out = serde_json::Map::new();
    for key in resources(&hub) {
        let mut serving: Vec<(String, Option<String>)> = hub
            .connectors()
            .values()
            .filter_map(|rt| {
                rt.cfg
                    .unified
                    .get(&key)
                    .map(|u| (rt.cfg.name.clone(), u.model.clone()))
            })
            .collect();
        serving.sort();
        out.insert(
            key,
            serde_json::json!({
                "model": serving.first().and_then(|(_, m)| m.clone()),
                "connectors": serving.iter().map(|(n, _)| n).collect::<Vec<_>>(),
            }),
        );
    }
    Ok(axum::response::IntoResponse::into_response(axum::Json(
        serde_json::json!({ "resources": out }),
    )))
}
