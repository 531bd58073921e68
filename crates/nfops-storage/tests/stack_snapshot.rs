//! Snapshots against the local stack's real S3 server (moto, versioned
//! buckets). Skipped unless `NFOPS_STACK_DIR` names a running stack; with
//! `NFOPS_REQUIRE_STACK=1` a missing stack fails instead.

use aws_sdk_s3::primitives::ByteStream;
use nfops_core::ErrorCode;
use nfops_storage::{capture, BucketSnapshot, StorageClient};
use nfops_testkit::Stack;

async fn put(s: &StorageClient, bucket: &str, key: &str, body: &str) -> String {
    s.sdk()
        .put_object()
        .bucket(bucket)
        .key(key)
        .body(ByteStream::from(body.as_bytes().to_vec()))
        .send()
        .await
        .expect("put")
        .version_id()
        .expect("versioned bucket gives a version id")
        .to_owned()
}

#[tokio::test]
async fn a_snapshot_keeps_the_versions_current_when_it_was_taken() {
    let Some(stack) = Stack::from_env("snapshot") else {
        return;
    };
    let env = stack.env("staging");
    let storage = env.storage.as_ref().expect("staging storage");
    let s = StorageClient::connect(storage, &*stack.creds).expect("client");
    let bucket = storage.buckets.get_ref()[0].clone();
    let prefix = format!("snapshot-test-{}/", std::process::id());

    let a1 = put(&s, &bucket, &format!("{prefix}a.txt"), "first").await;
    let b1 = put(&s, &bucket, &format!("{prefix}b ü.txt"), "bee").await;
    put(&s, &bucket, &format!("{prefix}gone.txt"), "x").await;
    s.sdk()
        .delete_object()
        .bucket(&bucket)
        .key(format!("{prefix}gone.txt"))
        .send()
        .await
        .expect("delete");

    let snap = capture(&s, &bucket, Some(&prefix)).await.expect("capture");
    // Later writes do not change what the snapshot recorded.
    let a2 = put(&s, &bucket, &format!("{prefix}a.txt"), "second version").await;
    put(&s, &bucket, &format!("{prefix}new.txt"), "new").await;
    assert_ne!(a1, a2);

    let keys: Vec<&str> = snap.objects.iter().map(|o| o.key.as_str()).collect();
    assert_eq!(
        keys,
        [format!("{prefix}a.txt"), format!("{prefix}b ü.txt")],
        "deleted and later keys are absent"
    );
    let a = snap.get(&format!("{prefix}a.txt")).expect("a");
    assert_eq!(a.version_id, a1);
    assert_eq!(a.size, 5);
    assert_eq!(
        snap.get(&format!("{prefix}b ü.txt")).expect("b").version_id,
        b1
    );

    // The version it names is still readable, with the recorded ETag.
    let old = s
        .sdk()
        .get_object()
        .bucket(&bucket)
        .key(&a.key)
        .version_id(&a.version_id)
        .send()
        .await
        .expect("old version");
    assert_eq!(old.e_tag(), Some(a.etag.as_str()));

    // A second capture sees the new state.
    let later = capture(&s, &bucket, Some(&prefix)).await.expect("capture");
    assert_eq!(later.objects.len(), 3);
    assert_eq!(later.get(&a.key).expect("a").version_id, a2);

    // The file format round-trips what was captured.
    let mut buf = Vec::new();
    snap.write_jsonl(&mut buf).expect("write");
    assert_eq!(
        BucketSnapshot::read_jsonl(&buf[..], "mem").expect("read"),
        snap
    );
}

#[tokio::test]
async fn a_bucket_without_versioning_is_refused() {
    let Some(stack) = Stack::from_env("unversioned") else {
        return;
    };
    let env = stack.env("staging");
    let storage = env.storage.as_ref().expect("staging storage");
    let s = StorageClient::connect(storage, &*stack.creds).expect("client");
    let bucket = format!("nf-unversioned-{}", std::process::id());
    s.sdk()
        .create_bucket()
        .bucket(&bucket)
        .send()
        .await
        .expect("create bucket");
    let e = capture(&s, &bucket, None).await.expect_err("refused");
    assert_eq!(e.code(), ErrorCode::Unhealthy);
    assert!(
        e.message()
            .contains(&format!("versioning is off on bucket {bucket}")),
        "{}",
        e.message()
    );
    s.sdk()
        .delete_bucket()
        .bucket(&bucket)
        .send()
        .await
        .expect("drop bucket");
}
