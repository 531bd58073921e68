//! Integrity checks of a live environment: every check runs and every
//! finding is collected (nothing stops at the first).
//!
//! - tables: row counts and content hashes against a backup's manifest;
//! - foreign keys: rows whose referenced row is missing (from
//!   `information_schema` key relations, whatever `foreign_key_checks` let in);
//! - storage: every object the `files` table references exists in its bucket
//!   with the recorded size;
//! - app: the health URL answers 200 with status ok, and smoke requests
//!   through nginx answer 2xx;
//! - workers: the Redis job queue is empty or draining.

use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

use chrono::{DateTime, Utc};
use nfops_core::config::Environment;
use nfops_core::credentials::CredentialSource;
use nfops_core::Result;
use nfops_mysql::literal::{quote_ident, quote_str};
use nfops_mysql::schema::text_at;
use nfops_mysql::Target;
use serde::Serialize;

use crate::load::{compare_with_manifest, TableCheck};
use crate::route::route;
use crate::source::BackupSource;

/// What to check.
#[derive(Clone)]
pub struct CheckRequest {
    pub environment: String,
    pub env: Environment,
    pub creds: Arc<dyn CredentialSource>,
    pub known_hosts: PathBuf,
    /// Compare tables with this backup's manifest.
    pub source: Option<BackupSource>,
    /// Check this database instead of the configured one (drills).
    pub database: Option<String>,
    /// Run the app and worker checks (off for a drill's scratch database).
    pub live_service: bool,
}

/// One check and its verdict.
#[derive(Debug, Clone, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct CheckResult {
    pub name: String,
    pub ok: bool,
    /// What was compared, or why it could not run.
    pub detail: String,
}

/// One problem found.
#[derive(Debug, Clone, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct Finding {
    pub check: String,
    pub subject: String,
    pub problem: String,
}

/// Everything one run of the checks found.
#[derive(Debug, Clone, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct CheckReport {
    pub id: String,
    pub environment: String,
    pub database: String,
    pub backup_id: Option<String>,
    pub started_at: DateTime<Utc>,
    pub finished_at: DateTime<Utc>,
    pub checks: Vec<CheckResult>,
    pub findings: Vec<Finding>,
    pub tables: Vec<TableCheck>,
}

impl CheckReport {
    pub fn ok(&self) -> bool {
        self.findings.is_empty() && self.checks.iter().all(|c| c.ok)
    }

    /// A self-contained HTML page of the report.
    pub fn html(&self) -> String {
        let esc = |s: &str| {
            s.replace('&', "&amp;")
                .replace('<', "&lt;")
                .replace('>', "&gt;")
                .replace('"', "&quot;")
        };
        let mut h = format!(
            "<!doctype html><html><head><meta charset=\"utf-8\"><title>Integrity report {id}</title>\
             <style>body{{font-family:sans-serif;margin:2em}}td,th{{border:1px solid #ccc;padding:4px 8px}}table{{border-collapse:collapse}}.bad{{color:#b00}}.ok{{color:#070}}</style></head><body>\
             <h1>Integrity report: {env}</h1><p>database <b>{db}</b>{bk}, {start} – {end}: <b class=\"{cls}\">{verdict}</b></p>",
            id = esc(&self.id),
            env = esc(&self.environment),
            db = esc(&self.database),
            bk = self
                .backup_id
                .as_ref()
                .map(|b| format!(", against backup {}", esc(b)))
                .unwrap_or_default(),
            start = self.started_at.to_rfc3339(),
            end = self.finished_at.to_rfc3339(),
            cls = if self.ok() { "ok" } else { "bad" },
            verdict = if self.ok() {
                "no findings".to_owned()
            } else {
                format!("{} finding(s)", self.findings.len())
            },
        );
        h.push_str("<h2>Checks</h2><table><tr><th>check</th><th>result</th><th>detail</th></tr>");
        for c in &self.checks {
            h.push_str(&format!(
                "<tr><td>{}</td><td class=\"{}\">{}</td><td>{}</td></tr>",
                esc(&c.name),
                if c.ok { "ok" } else { "bad" },
                if c.ok { "ok" } else { "FAILED" },
                esc(&c.detail)
            ));
        }
        h.push_str("</table><h2>Findings</h2>");
        if self.findings.is_empty() {
            h.push_str("<p>None.</p>");
        } else {
            h.push_str("<table><tr><th>check</th><th>subject</th><th>problem</th></tr>");
            for f in &self.findings {
                h.push_str(&format!(
                    "<tr><td>{}</td><td>{}</td><td>{}</td></tr>",
                    esc(&f.check),
                    esc(&f.subject),
                    esc(&f.problem)
                ));
            }
            h.push_str("</table>");
        }
        if !self.tables.is_empty() {
            h.push_str("<h2>Tables</h2><table><tr><th>table</th><th>rows</th><th>expected</th><th>hash</th><th>expected</th></tr>");
            for t in &self.tables {
                h.push_str(&format!(
                    "<tr class=\"{}\"><td>{}</td><td>{}</td><td>{}</td><td>{}</td><td>{}</td></tr>",
                    if t.ok() { "ok" } else { "bad" },
                    esc(&t.table),
                    t.rows,
                    t.expected_rows,
                    esc(&t.content_hash),
                    esc(&t.expected_hash)
                ));
            }
            h.push_str("</table>");
        }
        h.push_str("</body></html>\n");
        h
    }
}

