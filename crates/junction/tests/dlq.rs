//! `junction dlq` against a running hub: list, show and replay dead letters, with the admin token.

mod support;

use std::time::{Duration, Instant};

use serde_json::Value;
use support::*;

const TOKEN: &str = "admin-token-for-tests";

fn dlq(base: &str, args: &[&str], token: Option<&str>) -> (Option<i32>, String, String) {
    against(base, token, &[&["dlq"], args].concat())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn dlq_lists_shows_and_replays_dead_letters() {
    let env = FailingSink::start(TOKEN, 3).await;
    let (hub, mock) = (&env.hub, &env.mock);
    // Without the token the hub refuses, and the CLI says how to fix it.
    let (code, _, err) = dlq(&hub.base, &["list"], None);
    assert_eq!(code, Some(1));
    assert!(
        err.contains("401") && err.contains("JUNCTION_ADMIN_TOKEN"),
        "{err}"
    );
    let deadline = Instant::now() + Duration::from_secs(20);
    let items = loop {
        let (code, out, err) = dlq(&hub.base, &["list", "-o", "json"], Some(TOKEN));
        assert_eq!(code, Some(0), "{err}");
        let items: Vec<Value> = serde_json::from_str(&out).unwrap();
        if items.len() == 3 {
            break items;
        }
        assert!(
            Instant::now() < deadline,
            "dead letters never appeared: {out}"
        );
        tokio::time::sleep(Duration::from_millis(200)).await;
    };
    assert_eq!(items[0]["destination"], "billing");
    let (code, table, _) = dlq(
        &hub.base,
        &["list", "--destination", "billing"],
        Some(TOKEN),
    );
    assert_eq!(code, Some(0));
    assert!(
        table.contains("gave up after 2 attempts") && table.contains("evt_00000001"),
        "{table}"
    );
    let id = items[0]["id"].to_string();
    let (code, shown, _) = dlq(&hub.base, &["show", &id], Some(TOKEN));
    assert_eq!(code, Some(0));
    assert!(
        shown.contains("#1") && shown.contains("#2") && shown.contains("status 500"),
        "{shown}"
    );
    // An operator gives up on one: discarded, it is never sent and no longer listed.
    let (code, out, err) = dlq(&hub.base, &["discard", &id], Some(TOKEN));
    assert_eq!(code, Some(0), "{err}");
    assert!(out.contains("discarded 1"), "{out}");
    let (code, _, err) = dlq(&hub.base, &["discard"], Some(TOKEN));
    assert_eq!(code, Some(1));
    assert!(err.contains("--all to discard"), "{err}");
    let (code, out, _) = dlq(&hub.base, &["list", "-o", "json"], Some(TOKEN));
    assert_eq!(code, Some(0));
    assert_eq!(serde_json::from_str::<Vec<Value>>(&out).unwrap().len(), 2);
    let (code, _, err) = dlq(&hub.base, &["replay"], Some(TOKEN));
    assert_eq!(code, Some(1));
    assert!(err.contains("--all"), "{err}");
    // The receiver is fixed; replay everything.
    env.heal().await;
    let (code, out, err) = dlq(&hub.base, &["replay", "--all", "-o", "json"], Some(TOKEN));
    assert_eq!(code, Some(0), "{err}");
    assert_eq!(serde_json::from_str::<Value>(&out).unwrap()["replayed"], 2);
    let deadline = Instant::now() + Duration::from_secs(10);
    loop {
        let ok = mock
            .state
            .received
            .snapshot()
            .1
            .iter()
            .filter(|d| d.answered == 200)
            .count();
        if ok == 2 {
            break;
        }
        assert!(
            Instant::now() < deadline,
            "replayed deliveries did not arrive"
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    let (code, out, _) = dlq(&hub.base, &["list"], Some(TOKEN));
    assert_eq!((code, out.trim()), (Some(0), "no dead letters match"));
}
