-- The audit log: one row per admin action or secret access, each row's hash covering the
-- previous row's hash, so a changed or deleted row breaks the chain.
CREATE TABLE audit (
    seq       INTEGER PRIMARY KEY,
    at        INTEGER NOT NULL,
    actor     TEXT    NOT NULL,
    action    TEXT    NOT NULL,
    target    TEXT    NOT NULL,
    origin    TEXT    NOT NULL,
    detail    TEXT    NOT NULL,
    prev_hash TEXT    NOT NULL,
    hash      TEXT    NOT NULL
);
-- The chain's newest row, written with it: deleting rows at the end is detected too.
CREATE TABLE audit_head (
    id   INTEGER PRIMARY KEY CHECK (id = 1),
    seq  INTEGER NOT NULL,
    hash TEXT    NOT NULL
);

-- Per-minute history of calls, webhooks and deliveries: one row per minute, series and process.
CREATE TABLE minutes (
    minute INTEGER NOT NULL,
    kind   TEXT    NOT NULL,
    name   TEXT    NOT NULL,
    node   TEXT    NOT NULL,
    counts TEXT    NOT NULL,
    hist   TEXT    NOT NULL,
    PRIMARY KEY (minute, kind, name, node)
);

-- Alerts: the state every process agrees on, changed only by compare-and-set.
CREATE TABLE alerts (
    key         TEXT    PRIMARY KEY,
    rule        TEXT    NOT NULL,
    subject     TEXT    NOT NULL,
    severity    TEXT    NOT NULL,
    state       TEXT    NOT NULL,
    value       REAL    NOT NULL,
    message     TEXT    NOT NULL,
    since       INTEGER NOT NULL,
    updated_at  INTEGER NOT NULL,
    fired_count INTEGER NOT NULL
);
