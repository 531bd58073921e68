//! Moving an older version's folders to today's layout, once.
//!
//! Versions before the app identifier named the folders kept their files in
//! `directories::ProjectDirs::from("org", "OGC NewFinity", "nfops")`. At the
//! first start of a newer CLI or app each old folder (state, logs, config)
//! is moved to its new place: a rename when both are on one file system,
//! else a copy that is compared file by file before the old one is removed.
//!
//! Invariants: an existing new folder is never overwritten (the old one is
//! left in place and that is said once, naming both); a failed move leaves
//! the old folder as it was and no half-written new one; two processes
//! starting at once move it once (a lock file next to the new state folder,
//! re-checked under the lock). After a move, a pending note in the new state
//! folder is turned into a `state.moved` audit entry by
//! [`record_pending_move`] once the state database is open.

use std::fs::{self, OpenOptions};
use std::io::{ErrorKind, Read};
use std::path::{Path, PathBuf};

use super::{private_dir, Layout, APP_IDENTIFIER};
use crate::audit::{Action, AuditLog, Outcome};
use crate::error::{Error, Result};

/// In the new state folder: moves done but not yet audited (a JSON array).
const PENDING: &str = ".moved-pending.json";
/// In the new state folder: old folders already reported as left in place.
const NOTICED: &str = ".old-folders-noticed";

/// The folders to move, as (old, new), in an order where no move lands in
/// or takes away a folder a later one needs: when the new logs folder lies
/// inside the new state folder (Linux, Windows) the state goes first, else
/// (macOS, whose old logs lay inside the old state folder) the logs do.
fn units(old: &Layout, new: &Layout) -> Vec<(PathBuf, PathBuf)> {
    let state = (old.state_dir.clone(), new.state_dir.clone());
    let logs = (old.log_dir.clone(), new.log_dir.clone());
    let config = (old.config_dir.clone(), new.config_dir.clone());
    let ordered = if new.log_dir.starts_with(&new.state_dir) {
        [state, logs, config]
    } else {
        [logs, state, config]
    };
    let mut out: Vec<(PathBuf, PathBuf)> = Vec::new();
    // macOS kept config and state in one folder: one move.
    for u in ordered {
        if u.0 != u.1 && !out.contains(&u) {
            out.push(u);
        }
    }
    out
}

/// Moves what exists of `old` to `new` (see the module comment); returns
/// the notices to show once. `lock_dir` holds the lock file.
///
/// Errors: `io.error` naming both folders when a move fails; the moves done
/// before it stay done (and are audited later).
pub(crate) fn relocate(old: &Layout, new: &Layout, lock_dir: &Path) -> Result<Vec<String>> {
    let units = units(old, new);
    // The common case, every start after the first: nothing old, no lock.
    if !units.iter().any(|(o, _)| o.exists()) {
        return Ok(Vec::new());
    }
    let lock_path = lock_dir.join(format!("{APP_IDENTIFIER}.move.lock"));
    let lock = take_lock(&lock_path)?;
    let mut moved = Vec::new();
    let mut left: Vec<(PathBuf, PathBuf)> = Vec::new();
    let mut failure = None;
    for (o, n) in &units {
        // Re-checked under the lock: another process may have moved it.
        if !o.exists() || left.iter().any(|(l, _)| o.starts_with(l)) {
            continue;
        }
        if n.exists() {
            left.push((o.clone(), n.clone()));
            continue;
        }
        match move_dir(o, n) {
            Ok(()) => moved.push((o.clone(), n.clone())),
            Err(e) => {
                failure = Some(e);
                break;
            }
        }
    }
    let mut notices = Vec::new();
    if !moved.is_empty() {
        tidy_empty_parents(old);
        note_pending(&new.state_dir, &moved)?;
        for (o, n) in &moved {
            let line = format!(
                "moved the console's files from {} to {} (the app identifier names the folder now)",
                o.display(),
                n.display()
            );
            tracing::info!(category = "application", from = %o.display(), to = %n.display(), "{line}");
            notices.push(line);
        }
    }
    notices.extend(left_notices(&new.state_dir, &left)?);
    if left.is_empty() && failure.is_none() {
        // Nothing old remains, so no later start takes the lock again.
        let _ = fs::remove_file(&lock_path);
    }
    drop(lock);
    match failure {
        Some(e) => Err(e),
        None => Ok(notices),
    }
}

/// Opens and locks `path` (waits while another process holds it).
fn take_lock(path: &Path) -> Result<fs::File> {
    let fail = |e| {
        Error::io(
            format!("locking {} to move the console's files", path.display()),
            e,
        )
    };
    if let Some(dir) = path.parent() {
        fs::create_dir_all(dir).map_err(fail)?;
    }
    let file = OpenOptions::new()
        .create(true)
        .truncate(false)
        .write(true)
        .open(path)
        .map_err(fail)?;
    file.lock().map_err(fail)?;
    Ok(file)
}

