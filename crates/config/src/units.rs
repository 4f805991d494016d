//! Durations and sizes as humans write them: `30s`, `1m30s`, `250ms`; `1MiB`, `512KiB`, `64KB`.

use std::borrow::Cow;
use std::fmt;
use std::time::Duration;

use schemars::{json_schema, JsonSchema, Schema, SchemaGenerator};
use serde::{de, Deserialize, Deserializer};

/// A duration written with a unit: `30s`, `1m30s`, `250ms`, `2h`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct HumanDuration(pub Duration);

impl<'de> Deserialize<'de> for HumanDuration {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct V;
        impl de::Visitor<'_> for V {
            type Value = HumanDuration;
            fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
                f.write_str("a duration with a unit, such as 30s, 1m30s or 250ms")
            }
            fn visit_str<E: de::Error>(self, s: &str) -> Result<HumanDuration, E> {
                humantime::parse_duration(s.trim())
                    .map(HumanDuration)
                    .map_err(|e| E::custom(format!("invalid duration `{s}`: {e}; write a number with a unit, such as 30s, 1m30s or 250ms")))
            }
            fn visit_u64<E: de::Error>(self, n: u64) -> Result<HumanDuration, E> {
                Err(E::custom(format!("`{n}` has no unit; write {n}s or {n}ms")))
            }
            fn visit_i64<E: de::Error>(self, n: i64) -> Result<HumanDuration, E> {
                Err(E::custom(format!("`{n}` has no unit; write {n}s or {n}ms")))
            }
            fn visit_f64<E: de::Error>(self, n: f64) -> Result<HumanDuration, E> {
                Err(E::custom(format!(
                    "`{n}` has no unit; write a duration such as 1500ms"
                )))
            }
        }
        d.deserialize_any(V)
    }
}

impl JsonSchema for HumanDuration {
    fn schema_name() -> Cow<'static, str> {
        "Duration".into()
    }
    fn json_schema(_: &mut SchemaGenerator) -> Schema {
        json_schema!({
            "type": "string",
            "description": "A duration with a unit: 30s, 1m30s, 250ms, 2h.",
            "pattern": "^\\s*([0-9]+\\s*(ns|us|µs|ms|s|sec|m|min|h|hr|d|day|days|w)\\s*)+$",
            "examples": ["30s", "250ms", "1m30s"]
        })
    }
}

/// A size in bytes: `1MiB`, `512KiB`, `64KB`, or a bare number of bytes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ByteSize(pub u64);

impl ByteSize {
    /// Parses `1MiB`, `512 KiB`, `64KB`, `1000`.
    pub fn parse(s: &str) -> Result<Self, String> {
        let s = s.trim();
        let split = s.find(|c: char| !c.is_ascii_digit()).unwrap_or(s.len());
        let (num, unit) = s.split_at(split);
        let n: u64 = num
            .parse()
            .map_err(|_| format!("invalid size `{s}`: start with a whole number, such as 1MiB"))?;
        let mult: u64 = match unit.trim() {
            "" | "B" => 1,
            "KB" | "kB" => 1_000,
            "KiB" => 1 << 10,
            "MB" => 1_000_000,
            "MiB" => 1 << 20,
            "GB" => 1_000_000_000,
            "GiB" => 1 << 30,
            other => {
                return Err(format!(
                    "invalid size unit `{other}` in `{s}`; use B, KB, KiB, MB, MiB, GB or GiB"
                ))
            }
        };
        n.checked_mul(mult)
            .map(ByteSize)
            .ok_or_else(|| format!("size `{s}` is too large"))
    }
}

impl<'de> Deserialize<'de> for ByteSize {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct V;
        impl de::Visitor<'_> for V {
            type Value = ByteSize;
            fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
                f.write_str("a size such as 1MiB, 512KiB or a number of bytes")
            }
            fn visit_str<E: de::Error>(self, s: &str) -> Result<ByteSize, E> {
                ByteSize::parse(s).map_err(E::custom)
            }
            fn visit_u64<E: de::Error>(self, n: u64) -> Result<ByteSize, E> {
                Ok(ByteSize(n))
            }
            fn visit_i64<E: de::Error>(self, n: i64) -> Result<ByteSize, E> {
                u64::try_from(n)
                    .map(ByteSize)
                    .map_err(|_| E::custom("a size cannot be negative"))
            }
        }
        d.deserialize_any(V)
    }
}

impl JsonSchema for ByteSize {
    fn schema_name() -> Cow<'static, str> {
        "ByteSize".into()
    }
    fn json_schema(_: &mut SchemaGenerator) -> Schema {
        json_schema!({
            "description": "A size: 1MiB, 512KiB, 64KB, or a number of bytes.",
            "anyOf": [
                { "type": "string", "pattern": "^\\s*[0-9]+\\s*(B|KB|kB|KiB|MB|MiB|GB|GiB)?\\s*$" },
                { "type": "integer", "minimum": 0 }
            ],
            "examples": ["1MiB", "512KiB"]
        })
    }
}

