-- The queue's hot tables carry no foreign keys: each check was a query and a row lock on the
-- parent (with a WAL record) for every delivery and attempt written. The store writes a delivery
-- with its event in one statement, an attempt only for a delivery it holds, and purges children
-- before parents; SQLite never enforced them (foreign_keys = OFF).
ALTER TABLE deliveries DROP CONSTRAINT IF EXISTS deliveries_event_id_fkey;
ALTER TABLE attempts DROP CONSTRAINT IF EXISTS attempts_delivery_id_fkey;
