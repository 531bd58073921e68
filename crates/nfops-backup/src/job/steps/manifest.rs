//! Step "manifest": writes README.txt and manifest.json last (row counts,
//! content hashes, every file's SHA-256), signs it (`manifest.json.sig`) and
//! reads the manifest back.

use std::sync::Arc;

use async_trait::async_trait;
use chrono::Utc;
use nfops_core::jobs::{Step, StepContext, Verified};
use nfops_core::{Error, ErrorCode, Result};
use nfops_mysql::FileEntry;

use super::dump::all_files;
use crate::job::Shared;
use crate::manifest::{Manifest, FORMAT};
use crate::sink::sha256_file;

pub(crate) struct ManifestStep(pub(crate) Arc<Shared>);

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
            inventory: Some(d.inventory.clone()),
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
        // Signed before the folder is published (and before any upload, which
        // sends the manifest last): no unsigned backup is ever listed.
        crate::signature::sign_manifest(&s.dir, &s.req.signer)?;
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
            "manifest.json read back: {} files, {} tables; signed by {} (signature verified)",
            back.files.len(),
            back.tables.len(),
            s.req.signer.public_key()
        );
        *s.manifest.lock().unwrap_or_else(|p| p.into_inner()) = Some(m);
        Ok(Verified::by(evidence))
    }
}
