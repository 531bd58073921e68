//! Wire types: what crosses IPC to the UI. Each converts explicitly from its
//! domain type, so a domain change never silently changes the UI contract.

use serde::Serialize;
use specta::Type;

/// The one error shape the UI sees: branch on `code`, show `message` and `hint`.
#[derive(Debug, Clone, Serialize, Type)]
pub struct Failure {
    pub code: String,
    pub message: String,
    pub hint: Option<String>,
}

impl From<nfops_core::Error> for Failure {
    fn from(e: nfops_core::Error) -> Self {
        tracing::debug!(category = "application", code = %e.code(), causes = ?e.causes(), "command failed: {}", e.message());
        Self::from(e.to_wire())
    }
}

impl From<nfops_core::WireError> for Failure {
    fn from(w: nfops_core::WireError) -> Self {
        Self {
            code: w.code,
            message: w.message,
            hint: w.hint,
        }
    }
}

#[derive(Debug, Clone, Copy, Serialize, Type)]
#[serde(rename_all = "lowercase")]
pub enum Tier {
    Local,
    Staging,
    Production,
    Region,
}

impl From<nfops_core::config::Tier> for Tier {
    fn from(t: nfops_core::config::Tier) -> Self {
        use nfops_core::config::Tier as D;
        match t {
            D::Local => Tier::Local,
            D::Staging => Tier::Staging,
            D::Production => Tier::Production,
            D::Region => Tier::Region,
        }
    }
}

#[derive(Debug, Clone, Serialize, Type)]
#[serde(rename_all = "camelCase")]
pub struct AppInfo {
    pub version: String,
    pub config_path: String,
    pub config_error: Option<Failure>,
    pub state_dir: String,
    pub log_dir: String,
    pub environment_count: u32,
}

#[derive(Debug, Clone, Serialize, Type)]
#[serde(rename_all = "camelCase")]
pub struct EnvironmentSummary {
    pub name: String,
    pub label: String,
    pub tier: Tier,
    pub hosts: Vec<String>,
}

impl EnvironmentSummary {
    pub fn new(name: &str, env: &nfops_core::config::Environment) -> Self {
        Self {
            name: name.to_owned(),
            label: env.label.clone().unwrap_or_else(|| name.to_owned()),
            tier: env.tier.into(),
            hosts: env.hosts.iter().map(|h| h.get_ref().name.clone()).collect(),
        }
    }
}

#[derive(Debug, Clone, Copy, Serialize, Type)]
#[serde(rename_all = "lowercase")]
pub enum ProbeKind {
    Backend,
    Release,
    Database,
    Cache,
    Storage,
    Monitoring,
}

#[derive(Debug, Clone, Copy, Serialize, Type)]
#[serde(rename_all = "camelCase")]
pub enum ProbeState {
    Ok,
    Failed,
    NotConfigured,
}

#[derive(Debug, Clone, Serialize, Type)]
#[serde(rename_all = "camelCase")]
pub struct ProbeResult {
    pub kind: ProbeKind,
    pub target: String,
    pub state: ProbeState,
    pub summary: String,
    pub error: Option<Failure>,
    pub latency_ms: u32,
}

#[derive(Debug, Clone, Serialize, Type)]
#[serde(rename_all = "camelCase")]
pub struct EnvironmentStatus {
    pub name: String,
    pub label: String,
    pub tier: Tier,
    pub checked_at: String,
    pub probes: Vec<ProbeResult>,
}