impl serde::Serialize for HumanDuration {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(&humantime::format_duration(self.0).to_string())
    }
}

impl serde::Serialize for ByteSize {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_u64(self.0)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sizes() {
        assert_eq!(ByteSize::parse("1MiB"), Ok(ByteSize(1 << 20)));
        assert_eq!(ByteSize::parse("64KB"), Ok(ByteSize(64_000)));
        assert_eq!(ByteSize::parse("12"), Ok(ByteSize(12)));
        assert!(ByteSize::parse("1 parsec").is_err());
        assert!(ByteSize::parse("MiB").is_err());
    }

    #[test]
    fn durations() {
        let d: HumanDuration = serde_json::from_value(serde_json::json!("1m30s")).unwrap();
        assert_eq!(d.0, Duration::from_secs(90));
        let e = serde_json::from_value::<HumanDuration>(serde_json::json!(30)).unwrap_err();
        assert!(e.to_string().contains("has no unit"), "{e}");
    }
}

/// A share: `20%` or `0.2`, between 0 and 1.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Ratio(pub f64);

impl<'de> Deserialize<'de> for Ratio {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct V;
        impl de::Visitor<'_> for V {
            type Value = Ratio;
            fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
                f.write_str("a share such as 20% or 0.2")
            }
            fn visit_str<E: de::Error>(self, s: &str) -> Result<Ratio, E> {
                let t = s.trim();
                let v = match t.strip_suffix('%') {
                    Some(p) => p.trim().parse::<f64>().map(|p| p / 100.0),
                    None => t.parse::<f64>(),
                };
                v.map_err(|_| {
                    E::custom(format!(
                        "invalid share `{s}`; write a percentage such as 20%"
                    ))
                })
                .and_then(|v| self.visit_f64(v))
            }
            fn visit_u64<E: de::Error>(self, n: u64) -> Result<Ratio, E> {
                self.visit_f64(n as f64)
            }
            fn visit_i64<E: de::Error>(self, n: i64) -> Result<Ratio, E> {
                self.visit_f64(n as f64)
            }
            fn visit_f64<E: de::Error>(self, n: f64) -> Result<Ratio, E> {
                if (0.0..=1.0).contains(&n) {
                    Ok(Ratio(n))
                } else {
                    Err(E::custom(format!(
                        "`{n}` is not between 0 and 1; write a percentage such as 20%"
                    )))
                }
            }
        }
        d.deserialize_any(V)
    }
}

impl serde::Serialize for Ratio {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(&format!("{}%", self.0 * 100.0))
    }
}

impl JsonSchema for Ratio {
    fn schema_name() -> Cow<'static, str> {
        "Ratio".into()
    }
    fn json_schema(_: &mut SchemaGenerator) -> Schema {
        json_schema!({
            "description": "A share: a percentage (20%) or a number between 0 and 1.",
            "anyOf": [
                { "type": "string", "pattern": "^\\s*[0-9]+(\\.[0-9]+)?\\s*%\\s*$" },
                { "type": "number", "minimum": 0, "maximum": 1 }
            ]
        })
    }
}

/// A rate limit as written: `200/s`, `1000/min`, `50000/day`, `10/5s` → (limit, window).
pub fn parse_rate(text: &str) -> Result<(u32, Duration), String> {
    let (limit, window) = text
        .split_once('/')
        .ok_or(format!("`{text}`: write LIMIT/WINDOW, e.g. 200/s"))?;
    let limit: u32 = limit
        .trim()
        .parse()
        .map_err(|_| format!("`{text}`: the limit must be a whole number"))?;
    let window = match window.trim() {
        "s" | "sec" | "second" => Duration::from_secs(1),
        "min" | "minute" => Duration::from_secs(60),
        "h" | "hour" => Duration::from_secs(3600),
        "day" | "d" => Duration::from_secs(86_400),
        other => humantime::parse_duration(other)
            .map_err(|e| format!("`{text}`: bad window `{other}`: {e}"))?,
    };
    if limit == 0 || window.is_zero() {
        return Err(format!(
            "`{text}`: the limit and the window must be above zero"
        ));
    }
    Ok((limit, window))
}

/// A list of rates as written (`[ 100/s, 5000/h ]`), each checked; errors name `ptr/i`.
pub(crate) fn resolve_rates(
    doc: &crate::yaml::Document,
    ptr: &str,
    raw: &[String],
    errs: &mut Vec<crate::ConfigError>,
) -> Vec<crate::Rate> {
    let mut rates = Vec::with_capacity(raw.len());
    for (i, q) in raw.iter().enumerate() {
        match parse_rate(q) {
            Ok((limit, window)) => rates.push(crate::Rate { limit, window }),
            Err(e) => errs.push(doc.error_at(
                &crate::yaml::push(ptr, &i.to_string()),
                e,
                Some("write LIMIT/WINDOW: 10/s, 1000/min, 50000/day".into()),
            )),
        }
    }
    rates
}
