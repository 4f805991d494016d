-- What an event carries beside its body: the trace it arrived in (a W3C traceparent, continued
-- by each delivery attempt) and the provider headers its source forwards to destinations (a JSON
-- object of lower-case names; NULL when the source forwards none).
ALTER TABLE events ADD COLUMN traceparent TEXT;
ALTER TABLE events ADD COLUMN headers TEXT;
