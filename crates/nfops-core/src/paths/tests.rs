//! Unit tests of the data folders: the identifier, and the move of an older
//! version's folders on layouts built in temp folders (no environment
//! variables: those tests are in `resolve_tests`, in child processes).

use std::sync::Arc;

use super::relocate::{copy_then_remove, relocate};
use super::*;
use crate::audit::{AuditKeyStore, AuditLog};
use crate::sensitive::SecretString;
use crate::state::State;

mod resolve_tests;

#[test]
fn the_identifier_is_the_one_tauri_bundles_with() {
    let conf = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../tauri.conf.json");
    let text = std::fs::read_to_string(&conf).expect("tauri.conf.json");
    let conf: serde_json::Value = serde_json::from_str(&text).expect("json");
    assert_eq!(
        conf["identifier"].as_str(),
        Some(APP_IDENTIFIER),
        "the data folders are named after the Tauri identifier: keep them equal"
    );
}

pub(super) fn write(path: &Path, text: &str) {
    std::fs::create_dir_all(path.parent().expect("parent")).expect("mkdir");
    std::fs::write(path, text).expect("write");
}

pub(super) fn read(path: &Path) -> String {
    std::fs::read_to_string(path).unwrap_or_else(|e| panic!("{}: {e}", path.display()))
}

/// A Windows-like pair of layouts in `root`: the old logs inside the old
/// state folder, the new logs inside the new state folder.
fn windows_like(root: &Path) -> (Layout, Layout) {
    let old_state = root.join("Local/OGC NewFinity/nfops/data");
    let new_state = root.join("Local").join(APP_IDENTIFIER);
    (
        Layout {
            log_dir: old_state.join("logs"),
            state_dir: old_state,
            config_dir: root.join("Roaming/OGC NewFinity/nfops/config"),
        },
        Layout {
            log_dir: new_state.join("logs"),
            state_dir: new_state,
            config_dir: root.join("Roaming").join(APP_IDENTIFIER),
        },
    )
}

#[test]
fn a_windows_like_layout_moves_state_logs_and_config_and_tidies_the_old_parents() {
    let tmp = tempfile::tempdir().expect("tempdir");
    let (old, new) = windows_like(tmp.path());
    write(&old.state_dir.join("state.db"), "db");
    write(&old.log_dir.join("cli.2026-01-01.jsonl"), "log");
    write(&old.config_dir.join("environments.toml"), "cfg");
    let notices = relocate(&old, &new, tmp.path()).expect("moved");
    assert_eq!(read(&new.state_dir.join("state.db")), "db");
    assert_eq!(read(&new.log_dir.join("cli.2026-01-01.jsonl")), "log");
    assert_eq!(read(&new.config_dir.join("environments.toml")), "cfg");
    assert_eq!(
        notices.len(),
        2,
        "state (with its logs) and config: {notices:?}"
    );
    assert!(
        !tmp.path().join("Local/OGC NewFinity").exists()
            && !tmp.path().join("Roaming/OGC NewFinity").exists(),
        "the old version's empty parent folders are removed"
    );
    assert!(
        !tmp.path()
            .join(format!("{APP_IDENTIFIER}.move.lock"))
            .exists(),
        "the lock file goes once nothing old is left"
    );
}

#[test]
fn a_macos_like_layout_moves_the_logs_out_before_the_state_folder() {
    let tmp = tempfile::tempdir().expect("tempdir");
    let support = tmp.path().join("Library/Application Support");
    let old_state = support.join("org.OGC-NewFinity.nfops");
    let new_state = support.join(APP_IDENTIFIER);
    let old = Layout {
        log_dir: old_state.join("logs"),
        config_dir: old_state.clone(),
        state_dir: old_state,
    };
    let new = Layout {
        log_dir: tmp.path().join("Library/Logs").join(APP_IDENTIFIER),
        config_dir: new_state.clone(),
        state_dir: new_state,
    };
    write(&old.state_dir.join("state.db"), "db");
    write(&old.state_dir.join("environments.toml"), "cfg");
    write(&old.log_dir.join("desktop.log"), "log");
    relocate(&old, &new, &support).expect("moved");
    assert_eq!(read(&new.log_dir.join("desktop.log")), "log");
    assert_eq!(read(&new.state_dir.join("state.db")), "db");
    assert_eq!(read(&new.config_dir.join("environments.toml")), "cfg");
    assert!(
        !new.state_dir.join("logs").exists(),
        "the logs went to ~/Library/Logs, not along with the state folder"
    );
    assert!(!old.state_dir.exists());
}

