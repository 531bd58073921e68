//! `Keyring` against the real OS keyring.
//!
//! Needs a reachable, unlocked keyring. On a headless box:
//! `scripts/with-keyring cargo test -p nfops-vault`. Without one, these tests
//! fail (they do not skip) and say so. Each test uses its own service name,
//! so no operator credential is ever read or touched.

use std::process::{Command, Stdio};

use nfops_core::credentials::CredentialSource;
use nfops_core::{ErrorCode, SecretString};
use nfops_testkit::TestKeyring;
use nfops_vault::{Keyring, MAX_VALUE_BYTES};

const PLANTED: &str = "planted-secret-7f3a9c";

#[test]
fn round_trip_set_get_exists_delete() {
    let mut kr = TestKeyring::new("round-trip");
    let name = "staging/mysql-password";
    assert!(
        !kr.keyring.exists(name).expect("exists"),
        "a fresh service holds nothing"
    );

    kr.set(name, "s3cret value with spaces ✓");
    assert!(
        kr.keyring.exists(name).expect("exists"),
        "set must create the entry"
    );
    assert_eq!(
        kr.keyring.get(name).expect("get").expose(),
        "s3cret value with spaces ✓"
    );

    kr.keyring.delete(name).expect("delete");
    assert!(
        !kr.keyring.exists(name).expect("exists"),
        "delete must remove the entry"
    );
    let err = kr.keyring.get(name).expect_err("deleted");
    assert_eq!(
        err.code(),
        ErrorCode::CredentialMissing,
        "a deleted credential reads as missing"
    );
}

#[test]
fn set_replaces_the_value() {
    let mut kr = TestKeyring::new("replace");
    kr.set("prod/api-token", "first");
    kr.set("prod/api-token", "second");
    assert_eq!(
        kr.keyring.get("prod/api-token").expect("get").expose(),
        "second",
        "the last set wins"
    );
}

#[test]
fn names_are_separate_entries_and_services_are_separate_namespaces() {
    let mut a = TestKeyring::new("ns-a");
    let b = TestKeyring::new("ns-b");
    a.set("x/one", "1");
    a.set("x/two", "2");
    assert_eq!(a.keyring.get("x/one").expect("get").expose(), "1");
    assert_eq!(a.keyring.get("x/two").expect("get").expose(), "2");
    assert!(
        !b.keyring.exists("x/one").expect("exists"),
        "another service must not see these entries"
    );
}

#[test]
fn values_up_to_the_limit_round_trip() {
    let mut kr = TestKeyring::new("big");
    let pem = format!(
        "-----BEGIN KEY-----\n{}\n",
        "A".repeat(MAX_VALUE_BYTES - 21)
    );
    assert_eq!(pem.len(), MAX_VALUE_BYTES);
    kr.set("prod/deploy-key", &pem);
    assert_eq!(
        kr.keyring.get("prod/deploy-key").expect("get").expose(),
        &pem,
        "64 KiB must survive intact"
    );
}

#[test]
fn missing_credentials_are_credential_missing() {
    let kr = TestKeyring::new("missing");
    let err = kr
        .keyring
        .delete("never/stored")
        .expect_err("nothing to delete");
    assert_eq!(
        err.code(),
        ErrorCode::CredentialMissing,
        "deleting a missing one is a distinct, stable code"
    );
    let err = kr.keyring.get("never/stored").expect_err("nothing to read");
    assert_eq!(err.code(), ErrorCode::CredentialMissing);
    assert!(
        err.hint_text()
            .is_some_and(|h| h.contains("nfops credentials set never/stored")),
        "the hint says how to store it: {:?}",
        err.hint_text()
    );
}

