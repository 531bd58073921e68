//! Wire types of the Secrets page: key names, recipients, pushes. Values
//! cross only in `secret_reveal`'s answer, on an explicit click.

use serde::Serialize;
use specta::Type;

use crate::failure::Failure;
use crate::jobs::{job_steps, JobState, JobStep};

/// A person who can decrypt an environment's secrets.
#[derive(Debug, Clone, Serialize, Type)]
#[serde(rename_all = "camelCase")]
pub struct SecretsRecipient {
    pub name: String,
    pub key: String,
}

impl From<nfops_secrets::Recipient> for SecretsRecipient {
    fn from(r: nfops_secrets::Recipient) -> Self {
        Self {
            name: r.name,
            key: r.key,
        }
    }
}

/// An environment's secrets by name (never values) and its recipients.
#[derive(Debug, Clone, Serialize, Type)]
#[serde(rename_all = "camelCase")]
pub struct SecretsListing {
    pub environment: String,
    pub keys: Vec<String>,
    pub recipients: Vec<SecretsRecipient>,
    pub file: String,
    pub exists: bool,
}

impl From<nfops_ops::SecretsListing> for SecretsListing {
    fn from(l: nfops_ops::SecretsListing) -> Self {
        Self {
            environment: l.environment,
            keys: l.keys,
            recipients: l.recipients.into_iter().map(Into::into).collect(),
            file: l.file,
            exists: l.exists,
        }
    }
}

/// Two environments compared by key; values compared by hash, never shown.
#[derive(Debug, Clone, Serialize, Type)]
#[serde(rename_all = "camelCase")]
pub struct SecretsDiff {
    pub only_in_first: Vec<String>,
    pub only_in_second: Vec<String>,
    pub different: Vec<String>,
    pub same: Vec<String>,
}

impl From<nfops_ops::SecretsDiff> for SecretsDiff {
    fn from(d: nfops_ops::SecretsDiff) -> Self {
        Self {
            only_in_first: d.only_in_first,
            only_in_second: d.only_in_second,
            different: d.different,
            same: d.same,
        }
    }
}

/// Recipients after a change, and (after a removal) every key to rotate at its source.
#[derive(Debug, Clone, Serialize, Type)]
#[serde(rename_all = "camelCase")]
pub struct RecipientChange {
    pub recipients: Vec<SecretsRecipient>,
    pub rotate: Vec<String>,
}

impl From<nfops_ops::RecipientChange> for RecipientChange {
    fn from(c: nfops_ops::RecipientChange) -> Self {
        Self {
            recipients: c.recipients.into_iter().map(Into::into).collect(),
            rotate: c.rotate,
        }
    }
}

/// What a push changes on one host, by key name.
#[derive(Debug, Clone, Serialize, Type)]
#[serde(rename_all = "camelCase")]
pub struct HostPushPlan {
    pub host: String,
    pub path: String,
    pub added: Vec<String>,
    pub removed: Vec<String>,
    pub changed: Vec<String>,
    pub apps: Vec<String>,
}

/// The dry run of a push.
#[derive(Debug, Clone, Serialize, Type)]
#[serde(rename_all = "camelCase")]
pub struct PushPlan {
    pub environment: String,
    pub keys: u32,
    pub hosts: Vec<HostPushPlan>,
}

impl From<nfops_ops::PushPlan> for PushPlan {
    fn from(p: nfops_ops::PushPlan) -> Self {
        Self {
            environment: p.environment,
            keys: u32::try_from(p.keys).unwrap_or(u32::MAX),
            hosts: p
                .hosts
                .into_iter()
                .map(|h| HostPushPlan {
                    host: h.host,
                    path: h.path,
                    added: h.changes.added,
                    removed: h.changes.removed,
                    changed: h.changes.changed,
                    apps: h.apps,
                })
                .collect(),
        }
    }
}

/// How a push ended: `noop` when nothing changed (no job ran), else its job's state.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Type)]
#[serde(rename_all = "lowercase")]
pub enum PushState {
    Noop,
    Running,
    Succeeded,
    Failed,
    Cancelled,
    Interrupted,
}

impl From<Option<JobState>> for PushState {
    fn from(s: Option<JobState>) -> Self {
        match s {
            None => PushState::Noop,
            Some(JobState::Running) => PushState::Running,
            Some(JobState::Succeeded) => PushState::Succeeded,
            Some(JobState::Failed) => PushState::Failed,
            Some(JobState::Cancelled) => PushState::Cancelled,
            Some(JobState::Interrupted) => PushState::Interrupted,
        }
    }
}

/// How a push ended: the job's state ("noop" when nothing changed) and each step.
#[derive(Debug, Clone, Serialize, Type)]
#[serde(rename_all = "camelCase")]
pub struct PushResult {
    pub plan: PushPlan,
    pub state: PushState,
    pub job_id: Option<String>,
    pub error: Option<Failure>,
    pub steps: Vec<JobStep>,
}

impl From<nfops_ops::PushOutcome> for PushResult {
    fn from(o: nfops_ops::PushOutcome) -> Self {
        let job = o.job;
        Self {
            plan: o.plan.into(),
            state: job.as_ref().map(|j| JobState::from(j.state)).into(),
            job_id: job.as_ref().map(|j| j.job_id.clone()),
            error: job.as_ref().and_then(|j| j.error.clone()).map(Into::into),
            steps: job.map(|j| job_steps(j.steps)).unwrap_or_default(),
        }
    }
}
