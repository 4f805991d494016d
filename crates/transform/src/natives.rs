//! Native functions of the prelude: time conversions with offsets and exact money arithmetic,
//! which jq cannot do well by definition alone, plus the sandbox's meters: `_tick` (a generator
//! step), `_mem` (memory and time, after an operation that can grow a value), `_sized` (refuses a
//! value too large to write as text) and `_times` (`*`, refused before it builds a value past the
//! memory limit).

use jaq_core::native::{bome, v, Fun};
use jaq_core::{data, Error, Native, RunPtr, ValR};
use jaq_json::Val;
use jiff::tz::TimeZone;
use jiff::Timestamp;

type D = data::JustLut<Val>;

/// The prelude's natives.
pub(crate) fn funs() -> impl Iterator<Item = Fun<D>> {
    let list: [(&'static str, usize, RunPtr<D>); 12] = [
        ("_tick", 0, |cv| {
            bome(crate::meter::tick().map(|()| cv.1).map_err(Error::str))
        }),
        ("_mem", 0, |cv| {
            bome(crate::meter::check().map(|()| cv.1).map_err(Error::str))
        }),
        ("_sized", 0, |cv| bome(sized(cv.1))),
        ("_times", 2, |mut cv| {
            let r = cv.0.pop_var();
            let l = cv.0.pop_var();
            bome(times(l, r))
        }),
        ("iso8601", 0, |cv| bome(to_iso(&cv.1, Unit::Seconds, None))),
        ("iso8601_ms", 0, |cv| {
            bome(to_iso(&cv.1, Unit::Millis, None))
        }),
        ("iso8601", 1, |mut cv| {
            let tz = cv.0.pop_var();
            bome(to_iso(&cv.1, Unit::Seconds, Some(&tz)))
        }),
        ("iso8601_ms", 1, |mut cv| {
            let tz = cv.0.pop_var();
            bome(to_iso(&cv.1, Unit::Millis, Some(&tz)))
        }),
        ("unix", 0, |cv| bome(from_iso(&cv.1, Unit::Seconds))),
        ("unix_ms", 0, |cv| bome(from_iso(&cv.1, Unit::Millis))),
        ("minor_to_decimal", 1, |mut cv| {
            let digits = cv.0.pop_var();
            bome(minor_to_decimal(&cv.1, &digits))
        }),
        ("decimal_to_minor", 1, |mut cv| {
            let digits = cv.0.pop_var();
            bome(decimal_to_minor(&cv.1, &digits))
        }),
    ];
    list.into_iter()
        .map(|(name, arity, run)| (name, v(arity), Native::<D>::new(run)))
}

/// `v` unchanged, or an error if writing it as text would take the run past its memory limit.
fn sized(v: Val) -> ValR<Val> {
    let room = crate::meter::room();
    match crate::value::text_size_within(&v, room) {
        Some(_) => Ok(v),
        None => crate::meter::reserve(usize::MAX)
            .map(|()| v)
            .map_err(Error::str),
    }
}

/// Most digits of a product of big integers: far beyond any amount or identifier, and small
/// enough that one multiplication stays quick (its cost grows faster than its size).
const MAX_DIGITS: usize = 100_000;

/// `l * r`, refused before it is built when the product would take the run past its memory limit
/// (a string repeated `n` times) or has more than [`MAX_DIGITS`] digits (a big integer squared
/// over and over).
fn times(l: Val, r: Val) -> ValR<Val> {
    use jaq_json::Num;
    let count = |n: &Num| match n {
        Num::Int(i) => (*i).max(0) as usize,
        Num::BigInt(_) => usize::MAX,
        Num::Float(_) | Num::Dec(_) => 0,
    };
    let bytes = match (&l, &r) {
        (Val::TStr(s) | Val::BStr(s), Val::Num(n)) | (Val::Num(n), Val::TStr(s) | Val::BStr(s)) => {
            s.len().saturating_mul(count(n))
        }
        (Val::Num(a @ Num::BigInt(_)), Val::Num(b))
        | (Val::Num(a), Val::Num(b @ Num::BigInt(_))) => {
            let digits = crate::value::number_size(a).saturating_add(crate::value::number_size(b));
            if digits > MAX_DIGITS {
                return Err(Error::str(format!(
                    "the product would have more than {MAX_DIGITS} digits"
                )));
            }
            digits
        }
        _ => 0,
    };
    crate::meter::reserve(bytes).map_err(Error::str)?;
    l * r
}

#[derive(Clone, Copy)]
enum Unit {
    Seconds,
    Millis,
}

fn text(v: &Val) -> Option<String> {
    match v {
        Val::TStr(b) | Val::BStr(b) => Some(String::from_utf8_lossy(b).into_owned()),
        Val::Num(_) => Some(v.to_string()),
        _ => None,
    }
}

fn kind(v: &Val) -> &'static str {
    match v {
        Val::Null => "null",
        Val::Bool(_) => "boolean",
        Val::Num(_) => "number",
        Val::TStr(_) | Val::BStr(_) => "string",
        Val::Arr(_) => "array",
        Val::Obj(_) => "object",
    }
}