/// Moves folder `old` to `new` (absent): renamed, or copied, compared and
/// then removed when they are on different file systems.
fn move_dir(old: &Path, new: &Path) -> Result<()> {
    let fail = |e| {
        Error::io(
            format!(
                "moving the console's files from {} to {} (the old folder is unchanged)",
                old.display(),
                new.display()
            ),
            e,
        )
    };
    if let Some(parent) = new.parent() {
        fs::create_dir_all(parent).map_err(fail)?;
    }
    match fs::rename(old, new) {
        Ok(()) => Ok(()),
        Err(e) if e.kind() == ErrorKind::CrossesDevices => copy_then_remove(old, new),
        Err(e) => Err(fail(e)),
    }
}

/// The copy half of [`move_dir`]: copies `old` to a sibling of `new`,
/// compares every file, renames the copy to `new` and only then removes
/// `old`. A failure removes the copy; `old` stays as it was.
pub(crate) fn copy_then_remove(old: &Path, new: &Path) -> Result<()> {
    let mut tmp = new.as_os_str().to_owned();
    tmp.push(".moving");
    let tmp = PathBuf::from(tmp);
    let fail = |what: &str, e| {
        Error::io(
            format!(
                "{what} while copying the console's files from {} to {} (the old folder is unchanged)",
                old.display(),
                new.display()
            ),
            e,
        )
    };
    if tmp.exists() {
        // A copy a crashed process left; the lock is ours.
        fs::remove_dir_all(&tmp).map_err(|e| fail("removing an unfinished copy", e))?;
    }
    let copied = copy_tree(old, &tmp).and_then(|()| same_tree(old, &tmp));
    if let Err(e) = copied {
        let _ = fs::remove_dir_all(&tmp);
        return Err(fail("copying", e));
    }
    fs::rename(&tmp, new).map_err(|e| fail("renaming the finished copy", e))?;
    if let Err(e) = fs::remove_dir_all(old) {
        // The new folder is complete; the old one is reported as left in
        // place at the next start.
        tracing::warn!(category = "application", folder = %old.display(), error = %e, "the old folder was copied but could not be removed");
    }
    Ok(())
}

/// Copies the tree `from` to `to` (absent), keeping permissions.
fn copy_tree(from: &Path, to: &Path) -> std::io::Result<()> {
    fs::create_dir(to)?;
    fs::set_permissions(to, fs::metadata(from)?.permissions())?;
    for entry in fs::read_dir(from)? {
        let entry = entry?;
        let (src, dst) = (entry.path(), to.join(entry.file_name()));
        let kind = entry.file_type()?;
        if kind.is_dir() {
            copy_tree(&src, &dst)?;
        } else if kind.is_file() {
            fs::copy(&src, &dst)?;
        } else {
            copy_link(&src, &dst)?;
        }
    }
    Ok(())
}

#[cfg(unix)]
fn copy_link(src: &Path, dst: &Path) -> std::io::Result<()> {
    std::os::unix::fs::symlink(fs::read_link(src)?, dst)
}

#[cfg(not(unix))]
fn copy_link(src: &Path, _dst: &Path) -> std::io::Result<()> {
    Err(std::io::Error::other(format!(
        "{} is a link; move the folder by hand",
        src.display()
    )))
}

/// Checks that `b` holds the same names, kinds and bytes as `a`.
fn same_tree(a: &Path, b: &Path) -> std::io::Result<()> {
    let differs = |p: &Path| std::io::Error::other(format!("the copy of {} differs", p.display()));
    let names = |d: &Path| -> std::io::Result<Vec<_>> {
        let mut v = fs::read_dir(d)?
            .map(|e| e.map(|e| e.file_name()))
            .collect::<std::io::Result<Vec<_>>>()?;
        v.sort();
        Ok(v)
    };
    if names(a)? != names(b)? {
        return Err(differs(a));
    }
    for entry in fs::read_dir(a)? {
        let entry = entry?;
        let (x, y) = (entry.path(), b.join(entry.file_name()));
        let kind = entry.file_type()?;
        if kind.is_dir() {
            same_tree(&x, &y)?;
        } else if kind.is_file() && !same_bytes(&x, &y)? {
            return Err(differs(&x));
        }
    }
    Ok(())
}

