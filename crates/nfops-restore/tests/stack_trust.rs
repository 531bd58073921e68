//! Forged and foreign backups against the real stack: a backup with a
//! `CREATE USER … GRANT ALL` line (re-encrypted to the public recipient, the
//! manifest's hash updated), an unsigned one, one signed by a key the
//! environment does not trust, another environment's backup, a bucket the
//! environment does not have, and names that are not plain path segments.
//! Each is refused before anything of it runs on the server (a forged row
//! statement is refused by the load right before it would be sent, and the
//! partly loaded shadow is dropped), and the live database is untouched (the
//! forged user does not exist afterwards).

use std::io::{Read, Write};
use std::path::Path;
use std::sync::Arc;

use age::x25519;
use nfops_backup::signature::{sign_manifest, SIGNATURE};
use nfops_backup::{verify_backup, Manifest, VerifyRequest};
use nfops_core::jobs::{CancellationToken, JobState, NoProgress};
use nfops_core::ErrorCode;
use nfops_restore::job::DatabaseState;
use nfops_restore::{plan_restore, run_restore, BackupSource};
use nfops_testkit::{db, Stack};

const FORGED_USER: &str = "nf_forged_admin";

/// Prepends `line` to data file `name` of the backup in `dir`: decrypted
/// with `identity`, re-encrypted to the same public key, the manifest's
/// size and SHA-256 updated (what anyone with write access could do).
fn forge_data_file(dir: &Path, name: &str, identity: &x25519::Identity, line: &str) {
    forge_file(dir, name, identity, |plain| {
        let mut forged = format!("{line}\n").into_bytes();
        forged.extend_from_slice(&plain);
        forged
    });
}

/// Rewrites file `name` of the backup in `dir` with `edit` of its plaintext,
/// re-encrypted to the same public key, the manifest's size and SHA-256
/// updated.
fn forge_file(
    dir: &Path,
    name: &str,
    identity: &x25519::Identity,
    edit: impl FnOnce(Vec<u8>) -> Vec<u8>,
) {
    let path = dir.join(name);
    let file = std::fs::File::open(&path).expect("open data file");
    let dec = age::Decryptor::new(file).expect("age file");
    let mut plain = Vec::new();
    zstd::Decoder::new(
        dec.decrypt(std::iter::once(identity as &dyn age::Identity))
            .expect("decrypt"),
    )
    .expect("zstd")
    .read_to_end(&mut plain)
    .expect("read");
    let forged = edit(plain);
    let packed = zstd::encode_all(&forged[..], 3).expect("compress");
    let recipient = identity.to_public();
    let enc = age::Encryptor::with_recipients(std::iter::once(&recipient as &dyn age::Recipient))
        .expect("encryptor");
    let mut out = Vec::new();
    let mut w = enc.wrap_output(&mut out).expect("wrap");
    w.write_all(&packed).expect("encrypt");
    w.finish().expect("finish");
    std::fs::write(&path, &out).expect("write forged file");
    edit_manifest(dir, |m| {
        let f = m
            .files
            .iter_mut()
            .find(|f| f.name == name)
            .expect("in manifest");
        f.bytes = out.len() as u64;
        f.sha256 = hex::encode(<sha2::Sha256 as sha2::Digest>::digest(&out));
    });
}

fn edit_manifest(dir: &Path, change: impl FnOnce(&mut Manifest)) {
    let mut m = Manifest::read(dir).expect("manifest");
    change(&mut m);
    m.write(dir).expect("write manifest");
}

fn first_data_file(dir: &Path) -> String {
    let m = Manifest::read(dir).expect("manifest");
    m.tables
        .iter()
        .find(|t| t.name == "users")
        .and_then(|t| t.files.first().cloned())
        .expect("a data file of users")
}

async fn user_exists(stack: &Stack, env: &str) -> bool {
    let t = stack.target(env, "newfinity");
    db::scalar(
        &t,
        &format!("SELECT COUNT(*) FROM mysql.user WHERE User = '{FORGED_USER}'"),
    )
    .await
    .as_deref()
        != Some("0")
}

