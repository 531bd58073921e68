//! The backup and verify jobs: a plan first, then steps whose evidence is a
//! real check, run by nfops-core's `JobRunner` (progress, cancel, crash-safe
//! records).

use std::path::PathBuf;
use std::sync::atomic::Ordering;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use age::x25519;
use async_trait::async_trait;
use chrono::{DateTime, Utc};
use nfops_core::config::{Environment, UnversionedBuckets};
use nfops_core::credentials::CredentialSource;
use nfops_core::jobs::{
    CancellationToken, JobReport, JobRunner, JobState, Plan, PlannedStep, Progress, Step,
    StepContext, Verified,
};
use nfops_core::{Error, ErrorCode, Result};
use nfops_fleet::{SshSession, Tunnel};
use nfops_mysql::{schema, DumpCounters, DumpOptions, DumpOutcome, FileEntry, Target};

use crate::manifest::{Manifest, StorageSnapshotEntry, FORMAT};
use crate::sink::{sha256_file, LocalSink};
use crate::store::{new_backup_id, LocalStore};
use crate::verify::{verify_dir, Scope, VerifyReport};

/// Everything a backup of one environment needs, resolved by the caller
/// (config, keyring, destination).
#[derive(Clone)]
pub struct BackupRequest {
    pub environment: String,
    pub env: Environment,
    pub creds: Arc<dyn CredentialSource>,
    /// Trusted SSH host keys, for databases reached through a host.
    pub known_hosts: PathBuf,
    pub store: LocalStore,
    /// Public keys the files are encrypted to (at least one).
    pub recipients: Vec<x25519::Recipient>,
    /// The operator's identity: checks the new backup before it is published.
    pub identity: x25519::Identity,
    pub options: DumpOptions,
}

/// A database connection route; keeps an SSH tunnel open while it lives.
pub struct Route {
    pub target: Target,
    _ssh: Option<(SshSession, Tunnel)>,
}

/// Connects (through the `via` host's SSH tunnel when configured).
///
/// Errors: `input.invalid` when the environment has no database; the
/// credential source's, SSH and database errors.
pub async fn route(req: &BackupRequest) -> Result<Route> {
    let db = req.env.database.as_ref().ok_or_else(|| {
        Error::new(
            ErrorCode::InvalidInput,
            format!(
                "environment '{}' has no database to back up",
                req.environment
            ),
        )
        .hint("Add a [environments.NAME.database] section to environments.toml.")
    })?;
    let password = req.creds.get(&db.password_credential)?;
    let (host, port, ssh) = match db.via.as_ref().map(|v| v.get_ref().clone()) {
        None => (db.host.clone(), db.port, None),
        Some(via) => {
            let h = req
                .env
                .hosts
                .iter()
                .map(|h| h.get_ref())
                .find(|h| h.name == via)
                .ok_or_else(|| {
                    Error::internal(format!("via host '{via}' vanished from the config"))
                })?;
            let session = SshSession::connect(h, req.creds.as_ref(), &req.known_hosts).await?;
            let tunnel = session.forward(&db.host, db.port).await?;
            let local = tunnel.local_addr();
            (
                local.ip().to_string(),
                local.port(),
                Some((session, tunnel)),
            )
        }
    };
    Ok(Route {
        target: Target {
            host,
            port,
            user: db.user.clone(),
            password,
            database: db.name.clone(),
            label: format!("{} database", req.environment),
        },
        _ssh: ssh,
    })
}

/// The environment's buckets to snapshot with each backup, when it has storage.
fn storage_buckets(req: &BackupRequest) -> Option<Vec<String>> {
    req.env
        .storage
        .as_ref()
        .map(|s| s.buckets.get_ref().clone())
        .filter(|b| !b.is_empty())
}

fn unversioned(req: &BackupRequest) -> UnversionedBuckets {
    req.env
        .backup
        .as_ref()
        .map(|b| b.unversioned_buckets)
        .unwrap_or_default()
}

