//! Wire types of the Backups page: the catalog, a run's summary, staleness,
//! and the retention (forget) plan.

use serde::Serialize;
use specta::Type;

use crate::failure::Failure;
use crate::jobs::JobSummary;

/// One backup of the catalog, or a folder without a valid manifest
/// (`state` = "incomplete": never shown as a backup). Sizes are f64: they
/// may exceed 2^32 and JavaScript numbers hold them exactly up to 2^53.
#[derive(Debug, Clone, Serialize, Type)]
#[serde(rename_all = "camelCase")]
pub struct BackupEntry {
    pub id: String,
    pub state: String,
    pub finished_at: Option<String>,
    pub duration_secs: Option<f64>,
    pub tables: Option<f64>,
    pub rows: Option<f64>,
    pub stored_bytes: Option<f64>,
    pub problem: Option<String>,
    pub verified_at: Option<String>,
    /// true passed, false failed, null never verified.
    pub verify_ok: Option<bool>,
    pub verify_note: Option<String>,
    /// "copied", "failed", "forgotten" or null.
    pub offsite_state: Option<String>,
    pub age_hours: Option<f64>,
    /// Objects named by the storage snapshots taken with the backup (null: none).
    pub storage_objects: Option<f64>,
}

impl From<nfops_backup::catalog::CatalogEntry> for BackupEntry {
    fn from(e: nfops_backup::catalog::CatalogEntry) -> Self {
        let now = chrono::Utc::now();
        Self {
            duration_secs: e.duration_secs(),
            age_hours: e.age_hours(now),
            id: e.id,
            state: e.state,
            finished_at: e.finished_at.map(|t| t.to_rfc3339()),
            tables: e.tables.map(|n| n as f64),
            rows: e.rows.map(|n| n as f64),
            stored_bytes: e.stored_bytes.map(|n| n as f64),
            problem: e.problem,
            verified_at: e.verified_at.map(|t| t.to_rfc3339()),
            verify_ok: e.verify_ok,
            verify_note: e.verify_note,
            offsite_state: e.offsite_state,
            storage_objects: e.storage_objects.map(|n| n as f64),
        }
    }
}

/// The Backups page of one environment: the catalog and whether it is stale.
#[derive(Debug, Clone, Serialize, Type)]
#[serde(rename_all = "camelCase")]
pub struct BackupCatalog {
    pub environment: String,
    pub entries: Vec<BackupEntry>,
    /// No good backup, or the newest is older than `max_staleness_hours`.
    pub stale: bool,
    pub max_staleness_hours: u32,
    pub newest_good: Option<String>,
    pub newest_good_age_hours: Option<f64>,
}

impl BackupCatalog {
    pub fn new(
        environment: String,
        entries: Vec<nfops_backup::catalog::CatalogEntry>,
        s: nfops_ops::Staleness,
    ) -> Self {
        Self {
            environment,
            entries: entries.into_iter().map(Into::into).collect(),
            stale: s.stale,
            max_staleness_hours: s.max_staleness_hours,
            newest_good: s.newest_good,
            newest_good_age_hours: s.age_hours,
        }
    }
}

/// How a backup run ended: the job's summary (state, steps, the step that
/// failed), then what happened to its copies.
#[derive(Debug, Clone, Serialize, Type)]
#[serde(rename_all = "camelCase")]
pub struct BackupRunResult {
    pub backup_id: String,
    #[serde(flatten)]
    pub job: JobSummary,
    /// The automatic offsite copy, when the environment has an offsite destination.
    pub offsite: Option<OffsiteCopyResult>,
    /// The upload to the S3 destination, when the environment's backups go
    /// to a bucket (without a verified upload there is no backup).
    pub upload: Option<OffsiteCopyResult>,
}

/// The offsite copy made after a backup run.
#[derive(Debug, Clone, Serialize, Type)]
#[serde(rename_all = "camelCase")]
pub struct OffsiteCopyResult {
    /// "copied" (uploaded and read back), "failed" or "cancelled".
    pub state: String,
    pub location: Option<String>,
    pub error: Option<Failure>,
}

