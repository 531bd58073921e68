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
        (Some(t), Some(r), JobState::Succeeded) => (
            DatabaseState::Restored,
            format!(
                "backup {} is live in database '{}'; the previous tables are kept in schema {} for {} day(s){}",
                plan.backup_id,
                t.database,
                r.safety,
                run.req.safety_retention.num_days(),
                prune(run, t).await
            ),
            Some(r.safety),
        ),
        (Some(t), Some(r), _) => after_swap_failure(run, t, &r, &stopped_at, &why).await,
        (t, _, _) => {
            // No record (and no target: nothing connected): the swap wrote nothing outside the shadow yet.
            // Our shadow's name is unique to this job: dropping it never
            // touches another restore's work, with or without the lock.
            let dropped = match t {
                Some(t) => load::drop_shadow(t, &run.shadow).await,
                None => true,
            };
            (
                DatabaseState::Untouched,
                format!(
                    "database '{db}' was not touched: the restore stopped before the swap{why}{}",
                    match (job.state == JobState::Succeeded, dropped) {
                        (true, _) => String::new(),
                        (false, true) => " (the shadow schema was dropped)".to_owned(),
                        (false, false) => format!(
                            " (the shadow schema {} could not be dropped, see the log; the next restore of this database drops it)",
                            run.shadow
                        ),
                    }
                ),
                None,
            )
        }
    }
}

/// Drops safety schemas past their retention (under the lock); a failure
/// is logged and returned as a warning for the outcome's words.
async fn prune(run: &RestoreRun, t: &Target) -> String {
    let res = match run.ensure_lock("pruning old safety schemas").await {
        Ok(()) => swap::prune_safety(t, run.req.safety_retention).await,
        Err(e) => Err(e),
    };
    match res {
        Ok(dropped) => {
            for d in dropped {
                tracing::info!(category = "worker", schema = %d, "old safety schema dropped (retention)");
            }
            String::new()
        }
        Err(e) => {
            tracing::warn!(category = "worker", database = %t.database, error = %e, "old safety schemas were not pruned");
            format!(
                "; warning: safety schemas older than {} day(s) were not pruned ({}); the next restore tries again",
                run.req.safety_retention.num_days(),
                e.message()
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
    let mut lock_lost = false;
    for attempt in 1..=bound.attempts {
        // Another restore may own the database once our lock is gone: no DDL then.
        if let Err(e) = run.ensure_lock("rolling back the swap").await {
            failed = Some(e);
            lock_lost = true;
            break;
        }
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
        (Some(e), Ok(s)) if lock_lost && s.untouched() && !renamed => (
            DatabaseState::Untouched,
            format!(
                "database '{}' was not touched: the swap did not happen{why}; checked on the server: the previous tables and their triggers are live. The restore lock was lost ({}), so nothing more was run: the shadow schema {} and safety schema {} are kept; drop them once no restore of '{}' runs",
                t.database,
                e.message(),
                r.shadow,
                r.safety,
                t.database
            ),
            Some(r.safety.clone()),
        ),
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
