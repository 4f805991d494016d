-- Erasure by data subject: which events are about which subject (SHA-256 of the subject's
-- identifier, never the identifier), and the erasures done (kept, so data about an erased
-- subject is not brought back silently).
CREATE TABLE event_subjects (
    subject  BYTEA  NOT NULL,
    event_id BIGINT NOT NULL,
    PRIMARY KEY (subject, event_id)
);
CREATE INDEX event_subjects_event ON event_subjects (event_id);

CREATE TABLE erasures (
    id         BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    subject    BYTEA  NOT NULL,
    at         BIGINT NOT NULL,
    actor      TEXT   NOT NULL,
    reason     TEXT   NOT NULL,
    erased     TEXT   NOT NULL
);
CREATE INDEX erasures_subject ON erasures (subject);
