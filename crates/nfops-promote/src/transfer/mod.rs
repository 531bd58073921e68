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

use std::collections::{BTreeMap, BTreeSet};
use std::time::Duration;

use nfops_core::config::Host;
use nfops_core::{Error, ErrorCode, Result};
use nfops_fleet::ssh::RemoteProcess;
use nfops_fleet::{shell_quote, SshSession};
use sha2::{Digest, Sha256};

use crate::release::{app_dir, check_release_id, Release};
use manifest::{Entry, Kind, Sealed, LISTING_FORMAT};

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
    stream(ends, id, &src_dir, &releases, &inc, &plan, progress).await?;
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

fn not_intact(ends: &Ends<'_>, id: &str, why: String) -> Error {
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

async fn listing(session: &SshSession, dir: &str, what: &str) -> Result<Vec<Entry>> {
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

/// The running release's files that still match their seal.
struct Base {
    id: String,
    /// path → sealed record, only for files whose inode, size, mode, mtime
    /// and ctime match the seal now, under folders only.
    trusted: BTreeMap<Vec<u8>, Sealed>,
}

async fn trusted_base(session: &SshSession, host: &Host, id: &str) -> Result<Option<Base>> {
    let seal_path = format!("{}/.nfops/seals/{id}", app_dir(host));
    let out = session
        .exec_stream(
            &format!("cat -- {} 2>/dev/null || true", shell_quote(&seal_path)),
            IDLE,
        )
        .await?
        .read_to_end(MAX_LISTING)
        .await?;
    let Some(seal) = manifest::parse_seal(&out).filter(|s| !s.is_empty()) else {
        return Ok(None);
    };
    let dir = format!("{}/releases/{id}", app_dir(host));
    let now = match listing(session, &dir, &format!("release {id} on '{}'", host.name)).await {
        Ok(n) => n,
        Err(e) if e.code() == ErrorCode::SshCommand => return Ok(None),
        Err(e) => return Err(e),
    };
    let kinds: BTreeMap<&[u8], Kind> = now.iter().map(|e| (e.path.as_slice(), e.kind)).collect();
    let under_dirs = |p: &[u8]| {
        let mut parent = p;
        while let Some(i) = parent.iter().rposition(|b| *b == b'/') {
            parent = &parent[..i];
            if kinds.get(parent) != Some(&Kind::Dir) {
                return false;
            }
        }
        true
    };
    let trusted = now
        .iter()
        .filter(|e| e.kind == Kind::File && under_dirs(&e.path))
        .filter_map(|e| {
            let s = seal.get(&e.path)?;
            (s.ino == e.ino
                && s.size == e.size
                && s.mode == e.mode
                && s.mtime == e.mtime
                && s.ctime == e.ctime)
                .then(|| (e.path.clone(), s.clone()))
        })
        .collect();
    Ok(Some(Base {
        id: id.to_owned(),
        trusted,
    }))
}

/// What is linked and what is sent.
struct Plan<'a> {
    /// Files hard-linked from the base.
    link: Vec<&'a Entry>,
    /// Files sent (CHECKSUM included), in listing order.
    send_files: Vec<&'a Entry>,
    /// Every entry the tar stream carries: folders, sent files, then symlinks.
    stream: Vec<&'a Entry>,
    /// Bytes of the sent files.
    bytes: u64,
    /// The base inode each linked file must end up on.
    link_inos: BTreeMap<&'a [u8], u64>,
}

impl<'a> Plan<'a> {
    fn new(entries: &'a [Entry], sums: &manifest::Checksums, base: Option<&Base>) -> Plan<'a> {
        let mut link = Vec::new();
        let mut send_files = Vec::new();
        let mut link_inos = BTreeMap::new();
        for e in entries.iter().filter(|e| e.kind == Kind::File) {
            let sealed = base
                .and_then(|b| b.trusted.get(&e.path))
                .filter(|s| sums.get(&e.path) == Some(&s.sha) && s.mode == e.mode);
            if let Some(s) = sealed {
                link_inos.insert(e.path.as_slice(), s.ino);
                link.push(e);
            } else {
                send_files.push(e);
            }
        }
        let mut stream: Vec<&Entry> = entries.iter().filter(|e| e.kind == Kind::Dir).collect();
        stream.extend(send_files.iter().copied());
        stream.extend(entries.iter().filter(|e| e.kind == Kind::Link));
        let bytes = send_files.iter().map(|e| e.size).sum();
        Plan {
            link,
            send_files,
            stream,
            bytes,
            link_inos,
        }
    }
}

/// NUL-ended `./path` records, as `tar -T`, `xargs -0` and `cp` want them.
fn nul_paths<'e>(entries: impl Iterator<Item = &'e Entry>) -> Vec<u8> {
    let mut out = Vec::new();
    for e in entries {
        out.extend_from_slice(b"./");
        out.extend_from_slice(&e.path);
        out.push(0);
    }
    out
}

/// Runs `cmd` on `session` with `input` as its stdin, reading its output at
/// the same time; returns stdout.
async fn run_with_input(session: &SshSession, cmd: &str, input: &[u8]) -> Result<Vec<u8>> {
    let mut p = session.exec_stream(cmd, IDLE).await?;
    let stdin = p.take_stdin()?;
    let send = async move {
        for chunk in input.chunks(64 * 1024) {
            stdin.write(chunk).await?;
        }
        stdin.close().await
    };
    let remote = async move {
        let out = p.read_to_end(MAX_LISTING).await?;
        p.finish().await?;
        Ok(out)
    };
    together(send, remote).await
}

/// Drives `work` (writing to a remote command) and `remote` (reading it to
/// its end) together. When the remote command ends first, what was still to
/// be written is abandoned (a failed command stops reading, and its exit
/// status says why); otherwise a remote failure wins over a local one, as it
/// names the cause.
async fn together<T>(
    work: impl std::future::Future<Output = Result<()>>,
    remote: impl std::future::Future<Output = Result<T>>,
) -> Result<T> {
    tokio::pin!(work, remote);
    tokio::select! {
        r = &mut remote => r,
        w = &mut work => {
            let r = remote.await;
            match (w, r) {
                (_, Err(e)) | (Err(e), Ok(_)) => Err(e),
                (Ok(()), Ok(t)) => Ok(t),
            }
        }
    }
}

/// Sweeps earlier attempts of this id, makes the incoming folder and checks
/// free space for what will be sent.
async fn prepare(ends: &Ends<'_>, releases: &str, id: &str, inc: &str, bytes: u64) -> Result<()> {
    let script = format!(
        "set -e; cd -- {rel}; \
         for d in .nfops-incoming-{id}-* .nfops-trash-*; do [ -e \"$d\" ] || continue; \
         t=.nfops-sweep-$$; mv -T -- \"$d\" \"$t\" 2>/dev/null && rm -rf -- \"$t\" || true; done; \
         for t in tar find xargs cp sha256sum split; do command -v $t >/dev/null || {{ echo \"$t is missing\" >&2; exit 4; }}; done; \
         tar --version | head -1 | grep -q GNU || {{ echo 'tar is not GNU tar' >&2; exit 4; }}; \
         mkdir -- {inc} {inc}/tree; df -Pk . | awk 'NR==2 {{print $4}}'",
        rel = shell_quote(releases),
        id = id,
        inc = shell_quote(inc),
    );
    let out =
        ends.target
            .exec_checked(&script, Duration::from_secs(300))
            .await
            .map_err(|e| {
                Error::new(
            ErrorCode::CheckFailed,
            format!("host '{}' cannot receive a release: {}", ends.target_host.name, e.message()),
        )
        .hint("The host needs GNU tar, findutils and coreutils, and a writable releases folder.")
            })?;
    let free_kib: u64 = out.stdout.trim().parse().unwrap_or(u64::MAX);
    let need_kib = (bytes + bytes / 20) / 1024 + 1024;
    if free_kib < need_kib {
        discard(ends, releases, inc).await;
        return Err(Error::new(
            ErrorCode::CheckFailed,
            format!(
                "host '{}' has {} MiB free in {releases}; release {id} needs {} MiB there",
                ends.target_host.name,
                free_kib / 1024,
                need_kib / 1024
            ),
        )
        .hint("Nothing was copied. Free space on the host (old releases under releases/ can go) and promote again."));
    }
    Ok(())
}

/// Removes this attempt's incoming folder (best effort: the next attempt
/// sweeps what is left).
async fn discard(ends: &Ends<'_>, releases: &str, inc: &str) {
    let cmd = format!(
        "cd -- {} && rm -rf -- {}",
        shell_quote(releases),
        shell_quote(inc)
    );
    let _ = ends.target.exec(&cmd, Duration::from_secs(300)).await;
}

/// Hard-links the unchanged files from the base into the incoming tree;
/// where the file system refuses links (another device, protected hard
/// links), copies them instead and returns true (they are then hashed).
async fn link(
    ends: &Ends<'_>,
    releases: &str,
    base: &str,
    inc: &str,
    plan: &Plan<'_>,
) -> Result<bool> {
    let script = format!(
        "set -e; cd -- {rel}; cat > {inc}/links; cd -- {base}; \
         if xargs -0r -a ../{inc}/links cp -l --parents -t ../{inc}/tree -- 2>../{inc}/link.err; then echo linked; \
         else rm -rf -- ../{inc}/tree; mkdir -- ../{inc}/tree; \
         xargs -0r -a ../{inc}/links cp -p --parents -t ../{inc}/tree --; echo copied; fi; rm -f -- ../{inc}/links",
        rel = shell_quote(releases),
        inc = shell_quote(inc),
        base = shell_quote(base),
    );
    let out = run_with_input(ends.target, &script, &nul_paths(plan.link.iter().copied())).await?;
    Ok(String::from_utf8_lossy(&out).trim() == "copied")
}

/// The tar stream: source `tar -c` of the planned entries, relayed chunk by
/// chunk into target `tar -x`.
async fn stream(
    ends: &Ends<'_>,
    id: &str,
    src_dir: &str,
    releases: &str,
    inc: &str,
    plan: &Plan<'_>,
    progress: OnProgress<'_>,
) -> Result<()> {
    let mut src = ends
        .source
        .exec_stream(
            &format!(
                "cd -- {} && tar -cf - --format=gnu --no-recursion --null --verbatim-files-from -T -",
                shell_quote(src_dir)
            ),
            IDLE,
        )
        .await?;
    let mut dst = ends
        .target
        .exec_stream(
            &format!(
                "cd -- {}/{}/tree && tar -xpf - --no-same-owner",
                shell_quote(releases),
                shell_quote(inc)
            ),
            IDLE,
        )
        .await?;
    let list = nul_paths(plan.stream.iter().copied());
    let src_in = src.take_stdin()?;
    let dst_in = dst.take_stdin()?;
    let total = plan.bytes;
    let send_list = async move {
        for chunk in list.chunks(64 * 1024) {
            src_in.write(chunk).await?;
        }
        src_in.close().await
    };
    let relay = async move {
        let moved = relay(&mut src, &dst_in, total, progress).await;
        // End of file either way: a cut stream makes the target's tar fail.
        let closed = dst_in.close().await;
        moved?;
        closed?;
        src.finish().await.map(drop)
    };
    let work = async {
        let (listed, relayed) = tokio::join!(send_list, relay);
        relayed.and(listed)
    };
    together(work, dst.finish())
        .await
        .map(drop)
        .map_err(|e| not_intact(ends, id, e.message().to_owned()))
}

async fn relay(
    src: &mut RemoteProcess,
    dst: &nfops_fleet::ssh::RemoteStdin,
    total: u64,
    progress: OnProgress<'_>,
) -> Result<()> {
    let (mut moved, mut shown) = (0u64, 0u64);
    while let Some(chunk) = src.read().await? {
        dst.write(&chunk).await?;
        moved += chunk.len() as u64;
        if moved - shown >= 4 * 1024 * 1024 {
            progress(moved.min(total), total);
            shown = moved;
        }
    }
    progress(total, total);
    Ok(())
}

/// `sha256sum -c` of the given files on the target, one process per core,
/// then the arrived CHECKSUM's digest.
async fn verify_hashes(
    ends: &Ends<'_>,
    releases: &str,
    inc: &str,
    files: &[&Entry],
    sums: &manifest::Checksums,
    release: &Release,
) -> Result<()> {
    let mut lines = Vec::new();
    for e in files.iter().filter(|e| e.path != b"CHECKSUM") {
        if let Some(hex) = sums.get(&e.path) {
            lines.extend_from_slice(&manifest::checksum_line(hex, &e.path));
        }
    }
    let script = format!(
        "set -e; cd -- {rel}/{inc}; cat > check; cd tree; rc=0; \
         if [ -s ../check ]; then n=$(nproc 2>/dev/null || echo 1); split -n r/$n -d ../check ../part.; pids=; \
         for p in ../part.*; do LC_ALL=C sha256sum --quiet --strict -c -- \"$p\" >&2 & pids=\"$pids $!\"; done; \
         for p in $pids; do wait $p || rc=1; done; rm -f -- ../part.*; fi; rm -f -- ../check; \
         [ $rc = 0 ] || exit 3; sha256sum CHECKSUM | cut -c1-64",
        rel = shell_quote(releases),
        inc = shell_quote(inc),
    );
    let out = run_with_input(ends.target, &script, &lines)
        .await
        .map_err(|e| not_intact(ends, &release.id, e.message().to_owned()))?;
    let digest = String::from_utf8_lossy(&out).trim().to_owned();
    if digest != release.digest {
        return Err(not_intact(
            ends,
            &release.id,
            format!(
                "its CHECKSUM has digest {digest:.12}…, staging's is {:.12}…",
                release.digest
            ),
        ));
    }
    Ok(())
}

/// The arrived tree's listing against the source's: same names, kinds,
/// modes, sizes, link targets, and linked files on the base's inodes.
/// Returns the arrived files, for the seal.
async fn arrival(
    ends: &Ends<'_>,
    id: &str,
    releases: &str,
    inc: &str,
    source: &[Entry],
    plan: &Plan<'_>,
    linked_by_copy: bool,
) -> Result<BTreeMap<Vec<u8>, Entry>> {
    let dir = format!("{releases}/{inc}/tree");
    let got = listing(
        ends.target,
        &dir,
        &format!("the copy of {id} on '{}'", ends.target_host.name),
    )
    .await?;
    let got: BTreeMap<Vec<u8>, Entry> = got.into_iter().map(|e| (e.path.clone(), e)).collect();
    let linked: BTreeSet<&[u8]> = plan.link.iter().map(|e| e.path.as_slice()).collect();
    let mut diffs = Vec::new();
    for want in source {
        let p = manifest::shown(&want.path);
        let Some(have) = got.get(&want.path) else {
            diffs.push(format!("{p} is missing"));
            continue;
        };
        if have.kind != want.kind {
            diffs.push(format!("{p} is a {:?}, not a {:?}", have.kind, want.kind));
        } else if want.kind == Kind::Link && have.target != want.target {
            diffs.push(format!("{p} points elsewhere"));
        } else if want.kind != Kind::Link && have.mode != want.mode {
            diffs.push(format!("{p} has mode {:o}, not {:o}", have.mode, want.mode));
        } else if want.kind == Kind::File && have.size != want.size {
            diffs.push(format!("{p} has {} bytes, not {}", have.size, want.size));
        } else if !linked_by_copy
            && linked.contains(want.path.as_slice())
            && have.ino != want_ino(plan, want)
        {
            diffs.push(format!("{p} is not the linked file"));
        }
    }
    if got.len() > source.len() {
        let known: BTreeSet<&[u8]> = source.iter().map(|e| e.path.as_slice()).collect();
        for p in got.keys().filter(|p| !known.contains(p.as_slice())).take(5) {
            diffs.push(format!("{} was not sent", manifest::shown(p)));
        }
    }
    if !diffs.is_empty() {
        let n = diffs.len();
        diffs.truncate(8);
        return Err(not_intact(
            ends,
            id,
            format!("{n} difference(s): {}", diffs.join("; ")),
        ));
    }
    Ok(got)
}

/// The base inode a linked file must share (recorded in the trusted seal).
fn want_ino(plan: &Plan<'_>, want: &Entry) -> u64 {
    plan.link_inos
        .get(want.path.as_slice())
        .copied()
        .unwrap_or(u64::MAX)
}

/// Renames the checked tree into `releases/<id>`, moving aside an old folder
/// of that id unless the host runs it.
async fn activate(ends: &Ends<'_>, releases: &str, id: &str, inc: &str) -> Result<()> {
    let script = format!(
        "set -e; cd -- {rel}; inc={inc}; id={qid}; \
         if [ -e \"$id\" ] || [ -L \"$id\" ]; then \
           if [ \"$(readlink ../current 2>/dev/null)\" = \"releases/$id\" ]; then echo running; exit 0; fi; \
           mv -T -- \"$id\" \"$inc/old\"; fi; \
         mv -T -- \"$inc/tree\" \"$id\"; rm -rf -- \"$inc\"; echo activated",
        rel = shell_quote(releases),
        inc = shell_quote(inc),
        qid = shell_quote(id),
    );
    let out = ends
        .target
        .exec_checked(&script, Duration::from_secs(300))
        .await?;
    if out.stdout.trim() == "running" {
        discard(ends, releases, inc).await;
        return Err(Error::new(
            ErrorCode::CheckFailed,
            format!(
                "host '{}' runs a release {id} that is not the artifact staging runs (digest or files differ)",
                ends.target_host.name
            ),
        )
        .hint("Two different builds carry the same id; give the new build a new id and promote again."));
    }
    if out.stdout.trim() != "activated" {
        return Err(Error::internal(format!(
            "activation of {id} said '{}'",
            out.stdout.trim()
        )));
    }
    Ok(())
}

/// Writes the seal of `releases/<id>`: each file's hash with the inode,
/// size, mode, mtime and ctime it had when checked; seals of releases that
/// are gone are removed.
async fn write_seal(
    ends: &Ends<'_>,
    id: &str,
    source: &[Entry],
    sums: &manifest::Checksums,
    arrived: &BTreeMap<Vec<u8>, Entry>,
) -> Result<()> {
    let mut bytes = Vec::new();
    for e in source.iter().filter(|e| e.kind == Kind::File) {
        let (Some(sha), Some(a)) = (sums.get(&e.path), arrived.get(&e.path)) else {
            continue;
        };
        manifest::seal_record(
            &mut bytes,
            &Sealed {
                sha: sha.clone(),
                mode: a.mode,
                ino: a.ino,
                size: a.size,
                mtime: a.mtime.clone(),
                ctime: a.ctime.clone(),
            },
            &e.path,
        );
    }
    let script = format!(
        "set -e; cd -- {app}; mkdir -p .nfops/seals; cat > .nfops/seals/.{id}.tmp; \
         mv -f -- .nfops/seals/.{id}.tmp .nfops/seals/{id}; \
         for s in .nfops/seals/*; do [ -d \"releases/${{s##*/}}\" ] || rm -f -- \"$s\"; done",
        app = shell_quote(&app_dir(ends.target_host)),
        id = shell_quote(id),
    );
    run_with_input(ends.target, &script, &bytes).await.map(drop)
}