#[test]
fn bad_names_and_values_are_invalid_input() {
    // Validation comes before any keyring access: this test needs no keyring.
    let kr = Keyring::with_service("nfops-test-validation");
    let long = "n".repeat(129);
    let value = SecretString::new("v".into());
    for name in [
        "",
        "/lead",
        "trail/",
        "a//b",
        "with space",
        "colon:name",
        "üml",
        long.as_str(),
    ] {
        let results = [
            kr.set(name, &value).err(),
            kr.get(name).err(),
            kr.exists(name).err(),
            kr.delete(name).err(),
        ];
        for err in results {
            let err = err.unwrap_or_else(|| panic!("{name:?} must be rejected"));
            assert_eq!(
                err.code(),
                ErrorCode::InvalidInput,
                "{name:?}: a bad name is the user's input error"
            );
            assert!(
                err.hint_text().is_some_and(|h| h.contains("A-Z a-z 0-9")),
                "{name:?}: hint gives the rules"
            );
        }
    }
    for bad in [String::new(), "v".repeat(MAX_VALUE_BYTES + 1)] {
        let err = kr
            .set("ok/name", &SecretString::new(bad))
            .expect_err("bad value");
        assert_eq!(
            err.code(),
            ErrorCode::InvalidInput,
            "empty or oversized values are rejected before storing"
        );
    }
    let err = Keyring::with_service("bad service")
        .get("ok")
        .expect_err("bad service name");
    assert_eq!(err.code(), ErrorCode::InvalidInput);
}

#[test]
fn values_never_appear_in_debug_or_errors() {
    let mut kr = TestKeyring::new("redaction");
    kr.set("prod/planted", PLANTED);
    let got = kr.keyring.get("prod/planted").expect("get");

    let oversized = SecretString::new(format!("{PLANTED}{}", "x".repeat(MAX_VALUE_BYTES)));
    let pasted_into_name = format!("{PLANTED} ");
    let errors = [
        kr.keyring
            .set("prod/planted", &oversized)
            .expect_err("too big"),
        kr.keyring
            .set(&pasted_into_name, &got)
            .expect_err("a space is not allowed in names"),
        kr.keyring.get("prod/absent").expect_err("missing"),
    ];
    let mut shown = format!("{:?} {:?} {got:?} {got}", kr.keyring, Ok::<_, ()>(&got));
    for e in &errors {
        shown.push_str(&format!("{e:?} {e} {:?} {:?}", e.to_wire(), e.causes()));
    }
    assert!(
        !shown.contains(PLANTED),
        "a value reached Debug, Display or an error: {shown}"
    );
}

#[test]
fn non_text_values_from_other_programs_are_reported_without_their_bytes() {
    let kr = TestKeyring::new("bad-encoding");
    // secret-tool (libsecret-tools, installed by scripts/with-keyring) stores
    // raw bytes, as another program might: here invalid UTF-8.
    let mut child = Command::new("secret-tool")
        .args([
            "store",
            "--label=nfops test",
            "service",
            kr.keyring.service(),
            "username",
            "prod/binary",
        ])
        .stdin(Stdio::piped())
        .spawn()
        .expect("secret-tool must be installed (scripts/with-keyring installs libsecret-tools)");
    {
        use std::io::Write;
        let mut stdin = child.stdin.take().expect("piped stdin");
        stdin
            .write_all(b"planted-secret-7f3a9c\xff\xfe")
            .expect("write to secret-tool");
    }
    assert!(
        child.wait().expect("secret-tool ran").success(),
        "secret-tool store failed"
    );

    let err = kr.keyring.get("prod/binary").expect_err("not UTF-8");
    assert_eq!(
        err.code(),
        ErrorCode::InvalidInput,
        "an unreadable stored value is reported, not returned"
    );
    let shown = format!("{err:?} {err} {:?}", err.causes());
    assert!(
        !shown.contains("planted") && !shown.contains("112, 108, 97, 110"),
        "stored bytes leaked: {shown}"
    );
    kr.keyring
        .delete("prod/binary")
        .expect("delete the foreign entry");
}

#[test]
fn keyring_is_the_credential_source() {
    let mut kr = TestKeyring::new("source");
    kr.set("prod/redis-password", "r3dis");
    let source: &dyn CredentialSource = &kr.keyring;
    assert_eq!(
        source.get("prod/redis-password").expect("get").expose(),
        "r3dis"
    );
    assert_eq!(
        source.get("prod/nope").expect_err("missing").code(),
        ErrorCode::CredentialMissing
    );
}

#[test]
fn check_leaves_no_probe_behind() {
    let kr = TestKeyring::new("probe");
    kr.keyring.check().expect("second check");
    let out = Command::new("secret-tool")
        .args(["search", "--all", "service", kr.keyring.service()])
        .output()
        .expect("secret-tool must be installed (scripts/with-keyring installs libsecret-tools)");
    let listing = String::from_utf8_lossy(&out.stdout);
    assert!(
        !listing.contains("nfops:probe"),
        "check() must delete its probe entries: {listing}"
    );
}
