//! Backups against the real local stack: restore with standard tools alone,
//! verify findings, wrong key.

use nfops_testkit::{db, Stack};

use std::process::Command;
use std::sync::Arc;

use age::secrecy::ExposeSecret;
use age::x25519;
use nfops_backup::{plan_backup, run_backup, verify_backup, Manifest, VerifyRequest};
use nfops_core::jobs::{CancellationToken, JobState, NoProgress};
use nfops_core::ErrorCode;
use nfops_mysql::hash::live_table_hash;
use nfops_mysql::schema;

const FIXTURES: &str = "
CREATE OR REPLACE VIEW nf_bk_paid_orders AS SELECT id, user_id FROM orders WHERE status = 'paid';
CREATE OR REPLACE VIEW nf_bk_paid_count AS SELECT COUNT(*) AS n FROM nf_bk_paid_orders;
CREATE OR REPLACE PROCEDURE nf_bk_count() BEGIN SELECT COUNT(*) FROM users; END;
CREATE TRIGGER IF NOT EXISTS nf_bk_legacy_note BEFORE INSERT ON legacy_imports FOR EACH ROW SET NEW.note = COALESCE(NEW.note, NEW.note);
CREATE EVENT IF NOT EXISTS nf_bk_noop ON SCHEDULE EVERY 1 DAY DISABLE DO SELECT 1;
";

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn production_backup_restores_with_age_zstd_and_mysql_alone() {
    let Some(stack) = Stack::from_env("production_backup_restores_with_age_zstd_and_mysql_alone")
    else {
        return;
    };
    let src = stack.target("production", "newfinity");
    db::exec(&src, FIXTURES).await;
    let identity = x25519::Identity::generate();
    let req = stack.backup_request("production", &identity);
    let plan = plan_backup(&req)
        .await
        .expect("plan through the SSH tunnel");
    assert_eq!(
        plan.plan.steps.len(),
        5,
        "dump, storage, manifest, verify, publish"
    );
    assert!(
        plan.tables.iter().any(|t| t.name == "audit_events"),
        "plan lists the tables"
    );
    let runner = stack.runner().await;
    let out = run_backup(
        req.clone(),
        &plan,
        &runner,
        Arc::new(NoProgress),
        CancellationToken::new(),
    )
    .await
    .expect("backup job runs");
    assert_eq!(
        out.job.state,
        JobState::Succeeded,
        "backup succeeds: {:?}",
        out.job
    );
    let dir = out.path.clone().expect("published");
    assert!(
        !req.store.partial_dir("production", &out.backup_id).exists(),
        "no partial folder is left"
    );
    let m = Manifest::read(&dir).expect("manifest");
    assert!(
        m.binlog_file.is_some() && m.gtid.is_some(),
        "binlog position and GTID recorded: {:?} {:?}",
        m.binlog_file,
        m.gtid
    );
    assert!(
        m.tables
            .iter()
            .find(|t| t.name == "orders")
            .map(|t| t.files.len())
            .unwrap_or(0)
            > 1,
        "orders was chunked by key range"
    );
    let audit = m
        .tables
        .iter()
        .find(|t| t.name == "audit_events")
        .expect("audit_events");
    assert_eq!(
        audit.files.len(),
        2,
        "audit_events (no primary key) is split in one part per worker; the restore below proves the parts are the table"
    );
    assert!(
        !m.tables
            .iter()
            .find(|t| t.name == "orders")
            .expect("orders")
            .columns
            .contains(&"total_cents".to_owned()),
        "generated column excluded"
    );
    assert_eq!(m.views.len(), 2);
    assert_eq!(
        (m.triggers.len(), m.routines.len(), m.events.len()),
        (1, 1, 1)
    );

    // The live database recomputes the same content hash with one SQL query.
    let mut conn = src.connect().await.expect("connect");
    for t in schema::tables(&mut conn, &src).await.expect("tables") {
        let d = live_table_hash(&mut conn, &src, &t.name, &t.columns)
            .await
            .expect("live hash");
        let mt = m
            .tables
            .iter()
            .find(|x| x.name == t.name)
            .expect("table in manifest");
        assert_eq!(
            (d.rows, d.hex()),
            (mt.rows, mt.content_hash.clone()),
            "live hash of {} == manifest",
            t.name
        );
    }

    // Restore exactly as README.txt says, with Debian's age, zstd and mariadb.
    let key = stack.tmp.path().join("key.txt");
    std::fs::write(&key, identity.to_string().expose_secret()).expect("key file");
    let scratch = format!(
        "nf_restore_{}",
        &out.backup_id.replace('-', "_").to_lowercase()
    );
    let admin = stack.target("production", "newfinity");
    db::exec(&admin, &format!("DROP DATABASE IF EXISTS `{scratch}`; CREATE DATABASE `{scratch}` CHARACTER SET utf8mb4")).await;
    let readme = std::fs::read_to_string(dir.join("README.txt")).expect("README.txt");
    assert!(readme.contains("age -d -i KEYFILE FILE | zstd -d | mysql DBNAME"));
    for f in &m.restore_order {
        let status = Command::new("bash")
            .arg("-c")
            .arg(format!(
                "set -o pipefail; age -d -i '{}' '{}' | zstd -d | mariadb -h 127.0.0.1 -P {} -u nf_ops '{scratch}'",
                key.display(),
                dir.join(f).display(),
                stack.db_port("production")
            ))
            .env("MYSQL_PWD", stack.db_password("production"))
            .output()
            .expect("bash runs");
        assert!(
            status.status.success(),
            "restoring {f} with standard tools: {}",
            String::from_utf8_lossy(&status.stderr)
        );
    }
    let restored = stack.target("production", &scratch);
    let mut rc = restored.connect().await.expect("connect restored");
    for t in schema::tables(&mut rc, &restored)
        .await
        .expect("restored tables")
    {
        let d = live_table_hash(&mut rc, &restored, &t.name, &t.columns)
            .await
            .expect("hash");
        let mt = m
            .tables
            .iter()
            .find(|x| x.name == t.name)
            .expect("table in manifest");
        assert_eq!(
            (d.rows, d.hex()),
            (mt.rows, mt.content_hash.clone()),
            "restored {} has the backup's rows and content",
            t.name
        );
    }
    let objects: (i64, i64, i64, i64) = sqlx::query_as(&format!(
        "SELECT (SELECT COUNT(*) FROM information_schema.VIEWS WHERE TABLE_SCHEMA='{scratch}'), \
         (SELECT COUNT(*) FROM information_schema.TRIGGERS WHERE TRIGGER_SCHEMA='{scratch}'), \
         (SELECT COUNT(*) FROM information_schema.ROUTINES WHERE ROUTINE_SCHEMA='{scratch}'), \
         (SELECT COUNT(*) FROM information_schema.EVENTS WHERE EVENT_SCHEMA='{scratch}')"
    ))
    .fetch_one(&mut rc)
    .await
    .expect("object counts");
    assert_eq!(
        objects,
        (2, 1, 1, 1),
        "views, trigger, routine and event restored"
    );
    db::exec(&admin, &format!("DROP DATABASE `{scratch}`")).await;

    let v = verify_backup(
        VerifyRequest {
            store: req.store.clone(),
            environment: "production".into(),
            id: out.backup_id.clone(),
            identity,
            signers: stack.trusted_signers("production"),
            sample: None,
        },
        &runner,
        Arc::new(NoProgress),
        CancellationToken::new(),
    )
    .await
    .expect("verify runs");
    assert_eq!(
        v.job.state,
        JobState::Succeeded,
        "a fresh backup verifies: {:?}",
        v.report
    );
    let listed = req.store.list("production").expect("list");
    assert_eq!(listed.len(), 1);
    assert_eq!(listed[0].state, "complete");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn verify_finds_every_damaged_file_and_refuses_a_wrong_key() {
    let Some(stack) = Stack::from_env("verify_finds_every_damaged_file_and_refuses_a_wrong_key")
    else {
        return;
    };
    let identity = x25519::Identity::generate();
    let req = stack.backup_request("staging", &identity);
    let plan = plan_backup(&req).await.expect("plan");
    let runner = stack.runner().await;
    let out = run_backup(
        req.clone(),
        &plan,
        &runner,
        Arc::new(NoProgress),
        CancellationToken::new(),
    )
    .await
    .expect("backup");
    assert_eq!(out.job.state, JobState::Succeeded, "{:?}", out.job);
    let dir = out.path.clone().expect("published");
    let m = Manifest::read(&dir).expect("manifest");
    let data: Vec<&String> = m
        .restore_order
        .iter()
        .filter(|f| f.starts_with("data/"))
        .collect();
    let (flipped, cut) = (data[0].clone(), data[1].clone());
    let mut bytes = std::fs::read(dir.join(&flipped)).expect("read");
    let mid = bytes.len() / 2;
    bytes[mid] ^= 0x55;
    std::fs::write(dir.join(&flipped), bytes).expect("flip a byte");
    let bytes = std::fs::read(dir.join(&cut)).expect("read");
    std::fs::write(dir.join(&cut), &bytes[..bytes.len() * 2 / 3]).expect("truncate");

    let v = verify_backup(
        VerifyRequest {
            store: req.store.clone(),
            environment: "staging".into(),
            id: out.backup_id.clone(),
            identity: identity.clone(),
            signers: stack.trusted_signers("staging"),
            sample: None,
        },
        &runner,
        Arc::new(NoProgress),
        CancellationToken::new(),
    )
    .await
    .expect("verify runs");
    assert_eq!(
        v.job.state,
        JobState::Failed,
        "a damaged backup fails verification"
    );
    let report = v.report.expect("report");
    for f in [&flipped, &cut] {
        assert!(
            report
                .findings
                .iter()
                .any(|x| x.file.as_deref() == Some(f.as_str()) && x.problem.contains("SHA-256")),
            "{f} is reported by its hash: {:?}",
            report.findings
        );
    }
    assert!(
        report.findings.iter().any(|x| x.table.is_some()),
        "the tables hit are reported too: {:?}",
        report.findings
    );

    let wrong = x25519::Identity::generate();
    let e = verify_backup(
        VerifyRequest {
            store: req.store.clone(),
            environment: "staging".into(),
            id: out.backup_id.clone(),
            identity: wrong,
            signers: stack.trusted_signers("staging"),
            sample: Some(1),
        },
        &runner,
        Arc::new(NoProgress),
        CancellationToken::new(),
    )
    .await
    .expect("job runs");
    let err = e.job.error.expect("an error");
    assert_eq!(
        err.code,
        ErrorCode::BackupKeyMismatch.as_str(),
        "a wrong key is its own error: {err:?}"
    );
    assert!(
        err.hint.unwrap_or_default().contains("age1"),
        "the hint names the keys"
    );
}
