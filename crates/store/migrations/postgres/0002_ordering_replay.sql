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

-- deliveries is a queue table: every claim and finish rewrites rows whose columns are indexed, so
-- dead index entries pile up at the head of the claim index. Vacuum it early and without pauses.
ALTER TABLE deliveries SET (autovacuum_vacuum_scale_factor = 0.01, autovacuum_vacuum_threshold = 1000,
                            autovacuum_vacuum_cost_delay = 0, autovacuum_analyze_scale_factor = 0.02);
ALTER TABLE attempts SET (autovacuum_vacuum_scale_factor = 0.05);
