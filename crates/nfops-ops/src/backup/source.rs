//! Where a backup is read from, and who signs new ones.
//!
//! A restore or drill reads a backup from wherever it lives: the local
//! folder, else the `[backup.s3]` destination, else the offsite copy; a
//! bucket's copy is downloaded to a temporary folder (removed afterwards)
//! and then checked like a local one (signature, hashes, statements) by the
//! restore's first step. The signing key is the operator's, from the
//! keyring, created on the first backup or by `nfops backup signing-key`.

use nfops_backup::object_store::ObjectStore;
use nfops_backup::store::check_backup_id;
use nfops_core::{Error, ErrorCode, Result};
use nfops_restore::source::DownloadedCopy;
use nfops_restore::BackupSource;
use nfops_vault::BackupSigningKey;

use super::KeyringSource;
use crate::Console;

impl Console {
    /// The operator's backup signing key; with `create`, made and stored in
    /// the keyring when there is none yet. Returns whether it was just made.
    ///
    /// Errors: the keyring's; `input.invalid` when the stored value is not a key.
    pub async fn backup_signing_key(&self, create: bool) -> Result<(BackupSigningKey, bool)> {
        let keyring = self.keyring().clone();
        let got = tokio::task::spawn_blocking(move || keyring.backup_signing_key(create))
            .await
            .map_err(|e| Error::internal(format!("keyring task failed: {e}")))??;
        if got.1 {
            tracing::info!(category = "security", public_key = %got.0.public_key(), "backup signing key created");
            self.state()
                .credential_changed(nfops_vault::SIGNING_KEY_CREDENTIAL)
                .await?;
        }
        Ok(got)
    }

    /// A fresh private (0700) folder for a downloaded backup, under the
    /// state folder: the download is the restore's private copy, checked
    /// and loaded in place, so it must be this user's only.
    ///
    /// Errors: `io.error` when the folder cannot be made.
    pub(super) fn download_folder(&self) -> Result<DownloadedCopy> {
        let dir = self
            .paths()
            .state_dir
            .join("backup-downloads")
            .join(format!(
                "{}-{}",
                std::process::id(),
                nfops_backup::store::new_backup_id()
            ));
        nfops_core::paths::private_dir(&dir, "folder for a downloaded backup")?;
        Ok(DownloadedCopy(dir))
    }

    /// Where a restore's private copy of a local backup is made: under the
    /// state folder (this user's only), on this machine.
    fn restore_copies(&self) -> std::path::PathBuf {
        self.paths().state_dir.join("restore-copies")
    }

    /// Backup `id` of `env` opened for a restore or drill, from the local
    /// folder, else the `[backup.s3]` destination, else the offsite copy
    /// (downloaded to a temporary folder). Its origin is in the source.
    ///
    /// Errors: `input.invalid` for an id that is not a plain name or a
    /// backup found nowhere; S3 and `io.error` errors of the download.
    pub async fn restore_source(&self, env: &str, id: &str) -> Result<BackupSource> {
        check_backup_id(id)?;
        let local = self.backup_store(env)?.backup_dir(env, id);
        if local.join(nfops_backup::manifest::MANIFEST).is_file() {
            return Ok(BackupSource::open(&local)?.with_scratch(self.restore_copies()));
        }
        let mut looked = vec![format!("the local folder {}", local.display())];
        let primary = self.primary_bucket(env)?;
        let offsite = self
            .offsite_destination(env)?
            .map(|d| ObjectStore::connect(&d, &KeyringSource(self.keyring().clone())))
            .transpose()?;
        for (bucket, what) in [
            (primary, "the [backup.s3] destination"),
            (offsite, "the offsite copy"),
        ] {
            let Some(bucket) = bucket else { continue };
            let copy = self.download_folder()?;
            let dir = copy.0.join(env).join(id);
            match bucket.download_backup(env, id, &dir).await {
                Ok(_) => {
                    let origin = format!(
                        "{what} {} (downloaded to a temporary folder, checked before use)",
                        bucket.describe()
                    );
                    return BackupSource::open_downloaded(&dir, origin, copy);
                }
                Err(e) if e.code() == ErrorCode::InvalidInput => {
                    looked.push(format!("{what} {}", bucket.describe()));
                }
                Err(e) => return Err(e),
            }
        }
        Err(Error::new(
            ErrorCode::InvalidInput,
            format!(
                "environment '{env}' has no backup '{id}' (looked in {})",
                looked.join(", ")
            ),
        )
        .hint(format!(
            "`nfops backup list --env {env}` lists its backups."
        )))
    }
}
