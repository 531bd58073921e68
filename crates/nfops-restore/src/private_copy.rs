//! The restore's private copy of a backup: every file is read ONCE from the
//! backup folder, hashed while it is copied into a folder only this user can
//! read (0700, under the state folder or the system's temporary folder), and
//! from then on the statement scan, the load and the storage step read only
//! that copy. A file replaced in the backup folder after the check (or
//! during it) is therefore never loaded: what was hashed is what is used.
//!
//! A downloaded backup (S3, offsite) already sits in such a private folder
//! of ours, so it is hashed in place instead of being copied a second time.
//! The copy is removed when the last clone of its source is dropped, on
//! success, failure or cancellation alike.

use std::fs::File;
use std::io::{self, Read, Write};
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering};
use std::sync::Mutex;

use nfops_core::{Error, ErrorCode, Result};
use nfops_mysql::FileEntry;
use sha2::{Digest, Sha256};

/// The checked files of a backup, in a private folder.
#[derive(Debug)]
pub struct CheckedCopy {
    /// Where the checked files are (the copy, or the private download).
    pub dir: PathBuf,
    /// The copy's folder, removed on drop (None: a download, removed by its own guard).
    _tmp: Option<tempfile::TempDir>,
    /// `<copy folder>.owner` beside it: which process made it, so a copy
    /// left by a killed process is swept by the next restore.
    owner: Option<PathBuf>,
}

impl Drop for CheckedCopy {
    fn drop(&mut self) {
        if let Some(o) = &self.owner {
            let _ = std::fs::remove_file(o);
        }
    }
}

/// A copy folder without an owner file is left alone this long (it may be
/// being made right now, or come from a version that wrote none).
const UNOWNED_GRACE: std::time::Duration = std::time::Duration::from_secs(24 * 3600);

/// Removes the `restore-*` copy folders under `scratch` whose process is
/// gone (killed, crashed): each is a whole backup's size. A copy whose
/// process still runs (another restore, another operator) is kept.
/// Returns the folders removed.
pub fn sweep_orphan_copies(scratch: &Path) -> Vec<PathBuf> {
    let Ok(entries) = std::fs::read_dir(scratch) else {
        return Vec::new();
    };
    let mut swept = Vec::new();
    for e in entries.flatten() {
        let path = e.path();
        let name = e.file_name();
        let Some(name) = name.to_str() else { continue };
        if !name.starts_with("restore-") || name.ends_with(".owner") {
            continue;
        }
        // Never follow a link: only our own folders are removed.
        if !e.file_type().is_ok_and(|t| t.is_dir()) {
            continue;
        }
        let owner = scratch.join(format!("{name}.owner"));
        let orphan = match std::fs::read_to_string(&owner) {
            Ok(text) => match parse_owner(&text) {
                Some(stamp) => !nfops_core::host::is_running(stamp),
                None => true,
            },
            Err(_) => e
                .metadata()
                .and_then(|m| m.modified())
                .ok()
                .and_then(|t| t.elapsed().ok())
                .is_some_and(|age| age > UNOWNED_GRACE),
        };
        if orphan && std::fs::remove_dir_all(&path).is_ok() {
            let _ = std::fs::remove_file(&owner);
            tracing::info!(category = "application", folder = %path.display(), "private backup copy of a process that is gone removed");
            swept.push(path);
        }
    }
    swept
}

fn owner_text(stamp: nfops_core::host::ProcessStamp) -> String {
    format!(
        "{} {}\n",
        stamp.pid,
        stamp.started.map_or("-".to_owned(), |t| t.to_string())
    )
}

fn parse_owner(text: &str) -> Option<nfops_core::host::ProcessStamp> {
    let mut it = text.split_whitespace();
    let pid = it.next()?.parse().ok()?;
    let started = match it.next()? {
        "-" => None,
        t => Some(t.parse().ok()?),
    };
    Some(nfops_core::host::ProcessStamp { pid, started })
}