/// The dry run of a backup: tables with estimated rows and bytes.
#[derive(Debug, Clone, serde::Serialize)]
#[serde(rename_all = "camelCase")]
pub struct BackupPlan {
    pub plan: Plan,
    pub tables: Vec<PlannedTable>,
    pub est_rows: u64,
    pub est_bytes: u64,
    pub destination: PathBuf,
}

/// One table as planned.
#[derive(Debug, Clone, serde::Serialize)]
#[serde(rename_all = "camelCase")]
pub struct PlannedTable {
    pub name: String,
    pub est_rows: u64,
    pub est_bytes: u64,
    /// Split across workers: by primary-key range, or (without an integer
    /// key) by a hash of one column.
    pub chunked: bool,
}

/// Reads the table list (estimates from `information_schema`) and builds the plan.
pub async fn plan_backup(req: &BackupRequest) -> Result<BackupPlan> {
    let route = route(req).await?;
    let mut conn = route.target.connect().await?;
    let tables = schema::tables(&mut conn, &route.target).await?;
    let _ = sqlx_close(conn).await;
    let planned: Vec<PlannedTable> = tables
        .iter()
        .filter(|t| {
            req.options
                .only_tables
                .as_ref()
                .is_none_or(|o| o.contains(&t.name))
        })
        .map(|t| PlannedTable {
            name: t.name.clone(),
            est_rows: t.est_rows,
            est_bytes: t.est_bytes,
            chunked: t.est_rows > req.options.chunk_rows
                && (t.int_pk.is_some()
                    || req.options.split_keyless
                        && nfops_mysql::dump::hash_split(
                            t,
                            req.options.workers,
                            req.options.chunk_rows,
                        )
                        .len()
                            > 1),
        })
        .collect();
    let est_rows = planned.iter().map(|t| t.est_rows).sum();
    let est_bytes = planned.iter().map(|t| t.est_bytes).sum();
    let destination = req.store.env_dir(&req.environment);
    let step = |name: &str, description: String| PlannedStep {
        name: name.into(),
        description,
    };
    let plan = Plan {
        kind: "backup".into(),
        environment: Some(req.environment.clone()),
        summary: format!(
            "Back up database '{}' of {}: {} tables, about {} rows ({} MB on disk), {} parallel connections, to {}",
            route.target.database,
            req.environment,
            planned.len(),
            est_rows,
            est_bytes / 1_000_000,
            req.options.workers,
            destination.display()
        ),
        steps: [
            vec![step("dump", "Take one consistent snapshot (a brief global read lock), stream every table as SQL through zstd and age into a .partial folder".into())],
            storage_buckets(req)
                .map(|b| {
                    vec![step(
                        "storage",
                        format!(
                            "Record the current version id, ETag and size of every key of bucket(s) {} (ListObjectVersions) into encrypted snapshot files; versioning off: {}",
                            b.join(", "),
                            match unversioned(req) {
                                UnversionedBuckets::Refuse => "refuse the backup",
                                UnversionedBuckets::Warn => "warn loudly and leave the bucket out",
                            }
                        ),
                    )]
                })
                .unwrap_or_default(),
            vec![step("manifest", "Write README.txt and manifest.json (row counts, content hashes, file SHA-256) last, and read the manifest back".into()),
            step("verify", "Re-read every file: size and SHA-256, decrypt with your key, decompress, parse, compare rows and content hashes with the manifest".into()),
            step("publish", "Rename the .partial folder to the backup id; only now is it listed as a backup".into())],
        ]
        .concat(),
    };
    Ok(BackupPlan {
        plan,
        tables: planned,
        est_rows,
        est_bytes,
        destination,
    })
}

async fn sqlx_close(conn: sqlx_conn::MySqlConnection) -> std::result::Result<(), ()> {
    use sqlx_conn::Connection;
    conn.close().await.map_err(|_| ())
}

mod sqlx_conn {
    pub use nfops_mysql::sqlx_reexport::{Connection, MySqlConnection};
}

