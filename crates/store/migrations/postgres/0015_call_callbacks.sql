-- An asynchronous call's callback: the configured destination its result is delivered to, as an
-- event appended in the same transaction that records the answer.
ALTER TABLE async_calls ADD COLUMN callback TEXT;
