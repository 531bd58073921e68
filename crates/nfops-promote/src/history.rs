//! The promotion history: one row per attempt in the state database's
//! `promotions` table (migration `nfops-core/migrations/0006_promotions.sql`),
//! written when it starts (state `running`, so a crash leaves a visible
//! record) and completed when it ends. Holds release ids, gate and
//! verification results: never a secret.

use nfops_core::jobs::{JobState, JobStore};
use nfops_core::state::State;
use nfops_core::Result;
use serde::Serialize;
use sqlx::Row;

use crate::run::gates::GateResult;
use crate::run::outcome::{FinalHost, PromotionOutcome, PromotionState};

/// One row of the promotion history.
#[derive(Debug, Clone, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct PromotionRecord {
    pub id: String,
    pub from_env: String,
    pub to_env: String,
    pub release: Option<String>,
    pub previous: Vec<(String, String)>,
    pub state: PromotionState,
    pub summary: Option<String>,
    pub actor: String,
    pub approver: Option<String>,
    pub gates: Vec<GateResult>,
    pub final_hosts: Vec<FinalHost>,
    pub started_at: String,
    pub finished_at: Option<String>,
    pub duration_ms: Option<i64>,
}

fn now() -> String {
    chrono::Utc::now().to_rfc3339_opts(chrono::SecondsFormat::Millis, true)
}

/// Records that `o` started (state `running`), run by `actor`.
///
/// Errors: `state.*` when the database write fails.
pub async fn start(state: &State, o: &PromotionOutcome, actor: &str) -> Result<()> {
    let plan = &o.plan;
    let previous: Vec<(String, String)> = plan
        .hosts
        .iter()
        .map(|h| (h.host.clone(), h.from.clone().unwrap_or_default()))
        .collect();
    sqlx::query(
        "INSERT INTO promotions (id, from_env, to_env, release, previous, state, actor, approver, plan, started_at)
         VALUES (?, ?, ?, ?, ?, 'running', ?, ?, ?, ?)",
    )
    .bind(&o.id)
    .bind(&plan.from_env)
    .bind(&plan.to_env)
    .bind(plan.release.as_ref().map(|r| r.id.clone()))
    .bind(json(&previous))
    .bind(actor)
    .bind(plan.options.approver.clone())
    .bind(json(plan))
    .bind(now())
    .execute(state.pool())
    .await?;
    Ok(())
}

/// Completes the row of `o` with how it ended.
///
/// Errors: `state.*` when the database write fails.
pub async fn finish(state: &State, o: &PromotionOutcome) -> Result<()> {
    sqlx::query(
        "UPDATE promotions SET state = ?, summary = ?, apply_job = ?, rollback_job = ?, gates = ?, record = ?,
         final_hosts = ?, error = ?, finished_at = ?, duration_ms = ? WHERE id = ?",
    )
    .bind(o.state.as_str())
    .bind(&o.summary)
    .bind(o.apply.as_ref().map(|j| j.job_id.clone()))
    .bind(o.rollback.as_ref().map(|j| j.job_id.clone()))
    .bind(json(&o.gates))
    .bind(json(&o.record))
    .bind(json(&o.final_hosts))
    .bind(o.error.as_ref().map(json))
    .bind(now())
    .bind(o.duration_ms as i64)
    .bind(&o.id)
    .execute(state.pool())
    .await?;
    Ok(())
}

/// The median duration (seconds) of recent successful promotions from
/// `from` to `to`; `None` when there is none yet.
///
/// Errors: `state.*`.
pub async fn median_secs(state: &State, from: &str, to: &str) -> Result<Option<u64>> {
    let mut past: Vec<i64> = sqlx::query_scalar(
        "SELECT duration_ms FROM promotions WHERE from_env = ? AND to_env = ? AND state = 'succeeded'
         AND duration_ms IS NOT NULL ORDER BY started_at DESC LIMIT 9",
    )
    .bind(from)
    .bind(to)
    .fetch_all(state.pool())
    .await?;
    if past.is_empty() {
        return Ok(None);
    }
    past.sort_unstable();
    Ok(Some(
        u64::try_from(past[past.len() / 2] / 1000).unwrap_or(0),
    ))
}

/// Promotions, newest first. A promotion still `running` after two minutes
/// without a running promotion job in `jobs` was cut off by a crash or a
/// kill: it is marked `interrupted` here (its hosts may differ; plan again).
///
/// Errors: `state.*`.
pub async fn list(state: &State, jobs: &JobStore, limit: u32) -> Result<Vec<PromotionRecord>> {
    let busy = jobs
        .list(200)
        .await?
        .iter()
        .any(|j| j.state == JobState::Running && j.kind.starts_with("promote."));
    if !busy {
        let cutoff = (chrono::Utc::now() - chrono::Duration::minutes(2))
            .to_rfc3339_opts(chrono::SecondsFormat::Millis, true);
        sqlx::query(
            "UPDATE promotions SET state = 'interrupted', summary = 'Interrupted: the process running it went away. Hosts may run different releases: plan again to see them.'
             WHERE state = 'running' AND started_at < ?",
        )
        .bind(cutoff)
        .execute(state.pool())
        .await?;
    }
    let rows = sqlx::query(
        "SELECT id, from_env, to_env, release, previous, state, summary, actor, approver, gates, final_hosts,
                started_at, finished_at, duration_ms
         FROM promotions ORDER BY started_at DESC LIMIT ?",
    )
    .bind(i64::from(limit))
    .fetch_all(state.pool())
    .await?;
    Ok(rows
        .iter()
        .map(|r| PromotionRecord {
            id: r.get("id"),
            from_env: r.get("from_env"),
            to_env: r.get("to_env"),
            release: r.get("release"),
            previous: parse_json(r.get("previous")),
            state: PromotionState::parse(r.get::<String, _>("state").as_str()),
            summary: r.get("summary"),
            actor: r.get("actor"),
            approver: r.get("approver"),
            gates: parse_json(r.get("gates")),
            final_hosts: parse_final(r.get("final_hosts")),
            started_at: r.get("started_at"),
            finished_at: r.get("finished_at"),
            duration_ms: r.get("duration_ms"),
        })
        .collect())
}

fn json<T: Serialize + ?Sized>(v: &T) -> String {
    serde_json::to_string(v).unwrap_or_else(|_| "null".into())
}

fn parse_json<T: serde::de::DeserializeOwned + Default>(s: Option<String>) -> T {
    s.and_then(|s| serde_json::from_str(&s).ok())
        .unwrap_or_default()
}

fn parse_final(s: Option<String>) -> Vec<FinalHost> {
    let v: Vec<serde_json::Value> = parse_json(s);
    v.iter()
        .map(|h| FinalHost {
            host: h["host"].as_str().unwrap_or("").to_owned(),
            release: h["release"].as_str().map(str::to_owned),
            problem: h["problem"].as_str().map(str::to_owned),
        })
        .collect()
}