/// How a backup run ended.
#[derive(Debug, Clone, serde::Serialize)]
#[serde(rename_all = "camelCase")]
pub struct BackupOutcome {
    pub backup_id: String,
    pub job: JobReport,
    /// The published folder, when the job succeeded.
    pub path: Option<PathBuf>,
    pub manifest: Option<Manifest>,
    /// The automatic offsite copy made after a successful run, when the
    /// environment has an offsite destination (filled by the caller).
    pub offsite: Option<crate::offsite::OffsiteCopy>,
    /// With an S3 destination: the upload of the staged backup there (filled
    /// by the caller). Without a verified upload there is no backup.
    pub upload: Option<crate::offsite::OffsiteCopy>,
}

impl BackupOutcome {
    /// The run succeeded and, when an offsite copy was due, it was made and
    /// read back. Only then is a run reported fully good.
    pub fn fully_good(&self) -> bool {
        self.job.state == JobState::Succeeded
            && self.upload.as_ref().is_none_or(|o| o.state == "copied")
            && self.offsite.as_ref().is_none_or(|o| o.state == "copied")
    }
}

struct Shared {
    req: BackupRequest,
    id: String,
    dir: PathBuf,
    started_at: DateTime<Utc>,
    est_rows: u64,
    route: tokio::sync::Mutex<Option<Route>>,
    dump: Mutex<Option<DumpOutcome>>,
    storage: Mutex<StorageTaken>,
    manifest: Mutex<Option<Manifest>>,
}

/// What the storage step recorded.
#[derive(Default)]
struct StorageTaken {
    files: Vec<FileEntry>,
    snapshots: Vec<StorageSnapshotEntry>,
    warnings: Vec<String>,
}

/// Removes the partial folder unless disarmed (also when the run is dropped).
struct PartialGuard(Option<PathBuf>);

impl Drop for PartialGuard {
    fn drop(&mut self) {
        if let Some(p) = self.0.take() {
            if let Err(e) = std::fs::remove_dir_all(&p) {
                if e.kind() != std::io::ErrorKind::NotFound {
                    tracing::warn!(category = "worker", path = %p.display(), error = %e, "could not remove a partial backup folder");
                }
            }
        }
    }
}

/// Runs a backup as a job under `plan` (from [`plan_backup`]).
///
/// A failed or cancelled run removes its `.partial` folder; only a run whose
/// manifest was written and verified is renamed to its final name.
pub async fn run_backup(
    req: BackupRequest,
    plan: &BackupPlan,
    runner: &JobRunner,
    progress: Arc<dyn Progress>,
    cancel: CancellationToken,
) -> Result<BackupOutcome> {
    let id = new_backup_id();
    let dir = req.store.partial_dir(&req.environment, &id);
    std::fs::create_dir_all(&dir)
        .map_err(|e| Error::io(format!("creating {}", dir.display()), e))?;
    let mut guard = PartialGuard(Some(dir.clone()));
    let shared = Arc::new(Shared {
        req,
        id: id.clone(),
        dir,
        started_at: Utc::now(),
        est_rows: plan.est_rows,
        route: tokio::sync::Mutex::new(None),
        dump: Mutex::new(None),
        storage: Mutex::new(StorageTaken::default()),
        manifest: Mutex::new(None),
    });
    let mut steps: Vec<Box<dyn Step>> = vec![Box::new(DumpStep(shared.clone()))];
    if plan.plan.steps.iter().any(|s| s.name == "storage") {
        steps.push(Box::new(StorageStep(shared.clone())));
    }
    steps.extend::<Vec<Box<dyn Step>>>(vec![
        Box::new(ManifestStep(shared.clone())),
        Box::new(VerifyStep(shared.clone())),
        Box::new(PublishStep(shared.clone())),
    ]);
    let job = runner.run(plan.plan.clone(), steps, progress, cancel).await;
    *shared.route.lock().await = None;
    let job = job?;
    let (path, manifest) = if job.state == JobState::Succeeded {
        guard.0 = None;
        (
            Some(shared.req.store.backup_dir(&shared.req.environment, &id)),
            shared
                .manifest
                .lock()
                .unwrap_or_else(|p| p.into_inner())
                .clone(),
        )
    } else {
        (None, None)
    };
    drop(guard);
    Ok(BackupOutcome {
        backup_id: id,
        job,
        path,
        manifest,
        offsite: None,
        upload: None,
    })
}

