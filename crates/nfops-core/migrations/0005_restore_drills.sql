-- Restore drills: the newest backup restored into a scratch database and
-- checked. The Overview warns when an environment's last successful drill is
-- older than its limit. Reports themselves are JSON/HTML files in the data
-- folder (reports/); this table keeps the measured time and the outcome.
CREATE TABLE restore_drills (
    id           TEXT PRIMARY KEY,
    environment  TEXT NOT NULL,
    backup_id    TEXT NOT NULL,
    started_at   TEXT NOT NULL,
    seconds      REAL NOT NULL,
    ok           INTEGER NOT NULL,     -- 1: restored and every check passed
    report_id    TEXT,
    note         TEXT NOT NULL
);
CREATE INDEX restore_drills_env ON restore_drills (environment, started_at);
