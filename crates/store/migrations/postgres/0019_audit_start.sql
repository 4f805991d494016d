-- Where the audit log starts once its oldest entries were moved to an archive: the last archived
-- entry's number and hash, which the first entry kept links to.
CREATE TABLE audit_start (
    id   INTEGER PRIMARY KEY CHECK (id = 1),
    seq  BIGINT  NOT NULL,
    hash TEXT    NOT NULL
);
