-- Discarded deliveries: dead letters (or quarantined deliveries) an operator decided not to
-- deliver. Kept with who discarded them and why (dead_reason); they no longer block a fifo lane
-- and are purged with their event after the retention.
-- SQLite cannot alter a CHECK constraint, so deliveries is rebuilt (same columns, same order).
CREATE TABLE deliveries_new (
    id              INTEGER PRIMARY KEY,
    event_id        INTEGER NOT NULL REFERENCES events (id),
    route           TEXT    NOT NULL,
    destination     TEXT    NOT NULL,
    state           TEXT    NOT NULL DEFAULT 'pending' CHECK (state IN ('pending', 'delivered', 'dead', 'stale', 'quarantined', 'discarded')),
    attempts        INTEGER NOT NULL DEFAULT 0,
    next_attempt_at INTEGER NOT NULL,
    lease_owner     TEXT,
    lease_epoch     INTEGER NOT NULL DEFAULT 0,
    last_status     INTEGER,
    last_error      TEXT,
    dead_reason     TEXT,
    created_at      INTEGER NOT NULL,
    finished_at     INTEGER,
    -- 0 none, 1 fifo, 2 latest. Ordered deliveries with an entity key form a lane
    -- (route, destination, lane) taken in (seq, id) order.
    ordering        INTEGER NOT NULL DEFAULT 0,
    lane            TEXT,
    seq             INTEGER
);
INSERT INTO deliveries_new SELECT * FROM deliveries;
DROP TABLE deliveries;
ALTER TABLE deliveries_new RENAME TO deliveries;
CREATE INDEX deliveries_destination_due ON deliveries (destination, next_attempt_at, id) WHERE state = 'pending';
CREATE INDEX deliveries_event ON deliveries (event_id);
CREATE INDEX deliveries_dead ON deliveries (destination, finished_at) WHERE state = 'dead';
CREATE INDEX deliveries_lane ON deliveries (route, destination, lane, seq, id)
    WHERE lane IS NOT NULL AND state IN ('pending', 'dead', 'quarantined');
CREATE INDEX deliveries_quarantined ON deliveries (destination, finished_at) WHERE state = 'quarantined';

