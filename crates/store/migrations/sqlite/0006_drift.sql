-- Schema drift seen by any process: one row per (scope, subject, path, kind).
CREATE TABLE drift (
    scope      TEXT    NOT NULL,
    subject    TEXT    NOT NULL,
    path       TEXT    NOT NULL,
    kind       TEXT    NOT NULL,
    detail     TEXT    NOT NULL,
    first_seen INTEGER NOT NULL,
    last_seen  INTEGER NOT NULL,
    count      INTEGER NOT NULL,
    PRIMARY KEY (scope, subject, path, kind)
);
CREATE INDEX drift_last_seen ON drift (last_seen);
