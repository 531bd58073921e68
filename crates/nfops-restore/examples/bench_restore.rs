//! The restore engine for `bench/restore` and the table comparison for
//! `bench/check`:
//! `bench_restore CONFIG ENV CREDENTIALS_DIR KEY_FILE WORK_DIR SCRATCH_DB [BACKUP_DIR]`.
//! Takes a backup of ENV into WORK_DIR/backups (not timed; BACKUP_DIR reuses
//! one instead), then restores it into database SCRATCH_DB on the same server
//! (check files, load the shadow on 2 sessions, verify hashes, swap) and
//! prints `backup_dir=… restore_seconds=… rows=… sql_bytes=…`. With
//! SCRATCH_DB `-` it restores nothing and times the integrity check's table
//! comparison of ENV's database against the backup instead:
//! `backup_dir=… check_seconds=… tables=… differ=…`.

use std::path::Path;
use std::str::FromStr;
use std::sync::Arc;
use std::time::Instant;

use nfops_core::config::Config;
use nfops_core::credentials::MemoryCredentials;
use nfops_core::jobs::{
    CancellationToken, JobRunner, JobState, JobStore, NoProgress, Progress, ProgressEvent,
};

/// Each step's wall time, for the breakdown bench/restore prints.
#[derive(Default)]
struct StepTimes(std::sync::Mutex<std::collections::BTreeMap<usize, Timed>>);

/// A step's name, start and seconds once finished.
type Timed = (String, Instant, Option<f64>);

impl Progress for StepTimes {
    fn event(&self, e: &ProgressEvent) {
        let mut v = self.0.lock().unwrap_or_else(|p| p.into_inner());
        match e {
            ProgressEvent::StepStarted { index, name } => {
                v.insert(*index, (name.clone(), Instant::now(), None));
            }
            ProgressEvent::StepFinished { index, .. } => {
                if let Some(s) = v.get_mut(index) {
                    s.2 = Some(s.1.elapsed().as_secs_f64());
                }
            }
            _ => {}
        }
    }
}

impl StepTimes {
    fn report(&self) -> String {
        let v = self.0.lock().unwrap_or_else(|p| p.into_inner());
        v.values()
            .map(|(n, _, s)| format!("{n}={:.2}", s.unwrap_or(f64::NAN)))
            .collect::<Vec<_>>()
            .join(" ")
    }
}

#[tokio::main]
async fn main() -> Result<(), Box<dyn std::error::Error>> {
    let a: Vec<String> = std::env::args().collect();
    if a.len() < 7 {
        return Err(
            "usage: bench_restore CONFIG ENV CREDENTIALS_DIR KEY_FILE WORK_DIR SCRATCH_DB".into(),
        );
    }
    let config = Config::load(Path::new(&a[1]))?;
    let env_name = a[2].clone();
    let env = config.environment(&env_name)?.clone();
    let creds = Arc::new(MemoryCredentials::default());
    creds.load_dir(Path::new(&a[3]))?;
    let key = std::fs::read_to_string(&a[4])?;
    let secret = key
        .lines()
        .find(|l| l.starts_with("AGE-SECRET-KEY-"))
        .ok_or("no AGE-SECRET-KEY line")?;
    let identity = age::x25519::Identity::from_str(secret).map_err(|e| e.to_string())?;
    let work = Path::new(&a[5]);
    let state = nfops_core::state::State::open(&work.join("state")).await?;
    let runner = JobRunner::new(JobStore::new(state));
    let breq = nfops_backup::BackupRequest {
        environment: env_name.clone(),
        env: env.clone(),
        creds: creds.clone(),
        known_hosts: work.join("known_hosts"),
        store: nfops_backup::LocalStore::new(&work.join("backups")),
        recipients: vec![identity.to_public()],
        identity: identity.clone(),
        // The stack's operator signing key (its public key is a trusted signer in the stack's config).
        signer: nfops_vault::BackupSigningKey::parse(
            &nfops_core::credentials::CredentialSource::get(
                creds.as_ref(),
                nfops_vault::SIGNING_KEY_CREDENTIAL,
            )?,
        )?,
        options: nfops_mysql::DumpOptions::default(),
    };
    let dir = match a.get(7) {
        Some(d) => std::path::PathBuf::from(d),
        None => {
            let bplan = nfops_backup::plan_backup(&breq).await?;
            let b = nfops_backup::run_backup(
                breq,
                &bplan,
                &runner,
                Arc::new(NoProgress),
                CancellationToken::new(),
            )
            .await?;
            b.path.ok_or("backup failed")?
        }
    };
    let source = nfops_restore::BackupSource::open(&dir)?;
    if a[6] == "-" {
        let db = env.database.clone().ok_or("no database")?;
        let target = nfops_mysql::Target {
            host: db.host.clone(),
            port: db.port,
            user: db.user.clone(),
            password: nfops_core::credentials::CredentialSource::get(
                creds.as_ref(),
                &db.password_credential,
            )?,
            database: db.name.clone(),
            label: "bench database".into(),
            carrier: None,
            limits: nfops_mysql::Limits::JOB,
            tls: nfops_mysql::Tls::of(&db),
        };
        let names: Vec<String> = source
            .manifest
            .tables
            .iter()
            .map(|t| t.name.clone())
            .collect();
        let t = Instant::now();
        let checks = nfops_restore::load::compare_with_manifest(&source, &target, &names).await?;
        let secs = t.elapsed().as_secs_f64();
        println!(
            "backup_dir={} check_seconds={secs:.2} tables={} differ={}",
            dir.display(),
            checks.len(),
            checks.iter().filter(|c| !c.ok()).count()
        );
        return Ok(());
    }
    let rows = source.manifest.rows();
    let sql_bytes: u64 = source.manifest.files.iter().map(|f| f.sql_bytes).sum();
    let req = nfops_restore::RestoreRequest {
        environment: env_name,
        env,
        creds,
        known_hosts: work.join("known_hosts"),
        source,
        identity,
        tables: None,
        database: Some(a[6].clone()),
        connections: 2,
        safety_retention: chrono::Duration::days(0),
        snapshots: vec![],
        allow_other_environment: false,
        without_storage: false,
    };
    let plan = nfops_restore::plan_restore(&req).await?;
    let t = Instant::now();
    let steps = Arc::new(StepTimes::default());
    let out = nfops_restore::run_restore(
        req,
        &plan,
        vec![],
        &runner,
        steps.clone(),
        CancellationToken::new(),
    )
    .await?;
    let secs = t.elapsed().as_secs_f64();
    eprintln!("steps: {}", steps.report());
    if out.job.state != JobState::Succeeded {
        return Err(format!("restore failed: {:?}", out.job.error).into());
    }
    println!(
        "backup_dir={} restore_seconds={secs:.2} rows={rows} sql_bytes={sql_bytes}",
        dir.display()
    );
    Ok(())
}
