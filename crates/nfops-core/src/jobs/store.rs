//! Persistence of jobs and their steps, so a crash leaves a readable record.

use serde::Serialize;
use sqlx::Row;

use crate::error::{Result, WireError};
use crate::state::State;

use super::{JobState, Plan, StepState};

/// A job as stored.
#[derive(Debug, Clone, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct JobRecord {
    pub id: String,
    pub kind: String,
    pub environment: Option<String>,
    pub state: JobState,
    pub plan: Plan,
    pub error: Option<WireError>,
    pub created_at: String,
    pub finished_at: Option<String>,
    pub steps: Vec<StepRecord>,
}

#[derive(Debug, Clone, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct StepRecord {
    pub index: usize,
    pub name: String,
    pub state: StepState,
    pub evidence: Option<String>,
    pub error: Option<WireError>,
}

/// Jobs in the state database.
#[derive(Clone, Debug)]
pub struct JobStore {
    state: State,
}

fn now() -> String {
    chrono::Utc::now().to_rfc3339_opts(chrono::SecondsFormat::Millis, true)
}

impl JobStore {
    pub fn new(state: State) -> Self {
        Self { state }
    }

    pub(crate) async fn create(&self, id: &str, plan: &Plan) -> Result<()> {
        let mut tx = self.state.pool().begin().await?;
        let t = now();
        let me = crate::host::this_process();
        sqlx::query("INSERT INTO jobs(id, kind, environment, state, plan, owner_pid, owner_started_at, heartbeat_at, created_at, updated_at) VALUES (?,?,?,?,?,?,?,?,?,?)")
            .bind(id)
            .bind(&plan.kind)
            .bind(&plan.environment)
            .bind(JobState::Running.as_str())
            .bind(serde_json::to_string(plan).unwrap_or_default())
            .bind(me.pid)
            .bind(me.started)
            .bind(&t)
            .bind(&t)
            .bind(&t)
            .execute(&mut *tx)
            .await?;
        for (i, s) in plan.steps.iter().enumerate() {
            sqlx::query("INSERT INTO job_steps(job_id, idx, name, state) VALUES (?,?,?,?)")
                .bind(id)
                .bind(i as i64)
                .bind(&s.name)
                .bind(StepState::Pending.as_str())
                .execute(&mut *tx)
                .await?;
        }
        tx.commit().await?;
        Ok(())
    }

    pub(crate) async fn heartbeat(&self, id: &str) -> Result<()> {
        sqlx::query("UPDATE jobs SET heartbeat_at = ? WHERE id = ? AND state = 'running'")
            .bind(now())
            .bind(id)
            .execute(self.state.pool())
            .await?;
        Ok(())
    }

    pub(crate) async fn step(
        &self,
        id: &str,
        index: usize,
        state: StepState,
        evidence: Option<&str>,
        error: Option<&WireError>,
    ) -> Result<()> {
        let t = now();
        let (started, finished) = match state {
            StepState::Running => (Some(t.clone()), None),
            StepState::Pending => (None, None),
            _ => (None, Some(t.clone())),
        };
        sqlx::query("UPDATE job_steps SET state = ?, evidence = COALESCE(?, evidence), error = ?, started_at = COALESCE(?, started_at), finished_at = ? WHERE job_id = ? AND idx = ?")
            .bind(state.as_str())
            .bind(evidence)
            .bind(error.map(|e| serde_json::to_string(e).unwrap_or_default()))
            .bind(started)
            .bind(finished)
            .bind(id)
            .bind(index as i64)
            .execute(self.state.pool())
            .await?;
        sqlx::query("UPDATE jobs SET updated_at = ?, heartbeat_at = ? WHERE id = ?")
            .bind(&t)
            .bind(&t)
            .bind(id)
            .execute(self.state.pool())
            .await?;
        Ok(())
    }

    pub(crate) async fn finish(
        &self,
        id: &str,
        state: JobState,
        error: Option<&WireError>,
    ) -> Result<()> {
        let t = now();
        sqlx::query(
            "UPDATE jobs SET state = ?, error = ?, updated_at = ?, finished_at = ? WHERE id = ?",
        )
        .bind(state.as_str())
        .bind(error.map(|e| serde_json::to_string(e).unwrap_or_default()))
        .bind(&t)
        .bind(&t)
        .bind(id)
        .execute(self.state.pool())
        .await?;
        Ok(())
    }

