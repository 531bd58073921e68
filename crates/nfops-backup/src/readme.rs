//! `README.txt` of a backup: how to restore it with standard tools alone.

use crate::manifest::Manifest;

/// The text of `README.txt` for `m` (written before the manifest; the
/// manifest lists it with its SHA-256).
pub fn readme(m: &Manifest) -> String {
    let mut s = format!(
        "NewFinity Ops backup {id}\n\
         environment: {env}   database: {db}   server: {ver}\n\
         snapshot: {snap}   binlog: {bf} {bp}   gtid: {gtid}\n\n\
         Every *.sql{sfx} file is SQL text, compressed with zstd, then encrypted with age\n\
         to these recipients:\n",
        id = m.backup_id,
        env = m.environment,
        db = m.database,
        ver = m.server_version,
        snap = m.snapshot_at.to_rfc3339(),
        bf = m.binlog_file.as_deref().unwrap_or("-"),
        bp = m
            .binlog_position
            .map(|p| p.to_string())
            .unwrap_or_else(|| "-".into()),
        gtid = m.gtid.as_deref().unwrap_or("-"),
        sfx = crate::sink::SUFFIX,
    );
    for r in &m.recipients {
        s.push_str(&format!("  {r}\n"));
    }
    s.push_str(
        "\nRestore with standard tools (age, zstd, the mysql/mariadb client) into an EMPTY database,\n\
         one file at a time, in this order:\n\n\
         \x20 1. 00-schema.sql.zst.age          (tables)\n\
         \x20 2. every file in data/            (rows; any order, may run in parallel)\n\
         \x20 3. 99-post.sql.zst.age            (views, triggers, routines, events)\n\n\
         For each FILE:\n\n\
         \x20 age -d -i KEYFILE FILE | zstd -d | mysql DBNAME\n\n\
         for example:\n\n\
         \x20 age -d -i key.txt 00-schema.sql.zst.age | zstd -d | mysql newfinity_restore\n\
         \x20 for f in data/*.sql.zst.age; do age -d -i key.txt \"$f\" | zstd -d | mysql newfinity_restore || break; done\n\
         \x20 age -d -i key.txt 99-post.sql.zst.age | zstd -d | mysql newfinity_restore\n\n\
         Each file sets what it needs (utf8mb4, time_zone +00:00, sql_mode without strict\n\
         checks so zero dates load, foreign key checks off) and ends with the line\n\
         \"-- nfops: end of file\"; a file without it was cut off.\n\n\
         manifest.json (written last; without it this folder is not a backup) lists every\n\
         file with its size and SHA-256 (check with `sha256sum`), and every table with its row\n\
         count and content hash (definition nfops-rowsum-md5-v1, see the nfops-mysql crate).\n",
    );
    if !m.storage.is_empty() || !m.storage_warnings.is_empty() {
        s.push_str(
            "\nStorage snapshots (not SQL: which version of every key each bucket held at backup\n\
             time, JSON lines, format nfops-bucket-snapshot-v1: a header line, then one\n\
             {key, version_id, etag, size, last_modified} per line). Read one with\n\
             \x20 age -d -i key.txt storage/BUCKET.jsonl.zst.age | zstd -d\n\
             and bring a key back with\n\
             \x20 aws s3api copy-object --bucket BUCKET --key KEY --copy-source BUCKET/KEY?versionId=VERSION_ID\n",
        );
        for t in &m.storage {
            s.push_str(&format!(
                "  {}  bucket {}: {} objects\n",
                t.file, t.bucket, t.objects
            ));
        }
        for w in &m.storage_warnings {
            s.push_str(&format!("  {w}\n"));
        }
    }
    s.push_str("\nFiles in restore order:\n");
    for f in &m.restore_order {
        s.push_str(&format!("  {f}\n"));
    }
    s
}
