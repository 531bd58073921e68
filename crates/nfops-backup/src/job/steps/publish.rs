//! Step "publish": renames the `.partial` folder to the backup id; only now
//! is it listed as a backup.

use std::sync::Arc;

use async_trait::async_trait;
use nfops_core::jobs::{Step, StepContext, Verified};
use nfops_core::{Error, ErrorCode, Result};

use crate::job::Shared;
use crate::manifest::Manifest;

pub(crate) struct PublishStep(pub(crate) Arc<Shared>);

#[async_trait]
impl Step for PublishStep {
    async fn run(&self, _cx: &StepContext<'_>) -> Result<Verified> {
        let s = &self.0;
        let to = s.req.store.publish(&s.req.environment, &s.id)?;
        let m = Manifest::read(&to)?;
        if s.dir.exists() || m.backup_id != s.id {
            return Err(Error::new(
                ErrorCode::CheckFailed,
                format!("backup {} was not published cleanly", s.id),
            ));
        }
        Ok(Verified::by(format!(
            "{} holds a valid manifest for {}; no partial folder left",
            to.display(),
            s.id
        )))
    }
}
