//! The dump engine alone (snapshot, N workers, zstd, age) for `bench/backup`:
//! `bench_dump CONFIG ENV CREDENTIALS_DIR RECIPIENT OUT_DIR [WORKERS [nosplit]]`.
//! Prints `rows=… sql_bytes=… stored_bytes=… files=…`.

use std::path::Path;
use std::str::FromStr;
use std::sync::Arc;

use nfops_core::config::Config;
use nfops_core::credentials::{CredentialSource, MemoryCredentials};
use nfops_mysql::{DumpCounters, DumpOptions, Target};

#[tokio::main]
async fn main() -> Result<(), Box<dyn std::error::Error>> {
    let a: Vec<String> = std::env::args().collect();
    if a.len() < 6 {
        return Err(
            "usage: bench_dump CONFIG ENV CREDENTIALS_DIR RECIPIENT OUT_DIR [WORKERS]".into(),
        );
    }
    let config = Config::load(Path::new(&a[1]))?;
    let env = config.environment(&a[2])?;
    let db = env.database.clone().ok_or("no database")?;
    let creds = MemoryCredentials::default();
    creds.load_dir(Path::new(&a[3]))?;
    let recipient = age::x25519::Recipient::from_str(&a[4]).map_err(|e| e.to_string())?;
    let out = Path::new(&a[5]);
    std::fs::create_dir_all(out)?;
    let target = Target {
        host: db.host.clone(),
        port: db.port,
        user: db.user.clone(),
        password: creds.get(&db.password_credential)?,
        database: db.name.clone(),
        label: "bench database".into(),
        carrier: None,
        limits: nfops_mysql::Limits::JOB,
        tls: nfops_mysql::Tls::of(&db),
    };
    let opts = DumpOptions {
        workers: a.get(6).and_then(|w| w.parse().ok()).unwrap_or(2),
        // `nosplit` as the 8th argument: large keyless tables go whole to one worker.
        split_keyless: a.get(7).map(String::as_str) != Some("nosplit"),
        ..DumpOptions::default()
    };
    let sink = Arc::new(nfops_backup::sink::LocalSink::new(out, vec![recipient]));
    let d = nfops_mysql::dump(&target, sink, &opts, Arc::new(DumpCounters::default())).await?;
    let files: Vec<_> = std::iter::once(&d.schema_file)
        .chain(&d.data_files)
        .chain(std::iter::once(&d.post_file))
        .collect();
    println!(
        "rows={} sql_bytes={} stored_bytes={} files={}",
        d.tables.iter().map(|t| t.rows).sum::<u64>(),
        files.iter().map(|f| f.sql_bytes).sum::<u64>(),
        files.iter().map(|f| f.bytes).sum::<u64>(),
        files.len()
    );
    Ok(())
}
