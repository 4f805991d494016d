-- Limits shared by every process on one database: each quota's leased shares (see
-- store/src/shares.rs) and circuits opened by one process for all. Times are the database's.
CREATE TABLE quotas (
    name TEXT PRIMARY KEY,
    paused_until BIGINT NOT NULL DEFAULT 0,
    learned TEXT NOT NULL DEFAULT ''
);

CREATE TABLE quota_shares (
    quota TEXT NOT NULL,
    holder TEXT NOT NULL,
    claim BIGINT NOT NULL,
    want BIGINT NOT NULL,
    expires_at BIGINT NOT NULL,
    hold_ms BIGINT NOT NULL,
    PRIMARY KEY (quota, holder)
);

CREATE TABLE circuits (
    name TEXT PRIMARY KEY,
    open_until BIGINT NOT NULL,
    opened_by TEXT NOT NULL
);

-- Shapes learned from payloads (schema drift), kept so a process that starts does not learn
-- them again from nothing; a shape is only replaced by one learned from more payloads.
CREATE TABLE learned_shapes (
    scope TEXT NOT NULL,
    subject TEXT NOT NULL,
    samples BIGINT NOT NULL,
    shape TEXT NOT NULL,
    saved_at BIGINT NOT NULL,
    PRIMARY KEY (scope, subject)
);
