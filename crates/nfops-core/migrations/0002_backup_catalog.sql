-- Cache of the backup catalog. The destination is the source of truth: a
-- refresh rewrites every row from its listing and drops rows whose backup is
-- gone. Verification results and offsite copy state are recorded here (they
-- are not in the manifest) and survive refreshes while the backup exists.
CREATE TABLE backup_catalog (
    environment    TEXT NOT NULL,
    id             TEXT NOT NULL,
    state          TEXT NOT NULL,      -- complete | incomplete
    started_at     TEXT,
    finished_at    TEXT,
    tables         INTEGER,
    rows           INTEGER,
    stored_bytes   INTEGER,
    problem        TEXT,               -- why it is incomplete
    verified_at    TEXT,
    verify_ok      INTEGER,            -- 1 passed, 0 failed, NULL never verified
    verify_note    TEXT,
    offsite_state  TEXT,               -- copied | failed | NULL (no copy)
    offsite_at     TEXT,
    refreshed_at   TEXT NOT NULL,
    PRIMARY KEY (environment, id)
);
