//! The prelude's chores, as a mapping author uses them.

use junction_transform::{parse_json, Limits, Mapping, Program};

fn run(code: &str, input: &str) -> Result<String, String> {
    let m = Mapping::new(
        "t",
        Program::compile(code).map_err(|e| e.to_string())?,
        Limits::default(),
    );
    let mut out = Vec::new();
    m.map_value(parse_json(input.as_bytes()).unwrap(), &mut out)
        .map(|()| String::from_utf8(out).unwrap())
        .map_err(|e| e.to_string())
}

fn ok(code: &str, input: &str) -> String {
    run(code, input).unwrap_or_else(|e| panic!("{code} on {input}: {e}"))
}

#[test]
fn unix_times_become_iso8601_and_back() {
    assert_eq!(ok("iso8601", "0"), r#""1970-01-01T00:00:00Z""#);
    assert_eq!(ok("iso8601", "1700000000"), r#""2023-11-14T22:13:20Z""#);
    assert_eq!(ok("iso8601", "\"1700000000\""), r#""2023-11-14T22:13:20Z""#);
    assert_eq!(
        ok("iso8601_ms", "1700000000123"),
        r#""2023-11-14T22:13:20.123Z""#
    );
    assert_eq!(
        ok("iso8601(\"+02:00\")", "0"),
        r#""1970-01-01T02:00:00+02:00""#
    );
    assert_eq!(
        ok("iso8601(\"-05:30\")", "0"),
        r#""1969-12-31T18:30:00-05:30""#
    );
    assert_eq!(ok("iso8601(\"UTC\")", "0"), r#""1970-01-01T00:00:00Z""#);
    assert_eq!(ok("unix", r#""2023-11-14T22:13:20Z""#), "1700000000");
    assert_eq!(ok("unix", r#""2023-11-15T00:13:20+02:00""#), "1700000000");
    assert_eq!(ok("unix", r#""2023-11-14T22:13:20""#), "1700000000");
    assert_eq!(ok("unix", r#""1970-01-02""#), "86400");
    assert_eq!(
        ok("unix_ms", r#""2023-11-14T22:13:20.123Z""#),
        "1700000000123"
    );
    assert_eq!(ok("unix", r#""1970-01-01T00:00:00.5Z""#), "0.5");
    // Nulls pass through, so optional fields stay optional.
    assert_eq!(ok("[.a | iso8601, unix]", "{}"), "[null,null]");
    let e = run("unix", r#""last tuesday""#).unwrap_err();
    assert!(e.contains("ISO 8601"), "{e}");
    let e = run("iso8601(\"Mars/Olympus\")", "0").unwrap_err();
    assert!(e.contains("unknown time zone"), "{e}");
    let e = run("iso8601", "[1]").unwrap_err();
    assert!(e.contains("Unix time"), "{e}");
}

#[test]
fn named_time_zones_are_read_from_the_system() {
    // Skipped where the machine has no time zone database.
    if std::path::Path::new("/usr/share/zoneinfo/Europe/Paris").exists() {
        assert_eq!(
            ok("iso8601(\"Europe/Paris\")", "0"),
            r#""1970-01-01T01:00:00+01:00""#
        );
    }
}

#[test]
fn money_converts_exactly() {
    assert_eq!(ok("minor_to_decimal(2)", "1234"), r#""12.34""#);
    assert_eq!(ok("minor_to_decimal(2)", "-5"), r#""-0.05""#);
    assert_eq!(ok("minor_to_decimal(0)", "1234"), r#""1234""#);
    assert_eq!(ok("minor_to_decimal(3)", "\"1000\""), r#""1.000""#);
    assert_eq!(ok("decimal_to_minor(2)", r#""12.34""#), "1234");
    assert_eq!(ok("decimal_to_minor(2)", "12.3"), "1230");
    assert_eq!(ok("decimal_to_minor(2)", r#""-0.05""#), "-5");
    assert_eq!(ok("decimal_to_minor(2)", r#""7""#), "700");
    assert_eq!(ok("decimal_to_minor(2)", r#""1.230""#), "123");
    // 0.1 + 0.2 style float noise never reaches the amount.
    assert_eq!(ok("decimal_to_minor(2)", "19.99"), "1999");
    let e = run("decimal_to_minor(2)", r#""1.234""#).unwrap_err();
    assert!(e.contains("more than 2 decimal places"), "{e}");
    let e = run("decimal_to_minor(2)", r#""1,5""#).unwrap_err();
    assert!(e.contains("not a decimal"), "{e}");
    assert_eq!(
        ok("[.x | minor_to_decimal(2), decimal_to_minor(2)]", "{}"),
        "[null,null]"
    );
}

#[test]
fn blanks_enums_and_safe_gets() {
    assert_eq!(ok("empty_to_null", r#""""#), "null");
    assert_eq!(ok("null_to_empty", "null"), r#""""#);
    assert_eq!(
        ok("blanks_to_null", r#"{"a":"","b":["",1]}"#),
        r#"{"a":null,"b":[null,1]}"#
    );
    assert_eq!(ok("drop_nulls", r#"{"a":null,"b":1}"#), r#"{"b":1}"#);
    assert_eq!(
        ok(
            r#".s | enum_map({"active": "active", "delinquent": "past_due"})"#,
            r#"{"s":"delinquent"}"#
        ),
        r#""past_due""#
    );
    assert_eq!(
        ok(r#".s | enum_map({"1": "one"})"#, r#"{"s":1}"#),
        r#""one""#
    );
    let e = run(r#".s | enum_map({"a": 1, "b": 2})"#, r#"{"s":"c"}"#).unwrap_err();
    assert!(e.contains(r#"no mapping for "c" (known: a, b)"#), "{e}");
    assert_eq!(ok(r#".s | enum_map({"a": 1}; 0)"#, r#"{"s":"z"}"#), "0");
    assert_eq!(ok(r#"get("a.b.0.c")"#, r#"{"a":{"b":[{"c":5}]}}"#), "5");
    assert_eq!(ok(r#"get(["a", "b", 3])"#, r#"{"a":{"b":[]}}"#), "null");
    assert_eq!(ok(r#"get("a.b.c")"#, r#"{"a":{"b":"text"}}"#), "null");
    assert_eq!(ok(r#"get("a.x"; "none")"#, r#"{"a":{}}"#), r#""none""#);
    assert_eq!(
        ok("[.a, .b, .c | to_array]", r#"{"a":[1],"b":2}"#),
        "[[1],[2],[]]"
    );
}
