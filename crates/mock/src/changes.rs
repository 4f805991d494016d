//! Changes with webhooks, as a provider's own: `count` changes to random customers (each raises
//! the customer's `version`), each announced by a signed `customer.updated` webhook carrying the
//! customer as the v2 API shows it — with a share of the webhooks dropped (never sent), sent
//! twice, or swapped with their neighbour. The list (`GET /v2/customers`) is the truth the
//! webhooks failed to tell. Deterministic under a seed.

use std::time::Duration;

use serde::Deserialize;
use serde_json::{json, Value};

use crate::data::Dataset;
use crate::sign::{sign, Scheme};

/// `POST /_mock/changes` takes this as JSON.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ChangeRequest {
    /// Where the webhooks go, e.g. `http://127.0.0.1:8080/webhooks/crm`.
    pub target: String,
    pub scheme: Scheme,
    pub secret: String,
    /// How many changes.
    pub count: usize,
    /// Share of webhooks never sent.
    #[serde(default)]
    pub drop: f64,
    /// Share sent twice.
    #[serde(default)]
    pub duplicates: f64,
    /// Share of adjacent pairs sent in swapped order.
    #[serde(default)]
    pub out_of_order: f64,
    /// Webhooks in flight at once.
    #[serde(default = "default_concurrency")]
    pub concurrency: usize,
    #[serde(default)]
    pub seed: u64,
    /// Added to every webhook's number in its id, so a second stream has ids of its own.
    #[serde(default)]
    pub id_offset: u64,
}

fn default_concurrency() -> usize {
    16
}

fn unit(seed: u64, n: u64) -> f64 {
    let mut z = seed ^ n.wrapping_mul(0x9E37_79B9_7F4A_7C15);
    z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
    z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
    ((z ^ (z >> 31)) >> 11) as f64 / (1u64 << 53) as f64
}

/// Checks a request before anything changes.
pub fn check(req: &ChangeRequest) -> Result<(), String> {
    let share = |x: f64| (0.0..=1.0).contains(&x);
    if req.count == 0 || req.count > 1_000_000 || req.concurrency == 0 || req.concurrency > 256 {
        return Err("count must be 1..=1000000 and concurrency 1..=256".into());
    }
    if !share(req.drop) || !share(req.duplicates) || !share(req.out_of_order) {
        return Err("drop, duplicates and out_of_order are shares between 0 and 1".into());
    }
    sign(&req.scheme, &req.secret, "probe", 0, b"{}").map(|_| ())
}

/// Makes the changes in `data` (under its lock, all at once) and returns the webhooks that
/// announce them, in the order they will be sent, and how many were dropped.
pub fn plan(req: &ChangeRequest, data: &mut Dataset) -> (Vec<(String, String)>, usize) {
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_secs() as i64)
        .unwrap_or(0);
    let n = data.customers.len() as u64;
    let mut out = Vec::with_capacity(req.count);
    let mut dropped = 0;
    if n == 0 {
        return (out, 0);
    }
    for i in 0..req.count as u64 {
        let pick = (unit(req.seed, 3 * i) * n as f64) as usize % n as usize;
        let c = &mut data.customers[pick];
        c.version += 1;
        c.updated = now;
        c.status = if c.version % 2 == 0 {
            "active"
        } else {
            "paused"
        }
        .into();
        let id = format!("evt_chg_{:08}", i + 1 + req.id_offset);
        let object =
            serde_json::to_value(crate::versions::customer(c, crate::versions::Version::V2))
                .unwrap_or(Value::Null);
        let body = json!({ "id": id, "type": "customer.updated", "created": now, "data": { "object": object } })
            .to_string();
        if unit(req.seed ^ 0xD12, i) < req.drop {
            dropped += 1;
            continue;
        }
        out.push((id.clone(), body.clone()));
        if unit(req.seed ^ 0xD0D0, i) < req.duplicates {
            out.push((id, body));
        }
    }
    let mut i = 0;
    while i + 1 < out.len() {
        if unit(req.seed ^ 0x5A5A, i as u64) < req.out_of_order {
            out.swap(i, i + 1);
            i += 2;
        } else {
            i += 1;
        }
    }
    (out, dropped)
}

/// Sends the planned webhooks, `concurrency` at a time; answers how many were accepted (2xx).
pub async fn send(req: &ChangeRequest, planned: Vec<(String, String)>) -> Result<usize, String> {
    let client = reqwest::Client::builder()
        .timeout(Duration::from_secs(30))
        .build()
        .map_err(|e| e.to_string())?;
    let mut accepted = 0;
    for chunk in planned.chunks(req.concurrency) {
        let sends = chunk.iter().map(|(id, body)| {
            let client = client.clone();
            async move {
                let ts = std::time::SystemTime::now()
                    .duration_since(std::time::UNIX_EPOCH)
                    .map(|d| d.as_secs() as i64)
                    .unwrap_or(0);
                let mut r = client
                    .post(&req.target)
                    .header("content-type", "application/json")
                    .body(body.clone());
                if let Ok(headers) = sign(&req.scheme, &req.secret, id, ts, body.as_bytes()) {
                    for (k, v) in headers {
                        r = r.header(k, v);
                    }
                }
                r.send().await.is_ok_and(|res| res.status().is_success())
            }
        });
        accepted += futures_util::future::join_all(sends)
            .await
            .into_iter()
            .filter(|ok| *ok)
            .count();
    }
    Ok(accepted)
}