struct DumpStep(Arc<Shared>);

#[async_trait]
impl Step for DumpStep {
    async fn run(&self, cx: &StepContext<'_>) -> Result<Verified> {
        let s = &self.0;
        let route = route(&s.req).await?;
        let target = route.target.clone();
        *s.route.lock().await = Some(route);
        let sink = Arc::new(LocalSink::new(&s.dir, s.req.recipients.clone()));
        let counters = Arc::new(DumpCounters::default());
        let dump = nfops_mysql::dump(&target, sink, &s.req.options, counters.clone());
        tokio::pin!(dump);
        let mut tick = tokio::time::interval(Duration::from_millis(250));
        let started = std::time::Instant::now();
        let outcome = loop {
            tokio::select! {
                r = &mut dump => break r?,
                _ = tick.tick() => {
                    let rows = counters.rows.load(Ordering::Relaxed);
                    cx.advance(rows, Some(s.est_rows.max(rows).max(1)), "rows");
                    cx.message(DumpRate {
                        parts_done: counters.items_done.load(Ordering::Relaxed),
                        parts_total: counters.items_total.load(Ordering::Relaxed),
                        rows,
                        est_rows: s.est_rows,
                        sql_bytes: counters.sql_bytes.load(Ordering::Relaxed),
                        elapsed: started.elapsed(),
                    }.describe());
                }
            }
        };
        *s.route.lock().await = None;
        let rows: u64 = outcome.tables.iter().map(|t| t.rows).sum();
        cx.advance(rows, Some(rows), "rows");
        // Check: every file exists with the size the writer counted.
        let files = all_files(&outcome);
        let mut stored = 0;
        for f in &files {
            let len = std::fs::metadata(s.dir.join(&f.name))
                .map(|m| m.len())
                .map_err(|e| Error::io(format!("checking backup file {}", f.name), e))?;
            if len != f.bytes {
                return Err(Error::new(
                    ErrorCode::CheckFailed,
                    format!(
                        "backup file {} has {len} bytes on disk, {} were written",
                        f.name, f.bytes
                    ),
                ));
            }
            stored += len;
        }
        let evidence = format!(
            "{} tables, {rows} rows in {} files; {stored} bytes on disk == bytes written",
            outcome.tables.len(),
            files.len()
        );
        *s.dump.lock().unwrap_or_else(|p| p.into_inner()) = Some(outcome);
        Ok(Verified::by(evidence))
    }
}

/// Live figures of a running dump: what the progress message shows.
#[derive(Debug, Clone, Copy)]
pub struct DumpRate {
    pub parts_done: u64,
    pub parts_total: u64,
    pub rows: u64,
    /// The plan's estimate (information_schema), 0 when unknown.
    pub est_rows: u64,
    pub sql_bytes: u64,
    pub elapsed: Duration,
}

impl DumpRate {
    /// Rows per second so far (0 before the first second of data).
    pub fn rows_per_sec(&self) -> f64 {
        let secs = self.elapsed.as_secs_f64();
        if secs < 0.5 {
            0.0
        } else {
            self.rows as f64 / secs
        }
    }

    /// SQL bytes per second so far.
    pub fn bytes_per_sec(&self) -> f64 {
        let secs = self.elapsed.as_secs_f64();
        if secs < 0.5 {
            0.0
        } else {
            self.sql_bytes as f64 / secs
        }
    }

    /// Time left at the current row rate, against the estimate; `None` while
    /// there is no rate yet or the estimate is already passed.
    pub fn eta(&self) -> Option<Duration> {
        let rate = self.rows_per_sec();
        if rate <= 0.0 || self.est_rows <= self.rows {
            return None;
        }
        Some(Duration::from_secs_f64(
            (self.est_rows - self.rows) as f64 / rate,
        ))
    }

