//! Jobs the tests set up with the real engines: a job runner on a private
//! state database, a backup request, "take a backup" and a restore request.

use std::path::{Path, PathBuf};
use std::sync::Arc;

use age::x25519;
use nfops_backup::{plan_backup, run_backup, BackupOutcome, BackupRequest, LocalStore};
use nfops_core::jobs::{CancellationToken, JobRunner, JobState, JobStore, NoProgress};
use nfops_core::state::State;
use nfops_mysql::DumpOptions;
use nfops_restore::{BackupSource, RestoreRequest};

use crate::Stack;

impl Stack {
    /// A job runner on a state database in this test's temp folder.
    pub async fn runner(&self) -> JobRunner {
        let state = State::open(&self.tmp.path().join("state"))
            .await
            .expect("state db");
        JobRunner::new(JobStore::new(state))
    }

    /// A backup request for `env` into this test's temp folder, encrypted to
    /// `identity` and to a second key the test does not hold (as a team's
    /// backups are), in small chunks so a small seed still makes several.
    pub fn backup_request(&self, env: &str, identity: &x25519::Identity) -> BackupRequest {
        BackupRequest {
            environment: env.into(),
            env: self.env(env).clone(),
            creds: self.creds.clone(),
            known_hosts: self.known_hosts(),
            store: LocalStore::new(&self.tmp.path().join("backups")),
            recipients: vec![
                identity.to_public(),
                x25519::Identity::generate().to_public(),
            ],
            identity: identity.clone(),
            signer: self.signing_key(),
            options: DumpOptions {
                chunk_rows: 500,
                ..DumpOptions::default()
            },
        }
    }

    /// Takes a backup of `env` with the real engine; returns its folder.
    pub async fn backup(&self, env: &str, identity: &x25519::Identity) -> PathBuf {
        let out = self.take_backup(self.backup_request(env, identity)).await;
        out.path.expect("published backup")
    }

    /// Plans and runs `req` with the real engine on this test's runner.
    ///
    /// # Panics
    /// When the plan or the run fails, or the job did not succeed.
    pub async fn take_backup(&self, req: BackupRequest) -> BackupOutcome {
        let plan = plan_backup(&req).await.expect("backup plan");
        let out = run_backup(
            req,
            &plan,
            &self.runner().await,
            Arc::new(NoProgress),
            CancellationToken::new(),
        )
        .await
        .expect("backup runs");
        assert_eq!(out.job.state, JobState::Succeeded, "backup: {:?}", out.job);
        out
    }

    /// A restore request of the backup in `dir` into `env`.
    pub fn restore_request(
        &self,
        env: &str,
        dir: &Path,
        identity: &x25519::Identity,
    ) -> RestoreRequest {
        RestoreRequest {
            environment: env.into(),
            env: self.env(env).clone(),
            creds: self.creds.clone(),
            known_hosts: self.known_hosts(),
            source: BackupSource::open(dir).expect("backup opens"),
            identity: identity.clone(),
            tables: None,
            database: None,
            connections: 2,
            safety_retention: chrono::Duration::days(7),
            snapshots: vec![],
            allow_other_environment: false,
            without_storage: false,
        }
    }

    /// The signers `env` trusts in the stack's config (the stack operator).
    pub fn trusted_signers(&self, env: &str) -> nfops_backup::signature::TrustedSigners {
        nfops_backup::signature::TrustedSigners::of(env, self.env(env))
            .expect("stack signers parse")
    }

    /// The stack operator's backup signing key (credential
    /// `nfops/backup-signing-key`, written by `scripts/stack up`; its public
    /// key is a trusted signer of every stack environment).
    ///
    /// # Panics
    /// When the stack has no such credential (a stack from before signing).
    pub fn signing_key(&self) -> nfops_vault::BackupSigningKey {
        let text = nfops_core::credentials::CredentialSource::get(
            self.creds.as_ref(),
            nfops_vault::SIGNING_KEY_CREDENTIAL,
        )
        .expect("the stack has a backup signing key (run `scripts/stack up` again)");
        nfops_vault::BackupSigningKey::parse(&text).expect("stack signing key parses")
    }
}
