-- Discarded deliveries: dead letters (or quarantined deliveries) an operator decided not to
-- deliver. Kept with who discarded them and why (dead_reason); they no longer block a fifo lane.
ALTER TABLE deliveries DROP CONSTRAINT IF EXISTS deliveries_state_check;
ALTER TABLE deliveries ADD CONSTRAINT deliveries_state_check
    CHECK (state IN ('pending', 'delivered', 'dead', 'stale', 'quarantined', 'discarded'));
