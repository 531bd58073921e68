//! The backup catalog of each environment, its staleness, and forgetting
//! old backups by the retention policy (plan first, apply only the plan the
//! operator reviewed).

use nfops_backup::catalog::{newest_good, Catalog, CatalogEntry};
use nfops_backup::object_store::ObjectStore;
use nfops_backup::retention::{plan_retention, Candidate, RetentionPlan, RetentionPolicy};
use nfops_core::audit::{Action, Outcome};
use nfops_core::{Error, ErrorCode, Result};

use crate::Console;
use nfops_core::lease::{LeaseAction, LeaseWatch};
use nfops_vault::KeyringSource;

impl Console {
    /// The catalog cache (SQLite).
    pub fn catalog(&self) -> Catalog {
        Catalog::new(self.state())
    }

    /// The catalog of `env`, refreshed from its destination (the source of
    /// truth), newest first; incomplete folders are listed as such.
    pub async fn backup_catalog(&self, env: &str) -> Result<Vec<CatalogEntry>> {
        let listing = self.backup_listing(env).await?;
        self.catalog().refresh(env, &listing).await
    }

    /// Whether the newest good backup of `env` is older than
    /// `backup.max_staleness_hours` (or there is none).
    pub async fn backup_staleness(&self, env: &str) -> Result<Staleness> {
        let config = self.config()?;
        let max_hours = config
            .environment(env)?
            .backup
            .as_ref()
            .map_or(26, |b| b.max_staleness_hours);
        let entries = self.backup_catalog(env).await?;
        let newest = newest_good(&entries).cloned();
        let age_hours = newest
            .as_ref()
            .and_then(|e| e.age_hours(chrono::Utc::now()));
        Ok(Staleness {
            stale: age_hours.is_none_or(|h| h > f64::from(max_hours)),
            max_staleness_hours: max_hours,
            newest_good: newest.map(|e| e.id),
            age_hours,
        })
    }

    /// [`Console::backup_staleness`] of every environment with a database,
    /// in config order; each failure (destination unreadable) stays its own.
    ///
    /// Errors: the config's.
    pub async fn backup_staleness_all(&self) -> Result<Vec<(String, Result<Staleness>)>> {
        let config = self.config()?;
        let mut out = Vec::new();
        for (name, env) in config.environments() {
            if env.database.is_none() {
                continue;
            }
            let s = self.backup_staleness(name).await;
            out.push((name.to_owned(), s));
        }
        Ok(out)
    }

    /// The retention policy of `env` (`backup` in environments.toml, else
    /// 7 daily, 4 weekly, 6 monthly, 30–180 days).
    fn retention_policy(&self, env: &str) -> Result<RetentionPolicy> {
        let config = self.config()?;
        Ok(config
            .environment(env)?
            .backup
            .as_ref()
            .map(RetentionPolicy::from)
            .unwrap_or(RetentionPolicy {
                keep_daily: 7,
                keep_weekly: 4,
                keep_monthly: 6,
                min_age_days: 30,
                max_age_days: 180,
            }))
    }

    /// The retention plan of `env` under its `backup` policy: one decision
    /// (keep or forget, with reasons) per complete backup, newest first.
    pub async fn backup_forget_plan(&self, env: &str) -> Result<RetentionPlan> {
        let policy = self.retention_policy(env)?;
        let entries = self.backup_catalog(env).await?;
        let candidates: Vec<Candidate> = entries
            .iter()
            .filter(|e| e.is_complete())
            .filter_map(|e| {
                Some(Candidate {
                    id: e.id.clone(),
                    at: e.finished_at?,
                    verified: e.is_verified(),
                })
            })
            .collect();
        Ok(plan_retention(&candidates, &policy, chrono::Utc::now()))
    }

