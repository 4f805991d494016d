//! Connectors: a full valid config, and the located errors of broken ones.

use std::time::Duration;

use junction_config::{load_str, ConfigError, Grant, KeyPlace, OutboundAuth, Overrides, Rate};

fn env(name: &str) -> Option<String> {
    match name {
        "CRM_KEY" => Some("canary-crm-key".into()),
        _ => None,
    }
}

const VALID: &str = r#"
connectors:
  crm:
    base_url: https://api.example.com/api/
    version: { path: /v2 }
    headers: { Accept: application/json }
    auth:
      kind: oauth2_client_credentials
      token_url: https://api.example.com/oauth/token
      client_id: junction
      client_secret: secret:crm_client_secret
      scopes: [ customers:read ]
      refresh_at: 75%
    quotas: [ 10/s, 1000/min, 50000/day ]
    concurrency: 16
    max_wait: 5s
    timeouts: { connect: 1s, attempt: 2s, total: 10s }
    retry: { attempts: 4, base: 50ms, max: 1s, budget: 10%, idempotency_header: Idempotency-Key }
    circuit: { error_rate: 50%, window: 10s, min_calls: 5, open_for: 3s, fallback: stale }
    cache: { mode: http, max_size: 1MiB }
    operations:
      get_customer: { method: get, path: "/customers/{id}" }
  keyed:
    base_url: http://127.0.0.1:9000
    version: { header: API-Version, value: "2024-06-01" }
    auth: { kind: api_key, header: X-Api-Key, key: env:CRM_KEY }
"#;

fn errors(text: &str) -> Vec<ConfigError> {
    load_str(text, "junction.yaml", &Overrides::default(), &env)
        .err()
        .unwrap_or_else(|| panic!("config should fail:\n{text}"))
        .0
}

#[test]
fn a_full_connector_config_resolves() {
    let c = load_str(VALID, "junction.yaml", &Overrides::default(), &env).unwrap();
    let crm = &c.connectors["crm"];
    assert_eq!(crm.base_url.host_str(), Some("api.example.com"));
    assert_eq!(crm.base_path, "/api/v2");
    assert_eq!(
        crm.quotas,
        vec![
            Rate {
                limit: 10,
                window: Duration::from_secs(1)
            },
            Rate {
                limit: 1000,
                window: Duration::from_secs(60)
            },
            Rate {
                limit: 50_000,
                window: Duration::from_secs(86_400)
            },
        ]
    );
    assert_eq!(crm.retry.attempts, 4);
    assert!((crm.retry.budget.unwrap().ratio - 0.1).abs() < 1e-9);
    assert_eq!(
        crm.idempotency_header.as_ref().map(|h| h.as_str()),
        Some("idempotency-key")
    );
    assert!(crm.stale_fallback);
    assert_eq!(crm.cache.unwrap().ttl, None);
    assert_eq!(crm.operations["get_customer"].method, "GET");
    match crm.auth.as_ref().unwrap() {
        OutboundAuth::OAuth2 { grant, oauth } => {
            assert_eq!(*grant, Grant::ClientCredentials);
            assert!((oauth.lifetime.refresh_at - 0.75).abs() < 1e-9);
            assert!(
                !oauth.client_secret.as_ref().unwrap().is_bound(),
                "bound from the vault at start-up"
            );
        }
        other => panic!("{other:?}"),
    }
    assert_eq!(c.vault_names(), vec!["crm_client_secret"]);
    let keyed = &c.connectors["keyed"];
    assert_eq!(keyed.base_path, "");
    let (name, value) = keyed.version_header.as_ref().unwrap();
    assert_eq!(
        (name.as_str(), value.to_str().unwrap()),
        ("api-version", "2024-06-01")
    );
    match keyed.auth.as_ref().unwrap() {
        OutboundAuth::ApiKey { place, key } => {
            assert_eq!(place, &KeyPlace::Header("X-Api-Key".into()));
            assert_eq!(key.expose(), "canary-crm-key");
        }
        other => panic!("{other:?}"),
    }
}

