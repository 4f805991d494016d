//! The API versions: the same resource, rendered the way each version of a real API would.
//!
//! - `v1` (deprecated): `email`, `created`/`updated` in unix seconds, a flat address, order amounts
//!   in minor units.
//! - `v2`: `email` renamed `email_address`, times as ISO 8601, the address nested, order amounts as
//!   `{ value: "12.34", currency }`.
//!
//! `/v1/…` and `/v2/…` choose by path; the unversioned paths choose by the `API-Version` header
//! (a date: `2024-06-01` or later is v2, earlier or missing is v1).

use std::time::{Duration, UNIX_EPOCH};

use serde::Serialize;
use serde_json::{json, Value};

use crate::data::{Customer, Order};

/// The date v2 shipped, for header-pinned requests.
pub const V2_DATE: &str = "2024-06-01";
/// v1's sunset, sent in `Sunset` (RFC 8594).
pub const V1_SUNSET: &str = "Sat, 31 Jan 2027 00:00:00 GMT";
/// v1's deprecation time, sent in `Deprecation` (RFC 9745: `@` + unix seconds).
pub const V1_DEPRECATED_AT: i64 = 1_717_200_000;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Version {
    V1,
    V2,
}

impl Version {
    /// The version an `API-Version` header pins (missing or unparsable: v1).
    pub fn from_header(value: Option<&str>) -> Version {
        match value {
            Some(date) if date.len() == 10 && date >= V2_DATE => Version::V2,
            _ => Version::V1,
        }
    }
}

pub fn iso(unix: i64) -> String {
    humantime::format_rfc3339_seconds(UNIX_EPOCH + Duration::from_secs(unix.max(0) as u64))
        .to_string()
}

/// A customer as one version renders it. Serialized straight from the data, with no
/// intermediate JSON tree: reading one customer is the mock's hottest path.
#[derive(Serialize)]
#[serde(untagged)]
pub enum CustomerView<'a> {
    V1 {
        id: &'a str,
        object: &'static str,
        name: &'a str,
        email: &'a str,
        status: &'a str,
        created: i64,
        updated: i64,
        address_line1: &'a str,
        city: &'a str,
        postcode: &'a str,
        country: &'a str,
    },
    V2 {
        id: &'a str,
        object: &'static str,
        name: &'a str,
        email_address: &'a str,
        status: &'a str,
        created: String,
        updated: String,
        version: u64,
        address: Address<'a>,
    },
}

#[derive(Serialize)]
pub struct Address<'a> {
    line1: &'a str,
    city: &'a str,
    postcode: &'a str,
    country: &'a str,
}

pub fn customer(c: &Customer, v: Version) -> CustomerView<'_> {
    match v {
        Version::V1 => CustomerView::V1 {
            id: &c.id,
            object: "customer",
            name: &c.name,
            email: &c.email,
            status: &c.status,
            created: c.created,
            updated: c.updated,
            address_line1: &c.line1,
            city: &c.city,
            postcode: &c.postcode,
            country: &c.country,
        },
        Version::V2 => CustomerView::V2 {
            id: &c.id,
            object: "customer",
            name: &c.name,
            email_address: &c.email,
            status: &c.status,
            created: iso(c.created),
            updated: iso(c.updated),
            version: c.version,
            address: Address {
                line1: &c.line1,
                city: &c.city,
                postcode: &c.postcode,
                country: &c.country,
            },
        },
    }
}

pub fn order(o: &Order, v: Version) -> Value {
    match v {
        Version::V1 => json!({
            "id": o.id, "object": "order", "customer": o.customer_id, "amount": o.amount,
            "currency": o.currency, "status": o.status, "created": o.created, "updated": o.updated,
        }),
        Version::V2 => json!({
            "id": o.id, "object": "order", "customer_id": o.customer_id,
            "amount": { "value": format!("{}.{:02}", o.amount / 100, o.amount % 100), "currency": o.currency },
            "status": o.status, "created": iso(o.created), "updated": iso(o.updated),
        }),
    }
}

/// Applies the fields of a create/update body (in `v`'s shape) to `c`. Unknown fields are errors,
/// as a strict real API would answer.
pub fn apply(c: &mut Customer, body: &Value, v: Version) -> Result<(), String> {
    let obj = body.as_object().ok_or("the body must be a JSON object")?;
    let text = |key: &str, val: &Value| {
        val.as_str()
            .map(str::to_owned)
            .ok_or(format!("`{key}` must be a string"))
    };
    for (key, val) in obj {
        match (v, key.as_str()) {
            (_, "name") => c.name = text(key, val)?,
            (_, "status") => c.status = text(key, val)?,
            (Version::V1, "email") | (Version::V2, "email_address") => c.email = text(key, val)?,
            (Version::V1, "address_line1") => c.line1 = text(key, val)?,
            (Version::V1, "city") => c.city = text(key, val)?,
            (Version::V1, "postcode") => c.postcode = text(key, val)?,
            (Version::V1, "country") => c.country = text(key, val)?,
            (Version::V2, "address") => {
                let a = val.as_object().ok_or("`address` must be an object")?;
                for (k, v) in a {
                    let s = text(k, v)?;
                    match k.as_str() {
                        "line1" => c.line1 = s,
                        "city" => c.city = s,
                        "postcode" => c.postcode = s,
                        "country" => c.country = s,
                        other => return Err(format!("unknown field `address.{other}`")),
                    }
                }
            }
            (_, other) => return Err(format!("unknown field `{other}`")),
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn iso_dates() {
        assert_eq!(iso(0), "1970-01-01T00:00:00Z");
        assert_eq!(iso(1_704_067_200), "2024-01-01T00:00:00Z");
    }

    #[test]
    fn header_pins_the_version_by_date() {
        assert_eq!(Version::from_header(Some("2024-06-01")), Version::V2);
        assert_eq!(Version::from_header(Some("2023-10-16")), Version::V1);
        assert_eq!(Version::from_header(None), Version::V1);
    }
}
