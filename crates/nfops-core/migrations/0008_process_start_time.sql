-- The start time (seconds since the Unix epoch) of the process a row names,
-- so a later process that got the same pid is not taken for it (pid reuse).
-- NULL in rows written before this column existed: judged by the pid alone.
ALTER TABLE jobs ADD COLUMN owner_started_at INTEGER;
ALTER TABLE environment_lease ADD COLUMN pid_started_at INTEGER;
