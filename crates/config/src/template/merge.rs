//! The user's entry over the template's part: mappings merge key by key; anything else the user
//! writes replaces the template's value; `null` removes the template's key. A mapping whose
//! `kind` differs from the template's (another auth scheme) replaces it whole: the template's
//! fields belong to its kind.

use serde_json::Value;

/// `over` merged over `base`.
pub(super) fn merge(base: Value, over: &Value) -> Value {
    match (base, over) {
        (Value::Object(mut b), Value::Object(o)) => {
            if let (Some(bk), Some(ok)) = (b.get("kind"), o.get("kind")) {
                if bk != ok {
                    return over.clone();
                }
            }
            for (k, v) in o {
                if v.is_null() {
                    b.remove(k);
                    continue;
                }
                let merged = match b.remove(k) {
                    Some(bv) => merge(bv, v),
                    None => v.clone(),
                };
                b.insert(k.clone(), merged);
            }
            Value::Object(b)
        }
        (_, o) => o.clone(),
    }
}

/// Whether the value at `rel` (a JSON pointer inside the entry) of the merged entry came from
/// the template: the user wrote nothing there, and no mapping above it was replaced.
pub(super) fn from_template(base: &Value, over: &Value, rel: &str) -> bool {
    let mut at = String::new();
    let segments: Vec<&str> = rel.split('/').skip(1).collect();
    if over.pointer("").is_some_and(replaces(base, "")) {
        return false;
    }
    for (i, seg) in segments.iter().enumerate() {
        at.push('/');
        at.push_str(seg);
        let Some(user) = over.pointer(&at) else {
            return true;
        };
        let last = i + 1 == segments.len();
        if last || !user.is_object() || replaces(base, &at)(user) {
            return false;
        }
    }
    true
}

/// Whether the user's mapping at `at` replaces the template's whole (another `kind`).
fn replaces<'a>(base: &'a Value, at: &'a str) -> impl Fn(&Value) -> bool + 'a {
    move |user| match (
        base.pointer(at).and_then(|b| b.get("kind")),
        user.get("kind"),
    ) {
        (Some(b), Some(u)) => b != u,
        _ => false,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn the_users_fields_win_and_mappings_merge() {
        let base = json!({
            "base_url": "https://api.vendor.com",
            "quotas": ["10/s"],
            "auth": { "kind": "oauth2_refresh_token", "token_url": "https://vendor/token", "scopes": ["a"] },
            "operations": { "list": { "path": "/l" }, "delete": { "path": "/d", "method": "DELETE" } }
        });
        let over = json!({
            "base_url": "http://127.0.0.1:9",
            "quotas": ["2/s"],
            "auth": { "client_id": "app" },
            "operations": { "delete": null }
        });
        let m = merge(base.clone(), &over);
        assert_eq!(m["base_url"], "http://127.0.0.1:9");
        assert_eq!(
            m["quotas"],
            json!(["2/s"]),
            "lists are replaced, not appended"
        );
        assert_eq!(m["auth"]["token_url"], "https://vendor/token");
        assert_eq!(m["auth"]["client_id"], "app");
        assert!(m["operations"].get("delete").is_none(), "null removes");
        assert_eq!(m["operations"]["list"]["path"], "/l");
        assert!(from_template(&base, &over, "/auth/token_url"));
        assert!(!from_template(&base, &over, "/auth/client_id"));
        assert!(
            !from_template(&base, &over, "/quotas/0"),
            "the user's list replaced it"
        );
        assert!(from_template(&base, &over, "/operations/list/path"));
    }

    #[test]
    fn another_auth_kind_replaces_the_templates_auth() {
        let base = json!({ "auth": { "kind": "oauth2_refresh_token", "token_url": "t" } });
        let over = json!({ "auth": { "kind": "bearer", "token": "secret:x" } });
        let m = merge(base.clone(), &over);
        assert_eq!(m["auth"], json!({ "kind": "bearer", "token": "secret:x" }));
        assert!(!from_template(&base, &over, "/auth/token_url"));
    }
}
