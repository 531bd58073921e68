//! Migrations: the release applies its own at start (under a lock) on the
//! first host that switches; this step checks the target database recorded
//! every one the release ships before the next host switches.

use std::path::Path;
use std::sync::Arc;

use async_trait::async_trait;
use nfops_core::config::Environment;
use nfops_core::credentials::CredentialSource;
use nfops_core::jobs::{PlannedStep, Step, StepContext, Verified};
use nfops_core::{Error, ErrorCode, Result};
use sqlx::Connection;

use super::{JobStep, Run};

/// The migrations check, planned after the first host's switch.
pub(crate) fn step(run: &Arc<Run>) -> JobStep {
    let plan = &run.plan;
    (
        PlannedStep {
            name: "migrations".into(),
            description: format!(
                "{} applied by {} at start on {}: check schema_migrations",
                plan.pending_migrations.join(", "),
                plan.release.as_ref().map_or("?", |r| r.id.as_str()),
                plan.hosts.first().map_or("?", |h| h.host.as_str())
            ),
        },
        Box::new(MigrationsStep {
            run: Arc::clone(run),
        }),
    )
}

/// Versions recorded in `schema_migrations` of `env`'s database (through the
/// `via` host's SSH tunnel when configured). `Ok(None)` when the environment
/// has no database or the table does not exist yet.
///
/// Errors: credential, SSH and database errors.
pub async fn applied(
    env_name: &str,
    env: &Environment,
    creds: &dyn CredentialSource,
    known_hosts: &Path,
) -> Result<Option<Vec<String>>> {
    if env.database.is_none() {
        return Ok(None);
    }
    let route = nfops_fleet::route::database(
        env_name,
        env,
        creds,
        known_hosts,
        None,
        "to read migrations from",
    )
    .await?;
    // The route (and the tunnel and SSH session it opened) closes when it drops at the end.
    let target = &route.target;
    let mut conn = target.connect().await?;
    let rows: std::result::Result<Vec<(String,)>, sqlx::Error> =
        sqlx::query_as("SELECT version FROM schema_migrations ORDER BY version")
            .fetch_all(&mut conn)
            .await;
    let _ = conn.close().await;
    match rows {
        Ok(r) => Ok(Some(r.into_iter().map(|(v,)| v).collect())),
        Err(sqlx::Error::Database(e)) if e.message().contains("doesn't exist") => Ok(None),
        Err(e) => Err(target.error("could not read schema_migrations of", e)),
    }
}

/// Checks, after the first host runs the new release (the app applies its
/// migrations at start, under a lock), that every migration the release
/// ships is recorded in the target's `schema_migrations`.
pub struct MigrationsStep {
    pub run: Arc<Run>,
}

#[async_trait]
impl Step for MigrationsStep {
    async fn run(&self, _cx: &StepContext<'_>) -> Result<Verified> {
        let run = &self.run;
        let want = run
            .plan
            .release
            .as_ref()
            .map(|r| r.migrations.clone())
            .unwrap_or_default();
        let applied = applied(
            &run.plan.to_env,
            &run.to_env,
            run.creds.as_ref(),
            &run.known_hosts,
        )
        .await?
        .unwrap_or_default();
        let missing: Vec<&String> = want.iter().filter(|m| !applied.contains(m)).collect();
        if !missing.is_empty() {
            return Err(Error::new(
                ErrorCode::CheckFailed,
                format!(
                    "migrations {} of {} are not recorded in {}'s schema_migrations after the switch",
                    missing.iter().map(|m| m.as_str()).collect::<Vec<_>>().join(", "),
                    run.release_id(),
                    run.plan.to_env
                ),
            )
            .hint("Look at the app's error log on the first host: a migration failed at start."));
        }
        Ok(Verified::by(format!(
            "{} recorded in schema_migrations ({} versions in all)",
            run.plan.pending_migrations.join(", "),
            applied.len()
        )))
    }
}
