//! The log tail against the local stack (`NFOPS_STACK_DIR`, under
//! `scripts/with-keyring`): a PM2 log file whose name is a shell/sed program
//! is read as data. The old tail added each file's name to its lines with
//! `sed "s|^|$f\t|"`, so a name holding `|;e CMD;#` made GNU sed run CMD on
//! the host as the deploy user.

use nfops_core::SecretString;
use nfops_metrics::logs::LogFilter;
use nfops_ops::Console;

#[tokio::test]
async fn a_log_file_named_like_a_program_is_read_as_data() {
    let Some(kit) =
        nfops_testkit::Stack::from_env("a_log_file_named_like_a_program_is_read_as_data")
    else {
        return;
    };
    let home = tempfile::tempdir().expect("tempdir");
    std::env::set_var("NFOPS_HOME", home.path());
    std::env::set_var(
        "NFOPS_KEYRING_SERVICE",
        format!("nfops-logs-hostile-test-{}", std::process::id()),
    );
    let console = Console::open(Some(&kit.config_path()))
        .await
        .expect("console opens");
    console
        .set_credential(
            "stack/ssh/deploy",
            SecretString::new(kit.credential("stack/ssh/deploy")),
        )
        .await
        .expect("credential stored in the keyring");

    let host = kit.host("production", "prod-app-1");
    let logs = std::path::PathBuf::from(host.pm2_home.clone().expect("pm2_home")).join("logs");
    let pid = std::process::id();
    let pwned = logs.join(format!("nfops-pwned-{pid}"));
    let hostile = format!("nfops-evil|;e touch nfops-pwned-{pid};#.log");
    let marker = format!("hostile-name-marker-{pid}");
    let file = logs.join(&hostile);
    std::fs::write(
        &file,
        format!("{{\"ts\":\"2099-01-01T00:00:00Z\",\"level\":\"info\",\"category\":\"application\",\"msg\":\"{marker}\"}}\n"),
    )
    .expect("hostile log file written");
    let _cleanup = Cleanup(vec![file.clone(), pwned.clone()]);

    let filter = LogFilter {
        level: None,
        category: None,
        host: Some("prod-app-1".into()),
    };
    let tail = console
        .logs_tail("production", &filter, 2000)
        .await
        .expect("the tail reads");
    assert!(
        tail.failed_hosts.is_empty(),
        "the host was read: {:?}",
        tail.failed_hosts
    );
    assert!(
        !pwned.exists(),
        "a file name must never run as a command on the host ({} was created)",
        pwned.display()
    );
    let line = tail
        .entries
        .iter()
        .find(|e| e.msg == marker)
        .unwrap_or_else(|| {
            panic!(
                "the hostile file's line is still shown; got {} entries",
                tail.entries.len()
            )
        });
    assert_eq!(
        line.app, hostile,
        "a non-PM2 name is kept whole as the line's app"
    );
    assert!(
        tail.entries.iter().any(|e| e.app == "nf-api"),
        "the real PM2 files are still read next to it"
    );
}

struct Cleanup(Vec<std::path::PathBuf>);

impl Drop for Cleanup {
    fn drop(&mut self) {
        for p in &self.0 {
            let _ = std::fs::remove_file(p);
        }
    }
}
