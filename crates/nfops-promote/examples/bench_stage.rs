//! The release copy alone, for `bench/promote`:
//! `bench_stage CONFIG CREDENTIALS_DIR KNOWN_HOSTS SRC_APP_DIR DST_APP_DIR ID [BASE_ID]`.
//!
//! Both ends are the stack host `prod-app-1` (its sshd, user and key) with
//! the given app folders, one SSH session each, as a promotion has. Stages
//! release ID from SRC to DST (hard-linking from BASE_ID when its seal
//! holds) and prints `sent_files=… sent_bytes=… linked=…`.

use std::path::Path;

use nfops_core::config::Config;
use nfops_core::credentials::MemoryCredentials;
use nfops_fleet::SshSession;
use nfops_promote::host::{stage_release, Staged};
use nfops_promote::release::release_on_host;
use nfops_promote::transfer::Ends;

#[tokio::main]
async fn main() -> Result<(), Box<dyn std::error::Error>> {
    let a: Vec<String> = std::env::args().collect();
    if a.len() < 7 {
        return Err("usage: bench_stage CONFIG CREDENTIALS_DIR KNOWN_HOSTS SRC_APP_DIR DST_APP_DIR ID [BASE_ID]".into());
    }
    let config = Config::load(Path::new(&a[1]))?;
    let creds = MemoryCredentials::default();
    creds.load_dir(Path::new(&a[2]))?;
    let host = config
        .environment("production")?
        .hosts
        .iter()
        .map(|h| h.get_ref().clone())
        .find(|h| h.name == "prod-app-1")
        .ok_or("the config has no prod-app-1")?;
    let (mut src_host, mut dst_host) = (host.clone(), host);
    src_host.app_dir = a[4].clone();
    dst_host.app_dir = a[5].clone();
    let known = Path::new(&a[3]);
    let src = SshSession::connect(&src_host, &creds, known).await?;
    let dst = SshSession::connect(&dst_host, &creds, known).await?;
    let release = release_on_host(&src, &src_host, &a[6]).await?;
    let ends = Ends {
        source: &src,
        source_host: &src_host,
        target: &dst,
        target_host: &dst_host,
    };
    let base = a.get(7).map(String::as_str).unwrap_or("");
    let staged = stage_release(&ends, &release, base, &|_, _| {}).await?;
    src.disconnect().await;
    dst.disconnect().await;
    match staged {
        Staged::Copied(_, t) => println!(
            "sent_files={} sent_bytes={} linked={}",
            t.files_sent, t.bytes_sent, t.linked
        ),
        Staged::AlreadyThere(_) => println!("sent_files=0 sent_bytes=0 linked=0 (already there)"),
    }
    Ok(())
}
