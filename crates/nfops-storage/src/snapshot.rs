//! [`BucketSnapshot`]: which version of every key a versioned bucket held at
//! one moment, captured with ListObjectVersions, and its file format.
//!
//! File format (`nfops-bucket-snapshot-v1`), JSON lines, UTF-8:
//! line 1 is a [`SnapshotHeader`] (format, bucket, prefix, capture times and
//! the object count), then one [`ObjectVersion`] per line, sorted by key.
//! A file whose object lines do not match the header's count is refused, so a
//! truncated file is never read as a smaller bucket.

use std::collections::BTreeMap;
use std::io::{BufRead, Write};

use chrono::{DateTime, Utc};
use nfops_core::{Error, ErrorCode, Result};
use serde::{Deserialize, Serialize};

use crate::StorageClient;

/// The format name written in every snapshot header.
pub const FORMAT: &str = "nfops-bucket-snapshot-v1";

/// One key and the version of it that was current at capture time.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ObjectVersion {
    pub key: String,
    /// The S3 version id (`"null"` for an object written before versioning was enabled).
    pub version_id: String,
    /// The ETag as S3 returns it, quotes included.
    pub etag: String,
    pub size: u64,
    pub last_modified: DateTime<Utc>,
}

/// The first line of a snapshot file.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct SnapshotHeader {
    pub format: String,
    pub bucket: String,
    /// Only keys under this prefix were captured; `None` = the whole bucket.
    pub prefix: Option<String>,
    /// When the listing started.
    pub taken_at: DateTime<Utc>,
    /// When the listing ended. Writes between the two may or may not be in
    /// the snapshot (S3 listings are not transactional).
    pub finished_at: DateTime<Utc>,
    pub objects: u64,
}

/// The state of a versioned bucket (or a prefix of it) at one moment.
///
/// Invariant: `objects` is sorted by key, one entry per key, and holds only
/// keys that existed then (a key whose current version was a delete marker
/// is absent).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct BucketSnapshot {
    pub bucket: String,
    pub prefix: Option<String>,
    pub taken_at: DateTime<Utc>,
    pub finished_at: DateTime<Utc>,
    pub objects: Vec<ObjectVersion>,
}

impl BucketSnapshot {
    /// Total bytes of the objects in the snapshot.
    pub fn total_bytes(&self) -> u64 {
        self.objects.iter().map(|o| o.size).sum()
    }

    /// The version recorded for `key`, if the key existed.
    pub fn get(&self, key: &str) -> Option<&ObjectVersion> {
        self.objects
            .binary_search_by(|o| o.key.as_str().cmp(key))
            .ok()
            .map(|i| &self.objects[i])
    }

    /// Writes the snapshot in the file format above.
    pub fn write_jsonl(&self, mut w: impl Write) -> std::io::Result<()> {
        let header = SnapshotHeader {
            format: FORMAT.into(),
            bucket: self.bucket.clone(),
            prefix: self.prefix.clone(),
            taken_at: self.taken_at,
            finished_at: self.finished_at,
            objects: self.objects.len() as u64,
        };
        serde_json::to_writer(&mut w, &header)?;
        w.write_all(b"\n")?;
        for o in &self.objects {
            serde_json::to_writer(&mut w, o)?;
            w.write_all(b"\n")?;
        }
        w.flush()
    }

    /// Reads a snapshot written by [`write_jsonl`](Self::write_jsonl).
    /// `source` names the file in errors.
    ///
    /// Errors: `check.failed` naming the line for an unknown format, a line
    /// that is not a valid entry, keys out of order or repeated, or an object
    /// count that differs from the header's (a truncated file).
    pub fn read_jsonl(r: impl BufRead, source: &str) -> Result<Self> {
        let bad = |line: usize, what: String| {
            Error::new(
                ErrorCode::CheckFailed,
                format!("storage snapshot {source}, line {line}: {what}"),
            )
            .hint("The snapshot file is damaged or not a snapshot: verify the backup, or use another one.")
        };
        let mut lines = r.lines();
        let first = match lines.next() {
            Some(l) => l.map_err(|e| Error::io(format!("reading {source}"), e))?,
            None => return Err(bad(1, "the file is empty".into())),
        };
        let header: SnapshotHeader = serde_json::from_str(&first)
            .map_err(|e| bad(1, format!("not a snapshot header ({e})")))?;
        if header.format != FORMAT {
            return Err(bad(
                1,
                format!(
                    "unknown format {:?} (this version reads {FORMAT})",
                    header.format
                ),
            ));
        }
        let mut objects: Vec<ObjectVersion> = Vec::new();
        for (i, line) in lines.enumerate() {
            let n = i + 2;
            let line = line.map_err(|e| Error::io(format!("reading {source}"), e))?;
            let o: ObjectVersion = serde_json::from_str(&line)
                .map_err(|e| bad(n, format!("not an object entry ({e})")))?;
            if let Some(prev) = objects.last() {
                if prev.key >= o.key {
                    return Err(bad(
                        n,
                        format!("key {:?} is out of order or repeated", o.key),
                    ));
                }
            }
            objects.push(o);
        }
        if objects.len() as u64 != header.objects {
            return Err(bad(
                objects.len() + 2,
                format!(
                    "the header announces {} objects but the file holds {} (truncated?)",
                    header.objects,
                    objects.len()
                ),
            ));
        }
        Ok(Self {
            bucket: header.bucket,
            prefix: header.prefix,
            taken_at: header.taken_at,
            finished_at: header.finished_at,
            objects,
        })
    }
}

