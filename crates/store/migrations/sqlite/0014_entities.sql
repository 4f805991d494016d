-- What every pulling source (a sync, a webhook source's reconciliation) knows of each entity:
-- the newest version it emitted (`seq` from the record's updated time or sequence, `hash` of its
-- content) and when a list last showed it (a full refresh's deletions are the entities it did
-- not show).
CREATE TABLE entities (
    source   TEXT    NOT NULL,
    key      TEXT    NOT NULL,
    seq      INTEGER,
    hash     TEXT,
    seen_at  INTEGER NOT NULL,
    PRIMARY KEY (source, key)
);
CREATE INDEX entities_seen ON entities (source, seen_at);

-- Where each pulling walk stands, written in the same transaction as the events of the page it
-- read: a process killed between pages resumes after the last page it committed.
CREATE TABLE sync_checkpoints (
    source      TEXT    NOT NULL,
    lane        TEXT    NOT NULL,
    state       TEXT    NOT NULL,
    updated_at  INTEGER NOT NULL,
    PRIMARY KEY (source, lane)
);
