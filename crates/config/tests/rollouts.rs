//! API versions and rollouts: a valid config resolves each version's operations, and every
//! mistake is located with a hint.

use junction_config::{load_str, ConfigError, Overrides};
use junction_resilience::rollout::Mode;

fn load(text: &str) -> Result<junction_config::Config, Vec<ConfigError>> {
    load_str(text, "junction.yaml", &Overrides::default(), &|_| None).map_err(|e| e.0)
}

const BASE: &str = r#"
models:
  customer@1: { schema: { type: object } }
mappings:
  from_v1: { jq: '{id, email}' }
  from_v2: { jq: '{id, email: .email_address}' }
sources:
  s: { kind: webhook, verify: { preset: none } }
destinations:
  d: { url: "http://127.0.0.1:9/hook" }
"#;

#[test]
fn versions_resolve_with_their_operations_and_the_rollout() {
    let text = format!(
        "{BASE}{}",
        r#"
connectors:
  crm:
    base_url: https://api.example.com/api
    versions:
      v1: { path: /v1 }
      v2:
        header: API-Version
        value: "2024-06-01"
        operations:
          get_customer: { path: "/clients/{id}", response: { map: from_v2, model: customer@1 } }
    rollout: { stable: v1, candidate: v2, mode: canary, percent: 12.5%, sticky: caller, rollback: { margin: 2%, window: 30s, min_calls: 5 } }
    operations:
      get_customer: { path: "/customers/{id}", response: { map: from_v1 } }
      list: { path: /customers }
routes:
  r:
    from: s
    to: [d]
    map: from_v1
    rollout: { candidate: from_v2, mode: shadow }
"#
    );
    let c = load(&text).unwrap_or_else(|e| panic!("{e:#?}"));
    let v = c.connectors["crm"].versions.as_ref().unwrap();
    assert_eq!(
        v.list["v1"].operations["get_customer"].path,
        "/v1/customers/{id}"
    );
    assert_eq!(v.list["v1"].operations["list"].path, "/v1/customers");
    let v2 = &v.list["v2"];
    assert_eq!(v2.operations["get_customer"].path, "/clients/{id}");
    assert_eq!(
        v2.operations["get_customer"].response.map.as_deref(),
        Some("from_v2")
    );
    assert_eq!(v2.operations["list"].response.map, None);
    assert_eq!(v2.header.as_ref().unwrap().1, "2024-06-01");
    assert_eq!(v.rollout.mode, Mode::Canary(1250));
    assert_eq!(v.rollout.sticky, junction_config::Sticky::Caller);
    assert_eq!(v.rollout.rollback.min_calls, 5);
    assert!((v.rollout.rollback.margin - 0.02).abs() < 1e-9);
    let r = c.flows.routes["r"].rollout.as_ref().unwrap();
    assert_eq!(
        (r.stable.as_str(), r.candidate.as_str()),
        ("from_v1", "from_v2")
    );
    assert_eq!(r.mode, Mode::Shadow);
}

#[test]
fn broken_versions_and_rollouts_are_located_with_hints() {
    let conn = |rest: &str| {
        format!("{BASE}connectors:\n  crm:\n    base_url: https://x\n    operations: {{ get: {{ path: \"/c/{{id}}\" }} }}\n{rest}")
    };
    let cases: Vec<(String, &str, &str)> = vec![
        (
            conn("    versions: { v1: { path: /v1 }, v2: { path: /v2 } }\n"),
            "connectors.crm",
            "says which one calls use",
        ),
        (
            conn("    rollout: { stable: v1, candidate: v2 }\n"),
            "connectors.crm.rollout",
            "declares none",
        ),
        (
            conn("    version: { path: /v1 }\n    versions: { v1: { path: /v1 }, v2: { path: /v2 } }\n    rollout: { stable: v1, candidate: v2 }\n"),
            "connectors.crm.version",
            "each version carries its own pin",
        ),
        (
            conn("    versions: { v1: { path: /v1 }, v2: { path: /v2 } }\n    rollout: { stable: v1, candidate: v3 }\n"),
            "connectors.crm.rollout.candidate",
            "no version named `v3`",
        ),
        (
            conn("    versions: { v1: { path: /v1 }, v2: { path: /v2 } }\n    rollout: { stable: v1, candidate: v2, mode: canary }\n"),
            "connectors.crm.rollout",
            "needs its `percent`",
        ),
        (
            conn("    versions: { v1: { path: /v1 }, v2: { path: /v2 } }\n    rollout: { stable: v1, candidate: v2, mode: shadow, percent: 5% }\n"),
            "connectors.crm.rollout.percent",
            "applies to `mode: canary`",
        ),
        (
            conn("    versions: { v1: { path: /v1 }, v2: { path: /v2 } }\n    rollout: { stable: v1, candidate: v1 }\n"),
            "connectors.crm.rollout.candidate",
            "is the stable arm",
        ),
        (
            conn("    versions: { v1: { path: /v1 }, v2: { path: /v2, operations: { nope: {} } } }\n    rollout: { stable: v1, candidate: v2 }\n"),
            "connectors.crm.versions.v2.operations.nope",
            "no operation `nope`",
        ),
        (
            conn("    versions: { v1: { path: /v1 }, v2: { path: /v2, operations: { get: { response: { map: missing } } } } }\n    rollout: { stable: v1, candidate: v2 }\n"),
            "connectors.crm.versions.v2.operations.get.response.map",
            "no mapping named `missing`",
        ),
        (
            conn("    versions: { v1: { path: /v1 }, v2: { header: API-Version } }\n    rollout: { stable: v1, candidate: v2 }\n"),
            "connectors.crm.versions.v2",
            "a header with its value, or a path",
        ),
        (
            conn("    versions: { v1: { path: /v1 }, v2: { path: /v2 } }\n    rollout: { stable: v1, candidate: v2, rollback: { window: 2h } }\n"),
            "connectors.crm.rollout.rollback.window",
            "between 1s and 1h",
        ),
        (
            format!("{BASE}routes:\n  r: {{ from: s, to: [d], rollout: {{ candidate: from_v2, mode: switch }} }}\n"),
            "routes.r.rollout",
            "the route has no `map`",
        ),
        (
            format!("{BASE}routes:\n  r: {{ from: s, to: [d], map: from_v1, rollout: {{ candidate: from_v3 }} }}\n"),
            "routes.r.rollout.candidate",
            "no mapping named `from_v3`",
        ),
        (
            format!("{BASE}routes:\n  r: {{ from: s, to: [d], map: from_v1, rollout: {{ candidate: from_v2, sticky: caller }} }}\n"),
            "routes.r.rollout.sticky",
            "deliveries have no caller",
        ),
    ];
    for (yaml, field, message) in &cases {
        let errs = load(yaml)
            .err()
            .unwrap_or_else(|| panic!("should fail:\n{yaml}"));
        assert!(
            errs.iter()
                .any(|e| e.field == *field && e.message.contains(message) && e.line.is_some()),
            "{yaml}\nexpected `{field}`: {message}\ngot: {errs:#?}"
        );
    }
}