/// Captures the current version of every key of `bucket` (under `prefix`).
///
/// Refuses a bucket whose versioning is not enabled: its snapshot could not
/// bring anything back. Memory grows with the number of keys (about 200 bytes
/// each), not with their size.
///
/// Errors: `service.unhealthy` for versioning off or suspended, a refused key
/// or a missing bucket; `service.unreachable` when the endpoint does not
/// answer (after the client's retries).
pub async fn capture(
    storage: &StorageClient,
    bucket: &str,
    prefix: Option<&str>,
) -> Result<BucketSnapshot> {
    storage.require_versioning(bucket).await?;
    let taken_at = Utc::now();
    let mut current: BTreeMap<String, ObjectVersion> = BTreeMap::new();
    let mut key_marker: Option<String> = None;
    let mut version_marker: Option<String> = None;
    loop {
        let page = storage
            .sdk()
            .list_object_versions()
            .bucket(bucket)
            .set_prefix(prefix.map(str::to_owned))
            .set_key_marker(key_marker.take())
            .set_version_id_marker(version_marker.take())
            .send()
            .await
            .map_err(|e| storage.error(bucket, e))?;
        for v in page.versions() {
            if v.is_latest() != Some(true) {
                continue;
            }
            let (Some(key), Some(last_modified)) = (v.key(), v.last_modified()) else {
                continue;
            };
            let last_modified =
                DateTime::<Utc>::from_timestamp(last_modified.secs(), last_modified.subsec_nanos())
                    .unwrap_or(taken_at);
            current.insert(
                key.to_owned(),
                ObjectVersion {
                    key: key.to_owned(),
                    version_id: v.version_id().unwrap_or("null").to_owned(),
                    etag: v.e_tag().unwrap_or_default().to_owned(),
                    size: v.size().unwrap_or(0).max(0) as u64,
                    last_modified,
                },
            );
        }
        // A key whose latest entry is a delete marker did not exist then.
        for m in page.delete_markers() {
            if m.is_latest() == Some(true) {
                if let Some(key) = m.key() {
                    current.remove(key);
                }
            }
        }
        if page.is_truncated() == Some(true) {
            key_marker = page.next_key_marker().map(str::to_owned);
            version_marker = page.next_version_id_marker().map(str::to_owned);
            if key_marker.is_none() {
                return Err(Error::new(
                    ErrorCode::Unhealthy,
                    format!("S3 listed a partial page of bucket {bucket} without a marker to continue from"),
                )
                .hint("The server's ListObjectVersions is incomplete; the snapshot was not taken."));
            }
        } else {
            break;
        }
    }
    Ok(BucketSnapshot {
        bucket: bucket.to_owned(),
        prefix: prefix.map(str::to_owned),
        taken_at,
        finished_at: Utc::now(),
        objects: current.into_values().collect(),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn sample() -> BucketSnapshot {
        let t = DateTime::parse_from_rfc3339("2026-11-29T10:00:00Z")
            .map(|t| t.with_timezone(&Utc))
            .expect("time");
        BucketSnapshot {
            bucket: "b".into(),
            prefix: Some("uploads/".into()),
            taken_at: t,
            finished_at: t,
            objects: ["uploads/a", "uploads/b ü"]
                .iter()
                .enumerate()
                .map(|(i, k)| ObjectVersion {
                    key: (*k).into(),
                    version_id: format!("v{i}"),
                    etag: format!("\"e{i}\""),
                    size: 10 + i as u64,
                    last_modified: t,
                })
                .collect(),
        }
    }

    fn written(s: &BucketSnapshot) -> Vec<u8> {
        let mut buf = Vec::new();
        s.write_jsonl(&mut buf).expect("write");
        buf
    }

    #[test]
    fn a_written_snapshot_reads_back_equal() {
        let s = sample();
        let back = BucketSnapshot::read_jsonl(&written(&s)[..], "t").expect("read");
        assert_eq!(back, s);
        assert_eq!(back.total_bytes(), 21);
        assert_eq!(back.get("uploads/b ü").map(|o| o.size), Some(11));
        assert!(back.get("uploads/c").is_none());
    }

    #[test]
    fn a_truncated_snapshot_is_refused_with_its_line() {
        let buf = written(&sample());
        let text = String::from_utf8(buf).expect("utf8");
        let cut: String = text.lines().take(2).map(|l| format!("{l}\n")).collect();
        let e = BucketSnapshot::read_jsonl(cut.as_bytes(), "snap.jsonl").expect_err("truncated");
        assert_eq!(e.code(), ErrorCode::CheckFailed);
        assert!(
            e.message().contains("snap.jsonl, line 3"),
            "{}",
            e.message()
        );
        assert!(
            e.message().contains("announces 2 objects"),
            "{}",
            e.message()
        );
    }

    #[test]
    fn repeated_keys_and_foreign_formats_are_refused() {
        let text = String::from_utf8(written(&sample())).expect("utf8");
        let mut lines: Vec<&str> = text.lines().collect();
        lines[2] = lines[1];
        let e = BucketSnapshot::read_jsonl(lines.join("\n").as_bytes(), "s").expect_err("dup");
        assert!(e.message().contains("line 3"), "{}", e.message());
        let other = text.replacen(FORMAT, "something-else", 1);
        let e = BucketSnapshot::read_jsonl(other.as_bytes(), "s").expect_err("format");
        assert!(
            e.message().contains("line 1: unknown format"),
            "{}",
            e.message()
        );
        assert!(BucketSnapshot::read_jsonl(&b""[..], "s").is_err());
    }
}