/// Runs every check; a check that cannot run is itself a failed check.
///
/// Errors: none for failing checks (they are findings); only when the
/// environment has no database.
pub async fn run_checks(req: &CheckRequest) -> Result<CheckReport> {
    let started_at = Utc::now();
    let mut checks = Vec::new();
    let mut findings = Vec::new();
    let mut tables = Vec::new();
    let db_name = req
        .database
        .clone()
        .or_else(|| req.env.database.as_ref().map(|d| d.name.clone()))
        .unwrap_or_default();
    let route = route(
        &req.environment,
        &req.env,
        req.creds.as_ref(),
        &req.known_hosts,
        req.database.as_deref(),
    )
    .await;
    match route {
        Err(e) => checks.push(CheckResult {
            name: "database".into(),
            ok: false,
            detail: e.message().to_owned(),
        }),
        Ok(route) => {
            let target = route.target.clone();
            if let Some(source) = &req.source {
                let names: Vec<String> = source
                    .manifest
                    .tables
                    .iter()
                    .map(|t| t.name.clone())
                    .collect();
                match compare_with_manifest(source, &target, &names).await {
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
                            name: "tables".into(),
                            ok: bad.is_empty(),
                            detail: format!(
                                "{} tables compared with backup {}: {} differ",
                                t.len(),
                                source.manifest.backup_id,
                                bad.len()
                            ),
                        });
                        tables = t;
                    }
                    Err(e) => checks.push(CheckResult {
                        name: "tables".into(),
                        ok: false,
                        detail: e.message().to_owned(),
                    }),
                }
            }
            checks.push(match orphans(&target).await {
                Ok((n, f)) => {
                    let ok = f.is_empty();
                    findings.extend(f);
                    CheckResult {
                        name: "foreign keys".into(),
                        ok,
                        detail: format!(
                            "{n} foreign key(s) checked for rows without their referenced row"
                        ),
                    }
                }
                Err(e) => CheckResult {
                    name: "foreign keys".into(),
                    ok: false,
                    detail: e.message().to_owned(),
                },
            });
            checks.push(match storage_refs(req, &target).await {
                Ok((detail, f)) => {
                    let ok = f.is_empty();
                    findings.extend(f);
                    CheckResult {
                        name: "storage objects".into(),
                        ok,
                        detail,
                    }
                }
                Err(e) => CheckResult {
                    name: "storage objects".into(),
                    ok: false,
                    detail: e.message().to_owned(),
                },
            });
            drop(route);
        }
    }
    if req.live_service {
        let (c, f) = app_health(&req.env).await;
        checks.push(c);
        findings.extend(f);
        let (c, f) = queue_draining(req).await;
        checks.push(c);
        findings.extend(f);
    }
    // A failed check without a finding still gets one, so "findings" is the list to read.
    for c in checks.iter().filter(|c| !c.ok) {
        if !findings.iter().any(|f| f.check == c.name) {
            findings.push(Finding {
                check: c.name.clone(),
                subject: req.environment.clone(),
                problem: c.detail.clone(),
            });
        }
    }
    Ok(CheckReport {
        id: format!("{}-{}", started_at.format("%Y%m%dT%H%M%SZ"), &uuid_short()),
        environment: req.environment.clone(),
        database: db_name,
        backup_id: req.source.as_ref().map(|s| s.manifest.backup_id.clone()),
        started_at,
        finished_at: Utc::now(),
        checks,
        findings,
        tables,
    })
}

fn uuid_short() -> String {
    let n = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.subsec_nanos())
        .unwrap_or(0);
    format!("{:06x}", n & 0xff_ffff)
}

