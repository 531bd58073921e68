//! Copying a release from the staging host to a production host, streamed
//! and incremental.
//!
//! The console relays one `tar` stream from the source host to the target
//! host (hosts never SSH to each other); bytes move as the target takes them,
//! so memory does not grow with the release. Before anything is sent, the
//! source's `CHECKSUM` must hash to the plan's digest and the release must
//! pass [`manifest::findings`]. When the target already runs a release that
//! the console sealed on arrival, files with the same content and mode whose
//! inode, size, mtime and ctime still match the seal are hard-linked from it
//! instead of sent. Every sent file is hashed on the target; the arrived
//! tree's listing must equal the source's (kinds, modes, sizes, link targets,
//! and the base's inode for linked files). Only then is the folder renamed
//! into `releases/<id>` (one `rename`) and sealed. An interrupted copy leaves
//! only `releases/.nfops-incoming-<id>-<attempt>`, swept by the next attempt.

pub(crate) mod manifest;
mod plan;
mod stream;
mod target;

use std::time::Duration;

use nfops_core::config::Host;
use nfops_core::{Error, ErrorCode, Result};
use nfops_fleet::{shell_quote, SshSession};
use sha2::{Digest, Sha256};

use crate::release::{app_dir, check_release_id, Release};
use manifest::{Entry, LISTING_FORMAT};
use plan::{trusted_base, Plan};
use target::{activate, arrival, link, prepare, verify_hashes, write_seal};

/// Longest a stream may move no byte before it is stopped.
const IDLE: Duration = Duration::from_secs(120);

/// Largest listing or `CHECKSUM` read into memory (about 1M files).
const MAX_LISTING: usize = 512 * 1024 * 1024;

/// What one copy did.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Transferred {
    /// Files sent over the wire (CHECKSUM included).
    pub files_sent: u64,
    /// Their bytes.
    pub bytes_sent: u64,
    /// Files hard-linked from the release the host runs.
    pub linked: u64,
    /// That release, when one was used.
    pub base: Option<String>,
}

/// Progress callback: bytes sent so far, bytes to send.
pub type OnProgress<'a> = &'a (dyn Fn(u64, u64) + Sync);

/// Where a copy runs.
pub struct Ends<'a> {
    pub source: &'a SshSession,
    pub source_host: &'a Host,
    pub target: &'a SshSession,
    pub target_host: &'a Host,
}

/// Copies `release` from the source host to `releases/<id>` on the target
/// host (see the module docs); `base` is the release the target runs, the
/// candidate for hard links. An existing `releases/<id>` that is not the
/// target's running release is replaced; one that is running is never
/// touched.
///
/// Errors: `job.check_failed` when staging's release differs from the plan,
/// breaks the release rules (every finding named), or what arrived differs
/// from it ("nothing was switched"); `invalid_input` for listings too large;
/// SSH errors.
pub async fn copy_release(
    ends: &Ends<'_>,
    release: &Release,
    base: Option<&str>,
    progress: OnProgress<'_>,
) -> Result<Transferred> {
    let id = release.id.as_str();
    check_release_id(id)?;
    if std::ptr::eq(ends.source, ends.target) {
        // The relay would wait on the target's window while the same
        // session loop waits for the source's output to be read.
        return Err(Error::internal(
            "a release copy needs one SSH session per end, even on one host",
        ));
    }
    let src_dir = format!("{}/releases/{id}", app_dir(ends.source_host));
    let (entries, sums) = source_manifest(ends, release, &src_dir).await?;
    let base = match base.filter(|b| *b != id) {
        Some(b) => {
            check_release_id(b)?;
            trusted_base(ends.target, ends.target_host, b).await?
        }
        None => None,
    };
    let plan = Plan::new(&entries, &sums, base.as_ref());
    let releases = format!("{}/releases", app_dir(ends.target_host));
    let attempt = uuid::Uuid::new_v4().simple().to_string();
    let inc = format!(".nfops-incoming-{id}-{}", &attempt[..8]);
    prepare(ends, &releases, id, &inc, plan.bytes).await?;
    let linked_by_copy = match (&base, plan.link.is_empty()) {
        (Some(b), false) => link(ends, &releases, &b.id, &inc, &plan).await?,
        _ => false,
    };
    stream::stream(ends, id, &src_dir, &releases, &inc, &plan, progress).await?;
    let mut to_hash: Vec<&Entry> = plan.send_files.clone();
    if linked_by_copy {
        to_hash.extend(plan.link.iter().copied());
    }
    verify_hashes(ends, &releases, &inc, &to_hash, &sums, release).await?;
    let arrived = arrival(ends, id, &releases, &inc, &entries, &plan, linked_by_copy).await?;
    activate(ends, &releases, id, &inc).await?;
    write_seal(ends, id, &entries, &sums, &arrived).await?;
    Ok(Transferred {
        files_sent: plan.send_files.len() as u64,
        bytes_sent: plan.bytes,
        linked: plan.link.len() as u64,
        base: base.map(|b| b.id),
    })
}

