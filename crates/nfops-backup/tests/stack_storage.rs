//! Storage snapshots taken with each backup, against the stack's real S3
//! (moto, versioned buckets): recorded, encrypted, listed in the manifest,
//! checked by verify; a bucket with versioning off is refused, or left out
//! with a loud warning when the policy says `warn`.

use nfops_testkit::Stack;

use std::io::Read;
use std::sync::Arc;

use age::x25519;
use nfops_backup::sink::LocalSink;
use nfops_backup::verify::verify_dir;
use nfops_backup::{plan_backup, run_backup, Manifest, Scope};
use nfops_core::config::UnversionedBuckets;
use nfops_core::jobs::{CancellationToken, JobState, NoProgress};
use nfops_mysql::DumpSink;
use nfops_storage::{BucketSnapshot, StorageClient};

fn read_snapshot(path: &std::path::Path, identity: &x25519::Identity) -> BucketSnapshot {
    let f = std::fs::File::open(path).expect("snapshot file");
    let dec = age::Decryptor::new_buffered(std::io::BufReader::new(f)).expect("age file");
    let plain = dec
        .decrypt(std::iter::once(identity as &dyn age::Identity))
        .expect("decrypts with the operator's key");
    let mut text = Vec::new();
    zstd::Decoder::new(plain)
        .expect("zstd")
        .read_to_end(&mut text)
        .expect("decompress");
    BucketSnapshot::read_jsonl(&text[..], "test").expect("a valid snapshot")
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn each_backup_records_the_buckets_versions_and_verify_checks_them() {
    let Some(stack) =
        Stack::from_env("each_backup_records_the_buckets_versions_and_verify_checks_them")
    else {
        return;
    };
    let identity = x25519::Identity::generate();
    let req = stack.backup_request("staging", &identity);
    let plan = plan_backup(&req).await.expect("plan");
    let names: Vec<&str> = plan.plan.steps.iter().map(|s| s.name.as_str()).collect();
    assert_eq!(
        names,
        ["dump", "storage", "manifest", "verify", "publish"],
        "an environment with storage snapshots it with each backup"
    );
    let runner = stack.runner().await;
    let out = run_backup(
        req.clone(),
        &plan,
        &runner,
        Arc::new(NoProgress),
        CancellationToken::new(),
    )
    .await
    .expect("backup job runs");
    assert_eq!(out.job.state, JobState::Succeeded, "{:?}", out.job);
    let dir = out.path.clone().expect("published");
    let m = Manifest::read(&dir).expect("manifest");
    assert_eq!(m.storage.len(), 1, "{:?}", m.storage);
    let snap = &m.storage[0];
    assert_eq!(snap.bucket, "nf-staging-assets");
    assert_eq!(snap.file, "storage/nf-staging-assets.jsonl.zst.age");
    assert!(
        m.files.iter().any(|f| f.name == snap.file),
        "the snapshot file is in the manifest with its SHA-256"
    );
    assert!(
        !m.restore_order.contains(&snap.file),
        "the SQL restore order holds SQL files only"
    );

    // The recorded versions are the bucket's current ones, as S3 lists them now.
    let storage = stack
        .config
        .environment("staging")
        .expect("staging")
        .storage
        .clone()
        .expect("storage");
    let client = StorageClient::connect(&storage, stack.creds.as_ref()).expect("client");
    let now = nfops_storage::capture(&client, "nf-staging-assets", Some("seed/"))
        .await
        .expect("capture");
    let recorded = read_snapshot(&dir.join(&snap.file), &identity);
    assert_eq!(recorded.objects.len() as u64, snap.objects);
    assert!(
        now.objects.len() >= 100,
        "the seed has its objects: {}",
        now.objects.len()
    );
    for o in &now.objects {
        assert_eq!(
            recorded.get(&o.key),
            Some(o),
            "the seed object {} is recorded with its current version",
            o.key
        );
    }

    let report = verify_dir(&dir, &identity, Scope::Sample(1), &|_| {}).expect("verify");
    assert!(report.ok(), "{:?}", report.findings);
    assert_eq!(report.snapshots_checked, 1, "sampled verify still reads it");
    assert_eq!(report.objects_checked, snap.objects);

    // A valid snapshot with one object less, hashes patched into the manifest:
    // only the content check can catch it.
    let mut short = recorded.clone();
    short.objects.pop();
    let staging = stack.tmp.path().join("forged");
    let sink = LocalSink::new(&staging, vec![identity.to_public()]);
    let mut f = sink
        .create("storage/nf-staging-assets.jsonl")
        .expect("create");
    short.write_jsonl(&mut f).expect("write");
    let entry = f.finish().expect("finish");
    std::fs::copy(staging.join(&entry.name), dir.join(&snap.file)).expect("swap");
    let mut forged = m.clone();
    for fe in forged.files.iter_mut().filter(|fe| fe.name == entry.name) {
        fe.bytes = entry.bytes;
        fe.sha256 = entry.sha256.clone();
    }
    forged.write(&dir).expect("manifest");
    let report = verify_dir(&dir, &identity, Scope::Full, &|_| {}).expect("verify");
    assert_eq!(report.findings.len(), 2, "{:?}", report.findings);
    assert!(
        report.findings[0].problem.contains("the manifest says")
            && report.findings[0].file.as_deref() == Some(snap.file.as_str()),
        "{:?}",
        report.findings
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_bucket_without_versioning_is_refused_or_left_out_loudly() {
    let Some(stack) = Stack::from_env("a_bucket_without_versioning_is_refused_or_left_out_loudly")
    else {
        return;
    };
    let mut storage = stack
        .config
        .environment("staging")
        .expect("staging")
        .storage
        .clone()
        .expect("storage");
    let client = StorageClient::connect(&storage, stack.creds.as_ref()).expect("client");
    let bucket = format!("nf-bk-unversioned-{}", std::process::id());
    client
        .sdk()
        .create_bucket()
        .bucket(&bucket)
        .send()
        .await
        .expect("create a bucket (versioning stays off)");
    storage.buckets = toml::Spanned::new(0..0, vec!["nf-staging-assets".into(), bucket.clone()]);

    let identity = x25519::Identity::generate();
    let mut req = stack.backup_request("staging", &identity);
    req.env.storage = Some(storage);
    let plan = plan_backup(&req).await.expect("plan");
    let runner = stack.runner().await;
    let out = run_backup(
        req.clone(),
        &plan,
        &runner,
        Arc::new(NoProgress),
        CancellationToken::new(),
    )
    .await
    .expect("job runs");
    assert_eq!(out.job.state, JobState::Failed, "refused by default");
    let failed: Vec<&str> = out
        .job
        .steps
        .iter()
        .filter(|s| s.1.as_str() == "failed")
        .map(|s| s.0.as_str())
        .collect();
    assert_eq!(failed, ["storage"], "{:?}", out.job.steps);
    let e = out.job.error.clone().expect("error");
    assert!(
        e.message.contains(&bucket) && e.message.contains("versioning is off"),
        "{}",
        e.message
    );
    assert!(
        e.hint
            .as_deref()
            .unwrap_or("")
            .contains("unversioned_buckets"),
        "{e:?}"
    );
    assert!(
        req.store
            .list("staging")
            .expect("list")
            .iter()
            .all(|l| l.state != "complete"),
        "no backup is listed"
    );

    let policy = req
        .env
        .backup
        .as_mut()
        .expect("staging has a backup policy");
    policy.unversioned_buckets = UnversionedBuckets::Warn;
    let plan = plan_backup(&req).await.expect("plan");
    let out = run_backup(
        req.clone(),
        &plan,
        &runner,
        Arc::new(NoProgress),
        CancellationToken::new(),
    )
    .await
    .expect("job runs");
    assert_eq!(out.job.state, JobState::Succeeded, "{:?}", out.job);
    let m = out.manifest.expect("manifest");
    assert_eq!(
        m.storage
            .iter()
            .map(|s| s.bucket.as_str())
            .collect::<Vec<_>>(),
        ["nf-staging-assets"],
        "the versioned bucket is still recorded"
    );
    assert_eq!(m.storage_warnings.len(), 1, "{:?}", m.storage_warnings);
    assert!(m.storage_warnings[0].contains(&bucket));
    let evidence = out
        .job
        .steps
        .iter()
        .find(|s| s.0 == "storage")
        .and_then(|s| s.2.clone())
        .unwrap_or_default();
    assert!(
        evidence.contains("WARNING") && evidence.contains(&bucket),
        "the step says it loudly: {evidence}"
    );
    client
        .sdk()
        .delete_bucket()
        .bucket(&bucket)
        .send()
        .await
        .expect("delete the test bucket");
}
