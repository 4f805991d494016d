//! TLS towards vendors (`connectors.X.tls`, `destinations.X.tls`) as a user runs it: a vendor
//! behind a private CA that requires a client certificate — here another Junction serving HTTPS
//! with `client_ca` — reached through a connector and a destination whose certificate and key
//! are kept in the vault; refused with a clear error without the certificate or the CA; and the
//! certificates' expiry exported and alerted on 30 days ahead.

mod support;

use std::path::Path;
use std::time::{Duration, Instant};

use support::certs::*;
use support::*;

const KEY: &str = "v1:q83vEjRWeJCrze8SNFZ4kKvN7xI0VniQq83vEjRWeJA=";

/// The vendor: HTTPS for `localhost` under its own CA, client certificates of `clients` only,
/// one webhook source `in` (admin token `vendor`).
struct Vendor {
    hub: Served,
    port: u16,
    ca: Ca,
    clients: Ca,
    _dir: tempfile::TempDir,
}

fn vendor() -> Vendor {
    let dir = tempfile::tempdir().unwrap();
    let ca = make_ca("Vendor private CA");
    let clients = make_ca("Vendor's clients CA");
    let (cert, key) = leaf(&ca, &["localhost"], "api.vendor", 2099);
    std::fs::write(dir.path().join("cert.pem"), cert).unwrap();
    std::fs::write(dir.path().join("key.pem"), key).unwrap();
    std::fs::write(dir.path().join("clients.pem"), &clients.pem).unwrap();
    let config = write_config(
        dir.path(),
        &format!(
            "store: {{ url: \"sqlite://{}/v.db\" }}\nserver:\n  tls: {{ cert: cert.pem, key: key.pem, client_ca: clients.pem }}\nsources:\n  in: {{ kind: webhook, verify: {{ preset: none }} }}\n",
            dir.path().display()
        ),
    );
    let port = free_port();
    let hub = Served::start_on(&config, &[("JUNCTION_ADMIN_TOKEN", "vendor")], port);
    Vendor {
        hub,
        port,
        ca,
        clients,
        _dir: dir,
    }
}

