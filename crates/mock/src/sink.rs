//! The sink: the destination side of tests and benchmarks. `POST` (or `PUT`) anything under
//! `/sink/…`; every delivery is recorded (headers, body, arrival, idempotency key, what the sink
//! answered), and the sink can be told — through `/_mock/sink`, in the chaos format — to fail at a
//! rate, answer 410 or 429, hang, or drop the connection, deterministically under a seed.

use std::collections::{BTreeMap, VecDeque};
use std::sync::Mutex;

use serde::Serialize;

/// One delivery the sink received.
#[derive(Debug, Clone, Serialize)]
pub struct Delivery {
    pub at_ms: i64,
    /// µs since the mock started.
    pub at_us: u64,
    pub method: String,
    pub path: String,
    pub headers: BTreeMap<String, String>,
    pub body: String,
    /// `Idempotency-Key`, else `webhook-id`, if sent.
    pub idempotency_key: Option<String>,
    /// The status the sink answered (0: no answer — hang or dropped connection).
    pub answered: u16,
}

/// Received deliveries: the newest `limit`, and how many arrived in all.
pub struct Received {
    limit: usize,
    inner: Mutex<(u64, VecDeque<Delivery>)>,
}

impl Received {
    pub fn new(limit: usize) -> Self {
        Self {
            limit,
            inner: Mutex::new((0, VecDeque::new())),
        }
    }

    pub fn push(&self, d: Delivery) {
        let mut g = self.inner.lock().unwrap_or_else(|p| p.into_inner());
        g.0 += 1;
        if g.1.len() >= self.limit {
            g.1.pop_front();
        }
        g.1.push_back(d);
    }

    pub fn snapshot(&self) -> (u64, Vec<Delivery>) {
        let g = self.inner.lock().unwrap_or_else(|p| p.into_inner());
        (g.0, g.1.iter().cloned().collect())
    }

    /// How many deliveries arrived (without copying the ones kept).
    pub fn total(&self) -> u64 {
        self.inner.lock().unwrap_or_else(|p| p.into_inner()).0
    }

    pub fn clear(&self) {
        *self.inner.lock().unwrap_or_else(|p| p.into_inner()) = (0, VecDeque::new());
    }
}
