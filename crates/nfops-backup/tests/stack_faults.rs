//! Fault tests that stop a stack service: their own test binary, so no other
//! backup test shares the stopped server.

use nfops_testkit::{db, Stack};

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::time::Duration;

use age::x25519;
use nfops_backup::{plan_backup, run_backup};
use nfops_core::jobs::{CancellationToken, JobState, Progress, ProgressEvent};

/// The tests here stop services the others use: one at a time.
static SERIAL: tokio::sync::Mutex<()> = tokio::sync::Mutex::const_new(());

struct Rows(Arc<AtomicU64>);
impl Progress for Rows {
    fn event(&self, e: &ProgressEvent) {
        if let ProgressEvent::StepProgress { done, .. } = e {
            self.0.fetch_max(*done, Ordering::SeqCst);
        }
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn mariadb_stopped_mid_dump_fails_the_job_and_leaves_nothing() {
    let _serial = SERIAL.lock().await;
    let Some(stack) = Stack::from_env("mariadb_stopped_mid_dump_fails_the_job_and_leaves_nothing")
    else {
        return;
    };
    let db = stack.target("staging", "newfinity");
    // A table big enough that the dump is still running when the server stops
    // (400,000 rows were dumped whole before the stop took effect, once, on a
    // warm machine).
    db::exec(&db, "DROP TABLE IF EXISTS nf_bk_fault_big; CREATE TABLE nf_bk_fault_big (id INT PRIMARY KEY, pad VARCHAR(255)) ENGINE=InnoDB; SET SESSION sql_log_bin = 0; INSERT INTO nf_bk_fault_big SELECT seq, REPEAT('x', 200) FROM seq_1_to_1200000").await;
    let identity = x25519::Identity::generate();
    let mut req = stack.backup_request("staging", &identity);
    req.options.chunk_rows = 1_000_000;
    req.options.workers = 1;
    let plan = plan_backup(&req).await.expect("plan");
    let runner = stack.runner().await;
    let rows = Arc::new(AtomicU64::new(0));
    let job = tokio::spawn(run_backup(
        req.clone(),
        plan_static(plan),
        runner_static(runner),
        Arc::new(Rows(rows.clone())),
        CancellationToken::new(),
    ));
    let deadline = std::time::Instant::now() + Duration::from_secs(60);
    while rows.load(Ordering::SeqCst) == 0 {
        assert!(
            std::time::Instant::now() < deadline,
            "the dump started streaming rows"
        );
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    let s = Stack::from_env("stop").expect("stack");
    tokio::task::spawn_blocking(move || s.run(&["stop", "mariadb-staging"]))
        .await
        .expect("stop runs");
    let out = job
        .await
        .expect("join")
        .expect("the job records its failure");
    let s = Stack::from_env("start").expect("stack");
    tokio::task::spawn_blocking(move || s.run(&["start", "mariadb-staging"]))
        .await
        .expect("start runs");
    db::exec(&db, "DROP TABLE IF EXISTS nf_bk_fault_big").await;

    assert_eq!(
        out.job.state,
        JobState::Failed,
        "a dump cut by the server stopping fails: {:?}",
        out.job
    );
    let err = out.job.error.expect("error");
    assert_eq!(
        err.code, "service.unreachable",
        "the operator is told the database went away: {err:?}"
    );
    assert!(
        !err.message.contains("SQLSTATE") && !err.message.contains("error returned from database"),
        "no raw driver text: {}",
        err.message
    );
    assert!(out.path.is_none());
    assert!(
        !req.store.partial_dir("staging", &out.backup_id).exists(),
        "the partial folder was removed"
    );
    assert!(
        req.store.list("staging").expect("list").is_empty(),
        "nothing is listed as a backup"
    );
}

fn plan_static(p: nfops_backup::BackupPlan) -> &'static nfops_backup::BackupPlan {
    Box::leak(Box::new(p))
}

fn runner_static(r: nfops_core::jobs::JobRunner) -> &'static nfops_core::jobs::JobRunner {
    Box::leak(Box::new(r))
}

/// A small tmpfs this test mounts and unmounts itself.
struct SmallDisk(tempfile::TempDir);

impl SmallDisk {
    fn mount(size: &str) -> Option<SmallDisk> {
        let dir = tempfile::tempdir().expect("tempdir");
        let ok = std::process::Command::new("mount")
            .args(["-t", "tmpfs", "-o", &format!("size={size}"), "nfops-test"])
            .arg(dir.path())
            .status()
            .is_ok_and(|s| s.success());
        ok.then_some(SmallDisk(dir))
    }
}

impl Drop for SmallDisk {
    fn drop(&mut self) {
        // A writer thread of the failed dump may still be closing its file.
        for _ in 0..50 {
            let done = std::process::Command::new("umount")
                .arg(self.0.path())
                .status()
                .is_ok_and(|s| s.success());
            if done {
                return;
            }
            std::thread::sleep(std::time::Duration::from_millis(100));
        }
        let _ = std::process::Command::new("umount")
            .arg("-l")
            .arg(self.0.path())
            .status();
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_full_disk_at_the_destination_fails_clearly_and_leaves_nothing() {
    let _serial = SERIAL.lock().await;
    let Some(stack) =
        Stack::from_env("a_full_disk_at_the_destination_fails_clearly_and_leaves_nothing")
    else {
        return;
    };
    let Some(disk) = SmallDisk::mount("96k") else {
        nfops_testkit::skip_or_fail(
            "a_full_disk_at_the_destination_fails_clearly_and_leaves_nothing",
            "a tmpfs cannot be mounted here (needs root)",
        );
        return;
    };
    let identity = x25519::Identity::generate();
    let mut req = stack.backup_request("staging", &identity);
    req.store = nfops_backup::LocalStore::new(disk.0.path());
    let plan = plan_backup(&req).await.expect("plan");
    let runner = stack.runner().await;
    let out = run_backup(
        req.clone(),
        &plan,
        &runner,
        Arc::new(nfops_core::jobs::NoProgress),
        CancellationToken::new(),
    )
    .await
    .expect("the job records its failure");
    assert_eq!(out.job.state, JobState::Failed, "{:?}", out.job);
    let err = out.job.error.clone().expect("error");
    assert_eq!(err.code, "io.error", "{err:?}");
    assert!(
        err.message.contains("No space left on device"),
        "says the disk is full: {}",
        err.message
    );
    assert!(
        err.hint.as_deref().unwrap_or("").contains("disk is full"),
        "{err:?}"
    );
    assert!(out.path.is_none());
    assert!(
        !req.store.partial_dir("staging", &out.backup_id).exists(),
        "the partial folder was removed"
    );
    assert!(
        req.store.list("staging").expect("list").is_empty(),
        "nothing is listed, not even as incomplete"
    );
    let left: Vec<_> = std::fs::read_dir(req.store.env_dir("staging"))
        .map(|d| d.flatten().map(|e| e.file_name()).collect())
        .unwrap_or_default();
    assert!(left.is_empty(), "nothing half-written stays: {left:?}");
    drop(disk);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn s3_stopped_mid_upload_fails_the_copy_and_leaves_no_copy() {
    let _serial = SERIAL.lock().await;
    use nfops_backup::object_store::ObjectStore;
    use nfops_backup::offsite::{copy_backup, CopyRequest};

    let Some(stack) = Stack::from_env("s3_stopped_mid_upload_fails_the_copy_and_leaves_no_copy")
    else {
        return;
    };
    let identity = x25519::Identity::generate();
    let req = stack.backup_request("staging", &identity);
    let plan = plan_backup(&req).await.expect("plan");
    let runner = stack.runner().await;
    let out = run_backup(
        req.clone(),
        &plan,
        &runner,
        Arc::new(nfops_core::jobs::NoProgress),
        CancellationToken::new(),
    )
    .await
    .expect("backup");
    assert_eq!(out.job.state, JobState::Succeeded, "{:?}", out.job);
    let dir = out.path.clone().expect("published");
    // Something big enough to be mid-upload when the server stops:
    // 64 MiB that does not compress, uploaded in 8 MiB parts.
    let mut x = 0x2545_f491_u32;
    let big: Vec<u8> = (0..64 << 20)
        .map(|_| {
            x ^= x << 13;
            x ^= x >> 17;
            x ^= x << 5;
            x as u8
        })
        .collect();
    std::fs::write(dir.join("data").join("zz-padding.bin"), &big).expect("write");
    drop(big);

    let dest = |stack: &Stack| {
        let text = format!(
            "version = 1\n[environments.t]\ntier = \"staging\"\n[environments.t.backup.offsite]\nendpoint = \"{}\"\npath_style = true\nbucket = \"nf-backups-offsite\"\nprefix = \"fault-{}\"\naccess_key_credential = \"stack/s3/access-key\"\nsecret_key_credential = \"stack/s3/secret-key\"\n",
            stack
                .config
                .environment("staging")
                .expect("staging")
                .storage
                .as_ref()
                .expect("storage")
                .endpoint,
            std::process::id()
        );
        let c = nfops_core::config::Config::parse(std::path::Path::new("t.toml"), &text)
            .expect("config");
        let d = c
            .environment("t")
            .expect("env")
            .backup
            .clone()
            .expect("backup");
        ObjectStore::connect(&d.offsite.expect("offsite"), stack.creds.as_ref()).expect("client")
    };
    let to = dest(&stack);
    let sent = Arc::new(AtomicU64::new(0));
    struct Bytes(Arc<AtomicU64>);
    impl Progress for Bytes {
        fn event(&self, e: &ProgressEvent) {
            if let ProgressEvent::StepProgress { done, .. } = e {
                self.0.fetch_max(*done, Ordering::SeqCst);
            }
        }
    }
    let id = out.backup_id.clone();
    let job = tokio::spawn(copy_backup(
        CopyRequest {
            store: req.store.clone(),
            environment: "staging".into(),
            id: id.clone(),
            to: to.clone(),
        },
        runner_static(stack.runner().await),
        Arc::new(Bytes(sent.clone())),
        CancellationToken::new(),
    ));
    let deadline = std::time::Instant::now() + Duration::from_secs(120);
    // Past the small files, into the big one's parts.
    while sent.load(Ordering::SeqCst) < (9 << 20) {
        assert!(std::time::Instant::now() < deadline, "the upload got going");
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    let s = Stack::from_env("stop").expect("stack");
    tokio::task::spawn_blocking(move || s.run(&["stop", "s3"]))
        .await
        .expect("stop runs");
    let copied = job
        .await
        .expect("join")
        .expect("the copy job records its failure");
    let s = Stack::from_env("start").expect("stack");
    tokio::task::spawn_blocking(move || s.run(&["start", "s3"]))
        .await
        .expect("start runs");

    assert_eq!(copied.job.state, JobState::Failed, "{:?}", copied.job);
    let err = copied.job.error.clone().expect("error");
    assert_eq!(err.code, "service.unreachable", "{err:?}");
    assert!(err.message.contains("unreachable"), "{}", err.message);
    let failed: Vec<&str> = copied
        .job
        .steps
        .iter()
        .filter(|s| s.1.as_str() == "failed")
        .map(|s| s.0.as_str())
        .collect();
    assert_eq!(failed, ["upload"], "{:?}", copied.job.steps);
    // moto came back with new keys (and empty): the listing never shows a
    // copy without its manifest as a backup.
    let fresh = Stack::from_env("after").expect("stack");
    let listed = dest(&fresh).list_backups("staging").await.expect("list");
    assert!(
        listed.iter().all(|l| l.state != "complete"),
        "no copy is listed as a backup: {listed:?}"
    );
    assert!(
        dir.join("manifest.json").exists(),
        "the local backup is untouched by the failed copy"
    );
}
