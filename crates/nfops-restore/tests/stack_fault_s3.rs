//! The S3 fault test: moto stopped mid-storage-restore. Its own test binary
//! because a moto restart makes a new access key (scripts/STACK.md "S3
//! (moto)"): a test of the same process that had read the old key would then
//! be refused by S3.

use nfops_testkit::{db, storage, Stack};

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;

use age::x25519;
use nfops_core::credentials::CredentialSource;
use nfops_core::jobs::{CancellationToken, JobState, Progress, ProgressEvent};
use nfops_restore::job::DatabaseState;
use nfops_restore::{plan_restore, run_restore};

/// Stops moto once the storage step has brought some keys back
/// (synchronously, from the progress callback, so the step's next request
/// finds the server gone).
struct StopS3MidStorage {
    dir: std::path::PathBuf,
    storage_index: std::sync::atomic::AtomicUsize,
    stopped_after: AtomicU64,
    stopped: std::sync::atomic::AtomicBool,
}

impl Progress for StopS3MidStorage {
    fn event(&self, e: &ProgressEvent) {
        match e {
            ProgressEvent::StepStarted { index, name } if name == "storage" => {
                self.storage_index.store(*index, Ordering::SeqCst);
            }
            ProgressEvent::StepProgress { index, done, .. }
                if *index == self.storage_index.load(Ordering::SeqCst)
                    && *done > 0
                    && !self.stopped.swap(true, Ordering::SeqCst) =>
            {
                self.stopped_after.store(*done, Ordering::SeqCst);
                let ok = nfops_testkit::stack::script(&self.dir, &["stop", "s3"])
                    .status()
                    .map(|s| s.success())
                    .unwrap_or(false);
                assert!(ok, "scripts/stack stop s3");
            }
            _ => {}
        }
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn s3_stopped_mid_storage_restore_fails_cleanly_and_rolls_the_database_back() {
    let Some(stack) = Stack::from_env("s3_stopped_mid_storage") else {
        return;
    };
    let _serial = nfops_testkit::serial().await;
    let db = stack.target("staging", "newfinity");
    let storage = stack
        .config
        .environment("staging")
        .expect("env")
        .storage
        .clone()
        .expect("staging has storage");
    let bucket = storage.buckets.get_ref()[0].clone();
    let client = nfops_storage::StorageClient::connect(&storage, stack.creds.as_ref()).expect("s3");
    // Enough keys that the storage step is still copying when moto stops.
    let prefix = format!("nf-rs-s3-fault-{}/", std::process::id());
    const KEYS: usize = 300;
    for i in 0..KEYS {
        storage::put(
            &client,
            &bucket,
            &format!("{prefix}{i:04}.txt"),
            "at backup time",
        )
        .await;
    }
    let identity = x25519::Identity::generate();
    let dir = stack.backup("staging", &identity).await;
    let snap = nfops_storage::capture(&client, &bucket, Some(&prefix))
        .await
        .expect("snapshot");
    assert_eq!(snap.objects.len(), KEYS);
    // After the backup: every key changed, and a database row added.
    for i in 0..KEYS {
        storage::put(
            &client,
            &bucket,
            &format!("{prefix}{i:04}.txt"),
            "changed after the backup",
        )
        .await;
    }
    db::exec(
        &db,
        "INSERT INTO legacy_imports (source, note) VALUES ('nf-rs-s3-fault', 'after the backup')",
    )
    .await;
    let before = db::content(&db).await;

    // The backup carries the snapshot, as a backup run with storage writes it.
    nfops_testkit::forge::add_storage_snapshot(&stack, &dir, &identity, &snap);
    let mut req = stack.restore_request("staging", &dir, &identity);
    req.snapshots = vec![snap];
    let plan = plan_restore(&req).await.expect("plan");
    assert_eq!(
        plan.storage[0].roll_back.len(),
        KEYS,
        "every key is rolled back"
    );
    let progress = Arc::new(StopS3MidStorage {
        dir: stack.dir.clone(),
        storage_index: std::sync::atomic::AtomicUsize::new(usize::MAX),
        stopped_after: AtomicU64::new(0),
        stopped: Default::default(),
    });
    let out = run_restore(
        req,
        &plan,
        vec![],
        &stack.runner().await,
        progress.clone(),
        CancellationToken::new(),
    )
    .await
    .expect("the job records its failure");
    // moto comes back empty but for the seed objects, with a new access key.
    stack.run(&["start", "s3"]);

    let after = progress.stopped_after.load(Ordering::SeqCst);
    assert!(
        progress.stopped.load(Ordering::SeqCst) && (1..KEYS as u64).contains(&after),
        "moto was stopped mid-step, after {after} of {KEYS} keys"
    );
    assert_eq!(out.job.state, JobState::Failed, "{:?}", out.job);
    let err = out.job.error.clone().expect("error");
    assert_eq!(
        err.code, "service.unreachable",
        "the operator is told the S3 server went away: {err:?}"
    );
    let failed: Vec<&str> = out
        .job
        .steps
        .iter()
        .filter(|s| s.1 == nfops_core::jobs::StepState::Failed)
        .map(|s| s.0.as_str())
        .collect();
    assert_eq!(failed, vec!["storage"]);
    assert_eq!(
        out.database_state,
        DatabaseState::RolledBack,
        "{}",
        out.state_detail
    );
    assert!(
        out.state_detail
            .contains("the storage step did not complete")
            && out.state_detail.contains("rolled back"),
        "the outcome names the step and the database state: {}",
        out.state_detail
    );
    assert!(
        out.state_detail.contains("storage may be partly restored"),
        "the outcome says storage could not be put back: {}",
        out.state_detail
    );
    assert_eq!(
        db::content(&db).await,
        before,
        "staging is as it was before the restore (content hash)"
    );

    // The restarted server answers with its new key (read again from the stack).
    let fresh = Stack::from_env("after_s3_restart").expect("stack");
    assert_ne!(
        fresh
            .creds
            .get(&storage.access_key_credential)
            .ok()
            .map(|s| s.expose().to_owned()),
        stack
            .creds
            .get(&storage.access_key_credential)
            .ok()
            .map(|s| s.expose().to_owned()),
        "moto's restart made a new access key"
    );
    let client = nfops_storage::StorageClient::connect(&storage, fresh.creds.as_ref()).expect("s3");
    storage::purge(&client, &bucket, &prefix).await;
    db::exec(
        &db,
        "DELETE FROM legacy_imports WHERE source = 'nf-rs-s3-fault'",
    )
    .await;
    db::drop_safety(&db, "newfinity").await;
}