/// Plans and runs a restore of `dir` into staging; the run must end before
/// the swap with the target untouched. Returns the step error's message.
async fn refused_restore(stack: &Stack, dir: &Path, identity: &x25519::Identity) -> String {
    let source = BackupSource::open(dir).expect("opens");
    let mut req = stack.restore_request("staging", dir, identity);
    req.source = source;
    let e = plan_restore(&req).await;
    let out = run_restore(
        req,
        // A plan of an honest backup would pass; the job must refuse on its own.
        &match e {
            Ok(p) => p,
            Err(e) => return e.message().to_owned(),
        },
        vec![],
        &stack.runner().await,
        Arc::new(NoProgress),
        CancellationToken::new(),
    )
    .await
    .expect("restore runs");
    assert_eq!(out.job.state, JobState::Failed, "{:?}", out.job);
    assert_eq!(out.database_state, DatabaseState::Untouched);
    out.job.error.map(|e| e.message).unwrap_or_default()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_forged_grant_is_refused_by_verify_and_restore_and_never_runs() {
    let Some(stack) = Stack::from_env("forged_grant") else {
        return;
    };
    let _serial = nfops_testkit::serial().await;
    let staging = stack.target("staging", "newfinity");
    db::exec(
        &staging,
        &format!("DROP USER IF EXISTS '{FORGED_USER}'@'%'"),
    )
    .await;
    let identity = x25519::Identity::generate();
    let dir = stack.backup("staging", &identity).await;
    let before = db::content(&staging).await;
    let data = first_data_file(&dir);
    forge_data_file(
        &dir,
        &data,
        &identity,
        &format!("CREATE USER '{FORGED_USER}'@'%' IDENTIFIED BY 'x'; GRANT ALL ON *.* TO '{FORGED_USER}'@'%' WITH GRANT OPTION;"),
    );

    // 1. The attacker cannot sign: the changed manifest no longer verifies.
    let msg = verify_refusal(&stack, &dir, &identity).await;
    assert!(
        msg.contains("changed after stack-operator signed it"),
        "{msg}"
    );
    let msg = refused_restore(&stack, &dir, &identity).await;
    assert!(
        msg.contains("changed after"),
        "restore names the altered manifest: {msg}"
    );

    // 2. Even signed by a trusted key (a stolen one), the statement is refused.
    sign_manifest(&dir, &stack.signing_key()).expect("re-sign");
    let msg = verify_refusal(&stack, &dir, &identity).await;
    assert!(
        msg.contains(&data) && msg.contains("line 1") && msg.contains("CREATE USER"),
        "verify runs the restore's allow-list too, naming file and line: {msg}"
    );
    let msg = refused_restore(&stack, &dir, &identity).await;
    assert!(
        msg.contains(&data) && msg.contains("line 1") && msg.contains("CREATE USER"),
        "the refusal names the file, the line and the statement: {msg}"
    );
    assert!(
        !user_exists(&stack, "staging").await,
        "the forged user must not exist: nothing of the backup ran"
    );
    assert_eq!(db::content(&staging).await, before, "staging untouched");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn unsigned_and_untrusted_backups_are_refused() {
    let Some(stack) = Stack::from_env("unsigned_untrusted") else {
        return;
    };
    let _serial = nfops_testkit::serial().await;
    let identity = x25519::Identity::generate();
    let dir = stack.backup("staging", &identity).await;
    let (stranger, _) = nfops_vault::BackupSigningKey::generate().expect("key");
    sign_manifest(&dir, &stranger).expect("sign with an untrusted key");
    let msg = refused_restore(&stack, &dir, &identity).await;
    assert!(
        msg.contains(&stranger.public_key()) && msg.contains("does not trust"),
        "names the untrusted key: {msg}"
    );
    std::fs::remove_file(dir.join(SIGNATURE)).expect("unsign");
    let msg = refused_restore(&stack, &dir, &identity).await;
    assert!(msg.contains("is not signed"), "{msg}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn another_environments_backup_needs_the_option_and_foreign_buckets_are_refused() {
    let Some(stack) = Stack::from_env("swapped_environment") else {
        return;
    };
    let _serial = nfops_testkit::serial().await;
    let identity = x25519::Identity::generate();
    let dir = stack.backup("staging", &identity).await;
    // A staging backup whose manifest says production (re-signed by the trusted key).
    edit_manifest(&dir, |m| m.environment = "production".into());
    sign_manifest(&dir, &stack.signing_key()).expect("sign");
    let mut req = stack.restore_request("staging", &dir, &identity);
    let e = plan_restore(&req)
        .await
        .expect_err("refused without the option");
    assert_eq!(e.code(), ErrorCode::BackupUntrusted);
    assert!(
        e.message()
            .contains("taken of environment 'production', not 'staging'"),
        "{}",
        e.message()
    );
    req.allow_other_environment = true;
    let plan = plan_restore(&req).await.expect("allowed with the option");
    let line = plan
        .preflight
        .iter()
        .find(|c| c.name == "environment")
        .expect("plan line");
    assert!(
        line.detail.contains("ANOTHER environment"),
        "the plan says so: {}",
        line.detail
    );

    // A snapshot of a bucket staging does not have.
    req.snapshots = vec![nfops_storage::BucketSnapshot {
        bucket: "nf-production-assets".into(),
        prefix: None,
        taken_at: chrono::Utc::now(),
        finished_at: chrono::Utc::now(),
        objects: vec![],
    }];
    let e = plan_restore(&req)
        .await
        .expect_err("foreign bucket refused");
    assert!(
        e.message()
            .contains("'nf-production-assets', which is not a bucket of environment 'staging'"),
        "{}",
        e.message()
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn names_that_are_not_plain_path_segments_are_refused() {
    let Some(stack) = Stack::from_env("path_segments") else {
        return;
    };
    let _serial = nfops_testkit::serial().await;
    let identity = x25519::Identity::generate();
    let dir = stack.backup("staging", &identity).await;
    for bad in ["../../etc/passwd", "/etc/passwd", "data/../../x"] {
        edit_manifest(&dir, |m| m.files[0].name = bad.into());
        sign_manifest(&dir, &stack.signing_key()).expect("sign");
        let e = BackupSource::open(&dir).expect_err("refused");
        assert_eq!(
            e.code(),
            ErrorCode::BackupUntrusted,
            "{bad}: {}",
            e.message()
        );
    }
    edit_manifest(&dir, |m| m.backup_id = "../other".into());
    let e = BackupSource::open(&dir).expect_err("refused");
    assert!(
        e.message().contains("not a plain backup id"),
        "{}",
        e.message()
    );
    let store = nfops_backup::LocalStore::new(Path::new("/tmp"));
    assert!(store.checked_backup_dir("staging", "../x").is_err());
}

/// Runs `backup verify` of `dir` against staging's trusted signers, expects
/// it to fail, and returns the job's error message.
async fn verify_refusal(stack: &Stack, dir: &Path, identity: &x25519::Identity) -> String {
    let v = verify_backup(
        VerifyRequest {
            store: nfops_backup::LocalStore::new(
                dir.parent().and_then(Path::parent).expect("root"),
            ),
            environment: "staging".into(),
            id: dir.file_name().expect("id").to_string_lossy().into_owned(),
            identity: identity.clone(),
            signers: stack.trusted_signers("staging"),
            sample: None,
        },
        &stack.runner().await,
        Arc::new(NoProgress),
        CancellationToken::new(),
    )
    .await
    .expect("verify runs");
    assert_eq!(
        v.job.state,
        JobState::Failed,
        "verify must refuse a forged backup"
    );
    v.job.error.map(|e| e.message).unwrap_or_default()
}

/// The backup file whose name starts with `prefix`.
fn file_named(dir: &Path, prefix: &str) -> String {
    let m = Manifest::read(dir).expect("manifest");
    m.files
        .iter()
        .find(|f| f.name.starts_with(prefix))
        .map(|f| f.name.clone())
        .expect("file in the manifest")
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn statements_the_allow_list_refuses_fail_verify_and_restore_even_when_signed() {
    let Some(stack) = Stack::from_env("allow_list") else {
        return;
    };
    let _serial = nfops_testkit::serial().await;
    let staging = stack.target("staging", "newfinity");
    let identity = x25519::Identity::generate();
    // (file, forged statement(s) put after the header, what the refusal
    // names, lines between the header and the refused statement)
    let cases: [(&str, String, &str, usize); 5] = [
        (
            "99-post.sql",
            format!("/*M!100100 CREATE USER '{FORGED_USER}'@'%' */;"),
            "executable comment",
            0,
        ),
        (
            "99-post.sql",
            format!("CREATE EVENT `nf_forged_ev` ON SCHEDULE AT CURRENT_TIMESTAMP DO GRANT ALL ON *.* TO '{FORGED_USER}'@'%';"),
            "GRANT",
            0,
        ),
        (
            "99-post.sql",
            "CREATE DEFINER=`root`@`localhost` PROCEDURE `nf_forged_p`() SELECT 1;".to_owned(),
            "root@localhost",
            0,
        ),
        (
            "00-schema.sql",
            "CREATE TABLE `nf_forged_t` (`a` text) ENGINE=CONNECT TABLE_TYPE=DOS FILE_NAME='/etc/passwd';".to_owned(),
            "CONNECT",
            0,
        ),
        // Under NO_BACKSLASH_ESCAPES the server ends '\' at its second
        // quote and, with sqlx's multi-statements, would run the CREATE
        // USER after it; read with \ escapes it is one string.
        (
            "99-post.sql",
            format!("SET SESSION sql_mode = 'NO_BACKSLASH_ESCAPES';\nCREATE VIEW `nf_forged_v` AS SELECT '\\'; CREATE USER {FORGED_USER}; #';\nSET SESSION sql_mode = @nfops_saved_sql_mode;"),
            "CREATE USER",
            1,
        ),
    ];
    for (prefix, forged, named, after) in cases {
        db::exec(
            &staging,
            &format!("DROP USER IF EXISTS '{FORGED_USER}'@'%'"),
        )
        .await;
        let dir = stack.backup("staging", &identity).await;
        let before = db::content(&staging).await;
        let file = file_named(&dir, prefix);
        forge_file(&dir, &file, &identity, |plain| {
            let text = String::from_utf8(plain).expect("SQL text");
            let header_end = text.find("unique_checks = 0;\n").expect("the dump header")
                + "unique_checks = 0;\n".len();
            format!("{}{forged}\n{}", &text[..header_end], &text[header_end..]).into_bytes()
        });
        // A stolen trusted key signs the forgery.
        sign_manifest(&dir, &stack.signing_key()).expect("re-sign");
        let line = format!(
            "line {}",
            nfops_mysql::dump::FILE_HEADER.lines().count() + 1 + after
        );
        let msg = verify_refusal(&stack, &dir, &identity).await;
        assert!(
            msg.contains(&file) && msg.contains(&line) && msg.contains(named),
            "verify must fail naming {file}, {line} and {named}: {msg}"
        );
        let msg = refused_restore(&stack, &dir, &identity).await;
        assert!(
            msg.contains(&file) && msg.contains(&line) && msg.contains(named),
            "restore must refuse naming {file}, {line} and {named}: {msg}"
        );
        assert!(
            !user_exists(&stack, "staging").await,
            "the forged user must never exist: nothing of the backup ran ({forged})"
        );
        assert_eq!(
            db::content(&staging).await,
            before,
            "staging untouched ({forged})"
        );
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_forged_statement_deep_in_a_data_file_stops_the_load_and_leaves_no_shadow() {
    let Some(stack) = Stack::from_env("forged_mid_file") else {
        return;
    };
    let _serial = nfops_testkit::serial().await;
    let staging = stack.target("staging", "newfinity");
    db::exec(
        &staging,
        &format!("DROP USER IF EXISTS '{FORGED_USER}'@'%'"),
    )
    .await;
    let identity = x25519::Identity::generate();
    let dir = stack.backup("staging", &identity).await;
    let before = db::content(&staging).await;
    let file = first_data_file(&dir);
    // After the file's first INSERT: rows of this file reach the shadow
    // before the forged line is read, so the load must stop mid-file.
    let mut forged_line = 0;
    forge_file(&dir, &file, &identity, |plain| {
        let text = String::from_utf8(plain).expect("SQL text");
        let first_insert = text.find("\nINSERT INTO ").expect("an INSERT") + 1;
        let after = first_insert + text[first_insert..].find('\n').expect("its end") + 1;
        forged_line = text[..after].lines().count() + 1;
        format!(
            "{}CREATE USER '{FORGED_USER}'@'%';\n{}",
            &text[..after],
            &text[after..]
        )
        .into_bytes()
    });
    sign_manifest(&dir, &stack.signing_key()).expect("re-sign");
    let msg = refused_restore(&stack, &dir, &identity).await;
    assert!(
        msg.contains(&file)
            && msg.contains(&format!("line {forged_line}"))
            && msg.contains("CREATE USER"),
        "the load names the file, the line and the statement: {msg}"
    );
    assert!(
        !user_exists(&stack, "staging").await,
        "the refused statement never ran"
    );
    assert_eq!(db::content(&staging).await, before, "staging untouched");
    let shadows = db::scalar(
        &staging,
        "SELECT COUNT(*) FROM information_schema.SCHEMATA WHERE SCHEMA_NAME LIKE 'nfops\\_shadow\\_%'",
    )
    .await;
    assert_eq!(
        shadows.as_deref(),
        Some("0"),
        "the partly loaded shadow was dropped"
    );
}
