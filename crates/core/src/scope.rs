//! Scopes of hub API tokens and client-certificate identities, as written:
//! `proxy:<connector>:<METHOD>`, `op:<connector>:<operation>` (either part `*`) and
//! `role:viewer|operator|admin`, and `mcp:destructive` (an agent may see and call operations
//! that delete at the vendor).

/// The admin API's roles, lowest first.
pub const ROLES: [&str; 3] = ["viewer", "operator", "admin"];

/// Whether `scope` is one Junction understands.
pub fn valid(scope: &str) -> bool {
    if scope == "mcp:destructive" {
        return true;
    }
    if let Some(role) = scope.strip_prefix("role:") {
        return ROLES.contains(&role);
    }
    let name = |s: &str| {
        !s.is_empty()
            && s.len() <= 128
            && s.bytes()
                .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_' || b == b'*')
    };
    let parts: Vec<&str> = scope.split(':').collect();
    match parts.as_slice() {
        ["proxy", c, m] => {
            name(c) && (*m == "*" || (!m.is_empty() && m.bytes().all(|b| b.is_ascii_uppercase())))
        }
        ["op", c, o] => name(c) && name(o),
        _ => false,
    }
}