    /// Marks as interrupted every running job whose owner is gone: its process
    /// no longer runs (no process has its pid, or the one that has it started
    /// at another time: the pid was reused) or its heartbeat is older than
    /// `stale_after`. Call at start-up. Returns the ids marked.
    pub async fn recover_interrupted(&self, stale_after: chrono::Duration) -> Result<Vec<String>> {
        let rows =
            sqlx::query("SELECT id, owner_pid, owner_started_at, heartbeat_at FROM jobs WHERE state = 'running'")
                .fetch_all(self.state.pool())
                .await?;
        let mut marked = Vec::new();
        let cutoff = chrono::Utc::now() - stale_after;
        for row in rows {
            let id: String = row.try_get("id")?;
            let pid: Option<i64> = row.try_get("owner_pid")?;
            let started: Option<i64> = row.try_get("owner_started_at")?;
            let hb: Option<String> = row.try_get("heartbeat_at")?;
            let stale = hb
                .and_then(|h| chrono::DateTime::parse_from_rfc3339(&h).ok())
                .is_none_or(|h| h < cutoff);
            let gone = pid.and_then(|p| u32::try_from(p).ok()).is_some_and(|pid| {
                !crate::host::is_running(crate::host::ProcessStamp { pid, started })
            });
            if stale || gone {
                sqlx::query("UPDATE jobs SET state = 'interrupted', updated_at = ? WHERE id = ? AND state = 'running'").bind(now()).bind(&id).execute(self.state.pool()).await?;
                sqlx::query("UPDATE job_steps SET state = 'interrupted' WHERE job_id = ? AND state = 'running'").bind(&id).execute(self.state.pool()).await?;
                marked.push(id);
            }
        }
        Ok(marked)
    }

    /// The newest `limit` jobs, newest first, with their steps.
    pub async fn list(&self, limit: u32) -> Result<Vec<JobRecord>> {
        let ids: Vec<(String,)> =
            sqlx::query_as("SELECT id FROM jobs ORDER BY created_at DESC LIMIT ?")
                .bind(limit)
                .fetch_all(self.state.pool())
                .await?;
        let mut out = Vec::with_capacity(ids.len());
        for (id,) in ids {
            if let Some(j) = self.get(&id).await? {
                out.push(j);
            }
        }
        Ok(out)
    }

    pub async fn get(&self, id: &str) -> Result<Option<JobRecord>> {
        let Some(row) = sqlx::query("SELECT id, kind, environment, state, plan, error, created_at, finished_at FROM jobs WHERE id = ?").bind(id).fetch_optional(self.state.pool()).await? else {
            return Ok(None);
        };
        let steps = sqlx::query(
            "SELECT idx, name, state, evidence, error FROM job_steps WHERE job_id = ? ORDER BY idx",
        )
        .bind(id)
        .fetch_all(self.state.pool())
        .await?;
        let steps = steps
            .iter()
            .map(|s| {
                Ok(StepRecord {
                    index: s.try_get::<i64, _>("idx")? as usize,
                    name: s.try_get("name")?,
                    state: StepState::parse(&s.try_get::<String, _>("state")?),
                    evidence: s.try_get("evidence")?,
                    error: s
                        .try_get::<Option<String>, _>("error")?
                        .and_then(|e| serde_json::from_str(&e).ok()),
                })
            })
            .collect::<Result<Vec<_>>>()?;
        Ok(Some(JobRecord {
            id: row.try_get("id")?,
            kind: row.try_get("kind")?,
            environment: row.try_get("environment")?,
            state: JobState::parse(&row.try_get::<String, _>("state")?),
            plan: serde_json::from_str(&row.try_get::<String, _>("plan")?).unwrap_or_default(),
            error: row
                .try_get::<Option<String>, _>("error")?
                .and_then(|e| serde_json::from_str(&e).ok()),
            created_at: row.try_get("created_at")?,
            finished_at: row.try_get("finished_at")?,
            steps,
        }))
    }
}
