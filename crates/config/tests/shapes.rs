//! `models:` and `mappings:`: a valid config, and the located errors of broken ones.

use junction_config::{load_str, ConfigError, Expect, Overrides};

const VALID: &str = r#"
models:
  customer@1:
    schema: { type: object, required: [id], properties: { id: { type: string } } }
  customer@2:
    schema:
      type: object
      required: [id, email]
      properties:
        id: { type: string }
        email: { type: string, format: email }
mappings:
  crm_to_customer:
    to: customer@2
    limits: { time: 100ms, depth: 16 }
    jq: |
      .data | {id, email: (.email | ascii_downcase)}
    tests:
      - input: { data: { id: c1, email: A@B.COM } }
        output: { id: c1, email: a@b.com }
      - name: no data
        input: {}
        error: cannot
sources:
  crm:
    kind: webhook
    verify: { preset: none }
destinations:
  billing:
    url: http://127.0.0.1:9000/hooks
    model: customer@2
routes:
  customers:
    from: crm
    map: crm_to_customer
    to: [ billing ]
"#;

fn errors(text: &str) -> Vec<ConfigError> {
    load_str(text, "junction.yaml", &Overrides::default(), &|_| None)
        .err()
        .unwrap_or_else(|| panic!("config should fail:\n{text}"))
        .0
}

fn one(text: &str) -> ConfigError {
    let errs = errors(text);
    assert_eq!(errs.len(), 1, "{errs:#?}");
    errs.into_iter().next().unwrap()
}

#[test]
fn models_and_mappings_resolve_with_their_tests() {
    let c = load_str(VALID, "junction.yaml", &Overrides::default(), &|_| None).unwrap();
    assert_eq!(c.shapes.models.len(), 2);
    let m = &c.shapes.mappings["crm_to_customer"];
    assert_eq!(m.to.as_ref().unwrap().id.to_string(), "customer@2");
    assert_eq!(m.mapping.limits.depth, 16);
    assert_eq!(m.mapping.limits.time, std::time::Duration::from_millis(100));
    assert_eq!(m.tests.len(), 2);
    assert_eq!(m.tests[1].name, "no data");
    assert_eq!(m.tests[1].expect, Expect::Error("cannot".into()));
    assert!(
        m.tests[0].at.starts_with("junction.yaml:19:"),
        "{}",
        m.tests[0].at
    );
    assert_eq!(
        c.flows.routes["customers"].map.as_deref(),
        Some("crm_to_customer")
    );
    assert_eq!(
        c.flows.destinations["billing"]
            .model
            .as_ref()
            .unwrap()
            .to_string(),
        "customer@2"
    );
}

#[test]
fn a_syntax_error_in_a_mapping_names_its_line_in_the_file() {
    let e = one("mappings:\n  m:\n    jq: |\n      .a |\n        (.b\n");
    assert_eq!(e.field, "mappings.m.jq");
    assert_eq!(e.line, Some(5), "{e}");
    assert!(e.message.contains("line 2"), "{e}");
    let e = one("mappings:\n  m:\n    jq: .a | nosuch\n");
    assert_eq!((e.line, e.col), (Some(3), Some(14)), "{e}");
    assert!(e.message.contains("nosuch"), "{e}");
    let e = one("mappings:\n  m:\n    jq: \"def f: f; f\"\n");
    assert!(e.message.contains("calls itself"), "{e}");
}

#[test]
fn broken_models_and_links_are_located() {
    let e = one("models:\n  customer: { schema: {} }\n");
    assert_eq!(e.line, Some(2));
    assert!(e.message.contains("no version"), "{e}");
    let e = one("models:\n  c@1: { schema: { type: 5 } }\n");
    assert!(e.message.contains("not valid JSON Schema"), "{e}");
    let e = one("models:\n  c@1: no/such/file.json\n");
    assert!(e.message.contains("cannot read the schema file"), "{e}");
    let e = one("models:\n  c@1: { schema: {} }\nmappings:\n  m: { jq: ., to: c@2 }\n");
    assert_eq!(e.field, "mappings.m.to");
    assert!(e.message.contains("no model `c@2`"), "{e}");
    assert!(e.hint.unwrap().contains("c@1"));
    let e = one("mappings:\n  m: { jq: ., tests: [ { input: 1 } ] }\n");
    assert_eq!(e.field, "mappings.m.tests[0]");
    let e = one("mappings:\n  m: { jq: ., limits: { time: 1h } }\n");
    assert_eq!(e.field, "mappings.m.limits.time");

    let broken_route = VALID.replace("map: crm_to_customer", "map: crm_to_custmer");
    let e = one(&broken_route);
    assert_eq!(e.field, "routes.customers.map");
    assert!(e.hint.unwrap().contains("did you mean `crm_to_customer`"));
    let wrong_model = VALID.replace("model: customer@2", "model: customer@1");
    let e = one(&wrong_model);
    assert!(
        e.message
            .contains("requires customer@1, but mapping `crm_to_customer` produces customer@2"),
        "{e}"
    );
    let e = one(&VALID.replace("model: customer@2", "model: customer@3"));
    assert_eq!(e.field, "destinations.billing.model");
}

#[test]
fn model_files_are_read_beside_the_config() {
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(
        dir.path().join("order.json"),
        r#"{"type": "object", "required": ["id"]}"#,
    )
    .unwrap();
    let path = dir.path().join("junction.yaml");
    std::fs::write(&path, "models:\n  order@1: order.json\n").unwrap();
    let c = junction_config::load(&path, &Overrides::default()).unwrap();
    let m = &c.shapes.models.values().next().unwrap();
    assert!(m.validate(&serde_json::json!({"id": 1})).is_ok());
    assert!(m.validate(&serde_json::json!({})).is_err());
}

#[test]
fn soap_connectors_and_operation_messages_are_checked() {
    let ok = "connectors:\n  erp:\n    kind: soap\n    base_url: http://127.0.0.1:9/ws\n    soap: { version: \"1.2\", namespace: \"urn:x\" }\n    operations:\n      GetCustomer: { action: urn:GetCustomer }\n";
    let c = load_str(ok, "junction.yaml", &Overrides::default(), &|_| None).unwrap();
    let erp = &c.connectors["erp"];
    assert_eq!(
        erp.soap.as_ref().unwrap().namespace.as_deref(),
        Some("urn:x")
    );
    assert_eq!(erp.operations["GetCustomer"].action, "urn:GetCustomer");

    let e = one("connectors:\n  crm:\n    base_url: http://127.0.0.1:9\n    soap: {}\n");
    assert_eq!(e.field, "connectors.crm.soap");
    let e = one("connectors:\n  crm:\n    base_url: http://127.0.0.1:9\n    operations:\n      get: { method: GET }\n");
    assert!(e.message.contains("needs a `path`"), "{e}");
    let e = one(&ok.replace(
        "{ action: urn:GetCustomer }",
        "{ action: a, request: { map: nope } }",
    ));
    assert_eq!(e.field, "connectors.erp.operations.GetCustomer.request.map");
    let e = one(&ok.replace("\"1.2\"", "\"2.0\""));
    assert!(e.message.contains("unknown SOAP version"), "{e}");
}
