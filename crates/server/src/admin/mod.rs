//! Who may use the admin API (`/api/v1/…`, `/ui/…`) and what they did.
//!
//! Callers present a hub API token with a role scope (`role:viewer`, `role:operator`,
//! `role:admin`) as a bearer token or, from the dashboard, as the `junction_session` cookie.
//! `JUNCTION_ADMIN_TOKEN`, when the server has it, is an admin credential too. Without it, a
//! client on the loopback interface that presents nothing is the local admin (a single-machine
//! set-up needs no token); with it, every caller needs a credential.
//!
//! Viewers read; operators also act (replay, discard, enable, disable); admins also manage API
//! tokens and read secrets' metadata and the audit log. Every action (anything but a read), and
//! every refusal of an authenticated caller, is appended to the audit log before it runs: an
//! action the store cannot record is not performed (503).

mod access;
pub mod bodies;
mod routes;

pub use access::{
    guard, payload_view, required_role, same_origin, session_cookie, Actor, AdminAccess, Role,
    SESSION_COOKIE,
};
pub use routes::routes;
pub use routes::{ApiDoc, EventQuery};
