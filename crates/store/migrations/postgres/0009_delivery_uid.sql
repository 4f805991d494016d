-- A delivery's public id (`webhook-id`, `Idempotency-Key`): `msg_` and a UUIDv7, made when the
-- delivery is inserted and kept for every attempt and replay. Row ids restart with every database,
-- so ids built from them repeated across databases and hubs. Deliveries inserted before this
-- migration have none and keep the id they were sent with (`msg_EVENT_DELIVERY`).
ALTER TABLE deliveries ADD COLUMN uid TEXT;
