//! Sources, destinations and routes: a full valid config, and the located errors of broken ones.

use junction_config::{load_str, ConfigError, OrderingMode, Overrides, Pick, VerifyPreset};

fn env(name: &str) -> Option<String> {
    match name {
        "CRM_WHSEC" => Some("whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw".into()),
        "HOOK_KEY" => Some("whsec_c2lnbmluZy1rZXktZm9yLWJpbGxpbmc=".into()),
        "SHOP_SECRET" => Some("canary-shop-s3cret".into()),
        _ => None,
    }
}

const VALID: &str = r#"
sources:
  crm:
    kind: webhook
    verify: { preset: standard_webhooks, secrets: [ env:CRM_WHSEC ], tolerance: 5m }
    event:
      key: .data.customer_id
      sequence: .data.version
  shop:
    kind: webhook
    verify: { preset: hmac, secrets: [ env:SHOP_SECRET ], header: X-Signature, prefix: "sha256=", encoding: base64 }
destinations:
  billing:
    url: http://127.0.0.1:9000/hooks
    signing: { secrets: [ env:HOOK_KEY ] }
    retry: { attempts: 8, base: 1s, max: 1m }
routes:
  customers:
    from: crm
    types: [ "customer.*" ]
    where: .data.livemode != false
    ordering: latest
    reorder_window: 1s
    to: [ billing ]
"#;

fn errors(text: &str) -> Vec<ConfigError> {
    load_str(text, "junction.yaml", &Overrides::default(), &env)
        .err()
        .unwrap_or_else(|| panic!("config should fail:\n{text}"))
        .0
}

#[test]
fn a_full_flow_config_resolves_with_preset_defaults() {
    let c = load_str(VALID, "junction.yaml", &Overrides::default(), &env).unwrap();
    let crm = &c.flows.sources["crm"];
    assert_eq!(crm.verify.preset, VerifyPreset::StandardWebhooks);
    assert_eq!(crm.event.id, Some(Pick::Header("webhook-id".into())));
    assert!(matches!(crm.event.key, Some(Pick::Jq(_))));
    let shop = &c.flows.sources["shop"];
    assert_eq!(shop.verify.header.as_deref(), Some("x-signature"));
    assert!(shop.event.id.is_none(), "no id: the body hash is used");
    let billing = &c.flows.destinations["billing"];
    assert_eq!(billing.signing.len(), 1);
    assert_eq!(billing.retry.attempts, 8);
    assert_eq!(billing.concurrency, 32);
    let r = &c.flows.routes["customers"];
    assert_eq!(r.ordering, OrderingMode::Latest);
    assert!(r.matches_type("customer.updated") && !r.matches_type("order.created"));
    assert!(
        !format!("{c:?}").contains("canary-shop-s3cret"),
        "secrets never show in Debug"
    );
}

#[test]
fn a_missing_environment_secret_is_located() {
    let text = VALID.replace("env:CRM_WHSEC", "env:NOT_SET");
    let e = &errors(&text)[0];
    assert_eq!(
        (e.line, e.field.as_str()),
        (Some(5), "sources.crm.verify.secrets[0]")
    );
    assert!(e.message.contains("`NOT_SET` is not set"), "{e}");
}

#[test]
fn vault_secrets_are_bound_at_start_up_and_a_missing_one_is_located() {
    let text = VALID.replace("env:CRM_WHSEC", "secret:crm.whsec");
    let c = load_str(&text, "junction.yaml", &Overrides::default(), &env).unwrap();
    assert_eq!(c.vault_names(), ["crm.whsec"]);
    let errs = c.bind_vault(&|_| None).unwrap_err();
    let e = errs.iter().next().unwrap();
    assert_eq!(
        (e.line, e.field.as_str()),
        (Some(5), "sources.crm.verify.secrets[0]")
    );
    assert!(
        e.message.contains("secret `crm.whsec` is not in the vault"),
        "{e}"
    );
    assert!(e
        .hint
        .as_deref()
        .unwrap()
        .contains("junction secrets set crm.whsec"));
    c.bind_vault(&|n| (n == "crm.whsec").then(|| "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw".into()))
        .unwrap();
    assert_eq!(
        c.flows.sources["crm"].verify.secrets[0].expose(),
        "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw"
    );
    let bad = errors(&VALID.replace("env:CRM_WHSEC", "secret:../x"));
    assert!(
        bad[0].message.contains("not a valid secret name"),
        "{}",
        bad[0]
    );
}

#[test]
fn an_inline_secret_is_refused_without_being_echoed() {
    let text = VALID.replace("env:SHOP_SECRET", "hunter2-inline");
    let e = &errors(&text)[0];
    assert!(e.message.contains("must be a reference"), "{e}");
    assert!(!e.to_string().contains("hunter2-inline"), "{e}");
}

#[test]
fn a_route_to_an_unknown_destination_suggests_the_nearest() {
    let text = VALID.replace("to: [ billing ]", "to: [ biling ]");
    let e = &errors(&text)[0];
    assert_eq!(e.field, "routes.customers.to[0]");
    assert!(e.message.contains("no destination named `biling`"), "{e}");
    assert!(
        e.hint
            .as_deref()
            .unwrap()
            .contains("did you mean `billing`"),
        "{e}"
    );
}

