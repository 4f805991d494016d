//! Provider templates: a connector written as `template: NAME` with overrides resolves to the
//! template's fields with the user's over them; every problem names where it was written — the
//! config for what the user wrote, the template's file and line for what the template supplied.

use junction_config::{load_str, template, ConfigError, Overrides};

fn load(text: &str, file: &str) -> Result<junction_config::Config, Vec<ConfigError>> {
    load_str(text, file, &Overrides::default(), &|_| None).map_err(|e| e.0)
}

#[test]
fn every_built_in_template_resolves_with_its_examples() {
    for name in template::builtin_names() {
        let info = template::describe(name, std::path::Path::new("")).unwrap();
        assert_eq!(
            info.name, name,
            "a template's `template:` is its file's name"
        );
        let (_, config) = template::lint(std::path::Path::new(&format!(
            "{}/templates/{name}.yaml",
            env!("CARGO_MANIFEST_DIR")
        )))
        .unwrap_or_else(|e| panic!("{name}: {e}"));
        assert!(!config.connectors.is_empty() || !config.flows.sources.is_empty());
        assert!(!info.operations.is_empty() || !info.has_connector, "{name}");
    }
}

#[test]
fn a_template_connector_takes_the_users_overrides_and_variables() {
    let c = load(
        r#"
connectors:
  shop:
    template: shopify
    vars: { shop: acme }
    quotas: [ 2/s ]
    operations:
      create_customer: null
"#,
        "junction.yaml",
    )
    .unwrap();
    let shop = &c.connectors["shop"];
    assert_eq!(shop.base_url.host_str(), Some("acme.myshopify.com"));
    assert_eq!(shop.base_path, "/admin/api/2024-07");
    assert_eq!(shop.quotas.len(), 1);
    assert_eq!(
        shop.quotas[0].limit, 2,
        "the user's quotas replace the template's"
    );
    assert!(shop.operations.contains_key("list_customers"));
    assert!(
        !shop.operations.contains_key("create_customer"),
        "null removes"
    );
    let headers = shop.rate_limit_headers.as_ref().unwrap();
    assert_eq!(
        headers.used_of_limit.as_deref(),
        Some("x-shopify-shop-api-call-limit")
    );
    assert!(c
        .shapes
        .mappings
        .contains_key("shopify_customer_to_contact"));
    assert_eq!(c.vault_names(), vec!["shopify-access-token"]);
}

#[test]
fn a_missing_or_unknown_variable_is_named_at_the_users_entry() {
    let errs = load(
        "connectors:\n  shop:\n    template: shopify\n    vars: { shopp: acme }\n",
        "junction.yaml",
    )
    .unwrap_err();
    let unknown = errs
        .iter()
        .find(|e| e.field == "connectors.shop.vars.shopp")
        .unwrap();
    assert_eq!(
        (unknown.file.as_str(), unknown.line),
        ("junction.yaml", Some(4))
    );
    assert!(
        unknown
            .hint
            .as_deref()
            .unwrap()
            .contains("did you mean `shop`"),
        "{unknown}"
    );
    let missing = errs
        .iter()
        .find(|e| e.message.contains("needs `vars.shop`"))
        .unwrap();
    assert_eq!(missing.line, Some(3), "{missing}");
    assert!(
        !errs.iter().any(|e| e.message.contains("base_url")),
        "a template that did not expand is not checked further: {errs:?}"
    );
}

#[test]
fn an_unknown_template_suggests_the_nearest() {
    let errs = load(
        "connectors:\n  crm:\n    template: hubspt\n",
        "junction.yaml",
    )
    .unwrap_err();
    assert_eq!(errs.len(), 1, "{errs:?}");
    assert_eq!(errs[0].field, "connectors.crm.template");
    assert!(
        errs[0].hint.as_deref().unwrap().contains("`hubspot`"),
        "{}",
        errs[0]
    );
}

#[test]
fn an_error_in_a_part_the_template_supplied_names_the_templates_file_and_line() {
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(
        dir.path().join("acme.yaml"),
        "template: acme\ntitle: Acme\nvars:\n  region: { description: the region, example: eu }\nconnector:\n  base_url: https://${region}.acme.test\n  quotas: [ 10/fortnight ]\n",
    )
    .unwrap();
    let config = dir.path().join("junction.yaml");
    let text = "connectors:\n  acme:\n    template: ./acme.yaml\n    vars: { region: eu }\n    concurrency: 0\n";
    let errs = load(text, &config.display().to_string()).unwrap_err();
    let quota = errs
        .iter()
        .find(|e| e.field.starts_with("connectors.acme.quotas"))
        .unwrap();
    assert!(quota.file.ends_with("acme.yaml"), "{quota}");
    assert_eq!(quota.line, Some(7), "{quota}");
    let concurrency = errs
        .iter()
        .find(|e| e.field == "connectors.acme.concurrency")
        .unwrap();
    assert!(concurrency.file.ends_with("junction.yaml"), "{concurrency}");
    assert_eq!(concurrency.line, Some(5));
    // Overridden, the template's broken field is gone.
    let fixed = "connectors:\n  acme:\n    template: ./acme.yaml\n    vars: { region: eu }\n    quotas: [ 10/s ]\n";
    let c = load(fixed, &config.display().to_string()).unwrap();
    assert_eq!(
        c.connectors["acme"].base_url.host_str(),
        Some("eu.acme.test")
    );
    assert!(
        c.files.iter().any(|f| f.ends_with("acme.yaml")),
        "a reload watches the template file"
    );
}

#[test]
fn a_template_variable_the_template_does_not_declare_is_its_error() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("bad.yaml");
    std::fs::write(
        &path,
        "template: bad\ntitle: Bad\nconnector:\n  base_url: https://${host}\n",
    )
    .unwrap();
    let errs = template::lint(&path).unwrap_err().0;
    assert!(
        errs.iter().any(|e| e
            .message
            .contains("`${host}` is not one of the template's `vars:`")
            && e.file.ends_with("bad.yaml")
            && e.line == Some(4)),
        "{errs:?}"
    );
}

#[test]
fn another_auth_kind_replaces_the_templates_auth() {
    let c = load(
        "connectors:\n  crm:\n    template: hubspot\n    vars: { client_id: app }\n    auth: { kind: bearer, token: secret:hubspot-private-app }\n",
        "junction.yaml",
    )
    .unwrap();
    assert_eq!(c.connectors["crm"].auth.as_ref().unwrap().kind(), "bearer");
}

#[test]
fn a_source_takes_the_templates_webhook_part() {
    let c = load(
        "sources:\n  payments:\n    template: stripe\n",
        "junction.yaml",
    )
    .unwrap();
    let s = &c.flows.sources["payments"];
    assert_eq!(c.vault_names(), vec!["stripe-webhook-secret"]);
    assert!(
        format!("{:?}", s.verify).contains("Stripe"),
        "{:?}",
        s.verify
    );
    let errs = load("sources:\n  crm:\n    template: hubspot\n", "junction.yaml").unwrap_err();
    assert!(
        errs[0].message.contains("has no `source:` part"),
        "{}",
        errs[0]
    );
}

#[test]
fn an_operation_parameter_cannot_take_the_name_of_a_call_option() {
    let errs = load(
        "connectors:\n  crm:\n    base_url: https://api.example.com\n    operations:\n      list: { path: /people, query: [ passthrough ] }\n",
        "junction.yaml",
    )
    .unwrap_err();
    assert!(
        errs[0]
            .message
            .contains("`passthrough` is one of Junction's own options"),
        "{}",
        errs[0]
    );
}