/// Copies `files` of the backup in `dir` into a new private folder under
/// `scratch` (hashing while copying), or with `in_place` hashes them where
/// they are (a private download). Returns the copy and the bytes checked
/// when every file has the manifest's size and SHA-256.
///
/// Errors: `io.error` when the folder cannot be made or lacks the space
/// (naming the folder and the bytes needed); `job.check_failed` listing
/// every missing, truncated or altered file (the copy is removed).
pub fn check_into(
    dir: &Path,
    files: &[FileEntry],
    scratch: &Path,
    in_place: bool,
    on_bytes: &(dyn Fn(u64) + Sync),
) -> Result<(CheckedCopy, u64, Vec<String>)> {
    let copy = if in_place {
        CheckedCopy {
            dir: dir.to_owned(),
            _tmp: None,
            owner: None,
        }
    } else {
        new_copy_folder(scratch, files.iter().map(|f| f.bytes).sum())?
    };
    // Largest first on COPY_THREADS threads: SHA-256 is the CPU part, and
    // the files are independent. Problems are reported in manifest order.
    let mut order: Vec<usize> = (0..files.len()).collect();
    order.sort_by_key(|&i| std::cmp::Reverse(files[i].bytes));
    let next = AtomicUsize::new(0);
    let done = AtomicU64::new(0);
    let found: Mutex<Vec<(usize, String)>> = Mutex::new(Vec::new());
    std::thread::scope(|s| {
        for _ in 0..COPY_THREADS.min(files.len()) {
            s.spawn(|| {
                while let Some(&i) = order.get(next.fetch_add(1, Ordering::Relaxed)) {
                    let f = &files[i];
                    let from = dir.join(&f.name);
                    let to = (!in_place).then(|| copy.dir.join(&f.name));
                    // This file's bytes so far, to add only what grew to the total.
                    let last = std::cell::Cell::new(0u64);
                    let problem = match hash_copy(&from, to.as_deref(), &|n| {
                        let grown = n - last.replace(n);
                        on_bytes(done.fetch_add(grown, Ordering::Relaxed) + grown);
                    }) {
                        Ok((n, _)) if n != f.bytes => Some(format!(
                            "{} has {n} bytes, the manifest says {} (truncated or changed)",
                            f.name, f.bytes
                        )),
                        Ok((_, sha)) if sha != f.sha256 => Some(format!(
                            "{}: SHA-256 differs from the manifest (changed or damaged)",
                            f.name
                        )),
                        Ok(_) => None,
                        Err(e) if e.kind() == io::ErrorKind::NotFound => {
                            Some(format!("{} is missing", f.name))
                        }
                        Err(e) => Some(format!("{} cannot be read or copied ({e})", f.name)),
                    };
                    if let Some(p) = problem {
                        found.lock().unwrap_or_else(|p| p.into_inner()).push((i, p));
                    }
                }
            });
        }
    });
    let mut found = found.into_inner().unwrap_or_else(|p| p.into_inner());
    found.sort_by_key(|(i, _)| *i);
    let total = files.iter().map(|f| f.bytes).sum();
    Ok((copy, total, found.into_iter().map(|(_, p)| p).collect()))
}

/// Threads hashing (and copying) files in [`check_into`].
const COPY_THREADS: usize = 2;

/// A fresh 0700 folder under `scratch` (made 0700 too), after checking that
/// the file system holding it has room for `need` bytes.
fn new_copy_folder(scratch: &Path, need: u64) -> Result<CheckedCopy> {
    nfops_core::paths::private_dir(scratch, "folder for private backup copies")?;
    // Before counting free space: a killed restore's copy is a backup's size.
    sweep_orphan_copies(scratch);
    if let Some(free) = free_bytes(scratch) {
        // Some room left over for the file system's own needs.
        let want = need + need / 50 + (64 << 20);
        if free < want {
            return Err(Error::new(
                ErrorCode::Io,
                format!(
                    "not enough free space in {} for the restore's private copy of the backup: {} bytes needed, {free} free; nothing was restored or changed",
                    scratch.display(),
                    want
                ),
            )
            .hint("Free some space there (the restore copies the backup once, checks it, and loads only from that copy), then run the restore again."));
        }
    }
    let tmp = tempfile::Builder::new()
        .prefix("restore-")
        .tempdir_in(scratch)
        .map_err(|e| {
            Error::io(
                format!("creating a private copy folder in {}", scratch.display()),
                e,
            )
        })?;
    nfops_core::paths::private_dir(tmp.path(), "private backup copy")?;
    let owner = PathBuf::from(format!("{}.owner", tmp.path().display()));
    std::fs::write(&owner, owner_text(nfops_core::host::this_process())).map_err(|e| {
        Error::io(
            format!(
                "recording this process as the owner of {}",
                tmp.path().display()
            ),
            e,
        )
    })?;
    Ok(CheckedCopy {
        dir: tmp.path().to_owned(),
        _tmp: Some(tmp),
        owner: Some(owner),
    })
}

