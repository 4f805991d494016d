//! Chaos, switchable at run time through `/_mock/chaos`: error statuses at given rates, added
//! latency, hangs, connections dropped mid-answer, and 200s whose bodies are malformed or whose
//! schema drifted (a field changes type or disappears).
//!
//! Deterministic: the fate of the n-th request after a chaos setting is a function of the seed
//! and n alone, so a failing test replays exactly.

use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::RwLock;
use std::time::Duration;

use serde::{Deserialize, Serialize};
use serde_json::Value;

/// The chaos setting (`PUT /_mock/chaos` takes this as JSON; every field is optional).
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct Chaos {
    pub seed: u64,
    /// `[[503, 0.2], [500, 0.05]]`: answer that status to that share of requests.
    pub errors: Vec<(u16, f64)>,
    /// Added to every answer: `fixed_ms` plus a uniform draw in `[0, jitter_ms)`.
    pub latency_ms: Option<(u64, u64)>,
    /// Share of requests never answered (until the client gives up).
    pub hang: f64,
    /// Share of requests whose connection is dropped after the headers.
    pub reset: f64,
    /// Share of 200s with a truncated, unparsable JSON body.
    pub malformed: f64,
    /// Share of 200s whose body drifted: one field changes type or disappears.
    pub drift: f64,
}

impl Chaos {
    /// Every rate in [0, 1], together at most 1; injected statuses are 4xx or 5xx.
    pub fn validate(&self) -> Result<(), String> {
        let rates = self.errors.iter().map(|e| e.1).chain([
            self.hang,
            self.reset,
            self.malformed,
            self.drift,
        ]);
        if rates.clone().any(|r| !(0.0..=1.0).contains(&r)) || rates.sum::<f64>() > 1.0 + 1e-9 {
            return Err("every rate must be in [0, 1] and together at most 1".into());
        }
        if let Some(&(status, _)) = self.errors.iter().find(|(s, _)| !(400..=599).contains(s)) {
            return Err(format!("error status {status} is not 4xx or 5xx"));
        }
        Ok(())
    }
}

/// What happens to one request.
#[derive(Debug, Clone, PartialEq)]
pub enum Fate {
    Normal,
    Error(u16),
    Hang,
    Reset,
    Malformed,
    Drift(u64),
}

/// The current setting and the request counter.
#[derive(Default)]
pub struct ChaosState {
    /// False while the setting is the default (no chaos): the common case costs one load.
    active: AtomicBool,
    setting: RwLock<Chaos>,
    counter: AtomicU64,
}

fn mix(mut z: u64) -> u64 {
    z = z.wrapping_add(0x9E37_79B9_7F4A_7C15);
    z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
    z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
    z ^ (z >> 31)
}

/// A uniform draw in [0, 1) from (seed, n, salt).
fn unit(seed: u64, n: u64, salt: u64) -> f64 {
    (mix(seed ^ mix(n ^ mix(salt))) >> 11) as f64 / (1u64 << 53) as f64
}

impl ChaosState {
    pub fn get(&self) -> Chaos {
        self.setting
            .read()
            .unwrap_or_else(|p| p.into_inner())
            .clone()
    }

    /// Replaces the setting and restarts the request count (so the sequence replays).
    pub fn set(&self, chaos: Chaos) -> Result<(), String> {
        chaos.validate()?;
        self.active
            .store(chaos != Chaos::default(), Ordering::SeqCst);
        *self.setting.write().unwrap_or_else(|p| p.into_inner()) = chaos;
        self.counter.store(0, Ordering::SeqCst);
        Ok(())
    }

    /// Draws the next request's fate and its added latency.
    pub fn next(&self) -> (Fate, Duration) {
        if !self.active.load(Ordering::Relaxed) {
            return (Fate::Normal, Duration::ZERO);
        }
        let c = self.setting.read().unwrap_or_else(|p| p.into_inner());
        let n = self.counter.fetch_add(1, Ordering::SeqCst);
        let latency = c.latency_ms.map_or(Duration::ZERO, |(fixed, jitter)| {
            Duration::from_millis(fixed + (unit(c.seed, n, 1) * jitter as f64) as u64)
        });
        let mut draw = unit(c.seed, n, 0);
        for (status, rate) in &c.errors {
            if draw < *rate {
                return (Fate::Error(*status), latency);
            }
            draw -= rate;
        }
        let fate = [
            (c.hang, Fate::Hang),
            (c.reset, Fate::Reset),
            (c.malformed, Fate::Malformed),
            (c.drift, Fate::Drift(mix(c.seed ^ n))),
        ]
        .into_iter()
        .find_map(|(rate, fate)| {
            if draw < rate {
                Some(fate)
            } else {
                draw -= rate;
                None
            }
        })
        .unwrap_or(Fate::Normal);
        (fate, latency)
    }
}

/// Changes one field of the first resource in `body`: a number becomes a string, a string becomes
/// a number, or the field disappears — chosen by `pick`.
pub fn drift(body: &mut Value, pick: u64) {
    let target = match body.get_mut("data").and_then(Value::as_array_mut) {
        Some(items) if !items.is_empty() => &mut items[0],
        Some(_) => return,
        None => body,
    };
    let Some(obj) = target.as_object_mut() else {
        return;
    };
    let keys: Vec<String> = obj
        .keys()
        .filter(|k| *k != "id" && *k != "object")
        .cloned()
        .collect();
    if keys.is_empty() {
        return;
    }
    let key = &keys[(pick % keys.len() as u64) as usize];
    if (pick >> 32) % 2 == 0 {
        obj.remove(key);
    } else if let Some(v) = obj.get_mut(key) {
        let changed = match &*v {
            Value::Number(n) => Value::String(n.to_string()),
            Value::String(s) => Value::Number(s.len().into()),
            other => Value::String(other.to_string()),
        };
        *v = changed;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_same_seed_replays_the_same_fates() {
        let chaos = Chaos {
            seed: 9,
            errors: vec![(503, 0.3)],
            hang: 0.1,
            malformed: 0.1,
            ..Default::default()
        };
        let a = ChaosState::default();
        a.set(chaos.clone()).unwrap();
        let first: Vec<Fate> = (0..500).map(|_| a.next().0).collect();
        a.set(chaos.clone()).unwrap();
        let again: Vec<Fate> = (0..500).map(|_| a.next().0).collect();
        assert_eq!(first, again);
        let errors = first.iter().filter(|f| **f == Fate::Error(503)).count();
        assert!((120..=180).contains(&errors), "30 % of 500, got {errors}");
        a.set(Chaos { seed: 10, ..chaos }).unwrap();
        let other: Vec<Fate> = (0..500).map(|_| a.next().0).collect();
        assert_ne!(first, other);
    }

    #[test]
    fn rates_are_validated() {
        let s = ChaosState::default();
        assert!(s
            .set(Chaos {
                hang: 0.7,
                reset: 0.6,
                ..Default::default()
            })
            .is_err());
        assert!(s
            .set(Chaos {
                errors: vec![(200, 0.1)],
                ..Default::default()
            })
            .is_err());
    }
}