    /// `3/7 parts (tables and chunks), 12,000 rows, 14 MB of SQL, 5,000 rows/s, 6.1 MB/s, ETA 12 s`.
    pub fn describe(&self) -> String {
        let eta = match self.eta() {
            Some(d) if d.as_secs() >= 60 => {
                format!("ETA {} min {} s", d.as_secs() / 60, d.as_secs() % 60)
            }
            Some(d) => format!("ETA {} s", d.as_secs()),
            None if self.rows_per_sec() > 0.0 => "ETA: finishing".into(),
            None => "ETA: measuring".into(),
        };
        format!(
            "{}/{} parts (tables and chunks), {} rows, {} MB of SQL, {:.0} rows/s, {:.1} MB/s, {eta}",
            self.parts_done,
            self.parts_total,
            self.rows,
            self.sql_bytes / 1_000_000,
            self.rows_per_sec(),
            self.bytes_per_sec() / 1e6
        )
    }
}

fn all_files(d: &DumpOutcome) -> Vec<FileEntry> {
    let mut v = vec![d.schema_file.clone()];
    v.extend(d.data_files.iter().cloned());
    v.push(d.post_file.clone());
    v
}

/// Snapshots every bucket of the environment's storage into
/// `storage/<bucket>.jsonl.zst.age` (JSON lines → zstd → age).
struct StorageStep(Arc<Shared>);

#[async_trait]
impl Step for StorageStep {
    async fn run(&self, cx: &StepContext<'_>) -> Result<Verified> {
        let s = &self.0;
        let settings = s
            .req
            .env
            .storage
            .as_ref()
            .ok_or_else(|| Error::internal("storage step without storage settings"))?;
        let client = nfops_storage::StorageClient::connect(settings, s.req.creds.as_ref())?;
        let mode = unversioned(&s.req);
        let sink = LocalSink::new(&s.dir, s.req.recipients.clone());
        let mut taken = StorageTaken::default();
        for bucket in client.buckets() {
            cx.check_cancelled()?;
            cx.message(format!("listing the versions of bucket {bucket}"));
            if let Err(e) = client.require_versioning(bucket).await {
                // require_versioning's own refusal starts so; S3 errors do not.
                let off = e.message().starts_with("versioning is ");
                if !off || mode == UnversionedBuckets::Refuse {
                    return Err(if off {
                        e.hint(format!(
                            "Enable versioning on {bucket}, or set unversioned_buckets = \"warn\" under [environments.{}.backup] to back up without its snapshot.",
                            s.req.environment
                        ))
                    } else {
                        e
                    });
                }
                let warning = format!(
                    "WARNING: bucket {bucket} has no snapshot in this backup: {}",
                    e.message()
                );
                tracing::warn!(category = "worker", environment = %s.req.environment, bucket = %bucket, "backup without a storage snapshot: versioning is off");
                cx.message(warning.clone());
                taken.warnings.push(warning);
                continue;
            }
            let snap = nfops_storage::capture(&client, bucket, None).await?;
            let name = format!("storage/{bucket}.jsonl");
            let mut file = nfops_mysql::DumpSink::create(&sink, &name)?;
            snap.write_jsonl(&mut file)
                .map_err(|e| Error::io(format!("writing the snapshot of bucket {bucket}"), e))?;
            let entry = file.finish()?;
            let on_disk = std::fs::metadata(s.dir.join(&entry.name))
                .map_err(|e| Error::io(format!("checking {}", entry.name), e))?
                .len();
            if on_disk != entry.bytes {
                return Err(Error::new(
                    ErrorCode::CheckFailed,
                    format!(
                        "{} has {on_disk} bytes on disk, {} were written",
                        entry.name, entry.bytes
                    ),
                ));
            }
            taken.snapshots.push(StorageSnapshotEntry {
                bucket: bucket.clone(),
                file: entry.name.clone(),
                objects: snap.objects.len() as u64,
                object_bytes: snap.total_bytes(),
                taken_at: snap.taken_at,
                finished_at: snap.finished_at,
            });
            taken.files.push(entry);
        }
        let evidence = format!(
            "{}{}",
            taken
                .snapshots
                .iter()
                .map(|t| format!(
                    "bucket {}: {} objects ({} bytes) recorded in {}",
                    t.bucket, t.objects, t.object_bytes, t.file
                ))
                .collect::<Vec<_>>()
                .join("; "),
            if taken.warnings.is_empty() {
                String::new()
            } else {
                format!("; {}", taken.warnings.join("; "))
            }
        );
        *s.storage.lock().unwrap_or_else(|p| p.into_inner()) = taken;
        Ok(Verified::by(evidence))
    }
}

