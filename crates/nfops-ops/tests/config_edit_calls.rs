//! Saving environments.toml from the console: an edit sets one environment
//! or removes one; a call with neither or both is refused before anything
//! is read, written or audited.

use nfops_core::ErrorCode;
use nfops_ops::Console;

#[tokio::test]
async fn an_edit_with_neither_a_form_nor_a_removal_or_with_both_is_refused() {
    let home = tempfile::tempdir().expect("tempdir");
    std::env::set_var("NFOPS_HOME", home.path());
    std::env::set_var(
        "NFOPS_KEYRING_SERVICE",
        format!("nfops-config-edit-test-{}", std::process::id()),
    );
    let config = home.path().join("environments.toml");
    let text = "version = 1\n\n[environments.staging]\ntier = \"staging\"\n";
    std::fs::write(&config, text).expect("config");
    let console = Console::open(Some(&config)).await.expect("console");

    let e = console.preview_config(None, None).expect_err("neither");
    assert_eq!(e.code(), ErrorCode::InvalidInput, "{e}");
    let base = "0".repeat(64);
    let e = console
        .save_config(None, None, &base)
        .await
        .expect_err("neither");
    assert_eq!(e.code(), ErrorCode::InvalidInput, "{e}");
    let draft = console.environment_draft("staging").expect("draft");
    let e = console
        .save_config(Some(&draft), Some("staging"), &base)
        .await
        .expect_err("both");
    assert_eq!(e.code(), ErrorCode::InvalidInput, "{e}");
    assert_eq!(
        std::fs::read_to_string(&config).expect("read"),
        text,
        "nothing written"
    );
    let audited = console.audit().list(50).await.expect("audit");
    assert!(
        audited.iter().all(|a| a.action != "config.edit"),
        "a refused call is not an edit: {:?}",
        audited.iter().map(|a| &a.action).collect::<Vec<_>>()
    );
}