#[test]
fn broken_connectors_are_located_with_hints() {
    let cases: &[(&str, &str, &str)] = &[
        (
            "connectors:\n  a:\n    base_url: ftp://x\n",
            "connectors.a.base_url",
            "unsupported scheme `ftp`",
        ),
        (
            "connectors:\n  a:\n    base_url: https://user:pw@x\n",
            "connectors.a.base_url",
            "carries credentials",
        ),
        (
            "connectors:\n  a:\n    base_url: https://x\n    quotas: [ 10/fortnight ]\n",
            "connectors.a.quotas[0]",
            "bad window",
        ),
        (
            "connectors:\n  a:\n    base_url: https://x\n    headers: { Authorization: Bearer abc }\n",
            "connectors.a.headers.Authorization",
            "credentials do not belong in headers",
        ),
        (
            "connectors:\n  a:\n    base_url: https://x\n    auth: { kind: bearer, token: abc123 }\n",
            "connectors.a.auth.token",
            "a secret must be a reference",
        ),
        (
            "connectors:\n  a:\n    base_url: https://x\n    auth: { kind: api_key, key: env:CRM_KEY }\n",
            "connectors.a.auth",
            "a header or in a query parameter",
        ),
        (
            "connectors:\n  a:\n    base_url: https://x\n    cache: { mode: ttl }\n",
            "connectors.a.cache",
            "needs a `ttl`",
        ),
        (
            "connectors:\n  a:\n    base_url: https://x\n    circuit: { fallback: stale }\n",
            "connectors.a.circuit.fallback",
            "has no cache",
        ),
        (
            "connectors:\n  a:\n    base_url: https://x\n    operations: { up: { path: /a/../b } }\n",
            "connectors.a.operations.up.path",
            "segments",
        ),
        (
            "connectors:\n  a:\n    base_url: https://x\n    auth: { kind: oauth2_client_credentials, token_url: https://x/t, client_id: c }\n",
            "connectors.a.auth",
            "needs a client_secret",
        ),
        (
            "connectors:\n  a:\n    base_url: https://x\n    auth: { kind: magic }\n",
            "connectors.a.auth.kind",
            "unknown value `magic`",
        ),
        (
            "connectors:\n  a:\n    base_url: https://x\n    retry: { attempts: 0 }\n",
            "connectors.a.retry.attempts",
            "between 1 and 10",
        ),
        (
            "connectors:\n  a:\n    base_url: https://x\n    operations: { up: { path: \"/a/x{id}\" } }\n",
            "connectors.a.operations.up.path",
            "a placeholder is a whole segment",
        ),
        (
            "connectors:\n  a:\n    base_url: https://x\n    operations: { up: { path: \"/a/{id}\", query: [id] } }\n",
            "connectors.a.operations.up",
            "more than one parameter",
        ),
        (
            "connectors:\n  a:\n    base_url: https://x\n    operations: { up: { path: /a, headers: { k: \"bad header\" } } }\n",
            "connectors.a.operations.up.headers.k",
            "not a header name",
        ),
        (
            "connectors:\n  a:\n    base_url: https://x\n    operations: { up: { method: POST, path: /a, paginate: { style: cursor } } }\n",
            "connectors.a.operations.up.paginate",
            "only operations that read are paginated",
        ),
        (
            "connectors:\n  a:\n    base_url: https://x\n    operations: { up: { method: POST, safe: true, path: /a, paginate: { style: link } } }\n",
            "connectors.a.operations.up.paginate.style",
            "follows URLs",
        ),
        (
            "connectors:\n  a:\n    base_url: https://x\n    operations: { up: { path: /a, safe: true } }\n",
            "connectors.a.operations.up.safe",
            "is safe already",
        ),
        (
            "connectors:\n  a:\n    base_url: https://x\n    cost: { actual: extensions.cost }\n",
            "connectors.a.cost",
            "this connector has none",
        ),
        (
            "connectors:\n  a:\n    base_url: https://x\n    quotas: [ 100/s ]\n    operations: { up: { path: /a, cost: 101 } }\n",
            "connectors.a.operations.up.cost",
            "never fits in a quota of 100",
        ),
        (
            "connectors:\n  a:\n    base_url: https://x\n    quotas: [ 100/s ]\n    operations: { up: { path: /a, cost: 0 } }\n",
            "connectors.a.operations.up.cost",
            "between 1 and",
        ),
        (
            "connectors:\n  a:\n    base_url: https://x\n    quotas: [ 100/s ]\n    cost: { left: \"a..b\" }\n",
            "connectors.a.cost.left",
            "neither a field path nor `header:NAME`",
        ),
        (
            "connectors:\n  a:\n    base_url: https://x\n    quotas: [ 100/s ]\n    cost: { limit: x.max }\n",
            "connectors.a.cost.limit",
            "there is no `left`",
        ),
        (
            "connectors:\n  a:\n    base_url: https://x\n    operations: { up: { path: /a, query_values: { \"a b\": x } } }\n",
            "connectors.a.operations.up.query_values.a b",
            "not a query parameter name",
        ),
        (
            "connectors:\n  a:\n    base_url: https://x\n    connection_events: nowhere\n",
            "connectors.a.connection_events",
            "no destination named `nowhere`",
        ),
        (
            "connectors:\n  a:\n    base_url: https://x\n    connection_events: nowhere\n",
            "connectors.a.connection_events",
            "has no connections that change",
        ),
        (
            "connectors:\n  a:\n    base_url: https://x\n    errors_in_answer: { code: \"..\" }\n",
            "connectors.a.errors_in_answer.code",
            "not a field path",
        ),
        (
            "connectors:\n  a:\n    base_url: https://x\n    operations: { up: { path: /a, paginate: { style: offset, page_size: 0 } } }\n",
            "connectors.a.operations.up.paginate.page_size",
            "between 1 and",
        ),
        (
            "connectors:\n  a:\n    base_url: https://x\n    operations: { up: { path: /a, paginate: { style: scroll } } }\n",
            "connectors.a.operations.up.paginate.style",
            "unknown value `scroll`",
        ),
        (
            "connectors:\n  a:\n    base_url: https://x\n    operations: { up: { path: /a, paginate: { style: cursor, records: \"a..b\" } } }\n",
            "connectors.a.operations.up.paginate.records",
            "not a field path",
        ),
    ];
    for (yaml, field, message) in cases {
        let errs = errors(yaml);
        assert!(
            errs.iter()
                .any(|e| e.field == *field && e.message.contains(message) && e.line.is_some()),
            "{yaml}\nexpected `{field}`: {message}\ngot: {errs:#?}"
        );
    }
}