struct ManifestStep(Arc<Shared>);

#[async_trait]
impl Step for ManifestStep {
    async fn run(&self, _cx: &StepContext<'_>) -> Result<Verified> {
        let s = &self.0;
        let d = s
            .dump
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .clone()
            .ok_or_else(|| Error::internal("manifest step without a dump"))?;
        let mut files = all_files(&d);
        let restore_order = files.iter().map(|f| f.name.clone()).collect();
        let (storage, storage_warnings) = {
            let taken = s.storage.lock().unwrap_or_else(|p| p.into_inner());
            files.extend(taken.files.iter().cloned());
            (taken.snapshots.clone(), taken.warnings.clone())
        };
        let mut m = Manifest {
            format: FORMAT,
            backup_id: s.id.clone(),
            environment: s.req.environment.clone(),
            database: s
                .req
                .env
                .database
                .as_ref()
                .map(|d| d.name.clone())
                .unwrap_or_default(),
            tool: format!("nfops {}", env!("CARGO_PKG_VERSION")),
            started_at: s.started_at,
            finished_at: Utc::now(),
            snapshot_at: d.snapshot_at,
            server_version: d.server_version.clone(),
            binlog_file: d.binlog_file.clone(),
            binlog_position: d.binlog_position,
            gtid: d.gtid.clone(),
            hash_definition: nfops_mysql::hash::HASH_DEFINITION.into(),
            compression: format!("zstd level {}", crate::sink::ZSTD_LEVEL),
            encryption: "age X25519".into(),
            recipients: s.req.recipients.iter().map(|r| r.to_string()).collect(),
            restore_order,
            tables: d.tables.clone(),
            views: d.views.clone(),
            triggers: d.triggers.clone(),
            routines: d.routines.clone(),
            events: d.events.clone(),
            files,
            storage,
            storage_warnings,
        };
        let readme = crate::readme::readme(&m);
        let readme_path = s.dir.join("README.txt");
        std::fs::write(&readme_path, readme.as_bytes())
            .map_err(|e| Error::io("writing README.txt", e))?;
        let (bytes, sha256) =
            sha256_file(&readme_path).map_err(|e| Error::io("reading README.txt back", e))?;
        m.files.push(FileEntry {
            name: "README.txt".into(),
            bytes,
            sha256,
            sql_bytes: 0,
        });
        m.write(&s.dir)?;
        let back = Manifest::read(&s.dir)?;
        if back.backup_id != m.backup_id
            || back.files != m.files
            || back.tables.len() != m.tables.len()
        {
            return Err(Error::new(
                ErrorCode::CheckFailed,
                "the manifest read back differs from the one written",
            ));
        }
        let evidence = format!(
            "manifest.json read back: {} files, {} tables",
            back.files.len(),
            back.tables.len()
        );
        *s.manifest.lock().unwrap_or_else(|p| p.into_inner()) = Some(m);
        Ok(Verified::by(evidence))
    }
}

struct VerifyStep(Arc<Shared>);

