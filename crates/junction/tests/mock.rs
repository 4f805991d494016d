//! `junction mock --config mock.yaml` as a user runs it.

mod support;

use std::process::Stdio;
use std::time::{Duration, Instant};

use support::{bin, free_port, write_config};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_mock_yaml_configures_auth_quotas_and_chaos() {
    let dir = tempfile::tempdir().unwrap();
    let yaml = "seed: 7\ncustomers: 50\nauth:\n  required: true\n  clients:\n    - { id: app, secret: \"${JUNCTION_TEST_APP_SECRET}\", scopes: [customers:read] }\nquotas: [ 100/min ]\nrate_limit_headers: x\nsink: { errors: [[410, 1.0]] }\n";
    let path = write_config(dir.path(), yaml);
    let port = free_port();
    let mut child = bin()
        .args(["mock", "--config"])
        .arg(&path)
        .args(["--listen", &format!("127.0.0.1:{port}")])
        .env("JUNCTION_TEST_APP_SECRET", "app-s3cret")
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let deadline = Instant::now() + Duration::from_secs(20);
    while std::net::TcpStream::connect(("127.0.0.1", port)).is_err() {
        assert!(Instant::now() < deadline, "the mock did not start");
        std::thread::sleep(Duration::from_millis(50));
    }
    let base = format!("http://127.0.0.1:{port}");
    let c = reqwest::Client::new();
    let res = c
        .get(format!("{base}/v1/customers/cus_000001"))
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 401);
    assert_eq!(res.headers()["x-ratelimit-limit"], "100");
    let token: serde_json::Value = c
        .post(format!("{base}/oauth/token"))
        .form(&[
            ("grant_type", "client_credentials"),
            ("client_id", "app"),
            ("client_secret", "app-s3cret"),
        ])
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let at = token["access_token"]
        .as_str()
        .expect("the interpolated secret works");
    assert_eq!(
        c.get(format!("{base}/v1/customers/cus_000001"))
            .bearer_auth(at)
            .send()
            .await
            .unwrap()
            .status(),
        200
    );
    assert_eq!(
        c.post(format!("{base}/sink/x"))
            .body("{}")
            .send()
            .await
            .unwrap()
            .status(),
        410
    );
    let _ = child.kill();
    let _ = child.wait();
}

#[test]
fn a_bad_mock_yaml_is_refused_with_its_place() {
    let dir = tempfile::tempdir().unwrap();
    let path = write_config(dir.path(), "seed: 1\nauth:\n  requird: true\n");
    let out = bin()
        .args(["mock", "--config"])
        .arg(&path)
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(2));
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        stderr.contains("junction.yaml:3:3: `auth.requird`: unknown field `requird`"),
        "{stderr}"
    );
    assert!(stderr.contains("did you mean `required`?"), "{stderr}");
}