    /// The retention plan of the offsite copies of `env` (same policy and
    /// invariants: never the newest verified copy, never every copy), listed
    /// from the bucket; `None` without an offsite destination.
    ///
    /// A copy is complete only with its manifest object, which the copy job
    /// uploads last and removes when the read-back fails: every complete copy
    /// is a verified one.
    ///
    /// Errors: keyring errors for the S3 keys; S3 errors (`service.unreachable` …).
    pub async fn backup_forget_offsite_plan(&self, env: &str) -> Result<Option<OffsitePlan>> {
        let Some(dest) = self.offsite_destination(env)? else {
            return Ok(None);
        };
        let policy = self.retention_policy(env)?;
        let store = ObjectStore::connect(&dest, &KeyringSource(self.keyring().clone()))?;
        let listing = store.list_backups(env).await?;
        let candidates: Vec<Candidate> = listing
            .iter()
            .filter(|l| l.state == "complete")
            .filter_map(|l| {
                let at = chrono::DateTime::parse_from_rfc3339(l.finished_at.as_deref()?).ok()?;
                Some(Candidate {
                    id: l.id.clone(),
                    at: at.with_timezone(&chrono::Utc),
                    verified: true,
                })
            })
            .collect();
        Ok(Some(OffsitePlan {
            location: store.describe(),
            plan: plan_retention(&candidates, &policy, chrono::Utc::now()),
            incomplete: listing
                .iter()
                .filter(|l| l.state != "complete")
                .map(|l| l.id.clone())
                .collect(),
            removed: Vec::new(),
        }))
    }

    /// Plans retention of `env` (local backups and, when configured, the
    /// offsite copies) and, with `apply`, deletes what the plans forget
    /// (manifest first, so a half-deleted backup is never listed as one).
    /// Both plans are made before anything is deleted: an unreachable
    /// offsite bucket stops `forget` before it removes anything. Audited as
    /// `backup.forget` (plan only or applied).
    ///
    /// Errors: the catalog's; S3 errors listing the offsite copies;
    /// `io.error` / S3 errors when a backup cannot be removed (the ones
    /// removed before stay removed and are audited).
    ///
    /// With `apply` on a production or region tier, `confirm` must be the
    /// environment's name; the lease is held and a `started` entry written
    /// before anything is deleted.
    pub async fn backup_forget(
        &self,
        env: &str,
        apply: bool,
        confirm: Option<&str>,
    ) -> Result<ForgetOutcome> {
        self.backup_forget_guarded(env, apply, None, confirm).await
    }

    /// As [`Console::backup_forget`] with `apply`, but only when the fresh
    /// plan forgets exactly `expected` (local ids, then `offsite:`-prefixed
    /// offsite ids): what the user reviewed is what goes.
    ///
    /// Errors: `input.invalid` when the plan changed since it was shown
    /// (nothing is deleted); otherwise as [`Console::backup_forget`].
    pub async fn backup_forget_reviewed(
        &self,
        env: &str,
        expected: &[String],
        confirm: Option<&str>,
    ) -> Result<ForgetOutcome> {
        self.backup_forget_guarded(env, true, Some(expected), confirm)
            .await
    }

    async fn backup_forget_guarded(
        &self,
        env: &str,
        apply: bool,
        expected: Option<&[String]>,
        confirm: Option<&str>,
    ) -> Result<ForgetOutcome> {
        if !apply {
            return self.backup_forget_checked(env, false, None, None).await;
        }
        let lease = self
            .begin_destructive(env, LeaseAction::Forget, "backup.forget", None, confirm)
            .await?;
        let watch = lease.watch();
        let result = self
            .backup_forget_checked(env, true, expected, Some(&watch))
            .await;
        self.release(lease).await;
        result
    }

    // Long on purpose: local and offsite deletions and their single audit entry must stay in one place so nothing is removed unaudited.