fn same_bytes(a: &Path, b: &Path) -> std::io::Result<bool> {
    let (mut fa, mut fb) = (fs::File::open(a)?, fs::File::open(b)?);
    if fa.metadata()?.len() != fb.metadata()?.len() {
        return Ok(false);
    }
    let (mut ba, mut bb) = (vec![0u8; 64 * 1024], vec![0u8; 64 * 1024]);
    loop {
        let n = fa.read(&mut ba)?;
        if n == 0 {
            return Ok(true);
        }
        fb.read_exact(&mut bb[..n])?;
        if ba[..n] != bb[..n] {
            return Ok(false);
        }
    }
}

/// Removes the old version's own parent folders once empty (Linux
/// `~/.local/state/nfops`, Windows `…\OGC NewFinity\nfops`). `remove_dir`
/// only removes an empty folder, so nothing else can go.
fn tidy_empty_parents(old: &Layout) {
    let own = |p: &Path| {
        p.file_name()
            .is_some_and(|n| n == "nfops" || n == "OGC NewFinity")
    };
    for dir in [&old.state_dir, &old.log_dir, &old.config_dir] {
        for parent in dir.ancestors().skip(1).take(2).filter(|p| own(p)) {
            let _ = fs::remove_dir(parent);
        }
    }
}

/// Adds `moved` to the pending note in `state_dir` (written whole, then
/// renamed into place), for [`record_pending_move`].
fn note_pending(state_dir: &Path, moved: &[(PathBuf, PathBuf)]) -> Result<()> {
    private_dir(state_dir, "state folder")?;
    let path = state_dir.join(PENDING);
    let mut list: Vec<serde_json::Value> = fs::read_to_string(&path)
        .ok()
        .and_then(|t| serde_json::from_str(&t).ok())
        .unwrap_or_default();
    list.extend(moved.iter().map(|(o, n)| {
        serde_json::json!({ "from": o.display().to_string(), "to": n.display().to_string() })
    }));
    let tmp = state_dir.join(format!("{PENDING}.tmp"));
    let write = || -> std::io::Result<()> {
        fs::write(&tmp, serde_json::Value::from(list).to_string())?;
        fs::rename(&tmp, &path)
    };
    write().map_err(|e| Error::io(format!("noting the move in {}", path.display()), e))
}

/// "Left in place" notices for `left`, each old folder said once ever: the
/// ones said are kept in a file in the new state folder.
fn left_notices(state_dir: &Path, left: &[(PathBuf, PathBuf)]) -> Result<Vec<String>> {
    if left.is_empty() {
        return Ok(Vec::new());
    }
    let path = state_dir.join(NOTICED);
    let said = fs::read_to_string(&path).unwrap_or_default();
    let mut fresh = Vec::new();
    for (o, n) in left {
        let key = o.display().to_string();
        if said.lines().any(|l| l == key) {
            continue;
        }
        let line = format!(
            "using {}; the older folder {} was left in place because both exist. Nothing was copied from it: move what you still need by hand, then remove it.",
            n.display(),
            o.display()
        );
        tracing::warn!(category = "application", old = %o.display(), new = %n.display(), "{line}");
        fresh.push((key, line));
    }
    if !fresh.is_empty() {
        private_dir(state_dir, "state folder")?;
        let mut all = said;
        for (key, _) in &fresh {
            all.push_str(key);
            all.push('\n');
        }
        fs::write(&path, all).map_err(|e| Error::io(format!("writing {}", path.display()), e))?;
    }
    Ok(fresh.into_iter().map(|(_, line)| line).collect())
}

/// Records a move noted by an earlier start as one `state.moved` audit
/// entry, then forgets the note; returns whether there was one. The note is
/// claimed by a rename first, so two processes opening at once record it
/// once; if the entry cannot be written the note is put back for the next
/// start.
///
/// Errors: `state.error` or `audit.*` when the entry cannot be written.
pub async fn record_pending_move(state_dir: &Path, audit: &AuditLog) -> Result<bool> {
    let path = state_dir.join(PENDING);
    let claimed = state_dir.join(format!("{PENDING}.{}", std::process::id()));
    if fs::rename(&path, &claimed).is_err() {
        return Ok(false);
    }
    let moves: serde_json::Value = fs::read_to_string(&claimed)
        .ok()
        .and_then(|t| serde_json::from_str(&t).ok())
        .unwrap_or_else(|| serde_json::json!("unreadable note"));
    let entry = audit
        .record(Action {
            action: "state.moved",
            environment: None,
            target: Some(&state_dir.display().to_string()),
            outcome: Outcome::Succeeded,
            details: serde_json::json!({ "moves": moves }),
        })
        .await;
    match entry {
        Ok(_) => {
            let _ = fs::remove_file(&claimed);
            Ok(true)
        }
        Err(e) => {
            let _ = fs::rename(&claimed, &path);
            Err(e)
        }
    }
}
