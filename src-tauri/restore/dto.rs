//! Wire types of the Restore and Integrity pages; each converts explicitly
//! from its domain type.

use serde::{Deserialize, Serialize};
use specta::Type;

use crate::jobs::JobSummary;

/// What the operator chose about the backup's origin and storage in the
/// Restore wizard (one argument: tauri-specta takes at most 10).
#[derive(Debug, Clone, Copy, Default, Deserialize, Type)]
#[serde(rename_all = "camelCase")]
pub struct RestoreOptions {
    /// Restore a backup taken of another environment.
    pub other_environment: bool,
    /// Leave the environment's buckets as they are.
    pub without_storage: bool,
}

/// One table of a restore plan.
#[derive(Debug, Clone, Serialize, Type)]
#[serde(rename_all = "camelCase")]
pub struct RestoreTable {
    pub name: String,
    pub backup_rows: f64,
    pub current_rows: Option<f64>,
}

/// One preflight check.
#[derive(Debug, Clone, Serialize, Type)]
#[serde(rename_all = "camelCase")]
pub struct PreflightItem {
    pub name: String,
    pub ok: bool,
    pub detail: String,
}

/// What a storage restore changes in one bucket.
#[derive(Debug, Clone, Serialize, Type)]
#[serde(rename_all = "camelCase")]
pub struct BucketChange {
    pub bucket: String,
    pub prefix: Option<String>,
    pub rolled_back: Vec<String>,
    pub hidden: Vec<String>,
    pub unchanged: u32,
}

/// One planned step.
#[derive(Debug, Clone, Serialize, Type)]
#[serde(rename_all = "camelCase")]
pub struct PlanStep {
    pub name: String,
    pub description: String,
}

/// The dry run of a restore, for the wizard's plan page.
#[derive(Debug, Clone, Serialize, Type)]
#[serde(rename_all = "camelCase")]
pub struct RestorePlanView {
    pub backup_id: String,
    pub environment: String,
    pub database: String,
    pub summary: String,
    pub whole: bool,
    pub tables: Vec<RestoreTable>,
    pub tables_removed: Vec<String>,
    pub views: Vec<String>,
    pub triggers: Vec<String>,
    pub routines: Vec<String>,
    pub events: Vec<String>,
    /// The backup's objects in scope (kind, name, owner, security, state),
    /// or one line "no inventory recorded".
    pub inventory: Vec<String>,
    /// Objects that would be owned by the restoring account instead of their recorded owner.
    pub owner_changes: Vec<String>,
    /// Objects the restore would lose (exist now and not in the backup, or not restorable here).
    pub objects_lost: Vec<String>,
    pub storage: Vec<BucketChange>,
    pub preflight: Vec<PreflightItem>,
    pub ready: bool,
    pub server_version: String,
    pub backup_server_version: String,
    pub estimated_seconds: f64,
    pub steps: Vec<PlanStep>,
    /// Cache keys flushed: `db N, prefix P` (None: no cache).
    pub cache: Option<String>,
    /// Hosts whose PM2 processes are reloaded.
    pub hosts: Vec<String>,
    /// Production: the wizard asks for the environment's name typed.
    pub needs_typed_confirmation: bool,
}

impl RestorePlanView {
    pub fn new(p: nfops_restore::RestorePlan, env: &nfops_core::config::Environment) -> Self {
        Self {
            ready: p.ready(),
            backup_id: p.backup_id,
            environment: p.environment,
            database: p.database,
            summary: p.plan.summary,
            whole: p.whole,
            tables: p
                .tables
                .into_iter()
                .map(|t| RestoreTable {
                    name: t.name,
                    backup_rows: t.backup_rows as f64,
                    current_rows: t.current_rows.map(|r| r as f64),
                })
                .collect(),
            tables_removed: p.tables_removed,
            views: p.views,
            triggers: p.triggers,
            routines: p.routines,
            events: p.events,
            inventory: p.inventory,
            owner_changes: p.owner_changes,
            objects_lost: p.objects_lost,
            storage: p
                .storage
                .into_iter()
                .map(|s| BucketChange {
                    bucket: s.bucket,
                    prefix: s.prefix,
                    rolled_back: s.roll_back.into_iter().map(|r| r.key).collect(),
                    hidden: s.hide,
                    unchanged: u32::try_from(s.unchanged).unwrap_or(u32::MAX),
                })
                .collect(),
            preflight: p
                .preflight
                .into_iter()
                .map(|c| PreflightItem {
                    name: c.name,
                    ok: c.ok,
                    detail: c.detail,
                })
                .collect(),
            server_version: p.server_version,
            backup_server_version: p.backup_server_version,
            estimated_seconds: p.estimated_seconds as f64,
            steps: p
                .plan
                .steps
                .into_iter()
                .map(|s| PlanStep {
                    name: s.name,
                    description: s.description,
                })
                .collect(),
            cache: env.cache.as_ref().map(|c| {
                format!(
                    "db {}, keys under '{}'",
                    c.db,
                    c.key_prefix.clone().unwrap_or_default()
                )
            }),
            hosts: env.hosts.iter().map(|h| h.get_ref().name.clone()).collect(),
            needs_typed_confirmation: nfops_ops::needs_typed_confirmation(env.tier),
        }
    }
}

