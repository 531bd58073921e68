//! Unit tests of the audit chain (kept apart: the log itself is long enough).

use super::*;
use crate::sensitive::SecretString;

/// A keyring stand-in holding one record in memory.
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

async fn log_with_entries(n: usize) -> (tempfile::TempDir, State, AuditLog) {
    let dir = tempfile::tempdir().expect("tempdir");
    let state = State::open(dir.path()).await.expect("open state");
    let log = AuditLog::new(state.clone(), Arc::new(MemoryKeys::default()));
    append(&log, n).await;
    (dir, state, log)
}

async fn append(log: &AuditLog, n: usize) {
    for i in 0..n {
        log.record_as(
            "alice",
            Action {
                action: "test.action",
                environment: Some("staging"),
                target: Some(&format!("t{i}")),
                outcome: Outcome::Succeeded,
                details: serde_json::json!({"i": i}),
            },
        )
        .await
        .expect("append");
    }
}

/// Rewrites entries `from..` as someone with write access to `state.db`
/// but not to the keyring would: new content, plain SHA-256 recomputed
/// along the chain so every link matches.
async fn rewrite_with_plain_hashes(state: &State, log: &AuditLog, from: i64) {
    // One connection for the drop, the rewrite and the re-create: another
    // pooled connection may still hold the schema with the trigger and
    // refuse the re-create with "already exists" (SQLite checks DDL names
    // against the connection's cached schema).
    let mut conn = state.pool().acquire().await.expect("connection");
    sqlx::query("DROP TRIGGER audit_log_no_update")
        .execute(&mut *conn)
        .await
        .expect("drop guard");
    let mut entries = log.list(1000).await.expect("list");
    entries.reverse();
    let mut prev = GENESIS.to_owned();
    for mut e in entries {
        if e.seq >= from {
            if e.seq == from {
                e.outcome = "refused".into();
            }
            e.prev_hash = prev.clone();
            e.hash = plain_hash(&e);
            sqlx::query("UPDATE audit_log SET outcome = ?, prev_hash = ?, hash = ? WHERE seq = ?")
                .bind(&e.outcome)
                .bind(&e.prev_hash)
                .bind(&e.hash)
                .bind(e.seq)
                .execute(&mut *conn)
                .await
                .expect("tamper");
        }
        prev = e.hash;
    }
    sqlx::query("CREATE TRIGGER audit_log_no_update BEFORE UPDATE ON audit_log BEGIN SELECT RAISE(ABORT, 'the audit log is append-only'); END")
        .execute(&mut *conn)
        .await
        .expect("restore guard");
}

#[tokio::test]
async fn entries_rewritten_with_recomputed_plain_hashes_fail_verification() {
    let (_d, state, log) = log_with_entries(4).await;
    rewrite_with_plain_hashes(&state, &log, 2).await;
    let v = log.verify().await.expect("verify");
    assert!(
        v.problems
            .iter()
            .any(|p| p.contains("entry 2") && p.contains("without the audit key")),
        "a chain recomputed with plain SHA-256 must not verify: {:?}",
        v.problems
    );
    // Every entry rewritten, from the first: still caught by the key's age.
    rewrite_with_plain_hashes(&state, &log, 1).await;
    let v = log.verify().await.expect("verify");
    assert!(
        v.problems
            .iter()
            .any(|p| p.contains("entry 1") && p.contains("without the key")),
        "a chain rewritten whole after the key existed must not verify: {:?}",
        v.problems
    );
}

#[tokio::test]
async fn legacy_plain_entries_verify_and_are_anchored_by_the_first_keyed_one() {
    let dir = tempfile::tempdir().expect("tempdir");
    let state = State::open(dir.path()).await.expect("open state");
    // Two entries as the console wrote them before the chain was keyed.
    let mut prev = GENESIS.to_owned();
    for seq in 1..=2i64 {
        let mut e = Entry {
            seq,
            at: format!("2020-01-0{seq}T00:00:00.000000Z"),
            actor: "alice".into(),
            action: "old.action".into(),
            environment: None,
            target: None,
            outcome: "succeeded".into(),
            details: "{}".into(),
            prev_hash: prev.clone(),
            hash: String::new(),
        };
        e.hash = plain_hash(&e);
        sqlx::query("INSERT INTO audit_log(seq, at, actor, action, environment, target, outcome, details, prev_hash, hash) VALUES (?,?,?,?,?,?,?,?,?,?)")
            .bind(e.seq).bind(&e.at).bind(&e.actor).bind(&e.action).bind(&e.environment)
            .bind(&e.target).bind(&e.outcome).bind(&e.details).bind(&e.prev_hash).bind(&e.hash)
            .execute(state.pool()).await.expect("legacy insert");
        prev = e.hash;
    }
    let log = AuditLog::new(state.clone(), Arc::new(MemoryKeys::default()));
    append(&log, 2).await;
    let v = log.verify().await.expect("verify");
    assert!(v.ok(), "legacy entries keep verifying: {:?}", v.problems);
    assert_eq!((v.entries, v.legacy), (4, 2));
    let head = log.head().await.expect("head").expect("non-empty");
    assert_eq!(
        Some(head.hash.clone()),
        v.head,
        "the exported head is the chain's head"
    );
    assert!(head.hash.starts_with(KEYED));
    // Rewriting a legacy entry breaks the link the first keyed entry holds.
    rewrite_with_plain_hashes(&state, &log, 1).await;
    let v = log.verify().await.expect("verify");
    assert!(
        !v.ok(),
        "the legacy part is anchored by the keyed entry after it"
    );
}

