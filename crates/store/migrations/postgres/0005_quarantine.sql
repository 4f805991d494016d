-- Quarantined deliveries: a mapping failed on the event, or its output broke the destination's
-- model. Kept with the errors (dead_reason) until replayed.
ALTER TABLE deliveries DROP CONSTRAINT IF EXISTS deliveries_state_check;
ALTER TABLE deliveries ADD CONSTRAINT deliveries_state_check
    CHECK (state IN ('pending', 'delivered', 'dead', 'stale', 'quarantined'));
DROP INDEX IF EXISTS deliveries_lane;
CREATE INDEX deliveries_lane ON deliveries (route, destination, lane, seq, id)
    WHERE lane IS NOT NULL AND state IN ('pending', 'dead', 'quarantined');
CREATE INDEX deliveries_quarantined ON deliveries (destination, finished_at) WHERE state = 'quarantined';
