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
mod tests {
    use super::*;
    use chrono::TimeZone;

    fn policy(d: u32, w: u32, m: u32, min: u32, max: u32) -> RetentionPolicy {
        RetentionPolicy {
            keep_daily: d,
            keep_weekly: w,
            keep_monthly: m,
            min_age_days: min,
            max_age_days: max,
        }
    }

    fn now() -> DateTime<Utc> {
        Utc.with_ymd_and_hms(2026, 6, 30, 12, 0, 0)
            .single()
            .expect("a valid date")
    }

    /// A backup taken `days` days and `hours` hours before `now()`.
    fn b(days: i64, hours: i64, verified: bool) -> Candidate {
        let at = now() - Duration::days(days) - Duration::hours(hours);
        Candidate {
            id: at.format("%Y%m%dT%H%M%SZ").to_string(),
            at,
            verified,
        }
    }

    fn kept_ids(p: &RetentionPlan) -> Vec<String> {
        p.kept().map(|d| d.id.clone()).collect()
    }

    fn decision<'a>(p: &'a RetentionPlan, c: &Candidate) -> &'a Decision {
        p.decisions
            .iter()
            .find(|d| d.id == c.id)
            .expect("test setup")
    }

    #[test]
    fn empty_list_plans_nothing() {
        let p = plan_retention(&[], &policy(7, 4, 6, 30, 180), now());
        assert!(p.decisions.is_empty(), "no backups, nothing to decide");
    }

    #[test]
    fn table_of_dates_gives_expected_decisions_and_reasons() {
        // now() is Tuesday 2026-06-30 12:00 UTC.
        // (days ago, hours, verified, kept?, a reason that must be present)
        let rows: &[(i64, i64, bool, bool, &str)] = &[
            (0, 1, true, true, "daily 1 of 2"), // also weekly 1 and monthly 1
            (0, 5, true, false, "no daily, weekly or monthly slot"), // same day, older
            (1, 0, true, true, "daily 2 of 2"), // Mon 29 Jun, same ISO week
            (2, 0, true, true, "weekly 2 of 2"), // Sun 28 Jun: the previous ISO week
            (9, 0, true, false, "no daily"),    // Sun 21 Jun: weekly slots used, June taken
            (40, 0, true, true, "monthly 2 of 3"), // 21 May
            (41, 0, true, false, "no daily"),   // 20 May: older in the same month
            (75, 0, true, true, "monthly 3 of 3"), // 16 Apr
            (200, 0, true, false, "older than max_age_days"),
        ];
        let backups: Vec<Candidate> = rows.iter().map(|r| b(r.0, r.1, r.2)).collect();
        let p = plan_retention(&backups, &policy(2, 2, 3, 0, 180), now());
        for (r, c) in rows.iter().zip(&backups) {
            let d = decision(&p, c);
            assert_eq!(
                d.keep, r.3,
                "backup {} days old: expected keep={} got {:?}",
                r.0, r.3, d
            );
            assert!(
                d.reasons.iter().any(|x| x.contains(r.4)),
                "backup {} days old must give reason '{}', got {:?}",
                r.0,
                r.4,
                d.reasons
            );
        }
    }

    #[test]
    fn min_age_keeps_every_young_backup() {
        let backups: Vec<Candidate> = (0..10).map(|i| b(i, 3, true)).collect();
        let p = plan_retention(&backups, &policy(1, 0, 0, 30, 180), now());
        assert_eq!(
            p.forgotten().count(),
            0,
            "all ten are younger than 30 days: none may go"
        );
        assert!(p.decisions[5].reasons[0].contains("min_age_days"));
    }

    #[test]
    fn max_age_forgets_old_ones_even_in_a_gfs_slot() {
        let backups = vec![b(1, 0, true), b(181, 0, true), b(400, 0, true)];
        let p = plan_retention(&backups, &policy(7, 4, 12, 0, 180), now());
        assert_eq!(kept_ids(&p), vec![backups[0].id.clone()]);
        for d in p.forgotten() {
            assert!(d.reasons[0].contains("max_age_days"), "{d:?}");
        }
    }

    #[test]
    fn newest_verified_is_kept_whatever_the_policy() {
        // The newest is unverified; the policy keeps only one daily (the newest).
        let backups = vec![b(0, 1, false), b(3, 0, true), b(4, 0, false)];
        let p = plan_retention(&backups, &policy(1, 0, 0, 0, 180), now());
        assert!(decision(&p, &backups[0]).keep);
        let v = decision(&p, &backups[1]);
        assert!(v.keep, "the newest verified backup must stay: {v:?}");
        assert!(v.reasons.iter().any(|r| r.contains("newest verified")));
        assert!(!decision(&p, &backups[2]).keep);
    }

    #[test]
    fn newest_verified_is_kept_even_past_max_age() {
        let backups = vec![b(300, 0, true), b(400, 0, true)];
        let p = plan_retention(&backups, &policy(7, 4, 6, 30, 180), now());
        assert_eq!(kept_ids(&p), vec![backups[0].id.clone()]);
        assert_eq!(
            decision(&p, &backups[0]).reasons,
            vec!["the newest verified backup is always kept".to_string()]
        );
    }

    #[test]
    fn never_forgets_every_backup() {
        // Nothing verified, all past max age, and a zero policy.
        let backups = vec![b(300, 0, false), b(200, 0, false)];
        let p = plan_retention(&backups, &policy(0, 0, 0, 0, 180), now());
        assert_eq!(
            kept_ids(&p),
            vec![backups[1].id.clone()],
            "the newest stays"
        );
        assert!(decision(&p, &backups[1]).reasons[0].contains("never removes every backup"));
        let zero = plan_retention(&[b(1, 0, false)], &policy(0, 0, 0, 0, 180), now());
        assert_eq!(zero.forgotten().count(), 0, "a single backup always stays");
    }

    #[test]
    fn weekly_uses_iso_weeks_and_counts_only_weeks_with_backups() {
        // 2026-06-30 is a Tuesday. Backups on Mon 29 Jun, Sun 28 Jun (previous ISO
        // week), and 3 weeks before: two weekly slots take 29 Jun and 28 Jun.
        let backups = vec![b(1, 0, true), b(2, 0, true), b(23, 0, true)];
        let p = plan_retention(&backups, &policy(0, 2, 0, 0, 180), now());
        assert_eq!(
            kept_ids(&p),
            vec![backups[0].id.clone(), backups[1].id.clone()]
        );
        let p3 = plan_retention(&backups, &policy(0, 3, 0, 0, 180), now());
        assert_eq!(p3.forgotten().count(), 0, "a gap week does not use a slot");
    }

    #[test]
    fn several_reasons_are_all_listed() {
        let backups = vec![b(0, 1, true)];
        let p = plan_retention(&backups, &policy(1, 1, 1, 30, 180), now());
        assert_eq!(
            p.decisions[0].reasons,
            vec![
                "younger than min_age_days (30 days)".to_string(),
                "daily 1 of 1".into(),
                "weekly 1 of 1".into(),
                "monthly 1 of 1".into(),
                "the newest verified backup is always kept".into(),
            ]
        );
    }

    #[test]
    fn plan_is_newest_first_whatever_the_input_order() {
        let backups = vec![b(5, 0, true), b(1, 0, true), b(3, 0, true)];
        let p = plan_retention(&backups, &policy(7, 0, 0, 0, 180), now());
        let ages: Vec<i64> = p.decisions.iter().map(|d| d.age_days).collect();
        assert_eq!(ages, vec![1, 3, 5]);
    }
}