/// (constraint, table, referenced table, (column, referenced column)…).
type ForeignKey = (String, String, String, Vec<(String, String)>);

/// Rows whose foreign key points at no row: (foreign keys checked, findings).
async fn orphans(target: &Target) -> Result<(usize, Vec<Finding>)> {
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
async fn storage_refs(req: &CheckRequest, target: &Target) -> Result<(String, Vec<Finding>)> {
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

/// The health URL and smoke requests through the front (nginx).
async fn app_health(env: &Environment) -> (CheckResult, Vec<Finding>) {
    let Some(health) = env.health_url.as_ref().map(|h| h.get_ref().clone()) else {
        return (
            CheckResult {
                name: "app".into(),
                ok: true,
                detail: "no health_url configured: skipped".into(),
            },
            vec![],
        );
    };
    let client = match reqwest::Client::builder()
        .timeout(Duration::from_secs(10))
        .build()
    {
        Ok(c) => c,
        Err(e) => {
            return (
                CheckResult {
                    name: "app".into(),
                    ok: false,
                    detail: format!("no HTTP client: {e}"),
                },
                vec![],
            )
        }
    };
    let base = health
        .trim_end_matches("/health")
        .trim_end_matches('/')
        .to_owned();
    let mut findings = Vec::new();
    let mut urls = vec![health.clone()];
    for p in ["/version", "/users?limit=5", "/orders", "/files"] {
        urls.push(format!("{base}{p}"));
    }
    for u in &urls {
        match client.get(u).send().await {
            Ok(r) if r.status().is_success() => {
                if *u == health {
                    let body: serde_json::Value = r.json().await.unwrap_or_default();
                    if body.get("status").and_then(|s| s.as_str()) != Some("ok") {
                        findings.push(Finding {
                            check: "app".into(),
                            subject: u.clone(),
                            problem: format!(
                                "health status is {}",
                                body.get("status").cloned().unwrap_or_default()
                            ),
                        });
                    }
                }
            }
            Ok(r) => findings.push(Finding {
                check: "app".into(),
                subject: u.clone(),
                problem: format!("answered HTTP {}", r.status().as_u16()),
            }),
            Err(e) => findings.push(Finding {
                check: "app".into(),
                subject: u.clone(),
                problem: format!(
                    "no answer ({})",
                    if e.is_timeout() {
                        "timed out"
                    } else {
                        "connection failed"
                    }
                ),
            }),
        }
    }
    (
        CheckResult {
            name: "app".into(),
            ok: findings.is_empty(),
            detail: format!("{} request(s) through {base}", urls.len()),
        },
        findings,
    )
}

/// The worker queue is empty or shrinking over two seconds.
async fn queue_draining(req: &CheckRequest) -> (CheckResult, Vec<Finding>) {
    let result: Result<(u64, u64, String)> = async {
        let Some(cache) = req.env.cache.as_ref() else {
            return Ok((0, 0, String::new()));
        };
        let key = format!("{}queue:jobs", cache.key_prefix.clone().unwrap_or_default());
        let mut conn =
            crate::cache::connect(&req.env, req.creds.as_ref(), &req.known_hosts, cache).await?;
        let a: u64 = redis::cmd("LLEN")
            .arg(&key)
            .query_async(&mut conn.conn)
            .await
            .map_err(|e| crate::cache::error(cache, e))?;
        tokio::time::sleep(Duration::from_secs(2)).await;
        let b: u64 = redis::cmd("LLEN")
            .arg(&key)
            .query_async(&mut conn.conn)
            .await
            .map_err(|e| crate::cache::error(cache, e))?;
        Ok((a, b, key))
    }
    .await;
    match result {
        Ok((_, _, k)) if k.is_empty() => (
            CheckResult {
                name: "workers".into(),
                ok: true,
                detail: "no cache configured: skipped".into(),
            },
            vec![],
        ),
        Ok((a, b, key)) => {
            let ok = b == 0 || b < a;
            (
                CheckResult {
                    name: "workers".into(),
                    ok,
                    detail: format!("queue {key}: {a} then {b} job(s) two seconds later"),
                },
                if ok {
                    vec![]
                } else {
                    vec![Finding {
                        check: "workers".into(),
                        subject: key,
                        problem: format!(
                            "{b} job(s) waiting and not draining: are the workers consuming?"
                        ),
                    }]
                },
            )
        }
        Err(e) => (
            CheckResult {
                name: "workers".into(),
                ok: false,
                detail: e.message().to_owned(),
            },
            vec![],
        ),
    }
}