impl From<nfops_fleet::probe::EnvironmentStatus> for EnvironmentStatus {
    fn from(s: nfops_fleet::probe::EnvironmentStatus) -> Self {
        use nfops_fleet::probe::{ProbeKind as K, ProbeState as S};
        let probes = s
            .probes
            .into_iter()
            .map(|p| ProbeResult {
                kind: match p.kind {
                    K::Backend => ProbeKind::Backend,
                    K::Release => ProbeKind::Release,
                    K::Database => ProbeKind::Database,
                    K::Cache => ProbeKind::Cache,
                    K::Storage => ProbeKind::Storage,
                    K::Monitoring => ProbeKind::Monitoring,
                },
                target: p.target,
                state: match p.state {
                    S::Ok => ProbeState::Ok,
                    S::Failed => ProbeState::Failed,
                    S::NotConfigured => ProbeState::NotConfigured,
                },
                summary: p.summary,
                error: p.error.map(Failure::from),
                latency_ms: u32::try_from(p.latency_ms).unwrap_or(u32::MAX),
            })
            .collect();
        Self {
            name: s.name,
            label: s.label,
            tier: s.tier.into(),
            checked_at: s.checked_at.to_rfc3339(),
            probes,
        }
    }
}

#[derive(Debug, Clone, Copy, Serialize, Type)]
#[serde(rename_all = "lowercase")]
pub enum CredentialState {
    Set,
    Missing,
}

#[derive(Debug, Clone, Serialize, Type)]
#[serde(rename_all = "camelCase")]
pub struct CredentialStatus {
    pub name: String,
    pub state: CredentialState,
    pub changed_at: Option<String>,
    pub used_by: Vec<String>,
}

impl From<nfops_ops::CredentialStatus> for CredentialStatus {
    fn from(c: nfops_ops::CredentialStatus) -> Self {
        Self {
            state: match c.state {
                nfops_ops::CredentialState::Set => CredentialState::Set,
                nfops_ops::CredentialState::Missing => CredentialState::Missing,
            },
            name: c.name,
            changed_at: c.changed_at,
            used_by: c.used_by,
        }
    }
}

#[derive(Debug, Clone, Serialize, Type)]
#[serde(rename_all = "camelCase")]
pub struct AuditEntry {
    pub seq: u32,
    pub at: String,
    pub actor: String,
    pub action: String,
    pub environment: Option<String>,
    pub target: Option<String>,
    pub outcome: String,
    pub hash: String,
}

impl From<nfops_core::audit::Entry> for AuditEntry {
    fn from(e: nfops_core::audit::Entry) -> Self {
        Self {
            seq: u32::try_from(e.seq).unwrap_or(u32::MAX),
            at: e.at,
            actor: e.actor,
            action: e.action,
            environment: e.environment,
            target: e.target,
            outcome: e.outcome,
            hash: e.hash,
        }
    }
}

#[derive(Debug, Clone, Serialize, Type)]
#[serde(rename_all = "camelCase")]
pub struct AuditVerification {
    pub ok: bool,
    pub entries: u32,
    pub problems: Vec<String>,
}

impl From<nfops_core::audit::Verification> for AuditVerification {
    fn from(v: nfops_core::audit::Verification) -> Self {
        Self {
            ok: v.ok(),
            entries: u32::try_from(v.entries).unwrap_or(u32::MAX),
            problems: v.problems,
        }
    }
}

/// A person who can decrypt an environment's secrets.
#[derive(Debug, Clone, Serialize, Type)]
#[serde(rename_all = "camelCase")]
pub struct SecretsRecipient {
    pub name: String,
    pub key: String,
}

impl From<nfops_secrets::Recipient> for SecretsRecipient {
    fn from(r: nfops_secrets::Recipient) -> Self {
        Self {
            name: r.name,
            key: r.key,
        }
    }
}

/// An environment's secrets by name (never values) and its recipients.
#[derive(Debug, Clone, Serialize, Type)]
#[serde(rename_all = "camelCase")]
pub struct SecretsListing {
    pub environment: String,
    pub keys: Vec<String>,
    pub recipients: Vec<SecretsRecipient>,
    pub file: String,
    pub exists: bool,
}

impl From<nfops_ops::SecretsListing> for SecretsListing {
    fn from(l: nfops_ops::SecretsListing) -> Self {
        Self {
            environment: l.environment,
            keys: l.keys,
            recipients: l.recipients.into_iter().map(Into::into).collect(),
            file: l.file,
            exists: l.exists,
        }
    }
}

