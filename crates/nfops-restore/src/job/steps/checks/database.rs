//! The checks that read the database: orphaned foreign-key rows, and the
//! storage objects the `files` table references.

use nfops_core::Result;
use nfops_mysql::literal::{quote_ident, quote_str};
use nfops_mysql::schema::text_at;
use nfops_mysql::Target;

use super::{CheckRequest, CheckResult, Finding};
use crate::load::{compare_with_manifest, TableCheck};
use crate::source::BackupSource;

/// (constraint, table, referenced table, (column, referenced column)…).
type ForeignKey = (String, String, String, Vec<(String, String)>);

/// Rows whose foreign key points at no row: (foreign keys checked, findings).
pub(super) async fn orphans(target: &Target) -> Result<(usize, Vec<Finding>)> {
    let mut conn = target.connect().await?;
    let rows = sqlx::Executor::fetch_all(
        &mut conn,
        format!(
            "SELECT CONSTRAINT_NAME, TABLE_NAME, COLUMN_NAME, REFERENCED_TABLE_NAME, REFERENCED_COLUMN_NAME \
             FROM information_schema.KEY_COLUMN_USAGE WHERE TABLE_SCHEMA = {db} AND REFERENCED_TABLE_NAME IS NOT NULL \
             ORDER BY TABLE_NAME, CONSTRAINT_NAME, ORDINAL_POSITION",
            db = quote_str(&target.database)
        )
        .as_str(),
    )
    .await
    .map_err(|e| target.error("could not read the foreign keys of", e))?;
    // Group columns per constraint.
    let mut fks: Vec<ForeignKey> = Vec::new();
    for r in &rows {
        let (Some(c), Some(t), Some(col), Some(p), Some(pc)) = (
            text_at(r, 0),
            text_at(r, 1),
            text_at(r, 2),
            text_at(r, 3),
            text_at(r, 4),
        ) else {
            continue;
        };
        match fks.iter_mut().find(|f| f.0 == c && f.1 == t) {
            Some(f) => f.3.push((col, pc)),
            None => fks.push((c, t, p, vec![(col, pc)])),
        }
    }
    let mut findings = Vec::new();
    for (c, t, p, cols) in &fks {
        let on = cols
            .iter()
            .map(|(a, b)| format!("c.{} = p.{}", quote_ident(a), quote_ident(b)))
            .collect::<Vec<_>>()
            .join(" AND ");
        let not_null = cols
            .iter()
            .map(|(a, _)| format!("c.{} IS NOT NULL", quote_ident(a)))
            .collect::<Vec<_>>()
            .join(" AND ");
        let sql = format!(
            "SELECT COUNT(*) FROM {} c LEFT JOIN {} p ON {on} WHERE {not_null} AND p.{} IS NULL",
            quote_ident(t),
            quote_ident(p),
            quote_ident(&cols[0].1)
        );
        let r = sqlx::Executor::fetch_one(&mut conn, sql.as_str())
            .await
            .map_err(|e| target.error(&format!("could not check foreign key {c} of"), e))?;
        let n: u64 = text_at(&r, 0).and_then(|v| v.parse().ok()).unwrap_or(0);
        if n > 0 {
            findings.push(Finding {
                check: "foreign keys".into(),
                subject: format!("{t}.{c}"),
                problem: format!("{n} row(s) of `{t}` reference a missing row of `{p}`"),
            });
        }
    }
    let _ = sqlx::Connection::close(conn).await;
    Ok((fks.len(), findings))
}

