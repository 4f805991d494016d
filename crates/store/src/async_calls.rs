//! Asynchronous operation calls: the types of the `AsyncCalls` aggregate and its SQL, the same on
//! both backends.

/// Answered calls are kept this long for their callers to read, then purged.
pub const KEEP_ANSWERED: std::time::Duration = std::time::Duration::from_secs(24 * 3600);

/// A call to queue: answered `202` at once, run as a durable job.
#[derive(Debug, Clone)]
pub struct NewCall {
    /// The call's public id (its status URL).
    pub uid: String,
    pub connector: String,
    pub operation: String,
    pub connection: String,
    /// The API token that made it: only it reads the answer.
    pub caller: String,
    /// The caller's input, as JSON.
    pub input: String,
    /// The process that runs it at once (stored running, taken): one write instead of two.
    pub owner: Option<String>,
    /// The configured destination its result is delivered to, if the caller asked.
    pub callback: Option<String>,
    pub now: i64,
}

/// Where an asynchronous call stands.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum CallState {
    Queued,
    Running,
    Done,
}

impl CallState {
    pub fn as_str(self) -> &'static str {
        match self {
            CallState::Queued => "queued",
            CallState::Running => "running",
            CallState::Done => "done",
        }
    }

    fn parse(s: &str) -> Self {
        match s {
            "queued" => CallState::Queued,
            "running" => CallState::Running,
            _ => CallState::Done,
        }
    }
}

/// A stored asynchronous call.
#[derive(Debug, Clone, PartialEq)]
pub struct AsyncCall {
    pub uid: String,
    pub connector: String,
    pub operation: String,
    pub connection: String,
    pub caller: String,
    pub input: String,
    pub state: CallState,
    pub owner: Option<String>,
    /// How many times a process took it (more than one: its first runner died).
    pub tries: i32,
    pub created_at: i64,
    pub finished_at: Option<i64>,
    /// The answer's status and body, once done.
    pub status: Option<i32>,
    pub body: Option<String>,
    /// The destination its result is delivered to.
    pub callback: Option<String>,
}

pub(crate) const COLUMNS: &str = "uid, connector, operation, connection, caller, input, state, owner, tries, created_at, finished_at, status, body, callback";

#[allow(clippy::type_complexity)]
pub(crate) fn from_parts(
    parts: (
        String,
        String,
        String,
        String,
        String,
        String,
        String,
        Option<String>,
        i32,
        i64,
        Option<i64>,
        Option<i32>,
        Option<String>,
        Option<String>,
    ),
) -> AsyncCall {
    let (
        uid,
        connector,
        operation,
        connection,
        caller,
        input,
        state,
        owner,
        tries,
        created_at,
        finished_at,
        status,
        body,
        callback,
    ) = parts;
    AsyncCall {
        uid,
        connector,
        operation,
        connection,
        caller,
        input,
        state: CallState::parse(&state),
        owner,
        tries,
        created_at,
        finished_at,
        status,
        body,
        callback,
    }
}

/// A new call: queued, or running under owner `p(8)` when it is not NULL.
pub(crate) fn insert(p: &dyn Fn(usize) -> String) -> String {
    format!(
        "INSERT INTO async_calls (uid, connector, operation, connection, caller, input, state, owner, tries, created_at, heartbeat_at, callback)
         VALUES ({}, {}, {}, {}, {}, {},
                 CASE WHEN {o} IS NULL THEN 'queued' ELSE 'running' END, {o},
                 CASE WHEN {o} IS NULL THEN 0 ELSE 1 END, {n}, {n}, {})",
        p(1),
        p(2),
        p(3),
        p(4),
        p(5),
        p(6),
        p(9),
        n = p(7),
        o = p(8)
    )
}

/// Takes call `p(1)` for owner `p(2)` at `p(3)`: a queued one, or a running one whose owner has
/// not beaten since `p(4)`.
pub(crate) fn take(p: &dyn Fn(usize) -> String) -> String {
    format!(
        "UPDATE async_calls SET state = 'running', owner = {o}, tries = tries + 1, heartbeat_at = {n}
         WHERE uid = {u} AND (state = 'queued' OR (state = 'running' AND heartbeat_at < {b}))
         RETURNING {COLUMNS}",
        u = p(1),
        o = p(2),
        n = p(3),
        b = p(4)
    )
}

pub(crate) fn beat(p: &dyn Fn(usize) -> String) -> String {
    format!(
        "UPDATE async_calls SET heartbeat_at = {} WHERE uid = {} AND owner = {} AND state = 'running'",
        p(3),
        p(1),
        p(2)
    )
}

/// Finishes call `p(1)` if owner `p(2)` still holds it.
pub(crate) fn finish(p: &dyn Fn(usize) -> String) -> String {
    format!(
        "UPDATE async_calls SET state = 'done', status = {}, body = {}, finished_at = {n}, heartbeat_at = {n}
         WHERE uid = {} AND owner = {} AND state = 'running'",
        p(3),
        p(4),
        p(1),
        p(2),
        n = p(5)
    )
}

pub(crate) fn get(p: &dyn Fn(usize) -> String) -> String {
    format!("SELECT {COLUMNS} FROM async_calls WHERE uid = {}", p(1))
}

/// Calls left behind: queued or running without a heartbeat since `p(1)`; at most `p(2)`.
pub(crate) fn abandoned(p: &dyn Fn(usize) -> String) -> String {
    format!(
        "SELECT uid FROM async_calls WHERE state IN ('queued', 'running') AND heartbeat_at < {}
         ORDER BY heartbeat_at LIMIT {}",
        p(1),
        p(2)
    )
}

pub(crate) fn purge(p: &dyn Fn(usize) -> String) -> String {
    format!(
        "DELETE FROM async_calls WHERE state = 'done' AND finished_at < {}",
        p(1)
    )
}
