//! The Overview as a cockpit: per environment, what an operator checks
//! first in the morning, gathered from what the console already records
//! (the backup catalog, drills, promotions, uptime history, the audit log).
//! Each fact is read on its own: one that cannot be read is reported as
//! such and never hides the others.

use chrono::{Duration, Utc};
use nfops_backup::catalog::newest_good;
use nfops_core::{Result, WireError};
use serde::Serialize;

use crate::Console;

/// The newest good backup of an environment.
#[derive(Debug, Clone, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct BackupFact {
    pub id: String,
    pub age_hours: Option<f64>,
    /// The latest verification passed (None: never verified).
    pub verified: Option<bool>,
    /// `copied`, `failed`, or None (no offsite copy made).
    pub offsite: Option<String>,
}

/// The newest restore drill.
#[derive(Debug, Clone, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct DrillFact {
    pub started_at: String,
    pub ok: bool,
    /// The measured recovery time.
    pub seconds: f64,
}

/// The newest promotion into this environment.
#[derive(Debug, Clone, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct PromotionFact {
    pub release: Option<String>,
    pub state: String,
    pub started_at: String,
    pub actor: String,
}

/// One audit entry of the last day.
#[derive(Debug, Clone, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct Change {
    pub at: String,
    pub actor: String,
    pub action: String,
    pub target: Option<String>,
    pub outcome: String,
}

/// An environment's cockpit facts.
#[derive(Debug, Clone, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct Cockpit {
    pub environment: String,
    /// None: no good backup. `backup_error`: the destination could not be read.
    pub backup: Option<BackupFact>,
    pub backup_error: Option<WireError>,
    pub drill: Option<DrillFact>,
    pub promotion: Option<PromotionFact>,
    /// Good checks over all checks of its uptime probes in the last 24 h.
    pub uptime_24h: Option<f64>,
    /// What the audit log recorded for it in the last 24 h, newest first.
    pub changes: Vec<Change>,
}

/// How many of the last day's audit entries the cockpit reads (all environments).
const CHANGES_READ: u32 = 500;
/// How many it shows per environment.
const CHANGES_SHOWN: usize = 20;

impl Console {
    /// The cockpit facts of every environment, in config order.
    ///
    /// Errors: the config's and the state database's; a backup destination
    /// that cannot be read is reported in its environment's `backup_error`.
    pub async fn cockpit(&self) -> Result<Vec<Cockpit>> {
        let config = self.config()?;
        let now = Utc::now();
        let day_ago = now - Duration::hours(24);
        let recent = self
            .audit()
            .since(
                &day_ago.to_rfc3339_opts(chrono::SecondsFormat::Micros, true),
                CHANGES_READ,
            )
            .await?;
        let drills = self.drills(None).await?;
        let promotions = self.promotion_history(50).await?;
        let history = self.uptime_history();
        let mut out = Vec::new();
        for (name, env) in config.environments() {
            let (backup, backup_error) = if env.database.is_some() {
                match self.backup_catalog(name).await {
                    Ok(entries) => (
                        newest_good(&entries).map(|e| BackupFact {
                            id: e.id.clone(),
                            age_hours: e.age_hours(now),
                            verified: e.verify_ok,
                            offsite: e.offsite_state.clone(),
                        }),
                        None,
                    ),
                    Err(e) => (None, Some(e.to_wire())),
                }
            } else {
                (None, None)
            };
            let drill = drills
                .iter()
                .filter(|d| d.environment == name)
                .max_by(|a, b| a.started_at.cmp(&b.started_at))
                .map(|d| DrillFact {
                    started_at: d.started_at.clone(),
                    ok: d.ok,
                    seconds: d.seconds,
                });
            let promotion = promotions
                .iter()
                .filter(|p| p.to_env == name)
                .max_by(|a, b| a.started_at.cmp(&b.started_at))
                .map(|p| PromotionFact {
                    release: p.release.clone(),
                    state: p.state.as_str().to_owned(),
                    started_at: p.started_at.clone(),
                    actor: p.actor.clone(),
                });
            let (mut checks, mut failures) = (0u64, 0u64);
            for (_, probe) in self.uptime_probes(Some(name))? {
                let s = history.summary(name, &probe.name, day_ago).await?;
                checks += s.checks;
                failures += s.failures;
            }
            let uptime_24h = (checks > 0)
                .then(|| (checks - failures.min(checks)) as f64 * 100.0 / checks as f64);
            let changes = recent
                .iter()
                .filter(|e| e.environment.as_deref() == Some(name))
                .take(CHANGES_SHOWN)
                .map(|e| Change {
                    at: e.at.clone(),
                    actor: e.actor.clone(),
                    action: e.action.clone(),
                    target: e.target.clone(),
                    outcome: e.outcome.clone(),
                })
                .collect();
            out.push(Cockpit {
                environment: name.to_owned(),
                backup,
                backup_error,
                drill,
                promotion,
                uptime_24h,
                changes,
            });
        }
        Ok(out)
    }
}
