-- Operation calls answered `202 Accepted` at once and run as durable jobs: the request as the
-- caller sent it, then the answer, read back at the call's status URL.
CREATE TABLE async_calls (
    id           INTEGER PRIMARY KEY AUTOINCREMENT,
    uid          TEXT    NOT NULL UNIQUE,
    connector    TEXT    NOT NULL,
    operation    TEXT    NOT NULL,
    connection   TEXT    NOT NULL,
    caller       TEXT    NOT NULL,
    input        TEXT    NOT NULL,
    state        TEXT    NOT NULL,
    owner        TEXT,
    tries        INTEGER NOT NULL DEFAULT 0,
    created_at   INTEGER NOT NULL,
    heartbeat_at INTEGER NOT NULL,
    finished_at  INTEGER,
    status       INTEGER,
    body         TEXT
);
CREATE INDEX async_calls_open ON async_calls (state, heartbeat_at) WHERE state IN ('queued', 'running');
CREATE INDEX async_calls_finished ON async_calls (finished_at) WHERE finished_at IS NOT NULL;
