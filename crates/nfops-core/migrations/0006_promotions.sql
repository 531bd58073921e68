-- Promotions (staging -> production): one row per attempt, written when it
-- starts (state 'running', so a crash leaves a visible record) and completed
-- when it ends. Holds release ids, gate and verification results: never a secret.
CREATE TABLE promotions (
    id             TEXT PRIMARY KEY,
    from_env       TEXT NOT NULL,
    to_env         TEXT NOT NULL,
    release        TEXT,               -- the release promoted
    previous       TEXT,               -- JSON [[host, release before]]
    state          TEXT NOT NULL,      -- running | succeeded | refused | rolled_back | rollback_failed | failed
    summary        TEXT,               -- one sentence for the history list
    actor          TEXT NOT NULL,
    approver       TEXT,
    apply_job      TEXT,
    rollback_job   TEXT,
    plan           TEXT NOT NULL,      -- JSON PromotionPlan
    gates          TEXT,               -- JSON [GateResult]
    record         TEXT,               -- JSON RunRecord (baseline, verification samples)
    final_hosts    TEXT,               -- JSON [[host, release or error]] read at the end
    error          TEXT,               -- JSON {code, message, hint}
    started_at     TEXT NOT NULL,
    finished_at    TEXT,
    duration_ms    INTEGER
);
CREATE INDEX promotions_started ON promotions(started_at);