#[tokio::test]
async fn intact_chain_verifies() {
    let (_d, _s, log) = log_with_entries(5).await;
    let v = log.verify().await.expect("verify");
    assert!(v.ok(), "a fresh chain must verify: {:?}", v.problems);
    assert_eq!(v.entries, 5);
}

#[tokio::test]
async fn update_and_delete_are_refused_by_the_database() {
    let (_d, state, _log) = log_with_entries(2).await;
    let upd = sqlx::query("UPDATE audit_log SET actor = 'mallory' WHERE seq = 1")
        .execute(state.pool())
        .await;
    assert!(upd.is_err(), "the append-only trigger must refuse UPDATE");
    let del = sqlx::query("DELETE FROM audit_log WHERE seq = 1")
        .execute(state.pool())
        .await;
    assert!(del.is_err(), "the append-only trigger must refuse DELETE");
}

#[tokio::test]
async fn edited_entry_is_detected() {
    let (_d, state, log) = log_with_entries(3).await;
    sqlx::query("DROP TRIGGER audit_log_no_update")
        .execute(state.pool())
        .await
        .expect("drop guard");
    sqlx::query("UPDATE audit_log SET outcome = 'succeeded', target = 'other' WHERE seq = 2")
        .execute(state.pool())
        .await
        .expect("tamper");
    let v = log.verify().await.expect("verify");
    assert!(
        v.problems
            .iter()
            .any(|p| p.contains("entry 2") && p.contains("modified")),
        "edit must be named: {:?}",
        v.problems
    );
    assert!(
        v.problems.iter().any(|p| p.contains("audit_log_no_update")),
        "removed guard must be reported: {:?}",
        v.problems
    );
    let err = log.verify_strict().await.expect_err("tampered");
    assert_eq!(err.code(), ErrorCode::AuditTampered);
}

#[tokio::test]
async fn deleted_entry_is_detected() {
    let (_d, state, log) = log_with_entries(4).await;
    sqlx::query("DROP TRIGGER audit_log_no_delete")
        .execute(state.pool())
        .await
        .expect("drop guard");
    sqlx::query("DELETE FROM audit_log WHERE seq = 2")
        .execute(state.pool())
        .await
        .expect("tamper");
    let v = log.verify().await.expect("verify");
    assert!(
        v.problems.iter().any(|p| p.contains("missing")),
        "gap must be reported: {:?}",
        v.problems
    );
    assert!(
        v.problems
            .iter()
            .any(|p| p.contains("entry 3 does not follow")),
        "chain break must be reported: {:?}",
        v.problems
    );
}

/// One keyring shared by two processes, slow like a real one (D-Bus), so
/// both see "no key yet" before either saves.
#[derive(Default)]
struct SlowKeys(MemoryKeys);

impl AuditKeyStore for SlowKeys {
    fn load(&self) -> Result<Option<SecretString>> {
        std::thread::sleep(std::time::Duration::from_millis(150));
        self.0.load()
    }
    fn save(&self, record: &SecretString) -> Result<()> {
        std::thread::sleep(std::time::Duration::from_millis(150));
        self.0.save(record)
    }
}

#[tokio::test]
async fn two_processes_creating_the_key_at_once_both_use_the_stored_one() {
    let dir = tempfile::tempdir().expect("tempdir");
    let keys: Arc<dyn AuditKeyStore> = Arc::new(SlowKeys::default());
    // Two state handles on one folder: two processes of the same operator.
    let a = AuditLog::new(State::open(dir.path()).await.expect("open a"), keys.clone());
    let b = AuditLog::new(State::open(dir.path()).await.expect("open b"), keys.clone());
    let (ra, rb) = tokio::join!(append(&a, 1), append(&b, 1));
    let ((), ()) = (ra, rb);
    let v = a.verify().await.expect("verify");
    assert!(
        v.ok(),
        "both first entries must be keyed with the one key the keyring keeps, not one overwritten: {:?}",
        v.problems
    );
}
