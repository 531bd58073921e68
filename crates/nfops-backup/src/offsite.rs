//! The copy job: a complete local backup → an S3 bucket (offsite), then a
//! read-back of every object against the manifest. The remote manifest is
//! uploaded last, so an interrupted copy is never a complete copy there
//! either; a failed copy removes what it uploaded.

use std::path::{Path, PathBuf};
use std::sync::Arc;

use async_trait::async_trait;
use nfops_core::jobs::{
    CancellationToken, JobReport, JobRunner, Plan, PlannedStep, Progress, Step, StepContext,
    Verified,
};
use nfops_core::{Error, ErrorCode, Result};

use crate::manifest::{Manifest, MANIFEST};
use crate::object_store::ObjectStore;
use crate::store::LocalStore;

/// Which backup goes where.
pub struct CopyRequest {
    pub store: LocalStore,
    pub environment: String,
    pub id: String,
    pub to: ObjectStore,
}

/// The copy job's result.
#[derive(Debug, Clone, serde::Serialize)]
#[serde(rename_all = "camelCase")]
pub struct CopyOutcome {
    pub backup_id: String,
    /// `s3://bucket/prefix/env/id/`.
    pub location: String,
    pub job: JobReport,
    pub files: usize,
    pub bytes: u64,
}

/// The offsite copy made right after a backup run.
#[derive(Debug, Clone, serde::Serialize)]
#[serde(rename_all = "camelCase")]
pub struct OffsiteCopy {
    /// `copied` (uploaded and read back: a verified copy), `failed` or `cancelled`.
    pub state: String,
    /// `s3://…` or the bucket key prefix of the copy.
    pub location: Option<String>,
    /// The copy job, when it started.
    pub job: Option<JobReport>,
    /// Why it failed (the job's error, or why it could not start).
    pub error: Option<nfops_core::WireError>,
}

impl OffsiteCopy {
    /// From the copy job's result (or the error that kept it from starting).
    pub fn from_result(r: &Result<CopyOutcome>) -> Self {
        match r {
            Ok(o) => Self {
                state: match o.job.state {
                    nfops_core::jobs::JobState::Succeeded => "copied",
                    nfops_core::jobs::JobState::Cancelled => "cancelled",
                    _ => "failed",
                }
                .into(),
                location: Some(o.location.clone()),
                job: Some(o.job.clone()),
                error: o.job.error.clone(),
            },
            Err(e) => Self {
                state: "failed".into(),
                location: None,
                job: None,
                error: Some(e.to_wire()),
            },
        }
    }
}

struct Shared {
    dir: PathBuf,
    env: String,
    id: String,
    to: ObjectStore,
    manifest: Manifest,
    /// Every file to copy, relative (`/`-separated), manifest last.
    files: Vec<(String, u64)>,
}

impl Shared {
    fn total(&self) -> u64 {
        self.files.iter().map(|f| f.1).sum()
    }
    fn key(&self, rel: &str) -> String {
        self.to.key(&self.env, &self.id, rel)
    }
}

/// Copies backup `id` to `req.to` as a job (upload, verify copy).
///
/// Errors (before the job starts): `input.invalid` when there is no such
/// complete backup. Failures during the job end it failed, naming the step.
pub async fn copy_backup(
    req: CopyRequest,
    runner: &JobRunner,
    progress: Arc<dyn Progress>,
    cancel: CancellationToken,
) -> Result<CopyOutcome> {
    let CopyRequest {
        store,
        environment,
        id,
        to,
    } = req;
    let dir = store.backup_dir(&environment, &id);
    if id.is_empty() || id.contains(['/', '\\']) || id.starts_with('.') || !dir.is_dir() {
        return Err(Error::new(
            ErrorCode::InvalidInput,
            format!("no backup '{id}' of environment '{environment}'"),
        )
        .hint(format!(
            "List them with `nfops backup list --env {environment}`."
        )));
    }
    let manifest = Manifest::read(&dir)?;
    let mut files = Vec::new();
    collect(&dir, "", &mut files)?;
    files.retain(|(rel, _)| rel != MANIFEST);
    let size = std::fs::metadata(dir.join(MANIFEST))
        .map_err(|e| Error::io("reading the manifest", e))?
        .len();
    files.push((MANIFEST.to_owned(), size));
    let location = format!("{}/", to.key(&environment, &id, "").trim_end_matches('/'));
    let plan = Plan {
        kind: "backup.copy".into(),
        environment: Some(environment.clone()),
        summary: format!(
            "Copy backup {id} of {environment} ({} files) to {}",
            files.len(),
            to.describe()
        ),
        steps: vec![
            PlannedStep {
                name: "upload".into(),
                description: "Upload every file (multipart above 16 MiB, retries with backoff), the manifest last; check each stored object's size and ETag against the MD5 of what was sent".into(),
            },
            PlannedStep {
                name: "verify copy".into(),
                description: "Read every object back: size and SHA-256 == manifest; the remote manifest == the local one".into(),
            },
        ],
    };
    let shared = Arc::new(Shared {
        dir,
        env: environment,
        id: id.clone(),
        to,
        manifest,
        files,
    });
    let job = runner
        .run(
            plan,
            vec![
                Box::new(Upload(shared.clone())),
                Box::new(VerifyCopy(shared.clone())),
            ],
            progress,
            cancel,
        )
        .await?;
    if job.error.is_some() {
        // Best effort: no incomplete copy stays behind (the manifest goes first).
        for (rel, _) in shared.files.iter().rev() {
            let _ = shared.to.delete(&shared.key(rel)).await;
        }
    }
    Ok(CopyOutcome {
        backup_id: id,
        location,
        files: shared.files.len(),
        bytes: shared.total(),
        job,
    })
}