/// One check of a report.
#[derive(Debug, Clone, Serialize, Type)]
#[serde(rename_all = "camelCase")]
pub struct CheckItem {
    pub name: String,
    pub ok: bool,
    pub detail: String,
    /// How long the check took.
    pub seconds: f64,
}

/// One finding of a report.
#[derive(Debug, Clone, Serialize, Type)]
#[serde(rename_all = "camelCase")]
pub struct CheckFinding {
    pub check: String,
    pub subject: String,
    pub problem: String,
}

/// An integrity report.
#[derive(Debug, Clone, Serialize, Type)]
#[serde(rename_all = "camelCase")]
pub struct IntegrityReport {
    pub id: String,
    pub environment: String,
    pub database: String,
    pub backup_id: Option<String>,
    pub ok: bool,
    pub started_at: String,
    pub checks: Vec<CheckItem>,
    pub findings: Vec<CheckFinding>,
}

impl From<nfops_restore::checks::CheckReport> for IntegrityReport {
    fn from(r: nfops_restore::checks::CheckReport) -> Self {
        Self {
            ok: r.ok(),
            id: r.id,
            environment: r.environment,
            database: r.database,
            backup_id: r.backup_id,
            started_at: r.started_at.to_rfc3339(),
            checks: r
                .checks
                .into_iter()
                .map(|c| CheckItem {
                    name: c.name,
                    ok: c.ok,
                    detail: c.detail,
                    seconds: c.seconds,
                })
                .collect(),
            findings: r
                .findings
                .into_iter()
                .map(|f| CheckFinding {
                    check: f.check,
                    subject: f.subject,
                    problem: f.problem,
                })
                .collect(),
        }
    }
}

/// A saved report in the list.
#[derive(Debug, Clone, Serialize, Type)]
#[serde(rename_all = "camelCase")]
pub struct ReportListing {
    pub id: String,
    pub environment: String,
    pub ok: bool,
    pub findings: u32,
    pub json: String,
    pub html: String,
}

impl From<nfops_ops::SavedReport> for ReportListing {
    fn from(s: nfops_ops::SavedReport) -> Self {
        Self {
            id: s.id,
            environment: s.environment,
            ok: s.ok,
            findings: u32::try_from(s.findings).unwrap_or(u32::MAX),
            json: s.json.display().to_string(),
            html: s.html.display().to_string(),
        }
    }
}

/// How a restore ended: the job's summary, then the database's state.
#[derive(Debug, Clone, Serialize, Type)]
#[serde(rename_all = "camelCase")]
pub struct RestoreResult {
    #[serde(flatten)]
    pub job: JobSummary,
    /// untouched | restored | rolledBack | needsAttention
    pub database_state: String,
    pub state_detail: String,
    pub seconds: f64,
    pub report: Option<IntegrityReport>,
}

impl From<nfops_ops::RestoreRun> for RestoreResult {
    fn from(r: nfops_ops::RestoreRun) -> Self {
        let o = r.outcome;
        Self {
            job: o.job.into(),
            database_state: serde_json::to_value(o.database_state)
                .ok()
                .and_then(|v| v.as_str().map(str::to_owned))
                .unwrap_or_default(),
            state_detail: o.state_detail,
            seconds: o.seconds,
            report: r.report.map(Into::into),
        }
    }
}

/// A restore drill as recorded.
#[derive(Debug, Clone, Serialize, Type)]
#[serde(rename_all = "camelCase")]
pub struct DrillRecord {
    pub id: String,
    pub environment: String,
    pub backup_id: String,
    pub started_at: String,
    pub seconds: f64,
    pub ok: bool,
    pub report_id: Option<String>,
    pub note: String,
}

impl From<nfops_ops::Drill> for DrillRecord {
    fn from(d: nfops_ops::Drill) -> Self {
        Self {
            id: d.id,
            environment: d.environment,
            backup_id: d.backup_id,
            started_at: d.started_at,
            seconds: d.seconds,
            ok: d.ok,
            report_id: d.report_id,
            note: d.note,
        }
    }
}

/// Whether an environment's last successful restore drill is too old (the
/// Overview's warning); `lastOk` null: no drill has succeeded yet.
#[derive(Debug, Clone, Serialize, Type)]
#[serde(rename_all = "camelCase")]
pub struct DrillStaleness {
    pub environment: String,
    pub stale: bool,
    pub max_age_days: u32,
    pub last_ok: Option<String>,
    pub last_ok_at: Option<String>,
    pub age_days: Option<f64>,
}

impl DrillStaleness {
    pub fn new(environment: String, s: nfops_ops::DrillStaleness) -> Self {
        Self {
            environment,
            stale: s.stale,
            max_age_days: s.max_age_days,
            last_ok: s.last_ok,
            last_ok_at: s.last_ok_at,
            age_days: s.age_days,
        }
    }
}
