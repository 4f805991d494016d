//! Webhooks out: the mock sends signed events to a target URL the way providers do — with
//! duplicates, out-of-order arrival, its own retries, and bursts — and records every attempt as
//! ground truth (`/_mock/webhooks-sent`). Deterministic under a seed.

use std::collections::VecDeque;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use serde::{Deserialize, Serialize};
use serde_json::json;

use crate::sign::{sign, Scheme};

/// What to send (`POST /_mock/webhooks/send` takes this as JSON).
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SendRequest {
    /// Where to send, e.g. `http://127.0.0.1:8080/webhooks/crm`.
    pub target: String,
    pub scheme: Scheme,
    pub secret: String,
    /// How many distinct events.
    pub count: usize,
    /// Event type, e.g. `customer.updated`.
    #[serde(default = "default_type")]
    pub event_type: String,
    /// Entity keys cycle over this many customers (`cus_000001`…), so events share keys.
    #[serde(default = "default_keys")]
    pub keys: usize,
    /// Share of events sent twice (same id and body).
    #[serde(default)]
    pub duplicates: f64,
    /// Share of adjacent pairs sent in swapped order.
    #[serde(default)]
    pub out_of_order: f64,
    /// Attempts per event while the target does not answer 2xx (the provider's own retries).
    #[serde(default = "default_attempts")]
    pub attempts: u32,
    /// Events in flight at once (a burst when high).
    #[serde(default = "default_concurrency")]
    pub concurrency: usize,
    #[serde(default)]
    pub seed: u64,
    /// Start events at this rate (events per second), each in its own task, instead of in
    /// batches of `concurrency`: a steady stream for end-to-end and crash tests.
    #[serde(default)]
    pub rate_per_s: Option<f64>,
    /// Answer 202 at once and send in the background (watch `/_mock/webhooks-sent`).
    #[serde(default)]
    pub background: bool,
    /// Added to every event's number in its id (`evt_{n + id_offset}`), so a second stream
    /// sends new events instead of repeating the first one's ids.
    #[serde(default)]
    pub id_offset: u64,
    /// A persona's events: the vendor's bodies and headers about these customers (the keys
    /// cycle over them), filled in by the mock when it speaks as a vendor.
    #[serde(skip)]
    pub persona: Option<(crate::Persona, Vec<crate::Customer>)>,
}

fn default_type() -> String {
    "customer.updated".into()
}
fn default_keys() -> usize {
    10
}
fn default_attempts() -> u32 {
    1
}
fn default_concurrency() -> usize {
    1
}

/// One attempt to send one event.
#[derive(Debug, Clone, Serialize)]
pub struct Sent {
    pub id: String,
    pub event_type: String,
    pub key: String,
    pub sequence: u64,
    pub attempt: u32,
    /// The target's status (0: no answer).
    pub status: u16,
    pub at_ms: i64,
    /// When the answer came (or the attempt failed), Unix milliseconds: a test can tell
    /// whether an event was acknowledged before another reached the hub.
    pub answered_ms: i64,
}

/// Every attempt, newest last (bounded).
pub struct SentLog {
    limit: usize,
    inner: Mutex<(u64, VecDeque<Sent>)>,
}

impl SentLog {
    pub fn new(limit: usize) -> Self {
        Self {
            limit,
            inner: Mutex::new((0, VecDeque::new())),
        }
    }
    fn push(&self, s: Sent) {
        let mut g = self.inner.lock().unwrap_or_else(|p| p.into_inner());
        g.0 += 1;
        if g.1.len() >= self.limit {
            g.1.pop_front();
        }
        g.1.push_back(s);
    }
    pub fn snapshot(&self) -> (u64, Vec<Sent>) {
        let g = self.inner.lock().unwrap_or_else(|p| p.into_inner());
        (g.0, g.1.iter().cloned().collect())
    }
    pub fn clear(&self) {
        *self.inner.lock().unwrap_or_else(|p| p.into_inner()) = (0, VecDeque::new());
    }
}

fn unit(seed: u64, n: u64) -> f64 {
    let mut z = seed ^ n.wrapping_mul(0x9E37_79B9_7F4A_7C15);
    z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
    z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
    ((z ^ (z >> 31)) >> 11) as f64 / (1u64 << 53) as f64
}

/// The order events go out in: `(sequence, is_duplicate)`; swaps and duplicates by the seed.
fn plan(req: &SendRequest) -> Vec<u64> {
    let mut order: Vec<u64> = (1..=req.count as u64).collect();
    let mut i = 0;
    while i + 1 < order.len() {
        if unit(req.seed, 2 * i as u64) < req.out_of_order {
            order.swap(i, i + 1);
            i += 2;
        } else {
            i += 1;
        }
    }
    let mut out = Vec::with_capacity(order.len());
    for (i, seq) in order.into_iter().enumerate() {
        out.push(seq);
        if unit(req.seed ^ 0xD0D0, i as u64) < req.duplicates {
            out.push(seq);
        }
    }
    out
}