#[test]
fn a_jq_syntax_error_names_the_field_and_the_place_in_the_program() {
    let text = VALID.replace(".data.livemode != false", "(.data.livemode");
    let e = &errors(&text)[0];
    assert_eq!(e.field, "routes.customers.where");
    assert_eq!(e.line, Some(21));
    assert!(
        e.message.contains("jq:") && e.message.contains("column"),
        "{e}"
    );
}

#[test]
fn presets_without_secrets_and_bad_keys_are_refused() {
    let text = VALID.replace("secrets: [ env:CRM_WHSEC ], ", "");
    assert!(errors(&text)[0]
        .message
        .contains("needs at least one secret"));
    let bad = |name: &str| (name == "CRM_WHSEC").then(|| "whsec_###".to_string());
    let e = load_str(VALID, "j.yaml", &Overrides::default(), &|n| {
        bad(n).or_else(|| env(n))
    })
    .unwrap_err()
    .0;
    assert!(e[0].message.contains("not base64"), "{}", e[0]);
}

#[test]
fn forwarded_headers_are_kept_lower_case_and_reserved_or_repeated_ones_are_located() {
    let text = VALID.replace(
        "      sequence: .data.version\n",
        "      sequence: .data.version\n    forward_headers: [ X-CRM-Event, X-CRM-Account ]\n",
    );
    let c = load_str(&text, "junction.yaml", &Overrides::default(), &env).unwrap();
    assert_eq!(
        c.flows.sources["crm"].forward_headers,
        ["x-crm-event", "x-crm-account"]
    );
    let text = VALID.replace(
        "      sequence: .data.version\n",
        "      sequence: .data.version\n    forward_headers: [ X-CRM-Event, Authorization, Webhook-Signature, x-crm-event, \"bad name\" ]\n",
    );
    let errs = errors(&text);
    let got: Vec<_> = errs
        .iter()
        .map(|e| (e.line, e.field.as_str(), e.message.as_str()))
        .collect();
    assert_eq!(
        got,
        [
            (
                Some(9),
                "sources.crm.forward_headers[1]",
                "`Authorization` cannot be forwarded"
            ),
            (
                Some(9),
                "sources.crm.forward_headers[2]",
                "`Webhook-Signature` cannot be forwarded"
            ),
            (
                Some(9),
                "sources.crm.forward_headers[3]",
                "`x-crm-event` is listed twice"
            ),
            (
                Some(9),
                "sources.crm.forward_headers[4]",
                "invalid header name `bad name`"
            ),
        ]
    );
    let many: Vec<String> = (0..17).map(|i| format!("x-h{i}")).collect();
    let text = VALID.replace(
        "      sequence: .data.version\n",
        &format!(
            "      sequence: .data.version\n    forward_headers: [ {} ]\n",
            many.join(", ")
        ),
    );
    let e = &errors(&text)[0];
    assert!(e.message.contains("at most 16"), "{e}");
}

/// A destination header that HTTP cannot carry is refused at load, located, instead of being
/// dropped silently at send time.
#[test]
fn a_destination_header_http_cannot_carry_is_located_at_load() {
    let text = "destinations:\n  d:\n    url: http://127.0.0.1:9/x\n    headers: { \"X(Bad)\": a, X-Ok: \"line\\nbreak\" }\n";
    let errs = load_str(text, "junction.yaml", &Overrides::default(), &|_| None)
        .expect_err("refused")
        .0;
    assert!(
        errs.iter()
            .any(|e| e.field == "destinations.d.headers.X(Bad)"
                && e.message.contains("invalid header name")
                && e.line == Some(4)),
        "{errs:#?}"
    );
    assert!(
        errs.iter().any(|e| e.field == "destinations.d.headers.X-Ok"
            && e.message.contains("invalid header value")),
        "{errs:#?}"
    );
}

#[test]
fn a_destination_into_a_connectors_operation_is_checked_at_load() {
    let connectors = "connectors:\n  crm:\n    base_url: https://crm.example\n    operations:\n      update: { method: PATCH, path: \"/customers/{id}\" }\n      list: { path: /customers, paginate: { style: cursor } }\n";
    let ok = format!("{connectors}destinations:\n  d: {{ connector: crm, operation: update }}\n");
    let c = load_str(&ok, "junction.yaml", &Overrides::default(), &env).unwrap();
    assert_eq!(
        c.flows.destinations["d"].target.describe(),
        "connector crm, operation update"
    );
    let cases = [
        (
            "d: { connector: erp, operation: update }",
            "destinations.d.connector",
            "no connector `erp`",
        ),
        (
            "d: { connector: crm, operation: upsert }",
            "destinations.d.operation",
            "has no operation `upsert`",
        ),
        (
            "d: { connector: crm, operation: list }",
            "destinations.d.operation",
            "paginated",
        ),
        (
            "d: { connector: crm }",
            "destinations.d",
            "needs an `operation`",
        ),
        (
            "d: { url: \"http://x\", connector: crm, operation: update }",
            "destinations.d.url",
            "not both",
        ),
        ("d: { method: PUT }", "destinations.d", "needs a `url`"),
        (
            "d: { connector: crm, operation: update, method: PUT }",
            "destinations.d.method",
            "for URL destinations",
        ),
    ];
    for (dest, field, message) in cases {
        let text = format!("{connectors}destinations:\n  {dest}\n");
        let errs = errors(&text);
        assert!(
            errs.iter()
                .any(|e| e.field == field && e.message.contains(message) && e.line.is_some()),
            "{dest}\nexpected `{field}`: {message}\ngot: {errs:#?}"
        );
    }
}
