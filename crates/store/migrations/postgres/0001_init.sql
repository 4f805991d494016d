-- Events, deliveries and attempts: the store is the only queue (a transactional outbox).
CREATE TABLE events (
    id          BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    source      TEXT    NOT NULL,
    external_id TEXT    NOT NULL,
    event_type  TEXT    NOT NULL,
    entity_key  TEXT,
    sequence    BIGINT,
    received_at BIGINT  NOT NULL,
    payload     BYTEA   NOT NULL,
    UNIQUE (source, external_id)
);

CREATE TABLE deliveries (
    id              BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    event_id        BIGINT  NOT NULL REFERENCES events (id),
    route           TEXT    NOT NULL,
    destination     TEXT    NOT NULL,
    state           TEXT    NOT NULL DEFAULT 'pending' CHECK (state IN ('pending', 'delivered', 'dead')),
    attempts        INTEGER NOT NULL DEFAULT 0,
    -- When due; while leased, when the lease expires (an expired lease is simply due again).
    next_attempt_at BIGINT  NOT NULL,
    lease_owner     TEXT,
    lease_epoch     BIGINT  NOT NULL DEFAULT 0,
    last_status     INTEGER,
    last_error      TEXT,
    dead_reason     TEXT,
    created_at      BIGINT  NOT NULL,
    finished_at     BIGINT
);
CREATE INDEX deliveries_due ON deliveries (next_attempt_at, id) WHERE state = 'pending';
CREATE INDEX deliveries_event ON deliveries (event_id);
CREATE INDEX deliveries_dead ON deliveries (destination, finished_at) WHERE state = 'dead';

CREATE TABLE attempts (
    id               BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    delivery_id      BIGINT  NOT NULL REFERENCES deliveries (id),
    attempt          INTEGER NOT NULL,
    outcome          TEXT    NOT NULL,
    started_at       BIGINT  NOT NULL,
    duration_ms      BIGINT  NOT NULL,
    status           INTEGER,
    error            TEXT,
    response_excerpt TEXT
);
CREATE INDEX attempts_delivery ON attempts (delivery_id);