/// Every object the `files` table references exists with its recorded size.
pub(super) async fn storage_refs(
    req: &CheckRequest,
    target: &Target,
) -> Result<(String, Vec<Finding>)> {
    let mut conn = target.connect().await?;
    let has_files = sqlx::Executor::fetch_one(
        &mut conn,
        format!(
            "SELECT COUNT(*) FROM information_schema.TABLES WHERE TABLE_SCHEMA = {} AND TABLE_NAME = 'files'",
            quote_str(&target.database)
        )
        .as_str(),
    )
    .await
    .map_err(|e| target.error("could not read the tables of", e))?;
    if text_at(&has_files, 0).as_deref() == Some("0") {
        return Ok((
            "no `files` table: nothing references storage".into(),
            vec![],
        ));
    }
    let Some(storage) = req.env.storage.as_ref() else {
        return Ok(("the environment has no storage configured".into(), vec![]));
    };
    let rows = sqlx::Executor::fetch_all(
        &mut conn,
        "SELECT id, bucket, s3_key, size_bytes FROM files ORDER BY id",
    )
    .await
    .map_err(|e| target.error("could not read the files table of", e))?;
    let _ = sqlx::Connection::close(conn).await;
    let client = nfops_storage::StorageClient::connect(storage, req.creds.as_ref())?;
    let mut findings = Vec::new();
    for r in &rows {
        let (Some(id), Some(bucket), Some(key)) = (text_at(r, 0), text_at(r, 1), text_at(r, 2))
        else {
            continue;
        };
        let size: i64 = text_at(r, 3).and_then(|v| v.parse().ok()).unwrap_or(-1);
        let subject = format!("files #{id}: s3://{bucket}/{key}");
        match client
            .sdk()
            .head_object()
            .bucket(&bucket)
            .key(&key)
            .send()
            .await
        {
            Ok(h) => {
                let got = h.content_length().unwrap_or(-1);
                if got != size {
                    findings.push(Finding {
                        check: "storage objects".into(),
                        subject,
                        problem: format!("object has {got} bytes, the row says {size}"),
                    });
                }
            }
            Err(e) => {
                let missing = e.as_service_error().is_some_and(|s| s.is_not_found());
                findings.push(Finding {
                    check: "storage objects".into(),
                    subject,
                    problem: if missing {
                        "object is missing".into()
                    } else {
                        format!(
                            "object could not be read ({})",
                            aws_sdk_s3::error::DisplayErrorContext(&e)
                                .to_string()
                                .chars()
                                .take(160)
                                .collect::<String>()
                        )
                    },
                });
            }
        }
    }
    Ok((
        format!("{} object(s) referenced by `files` looked up", rows.len()),
        findings,
    ))
}

/// Row counts and content hashes of the live tables against `source`'s
/// manifest; the differences become findings.
pub(super) async fn compare_tables(
    source: &BackupSource,
    target: &Target,
    checks: &mut Vec<CheckResult>,
    findings: &mut Vec<Finding>,
) -> Vec<TableCheck> {
    let names: Vec<String> = source
        .manifest
        .tables
        .iter()
        .map(|t| t.name.clone())
        .collect();
    match compare_with_manifest(source, target, &names).await {
        Ok(t) => {
            let bad: Vec<&TableCheck> = t.iter().filter(|c| !c.ok()).collect();
            for b in &bad {
                findings.push(Finding {
                    check: "tables".into(),
                    subject: b.table.clone(),
                    problem: format!(
                        "{} rows (backup {}), content hash {} (backup {})",
                        b.rows, b.expected_rows, b.content_hash, b.expected_hash
                    ),
                });
            }
            checks.push(CheckResult {
                seconds: 0.0,
                name: "tables".into(),
                ok: bad.is_empty(),
                detail: format!(
                    "{} tables compared with backup {}: {} differ",
                    t.len(),
                    source.manifest.backup_id,
                    bad.len()
                ),
            });
            t
        }
        Err(e) => {
            checks.push(CheckResult {
                seconds: 0.0,
                name: "tables".into(),
                ok: false,
                detail: e.message().to_owned(),
            });
            Vec::new()
        }
    }
}

/// The live database's objects against `source`'s inventory (kind,
/// partitioning, sequence state, owner, security; extra objects too); the
/// differences become findings. Nothing to compare without an inventory.
pub(super) async fn compare_objects(
    source: &BackupSource,
    target: &Target,
    checks: &mut Vec<CheckResult>,
    findings: &mut Vec<Finding>,
) {
    let Some(inv) = &source.manifest.inventory else {
        checks.push(CheckResult {
            seconds: 0.0,
            name: "objects".into(),
            ok: true,
            detail: format!(
                "backup {} has no inventory recorded: objects not compared",
                source.manifest.backup_id
            ),
        });
        return;
    };
    let read = async {
        let mut conn = target.connect().await?;
        let r = nfops_mysql::inventory::read(&mut conn, target, &target.database).await;
        let _ = sqlx::Connection::close(conn).await;
        r
    };
    match read.await {
        Ok((live, _)) => {
            let scope = nfops_mysql::inventory::CompareScope {
                extras: true,
                ..Default::default()
            };
            let diff = nfops_mysql::inventory::compare(inv, &live, &scope);
            for d in &diff {
                findings.push(Finding {
                    check: "objects".into(),
                    subject: target.database.clone(),
                    problem: d.clone(),
                });
            }
            checks.push(CheckResult {
                seconds: 0.0,
                name: "objects".into(),
                ok: diff.is_empty(),
                detail: format!(
                    "{} object(s) of backup {}'s inventory compared: {} difference(s)",
                    inv.objects.len(),
                    source.manifest.backup_id,
                    diff.len()
                ),
            });
        }
        Err(e) => checks.push(CheckResult {
            seconds: 0.0,
            name: "objects".into(),
            ok: false,
            detail: e.message().to_owned(),
        }),
    }
}
