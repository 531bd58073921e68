//! Verifying what a backup's schema and post files would run: the same
//! allow-list as the restore's check ([`nfops_mysql::allowed`]), so a backup
//! re-signed with a stolen trusted key but holding a forged statement fails
//! `backup verify` naming the file and line. (Data files are checked line
//! by line while `verify` reads their rows.)

use std::path::Path;

use age::x25519;
use nfops_mysql::allowed::{check_sql_file, FileKind, Scope};

use crate::manifest::Manifest;
use crate::verify::Finding;

/// The first refused statement of the schema and of the post file, if any.
pub(crate) fn check(m: &Manifest, dir: &Path, identity: &x25519::Identity) -> Vec<Finding> {
    let scope = Scope::of(&m.database, m.inventory.as_ref());
    let mut findings = Vec::new();
    for (prefix, kind) in [
        ("00-schema.sql", FileKind::Schema),
        ("99-post.sql", FileKind::Post),
    ] {
        let Some(f) = m.files.iter().find(|f| f.name.starts_with(prefix)) else {
            continue;
        };
        // An unreadable file is reported by the file's own check.
        let Ok(text) = crate::verify_inventory::read_text(&dir.join(&f.name), identity) else {
            continue;
        };
        if let Err(r) = check_sql_file(kind, &text, &scope) {
            findings.push(Finding {
                file: Some(f.name.clone()),
                table: None,
                problem: refused(r.line as u64, &r.why),
            });
        }
    }
    findings
}

/// A refusal as a finding's problem.
pub(crate) fn refused(line: u64, why: &str) -> String {
    format!("SQL line {line} holds a statement a restore may not run: {why} (treat this backup as forged)")
}
