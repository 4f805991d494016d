//! The admin API's roles and the audit log, as an operator meets them: tokens made with the
//! CLI, a real `junction serve`, real HTTP, then `junction audit verify` on the database before
//! and after someone edits a row.

mod support;

use std::path::Path;

use serde_json::{json, Value};
use support::*;

const K1: &str = "v1:q83vEjRWeJCrze8SNFZ4kKvN7xI0VniQq83vEjRWeJA=";
const ENV_ADMIN: &str = "env-admin-secret-4242";

fn config(dir: &Path) -> std::path::PathBuf {
    write_config(
        dir,
        &format!(
            r#"store: {{ url: "sqlite://{}/j.db" }}
sources:
  crm:
    kind: webhook
    verify: {{ preset: standard_webhooks, secrets: [ secret:crm_whsec ] }}
destinations:
  billing:
    url: "http://127.0.0.1:9/sink"
routes:
  r: {{ from: crm, to: [ billing ] }}
"#,
            dir.display()
        ),
    )
}

/// The config, with its webhook secret stored in the vault (so secret accesses are audited).
fn config_with_secret(dir: &Path) -> std::path::PathBuf {
    let config = config(dir);
    let (code, _, err) = cli(
        &config,
        K1,
        &["secrets", "set", "crm_whsec"],
        "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw\n",
    );
    assert_eq!(code, Some(0), "{err}");
    config
}

/// `junction tokens create NAME --role ROLE`: the token's text.
fn token(config: &Path, name: &str, role: &str) -> String {
    let (code, out, err) = cli(config, K1, &["tokens", "create", name, "--role", role], "");
    assert_eq!(code, Some(0), "{err}");
    out.trim().to_owned()
}

struct Api {
    base: String,
    http: reqwest::Client,
}

