-- Inbound requests refused at intake (bad signature, stale timestamp, too large, unknown source,
-- bad body): the newest few per source, masked, for the request inspector.
CREATE TABLE rejected (
    id      BIGSERIAL PRIMARY KEY,
    source  TEXT    NOT NULL,
    at_ms   BIGINT  NOT NULL,
    reason  TEXT    NOT NULL,
    status  INTEGER NOT NULL,
    detail  TEXT    NOT NULL,
    headers TEXT    NOT NULL,
    body    TEXT    NOT NULL,
    size    BIGINT  NOT NULL
);
CREATE INDEX rejected_source ON rejected (source, id);