/// Two environments compared by key; values compared by hash, never shown.
#[derive(Debug, Clone, Serialize, Type)]
#[serde(rename_all = "camelCase")]
pub struct SecretsDiff {
    pub only_in_first: Vec<String>,
    pub only_in_second: Vec<String>,
    pub different: Vec<String>,
    pub same: Vec<String>,
}

impl From<nfops_ops::SecretsDiff> for SecretsDiff {
    fn from(d: nfops_ops::SecretsDiff) -> Self {
        Self {
            only_in_first: d.only_in_first,
            only_in_second: d.only_in_second,
            different: d.different,
            same: d.same,
        }
    }
}

/// Recipients after a change, and (after a removal) every key to rotate at its source.
#[derive(Debug, Clone, Serialize, Type)]
#[serde(rename_all = "camelCase")]
pub struct RecipientChange {
    pub recipients: Vec<SecretsRecipient>,
    pub rotate: Vec<String>,
}

impl From<nfops_ops::RecipientChange> for RecipientChange {
    fn from(c: nfops_ops::RecipientChange) -> Self {
        Self {
            recipients: c.recipients.into_iter().map(Into::into).collect(),
            rotate: c.rotate,
        }
    }
}

/// What a push changes on one host, by key name.
#[derive(Debug, Clone, Serialize, Type)]
#[serde(rename_all = "camelCase")]
pub struct HostPushPlan {
    pub host: String,
    pub path: String,
    pub added: Vec<String>,
    pub removed: Vec<String>,
    pub changed: Vec<String>,
    pub apps: Vec<String>,
}

/// The dry run of a push.
#[derive(Debug, Clone, Serialize, Type)]
#[serde(rename_all = "camelCase")]
pub struct PushPlan {
    pub environment: String,
    pub keys: u32,
    pub hosts: Vec<HostPushPlan>,
}

impl From<nfops_ops::PushPlan> for PushPlan {
    fn from(p: nfops_ops::PushPlan) -> Self {
        Self {
            environment: p.environment,
            keys: u32::try_from(p.keys).unwrap_or(u32::MAX),
            hosts: p
                .hosts
                .into_iter()
                .map(|h| HostPushPlan {
                    host: h.host,
                    path: h.path,
                    added: h.changes.added,
                    removed: h.changes.removed,
                    changed: h.changes.changed,
                    apps: h.apps,
                })
                .collect(),
        }
    }
}

/// How a push ended: the job's state ("noop" when nothing changed) and each step.
#[derive(Debug, Clone, Serialize, Type)]
#[serde(rename_all = "camelCase")]
pub struct PushResult {
    pub plan: PushPlan,
    pub state: String,
    pub job_id: Option<String>,
    pub error: Option<Failure>,
    pub steps: Vec<PushStep>,
}

/// One step of a push job.
#[derive(Debug, Clone, Serialize, Type)]
#[serde(rename_all = "camelCase")]
pub struct PushStep {
    pub name: String,
    pub state: String,
    pub evidence: Option<String>,
}

impl From<nfops_ops::PushOutcome> for PushResult {
    fn from(o: nfops_ops::PushOutcome) -> Self {
        let job = o.job;
        Self {
            plan: o.plan.into(),
            state: job.as_ref().map_or("noop", |j| j.state.as_str()).to_owned(),
            job_id: job.as_ref().map(|j| j.job_id.clone()),
            error: job.as_ref().and_then(|j| j.error.clone()).map(Into::into),
            steps: job
                .map(|j| {
                    j.steps
                        .into_iter()
                        .map(|(name, state, evidence)| PushStep {
                            name,
                            state: state.as_str().to_owned(),
                            evidence,
                        })
                        .collect()
                })
                .unwrap_or_default(),
        }
    }
}