/// Reads `from` once, hashing it and (with `to`) writing it to `to`, which
/// is created new (never follows or overwrites). Returns bytes and SHA-256.
fn hash_copy(from: &Path, to: Option<&Path>, on_bytes: &dyn Fn(u64)) -> io::Result<(u64, String)> {
    let mut src = File::open(from)?;
    let mut dst = match to {
        Some(to) => {
            if let Some(parent) = to.parent() {
                std::fs::create_dir_all(parent)?;
            }
            let mut o = std::fs::OpenOptions::new();
            o.write(true).create_new(true);
            #[cfg(unix)]
            std::os::unix::fs::OpenOptionsExt::mode(&mut o, 0o600);
            Some(o.open(to)?)
        }
        None => None,
    };
    let mut h = Sha256::new();
    let mut buf = vec![0u8; 1 << 20];
    let mut total = 0u64;
    loop {
        let n = src.read(&mut buf)?;
        if n == 0 {
            break;
        }
        h.update(&buf[..n]);
        if let Some(d) = dst.as_mut() {
            d.write_all(&buf[..n])?;
        }
        total += n as u64;
        on_bytes(total);
    }
    // No fsync: the copy serves this run only, and a crash ends the run
    // (the copy is then scratch to delete); the load reads it back while it
    // is still in the page cache. (With 2 threads and no sync, the check of
    // bench/restore's 1 GiB backup went from 2.4 s to 1.3 s.)
    drop(dst);
    Ok((total, hex::encode(h.finalize())))
}

