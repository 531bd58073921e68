//! Verifying a backup against its inventory: every object the manifest
//! records is created by the backup's schema or post file, and every table's
//! rows (current plus history) match what the dump wrote. A backup whose
//! files would lose an object fails verification, naming it.

use std::io::{BufReader, Read};
use std::path::Path;

use age::x25519;
use nfops_mysql::inventory::{created_objects, ObjectKind};

use crate::manifest::Manifest;
use crate::verify::Finding;

/// The findings of checking `m`'s inventory against its files in `dir`
/// (none when the manifest records no inventory).
pub(crate) fn check(m: &Manifest, dir: &Path, identity: &x25519::Identity) -> Vec<Finding> {
    let Some(inv) = &m.inventory else {
        return Vec::new();
    };
    let mut findings = Vec::new();
    let mut created = Vec::new();
    for prefix in ["00-schema.sql", "99-post.sql"] {
        let Some(f) = m.files.iter().find(|f| f.name.starts_with(prefix)) else {
            findings.push(finding(None, format!("the backup has no {prefix} file")));
            continue;
        };
        match read_text(&dir.join(&f.name), identity) {
            Ok(text) => created.extend(created_objects(&text)),
            // The file's own check reports why it cannot be read.
            Err(_) => return findings,
        }
    }
    for o in &inv.objects {
        // CREATE TABLE creates versioned tables too.
        let want = match o.kind {
            ObjectKind::VersionedTable => ObjectKind::Table,
            k => k,
        };
        if !created.iter().any(|(k, n)| *k == want && n == &o.name) {
            findings.push(finding(
                Some(&o.name),
                format!(
                    "{} is in the inventory but no file of the backup creates it",
                    o.describe()
                ),
            ));
        }
        if matches!(o.kind, ObjectKind::Table | ObjectKind::VersionedTable) {
            let dumped = m.tables.iter().find(|t| t.name == o.name).map(|t| t.rows);
            let recorded = o.rows.unwrap_or(0) + o.history_rows.unwrap_or(0);
            if dumped != Some(recorded) {
                findings.push(finding(
                    Some(&o.name),
                    format!(
                        "{} has {recorded} rows (current and history) in the inventory, the backup's data holds {}",
                        o.describe(),
                        dumped.map_or("none".to_owned(), |r| r.to_string())
                    ),
                ));
            }
        }
    }
    findings
}

fn finding(table: Option<&str>, problem: String) -> Finding {
    Finding {
        file: None,
        table: table.map(str::to_owned),
        problem,
    }
}

/// The plaintext of a small backup file (schema, post).
pub(crate) fn read_text(path: &Path, identity: &x25519::Identity) -> Result<String, String> {
    let f = std::fs::File::open(path).map_err(|e| e.to_string())?;
    let dec = age::Decryptor::new_buffered(BufReader::new(f)).map_err(|e| e.to_string())?;
    let plain = dec
        .decrypt(std::iter::once(identity as &dyn age::Identity))
        .map_err(|e| e.to_string())?;
    let mut text = String::new();
    zstd::Decoder::new(plain)
        .map_err(|e| e.to_string())?
        .read_to_string(&mut text)
        .map_err(|e| e.to_string())?;
    Ok(text)
}