    async fn backup_forget_checked(
        &self,
        env: &str,
        apply: bool,
        expected: Option<&[String]>,
        lease: Option<&LeaseWatch>,
    ) -> Result<ForgetOutcome> {
        // A lease lost mid-way (a stall, then another operator's takeover)
        // stops the deletions before the next one; what was removed is audited.
        let lost = || lease.and_then(LeaseWatch::lost_error);
        let plan = self.backup_forget_plan(env).await?;
        let mut offsite = self.backup_forget_offsite_plan(env).await?;
        if let Some(expected) = expected {
            let mut now = forget_ids(&plan, offsite.as_ref());
            let mut want = expected.to_vec();
            now.sort();
            want.sort();
            if now != want {
                return Err(Error::new(
                    ErrorCode::InvalidInput,
                    format!("the retention plan of {env} changed since it was shown; nothing was deleted"),
                )
                .hint("Review the new plan and apply it again."));
            }
        }
        let mut removed = Vec::new();
        let mut failure = None;
        if apply {
            let store = self.backup_store(env)?;
            let bucket = self.primary_bucket(env)?;
            for d in plan.forgotten() {
                if let Some(e) = lost() {
                    failure = Some(e);
                    break;
                }
                let gone = match &bucket {
                    Some(b) => b.remove_backup(env, &d.id).await,
                    None => store.remove(env, &d.id),
                };
                match gone {
                    Ok(()) => {
                        self.catalog().remove(env, &d.id).await?;
                        removed.push(d.id.clone());
                    }
                    Err(e) => {
                        failure = Some(e);
                        break;
                    }
                }
            }
            if let (Some(o), None) = (offsite.as_mut(), &failure) {
                let dest = self
                    .offsite_destination(env)?
                    .ok_or_else(|| Error::internal("the offsite destination vanished"))?;
                let bucket = ObjectStore::connect(&dest, &KeyringSource(self.keyring().clone()))?;
                let gone: Vec<String> = o.plan.forgotten().map(|d| d.id.clone()).collect();
                for id in gone {
                    if let Some(e) = lost() {
                        failure = Some(e);
                        break;
                    }
                    match bucket.remove_backup(env, &id).await {
                        Ok(()) => {
                            if !removed.contains(&id) {
                                self.catalog().record_offsite(env, &id, "forgotten").await?;
                            }
                            o.removed.push(id);
                        }
                        Err(e) => {
                            failure = Some(e);
                            break;
                        }
                    }
                }
            }
        }
        let forgotten: Vec<&str> = plan.forgotten().map(|d| d.id.as_str()).collect();
        let offsite_forgotten: Option<Vec<&str>> = offsite
            .as_ref()
            .map(|o| o.plan.forgotten().map(|d| d.id.as_str()).collect());
        self.audit()
            .record(Action {
                action: "backup.forget",
                environment: Some(env),
                target: None,
                outcome: if failure.is_some() {
                    Outcome::Failed
                } else {
                    Outcome::Succeeded
                },
                details: serde_json::json!({
                    "applied": apply,
                    "kept": plan.kept().count(),
                    "forgotten": forgotten,
                    "removed": removed,
                    "offsite": offsite.as_ref().map(|o| serde_json::json!({
                        "location": o.location,
                        "kept": o.plan.kept().count(),
                        "forgotten": offsite_forgotten,
                        "removed": o.removed,
                    })),
                    "error": failure.as_ref().map(|e| e.code().as_str()),
                }),
            })
            .await?;
        if let Some(e) = failure {
            return Err(e);
        }
        Ok(ForgetOutcome {
            applied: apply,
            plan,
            removed,
            offsite,
        })
    }
}

/// What a forget plan deletes: local backup ids, then offsite copy ids
/// prefixed `offsite:`.
pub fn forget_ids(plan: &RetentionPlan, offsite: Option<&OffsitePlan>) -> Vec<String> {
    let mut ids: Vec<String> = plan.forgotten().map(|d| d.id.clone()).collect();
    if let Some(o) = offsite {
        ids.extend(o.plan.forgotten().map(|d| format!("offsite:{}", d.id)));
    }
    ids
}

/// Whether an environment's backups are too old.
#[derive(Debug, Clone, serde::Serialize)]
#[serde(rename_all = "camelCase")]
pub struct Staleness {
    /// No good backup, or the newest is older than `max_staleness_hours`.
    pub stale: bool,
    pub max_staleness_hours: u32,
    pub newest_good: Option<String>,
    pub age_hours: Option<f64>,
}

/// What `forget` planned and, when applied, removed.
#[derive(Debug, Clone, serde::Serialize)]
#[serde(rename_all = "camelCase")]
pub struct ForgetOutcome {
    pub applied: bool,
    pub plan: RetentionPlan,
    pub removed: Vec<String>,
    /// The offsite copies' plan, when the environment has an offsite destination.
    pub offsite: Option<OffsitePlan>,
}

/// What `forget` plans (and removed) among the offsite copies.
#[derive(Debug, Clone, serde::Serialize)]
#[serde(rename_all = "camelCase")]
pub struct OffsitePlan {
    /// `s3://bucket/prefix`.
    pub location: String,
    pub plan: RetentionPlan,
    /// Copies without a manifest object (interrupted): not backups, left alone.
    pub incomplete: Vec<String>,
    pub removed: Vec<String>,
}
