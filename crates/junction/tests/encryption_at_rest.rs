//! Payloads encrypted at rest (`store.encrypt_payloads`) as a user runs it: a real hub on
//! SQLite receives webhooks and delivers them; the database file and its WAL hold no byte of a
//! sealed source's payload or forwarded header (a source that opts out is found, which proves
//! the scan), while deliveries, the admin API and a restart read them back; without the master
//! key the hub refuses to start, and the data key cannot be deleted by hand.

mod support;

use std::path::Path;
use std::time::Duration;

use support::*;

const KEY: &str = "v1:q83vEjRWeJCrze8SNFZ4kKvN7xI0VniQq83vEjRWeJA=";

fn occurrences(dir: &Path, needle: &str) -> usize {
    ["j.db", "j.db-wal"]
        .iter()
        .filter_map(|f| std::fs::read(dir.join(f)).ok())
        .map(|bytes| {
            bytes
                .windows(needle.len())
                .filter(|w| *w == needle.as_bytes())
                .count()
        })
        .sum()
}

async fn text(http: &reqwest::Client, url: &str) -> String {
    http.get(url).send().await.unwrap().text().await.unwrap()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_copy_of_the_database_reveals_no_sealed_payload_and_the_hub_still_reads_them() {
    let mock = junction_mock::Mock::start(
        junction_mock::MockConfig::default(),
        "127.0.0.1:0".parse().unwrap(),
    )
    .await
    .unwrap();
    let dir = tempfile::tempdir().unwrap();
    let config = write_config(
        dir.path(),
        &format!(
            r#"
store: {{ url: "sqlite://{d}/j.db", encrypt_payloads: true }}
sources:
  crm: {{ kind: webhook, verify: {{ preset: none }}, event: {{ id: .id }}, forward_headers: [ x-account ] }}
  public: {{ kind: webhook, verify: {{ preset: none }}, event: {{ id: .id }}, encrypt_payloads: false }}
destinations:
  sink: {{ url: "{m}/sink/all" }}
routes:
  a: {{ from: crm, to: [ sink ] }}
  b: {{ from: public, to: [ sink ] }}
"#,
            d = dir.path().display(),
            m = mock.url()
        ),
    );
    let http = reqwest::Client::builder()
        .timeout(Duration::from_secs(10))
        .build()
        .unwrap();

    // Without the master key the hub does not start: it could not seal what it receives.
    let refused = bin()
        .args(["serve", "--config"])
        .arg(&config)
        .args(["--listen", &format!("127.0.0.1:{}", free_port())])
        .env_remove("JUNCTION_MASTER_KEY")
        .output()
        .unwrap();
    let out = String::from_utf8_lossy(&refused.stderr);
    assert_ne!(refused.status.code(), Some(0));
    assert!(
        out.contains("encrypt_payloads") && out.contains("JUNCTION_MASTER_KEY"),
        "{out}"
    );

    let hub = Served::start(&config, &[("JUNCTION_MASTER_KEY", KEY)]);
    for (source, id, canary) in [
        ("crm", "e1", "sealed-canary-zq81x"),
        ("public", "e2", "plain-canary-wk55p"),
    ] {
        let res = http
            .post(format!("{}/webhooks/{source}", hub.base))
            .header("content-type", "application/json")
            .header("x-account", format!("{canary}-account"))
            .body(format!(r#"{{"id":"{id}","note":"{canary}"}}"#))
            .send()
            .await
            .unwrap();
        assert!(res.status().is_success(), "{source}: {}", res.status());
    }
    // Delivered as received: the worker read the sealed payload back.
    let got = sink_until(&http, &mock.url(), "/sink/all", |d| d.len() >= 2).await;
    let bodies = serde_json::to_string(&got).unwrap();
    assert!(bodies.contains("sealed-canary-zq81x"), "{bodies}");

    // The admin API shows the event and its forwarded header.
    let events: serde_json::Value = http
        .get(format!("{}/api/v1/events?source=crm", hub.base))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let id = events["events"][0]["id"].as_i64().unwrap();
    let event = text(&http, &format!("{}/api/v1/events/{id}", hub.base)).await;
    assert!(
        event.contains("sealed-canary-zq81x") && event.contains("sealed-canary-zq81x-account"),
        "{event}"
    );

    // The files: nothing of the sealed source, everything of the one that opted out.
    assert_eq!(occurrences(dir.path(), "sealed-canary-zq81x"), 0);
    assert!(
        occurrences(dir.path(), "plain-canary-wk55p") > 0,
        "the scan finds plain text"
    );
    let (code, _) = hub.terminate();
    assert_eq!(code, Some(0));
    assert_eq!(occurrences(dir.path(), "sealed-canary-zq81x"), 0);

    // The data key is the hub's own: not deletable by hand.
    let (code, _, err) = cli(
        &config,
        KEY,
        &["secrets", "delete", "junction.data-key"],
        "",
    );
    assert_ne!(code, Some(0));
    assert!(err.contains("hub's own secret"), "{err}");

    // A new master key: the rotation rewraps the data key with the other secrets, and the hub
    // then reads the sealed event with the new key alone.
    let both = format!("v2:AAECAwQFBgcICQoLDA0ODxAREhMUFRYXGBkaGxwdHh8=,{KEY}");
    let (code, out, err) = cli(&config, &both, &["secrets", "rotate-key"], "");
    assert_eq!(code, Some(0), "{out}{err}");
    let only_new = "v2:AAECAwQFBgcICQoLDA0ODxAREhMUFRYXGBkaGxwdHh8=";
    let hub = Served::start(&config, &[("JUNCTION_MASTER_KEY", only_new)]);
    let event = text(&http, &format!("{}/api/v1/events/{id}", hub.base)).await;
    assert!(event.contains("sealed-canary-zq81x"), "{event}");
    drop(hub);
}
