//! The one `retry:` / `circuit:` shape: destinations and connectors read it alike, each with
//! its own defaults, and a field that only the other kind takes is located.

use std::time::Duration;

use junction_config::{load_str, ConfigError, Overrides};

fn load(text: &str) -> Result<junction_config::Config, Vec<ConfigError>> {
    load_str(text, "junction.yaml", &Overrides::default(), &|_| None).map_err(|e| e.0)
}

const BOTH: &str = r#"
destinations:
  plain: { url: "http://127.0.0.1:9/a" }
  tuned:
    url: "http://127.0.0.1:9/b"
    retry: { attempts: 8, base: 1s, max: 1m, statuses: [409] }
    retry_statuses: [423]
    circuit: { failures: 3, probe_after: 2s, error_rate: 50%, min_calls: 10 }
connectors:
  plain: { base_url: "http://127.0.0.1:9" }
  tuned:
    base_url: "http://127.0.0.1:9"
    retry: { attempts: 5, statuses: [409] }
    circuit: { failures: 4, open_for: 1s, probes: 2 }
"#;

#[test]
fn destinations_and_connectors_read_one_retry_and_circuit_shape_with_their_own_defaults() {
    let c = load(BOTH).expect("valid");
    let d = &c.flows.destinations["plain"];
    assert_eq!(d.retry.attempts, 20);
    assert_eq!(d.retry.backoff.base, Duration::from_secs(5));
    assert_eq!(d.retry.backoff.max, Duration::from_secs(6 * 3600));
    assert!(d.retry.budget.is_none(), "scheduled retries take no budget");
    assert!(d.retry.classes.throttling_trips);
    assert_eq!(d.circuit.trip.consecutive, Some(5));
    assert!(d.circuit.trip.rate.is_none());
    assert_eq!(d.circuit.open_for, Duration::from_secs(5));

    let d = &c.flows.destinations["tuned"];
    assert_eq!(d.retry.attempts, 8);
    assert_eq!(
        d.retry.classes.also_retry,
        vec![409, 423],
        "old place still read"
    );
    assert_eq!(d.circuit.trip.consecutive, Some(3));
    assert_eq!(
        d.circuit.open_for,
        Duration::from_secs(2),
        "probe_after is open_for"
    );
    let rate = d
        .circuit
        .trip
        .rate
        .expect("a rate field turns the rate trip on");
    assert_eq!((rate.error_rate, rate.min_calls), (0.5, 10));

    let k = &c.connectors["plain"];
    assert_eq!(k.retry.attempts, 3);
    assert_eq!(k.retry.backoff.base, Duration::from_millis(100));
    assert_eq!(k.retry.budget.map(|b| b.floor), Some(5));
    assert!(
        !k.retry.classes.throttling_trips,
        "429 is the quota's business"
    );
    assert_eq!(k.circuit.trip.consecutive, None);
    assert_eq!(k.circuit.trip.rate.map(|r| r.min_calls), Some(20));
    assert_eq!(k.circuit.open_for, Duration::from_secs(15));

    let k = &c.connectors["tuned"];
    assert_eq!(k.retry.classes.also_retry, vec![409]);
    assert_eq!(k.circuit.trip.consecutive, Some(4));
    assert!(
        k.circuit.trip.rate.is_some(),
        "a connector keeps its rate trip"
    );
    assert_eq!(k.circuit.probes, 2);
}

#[test]
fn a_field_of_the_other_kind_of_target_or_a_bad_value_is_located() {
    let cases = [
        (
            "destinations:\n  d:\n    url: http://127.0.0.1:9\n    retry: { budget: 10% }\n",
            "destinations.d.retry.budget",
            "applies to connectors only",
        ),
        (
            "destinations:\n  d:\n    url: http://127.0.0.1:9\n    circuit: { fallback: stale }\n",
            "destinations.d.circuit.fallback",
            "applies to connectors only",
        ),
        (
            "destinations:\n  d:\n    url: http://127.0.0.1:9\n    retry: { statuses: [503] }\n",
            "destinations.d.retry.statuses[0]",
            "not a 4xx status",
        ),
        (
            "destinations:\n  d:\n    url: http://127.0.0.1:9\n    circuit: { failures: 0 }\n",
            "destinations.d.circuit.failures",
            "greater than zero",
        ),
        (
            "connectors:\n  k:\n    base_url: http://127.0.0.1:9\n    retry: { attempts: 11 }\n",
            "connectors.k.retry.attempts",
            "between 1 and 10",
        ),
        (
            "connectors:\n  k:\n    base_url: http://127.0.0.1:9\n    circuit: { window: 0s }\n",
            "connectors.k.circuit.window",
            "greater than zero",
        ),
    ];
    for (yaml, field, message) in cases {
        let errs = load(yaml).expect_err(yaml);
        assert!(
            errs.iter()
                .any(|e| e.field == field && e.message.contains(message) && e.line.is_some()),
            "{yaml}\nexpected `{field}`: {message}\ngot: {errs:#?}"
        );
    }
}
