//! TLS of direct and tunnelled MySQL connections against the stack's
//! staging MariaDB, which offers TLS with a certificate of the stack's CA
//! (`$NFOPS_STACK_DIR/ca/ca.pem`) without requiring it server-wide:
//! `required` and `verify-ca` connect encrypted (`Ssl_version` set), no
//! `tls` stays plain although TLS is offered, a certificate of another CA
//! is refused as `db.tls` naming the CA file, and an account that requires
//! TLS refuses a config without it with a hint naming the setting.

use std::path::{Path, PathBuf};
use std::process::Command;

use nfops_core::config::{DatabaseTls, Environment};
use nfops_core::ErrorCode;
use nfops_fleet::{probe_environment, route, ProbeKind, ProbeState};
use nfops_mysql::{Target, Tls};
use nfops_testkit::{db, Stack};
use toml::Spanned;

/// `SHOW STATUS LIKE 'Ssl_version'` on a connection of `t`: the TLS version,
/// empty on a plain connection.
async fn ssl_version(t: &Target) -> String {
    let mut c = t
        .connect()
        .await
        .unwrap_or_else(|e| panic!("{} connects: {e} ({:?})", t.label, e.hint_text()));
    let row: (String, String) = sqlx::query_as("SHOW STATUS LIKE 'Ssl_version'")
        .fetch_one(&mut c)
        .await
        .expect("Ssl_version");
    row.1
}

/// `env` with `tls` / `tls_ca` set on its database.
fn with_tls(mut env: Environment, tls: Option<DatabaseTls>, ca: Option<&Path>) -> Environment {
    let d = env
        .database
        .as_mut()
        .expect("the environment has a database");
    d.tls = tls;
    d.tls_ca = ca.map(|c| Spanned::new(0..0, c.display().to_string()));
    env
}

/// Staging's configuration with `tls` / `tls_ca` set on its database.
fn staging_with(stack: &Stack, tls: Option<DatabaseTls>, ca: Option<&Path>) -> Environment {
    with_tls(stack.env("staging").clone(), tls, ca)
}

/// The console's route to environment `name` configured as `env`.
async fn routed(stack: &Stack, name: &str, env: &Environment) -> route::Route {
    route::database(
        name,
        env,
        &*stack.creds,
        &stack.known_hosts(),
        None,
        "to test",
    )
    .await
    .unwrap_or_else(|e| panic!("{name}'s database is routed: {e}"))
}

async fn staging_route(stack: &Stack, env: &Environment) -> route::Route {
    routed(stack, "staging", env).await
}

/// The stack behind the gate, checked to offer TLS on staging (else every
/// "plain" result proves nothing), and its CA file.
async fn tls_stack(test: &str) -> Option<(Stack, PathBuf)> {
    let stack = Stack::from_env(test)?;
    let offered = db::scalar(
        &stack.target("staging", "newfinity"),
        "SELECT @@GLOBAL.have_ssl",
    )
    .await;
    assert_eq!(
        offered.as_deref(),
        Some("YES"),
        "staging's MariaDB must offer TLS (scripts/stack stop mariadb-staging && scripts/stack start mariadb-staging after updating the stack)"
    );
    let ca = stack.files.dir.join("ca/ca.pem");
    assert!(ca.is_file(), "scripts/stack up makes {}", ca.display());
    Some((stack, ca))
}

