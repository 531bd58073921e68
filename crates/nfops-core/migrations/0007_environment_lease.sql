-- One operator per environment at a time, across processes: the holder of a
-- destructive or long action (restore, backup, promotion, secrets push,
-- scaling) and its heartbeat. A row whose heartbeat stopped (killed process)
-- is taken over after the lease's time-to-live; see nfops-core `lease`.
CREATE TABLE environment_lease (
    environment   TEXT PRIMARY KEY,
    token         TEXT NOT NULL,     -- random per acquisition; only its holder renews or releases
    operator      TEXT NOT NULL,     -- OS user name
    host          TEXT NOT NULL,     -- machine name
    pid           INTEGER NOT NULL,
    process_kind  TEXT NOT NULL,     -- cli | app
    action        TEXT NOT NULL,     -- restore | backup | promote | secrets-push | scale
    started_at    TEXT NOT NULL,
    heartbeat_at  TEXT NOT NULL
);