/// Every chart of one environment (or this machine) over one time range.
#[derive(Debug, Clone, Serialize, Type)]
#[serde(rename_all = "camelCase")]
pub struct MetricsBoard {
    /// `prometheus` or `local` (this machine, when no Prometheus is configured).
    pub source: String,
    /// The Prometheus URL, or why this machine is shown.
    pub source_detail: String,
    /// Unix seconds.
    pub start: f64,
    pub end: f64,
    pub charts: Vec<MetricsChart>,
}

/// One chart: its SVG and the points behind it (for the hover readout), or
/// why it failed and which query.
#[derive(Debug, Clone, Serialize, Type)]
#[serde(rename_all = "camelCase")]
pub struct MetricsChart {
    pub id: String,
    pub title: String,
    /// `percent`, `bytes_per_second`, `per_second`, `seconds`, `count`.
    pub unit: String,
    pub queries: Vec<String>,
    /// Our own generated SVG (no script, no external reference).
    pub svg: Option<String>,
    pub plot: Option<ChartPlot>,
    pub series: Vec<MetricsSeries>,
    /// Series left out to keep the chart readable.
    pub omitted: u32,
    pub error: Option<Failure>,
    pub failed_query: Option<String>,
}

/// Where the data sits in the SVG's viewBox, and the data range it spans.
#[derive(Debug, Clone, Serialize, Type)]
#[serde(rename_all = "camelCase")]
pub struct ChartPlot {
    pub view_width: u32,
    pub view_height: u32,
    pub left: f64,
    pub top: f64,
    pub width: f64,
    pub height: f64,
    pub x_min: f64,
    pub x_max: f64,
    pub y_min: f64,
    pub y_max: f64,
}

/// One line: `[unix seconds, value]` points; `null` values are gaps.
#[derive(Debug, Clone, Serialize, Type)]
#[serde(rename_all = "camelCase")]
pub struct MetricsSeries {
    pub name: String,
    pub color: String,
    pub points: Vec<(f64, Option<f64>)>,
}

impl From<nfops_metrics::Board> for MetricsBoard {
    fn from(b: nfops_metrics::Board) -> Self {
        let (source, source_detail) = match b.source {
            nfops_metrics::BoardSource::Prometheus { url } => ("prometheus", url),
            nfops_metrics::BoardSource::Local { reason } => ("local", reason),
        };
        Self {
            source: source.to_owned(),
            source_detail,
            start: b.start,
            end: b.end,
            charts: b.charts.into_iter().map(Into::into).collect(),
        }
    }
}

impl From<nfops_metrics::ChartOutcome> for MetricsChart {
    fn from(c: nfops_metrics::ChartOutcome) -> Self {
        let mut chart = Self {
            id: c.spec.id.to_owned(),
            title: c.spec.title.to_owned(),
            unit: c.spec.unit.as_str().to_owned(),
            queries: c.queries,
            svg: None,
            plot: None,
            series: Vec::new(),
            omitted: 0,
            error: None,
            failed_query: c.failed_query,
        };
        match c.result {
            Ok(d) => {
                let r = d.rendered;
                chart.plot = Some(ChartPlot {
                    view_width: r.view_width,
                    view_height: r.view_height,
                    left: r.plot.left,
                    top: r.plot.top,
                    width: r.plot.width,
                    height: r.plot.height,
                    x_min: r.plot.x_min,
                    x_max: r.plot.x_max,
                    y_min: r.plot.y_min,
                    y_max: r.plot.y_max,
                });
                chart.series = d
                    .series
                    .into_iter()
                    .zip(r.colors)
                    .map(|(s, color)| MetricsSeries {
                        name: s.name,
                        color,
                        // JSON has no NaN: a gap travels as null.
                        points: s
                            .points
                            .into_iter()
                            .map(|(t, v)| (t, v.is_finite().then_some(v)))
                            .collect(),
                    })
                    .collect();
                chart.omitted = u32::try_from(d.omitted).unwrap_or(u32::MAX);
                chart.svg = Some(r.svg);
            }
            Err(e) => chart.error = Some(e.into()),
        }
        chart
    }
}

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

