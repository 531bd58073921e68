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

mod database;
mod services;
pub(crate) mod step;

use std::path::PathBuf;
use std::sync::Arc;

use chrono::{DateTime, Utc};
use nfops_core::config::Environment;
use nfops_core::credentials::CredentialSource;
use nfops_core::Result;
use serde::Serialize;

use crate::load::TableCheck;
use crate::source::BackupSource;
use database::{compare_objects, compare_tables, orphans, storage_refs};
use services::{app_health, queue_draining};
pub use step::ChecksStep;

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
    /// How long it took, so a slow check is visible.
    pub seconds: f64,
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
        h.push_str("<h2>Checks</h2><table><tr><th>check</th><th>result</th><th>time</th><th>detail</th></tr>");
        for c in &self.checks {
            h.push_str(&format!(
                "<tr><td>{}</td><td class=\"{}\">{}</td><td>{:.1} s</td><td>{}</td></tr>",
                esc(&c.name),
                if c.ok { "ok" } else { "bad" },
                if c.ok { "ok" } else { "FAILED" },
                c.seconds,
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

/// Times the checks: each [`Clock::stamp`] gives the checks added since the
/// last one the time since then.
struct Clock {
    since: std::time::Instant,
    counted: usize,
}

impl Clock {
    fn start() -> Clock {
        Clock {
            since: std::time::Instant::now(),
            counted: 0,
        }
    }

    fn stamp(&mut self, checks: &mut [CheckResult]) {
        let secs = (self.since.elapsed().as_secs_f64() * 100.0).round() / 100.0;
        for c in &mut checks[self.counted..] {
            c.seconds = secs;
        }
        self.counted = checks.len();
        self.since = std::time::Instant::now();
    }
}

/// Runs every check; a check that cannot run is itself a failed check.
///
/// Errors: none for failing checks (they are findings); only when the
/// environment has no database.
pub async fn run_checks(req: &CheckRequest) -> Result<CheckReport> {
    let started_at = Utc::now();
    let mut checks = Vec::new();
    let mut clock = Clock::start();
    let mut findings = Vec::new();
    let mut tables = Vec::new();
    let db_name = req
        .database
        .clone()
        .or_else(|| req.env.database.as_ref().map(|d| d.name.clone()))
        .unwrap_or_default();
    let route = nfops_fleet::route::database(
        &req.environment,
        &req.env,
        req.creds.as_ref(),
        &req.known_hosts,
        req.database.as_deref(),
        "to restore into",
    )
    .await;
    clock.stamp(&mut checks);
    match route {
        Err(e) => checks.push(CheckResult {
            seconds: 0.0,
            name: "database".into(),
            ok: false,
            detail: e.message().to_owned(),
        }),
        Ok(route) => {
            let target = route.target.clone();
            if let Some(source) = &req.source {
                tables = compare_tables(source, &target, &mut checks, &mut findings).await;
                clock.stamp(&mut checks);
                compare_objects(source, &target, &mut checks, &mut findings).await;
                clock.stamp(&mut checks);
            }
            checks.push(match orphans(&target).await {
                Ok((n, f)) => {
                    let ok = f.is_empty();
                    findings.extend(f);
                    CheckResult {
                        seconds: 0.0,
                        name: "foreign keys".into(),
                        ok,
                        detail: format!(
                            "{n} foreign key(s) checked for rows without their referenced row"
                        ),
                    }
                }
                Err(e) => CheckResult {
                    seconds: 0.0,
                    name: "foreign keys".into(),
                    ok: false,
                    detail: e.message().to_owned(),
                },
            });
            clock.stamp(&mut checks);
            checks.push(match storage_refs(req, &target).await {
                Ok((detail, f)) => {
                    let ok = f.is_empty();
                    findings.extend(f);
                    CheckResult {
                        seconds: 0.0,
                        name: "storage objects".into(),
                        ok,
                        detail,
                    }
                }
                Err(e) => CheckResult {
                    seconds: 0.0,
                    name: "storage objects".into(),
                    ok: false,
                    detail: e.message().to_owned(),
                },
            });
            clock.stamp(&mut checks);
            drop(route);
        }
    }
    if req.live_service {
        let (c, f) = app_health(&req.env).await;
        checks.push(c);
        findings.extend(f);
        clock.stamp(&mut checks);
        let (c, f) = queue_draining(req).await;
        checks.push(c);
        findings.extend(f);
        clock.stamp(&mut checks);
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
