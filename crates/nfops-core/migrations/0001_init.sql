-- Jobs: a plan, then steps. State survives a crash: a running job whose
-- heartbeat stopped is marked interrupted at the next start.
CREATE TABLE jobs (
    id            TEXT PRIMARY KEY,
    kind          TEXT NOT NULL,
    environment   TEXT,
    state         TEXT NOT NULL,
    plan          TEXT NOT NULL,      -- JSON; never holds a secret
    error         TEXT,               -- JSON {code, message, hint}
    owner_pid     INTEGER,
    heartbeat_at  TEXT,
    created_at    TEXT NOT NULL,
    updated_at    TEXT NOT NULL,
    finished_at   TEXT
);
CREATE INDEX jobs_state ON jobs(state);

CREATE TABLE job_steps (
    job_id       TEXT NOT NULL REFERENCES jobs(id) ON DELETE CASCADE,
    idx          INTEGER NOT NULL,
    name         TEXT NOT NULL,
    state        TEXT NOT NULL,
    evidence     TEXT,                -- what was checked to call it completed
    error        TEXT,
    started_at   TEXT,
    finished_at  TEXT,
    PRIMARY KEY (job_id, idx)
);

-- The audit log: append-only and hash-chained.
CREATE TABLE audit_log (
    seq          INTEGER PRIMARY KEY,
    at           TEXT NOT NULL,
    actor        TEXT NOT NULL,
    action       TEXT NOT NULL,
    environment  TEXT,
    target       TEXT,
    outcome      TEXT NOT NULL,
    details      TEXT NOT NULL,
    prev_hash    TEXT NOT NULL,
    hash         TEXT NOT NULL
);
CREATE TRIGGER audit_log_no_update BEFORE UPDATE ON audit_log
BEGIN SELECT RAISE(ABORT, 'the audit log is append-only'); END;
CREATE TRIGGER audit_log_no_delete BEFORE DELETE ON audit_log
BEGIN SELECT RAISE(ABORT, 'the audit log is append-only'); END;

-- When each credential was last changed. Never the value.
CREATE TABLE credential_meta (
    name        TEXT PRIMARY KEY,
    changed_at  TEXT NOT NULL
);
