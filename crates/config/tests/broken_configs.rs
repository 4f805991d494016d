//! A table of broken configs and the exact error each must produce: file:line:col, field, message, hint.

use junction_config::{load_str, ConfigError, Overrides};

fn env(name: &str) -> Option<String> {
    match name {
        "PORT" => Some("9090".into()),
        "DB_PASSWORD" => Some("canary-db-pa55".into()),
        _ => None,
    }
}

fn errors(text: &str) -> Vec<ConfigError> {
    load_str(text, "junction.yaml", &Overrides::default(), &env)
        .err()
        .unwrap_or_else(|| panic!("config should fail:\n{text}"))
        .0
}

struct Case {
    name: &'static str,
    yaml: &'static str,
    line: usize,
    col: usize,
    field: &'static str,
    message: &'static str,
    hint: Option<&'static str>,
}

const CASES: &[Case] = &[
    Case {
        name: "unknown field with a suggestion",
        yaml: "server:\n  lisen: 127.0.0.1:8080\n",
        line: 2,
        col: 3,
        field: "server.lisen",
        message: "unknown field `lisen`",
        hint: Some("did you mean `listen`?"),
    },
    Case {
        name: "unknown section with a suggestion",
        yaml: "servr:\n  listen: 127.0.0.1:8080\n",
        line: 1,
        col: 1,
        field: "servr",
        message: "unknown section `servr`",
        hint: Some("did you mean `server`?"),
    },
    Case {
        name: "wrong type",
        yaml: "store:\n  max_connections: lots\n",
        line: 2,
        col: 20,
        field: "store.max_connections",
        message: "invalid type: string \"lots\", expected u32",
        hint: None,
    },
    Case {
        name: "bad duration",
        yaml: "server:\n  request_timeout: 30 parsecs\n",
        line: 2,
        col: 20,
        field: "server.request_timeout",
        message: "invalid duration `30 parsecs`",
        hint: Some("write a number with a unit"),
    },
    Case {
        name: "duration without a unit",
        yaml: "server:\n  shutdown_grace: 30\n",
        line: 2,
        col: 19,
        field: "server.shutdown_grace",
        message: "`30` has no unit",
        hint: Some("write 30s or 30ms"),
    },
    Case {
        name: "bad size",
        yaml: "server:\n  body_limit: 1 parsec\n",
        line: 2,
        col: 15,
        field: "server.body_limit",
        message: "invalid size unit `parsec` in `1 parsec`",
        hint: None,
    },
    Case {
        name: "bad URL",
        yaml: "telemetry:\n  otlp:\n    endpoint: \"http://[::1\"\n",
        line: 3,
        col: 15,
        field: "telemetry.otlp.endpoint",
        message: "invalid URL `http://[::1`",
        hint: Some("e.g. http://127.0.0.1:4318"),
    },
    Case {
        name: "unsupported database",
        yaml: "store:\n  url: mysql://root@localhost/x\n",
        line: 2,
        col: 8,
        field: "store.url",
        message: "unsupported database `mysql`",
        hint: Some("use sqlite://PATH"),
    },
    Case {
        name: "bad listen address",
        yaml: "server:\n  listen: localhost:80:80\n",
        line: 2,
        col: 11,
        field: "server.listen",
        message: "invalid address `localhost:80:80`",
        hint: Some("write IP:PORT"),
    },
    Case {
        name: "missing environment variable",
        yaml: "store:\n  url: ${JUNCTION_TEST_UNSET_DB}\n",
        line: 2,
        col: 8,
        field: "store.url",
        message: "environment variable `JUNCTION_TEST_UNSET_DB` is not set",
        hint: Some("${JUNCTION_TEST_UNSET_DB:-value}"),
    },
    Case {
        name: "mapping without its program",
        yaml: "server: {}\nmappings:\n  crm:\n    to: x@1\n",
        line: 4,
        col: 5,
        field: "mappings.crm",
        message: "missing field `jq`",
        hint: Some("add `jq:`"),
    },
    Case {
        name: "unknown enum value with a suggestion",
        yaml: "telemetry:\n  log_format: jsn\n",
        line: 2,
        col: 15,
        field: "telemetry.log_format",
        message: "unknown value `jsn`",
        hint: Some("did you mean `json`?"),
    },
    Case {
        name: "missing required field",
        yaml: "telemetry:\n  otlp:\n    service_name: x\n",
        line: 3,
        col: 5,
        field: "telemetry.otlp",
        message: "missing field `endpoint`",
        hint: Some("add `endpoint:`"),
    },
    Case {
        name: "invalid YAML",
        yaml: "server:\n  listen: [1, 2\n",
        line: 3,
        col: 1,
        field: "",
        message: "invalid YAML",
        hint: Some("indentation"),
    },
    Case {
        name: "out of range",
        yaml: "telemetry:\n  otlp: { endpoint: \"http://127.0.0.1:4318\", sample_ratio: 2.5 }\n",
        line: 2,
        col: 60,
        field: "telemetry.otlp.sample_ratio",
        message: "sample_ratio must be between 0.0 and 1.0",
        hint: None,
    },
];

