//! A mapping is held to its memory limit: a program whose values grow without bound fails with
//! a reason instead of taking the process's memory (until the allocator aborts it).

use std::time::Duration;

use junction_transform::jq::{parse_json, Program};
use junction_transform::{Limits, Metered};

#[global_allocator]
static ALLOCATOR: Metered<std::alloc::System> = Metered(std::alloc::System);

fn run(code: &str, input: &str) -> Result<(), String> {
    run_within(code, input, Limits::default().memory)
}

/// Runs with a memory limit of `memory` bytes (smaller limits keep the tests quick).
fn run_within(code: &str, input: &str, memory: usize) -> Result<(), String> {
    let limits = Limits {
        time: Duration::from_secs(20),
        memory,
        ..Limits::default()
    };
    Program::compile(code)
        .unwrap()
        .run(parse_json(input.as_bytes()).unwrap(), limits)
        .map(|_| ())
}

#[test]
fn a_string_doubled_in_a_loop_stops_at_the_memory_limit_not_the_process() {
    // 2^34 bytes if it ran: the allocator would abort the process long before.
    let e = run(r#"reduce range(34) as $i ("a"; . + .)"#, "null").unwrap_err();
    assert!(e.contains("memory limit"), "{e}");
    let e = run(r#"[range(40) as $i | "x" * 10000000]"#, "null").unwrap_err();
    assert!(e.contains("memory limit"), "{e}");
    // Within the limit, the same shapes run.
    assert!(run(r#"reduce range(10) as $i ("a"; . + .)"#, "null").is_ok());
}

#[test]
fn combinations_of_a_small_input_run_within_the_limits() {
    let started = std::time::Instant::now();
    let e = run("[combinations(8)] | length", "[0,1,2,3,4,5,6,7,8,9,10,11]").unwrap_err();
    assert!(
        e.contains("ran out of steps") || e.contains("memory limit"),
        "{e}"
    );
    assert!(
        started.elapsed() < Duration::from_secs(10),
        "{:?}",
        started.elapsed()
    );
    assert!(run("[[1,2],[3,4]] | [combinations] | length", "null").is_ok());
}

#[test]
fn one_operation_that_would_build_a_huge_value_is_refused_before_it_allocates() {
    // A terabyte string in one step: refused before the allocation, not by the allocator.
    let e = run(r#""x" * 1000000000000"#, "null").unwrap_err();
    assert!(e.contains("memory limit"), "{e}");
    let e = run(r#". as $n | "ab" | . *= $n"#, "1000000000000").unwrap_err();
    assert!(e.contains("memory limit"), "{e}");
    // Squaring a big integer doubles its digits: 36 times would need 2^36 × 1.6 bits.
    let square = ["s"; 36].join(" | ");
    let e = run(&format!("def s: . * .; 3 | {square}"), "null").unwrap_err();
    assert!(e.contains("digits"), "{e}");
    // The same operators on ordinary values are unchanged.
    assert_eq!(
        run_to_text(r#"["ab" * 3, 3 * "ab", "x" * 0, 6 * 7, ({"a":{"b":1}} * {"a":{"c":2}})]"#),
        r#"["ababab","ababab",null,42,{"a":{"b":1,"c":2}}]"#
    );
}

#[test]
fn a_chain_of_doublings_without_a_loop_stops_at_the_memory_limit() {
    // No generator anywhere: forty doublings written out, or one per element of the input.
    let doubled = ["d"; 40].join(" | ");
    let e = run(&format!(r#"def d: . + .; "a" | {doubled}"#), "null").unwrap_err();
    assert!(e.contains("memory limit"), "{e}");
    let e = run(&format!(r#"def d: "\(.)\(.)"; "a" | {doubled}"#), "null").unwrap_err();
    assert!(e.contains("memory limit"), "{e}");
    let forty = format!("[{}]", ["0"; 40].join(","));
    let e = run(r#"reduce .[] as $x ("a"; . + .)"#, &forty).unwrap_err();
    assert!(e.contains("memory limit"), "{e}");
    let e = run(r#"reduce .[] as $x ({s: "a"}; .s += .s)"#, &forty).unwrap_err();
    assert!(e.contains("memory limit"), "{e}");
}

#[test]
fn a_large_value_repeated_per_input_element_stops_at_the_memory_limit() {
    // Against an 8 MiB limit: 1,000 copies of a 1 MB string would be a gigabyte.
    const LIMIT: usize = 8 << 20;
    let many = format!("[{}]", ["0"; 1000].join(","));
    let refused = |code: &str| {
        let e = run_within(code, &many, LIMIT).unwrap_err();
        assert!(e.contains("memory limit"), "{code}: {e}");
    };
    // Each copy a new allocation.
    refused(r#"("x" * 1000000) as $big | [.[] | $big | ascii_downcase]"#);
    refused(r#"("x" * 1000000) as $big | map($big | ascii_upcase)"#);
    refused(r#"("x" * 1000000) as $big | map_values($big | ascii_upcase)"#);
    // One string shared a thousand times costs little held, but a gigabyte written out.
    refused(r#"("x" * 1000000) as $big | [.[] | $big] | tojson"#);
    refused(r#"("x" * 1000000) as $big | [.[] | $big] | tostring"#);
    refused(r#"("x" * 1000000) as $big | [.[] | $big] | join(",")"#);
    refused(r#"("x" * 1000000) as $big | [.[] | $big] | add"#);
    // Small values in the same shapes run.
    assert!(run_within(r#"[.[] | "x" | ascii_upcase] | tojson"#, &many, LIMIT).is_ok());
}

fn run_to_text(code: &str) -> String {
    let v = Program::compile(code)
        .unwrap()
        .first(parse_json(b"null").unwrap())
        .unwrap()
        .unwrap();
    v.to_string()
}