/// A job's live progress, as sent over the command's channel (throttled).
#[derive(Debug, Clone, Serialize, Type)]
#[serde(tag = "event", rename_all = "camelCase")]
pub enum JobEvent {
    #[serde(rename_all = "camelCase")]
    JobStarted { job_id: String, steps: Vec<String> },
    #[serde(rename_all = "camelCase")]
    StepStarted { index: u32, name: String },
    #[serde(rename_all = "camelCase")]
    StepProgress {
        index: u32,
        done: f64,
        total: Option<f64>,
        unit: String,
    },
    #[serde(rename_all = "camelCase")]
    StepMessage { index: u32, message: String },
    #[serde(rename_all = "camelCase")]
    StepFinished {
        index: u32,
        state: String,
        evidence: Option<String>,
        error: Option<Failure>,
    },
    #[serde(rename_all = "camelCase")]
    JobFinished {
        job_id: String,
        state: String,
        error: Option<Failure>,
    },
}

impl From<&nfops_core::jobs::ProgressEvent> for JobEvent {
    fn from(e: &nfops_core::jobs::ProgressEvent) -> Self {
        use nfops_core::jobs::ProgressEvent as P;
        let idx = |i: &usize| u32::try_from(*i).unwrap_or(u32::MAX);
        match e {
            P::JobStarted { job_id, steps, .. } => Self::JobStarted {
                job_id: job_id.clone(),
                steps: steps.clone(),
            },
            P::StepStarted { index, name } => Self::StepStarted {
                index: idx(index),
                name: name.clone(),
            },
            P::StepProgress {
                index,
                done,
                total,
                unit,
            } => Self::StepProgress {
                index: idx(index),
                done: *done as f64,
                total: total.map(|t| t as f64),
                unit: unit.clone(),
            },
            P::StepMessage { index, message } => Self::StepMessage {
                index: idx(index),
                message: message.clone(),
            },
            P::StepFinished {
                index,
                state,
                evidence,
                error,
            } => Self::StepFinished {
                index: idx(index),
                state: state.as_str().to_owned(),
                evidence: evidence.clone(),
                error: error.clone().map(Into::into),
            },
            P::JobFinished {
                job_id,
                state,
                error,
            } => Self::JobFinished {
                job_id: job_id.clone(),
                state: state.as_str().to_owned(),
                error: error.clone().map(Into::into),
            },
        }
    }
}

/// How a backup run ended: the job's state, each step, and the error naming
/// the step that failed.
#[derive(Debug, Clone, Serialize, Type)]
#[serde(rename_all = "camelCase")]
pub struct BackupRunResult {
    pub backup_id: String,
    pub state: String,
    pub job_id: String,
    pub error: Option<Failure>,
    /// The step that failed, when one did.
    pub failed_step: Option<String>,
    pub steps: Vec<PushStep>,
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

impl From<nfops_backup::BackupOutcome> for BackupRunResult {
    fn from(o: nfops_backup::BackupOutcome) -> Self {
        let steps: Vec<PushStep> = o
            .job
            .steps
            .into_iter()
            .map(|(name, state, evidence)| PushStep {
                name,
                state: state.as_str().to_owned(),
                evidence,
            })
            .collect();
        Self {
            offsite: o.offsite.map(|c| OffsiteCopyResult {
                state: c.state,
                location: c.location,
                error: c.error.map(Into::into),
            }),
            upload: o.upload.map(|c| OffsiteCopyResult {
                state: c.state,
                location: c.location,
                error: c.error.map(Into::into),
            }),
            backup_id: o.backup_id,
            state: o.job.state.as_str().to_owned(),
            job_id: o.job.job_id,
            error: o.job.error.map(Into::into),
            failed_step: steps
                .iter()
                .find(|s| s.state == "failed")
                .map(|s| s.name.clone()),
            steps,
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