#[test]
fn each_broken_config_gives_its_exact_error() {
    for case in CASES {
        let errs = errors(case.yaml);
        let e = &errs[0];
        let ctx = format!("case `{}`: got {e}", case.name);
        assert_eq!(e.file, "junction.yaml", "{ctx}");
        assert_eq!((e.line, e.col), (Some(case.line), Some(case.col)), "{ctx}");
        assert_eq!(e.field, case.field, "{ctx}");
        assert!(e.message.starts_with(case.message), "{ctx}");
        if let Some(h) = case.hint {
            assert!(e.hint.as_deref().unwrap_or_default().contains(h), "{ctx}");
        }
        let rendered = e.to_string();
        assert!(
            rendered.starts_with(&format!("junction.yaml:{}:{}", case.line, case.col)),
            "{ctx}"
        );
    }
}

#[test]
fn all_errors_are_reported_at_once_in_file_order() {
    let errs = errors(
        "servr: {}\nserver:\n  lisen: x\nstore:\n  url: mysql://x\ntelemetry:\n  log_format: jsn\n",
    );
    let fields: Vec<&str> = errs.iter().map(|e| e.field.as_str()).collect();
    assert_eq!(
        fields,
        ["servr", "server.lisen", "store.url", "telemetry.log_format"]
    );
}

#[test]
fn a_valid_config_resolves_with_interpolation_and_defaults() {
    let cfg = load_str(
        "server:\n  listen: 127.0.0.1:${PORT}\n  body_limit: 2MiB\nstore:\n  url: postgres://junction:${DB_PASSWORD}@127.0.0.1/test\nconnectors: {}\n",
        "junction.yaml",
        &Overrides::default(),
        &env,
    )
    .unwrap();
    assert_eq!(cfg.server.listen.port(), 9090);
    assert_eq!(cfg.server.body_limit, 2 << 20);
    assert_eq!(
        cfg.server.shutdown_grace,
        std::time::Duration::from_secs(30)
    );
    let shown = format!("{:?}", cfg.store.url);
    assert!(!shown.contains("canary-db-pa55"), "{shown}");
    assert_eq!(junction_core::mask::mask("x canary-db-pa55 y"), "x *** y");
}

#[test]
fn overrides_win_over_the_file_and_their_errors_name_their_origin() {
    let o = Overrides {
        database_url: Some("sqlite://./elsewhere.db".into()),
        listen: Some("0.0.0.0:1234".into()),
        ..Default::default()
    };
    let cfg = load_str(
        "server:\n  listen: 127.0.0.1:1\n",
        "junction.yaml",
        &o,
        &env,
    )
    .unwrap();
    assert_eq!(cfg.server.listen.port(), 1234);
    assert_eq!(cfg.store.url.backend(), "sqlite");

    let bad = Overrides {
        database_url: Some("redis://x".into()),
        ..Default::default()
    };
    let errs = load_str("{}", "junction.yaml", &bad, &env).unwrap_err();
    assert_eq!(errs.0[0].file, "env JUNCTION_DATABASE_URL");
    assert_eq!(errs.0[0].field, "store.url");
}

#[test]
fn empty_file_means_all_defaults() {
    let cfg = load_str("", "junction.yaml", &Overrides::default(), &env).unwrap();
    assert_eq!(cfg.server.listen.to_string(), "127.0.0.1:8080");
    assert_eq!(cfg.server.body_limit, 1 << 20);
    assert_eq!(
        cfg.store.url,
        junction_config::DatabaseUrl::Sqlite("./data/junction.db".into())
    );
}

#[test]
fn the_schema_describes_every_section_and_rejects_unknown_fields() {
    let schema = junction_config::json_schema();
    for s in [
        "server",
        "store",
        "telemetry",
        "connectors",
        "sources",
        "routes",
        "destinations",
        "models",
        "mappings",
    ] {
        assert!(schema["properties"][s].is_object(), "schema lacks {s}");
    }
    assert_eq!(schema["additionalProperties"], false);
    let text = schema.to_string();
    assert!(
        text.contains("Address and port to listen on"),
        "field docs become descriptions"
    );
}

#[test]
fn a_reference_is_resolved_or_refused_never_kept_as_text_to_send() {
    // Destination headers resolve references: from the vault at start-up, or the environment.
    let ok = "destinations:\n  d:\n    url: http://127.0.0.1:9/x\n    headers: { Authorization: \"secret:dest_key\", X-Db: \"env:DB_PASSWORD\" }\n";
    let cfg = load_str(ok, "junction.yaml", &Overrides::default(), &env).unwrap();
    assert_eq!(cfg.vault_names(), vec!["dest_key"]);
    cfg.bind_vault(&|n| (n == "dest_key").then(|| "Bearer from-the-vault".to_owned()))
        .unwrap();
    let d = &cfg.flows.destinations["d"];
    let value = |name: &str| {
        d.headers
            .iter()
            .find(|(k, _)| k == name)
            .map(|(_, v)| v.expose().to_owned())
    };
    assert_eq!(
        value("Authorization").as_deref(),
        Some("Bearer from-the-vault")
    );
    assert_eq!(value("X-Db").as_deref(), Some("canary-db-pa55"));
    // Where references are not resolved, they are refused, with the way that works.
    for yaml in [
        "telemetry:\n  otlp:\n    endpoint: http://127.0.0.1:4318\n    headers: { api-key: \"secret:otlp\" }\n",
        "alerts:\n  sinks:\n    pager:\n      kind: webhook\n      url: http://127.0.0.1:9/hook\n      headers: { Authorization: \"env:PAGER_TOKEN\" }\n",
    ] {
        let e = errors(yaml);
        assert_eq!(e.len(), 1, "{yaml}: {e:?}");
        assert!(e[0].message.contains("not resolved here"), "{e:?}");
        assert!(e[0].hint.as_deref().unwrap().contains("${VAR}"), "{e:?}");
    }
}