#[test]
fn a_move_that_fails_leaves_the_old_folder_as_it_was() {
    let tmp = tempfile::tempdir().expect("tempdir");
    let (old, mut new) = windows_like(tmp.path());
    write(&old.state_dir.join("state.db"), "db");
    // The new state folder's parent is a file: nothing can be created there.
    write(&tmp.path().join("blocked"), "a file");
    new.state_dir = tmp.path().join("blocked/state");
    let err = relocate(&old, &new, tmp.path()).expect_err("cannot move");
    assert_eq!(err.code(), crate::ErrorCode::Io);
    assert!(
        err.message().contains(&old.state_dir.display().to_string())
            && err.message().contains("unchanged"),
        "{}",
        err.message()
    );
    assert_eq!(read(&old.state_dir.join("state.db")), "db");
}

#[test]
fn a_copy_across_file_systems_is_compared_then_the_old_folder_removed() {
    let tmp = tempfile::tempdir().expect("tempdir");
    let old = tmp.path().join("old");
    let new = tmp.path().join("new");
    let big: String = (0..200_000)
        .map(|i| char::from(b'a' + (i % 26) as u8))
        .collect();
    write(&old.join("state.db"), &big);
    write(&old.join("reports/r1.html"), "report");
    write(&old.join("known_hosts"), "host key");
    // An unfinished copy a crashed process left behind.
    write(&tmp.path().join("new.moving/junk"), "junk");
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        std::fs::set_permissions(&old, std::fs::Permissions::from_mode(0o700)).expect("chmod");
        std::fs::set_permissions(old.join("state.db"), std::fs::Permissions::from_mode(0o600))
            .expect("chmod");
    }
    copy_then_remove(&old, &new).expect("copied");
    assert_eq!(read(&new.join("state.db")), big);
    assert_eq!(read(&new.join("reports/r1.html")), "report");
    assert_eq!(read(&new.join("known_hosts")), "host key");
    assert!(!new.join("junk").exists(), "the stale copy was discarded");
    assert!(!old.exists(), "the old folder is removed after the check");
    assert!(!tmp.path().join("new.moving").exists());
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        let mode = |p: &Path| std::fs::metadata(p).expect("meta").permissions().mode() & 0o777;
        assert_eq!(mode(&new), 0o700, "the folder stays private");
        assert_eq!(
            mode(&new.join("state.db")),
            0o600,
            "the database stays private"
        );
    }
}

/// A keyring stand-in holding the audit key in memory.
#[derive(Default)]
struct MemoryKeys(std::sync::Mutex<Option<String>>);

impl AuditKeyStore for MemoryKeys {
    fn load(&self) -> Result<Option<SecretString>> {
        let g = self.0.lock().unwrap_or_else(|p| p.into_inner());
        Ok(g.clone().map(SecretString::new))
    }
    fn save(&self, record: &SecretString) -> Result<()> {
        *self.0.lock().unwrap_or_else(|p| p.into_inner()) = Some(record.expose().clone());
        Ok(())
    }
}

#[tokio::test]
async fn a_move_is_audited_once_as_state_moved() {
    let tmp = tempfile::tempdir().expect("tempdir");
    let (old, new) = windows_like(tmp.path());
    write(&old.state_dir.join("known_hosts"), "k");
    relocate(&old, &new, tmp.path()).expect("moved");
    let state = State::open(&new.state_dir).await.expect("state");
    let audit = AuditLog::new(state, Arc::new(MemoryKeys::default()));
    assert!(
        record_pending_move(&new.state_dir, &audit)
            .await
            .expect("recorded"),
        "the move noted at resolve time is audited once the state is open"
    );
    assert!(
        !record_pending_move(&new.state_dir, &audit)
            .await
            .expect("nothing left"),
        "a second open records nothing"
    );
    let entries = audit.list(10).await.expect("list");
    assert_eq!(entries.len(), 1);
    assert_eq!(entries[0].action, "state.moved");
    assert_eq!(entries[0].outcome, "succeeded");
    assert!(
        entries[0]
            .details
            .contains(&old.state_dir.display().to_string().replace('\\', "\\\\")),
        "the entry names where the files came from: {}",
        entries[0].details
    );
    assert!(audit.verify().await.expect("verify").ok());
}
