//! Integrity checks of a live environment, and their saved reports (JSON and
//! HTML under the data folder), each check audited.

use std::path::PathBuf;

use nfops_core::audit::Outcome;
use nfops_core::{Error, Result};
use nfops_restore::checks::{run_checks, CheckReport};
use nfops_restore::BackupSource;
use serde::Serialize;

use crate::Console;
/// A saved integrity report.
#[derive(Debug, Clone, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct SavedReport {
    pub id: String,
    pub environment: String,
    pub ok: bool,
    pub findings: usize,
    pub json: PathBuf,
    pub html: PathBuf,
}

impl Console {
    /// Where integrity reports are kept.
    pub fn reports_dir(&self) -> PathBuf {
        self.paths().state_dir.join("reports")
    }

    pub(super) fn save_report(&self, r: &CheckReport) -> Result<SavedReport> {
        let dir = self.reports_dir();
        std::fs::create_dir_all(&dir)
            .map_err(|e| Error::io(format!("creating {}", dir.display()), e))?;
        let base = format!("{}-{}", r.environment, r.id);
        let json = dir.join(format!("{base}.json"));
        let html = dir.join(format!("{base}.html"));
        let text = serde_json::to_vec_pretty(r)
            .map_err(|e| Error::internal(format!("report not serializable: {e}")))?;
        std::fs::write(&json, text)
            .map_err(|e| Error::io(format!("writing {}", json.display()), e))?;
        std::fs::write(&html, r.html())
            .map_err(|e| Error::io(format!("writing {}", html.display()), e))?;
        Ok(SavedReport {
            id: r.id.clone(),
            environment: r.environment.clone(),
            ok: r.ok(),
            findings: r.findings.len(),
            json,
            html,
        })
    }

    /// Runs the integrity checks of `env` (against backup `backup` when given),
    /// saves the report as JSON and HTML, and audits it.
    pub async fn check(
        &self,
        env: &str,
        backup: Option<&str>,
    ) -> Result<(CheckReport, SavedReport)> {
        let source = match backup {
            Some(b) => Some(BackupSource::open(
                &self.backup_store(env)?.backup_dir(env, b),
            )?),
            None => None,
        };
        let report = run_checks(&self.check_request(env, source, None, true)?).await?;
        let saved = self.save_report(&report)?;
        self.audit_restore(
            "check.run",
            env,
            &report.id,
            if report.ok() { Outcome::Succeeded } else { Outcome::Failed },
            serde_json::json!({ "backup": backup, "findings": report.findings.len(), "checks": report.checks.len() }),
        )
        .await?;
        Ok((report, saved))
    }

    /// Saved integrity reports, newest first.
    pub fn check_reports(&self) -> Result<Vec<SavedReport>> {
        let dir = self.reports_dir();
        let mut out = Vec::new();
        let Ok(rd) = std::fs::read_dir(&dir) else {
            return Ok(out);
        };
        for e in rd.flatten() {
            let p = e.path();
            if p.extension().and_then(|x| x.to_str()) != Some("json") {
                continue;
            }
            let Ok(text) = std::fs::read(&p) else {
                continue;
            };
            let Ok(v) = serde_json::from_slice::<serde_json::Value>(&text) else {
                continue;
            };
            let findings = v["findings"].as_array().map_or(0, |a| a.len());
            let ok = findings == 0
                && v["checks"]
                    .as_array()
                    .is_some_and(|a| a.iter().all(|c| c["ok"].as_bool() == Some(true)));
            out.push(SavedReport {
                id: v["id"].as_str().unwrap_or_default().to_owned(),
                environment: v["environment"].as_str().unwrap_or_default().to_owned(),
                ok,
                findings,
                html: p.with_extension("html"),
                json: p,
            });
        }
        out.sort_by(|a, b| b.id.cmp(&a.id));
        Ok(out)
    }
}
