-- Scheduled and manual runs of jobs (contract probes, syncs, reconciliations): one row per run.
-- `(job, slot)` is unique, so of the processes that find a slot due, exactly one inserts its run.
CREATE TABLE job_runs (
    id           INTEGER PRIMARY KEY AUTOINCREMENT,
    job          TEXT    NOT NULL,
    slot         INTEGER NOT NULL,
    trigger      TEXT    NOT NULL,
    state        TEXT    NOT NULL,
    owner        TEXT    NOT NULL,
    started_at   INTEGER NOT NULL,
    heartbeat_at INTEGER NOT NULL,
    finished_at  INTEGER,
    progress     TEXT    NOT NULL DEFAULT '{}',
    result       TEXT    NOT NULL DEFAULT '{}',
    error        TEXT,
    UNIQUE (job, slot)
);
CREATE INDEX job_runs_job ON job_runs (job, id);
CREATE INDEX job_runs_running ON job_runs (state, heartbeat_at) WHERE state = 'running';

-- Jobs an operator paused: no scheduled run starts until resumed.
CREATE TABLE job_pauses (
    job    TEXT    PRIMARY KEY,
    at     INTEGER NOT NULL,
    actor  TEXT    NOT NULL
);
