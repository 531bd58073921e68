//! Copies of a backup to a bucket: the offsite copy, and the upload to an
//! S3 destination; each a job, checked by a read-back, and audited.

use std::sync::Arc;

use nfops_backup::object_store::ObjectStore;
use nfops_backup::offsite::{CopyOutcome, CopyRequest};
use nfops_backup::LocalStore;
use nfops_core::audit::Action;
use nfops_core::jobs::{CancellationToken, JobState, Progress};
use nfops_core::{Error, ErrorCode, Result};

use super::{job_audit, KeyringSource};
use crate::Console;

impl Console {
    /// Copies backup `id` of `env` to its `backup.offsite` bucket as a job
    /// (upload with per-object checks, then a full read-back), records the
    /// copy state in the catalog and audits `backup.copy`.
    ///
    /// Errors: `input.invalid` when `env` has no `backup.offsite` or no such
    /// backup; keyring errors for the S3 keys. S3 and check failures end the
    /// job failed (see the outcome's job report).
    pub async fn backup_copy(
        &self,
        env: &str,
        id: &str,
        progress: Arc<dyn Progress>,
        cancel: CancellationToken,
    ) -> Result<CopyOutcome> {
        let dest = self.offsite_destination(env)?.ok_or_else(|| {
            Error::new(
                ErrorCode::InvalidInput,
                format!("environment '{env}' has no offsite destination"),
            )
            .hint(format!(
                "Add [environments.{env}.backup.offsite] to environments.toml (see README, Backups)."
            ))
        })?;
        let to = ObjectStore::connect(&dest, &KeyringSource(self.keyring().clone()))?;
        // From the local folder; for an S3 destination, a download of it
        // (the run's own copy goes before its staging folder is removed).
        let staged = self.backup_store(env)?;
        let (store, _download) = if staged.checked_backup_dir(env, id)?.is_dir() {
            (staged, None)
        } else {
            self.local_copy(env, id).await?
        };
        let result = self
            .copy_to(env, id, &store, to, "backup.copy", progress, cancel)
            .await;
        if let Ok(o) = &result {
            match o.job.state {
                JobState::Succeeded => self.catalog().record_offsite(env, id, "copied").await?,
                JobState::Cancelled => {}
                _ => self.catalog().record_offsite(env, id, "failed").await?,
            }
        }
        result
    }

    /// Copies backup `id` from `store` to the bucket `to` as a job and
    /// audits it as `action`.
    #[allow(clippy::too_many_arguments)]
    pub(super) async fn copy_to(
        &self,
        env: &str,
        id: &str,
        store: &LocalStore,
        to: ObjectStore,
        action: &'static str,
        progress: Arc<dyn Progress>,
        cancel: CancellationToken,
    ) -> Result<CopyOutcome> {
        let result = nfops_backup::offsite::copy_backup(
            CopyRequest {
                store: store.clone(),
                environment: env.to_owned(),
                id: id.to_owned(),
                to,
            },
            &self.job_runner(),
            progress,
            cancel,
        )
        .await;
        let (outcome, details) = job_audit(
            &result,
            |o| &o.job,
            |o| {
                serde_json::json!({
                    "to": o.location,
                    "files": o.files,
                    "bytes": o.bytes,
                })
            },
        );
        self.audit()
            .record(Action {
                action,
                environment: Some(env),
                target: Some(id),
                outcome,
                details,
            })
            .await?;
        result
    }
}