/// A Unix time (seconds or milliseconds, a number or a numeric string) as ISO 8601: UTC with `Z`
/// by default, or at a zone (`+02:00`, `UTC`, `Europe/Paris`). Milliseconds are shown only when
/// there are some. null stays null.
fn to_iso(v: &Val, unit: Unit, tz: Option<&Val>) -> ValR<Val> {
    if matches!(v, Val::Null) {
        return Ok(Val::Null);
    }
    let raw = match v {
        Val::Num(_) | Val::TStr(_) => text(v).unwrap_or_default(),
        other => {
            return Err(Error::str(format!(
                "iso8601 expects a Unix time (a number), got {}",
                kind(other)
            )))
        }
    };
    let n: f64 = raw.trim().parse().map_err(|_| {
        Error::str(format!(
            "iso8601 expects a Unix time (a number), got {raw:?}"
        ))
    })?;
    let micros = match unit {
        Unit::Seconds => n * 1e6,
        Unit::Millis => n * 1e3,
    };
    if !micros.is_finite() {
        return Err(Error::str("iso8601: the time is not a finite number"));
    }
    let ts = Timestamp::from_microsecond(micros.round() as i64)
        .map_err(|e| Error::str(format!("iso8601: {e}")))?;
    let zone = match tz {
        None => TimeZone::UTC,
        Some(tz) => zone(tz)?,
    };
    let zoned = ts.to_zoned(zone.clone());
    let millis = zoned.subsec_nanosecond() / 1_000_000;
    let mut out = zoned.strftime("%Y-%m-%dT%H:%M:%S").to_string();
    if millis != 0 {
        out.push_str(&format!(".{millis:03}"));
    }
    if zoned.offset().seconds() == 0 && (tz.is_none() || zone == TimeZone::UTC) {
        out.push('Z');
    } else {
        out.push_str(&zoned.strftime("%:z").to_string());
    }
    Ok(Val::utf8_str(out.into_bytes()))
}

fn zone(tz: &Val) -> Result<TimeZone, Error<Val>> {
    let name = match tz {
        Val::TStr(b) => String::from_utf8_lossy(b).into_owned(),
        _ => {
            return Err(Error::str(
                "iso8601: the zone must be a string such as \"+02:00\" or \"Europe/Paris\"",
            ))
        }
    };
    match name.as_str() {
        "Z" | "UTC" | "utc" => return Ok(TimeZone::UTC),
        _ => {}
    }
    let bytes = name.as_bytes();
    if bytes.len() == 6 && (bytes[0] == b'+' || bytes[0] == b'-') && bytes[3] == b':' {
        let h: i32 = name[1..3].parse().map_err(|_| bad_zone(&name))?;
        let m: i32 = name[4..6].parse().map_err(|_| bad_zone(&name))?;
        let secs = (h * 3600 + m * 60) * if bytes[0] == b'-' { -1 } else { 1 };
        let offset = jiff::tz::Offset::from_seconds(secs).map_err(|_| bad_zone(&name))?;
        return Ok(TimeZone::fixed(offset));
    }
    TimeZone::get(&name).map_err(|_| bad_zone(&name))
}

fn bad_zone(name: &str) -> Error<Val> {
    Error::str(format!(
        "unknown time zone {name:?}: use an offset such as \"+02:00\", \"UTC\", or a zone name such as \"Europe/Paris\""
    ))
}