fn set_secret(config: &Path, name: &str, value: &str) {
    let (code, _, err) = cli(config, KEY, &["secrets", "set", name], value);
    assert_eq!(code, Some(0), "{err}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_connector_and_a_destination_reach_a_vendor_that_requires_mutual_tls() {
    let vendor = vendor();
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(dir.path().join("vendor-ca.pem"), &vendor.ca.pem).unwrap();
    let base = format!("https://localhost:{}", vendor.port);
    let config = write_config(
        dir.path(),
        &format!(
            r#"
store: {{ url: "sqlite://{d}/j.db" }}
connectors:
  vendor:
    base_url: {base}
    tls: {{ ca: vendor-ca.pem, client_cert: secret:vendor-cert, client_key: secret:vendor-key }}
  nocert:
    base_url: {base}
    tls: {{ ca: vendor-ca.pem }}
  platform:
    base_url: {base}
sources:
  orders: {{ kind: webhook, verify: {{ preset: none }} }}
destinations:
  vendor_in:
    url: {base}/webhooks/in
    tls: {{ ca: vendor-ca.pem, client_cert: secret:vendor-cert, client_key: secret:vendor-key }}
routes:
  r: {{ from: orders, to: [ vendor_in ] }}
alerts: {{ evaluate_every: 1s }}
"#,
            d = dir.path().display()
        ),
    );
    // A client certificate that expires in 20 days: inside the alert's 30.
    let (cert, key) = leaf_for_days(&vendor.clients, &["billing"], "billing", 20);
    set_secret(&config, "vendor-cert", &cert);
    set_secret(&config, "vendor-key", &key);
    let (code, token, err) = cli(
        &config,
        KEY,
        &[
            "tokens",
            "create",
            "caller",
            "--scope",
            "proxy:vendor:GET",
            "--scope",
            "proxy:nocert:GET",
            "--scope",
            "proxy:platform:GET",
        ],
        "",
    );
    assert_eq!(code, Some(0), "{err}");
    let hub = Served::start(&config, &[("JUNCTION_MASTER_KEY", KEY)]);
    let http = reqwest::Client::builder()
        .timeout(Duration::from_secs(10))
        .build()
        .unwrap();

    // Through the connector: the vendor's own CA is trusted and the certificate presented.
    let res = http
        .get(format!("{}/proxy/vendor/healthz", hub.base))
        .bearer_auth(token.trim())
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 200, "{}", res.text().await.unwrap());

    // Without the client certificate the vendor refuses the handshake; without its CA the
    // vendor's certificate is not trusted. Both say why.
    for (connector, why) in [
        ("nocert", "asks for a client certificate"),
        ("platform", "set tls.ca"),
    ] {
        let res = http
            .get(format!("{}/proxy/{connector}/healthz", hub.base))
            .bearer_auth(token.trim())
            .send()
            .await
            .unwrap();
        assert_eq!(res.status(), 502, "{connector}");
        let body = res.text().await.unwrap();
        assert!(body.contains(why), "{connector}: {body}");
    }

    // Through the destination: an event received is delivered into the vendor over mTLS.
    let res = http
        .post(format!("{}/webhooks/orders", hub.base))
        .header("content-type", "application/json")
        .body(r#"{"id":"o_1","total":12}"#)
        .send()
        .await
        .unwrap();
    assert!(res.status().is_success());
    let (cert, key) = leaf(&vendor.clients, &["test"], "test", 2099);
    let to_vendor = reqwest::Client::builder()
        .tls_certs_only([reqwest::Certificate::from_pem(vendor.ca.pem.as_bytes()).unwrap()])
        .identity(reqwest::Identity::from_pem(format!("{cert}{key}").as_bytes()).unwrap())
        .build()
        .unwrap();
    let until = Instant::now() + Duration::from_secs(15);
    loop {
        let events: serde_json::Value = to_vendor
            .get(format!("{base}/api/v1/events?source=in"))
            .bearer_auth("vendor")
            .send()
            .await
            .unwrap()
            .json()
            .await
            .unwrap();
        let text = events.to_string();
        if events["events"].as_array().is_some_and(|e| e.len() == 1) {
            assert_eq!(events["events"][0]["size"], 23, "{text}");
            break;
        }
        assert!(Instant::now() < until, "not delivered: {text}");
        tokio::time::sleep(Duration::from_millis(200)).await;
    }

    // When the certificates expire is exported, and the one inside 30 days alerts.
    let metrics = http
        .get(format!("{}/metrics", hub.base))
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    for name in [
        "connector/vendor/client",
        "connector/vendor/ca",
        "connector/nocert/ca",
        "destination/vendor_in/client",
        "destination/vendor_in/ca",
    ] {
        assert!(
            metrics.contains(&format!(
                "junction_tls_certificate_expiry_timestamp_seconds{{certificate=\"{name}\"}}"
            )),
            "{name} in {metrics}"
        );
    }
    let until = Instant::now() + Duration::from_secs(20);
    loop {
        let alerts: serde_json::Value = http
            .get(format!("{}/api/v1/alerts", hub.base))
            .send()
            .await
            .unwrap()
            .json()
            .await
            .unwrap();
        let text = alerts.to_string();
        if text.contains("connector/vendor/client certificate expires in") {
            assert!(
                text.contains("destination/vendor_in/client certificate expires in"),
                "{text}"
            );
            assert!(
                !text.contains("vendor/ca certificate"),
                "the CA is good until 2099: {text}"
            );
            break;
        }
        assert!(Instant::now() < until, "no certificate alert: {text}");
        tokio::time::sleep(Duration::from_millis(250)).await;
    }
    drop(vendor.hub);
}

#[test]
fn a_client_certificate_without_its_key_or_a_ca_that_is_not_pem_is_a_config_error() {
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(dir.path().join("ca.pem"), "not a certificate").unwrap();
    let config = write_config(
        dir.path(),
        &format!(
            "store: {{ url: \"sqlite://{}/j.db\" }}\nconnectors:\n  bank:\n    base_url: https://bank.example\n    tls: {{ ca: ca.pem, client_cert: env:BANK_CERT }}\n",
            dir.path().display()
        ),
    );
    let out = bin()
        .args(["check", "--config"])
        .arg(&config)
        .env(
            "BANK_CERT",
            "-----BEGIN CERTIFICATE-----\nMII\n-----END CERTIFICATE-----\n",
        )
        .output()
        .unwrap();
    let text =
        String::from_utf8_lossy(&out.stdout).to_string() + &String::from_utf8_lossy(&out.stderr);
    assert_ne!(out.status.code(), Some(0), "{text}");
    assert!(text.contains("holds no PEM certificate"), "{text}");
    assert!(
        text.contains("/connectors/bank/tls/ca") || text.contains("connectors.bank.tls.ca"),
        "{text}"
    );
    assert!(
        text.contains("client_cert and client_key go together"),
        "{text}"
    );
}