impl From<nfops_backup::offsite::OffsiteCopy> for OffsiteCopyResult {
    fn from(c: nfops_backup::offsite::OffsiteCopy) -> Self {
        Self {
            state: c.state,
            location: c.location,
            error: c.error.map(Into::into),
        }
    }
}

impl From<nfops_backup::BackupOutcome> for BackupRunResult {
    fn from(o: nfops_backup::BackupOutcome) -> Self {
        Self {
            backup_id: o.backup_id,
            job: o.job.into(),
            offsite: o.offsite.map(Into::into),
            upload: o.upload.map(Into::into),
        }
    }
}

/// Whether the newest good backup of an environment is older than its
/// policy allows (for the Overview's warning).
#[derive(Debug, Clone, Serialize, Type)]
#[serde(rename_all = "camelCase")]
pub struct BackupStaleness {
    pub environment: String,
    pub stale: bool,
    pub max_staleness_hours: u32,
    pub newest_good: Option<String>,
    pub age_hours: Option<f64>,
    /// Why staleness could not be worked out (destination unreadable).
    pub error: Option<Failure>,
}

impl BackupStaleness {
    /// An environment whose staleness could not be worked out counts as stale.
    pub fn new(environment: String, s: nfops_core::Result<nfops_ops::Staleness>) -> Self {
        match s {
            Ok(s) => Self {
                environment,
                stale: s.stale,
                max_staleness_hours: s.max_staleness_hours,
                newest_good: s.newest_good,
                age_hours: s.age_hours,
                error: None,
            },
            Err(e) => Self {
                environment,
                stale: true,
                max_staleness_hours: 0,
                newest_good: None,
                age_hours: None,
                error: Some(e.into()),
            },
        }
    }
}

/// One backup in a retention plan: kept or forgotten, and every reason.
#[derive(Debug, Clone, Serialize, Type)]
#[serde(rename_all = "camelCase")]
pub struct RetentionDecision {
    pub id: String,
    pub at: String,
    pub keep: bool,
    pub age_days: f64,
    pub reasons: Vec<String>,
}

fn decisions(p: &nfops_backup::retention::RetentionPlan) -> Vec<RetentionDecision> {
    p.decisions
        .iter()
        .map(|d| RetentionDecision {
            id: d.id.clone(),
            at: d.at.to_rfc3339(),
            keep: d.keep,
            age_days: d.age_days as f64,
            reasons: d.reasons.clone(),
        })
        .collect()
}

/// The offsite copies' part of a forget plan.
#[derive(Debug, Clone, Serialize, Type)]
#[serde(rename_all = "camelCase")]
pub struct OffsiteForget {
    pub location: String,
    pub decisions: Vec<RetentionDecision>,
    /// Copies without a manifest object: not backups, left alone.
    pub incomplete: Vec<String>,
    pub removed: Vec<String>,
}

/// `forget` of one environment: the plan (local and offsite) and, once
/// applied, what was removed. `forgetIds` is what applying this plan deletes
/// (hand it back to `backup_forget_apply`).
#[derive(Debug, Clone, Serialize, Type)]
#[serde(rename_all = "camelCase")]
pub struct ForgetView {
    pub environment: String,
    pub applied: bool,
    pub decisions: Vec<RetentionDecision>,
    pub removed: Vec<String>,
    pub offsite: Option<OffsiteForget>,
    pub forget_ids: Vec<String>,
}

impl ForgetView {
    pub fn new(environment: String, o: nfops_ops::ForgetOutcome) -> Self {
        Self {
            forget_ids: nfops_ops::forget_ids(&o.plan, o.offsite.as_ref()),
            environment,
            applied: o.applied,
            decisions: decisions(&o.plan),
            removed: o.removed,
            offsite: o.offsite.map(|off| OffsiteForget {
                decisions: decisions(&off.plan),
                location: off.location,
                incomplete: off.incomplete,
                removed: off.removed,
            }),
        }
    }
}