/// A CA of its own and nothing else, in `dir`.
fn other_ca(dir: &Path) -> PathBuf {
    let (key, pem) = (dir.join("other-ca.key"), dir.join("other-ca.pem"));
    let ok = Command::new("openssl")
        .args([
            "req",
            "-x509",
            "-newkey",
            "ec",
            "-pkeyopt",
            "ec_paramgen_curve:P-256",
        ])
        .args(["-nodes", "-days", "2", "-subj", "/CN=Some other CA"])
        .args(["-addext", "basicConstraints=critical,CA:TRUE"])
        .arg("-keyout")
        .arg(&key)
        .arg("-out")
        .arg(&pem)
        .output()
        .expect("openssl runs");
    assert!(
        ok.status.success(),
        "{}",
        String::from_utf8_lossy(&ok.stderr)
    );
    pem
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn required_and_verify_ca_connect_encrypted_and_no_setting_stays_plain() {
    let Some((stack, ca)) = tls_stack("required_and_verify_ca_connect_encrypted").await else {
        return;
    };

    let plain = staging_route(&stack, &staging_with(&stack, None, None)).await;
    assert_eq!(plain.target.tls, Tls::Off);
    assert_eq!(
        ssl_version(&plain.target).await,
        "",
        "no tls setting: plain, although the server offers TLS (sqlx's Preferred would have upgraded)"
    );
    assert_eq!(
        ssl_version(&stack.target("staging", "newfinity")).await,
        "",
        "the stack's own config has no tls: its connections stay plain"
    );

    let required = staging_route(
        &stack,
        &staging_with(&stack, Some(DatabaseTls::Required), None),
    )
    .await;
    let v = ssl_version(&required.target).await;
    assert!(v.starts_with("TLS"), "required: encrypted, got {v:?}");

    let verified = staging_route(
        &stack,
        &staging_with(&stack, Some(DatabaseTls::VerifyCa), Some(&ca)),
    )
    .await;
    let v = ssl_version(&verified.target).await;
    assert!(
        v.starts_with("TLS"),
        "verify-ca with the stack CA: encrypted, got {v:?}"
    );

    // The Overview's probe takes the same setting.
    let env = staging_with(&stack, Some(DatabaseTls::VerifyCa), Some(&ca));
    let status = probe_environment("staging", &env, &*stack.creds, &stack.known_hosts()).await;
    let p = status
        .probes
        .iter()
        .find(|p| p.kind == ProbeKind::Database)
        .expect("a database probe");
    assert_eq!(p.state, ProbeState::Ok, "{:?}", p.error);
    assert!(p.summary.starts_with("MariaDB"), "{}", p.summary);
    assert!(
        p.summary.ends_with(", TLS verify-ca"),
        "the card says how it connects: {}",
        p.summary
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn verify_ca_refuses_a_certificate_of_another_ca_naming_the_ca_file() {
    let Some((stack, _)) = tls_stack("verify_ca_refuses_a_certificate_of_another_ca").await else {
        return;
    };
    let other = other_ca(stack.tmp());
    let env = staging_with(&stack, Some(DatabaseTls::VerifyCa), Some(&other));
    let r = staging_route(&stack, &env).await;
    let e = r
        .target
        .connect()
        .await
        .expect_err("another CA's trust: refused");
    assert_eq!(e.code(), ErrorCode::DatabaseTls, "{e}");
    assert!(e.message().contains("TLS (verify-ca"), "{}", e.message());
    assert!(
        e.message().contains("certificate"),
        "the reason is the certificate: {}",
        e.message()
    );
    let hint = e.hint_text().unwrap_or_default();
    assert!(hint.contains(&other.display().to_string()), "{hint}");
    assert!(hint.contains("tls_ca"), "{hint}");

    // The OS trust store alone does not know the stack's CA either.
    let os = staging_route(
        &stack,
        &staging_with(&stack, Some(DatabaseTls::VerifyCa), None),
    )
    .await;
    let e = os
        .target
        .connect()
        .await
        .expect_err("the stack CA is not an OS root");
    assert_eq!(e.code(), ErrorCode::DatabaseTls, "{e}");
    assert!(
        e.hint_text().unwrap_or_default().contains("OS trust store"),
        "{e:?}"
    );

    // The probe says the same.
    let status = probe_environment("staging", &env, &*stack.creds, &stack.known_hosts()).await;
    let p = status
        .probes
        .iter()
        .find(|p| p.kind == ProbeKind::Database)
        .expect("a database probe");
    let err = p.error.as_ref().expect("the probe failed");
    assert_eq!(err.code, "db.tls", "{err:?}");
    assert!(err
        .hint
        .as_deref()
        .unwrap_or_default()
        .contains(&other.display().to_string()));

    // An unreadable CA file is a configuration error naming it.
    let missing = stack.tmp().join("no-such-ca.pem");
    let env = staging_with(&stack, Some(DatabaseTls::VerifyCa), Some(&missing));
    let e = staging_route(&stack, &env)
        .await
        .target
        .connect()
        .await
        .expect_err("no CA file");
    assert_eq!(e.code(), ErrorCode::ConfigInvalid, "{e}");
    assert!(
        e.message().contains(&missing.display().to_string()),
        "{}",
        e.message()
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_account_that_requires_tls_refuses_a_plain_config_naming_the_setting() {
    let Some((stack, _)) = tls_stack("an_account_that_requires_tls_refuses_a_plain_config").await
    else {
        return;
    };
    let admin = stack.target("staging", "newfinity");
    // Not logged to the binary log: backups copy it, and it holds a password.
    db::exec(
        &admin,
        "SET SESSION sql_log_bin = 0; DROP USER IF EXISTS 'nf_tls_only'@'127.0.0.1'; \
         CREATE USER 'nf_tls_only'@'127.0.0.1' IDENTIFIED BY 'nf-tls-only-pw' REQUIRE SSL; \
         GRANT SELECT ON newfinity.* TO 'nf_tls_only'@'127.0.0.1'",
    )
    .await;
    let tls_only = |tls: Tls| Target {
        user: "nf_tls_only".into(),
        password: nfops_core::SecretString::new("nf-tls-only-pw".into()),
        tls,
        ..admin.clone()
    };
    let plain = tls_only(Tls::Off).connect().await;
    let encrypted = tls_only(Tls::Required);
    let v = ssl_version(&encrypted).await;
    db::exec(
        &admin,
        "SET SESSION sql_log_bin = 0; DROP USER 'nf_tls_only'@'127.0.0.1'",
    )
    .await;
    let e = plain.expect_err("REQUIRE SSL without TLS: refused");
    let said = format!("{} {}", e.message(), e.hint_text().unwrap_or_default());
    assert!(said.contains("TLS"), "names TLS: {said}");
    assert!(
        said.contains("tls = \"verify-ca\""),
        "names the setting to add: {said}"
    );
    assert!(
        v.starts_with("TLS"),
        "the same account and password over TLS connect (so TLS was the reason): {v:?}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn verify_ca_through_an_ssh_tunnel_checks_the_chain() {
    let Some((stack, ca)) = tls_stack("verify_ca_through_an_ssh_tunnel").await else {
        return;
    };
    // Production's bastion carries the tunnel; at its end, staging's MariaDB
    // (the one that offers TLS) as seen from the bastion.
    let staging = stack.env("staging").database.clone().expect("db");
    let through = |tls: Option<DatabaseTls>, ca: Option<&Path>| {
        let mut env = stack.env("production").clone();
        let d = env.database.as_mut().expect("db");
        assert!(
            d.via.is_some(),
            "production's database goes through a bastion"
        );
        d.port = staging.port;
        d.password_credential = staging.password_credential.clone();
        d.user = staging.user.clone();
        with_tls(env, tls, ca)
    };
    let r = routed(
        &stack,
        "production",
        &through(Some(DatabaseTls::VerifyCa), Some(&ca)),
    )
    .await;
    assert!(
        r.target.carrier.is_some(),
        "the connection goes through the SSH tunnel"
    );
    let v = ssl_version(&r.target).await;
    assert!(v.starts_with("TLS"), "verify-ca through the tunnel: {v:?}");

    let other = other_ca(stack.tmp());
    let r = routed(
        &stack,
        "production",
        &through(Some(DatabaseTls::VerifyCa), Some(&other)),
    )
    .await;
    let e = r
        .target
        .connect()
        .await
        .expect_err("the chain is checked through a tunnel too");
    assert_eq!(e.code(), ErrorCode::DatabaseTls, "{e}");

    // Production's own MariaDB offers no TLS: `required` says so.
    let env = with_tls(
        stack.env("production").clone(),
        Some(DatabaseTls::Required),
        None,
    );
    let r = routed(&stack, "production", &env).await;
    let e = r.target.connect().await.expect_err("no TLS on the server");
    assert_eq!(e.code(), ErrorCode::DatabaseTls, "{e}");
    assert!(
        e.message().contains("does not support TLS"),
        "{}",
        e.message()
    );
    assert!(
        e.hint_text().unwrap_or_default().contains("offers no TLS"),
        "{e:?}"
    );
}
