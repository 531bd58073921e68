//! The store on disk: round trips, refusals, and interoperability with the `age` CLI.

use std::process::Command;

use nfops_core::{ErrorCode, SecretString};
use nfops_secrets::{check_recipient, AgeIdentity, Secrets, Store};

const PLANTED: &str = "planted-Secret-value-7f3a9";

fn me_and_store() -> (tempfile::TempDir, Store, AgeIdentity) {
    let dir = tempfile::tempdir().expect("tempdir");
    let store = Store::new(dir.path().join("store"));
    (dir, store, AgeIdentity::generate())
}

fn write(store: &Store, env: &str, me: &AgeIdentity, pairs: &[(&str, &str)]) {
    let opened = store.open(env, me).expect("open");
    let mut s = opened.secrets.clone();
    for (k, v) in pairs {
        s.set(k, SecretString::new((*v).into())).expect("set");
    }
    let recipients = vec![check_recipient("me", &me.public_key()).expect("my key")];
    store.save(&opened, &s, &recipients).expect("save");
}

fn scan(dir: &std::path::Path) {
    for e in walk(dir) {
        let bytes = std::fs::read(&e).expect("read");
        assert!(
            !String::from_utf8_lossy(&bytes).contains(PLANTED),
            "{} holds the plaintext value",
            e.display()
        );
    }
}

fn walk(dir: &std::path::Path) -> Vec<std::path::PathBuf> {
    let mut out = Vec::new();
    for e in std::fs::read_dir(dir).expect("read_dir").flatten() {
        let p = e.path();
        if p.is_dir() {
            out.extend(walk(&p));
        } else {
            out.push(p);
        }
    }
    out
}

#[test]
fn round_trip_keeps_values_and_writes_no_plaintext() {
    let (dir, store, me) = me_and_store();
    write(
        &store,
        "staging",
        &me,
        &[("DB_PASSWORD", PLANTED), ("A", "1")],
    );
    let back = store.open("staging", &me).expect("reopen");
    assert_eq!(
        back.secrets.get("DB_PASSWORD").map(|v| v.expose().clone()),
        Some(PLANTED.to_owned())
    );
    scan(dir.path());
}

#[test]
fn a_wrong_identity_names_the_file_and_its_recipients() {
    let (_dir, store, me) = me_and_store();
    write(&store, "staging", &me, &[("A", "1")]);
    let other = AgeIdentity::generate();
    let e = store.open("staging", &other).expect_err("not a recipient");
    assert_eq!(e.code(), ErrorCode::SecretsNotRecipient);
    assert!(e.message().contains("staging.env.age"), "{}", e.message());
    assert!(
        e.message().contains("me ("),
        "lists the recipients: {}",
        e.message()
    );
}

#[test]
fn a_corrupted_file_is_an_error_and_is_not_overwritten() {
    let (_dir, store, me) = me_and_store();
    write(&store, "staging", &me, &[("A", "1")]);
    let path = store.secrets_path("staging");
    let mut bytes = std::fs::read(&path).expect("read");
    let n = bytes.len();
    bytes[n - 5] ^= 0xff;
    std::fs::write(&path, &bytes).expect("corrupt");
    let e = store.open("staging", &me).expect_err("corrupt");
    assert_eq!(e.code(), ErrorCode::SecretsCorrupt, "{}", e.message());
    assert_eq!(
        std::fs::read(&path).expect("read"),
        bytes,
        "nothing overwritten"
    );
}

#[test]
fn a_file_changed_since_it_was_read_is_refused() {
    let (_dir, store, me) = me_and_store();
    write(&store, "staging", &me, &[("A", "1")]);
    let first = store.open("staging", &me).expect("open");
    write(&store, "staging", &me, &[("B", "2")]);
    let after_other = std::fs::read(store.secrets_path("staging")).expect("read");
    let mut s = first.secrets.clone();
    s.set("C", SecretString::new("3".into())).expect("set");
    let e = store
        .save(&first, &s, &first.recipients)
        .expect_err("conflict");
    assert_eq!(e.code(), ErrorCode::SecretsConflict, "{}", e.message());
    assert_eq!(
        std::fs::read(store.secrets_path("staging")).expect("read"),
        after_other,
        "the other writer's file stays"
    );
}

#[test]
fn an_invalid_dotenv_line_names_its_number() {
    let e = Secrets::parse("x.env", "A=1\nB=2\nnot a line\n").expect_err("invalid");
    assert!(e.message().contains("x.env:3"), "{}", e.message());
}

fn age_cli() -> bool {
    Command::new("age").arg("--version").output().is_ok()
}

#[test]
fn the_age_cli_reads_our_files_and_we_read_its() {
    if !age_cli() {
        nfops_testkit::skip_or_fail(
            "the_age_cli_reads_our_files_and_we_read_its",
            "the age CLI is required and missing",
        );
        return;
    }
    let (dir, store, me) = me_and_store();
    write(&store, "staging", &me, &[("DB_PASSWORD", PLANTED)]);
    let key = dir.path().join("key.txt");
    std::fs::write(&key, format!("{}\n", me.to_secret().expose())).expect("key file");
    let out = Command::new("age")
        .arg("-d")
        .arg("-i")
        .arg(&key)
        .arg(store.secrets_path("staging"))
        .output()
        .expect("age -d");
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert_eq!(
        String::from_utf8_lossy(&out.stdout),
        format!("DB_PASSWORD={PLANTED}\n")
    );

    // The CLI encrypts to the recipients file; the console reads it.
    let plain = dir.path().join("plain.env");
    std::fs::write(&plain, "# by hand\nNEW_KEY=from-the-cli\n").expect("plain");
    let out = Command::new("age")
        .arg("-R")
        .arg(store.recipients_path("staging"))
        .arg("-o")
        .arg(store.secrets_path("production"))
        .arg(&plain)
        .output()
        .expect("age -R");
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    std::fs::copy(
        store.recipients_path("staging"),
        store.recipients_path("production"),
    )
    .expect("copy");
    let prod = store
        .open("production", &me)
        .expect("the console reads a CLI-made file");
    assert_eq!(
        prod.secrets.get("NEW_KEY").map(|v| v.expose().clone()),
        Some("from-the-cli".to_owned())
    );
}