#[test]
fn a_base_url_on_a_link_local_or_metadata_address_is_refused_unless_allowed() {
    for host in [
        "http://169.254.169.254/latest",
        "http://[fe80::1]:8080",
        "http://metadata.google.internal/computeMetadata/v1",
        "http://[::ffff:169.254.169.254]",
    ] {
        let e = errors(&format!("connectors:\n  c:\n    base_url: \"{host}\"\n"));
        assert_eq!(e.len(), 1, "{host}: {e:?}");
        assert!(e[0].message.contains("link-local"), "{host}: {e:?}");
        assert!(e[0]
            .hint
            .as_deref()
            .unwrap_or_default()
            .contains("allow_link_local"));
        let ok =
            format!("connectors:\n  c:\n    base_url: \"{host}\"\n    allow_link_local: true\n");
        assert!(
            load_str(&ok, "junction.yaml", &Overrides::default(), &env).is_ok(),
            "{host} with allow_link_local"
        );
    }
    let private = "connectors:\n  c:\n    base_url: http://10.0.0.5\n";
    assert!(load_str(private, "junction.yaml", &Overrides::default(), &env).is_ok());
}

#[test]
fn a_cost_metered_graphql_connector_resolves() {
    let yaml = r#"
connectors:
  shop:
    base_url: https://acme.myshopify.com/admin/api/2024-07
    quotas: [ 1000/20s ]
    cost:
      default: 2
      actual: extensions.cost.actualQueryCost
      left: header:X-Points-Left
    errors_in_answer: { rate_limited: [ THROTTLED ] }
    operations:
      customers:
        method: POST
        path: /graphql.json
        safe: true
        cost: 252
        paginate: { style: cursor, records: data.customers.nodes, next: data.customers.pageInfo.endCursor, param: variables.after, size_param: variables.first, page_size: 250 }
"#;
    let cfg = load_str(yaml, "junction.yaml", &Overrides::default(), &env)
        .unwrap_or_else(|e| panic!("{e:?}"));
    let c = &cfg.connectors["shop"];
    assert_eq!(c.cost.default, 2);
    assert_eq!(
        c.cost.actual,
        Some(junction_config::CostField::Body(vec![
            "extensions".into(),
            "cost".into(),
            "actualQueryCost".into()
        ]))
    );
    assert!(matches!(
        c.cost.left,
        Some(junction_config::CostField::Header(_))
    ));
    let errors = c.errors_in_answer.as_ref().unwrap();
    assert_eq!(errors.field, vec!["errors".to_owned()]);
    assert_eq!(
        errors.code,
        vec!["extensions".to_owned(), "code".to_owned()]
    );
    let op = &c.operations["customers"];
    assert!(op.reads() && op.repeatable());
    assert_eq!(op.cost, Some(252));
    let body = op.paginate.as_ref().unwrap().body.as_ref().unwrap();
    assert_eq!(body.param, vec!["variables".to_owned(), "after".to_owned()]);
    assert_eq!(body.size, vec!["variables".to_owned(), "first".to_owned()]);
}
