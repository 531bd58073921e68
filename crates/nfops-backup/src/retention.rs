//! Retention: which backups a GFS policy keeps and which it forgets, and why.
//!
//! [`plan_retention`] is pure (no I/O, `now` is an argument) so every rule is
//! tested with a table of dates. Rules, in order:
//!
//! 1. incomplete folders are not backups: never counted, never deleted here;
//! 2. a backup older than `max_age_days` goes (unless rule 5 keeps it);
//! 3. a backup younger than `min_age_days` stays;
//! 4. GFS: the newest backup of each of the `keep_daily` newest days, of the
//!    `keep_weekly` newest ISO weeks and of the `keep_monthly` newest months
//!    (counting only days/weeks/months that have a backup, like restic);
//! 5. whatever the policy says: the newest verified backup stays, and at least
//!    one backup stays (the newest) when there is any.

use chrono::{DateTime, Datelike, Duration, Utc};
use serde::Serialize;

/// The policy, from `BackupPolicy` in environments.toml.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RetentionPolicy {
    pub keep_daily: u32,
    pub keep_weekly: u32,
    pub keep_monthly: u32,
    pub min_age_days: u32,
    pub max_age_days: u32,
}

impl From<&nfops_core::config::BackupPolicy> for RetentionPolicy {
    fn from(p: &nfops_core::config::BackupPolicy) -> Self {
        Self {
            keep_daily: p.keep_daily,
            keep_weekly: p.keep_weekly,
            keep_monthly: p.keep_monthly,
            min_age_days: *p.min_age_days.get_ref(),
            max_age_days: *p.max_age_days.get_ref(),
        }
    }
}

/// A complete backup as retention sees it.
#[derive(Debug, Clone)]
pub struct Candidate {
    pub id: String,
    /// When the backup's snapshot was taken (its point in time).
    pub at: DateTime<Utc>,
    /// A verification passed (the run's own or a later one).
    pub verified: bool,
}

/// What happens to one backup, with every rule that applied.
#[derive(Debug, Clone, Serialize, PartialEq, Eq)]
#[serde(rename_all = "camelCase")]
pub struct Decision {
    pub id: String,
    pub at: DateTime<Utc>,
    pub keep: bool,
    /// Age in whole days at planning time.
    pub age_days: i64,
    /// Why it stays (every keeping rule) or why it goes.
    pub reasons: Vec<String>,
}

/// The plan `forget` shows before deleting anything: one decision per
/// complete backup, newest first.
#[derive(Debug, Clone, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct RetentionPlan {
    pub decisions: Vec<Decision>,
}

impl RetentionPlan {
    pub fn kept(&self) -> impl Iterator<Item = &Decision> {
        self.decisions.iter().filter(|d| d.keep)
    }
    pub fn forgotten(&self) -> impl Iterator<Item = &Decision> {
        self.decisions.iter().filter(|d| !d.keep)
    }
}

/// Plans retention of `backups` (any order) under `policy` at time `now`.
///
/// Invariants (tested): never forgets the newest verified backup; never
/// forgets every backup; never forgets one younger than `min_age_days`
/// (only max age forgets a backup otherwise unclaimed, and the config refuses
/// min > max); every backup older than `max_age_days` is forgotten unless an
/// invariant keeps it.
pub fn plan_retention(
    backups: &[Candidate],
    policy: &RetentionPolicy,
    now: DateTime<Utc>,
) -> RetentionPlan {
    let mut sorted: Vec<&Candidate> = backups.iter().collect();
    sorted.sort_by(|a, b| b.at.cmp(&a.at).then_with(|| b.id.cmp(&a.id)));
    let mut reasons: Vec<Vec<String>> = vec![Vec::new(); sorted.len()];

    gfs(&sorted, &mut reasons, policy.keep_daily, "daily", |t| {
        (t.year(), t.ordinal(), 0)
    });
    gfs(&sorted, &mut reasons, policy.keep_weekly, "weekly", |t| {
        let w = t.iso_week();
        (w.year(), w.week(), 0)
    });
    gfs(&sorted, &mut reasons, policy.keep_monthly, "monthly", |t| {
        (t.year(), t.month(), 0)
    });

    let min_age = Duration::days(i64::from(policy.min_age_days));
    let max_age = Duration::days(i64::from(policy.max_age_days));
    let mut keep = vec![false; sorted.len()];
    for (i, c) in sorted.iter().enumerate() {
        let age = now - c.at;
        if age > max_age {
            reasons[i] = vec![format!(
                "older than max_age_days ({} days)",
                policy.max_age_days
            )];
            continue;
        }
        if age < min_age {
            reasons[i].insert(
                0,
                format!("younger than min_age_days ({} days)", policy.min_age_days),
            );
        }
        keep[i] = !reasons[i].is_empty();
        if !keep[i] {
            reasons[i].push("no daily, weekly or monthly slot keeps it".into());
        }
    }

    // Invariants, whatever the policy says.
    if let Some(i) = sorted.iter().position(|c| c.verified) {
        if !keep[i] {
            reasons[i].clear();
        }
        keep[i] = true;
        reasons[i].push("the newest verified backup is always kept".into());
    }
    if !sorted.is_empty() && !keep.iter().any(|k| *k) {
        keep[0] = true;
        reasons[0].clear();
        reasons[0].push("the newest backup is kept: forget never removes every backup".into());
    }

    RetentionPlan {
        decisions: sorted
            .iter()
            .zip(keep)
            .zip(reasons)
            .map(|((c, keep), reasons)| Decision {
                id: c.id.clone(),
                at: c.at,
                keep,
                age_days: (now - c.at).num_days(),
                reasons,
            })
            .collect(),
    }
}

/// Marks the newest backup of each of the `n` newest periods (as keyed by
/// `period`) with a "<label> N" reason. `sorted` is newest first.
fn gfs(
    sorted: &[&Candidate],
    reasons: &mut [Vec<String>],
    n: u32,
    label: &str,
    period: impl Fn(&DateTime<Utc>) -> (i32, u32, u32),
) {
    let mut last = None;
    let mut used = 0u32;
    for (i, c) in sorted.iter().enumerate() {
        if used >= n {
            break;
        }
        let p = period(&c.at);
        if last != Some(p) {
            last = Some(p);
            used += 1;
            reasons[i].push(format!("{label} {used} of {n}"));
        }
    }
}

#[cfg(test)]
#[path = "retention_tests.rs"]
mod tests;