impl Api {
    async fn call(
        &self,
        method: &str,
        path: &str,
        token: Option<&str>,
        body: Option<Value>,
    ) -> (u16, Value) {
        let mut req = self
            .http
            .request(method.parse().unwrap(), format!("{}{path}", self.base));
        if let Some(t) = token {
            req = req.bearer_auth(t);
        }
        if let Some(b) = body {
            req = req.json(&b);
        }
        let res = req.send().await.unwrap();
        let status = res.status().as_u16();
        let text = res.text().await.unwrap();
        (
            status,
            serde_json::from_str(&text).unwrap_or(Value::String(text)),
        )
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn admin_roles_are_enforced_and_the_audit_chain_detects_a_modified_row() {
    let dir = tempfile::tempdir().unwrap();
    let config = config_with_secret(dir.path());
    let viewer = token(&config, "grafana", "viewer");
    let operator = token(&config, "oncall", "operator");
    let admin = token(&config, "root", "admin");
    let (code, out, _) = cli(
        &config,
        K1,
        &["tokens", "create", "billing", "--scope", "proxy:crm:GET"],
        "",
    );
    assert_eq!(code, Some(0));
    let proxy_only = out.trim().to_owned();

    let hub = Served::start(
        &config,
        &[
            ("JUNCTION_MASTER_KEY", K1),
            ("JUNCTION_ADMIN_TOKEN", ENV_ADMIN),
        ],
    );
    let api = Api {
        base: hub.base.clone(),
        http: reqwest::Client::new(),
    };

    // Nobody, a stranger and a proxy-only token are kept out, even from loopback.
    let (s, body) = api.call("GET", "/api/v1/dead-letters", None, None).await;
    assert_eq!(s, 401, "{body}");
    assert_eq!(body["error"]["code"], "unauthorized");
    assert_eq!(
        api.call("GET", "/api/v1/dead-letters", Some("jct_nope_nope"), None)
            .await
            .0,
        401
    );
    let (s, body) = api
        .call("GET", "/api/v1/dead-letters", Some(&proxy_only), None)
        .await;
    assert_eq!(s, 403, "{body}");
    assert!(body["error"]["hint"].as_str().unwrap().contains("--role"));

    // Viewers read, and are refused actions.
    assert_eq!(
        api.call("GET", "/api/v1/dead-letters", Some(&viewer), None)
            .await
            .0,
        200
    );
    let (s, body) = api
        .call(
            "POST",
            "/api/v1/destinations/billing/disable",
            Some(&viewer),
            None,
        )
        .await;
    assert_eq!(s, 403, "{body}");
    assert!(body["error"]["message"]
        .as_str()
        .unwrap()
        .contains("needs the operator role"));

    // Operators act, and are refused tokens and the audit log.
    let (s, body) = api
        .call(
            "POST",
            "/api/v1/destinations/billing/disable",
            Some(&operator),
            None,
        )
        .await;
    assert_eq!(s, 200, "{body}");
    let (_, dests) = api
        .call("GET", "/api/v1/destinations", Some(&operator), None)
        .await;
    assert!(dests.to_string().contains("disabled by token:"), "{dests}");
    assert_eq!(
        api.call(
            "POST",
            "/api/v1/destinations/billing/enable",
            Some(&operator),
            None
        )
        .await
        .0,
        200
    );
    assert_eq!(
        api.call("GET", "/api/v1/tokens", Some(&operator), None)
            .await
            .0,
        403
    );
    assert_eq!(
        api.call("GET", "/api/v1/audit", Some(&operator), None)
            .await
            .0,
        403
    );

    // Admins manage tokens; a token made over the API works at once with its role.
    let (s, body) = api.call("GET", "/api/v1/tokens", Some(&admin), None).await;
    assert_eq!(s, 200);
    assert_eq!(body["tokens"].as_array().unwrap().len(), 4);
    assert!(!body.to_string().contains("hash"), "{body}");
    let (s, made) = api
        .call(
            "POST",
            "/api/v1/tokens",
            Some(&admin),
            Some(json!({"name": "dash", "scopes": ["role:viewer"], "expires_in": "1h"})),
        )
        .await;
    assert_eq!(s, 201, "{made}");
    let (s, me) = api
        .call(
            "GET",
            "/api/v1/whoami",
            Some(made["token"].as_str().unwrap()),
            None,
        )
        .await;
    assert_eq!((s, me["role"].as_str()), (200, Some("viewer")), "{me}");
    let (s, bad) = api
        .call(
            "POST",
            "/api/v1/tokens",
            Some(&admin),
            Some(json!({"name": "x", "scopes": ["role:root"]})),
        )
        .await;
    assert_eq!(
        (s, bad["error"]["code"].as_str()),
        (400, Some("bad_request")),
        "{bad}"
    );
    let id = made["id"].as_str().unwrap();
    assert_eq!(
        api.call(
            "DELETE",
            &format!("/api/v1/tokens/{id}"),
            Some(&admin),
            None
        )
        .await
        .0,
        204
    );
    let (s, me) = api
        .call("GET", "/api/v1/whoami", Some(ENV_ADMIN), None)
        .await;
    assert_eq!(
        (s, me["id"].as_str(), me["role"].as_str()),
        (200, Some("env-admin-token"), Some("admin"))
    );
    let (s, secrets) = api.call("GET", "/api/v1/secrets", Some(&admin), None).await;
    assert_eq!(s, 200);
    assert_eq!(secrets["secrets"][0]["name"], "crm_whsec");

    // The log names who did what from where, the CLI's and the vault's accesses included.
    let (s, log) = api
        .call("GET", "/api/v1/audit?limit=100", Some(&admin), None)
        .await;
    assert_eq!(s, 200);
    let entries = log["entries"].as_array().unwrap();
    let has = |action: &str, actor_prefix: &str| {
        entries.iter().any(|e| {
            e["action"] == action && e["actor"].as_str().unwrap().starts_with(actor_prefix)
        })
    };
    assert!(has("secret.set", "cli:"), "{log}");
    assert!(has("token.create", "cli:"), "{log}");
    assert!(has("secret.read", "hub"), "{log}");
    assert!(
        has("POST /api/v1/destinations/{name}/disable", "token:"),
        "{log}"
    );
    assert!(has("POST /api/v1/tokens", "token:"), "{log}");
    assert!(has("DELETE /api/v1/tokens/{id}", "token:"), "{log}");
    let denied = entries
        .iter()
        .find(|e| {
            e["detail"]
                .as_str()
                .unwrap()
                .contains("needs role operator")
        })
        .expect("the viewer's refused action is recorded");
    assert_eq!(denied["origin"], "127.0.0.1");
    let (_, verdict) = api
        .call("GET", "/api/v1/audit/verify", Some(&admin), None)
        .await;
    assert_eq!(verdict["ok"], true, "{verdict}");

    // The per-minute history: an unsigned webhook shows as rejected within a flush.
    let res = api
        .http
        .post(format!("{}/webhooks/crm", hub.base))
        .body("{}")
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 401);
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(15);
    loop {
        let (_, stats) = api
            .call(
                "GET",
                "/api/v1/stats?kind=source&minutes=5",
                Some(&viewer),
                None,
            )
            .await;
        if stats["series"][0]["totals"]["rejected"] == 1 {
            assert_eq!(stats["series"][0]["name"], "crm");
            break;
        }
        assert!(std::time::Instant::now() < deadline, "no history: {stats}");
        tokio::time::sleep(std::time::Duration::from_millis(250)).await;
    }

    // The same from another machine: the CLI through the admin API with an admin token.
    let remote = |args: &[&str]| against(&hub.base, Some(&admin), args);
    let (code, made, err) = remote(&["tokens", "create", "remote-ci", "--role", "viewer"]);
    assert_eq!(code, Some(0), "{err}");
    assert!(made.trim().starts_with("jct_"), "{made}");
    let (code, listed, _) = remote(&["tokens", "list", "-o", "json"]);
    assert_eq!(code, Some(0));
    let id = serde_json::from_str::<Value>(&listed)
        .unwrap()
        .as_array()
        .unwrap()
        .iter()
        .find(|t| t["name"] == "remote-ci")
        .unwrap()["id"]
        .as_str()
        .unwrap()
        .to_owned();
    assert_eq!(remote(&["tokens", "revoke", &id]).0, Some(0));
    let (code, out, err) = remote(&["audit", "list", "--limit", "5"]);
    assert_eq!(code, Some(0), "{err}");
    assert!(out.contains("DELETE /api/v1/tokens/{id}"), "{out}");
    let (code, out, _) = remote(&["audit", "verify"]);
    assert_eq!(code, Some(0));
    assert!(out.contains("the audit log holds"), "{out}");

    hub.terminate();
    let (code, out, err) = cli(&config, K1, &["audit", "verify"], "");
    assert_eq!(code, Some(0), "{out}{err}");
    assert!(out.contains("the audit log holds"), "{out}");
    // The head to keep outside the database.
    let kept = out
        .lines()
        .find_map(|l| l.strip_prefix("head: "))
        .and_then(|l| l.split_whitespace().next())
        .unwrap_or_else(|| panic!("no head printed: {out}"))
        .to_owned();
    let (code, out, err) = cli(&config, K1, &["audit", "verify", "--head", &kept], "");
    assert_eq!(code, Some(0), "{out}{err}");
    assert!(out.contains("still holds the kept head"), "{out}");

    // Someone with the database rewrites who replayed what: verify names the row.
    let db = dir.path().join("j.db");
    let status = std::process::Command::new("sqlite3")
        .arg(&db)
        .arg("UPDATE audit SET actor = 'nobody' WHERE seq = 3")
        .status()
        .unwrap();
    assert!(status.success());
    let (code, _, err) = cli(&config, K1, &["audit", "verify"], "");
    assert_eq!(code, Some(1), "{err}");
    assert!(err.contains("entry 3 was changed"), "{err}");

    // A thorough one rebuilds every hash from there on, and the head. Without the master key it
    // can only write plain hashes where the hub sealed them; and the head kept elsewhere differs.
    let rows = std::process::Command::new("sqlite3")
        .arg("-json")
        .arg(&db)
        .arg("SELECT seq, at, actor, action, target, origin, detail FROM audit ORDER BY seq")
        .output()
        .unwrap();
    let rows: Vec<serde_json::Value> = serde_json::from_slice(&rows.stdout).unwrap();
    let mut prev = junction_store::ops::GENESIS.to_owned();
    let mut sql = String::new();
    for r in &rows {
        let s = |k: &str| r[k].as_str().unwrap().to_owned();
        let e = junction_store::ops::NewAudit {
            at: r["at"].as_i64().unwrap(),
            actor: s("actor"),
            action: s("action"),
            target: s("target"),
            origin: s("origin"),
            detail: s("detail"),
        };
        let seq = r["seq"].as_i64().unwrap();
        let hash = junction_store::ops::chain_hash(&prev, seq, &e);
        sql.push_str(&format!(
            "UPDATE audit SET prev_hash = '{prev}', hash = '{hash}' WHERE seq = {seq};\n"
        ));
        prev = hash;
    }
    sql.push_str(&format!("UPDATE audit_head SET hash = '{prev}';\n"));
    let status = std::process::Command::new("sqlite3")
        .arg(&db)
        .arg(&sql)
        .status()
        .unwrap();
    assert!(status.success());
    let (code, out, err) = cli(&config, K1, &["audit", "verify"], "");
    assert_eq!(code, Some(1), "a rebuilt chain was accepted: {out}{err}");
    assert!(
        err.contains("entry 1 is not sealed") || err.contains("not sealed"),
        "{err}"
    );
    let (code, _, err) = cli(&config, K1, &["audit", "verify", "--head", &kept], "");
    assert_eq!(code, Some(1), "{err}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn another_site_cannot_act_through_a_browser_on_loopback_or_with_the_dashboard_cookie() {
    let dir = tempfile::tempdir().unwrap();
    let config = config_with_secret(dir.path());
    let operator = token(&config, "oncall", "operator");
    // No JUNCTION_ADMIN_TOKEN: loopback clients without a token are admins.
    let hub = Served::start(&config, &[("JUNCTION_MASTER_KEY", K1)]);
    let http = reqwest::Client::new();
    let url = format!("{}/api/v1/destinations/billing/disable", hub.base);
    let post = |origin: Option<&str>, site: Option<&str>, cookie: Option<&str>| {
        let mut req = http.post(&url);
        if let Some(o) = origin {
            req = req.header("origin", o);
        }
        if let Some(s) = site {
            req = req.header("sec-fetch-site", s);
        }
        if let Some(c) = cookie {
            req = req.header("cookie", format!("junction_session={c}"));
        }
        async move { req.send().await.unwrap().status().as_u16() }
    };
    assert_eq!(post(Some("https://evil.example"), None, None).await, 403);
    assert_eq!(post(None, Some("cross-site"), None).await, 403);
    assert_eq!(
        post(Some("https://evil.example"), None, Some(&operator)).await,
        403
    );
    assert_eq!(
        post(Some(&hub.base), Some("same-origin"), Some(&operator)).await,
        200
    );
    assert_eq!(post(None, None, None).await, 200, "a CLI on this machine");
    // With the token in a header (which a cross-site form cannot set), the origin does not matter.
    let res = http
        .post(&url)
        .header("origin", "https://evil.example")
        .bearer_auth(&operator)
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 200);
    let read = http
        .get(format!("{}/api/v1/destinations", hub.base))
        .header("origin", "https://evil.example")
        .send()
        .await
        .unwrap();
    assert_eq!(read.status(), 200, "reads are not actions");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_rebound_dns_name_gets_no_loopback_admin_and_api_created_tokens_are_audited_by_id() {
    let dir = tempfile::tempdir().unwrap();
    let config = config_with_secret(dir.path());
    let hub = Served::start(&config, &[("JUNCTION_MASTER_KEY", K1)]);
    let http = reqwest::Client::new();
    let url = format!("{}/api/v1/tokens", hub.base);
    let body = serde_json::json!({ "name": "stolen", "scopes": ["role:admin"] });
    // What a rebound page sends: its own name as Host, its own origin, from the user's loopback.
    let res = http
        .post(&url)
        .header("host", "rebind.attacker.test")
        .header("origin", "http://rebind.attacker.test")
        .header("sec-fetch-site", "same-origin")
        .json(&body)
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 403);
    let err: serde_json::Value = res.json().await.unwrap();
    assert_eq!(err["error"]["code"], "forbidden");
    assert!(err["error"]["hint"]
        .as_str()
        .unwrap()
        .contains("server.hosts"));
    let read = http
        .get(&url)
        .header("host", "rebind.attacker.test")
        .send()
        .await
        .unwrap();
    assert_eq!(
        read.status(),
        403,
        "reads under a rebound name are refused too"
    );
    // Under the loopback name the same request is the local CLI's, and its audit entry names
    // the token it created.
    let res = http.post(&url).json(&body).send().await.unwrap();
    assert_eq!(res.status(), 201);
    let created: serde_json::Value = res.json().await.unwrap();
    let id = created["id"].as_str().unwrap().to_owned();
    let audit = audit_log(&hub.base).await;
    let entries = audit["entries"].as_array().unwrap();
    let entry = entries
        .iter()
        .find(|e| e["action"] == "token.create")
        .unwrap_or_else(|| panic!("no token.create entry: {audit}"));
    assert_eq!(entry["target"], id.as_str());
    let detail = entry["detail"].to_string();
    assert!(
        detail.contains("stolen") && detail.contains("role:admin"),
        "{entry}"
    );
    assert!(
        !detail.contains(created["token"].as_str().unwrap()),
        "the value is never audited"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_sign_in_form_refuses_other_sites_answers_failures_with_itself_and_no_page_can_be_framed(
) {
    let dir = tempfile::tempdir().unwrap();
    let config = config_with_secret(dir.path());
    let viewer = token(&config, "reader", "viewer");
    let hub = Served::start(&config, &[("JUNCTION_MASTER_KEY", K1)]);
    let http = reqwest::Client::builder()
        .redirect(reqwest::redirect::Policy::none())
        .build()
        .unwrap();
    let login = format!("{}/ui/login", hub.base);
    // Login CSRF: another site signs the visitor in to the attacker's session.
    let r = http
        .post(&login)
        .header("origin", "https://evil.example")
        .form(&[("token", viewer.as_str())])
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 403);
    assert!(
        r.headers().get("set-cookie").is_none(),
        "no session was set"
    );
    let r = http
        .post(format!("{}/ui/logout", hub.base))
        .header("sec-fetch-site", "cross-site")
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 403);
    // A wrong token gets the form again, as a page.
    let r = http
        .post(&login)
        .header("origin", hub.base.as_str())
        .form(&[("token", "jct_nope_nope")])
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 401);
    assert!(r.headers()["content-type"]
        .to_str()
        .unwrap()
        .starts_with("text/html"));
    assert!(r.text().await.unwrap().contains("name=\"token\""));
    // The right one signs in from this origin.
    let r = http
        .post(&login)
        .header("origin", hub.base.as_str())
        .form(&[("token", viewer.as_str())])
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 303);
    // Every dashboard answer forbids framing and foreign content.
    for path in ["/ui/login", "/ui/", "/ui/style.css"] {
        let r = http
            .get(format!("{}{path}", hub.base))
            .bearer_auth(&viewer)
            .send()
            .await
            .unwrap();
        assert_eq!(r.headers()["x-frame-options"], "DENY", "{path}");
        let csp = r.headers()["content-security-policy"].to_str().unwrap();
        assert!(csp.contains("frame-ancestors 'none'"), "{path}: {csp}");
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn methods_a_route_does_not_have_write_nothing_to_the_audit_log() {
    let dir = tempfile::tempdir().unwrap();
    let config = config_with_secret(dir.path());
    let hub = Served::start(&config, &[("JUNCTION_MASTER_KEY", K1)]);
    let http = reqwest::Client::new();
    let count = || async {
        audit_log(&hub.base).await["entries"]
            .as_array()
            .unwrap()
            .len()
    };
    let before = count().await;
    for path in [
        "/api/v1/events",
        "/api/v1/audit",
        "/ui/drift",
        "/api/v1/nothing-here",
    ] {
        for _ in 0..20 {
            let r = http
                .post(format!("{}{path}", hub.base))
                .send()
                .await
                .unwrap();
            let status = r.status().as_u16();
            assert!(matches!(status, 404 | 405), "{path}: {status}");
            if status == 405 {
                assert!(
                    r.headers().contains_key("allow"),
                    "{path}: 405 names the methods"
                );
                let body: serde_json::Value = r.json().await.unwrap();
                assert_eq!(body["error"]["code"], "method_not_allowed");
            }
        }
    }
    assert_eq!(count().await, before, "a 404 or 405 is not an admin action");
}

/// The newest 1,000 entries of a loopback hub's audit log.
async fn audit_log(base: &str) -> serde_json::Value {
    reqwest::get(format!("{base}/api/v1/audit?limit=1000"))
        .await
        .unwrap()
        .json()
        .await
        .unwrap()
}
