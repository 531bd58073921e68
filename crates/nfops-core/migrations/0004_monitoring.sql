-- Uptime history: one row per probe check. `at` is Unix milliseconds so
-- range scans and percentages are integer comparisons.
CREATE TABLE uptime_samples (
    environment  TEXT NOT NULL,
    probe        TEXT NOT NULL,
    at           INTEGER NOT NULL,
    ok           INTEGER NOT NULL,     -- 1 up, 0 failed
    latency_ms   REAL,                 -- NULL when nothing answered
    detail       TEXT NOT NULL,        -- what was seen (status, error), never a secret
    PRIMARY KEY (environment, probe, at)
);

-- The alerting state of each probe: failures in a row, and whether a down
-- was raised (so recovery is raised once, by whichever process sees it).
CREATE TABLE uptime_state (
    environment           TEXT NOT NULL,
    probe                 TEXT NOT NULL,
    status                TEXT NOT NULL,  -- up | down | unknown
    consecutive_failures  INTEGER NOT NULL,
    changed_at            INTEGER NOT NULL,
    PRIMARY KEY (environment, probe)
);

-- Instances of the backend app per host, as PM2 reported them whenever the
-- console listed or scaled them: the source of the instances chart (the
-- stack's Prometheus scrapes only instances 0 and 1, so it cannot count them).
CREATE TABLE instance_samples (
    environment  TEXT NOT NULL,
    host         TEXT NOT NULL,
    app          TEXT NOT NULL,
    at           INTEGER NOT NULL,     -- Unix milliseconds
    online       INTEGER NOT NULL,
    total        INTEGER NOT NULL,
    PRIMARY KEY (environment, host, app, at)
);

-- Redis counters (INFO) per environment, sampled by the console: the source
-- of the cache charts (the stack runs no Redis exporter for Prometheus).
CREATE TABLE cache_samples (
    environment      TEXT NOT NULL,
    at               INTEGER NOT NULL,     -- Unix milliseconds
    used_memory      INTEGER NOT NULL,
    keyspace_hits    INTEGER NOT NULL,
    keyspace_misses  INTEGER NOT NULL,
    PRIMARY KEY (environment, at)
);