/// Free bytes of the file system holding `dir`, from `df -Pk` (POSIX
/// output); None when it cannot be told (the copy then fails on its own,
/// naming the file, if space runs out).
fn free_bytes(dir: &Path) -> Option<u64> {
    let out = std::process::Command::new("df")
        .arg("-Pk")
        .arg(dir)
        .output()
        .ok()?;
    if !out.status.success() {
        return None;
    }
    let text = String::from_utf8_lossy(&out.stdout);
    let kib: u64 = text
        .lines()
        .nth(1)?
        .split_whitespace()
        .nth(3)?
        .parse()
        .ok()?;
    Some(kib * 1024)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn entry(name: &str, data: &[u8]) -> FileEntry {
        FileEntry {
            name: name.into(),
            bytes: data.len() as u64,
            sha256: hex::encode(Sha256::digest(data)),
            sql_bytes: 0,
        }
    }

    #[test]
    fn a_copy_is_private_holds_the_hashed_bytes_and_is_removed_on_drop() {
        let backup = tempfile::tempdir().expect("test setup");
        std::fs::create_dir_all(backup.path().join("data")).expect("test setup");
        std::fs::write(backup.path().join("data/a.sql"), b"genuine").expect("test setup");
        let scratch = tempfile::tempdir().expect("test setup");
        let files = [entry("data/a.sql", b"genuine")];
        let (copy, n, problems) =
            check_into(backup.path(), &files, scratch.path(), false, &|_| {}).expect("copy");
        assert!(problems.is_empty(), "{problems:?}");
        assert_eq!(n, 7);
        #[cfg(unix)]
        {
            use std::os::unix::fs::PermissionsExt;
            let mode = std::fs::metadata(&copy.dir)
                .expect("copy")
                .permissions()
                .mode();
            assert_eq!(mode & 0o777, 0o700, "the copy is this user's only");
        }
        // Replaced in the backup folder after the check: the copy keeps what was hashed.
        std::fs::write(backup.path().join("data/a.sql"), b"forged!").expect("test setup");
        assert_eq!(
            std::fs::read(copy.dir.join("data/a.sql")).expect("copy"),
            b"genuine"
        );
        let dir = copy.dir.clone();
        drop(copy);
        assert!(!dir.exists(), "the private copy is removed");
    }

    #[test]
    fn files_hashed_on_two_threads_report_progress_up_to_the_total_and_problems_in_manifest_order()
    {
        let backup = tempfile::tempdir().expect("test setup");
        let big = vec![7u8; 3 << 20];
        std::fs::write(backup.path().join("big"), &big).expect("test setup");
        std::fs::write(backup.path().join("small"), b"changed").expect("test setup");
        std::fs::write(backup.path().join("mid"), vec![1u8; 2 << 20]).expect("test setup");
        let scratch = tempfile::tempdir().expect("test setup");
        // Manifest order: the small altered file first, then a missing one.
        let files = [
            entry("small", b"genuine"),
            entry("gone", b"x"),
            entry("big", &big),
            entry("mid", &vec![1u8; 2 << 20]),
        ];
        let seen = std::sync::atomic::AtomicU64::new(0);
        let (copy, total, problems) =
            check_into(backup.path(), &files, scratch.path(), false, &|n| {
                seen.fetch_max(n, std::sync::atomic::Ordering::Relaxed);
            })
            .expect("copy");
        assert_eq!(problems.len(), 2, "{problems:?}");
        assert!(problems[0].starts_with("small"), "{problems:?}");
        assert!(problems[1].starts_with("gone"), "{problems:?}");
        assert_eq!(
            seen.into_inner(),
            (3 << 20) + (2 << 20) + 7,
            "progress counts every byte read once"
        );
        assert_eq!(total, files.iter().map(|f| f.bytes).sum::<u64>());
        assert_eq!(std::fs::read(copy.dir.join("big")).expect("copied"), big);
    }

    #[test]
    fn a_copy_of_a_process_that_is_gone_is_swept_and_a_live_ones_kept() {
        let scratch = tempfile::tempdir().expect("test setup");
        let backup = tempfile::tempdir().expect("test setup");
        std::fs::write(backup.path().join("x"), b"genuine").expect("test setup");
        let files = [entry("x", b"genuine")];
        // A live copy: this process's own, in use.
        let (live, _, problems) =
            check_into(backup.path(), &files, scratch.path(), false, &|_| {}).expect("copy");
        assert!(problems.is_empty(), "{problems:?}");
        // A killed process's copy: a pid that runs no process started then.
        let dead = scratch.path().join("restore-killed");
        std::fs::create_dir(&dead).expect("test setup");
        std::fs::write(dead.join("x"), b"genuine").expect("test setup");
        let stamp = nfops_core::host::this_process();
        std::fs::write(
            scratch.path().join("restore-killed.owner"),
            format!("{} {}\n", stamp.pid, stamp.started.unwrap_or(0) - 1000),
        )
        .expect("test setup");
        // A fresh folder with no owner file yet, and something else entirely.
        std::fs::create_dir(scratch.path().join("restore-being-made")).expect("test setup");
        std::fs::create_dir(scratch.path().join("not-ours")).expect("test setup");
        let swept = sweep_orphan_copies(scratch.path());
        assert_eq!(swept, vec![dead.clone()]);
        assert!(!dead.exists() && !scratch.path().join("restore-killed.owner").exists());
        assert!(
            live.dir.join("x").exists(),
            "a running restore's copy is kept"
        );
        assert!(scratch.path().join("restore-being-made").exists());
        assert!(scratch.path().join("not-ours").exists());
        let owner = PathBuf::from(format!("{}.owner", live.dir.display()));
        assert!(owner.exists(), "the live copy names its process");
        drop(live);
        assert!(!owner.exists(), "and both go when it is dropped");
    }

    #[test]
    fn an_altered_file_is_reported_and_the_space_check_names_the_folder() {
        let backup = tempfile::tempdir().expect("test setup");
        std::fs::write(backup.path().join("x"), b"changed").expect("test setup");
        let scratch = tempfile::tempdir().expect("test setup");
        let files = [entry("x", b"genuine"), entry("gone", b"")];
        let (_c, _, problems) =
            check_into(backup.path(), &files, scratch.path(), false, &|_| {}).expect("copy");
        assert!(problems[0].contains("SHA-256 differs"), "{problems:?}");
        assert!(problems[1].contains("missing"), "{problems:?}");
        let huge = [FileEntry {
            name: "x".into(),
            bytes: u64::MAX / 4,
            sha256: String::new(),
            sql_bytes: 0,
        }];
        if free_bytes(scratch.path()).is_some() {
            let e = check_into(backup.path(), &huge, scratch.path(), false, &|_| {})
                .expect_err("no room");
            assert!(
                e.message().contains("not enough free space"),
                "{}",
                e.message()
            );
            assert!(e.message().contains(&scratch.path().display().to_string()));
        }
    }
}