pub(super) fn not_intact(ends: &Ends<'_>, id: &str, why: String) -> Error {
    Error::new(
        ErrorCode::CheckFailed,
        format!(
            "release {id} copied from '{}' to '{}' did not arrive intact: {why}",
            ends.source_host.name, ends.target_host.name
        ),
    )
    .hint("Nothing was switched. Check disk space and the network, and promote again.")
}

/// Staging's `CHECKSUM` (hashed to the plan's digest) and listing, checked
/// against the release rules.
async fn source_manifest(
    ends: &Ends<'_>,
    release: &Release,
    src_dir: &str,
) -> Result<(Vec<Entry>, manifest::Checksums)> {
    let dir = shell_quote(src_dir);
    let mut p = ends
        .source
        .exec_stream(&format!("cd -- {dir} && cat -- CHECKSUM"), IDLE)
        .await?;
    let checksum = p.read_to_end(MAX_LISTING).await?;
    p.finish().await?;
    let digest = hex::encode(Sha256::digest(&checksum));
    if digest != release.digest {
        return Err(Error::new(
            ErrorCode::CheckFailed,
            format!(
                "release {} on '{}' changed since the plan: its CHECKSUM has digest {:.12}…, the plan's is {:.12}…",
                release.id, ends.source_host.name, digest, release.digest
            ),
        )
        .hint("Nothing was copied. Make a new plan and promote again."));
    }
    let what = format!("release {} on '{}'", release.id, ends.source_host.name);
    let sums = manifest::parse_checksum(&checksum, &what)?;
    drop(checksum);
    let entries = listing(ends.source, src_dir, &what).await?;
    let found = manifest::findings(&entries, &sums, 2);
    if !found.is_empty() {
        let shown: Vec<&str> = found.iter().take(12).map(String::as_str).collect();
        return Err(Error::new(
            ErrorCode::CheckFailed,
            format!(
                "{what} cannot be promoted: {} finding{}: {}{}",
                found.len(),
                if found.len() == 1 { "" } else { "s" },
                shown.join("; "),
                if found.len() > shown.len() { "; …" } else { "" }
            ),
        )
        .hint("Nothing was copied. Fix the release build (files, links, modes, CHECKSUM) and promote a new release."));
    }
    Ok((entries, sums))
}

pub(super) async fn listing(session: &SshSession, dir: &str, what: &str) -> Result<Vec<Entry>> {
    let mut p = session
        .exec_stream(
            &format!(
                "cd -- {} && LC_ALL=C find . -mindepth 1 -printf {}",
                shell_quote(dir),
                shell_quote(LISTING_FORMAT)
            ),
            IDLE,
        )
        .await?;
    let bytes = p.read_to_end(MAX_LISTING).await?;
    p.finish().await?;
    manifest::parse_listing(&bytes, what)
}