fn collect(dir: &Path, rel: &str, out: &mut Vec<(String, u64)>) -> Result<()> {
    let io = |e| Error::io(format!("listing {}", dir.display()), e);
    let mut entries: Vec<_> = std::fs::read_dir(dir)
        .map_err(io)?
        .collect::<std::io::Result<_>>()
        .map_err(io)?;
    entries.sort_by_key(|e| e.file_name());
    for e in entries {
        let name = e.file_name().to_string_lossy().into_owned();
        let r = if rel.is_empty() {
            name
        } else {
            format!("{rel}/{name}")
        };
        let meta = e.metadata().map_err(io)?;
        if meta.is_dir() {
            collect(&e.path(), &r, out)?;
        } else {
            out.push((r, meta.len()));
        }
    }
    Ok(())
}

/// The job's cancellation error (the token fired mid-request).
fn stopped(cx: &StepContext<'_>) -> Error {
    cx.check_cancelled()
        .err()
        .unwrap_or_else(|| Error::new(ErrorCode::Cancelled, "the job was cancelled"))
}

struct Upload(Arc<Shared>);

#[async_trait]
impl Step for Upload {
    async fn run(&self, cx: &StepContext<'_>) -> Result<Verified> {
        let s = &self.0;
        let total = s.total();
        let mut before = 0u64;
        for (rel, len) in &s.files {
            cx.check_cancelled()?;
            cx.message(format!("uploading {rel}"));
            let base = before;
            let sent = move |n: u64| cx.advance(base + n, Some(total), "bytes");
            let (key, path) = (s.key(rel), s.dir.join(rel));
            let put = s.to.put_file(&key, &path, &sent);
            tokio::select! {
                r = put => { r?; }
                _ = cx.cancel_token().cancelled() => return Err(stopped(cx)),
            }
            before += len;
        }
        Ok(Verified::by(format!(
            "{} objects, {total} bytes: each stored size == file size and ETag == MD5 of the bytes sent",
            s.files.len()
        )))
    }
}

struct VerifyCopy(Arc<Shared>);

#[async_trait]
impl Step for VerifyCopy {
    async fn run(&self, cx: &StepContext<'_>) -> Result<Verified> {
        let s = &self.0;
        let total = s.total();
        let mut done = 0u64;
        let local_manifest = std::fs::read(s.dir.join(MANIFEST))
            .map_err(|e| Error::io("reading the manifest", e))?;
        let local_sha = hex::encode(<sha2::Sha256 as sha2::Digest>::digest(&local_manifest));
        for (rel, len) in &s.files {
            cx.check_cancelled()?;
            let expected = if rel == MANIFEST {
                local_sha.clone()
            } else {
                match s.manifest.files.iter().find(|f| &f.name == rel) {
                    Some(f) => f.sha256.clone(),
                    // README.txt and other files outside the manifest: the local bytes.
                    None => {
                        crate::sink::sha256_file(&s.dir.join(rel))
                            .map_err(|e| Error::io(format!("reading {rel}"), e))?
                            .1
                    }
                }
            };
            let key = s.key(rel);
            let (n, sha) = tokio::select! {
                r = s.to.sha256(&key) => r?,
                _ = cx.cancel_token().cancelled() => return Err(stopped(cx)),
            };
            if n != *len || sha != expected {
                return Err(Error::new(
                    ErrorCode::CheckFailed,
                    format!(
                        "the offsite copy of {rel} differs: {n} bytes, SHA-256 {sha} (expected {len} bytes, {expected})"
                    ),
                )
                .hint("The copy is removed; run it again, and check the S3 server if it repeats."));
            }
            done += len;
            cx.advance(done, Some(total), "bytes");
        }
        let in_manifest = s.manifest.files.len();
        Ok(Verified::by(format!(
            "{} objects read back: size and SHA-256 == manifest ({in_manifest} data files) and local files; remote manifest == local",
            s.files.len()
        )))
    }
}
