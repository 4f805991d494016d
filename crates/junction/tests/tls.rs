//! HTTPS on the listener (`server.tls`) as a user runs it, with certificates made in the test:
//! served with TLS and nothing else, a renewed certificate taken without a restart, and with
//! `client_ca` a client certificate required, checked, and an expired one refused.

mod support;

use std::path::Path;
use std::time::{Duration, Instant};

use support::certs::*;
use support::*;

/// Runs `junction ARGS --config CONFIG`; (exit code, stdout and stderr).
fn run_cli(config: &Path, args: &[&str]) -> (Option<i32>, String) {
    let out = std::process::Command::new(env!("CARGO_BIN_EXE_junction"))
        .args(args)
        .arg("--config")
        .arg(config)
        .output()
        .unwrap();
    (
        out.status.code(),
        String::from_utf8_lossy(&out.stdout).to_string() + &String::from_utf8_lossy(&out.stderr),
    )
}

fn write(dir: &Path, name: &str, text: &str) {
    std::fs::write(dir.join(name), text).unwrap();
}

fn config(dir: &Path, client_ca: bool) -> std::path::PathBuf {
    let extra = if client_ca {
        "\n    client_ca: clients-ca.pem"
    } else {
        ""
    };
    write_config(
        dir,
        &format!(
            "store: {{ url: \"sqlite://{}/j.db\" }}\nserver:\n  tls:\n    cert: cert.pem\n    key: key.pem{extra}\n",
            dir.display()
        ),
    )
}

fn client(ca: &Ca) -> reqwest::ClientBuilder {
    reqwest::Client::builder()
        .tls_certs_only([reqwest::Certificate::from_pem(ca.pem.as_bytes()).unwrap()])
        .timeout(Duration::from_secs(5))
}

