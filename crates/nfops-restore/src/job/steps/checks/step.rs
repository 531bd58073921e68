//! The integrity checks as the restore's (or drill's) last step: the report
//! is kept for the caller, and any finding fails the step, so a restore rolls
//! back to its previous tables.

use std::sync::{Arc, Mutex};

use async_trait::async_trait;
use nfops_core::jobs::{PlannedStep, Step, StepContext, Verified};
use nfops_core::{Error, ErrorCode, Result};

use super::{run_checks, CheckReport, CheckRequest};

/// Step "integrity checks": [`run_checks`] on `req`; the report goes into
/// `report` whether it passed or not.
pub struct ChecksStep {
    pub req: CheckRequest,
    pub report: Arc<Mutex<Option<CheckReport>>>,
}

impl ChecksStep {
    /// The step as planned, with `description` (a restore's and a drill's differ).
    pub fn planned(description: String) -> PlannedStep {
        PlannedStep {
            name: "integrity checks".into(),
            description,
        }
    }
}

#[async_trait]
impl Step for ChecksStep {
    async fn run(&self, _cx: &StepContext<'_>) -> Result<Verified> {
        let r = run_checks(&self.req).await?;
        let ok = r.ok();
        let summary = format!(
            "{} check(s), {} finding(s): {}",
            r.checks.len(),
            r.findings.len(),
            r.checks
                .iter()
                .map(|c| format!("{} {}", c.name, if c.ok { "ok" } else { "FAILED" }))
                .collect::<Vec<_>>()
                .join(", ")
        );
        let first = r
            .findings
            .first()
            .map(|f| format!("{}: {}", f.subject, f.problem));
        *self.report.lock().unwrap_or_else(|p| p.into_inner()) = Some(r);
        if ok {
            Ok(Verified::by(summary))
        } else {
            Err(Error::new(
                ErrorCode::CheckFailed,
                format!("integrity checks found problems ({summary}); first: {}", first.unwrap_or_default()),
            )
            .hint("The report lists every finding; the database was rolled back to its previous tables."))
        }
    }
}
