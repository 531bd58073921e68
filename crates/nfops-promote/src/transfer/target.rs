//! The steps on the target host: make room, link unchanged files, check
//! what arrived, rename it into place, seal it.

use std::collections::{BTreeMap, BTreeSet};
use std::time::Duration;

use nfops_core::{Error, ErrorCode, Result};
use nfops_fleet::shell_quote;

use super::manifest::{self, Entry, Kind, Sealed};
use super::plan::Plan;
use super::stream::{nul_paths, run_with_input};
use super::{listing, not_intact, Ends};
use crate::release::{app_dir, Release};

/// Sweeps earlier attempts of this id, makes the incoming folder and checks
/// free space for what will be sent.
pub(super) async fn prepare(
    ends: &Ends<'_>,
    releases: &str,
    id: &str,
    inc: &str,
    bytes: u64,
) -> Result<()> {
    let script = format!(
        "set -e; cd -- {rel}; \
         for d in .nfops-incoming-{id} .nfops-incoming-{id}-*; do [ -e \"$d\" ] || continue; \
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
pub(super) async fn discard(ends: &Ends<'_>, releases: &str, inc: &str) {
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
pub(super) async fn link(
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

/// `sha256sum -c` of the given files on the target, one process per core,
/// then the arrived CHECKSUM's digest.
pub(super) async fn verify_hashes(
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
pub(super) async fn arrival(
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
            && have.ino != plan.want_ino(want)
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

/// Renames the checked tree into `releases/<id>`, moving aside an old folder
/// of that id unless the host runs it.
pub(super) async fn activate(ends: &Ends<'_>, releases: &str, id: &str, inc: &str) -> Result<()> {
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
pub(super) async fn write_seal(
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