/// An ISO 8601 date-time (any offset; without one, UTC), or a date alone (midnight UTC), as a Unix
/// time: an integer when whole. null stays null.
fn from_iso(v: &Val, unit: Unit) -> ValR<Val> {
    let s = match v {
        Val::Null => return Ok(Val::Null),
        Val::TStr(b) => String::from_utf8_lossy(b).into_owned(),
        other => {
            return Err(Error::str(format!(
                "unix expects an ISO 8601 string, got {}",
                kind(other)
            )))
        }
    };
    let s = s.trim();
    let ts = s
        .parse::<Timestamp>()
        .or_else(|_| {
            s.parse::<jiff::civil::DateTime>()
                .and_then(|dt| dt.to_zoned(TimeZone::UTC))
                .map(|z| z.timestamp())
        })
        .or_else(|_| {
            s.parse::<jiff::civil::Date>()
                .and_then(|d| d.to_zoned(TimeZone::UTC))
                .map(|z| z.timestamp())
        })
        .map_err(|_| {
            Error::str(format!(
                "unix: {s:?} is not an ISO 8601 date-time (such as 2024-05-01T12:00:00Z)"
            ))
        })?;
    let micros = ts.as_microsecond();
    let (whole, per) = match unit {
        Unit::Seconds => (ts.as_second(), 1_000_000),
        Unit::Millis => (ts.as_millisecond(), 1_000),
    };
    if micros % per == 0 {
        Ok(Val::from(whole as isize))
    } else {
        Ok(Val::from(micros as f64 / per as f64))
    }
}

fn digits(v: &Val) -> Result<u32, Error<Val>> {
    match v {
        Val::Num(jaq_json::Num::Int(i)) if (0..=18).contains(i) => Ok(*i as u32),
        _ => Err(Error::str(
            "the number of decimal places must be an integer from 0 to 18",
        )),
    }
}

/// 1234 with 2 places → "12.34"; exact (integer arithmetic). null stays null.
fn minor_to_decimal(v: &Val, places: &Val) -> ValR<Val> {
    let places = digits(places)?;
    let minor: i128 = match v {
        Val::Null => return Ok(Val::Null),
        Val::Num(_) | Val::TStr(_) => {
            let t = text(v).unwrap_or_default();
            t.trim().parse().map_err(|_| {
                Error::str(format!(
                    "minor_to_decimal expects an integer amount in minor units, got {t}"
                ))
            })?
        }
        other => {
            return Err(Error::str(format!(
                "minor_to_decimal expects an integer amount, got {}",
                kind(other)
            )))
        }
    };
    let scale = 10i128.pow(places);
    let sign = if minor < 0 { "-" } else { "" };
    let (int, frac) = (minor.abs() / scale, minor.abs() % scale);
    let out = if places == 0 {
        format!("{sign}{int}")
    } else {
        format!("{sign}{int}.{frac:0width$}", width = places as usize)
    };
    Ok(Val::utf8_str(out.into_bytes()))
}

/// "12.34" (or 12.34) with 2 places → 1234, exactly; more significant places than allowed is an
/// error, never a silent rounding. null stays null.
fn decimal_to_minor(v: &Val, places: &Val) -> ValR<Val> {
    let places = digits(places)? as usize;
    let t = match v {
        Val::Null => return Ok(Val::Null),
        Val::Num(_) | Val::TStr(_) => text(v).unwrap_or_default(),
        other => {
            return Err(Error::str(format!(
                "decimal_to_minor expects a decimal amount, got {}",
                kind(other)
            )))
        }
    };
    let bad = || Error::str(format!("decimal_to_minor: {t:?} is not a decimal amount"));
    let s = t.trim();
    let (neg, s) = match s.strip_prefix('-') {
        Some(rest) => (true, rest),
        None => (false, s.strip_prefix('+').unwrap_or(s)),
    };
    let (int, frac) = s.split_once('.').unwrap_or((s, ""));
    if int.is_empty() && frac.is_empty()
        || !int.bytes().all(|b| b.is_ascii_digit())
        || !frac.bytes().all(|b| b.is_ascii_digit())
    {
        return Err(bad());
    }
    let (kept, extra) = frac.split_at(frac.len().min(places));
    if extra.bytes().any(|b| b != b'0') {
        return Err(Error::str(format!(
            "decimal_to_minor: {t:?} has more than {places} decimal places"
        )));
    }
    let digits = format!("{int}{kept:0<places$}");
    let n: i128 = if digits.is_empty() {
        0
    } else {
        digits.parse().map_err(|_| bad())?
    };
    let n = if neg { -n } else { n };
    isize::try_from(n)
        .map(Val::from)
        .map_err(|_| Error::str(format!("decimal_to_minor: {t:?} is too large")))
}
