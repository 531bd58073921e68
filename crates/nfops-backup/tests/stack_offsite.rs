//! The S3 object store against the stack's moto (`nf-backups-offsite`):
//! multipart uploads checked by ETag, read-back SHA-256, and an unreachable
//! server ending in a clear error.

use nfops_testkit::Stack;

use std::io::Write;

use nfops_backup::object_store::{ObjectStore, MULTIPART_THRESHOLD};
use nfops_core::config::{Config, ObjectDestination};
use nfops_core::ErrorCode;
use sha2::{Digest, Sha256};

fn destination(endpoint: &str) -> ObjectDestination {
    let text = format!(
        "version = 1\n[environments.t]\ntier = \"staging\"\n[environments.t.backup.offsite]\nendpoint = \"{endpoint}\"\npath_style = true\nbucket = \"nf-backups-offsite\"\nprefix = \"it-{}\"\naccess_key_credential = \"stack/s3/access-key\"\nsecret_key_credential = \"stack/s3/secret-key\"\n",
        std::process::id()
    );
    let c = Config::parse(std::path::Path::new("t.toml"), &text).expect("config");
    let e = c.environment("t").expect("env");
    e.backup
        .as_ref()
        .and_then(|b| b.offsite.clone())
        .expect("offsite")
}

fn s3_endpoint(stack: &Stack) -> String {
    let c = stack.config.environment("staging").expect("staging");
    c.storage.as_ref().expect("stack storage").endpoint.clone()
}

#[tokio::test]
async fn multipart_upload_is_checked_and_reads_back() {
    let Some(stack) = Stack::from_env("multipart_upload_is_checked_and_reads_back") else {
        return;
    };
    let store = ObjectStore::connect(&destination(&s3_endpoint(&stack)), stack.creds.as_ref())
        .expect("client");
    // Not a multiple of the part size, above the multipart threshold.
    let len = MULTIPART_THRESHOLD as usize + 3 * 1024 * 1024 + 17;
    let path = stack.tmp.path().join("big.bin");
    let mut f = std::fs::File::create(&path).expect("create");
    let mut x = 0x9e37_79b9_u32;
    let data: Vec<u8> = (0..len)
        .map(|_| {
            x ^= x << 13;
            x ^= x >> 17;
            x ^= x << 5;
            x as u8
        })
        .collect();
    f.write_all(&data).expect("write");
    drop(f);
    let key = store.key("t", "b1", "data/big.bin");
    let sent = std::sync::Mutex::new(0u64);
    let n = store
        .put_file(&key, &path, &|b| *sent.lock().expect("test setup") = b)
        .await
        .expect("multipart upload with its ETag checked");
    assert_eq!(n, len as u64);
    assert_eq!(
        *sent.lock().expect("test setup"),
        len as u64,
        "progress reaches the full size"
    );
    let (got, sha) = store.sha256(&key).await.expect("read back");
    assert_eq!(got, len as u64);
    assert_eq!(
        sha,
        hex::encode(Sha256::digest(&data)),
        "the object is the file"
    );

    let small = stack.tmp.path().join("small.txt");
    std::fs::write(&small, b"hello").expect("write");
    let k2 = store.key("t", "b1", "README.txt");
    store
        .put_file(&k2, &small, &|_| {})
        .await
        .expect("single put checked");
    store.delete(&key).await.expect("delete");
    store.delete(&k2).await.expect("delete");
}

#[tokio::test]
async fn unreachable_server_is_a_clear_error() {
    let Some(stack) = Stack::from_env("unreachable_server_is_a_clear_error") else {
        return;
    };
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .expect("bind")
        .local_addr()
        .expect("addr")
        .port();
    let store = ObjectStore::connect(
        &destination(&format!("http://127.0.0.1:{port}")),
        stack.creds.as_ref(),
    )
    .expect("client");
    let path = stack.tmp.path().join("f.txt");
    std::fs::write(&path, b"x").expect("write");
    let started = std::time::Instant::now();
    let e = store
        .put_file(&store.key("t", "b", "f.txt"), &path, &|_| {})
        .await
        .expect_err("nothing listens there");
    assert_eq!(e.code(), ErrorCode::Unreachable, "{e}");
    assert!(e.message().contains("unreachable"), "{}", e.message());
    assert!(
        started.elapsed().as_secs() < 30,
        "retries back off but give up"
    );
}

#[tokio::test]
async fn a_backup_without_its_manifest_object_is_never_listed_as_one() {
    let Some(stack) =
        Stack::from_env("a_backup_without_its_manifest_object_is_never_listed_as_one")
    else {
        return;
    };
    let store = ObjectStore::connect(&destination(&s3_endpoint(&stack)), stack.creds.as_ref())
        .expect("client");
    let env = "listing";
    let file = stack.tmp.path().join("part.sql.zst.age");
    std::fs::write(&file, b"half of a backup").expect("write");
    let cut = "20260101T000000Z-cut0";
    store
        .put_file(&store.key(env, cut, "data/a.sql.zst.age"), &file, &|_| {})
        .await
        .expect("put");
    let damaged = "20260102T000000Z-bad0";
    let bad = stack.tmp.path().join("manifest.json");
    std::fs::write(&bad, b"{\"format\": 1").expect("write");
    store
        .put_file(&store.key(env, damaged, "manifest.json"), &bad, &|_| {})
        .await
        .expect("put");
    let listed = store.list_backups(env).await.expect("list");
    let states: Vec<(&str, &str)> = listed.iter().map(|l| (l.id.as_str(), l.state)).collect();
    assert_eq!(
        states,
        [(damaged, "incomplete"), (cut, "incomplete")],
        "{listed:?}"
    );
    assert!(listed[1]
        .problem
        .as_deref()
        .unwrap_or("")
        .contains("no manifest"));
    store.remove_backup(env, cut).await.expect("remove");
    store.remove_backup(env, damaged).await.expect("remove");
    assert!(
        store.list_backups(env).await.expect("list").is_empty(),
        "remove_backup deletes every object of it"
    );
}
