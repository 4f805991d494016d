-- Ordering lanes, stale deliveries, destination state.
ALTER TABLE deliveries DROP CONSTRAINT IF EXISTS deliveries_state_check;
ALTER TABLE deliveries ADD CONSTRAINT deliveries_state_check
    CHECK (state IN ('pending', 'delivered', 'dead', 'stale'));
-- 0 none, 1 fifo, 2 latest. Ordered deliveries with an entity key form a lane
-- (route, destination, lane) taken in (seq, id) order.
ALTER TABLE deliveries ADD COLUMN ordering SMALLINT NOT NULL DEFAULT 0;
ALTER TABLE deliveries ADD COLUMN lane TEXT;
ALTER TABLE deliveries ADD COLUMN seq BIGINT;
-- Each destination's dispatcher claims its own work; the global due index is no longer used.
DROP INDEX IF EXISTS deliveries_due;
CREATE INDEX deliveries_destination_due ON deliveries (destination, next_attempt_at, id) WHERE state = 'pending';
CREATE INDEX deliveries_lane ON deliveries (route, destination, lane, seq, id)
    WHERE lane IS NOT NULL AND state IN ('pending', 'dead');

-- The newest sequence delivered per lane, for `latest` ordering.
CREATE TABLE lane_versions (
    route       TEXT   NOT NULL,
    destination TEXT   NOT NULL,
    lane        TEXT   NOT NULL,
    seq         BIGINT NOT NULL,
    PRIMARY KEY (route, destination, lane)
);

-- Destinations an operator or a 410 Gone disabled.
CREATE TABLE destination_state (
    name        TEXT   PRIMARY KEY,
    disabled_at BIGINT NOT NULL,
    reason      TEXT   NOT NULL
);
