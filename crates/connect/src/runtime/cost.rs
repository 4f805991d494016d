//! Vendors that meter by cost: a call reserves its price in points before it leaves (the
//! operation's `cost`, else the connector's default), and the vendor's answer says what it
//! really cost and how many points are left — in a header (read as each attempt is answered)
//! or in the JSON body (read by the operation once the body is in). The quota then counts the
//! real cost, and at least what the vendor has counted.

use http::HeaderMap;
use junction_config::CostField;
use junction_resilience::QuotaState;
use serde_json::Value;
use tokio::time::Instant;

use super::Runtime;

/// What a call is, besides its request: its price, and whether it is safe to send twice
/// although its method is not.
#[derive(Debug, Clone, Copy, Default)]
pub struct Terms {
    /// Points reserved (`None`: the connector's default).
    pub cost: Option<u32>,
    /// Documented as only reading (`safe: true`): retried like a GET.
    pub safe: bool,
}

/// The figures an answer gave.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
struct Figures {
    actual: Option<u64>,
    left: Option<u64>,
    limit: Option<u64>,
}

impl Figures {
    /// The figures where the connector's `cost` says they are, by `read`.
    fn read(c: &junction_config::Cost, read: impl Fn(&Option<CostField>) -> Option<u64>) -> Self {
        Figures {
            actual: read(&c.actual),
            left: read(&c.left),
            limit: read(&c.limit),
        }
    }

    fn any(&self) -> bool {
        self.actual.is_some() || self.left.is_some()
    }
}

fn number(v: &Value) -> Option<u64> {
    v.as_u64()
        .or_else(|| v.as_f64().filter(|f| *f >= 0.0).map(|f| f.ceil() as u64))
        .or_else(|| v.as_str().and_then(|s| s.trim().parse::<u64>().ok()))
}

impl Runtime {
    /// The points a call reserves.
    pub(crate) fn price(&self, cost: Option<u32>) -> u32 {
        cost.unwrap_or(self.cfg.cost.default).max(1)
    }

    /// Counts what the headers of an attempt's answer say it cost and what is left.
    pub(super) fn cost_from_headers(&self, connection: &str, reserved: u32, headers: &HeaderMap) {
        let c = &self.cfg.cost;
        let read = |f: &Option<CostField>| match f {
            Some(CostField::Header(h)) => headers
                .get(h)
                .and_then(|v| v.to_str().ok())
                .and_then(|v| v.trim().parse::<f64>().ok())
                .filter(|f| f.is_finite() && *f >= 0.0)
                .map(|f| f.ceil() as u64),
            _ => None,
        };
        self.count_cost(connection, reserved, Figures::read(c, read));
    }

    /// Counts what the JSON body of a call's final answer says it cost and what is left.
    pub(crate) fn cost_from_body(&self, connection: &str, cost: Option<u32>, body: &Value) {
        let c = &self.cfg.cost;
        let read = |f: &Option<CostField>| match f {
            Some(CostField::Body(path)) => {
                path.iter().try_fold(body, |v, k| v.get(k)).and_then(number)
            }
            _ => None,
        };
        self.count_cost(connection, self.price(cost), Figures::read(c, read));
    }

    fn count_cost(&self, connection: &str, reserved: u32, f: Figures) {
        if !f.any() {
            return;
        }
        let now = Instant::now();
        let own = self.connection_quota(connection);
        if let Some(actual) = f.actual {
            let actual = u32::try_from(actual).unwrap_or(u32::MAX);
            self.quota.true_up(now, reserved, actual);
            if let Some(q) = &own {
                q.true_up(now, reserved, actual);
            }
        }
        if let Some(left) = f.left {
            self.metrics.quota_remaining.set(left as f64);
            // As with rate-limit headers: a vendor counting per account speaks of the
            // connection's quota when it has one.
            match &own {
                Some(q) => q.vendor_left(now, left, f.limit),
                None => self.quota.vendor_left(now, left, f.limit),
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::number;
    use serde_json::json;

    #[test]
    fn figures_are_whole_points_however_the_vendor_writes_them() {
        assert_eq!(number(&json!(12)), Some(12));
        assert_eq!(number(&json!(11.2)), Some(12));
        assert_eq!(number(&json!("7")), Some(7));
        assert_eq!(number(&json!(-3)), None);
        assert_eq!(number(&json!(null)), None);
    }
}