#[async_trait]
impl Step for VerifyStep {
    async fn run(&self, cx: &StepContext<'_>) -> Result<Verified> {
        let s = self.0.clone();
        let mine = s.req.identity.to_public().to_string();
        let is_recipient = s.req.recipients.iter().any(|r| r.to_string() == mine);
        if !is_recipient {
            // Only the recipients can decrypt: check sizes and SHA-256.
            let m = s
                .manifest
                .lock()
                .unwrap_or_else(|p| p.into_inner())
                .clone()
                .ok_or_else(|| Error::internal("verify without a manifest"))?;
            for f in &m.files {
                let (bytes, sha) = sha256_file(&s.dir.join(&f.name))
                    .map_err(|e| Error::io(format!("reading {}", f.name), e))?;
                if bytes != f.bytes || sha != f.sha256 {
                    return Err(Error::new(
                        ErrorCode::CheckFailed,
                        format!(
                            "backup file {} differs from the manifest right after writing",
                            f.name
                        ),
                    ));
                }
            }
            return Ok(Verified::by(format!("{} files' size and SHA-256 == manifest (content not decrypted: your key is not a recipient)", m.files.len())));
        }
        let rows = Arc::new(std::sync::atomic::AtomicU64::new(0));
        let r2 = rows.clone();
        let dir = s.dir.clone();
        let identity = s.req.identity.clone();
        let task = tokio::task::spawn_blocking(move || {
            verify_dir(&dir, &identity, Scope::Full, &|n| {
                r2.store(n, Ordering::Relaxed)
            })
        });
        tokio::pin!(task);
        let mut tick = tokio::time::interval(Duration::from_millis(250));
        let report = loop {
            tokio::select! {
                r = &mut task => break r.map_err(|e| Error::internal(format!("verify task failed: {e}")))??,
                _ = tick.tick() => cx.advance(rows.load(Ordering::Relaxed), Some(s.est_rows.max(1)), "rows"),
            }
        };
        findings_to_result(&report)
    }
}

#[cfg(test)]
mod rate_tests {
    use super::*;

    #[test]
    fn rate_and_eta_follow_the_rows() {
        let r = DumpRate {
            parts_done: 2,
            parts_total: 8,
            rows: 1000,
            est_rows: 5000,
            sql_bytes: 2_000_000,
            elapsed: Duration::from_secs(2),
        };
        assert_eq!(r.rows_per_sec(), 500.0);
        assert_eq!(r.bytes_per_sec(), 1_000_000.0);
        assert_eq!(r.eta(), Some(Duration::from_secs(8)));
        let text = r.describe();
        assert!(text.contains("2/8 parts"), "{text}");
        assert!(text.contains("500 rows/s"), "{text}");
        assert!(text.contains("1.0 MB/s"), "{text}");
        assert!(text.contains("ETA 8 s"), "{text}");
    }

    #[test]
    fn no_eta_without_a_rate_or_past_the_estimate() {
        let mut r = DumpRate {
            parts_done: 0,
            parts_total: 3,
            rows: 0,
            est_rows: 100,
            sql_bytes: 0,
            elapsed: Duration::from_millis(100),
        };
        assert_eq!(r.eta(), None);
        assert!(r.describe().contains("ETA: measuring"));
        r.rows = 200;
        r.elapsed = Duration::from_secs(125);
        assert_eq!(r.eta(), None, "the estimate was low: no negative ETA");
        r.est_rows = 200 + 8 * 60;
        assert!(r.describe().contains("ETA 5 min 0 s"), "{}", r.describe());
    }
}

/// `Ok(evidence)` when `report` has no finding, else `job.check_failed` naming the first ones.
pub fn findings_to_result(report: &VerifyReport) -> Result<Verified> {
    if report.ok() {
        return Ok(Verified::by(format!(
            "{} files: size and SHA-256 == manifest; {} tables, {} rows: counts and content hashes == manifest",
            report.files_checked, report.tables_checked, report.rows_checked
        )));
    }
    let first: Vec<String> = report
        .findings
        .iter()
        .take(3)
        .map(|f| {
            format!(
                "{} {}",
                f.file.as_deref().or(f.table.as_deref()).unwrap_or(""),
                f.problem
            )
        })
        .collect();
    Err(Error::new(
        ErrorCode::CheckFailed,
        format!(
            "backup {} failed verification with {} finding(s): {}",
            report.backup_id,
            report.findings.len(),
            first.join("; ")
        ),
    )
    .hint("Do not rely on this backup; take a new one and check the storage it was read from."))
}

