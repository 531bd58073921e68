//! The stack's S3 buckets, written and cleaned directly.

use nfops_storage::StorageClient;

/// Writes `body` as a new version of `key`.
pub async fn put(client: &StorageClient, bucket: &str, key: &str, body: &str) {
    client
        .sdk()
        .put_object()
        .bucket(bucket)
        .key(key)
        .body(aws_sdk_s3::primitives::ByteStream::from(
            body.as_bytes().to_vec(),
        ))
        .send()
        .await
        .expect("put object");
}

/// Removes every version and delete marker under `prefix`.
pub async fn purge(client: &StorageClient, bucket: &str, prefix: &str) {
    let page = client
        .sdk()
        .list_object_versions()
        .bucket(bucket)
        .prefix(prefix)
        .send()
        .await
        .expect("list versions");
    let mut all: Vec<(String, String)> = page
        .versions()
        .iter()
        .map(|v| {
            (
                v.key().unwrap_or_default().to_owned(),
                v.version_id().unwrap_or_default().to_owned(),
            )
        })
        .collect();
    all.extend(page.delete_markers().iter().map(|m| {
        (
            m.key().unwrap_or_default().to_owned(),
            m.version_id().unwrap_or_default().to_owned(),
        )
    }));
    for (k, v) in all {
        client
            .sdk()
            .delete_object()
            .bucket(bucket)
            .key(k)
            .version_id(v)
            .send()
            .await
            .expect("delete version");
    }
}