/// Checks a request before anything is sent.
pub fn check(req: &SendRequest) -> Result<(), String> {
    if req.count == 0 || req.count > 1_000_000 || req.concurrency == 0 || req.attempts == 0 {
        return Err("count must be 1..=1000000, concurrency and attempts at least 1".into());
    }
    if req
        .rate_per_s
        .is_some_and(|r| !(r > 0.0 && r <= 1_000_000.0))
    {
        return Err("rate_per_s must be above 0 and at most 1000000".into());
    }
    sign(&req.scheme, &req.secret, "probe", 0, b"{}").map(|_| ())
}

/// Sends everything in `req`; returns how many attempts were made.
pub async fn send(req: SendRequest, log: Arc<SentLog>) -> Result<usize, String> {
    check(&req)?;
    let client = reqwest::Client::builder()
        .timeout(Duration::from_secs(10))
        .build()
        .map_err(|e| e.to_string())?;
    let plan = plan(&req);
    let req = Arc::new(req);
    let mut attempts = 0usize;
    if let Some(rate) = req.rate_per_s {
        let mut tick = tokio::time::interval(Duration::from_secs_f64(1.0 / rate));
        tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Burst);
        let mut tasks = Vec::with_capacity(plan.len());
        for seq in plan {
            tick.tick().await;
            let (client, req, log) = (client.clone(), req.clone(), log.clone());
            tasks.push(tokio::spawn(async move {
                deliver(&client, &req, seq, &log).await
            }));
        }
        for t in tasks {
            attempts += t.await.unwrap_or(0);
        }
        return Ok(attempts);
    }
    for chunk in plan.chunks(req.concurrency) {
        let sends = chunk.iter().map(|seq| deliver(&client, &req, *seq, &log));
        for n in futures_util::future::join_all(sends).await {
            attempts += n;
        }
    }
    Ok(attempts)
}

async fn deliver(client: &reqwest::Client, req: &SendRequest, seq: u64, log: &SentLog) -> usize {
    let id = format!("evt_{:08}", seq + req.id_offset);
    let key = format!("cus_{:06}", 1 + (seq as usize - 1) % req.keys.max(1));
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_secs() as i64)
        .unwrap_or(0);
    let (body, extra) = match &req.persona {
        Some((p, people)) if !people.is_empty() => {
            let c = &people[(seq as usize - 1) % people.len()];
            let (body, extra) = crate::persona::event(*p, &id, c, seq, now);
            (body.to_string(), extra)
        }
        _ => (
            json!({ "id": id, "type": req.event_type, "created": now, "sequence": seq, "data": { "object": { "id": key, "sequence": seq } } })
                .to_string(),
            Vec::new(),
        ),
    };
    for attempt in 1..=req.attempts {
        let ts = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map(|d| d.as_secs() as i64)
            .unwrap_or(0);
        let mut r = client
            .post(&req.target)
            .header("content-type", "application/json")
            .body(body.clone());
        for (k, v) in &extra {
            r = r.header(k, v);
        }
        if let Ok(headers) = sign(&req.scheme, &req.secret, &id, ts, body.as_bytes()) {
            for (k, v) in headers {
                r = r.header(k, v);
            }
        }
        let status = r.send().await.map(|res| res.status().as_u16()).unwrap_or(0);
        log.push(Sent {
            id: id.clone(),
            event_type: req.event_type.clone(),
            key: key.clone(),
            sequence: seq,
            attempt,
            status,
            at_ms: ts * 1000,
            answered_ms: std::time::SystemTime::now()
                .duration_since(std::time::UNIX_EPOCH)
                .map(|d| d.as_millis() as i64)
                .unwrap_or(0),
        });
        if (200..300).contains(&status) {
            return attempt as usize;
        }
        tokio::time::sleep(Duration::from_millis(50 * u64::from(attempt))).await;
    }
    req.attempts as usize
}

#[cfg(test)]
mod tests {
    use super::*;

    fn req(duplicates: f64, out_of_order: f64) -> SendRequest {
        SendRequest {
            target: String::new(),
            scheme: Scheme::Github,
            secret: "s".into(),
            count: 1000,
            event_type: default_type(),
            keys: 10,
            duplicates,
            out_of_order,
            attempts: 1,
            concurrency: 1,
            seed: 4,
            rate_per_s: None,
            background: false,
            id_offset: 0,
            persona: None,
        }
    }

    #[test]
    fn plans_duplicates_and_swaps_by_the_seed() {
        let plain = plan(&req(0.0, 0.0));
        assert_eq!(plain, (1..=1000).collect::<Vec<_>>());
        let p = plan(&req(0.1, 0.2));
        assert_eq!(p, plan(&req(0.1, 0.2)), "deterministic");
        let dups = p.len() - 1000;
        assert!((60..=140).contains(&dups), "{dups}");
        let swapped = p.windows(2).filter(|w| w[0] > w[1]).count();
        assert!(swapped > 50, "{swapped}");
        let mut unique = p.clone();
        unique.sort();
        unique.dedup();
        assert_eq!(unique.len(), 1000, "every event is sent");
    }
}
