//! A mapping is held to its memory limit: a program whose values grow without bound fails with
//! a reason instead of taking the process's memory (until the allocator aborts it).

use std::time::Duration;

use junction_transform::jq::{parse_json, Program};
use junction_transform::{Limits, Metered};

#[global_allocator]
static ALLOCATOR: Metered<std::alloc::System> = Metered(std::alloc::System);

fn run(code: &str, input: &str) -> Result<(), String> {
    let limits = Limits {
        time: Duration::from_secs(20),
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
