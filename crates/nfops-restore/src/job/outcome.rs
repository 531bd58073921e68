//! Settling a restore run: what the database really is after the job, read
//! from the server, in the operator's words; storage put back after a
//! failure.

use nfops_core::jobs::{JobReport, JobState, StepState};
use nfops_mysql::Target;

use super::steps::{load, swap};
use super::{DatabaseState, RestorePlan, RestoreRun};

/// Where the run left the database: restored (old safety schemas pruned),
/// rolled back, untouched (shadow dropped) or needing attention (schemas
/// kept). After a failure it rolls back from the swap's ledger and then
/// reads the server: `Untouched` only when verified.
pub(super) async fn settle(
    run: &RestoreRun,
    plan: &RestorePlan,
    db: &str,
    job: &JobReport,
    target: Option<Target>,
) -> (DatabaseState, String, Option<String>) {
    // The step that stopped the run, named in the operator's words below.
    let stopped_at = job
        .steps
        .iter()
        .find(|s| matches!(s.1, StepState::Failed | StepState::Cancelled))
        .map_or_else(
            || "a step after the swap".to_owned(),
            |s| format!("the {} step", s.0),
        );
    let why = job
        .error
        .as_ref()
        .map(|e| format!(" ({})", e.message))
        .unwrap_or_default();
    match (&target, run.ledger.record(), job.state) {
        (Some(t), Some(r), JobState::Succeeded) => {
            if let Ok(dropped) = swap::prune_safety(t, run.req.safety_retention).await {
                for d in dropped {
                    tracing::info!(category = "worker", schema = %d, "old safety schema dropped (retention)");
                }
            }
            (
                DatabaseState::Restored,
                format!(
                    "backup {} is live in database '{}'; the previous tables are kept in schema {} for {} day(s)",
                    plan.backup_id,
                    t.database,
                    r.safety,
                    run.req.safety_retention.num_days()
                ),
                Some(r.safety),
            )
        }
        (Some(t), Some(r), _) => after_swap_failure(run, t, &r, &stopped_at, &why).await,
        (t, _, _) => {
            // No record (and no target: nothing connected): the swap wrote nothing outside the shadow yet.
            if let Some(t) = t {
                load::drop_shadow(t, &run.shadow).await;
            }
            (
                DatabaseState::Untouched,
                format!(
                    "database '{db}' was not touched: the restore stopped before the swap{why}{}",
                    if job.state == JobState::Succeeded {
                        ""
                    } else {
                        " (the shadow schema was dropped)"
                    }
                ),
                None,
            )
        }
    }
}

/// The swap had started (its record is stored): roll back, a few times
/// (an application transaction may hold the tables for a while), then read
/// on the server what is live.
async fn after_swap_failure(
    run: &RestoreRun,
    t: &Target,
    r: &swap::SwapRecord,
    stopped_at: &str,
    why: &str,
) -> (DatabaseState, String, Option<String>) {
    let bound = swap::LockBound::default();
    let mut failed = None;
    for attempt in 1..=bound.attempts {
        match swap::roll_back(t, r).await {
            Ok(()) => {
                failed = None;
                break;
            }
            Err(e) => {
                tracing::warn!(category = "worker", database = %t.database, attempt, error = %e, "rolling back the swap failed");
                failed = Some(e);
                tokio::time::sleep(bound.pause).await;
            }
        }
    }
    let seen = swap::inspect(t, r).await;
    let renamed = run.ledger.renamed();
    match (failed, seen) {
        (None, Ok(s)) if s.untouched() => {
            if renamed {
                (
                    DatabaseState::RolledBack,
                    format!(
                        "{stopped_at} did not complete after the swap{why}: database '{}' was rolled back to its previous tables (checked on the server)",
                        t.database
                    ),
                    None,
                )
            } else {
                (
                    DatabaseState::Untouched,
                    format!(
                        "database '{}' was not touched: the swap did not happen{why}; checked on the server: the previous tables and their triggers are live (shadow and safety schemas dropped)",
                        t.database
                    ),
                    None,
                )
            }
        }
        (failed, seen) => {
            let live = match &seen {
                Ok(s) => s.describe(r),
                Err(e) => format!(
                    "where the tables are could not be read ({}); the shadow schema {} and safety schema {} are kept",
                    e.message(),
                    r.shadow,
                    r.safety
                ),
            };
            let rb = failed
                .map(|e| format!(" and rolling back failed ({})", e.message()))
                .unwrap_or_default();
            (
                DatabaseState::NeedsAttention,
                format!(
                    "{stopped_at} did not complete{why}{rb}: {live}; run `nfops restore --roll-back --safety {}` when the server is free",
                    r.safety
                ),
                Some(r.safety.clone()),
            )
        }
    }
}

/// After a failed run: buckets the storage step changed go back to how they
/// were; `detail` says whether that worked.
pub(super) async fn put_storage_back(run: &RestoreRun, detail: &mut String) {
    let before = run
        .storage_before
        .lock()
        .unwrap_or_else(|p| p.into_inner())
        .clone();
    if !before.is_empty() {
        if let Some(st) = run.req.env.storage.as_ref() {
            match crate::storage::put_back(st, run.req.creds.as_ref(), &before).await {
                Ok(n) => detail.push_str(&format!("; storage was put back as it was before the restore ({n} key(s) changed back)")),
                Err(e) => detail.push_str(&format!(
                    "; storage may be partly restored: putting it back as it was failed ({}); run the restore again or restore the buckets from their versions",
                    e.message()
                )),
            }
        }
    }
}