/// Whether the certificate the server presents now names `cn` (the DER holds the name's bytes;
/// the test's names are unique); the request over it must be answered.
async fn presents(port: u16, ca: &Ca, cn: &str) -> bool {
    let res = client(ca)
        .tls_info(true)
        .build()
        .unwrap()
        .get(format!("https://localhost:{port}/healthz"))
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 200);
    let info = res.extensions().get::<reqwest::tls::TlsInfo>().unwrap();
    let der = info.peer_certificate().unwrap();
    der.windows(cn.len()).any(|w| w == cn.as_bytes())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_hub_serves_https_only_and_takes_a_renewed_certificate_without_a_restart() {
    let dir = tempfile::tempdir().unwrap();
    let ca = make_ca("Junction test CA");
    let (cert, key) = leaf(&ca, &["localhost", "127.0.0.1"], "hub-first", 2099);
    write(dir.path(), "cert.pem", &cert);
    write(dir.path(), "key.pem", &key);
    let port = free_port();
    let hub = Served::start_on(&config(dir.path(), false), &[], port);

    assert!(presents(port, &ca, "hub-first").await);
    // When the certificate in use expires is exported (2099-01-01T00:00:00Z).
    let metrics = client(&ca)
        .build()
        .unwrap()
        .get(format!("https://localhost:{port}/metrics"))
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    assert!(
        metrics.contains(
            r#"junction_tls_certificate_expiry_timestamp_seconds{certificate="server"} 4070908800"#
        ),
        "{metrics}"
    );
    // Plain HTTP on the TLS port gets no HTTP answer.
    let plain = reqwest::Client::new()
        .get(format!("http://127.0.0.1:{port}/healthz"))
        .timeout(Duration::from_secs(5))
        .send()
        .await;
    assert!(
        plain.map(|r| r.status() != 200).unwrap_or(true),
        "plain HTTP must not be served"
    );
    // A client that does not trust the hub's CA refuses it.
    let untrusted = reqwest::Client::builder()
        .tls_certs_only([])
        .build()
        .unwrap()
        .get(format!("https://localhost:{port}/healthz"))
        .send()
        .await;
    assert!(untrusted.is_err());
    // The dashboard's session cookie is never to be sent over plain HTTP.
    let cfg = config(dir.path(), false);
    let (code, out) = run_cli(&cfg, &["tokens", "create", "ops", "--role", "admin"]);
    assert_eq!(code, Some(0), "{out}");
    let token = out.lines().find(|l| l.starts_with("jct_")).unwrap().trim();
    let signed_in = client(&ca)
        .redirect(reqwest::redirect::Policy::none())
        .build()
        .unwrap()
        .post(format!("https://localhost:{port}/ui/login"))
        .form(&[("token", token)])
        .send()
        .await
        .unwrap();
    let cookie = signed_in.headers()["set-cookie"].to_str().unwrap();
    assert!(cookie.contains("; Secure"), "{cookie}");

    // Renewal: the key first, then the certificate, as a renewal tool writes them.
    let (cert, key) = leaf(&ca, &["localhost", "127.0.0.1"], "hub-renewed", 2099);
    write(dir.path(), "key.pem", &key);
    write(dir.path(), "cert.pem", &cert);
    let deadline = Instant::now() + Duration::from_secs(15);
    while !presents(port, &ca, "hub-renewed").await {
        assert!(
            Instant::now() < deadline,
            "the renewed certificate was not taken"
        );
        tokio::time::sleep(Duration::from_millis(250)).await;
    }
    // A broken renewal leaves the working certificate in place.
    write(
        dir.path(),
        "cert.pem",
        "-----BEGIN CERTIFICATE-----\nbroken\n",
    );
    tokio::time::sleep(Duration::from_secs(3)).await;
    assert!(presents(port, &ca, "hub-renewed").await);
    let (_, out) = hub.terminate();
    assert!(out.contains("cannot be used"), "{out}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn with_a_client_ca_only_clients_with_a_valid_certificate_are_served() {
    let dir = tempfile::tempdir().unwrap();
    let ca = make_ca("Junction test CA");
    let clients = make_ca("Internal services CA");
    let (cert, key) = leaf(&ca, &["localhost"], "hub-mtls", 2099);
    write(dir.path(), "cert.pem", &cert);
    write(dir.path(), "key.pem", &key);
    write(dir.path(), "clients-ca.pem", &clients.pem);
    let port = free_port();
    let hub = Served::start_on(&config(dir.path(), true), &[], port);
    let url = format!("https://localhost:{port}/healthz");

    let with = |(cert, key): (String, String)| {
        client(&ca)
            .identity(reqwest::Identity::from_pem(format!("{cert}{key}").as_bytes()).unwrap())
            .build()
            .unwrap()
    };
    let valid = with(leaf(&clients, &["billing"], "billing", 2099));
    assert_eq!(valid.get(&url).send().await.unwrap().status(), 200);

    let none = client(&ca).build().unwrap().get(&url).send().await;
    assert!(none.is_err(), "no client certificate: refused");

    let expired = with(leaf(&clients, &["billing"], "billing", 2021));
    let err = expired.get(&url).send().await.unwrap_err();
    let chain = format!("{err:?}");
    assert!(chain.contains("Expired"), "a clear reason: {chain}");

    let stranger = make_ca("Somebody else's CA");
    let foreign = with(leaf(&stranger, &["billing"], "billing", 2099));
    assert!(
        foreign.get(&url).send().await.is_err(),
        "unknown issuer: refused"
    );
    drop(hub);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_client_certificates_name_is_given_the_scopes_server_tls_clients_lists() {
    let dir = tempfile::tempdir().unwrap();
    let ca = make_ca("Junction test CA");
    let clients = make_ca("Internal services CA");
    let (cert, key) = leaf(&ca, &["localhost"], "hub-ids", 2099);
    write(dir.path(), "cert.pem", &cert);
    write(dir.path(), "key.pem", &key);
    write(dir.path(), "ca.pem", &ca.pem);
    write(dir.path(), "clients-ca.pem", &clients.pem);
    let port = free_port();
    // The connector calls the hub's own /healthz, presenting a certificate of its own.
    let (own_cert, own_key) = leaf(&clients, &["hub-itself"], "hub-itself", 2099);
    let config = write_config(
        dir.path(),
        &format!(
            r#"
store: {{ url: "sqlite://{d}/j.db" }}
server:
  tls:
    cert: cert.pem
    key: key.pem
    client_ca: clients-ca.pem
    clients:
      billing: {{ scopes: [ "proxy:crm:GET" ] }}
      "spiffe://corp/ops": {{ scopes: [ "role:viewer" ] }}
sources:
  payments:
    kind: webhook
    verify: {{ preset: none }}
    client_certificate: [ "spiffe://psp/webhooks" ]
connectors:
  crm:
    base_url: https://localhost:{port}
    tls: {{ ca: ca.pem, client_cert: env:OWN_CERT, client_key: env:OWN_KEY }}
"#,
            d = dir.path().display()
        ),
    );
    let hub = Served::start_on(
        &config,
        &[
            ("JUNCTION_ADMIN_TOKEN", "admin-secret"),
            ("OWN_CERT", &own_cert),
            ("OWN_KEY", &own_key),
        ],
        port,
    );
    let with = |(cert, key): (String, String)| {
        client(&ca)
            .identity(reqwest::Identity::from_pem(format!("{cert}{key}").as_bytes()).unwrap())
            .build()
            .unwrap()
    };
    let proxy = format!("https://localhost:{port}/proxy/crm/healthz");

    // Named `billing` (common name and DNS name): its scopes, without a token.
    let billing = with(leaf(&clients, &["billing"], "billing", 2099));
    let res = billing.get(&proxy).send().await.unwrap();
    assert_eq!(res.status(), 200, "{}", res.text().await.unwrap());
    let res = billing.delete(&proxy).send().await.unwrap();
    assert_eq!(res.status(), 403, "GET only");
    // A token presented wins over the certificate.
    let res = billing
        .get(&proxy)
        .bearer_auth("jct_nope_nope")
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 401);

    // A valid certificate whose names are not listed: 401, saying which names it carries.
    let stranger = with(leaf(&clients, &["reports"], "reports", 2099));
    let res = stranger.get(&proxy).send().await.unwrap();
    assert_eq!(res.status(), 401);
    let body = res.text().await.unwrap();
    assert!(
        body.contains("server.tls.clients") && body.contains("reports"),
        "{body}"
    );

    // Named by a URI (a SPIFFE id) with a role: the admin API reads, and writes stay refused.
    let ops = with(leaf_uri(&clients, "spiffe://corp/ops", "ops"));
    let api = format!("https://localhost:{port}/api/v1/alerts");
    assert_eq!(ops.get(&api).send().await.unwrap().status(), 200);
    assert_eq!(
        billing.get(&api).send().await.unwrap().status(),
        401,
        "no role"
    );
    let res = ops
        .post(format!("https://localhost:{port}/api/v1/reload"))
        .header("origin", format!("https://localhost:{port}"))
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 403, "a viewer cannot reload");

    // A source that names the certificates it accepts: the provider's is, billing's is not.
    let hook = format!("https://localhost:{port}/webhooks/payments");
    let psp = with(leaf_uri(&clients, "spiffe://psp/webhooks", "psp"));
    let res = psp.post(&hook).body(r#"{"id":"p1"}"#).send().await.unwrap();
    assert_eq!(res.status(), 202, "{}", res.text().await.unwrap());
    let res = billing
        .post(&hook)
        .body(r#"{"id":"p2"}"#)
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 401);
    let body = res.text().await.unwrap();
    assert!(
        body.contains("not one this source accepts") && body.contains("billing"),
        "{body}"
    );
    drop(hub);
}

#[test]
fn a_tls_file_that_is_missing_or_not_pem_is_a_config_error_naming_the_field() {
    let dir = tempfile::tempdir().unwrap();
    write(dir.path(), "cert.pem", "not a certificate");
    let (code, text) = run_cli(&config(dir.path(), false), &["check"]);
    assert_ne!(code, Some(0), "{text}");
    assert!(text.contains("server.tls.cert"), "{text}");
    assert!(text.contains("not a PEM file"), "{text}");
    assert!(text.contains("server.tls.key"), "{text}");
}

#[test]
fn client_certificate_names_without_a_client_ca_are_a_config_error() {
    let dir = tempfile::tempdir().unwrap();
    let (cert, key) = leaf(&make_ca("Junction test CA"), &["localhost"], "hub", 2099);
    write(dir.path(), "cert.pem", &cert);
    write(dir.path(), "key.pem", &key);
    let config = write_config(
        dir.path(),
        &format!(
            "store: {{ url: \"sqlite://{}/j.db\" }}\nserver:\n  tls:\n    cert: cert.pem\n    key: key.pem\n    clients:\n      billing: {{ scopes: [ \"proxy:crm:GET\" ] }}\nsources:\n  psp: {{ kind: webhook, verify: {{ preset: none }}, client_certificate: [ psp ] }}\n",
            dir.path().display()
        ),
    );
    let (code, text) = run_cli(&config, &["check"]);
    assert_ne!(code, Some(0), "{text}");
    assert!(text.contains("server.tls.clients"), "{text}");
    assert!(text.contains("sources.psp.client_certificate"), "{text}");
    assert!(text.contains("only with server.tls.client_ca"), "{text}");
}