struct PublishStep(Arc<Shared>);

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

/// A verify job's result: the job and every finding.
#[derive(Debug, Clone, serde::Serialize)]
#[serde(rename_all = "camelCase")]
pub struct VerifyOutcome {
    pub job: JobReport,
    pub report: Option<VerifyReport>,
}

struct VerifyJobStep {
    dir: PathBuf,
    identity: x25519::Identity,
    scope: Scope,
    est_rows: u64,
    report: Arc<Mutex<Option<VerifyReport>>>,
}

#[async_trait]
impl Step for VerifyJobStep {
    async fn run(&self, cx: &StepContext<'_>) -> Result<Verified> {
        let rows = Arc::new(std::sync::atomic::AtomicU64::new(0));
        let r2 = rows.clone();
        let (dir, identity, scope) = (self.dir.clone(), self.identity.clone(), self.scope);
        let task = tokio::task::spawn_blocking(move || {
            verify_dir(&dir, &identity, scope, &|n| r2.store(n, Ordering::Relaxed))
        });
        tokio::pin!(task);
        let mut tick = tokio::time::interval(Duration::from_millis(250));
        let report = loop {
            tokio::select! {
                r = &mut task => break r.map_err(|e| Error::internal(format!("verify task failed: {e}")))??,
                _ = tick.tick() => cx.advance(rows.load(Ordering::Relaxed), Some(self.est_rows.max(1)), "rows"),
            }
        };
        let result = findings_to_result(&report);
        *self.report.lock().unwrap_or_else(|p| p.into_inner()) = Some(report);
        result
    }
}

/// Which backup to verify, with what key, how much of it.
pub struct VerifyRequest {
    pub store: LocalStore,
    pub environment: String,
    pub id: String,
    pub identity: x25519::Identity,
    /// A random sample of this many tables; None: every table.
    pub sample: Option<usize>,
}

/// Verifies backup `id` of `environment` in `store` as a job.
///
/// Errors: `input.invalid` when no such backup folder exists; a failed check
/// is a failed job with every finding in [`VerifyOutcome::report`].
pub async fn verify_backup(
    req: VerifyRequest,
    runner: &JobRunner,
    progress: Arc<dyn Progress>,
    cancel: CancellationToken,
) -> Result<VerifyOutcome> {
    let VerifyRequest {
        store,
        environment,
        id,
        identity,
        sample,
    } = req;
    let (environment, id) = (environment.as_str(), id.as_str());
    let dir = store.backup_dir(environment, id);
    if id.is_empty() || id.contains(['/', '\\']) || id.starts_with('.') || !dir.is_dir() {
        return Err(Error::new(
            ErrorCode::InvalidInput,
            format!("no backup '{id}' of environment '{environment}'"),
        )
        .hint(format!(
            "List them with `nfops backup list --env {environment}`."
        )));
    }
    let est_rows = Manifest::read(&dir).map(|m| m.rows()).unwrap_or(0);
    let scope = sample.map(Scope::Sample).unwrap_or(Scope::Full);
    let plan = Plan {
        kind: "backup.verify".into(),
        environment: Some(environment.to_owned()),
        summary: format!(
            "Verify backup {id} of {environment}: {}",
            match scope {
                Scope::Full => "every table".to_owned(),
                Scope::Sample(n) => format!("a random sample of {n} table(s)"),
            }
        ),
        steps: vec![PlannedStep {
            name: "verify".into(),
            description: "Check every file's size and SHA-256, decrypt with your key, decompress, parse, and compare row counts and content hashes with the manifest".into(),
        }],
    };
    let report = Arc::new(Mutex::new(None));
    let step = VerifyJobStep {
        dir,
        identity,
        scope,
        est_rows,
        report: report.clone(),
    };
    let job = runner
        .run(plan, vec![Box::new(step)], progress, cancel)
        .await?;
    let report = report.lock().unwrap_or_else(|p| p.into_inner()).clone();
    Ok(VerifyOutcome { job, report })
}
