//! Checked bytes are used bytes, against the real stack: a data file
//! replaced in the backup folder right after the "check backup" step (which
//! hashed it while copying it into the restore's private folder) is never
//! loaded; the private copy is gone when the job ends. And a cross-environment
//! backup with storage snapshots restores with storage left out on purpose:
//! refused without the option (the hint names it), with it the plan says
//! "left as it is" and the storage step is skipped with that reason.

use std::path::PathBuf;
use std::sync::{Arc, Mutex};

use age::x25519;
use nfops_backup::signature::sign_manifest;
use nfops_backup::Manifest;
use nfops_core::jobs::{CancellationToken, JobState, Progress, ProgressEvent, StepState};
use nfops_core::ErrorCode;
use nfops_restore::job::DatabaseState;
use nfops_restore::{plan_restore, run_restore};
use nfops_testkit::forge::data_file_of;
use nfops_testkit::{db, Stack};

/// Replaces file `victim` of the backup in `dir` with the bytes of `with`
/// once the first step (check backup) has finished: what someone with write
/// access to the backup folder could do during a restore.
struct SwapAfterCheck {
    dir: PathBuf,
    victim: String,
    with: String,
    done: Mutex<bool>,
}

impl Progress for SwapAfterCheck {
    fn event(&self, event: &ProgressEvent) {
        if let ProgressEvent::StepFinished { index: 0, .. } = event {
            let bytes = std::fs::read(self.dir.join(&self.with)).expect("read other file");
            std::fs::write(self.dir.join(&self.victim), bytes).expect("replace file");
            *self.done.lock().expect("lock") = true;
        }
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_file_replaced_after_the_check_is_never_loaded() {
    let Some(stack) = Stack::from_env("file_replaced_after_check") else {
        return;
    };
    let _serial = nfops_testkit::serial().await;
    let identity = x25519::Identity::generate();
    let dir = stack.backup("staging", &identity).await;
    let staging = stack.target("staging", "newfinity");
    let before = db::content(&staging).await;
    let scratch = tempfile::tempdir().expect("scratch");
    let mut req = stack.restore_request("staging", &dir, &identity);
    req.source = req.source.clone().with_scratch(scratch.path().to_owned());
    let plan = plan_restore(&req).await.expect("plan");
    let swap = Arc::new(SwapAfterCheck {
        dir: dir.clone(),
        victim: data_file_of(&dir, "users"),
        with: data_file_of(&dir, "orders"),
        done: Mutex::new(false),
    });
    let out = run_restore(
        req,
        &plan,
        vec![],
        &stack.runner().await,
        swap.clone(),
        CancellationToken::new(),
    )
    .await
    .expect("restore runs");
    assert!(
        *swap.done.lock().expect("lock"),
        "the file was replaced during the job"
    );
    // On main the load read the backup folder again and loaded the other
    // table's rows into `users`: the verify step failed the job.
    assert_eq!(out.job.state, JobState::Succeeded, "{:?}", out.job);
    assert_eq!(out.database_state, DatabaseState::Restored);
    assert_eq!(
        db::content(&staging).await,
        before,
        "what was hashed is what was loaded"
    );
    assert_eq!(
        std::fs::read_dir(scratch.path()).expect("scratch").count(),
        0,
        "the private copy is removed when the job ends"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn another_environments_storage_can_be_left_out_on_purpose() {
    let Some(stack) = Stack::from_env("without_storage") else {
        return;
    };
    let _serial = nfops_testkit::serial().await;
    let identity = x25519::Identity::generate();
    let dir = stack.backup("staging", &identity).await;
    // A backup of production carrying a snapshot of production's bucket
    // (re-signed by the trusted stack key, as a genuine one would be).
    let mut m = Manifest::read(&dir).expect("manifest");
    m.environment = "production".into();
    m.storage
        .push(nfops_backup::manifest::StorageSnapshotEntry {
            bucket: "nf-production-assets".into(),
            file: "storage/nf-production-assets.jsonl.zst.age".into(),
            objects: 0,
            object_bytes: 0,
            taken_at: chrono::Utc::now(),
            finished_at: chrono::Utc::now(),
        });
    m.write(&dir).expect("write manifest");
    sign_manifest(&dir, &stack.signing_key()).expect("sign");

    let mut req = stack.restore_request("staging", &dir, &identity);
    req.allow_other_environment = true;
    req.snapshots = vec![nfops_storage::BucketSnapshot {
        bucket: "nf-production-assets".into(),
        prefix: None,
        taken_at: chrono::Utc::now(),
        finished_at: chrono::Utc::now(),
        objects: vec![],
    }];
    let e = plan_restore(&req)
        .await
        .expect_err("foreign bucket refused");
    assert_eq!(e.code(), ErrorCode::BackupUntrusted);
    assert!(
        e.hint_text().unwrap_or("").contains("--without-storage"),
        "the refusal names the option: {:?}",
        e.hint_text()
    );

    req.without_storage = true;
    req.snapshots = vec![];
    let plan = plan_restore(&req).await.expect("planned without storage");
    let line = plan
        .preflight
        .iter()
        .find(|c| c.name == "storage")
        .expect("a storage line");
    assert!(
        line.ok && line.detail.contains("left as it is"),
        "{}",
        line.detail
    );
    assert_eq!(
        plan.plan.steps.last().map(|s| s.name.as_str()),
        Some("storage")
    );
    let out = run_restore(
        req,
        &plan,
        vec![],
        &stack.runner().await,
        Arc::new(nfops_core::jobs::NoProgress),
        CancellationToken::new(),
    )
    .await
    .expect("restore runs");
    assert_eq!(out.job.state, JobState::Succeeded, "{:?}", out.job);
    assert_eq!(out.database_state, DatabaseState::Restored);
    let (_, state, why) = out
        .job
        .steps
        .iter()
        .find(|(n, _, _)| n == "storage")
        .expect("a storage step");
    assert_eq!(*state, StepState::Skipped, "never reported completed");
    assert!(
        why.as_deref().unwrap_or("").contains("left as it is"),
        "{why:?}"
    );
}
