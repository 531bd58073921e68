//! Typed confirmation is enforced in the domain: every destructive use case
//! on a production or region tier is refused without the environment's name,
//! before it reads or touches anything, whoever calls it (CLI, IPC, a
//! script). Needs an OS keyring (`scripts/with-keyring`: the audit chain key
//! and the age identity live there), no stack.

use std::sync::Arc;

use nfops_core::jobs::{CancellationToken, NoProgress};
use nfops_core::{ErrorCode, SecretString};
use nfops_ops::{Console, RestoreScope};

fn refused<T>(what: &str, r: nfops_core::Result<T>) {
    match r {
        Ok(_) => panic!("{what} must be refused without the typed name"),
        Err(e) => assert_eq!(
            e.code(),
            ErrorCode::ConfirmationRequired,
            "{what}: refused for the missing confirmation, not something else: {}",
            e.message()
        ),
    }
}

#[tokio::test]
async fn destructive_actions_on_guarded_tiers_need_the_typed_name() {
    let kr = nfops_testkit::TestKeyring::new("typed_confirmation");
    let home = tempfile::tempdir().expect("tempdir");
    // Process-wide variables: this is the only test in its binary.
    std::env::set_var("NFOPS_HOME", home.path());
    std::env::set_var("NFOPS_KEYRING_SERVICE", &kr.service);
    let config = home.path().join("environments.toml");
    std::fs::write(
        &config,
        "version = 1\n[environments.prod]\ntier = \"production\"\n[environments.eu]\ntier = \"region\"\n[environments.stage]\ntier = \"staging\"\n[environments.stage.backup]\nmin_age_days = 0\n",
    )
    .expect("config");
    let console = Console::open(Some(&config)).await.expect("console");
    let none = || Arc::new(NoProgress);

    for env in ["prod", "eu"] {
        refused(
            "restore",
            console
                .restore_run(
                    env,
                    "20200101T000000Z-x",
                    None,
                    RestoreScope::default(),
                    None,
                    none(),
                    CancellationToken::new(),
                )
                .await,
        );
        refused(
            "restore with another environment's name",
            console
                .restore_run(
                    env,
                    "20200101T000000Z-x",
                    None,
                    RestoreScope::default(),
                    Some("stage"),
                    none(),
                    CancellationToken::new(),
                )
                .await,
        );
        refused(
            "secrets push",
            console
                .secrets_push(env, None, none(), CancellationToken::new())
                .await,
        );
        refused(
            "promote",
            console
                .promote(
                    "stage",
                    env,
                    &Default::default(),
                    None,
                    none(),
                    CancellationToken::new(),
                )
                .await,
        );
        refused(
            "forget --apply",
            console.backup_forget(env, true, None).await,
        );
        refused(
            "reviewed forget",
            console.backup_forget_reviewed(env, &[], None).await,
        );
        console
            .backup_forget(env, false, None)
            .await
            .expect("a forget plan changes nothing and needs no confirmation");
    }
    // The typed name lets it through (nothing to delete here).
    console
        .backup_forget("prod", true, Some("prod"))
        .await
        .expect("the typed name is the confirmation");
    // Other tiers need nothing.
    console
        .backup_forget("stage", true, None)
        .await
        .expect("staging needs no typed name");

    // The age identity opens production's secrets and backups.
    let first = console
        .age_identity()
        .await
        .expect("identity generated on first use");
    let other = nfops_secrets::AgeIdentity::generate();
    refused(
        "replacing the identity",
        console.import_age_identity(other.to_secret(), None).await,
    );
    refused(
        "deleting the identity",
        console
            .delete_credential(nfops_secrets::IDENTITY_CREDENTIAL, Some("stage"))
            .await,
    );
    let set = console
        .set_credential(
            nfops_secrets::IDENTITY_CREDENTIAL,
            SecretString::new(other.to_secret().expose().clone()),
        )
        .await;
    assert!(
        set.is_err(),
        "a stored identity cannot be replaced through `credentials set`"
    );
    assert_eq!(
        console.age_identity().await.expect("identity").public_key(),
        first.public_key(),
        "nothing was replaced"
    );
    console
        .import_age_identity(other.to_secret(), Some("eu"))
        .await
        .expect("a guarded environment's name confirms it");

    // Every refusal is in the audit log, and the keyed chain verifies.
    let entries = console.audit().list(200).await.expect("audit");
    assert!(
        entries.iter().filter(|e| e.outcome == "refused").count() >= 12,
        "each refusal is audited"
    );
    let v = console.audit().verify().await.expect("verify");
    assert!(v.ok(), "{:?}", v.problems);

    // A second operator refused for the lease is audited like a refused confirmation.
    let held = console
        .take_lease("stage", nfops_core::lease::LeaseAction::Restore)
        .await
        .expect("lease");
    let busy = console
        .take_lease("stage", nfops_core::lease::LeaseAction::Backup)
        .await
        .err()
        .expect("a held lease refuses a second taker");
    assert_eq!(busy.code(), ErrorCode::EnvironmentBusy);
    held.release().await.expect("release");
    let entries = console.audit().list(5).await.expect("audit");
    let refusal = entries
        .iter()
        .find(|e| e.action == "lease.busy")
        .expect("an environment.busy refusal must leave an audit entry");
    assert_eq!(refusal.outcome, "refused");
    assert_eq!(refusal.environment.as_deref(), Some("stage"));
    assert!(
        refusal.details.contains("\"restore\""),
        "the entry names what the holder was doing: {}",
        refusal.details
    );

    // A config that no longer parses may still name production: deleting the
    // identity must not fall open to "nothing to confirm".
    std::fs::write(
        &config,
        "version = 1\n[environments.prod\ntier = \"production\"\n",
    )
    .expect("break config");
    let e = console
        .delete_credential(nfops_secrets::IDENTITY_CREDENTIAL, None)
        .await
        .expect_err("an unreadable config must refuse deleting the identity");
    assert_eq!(
        e.code(),
        ErrorCode::ConfigInvalid,
        "refused for the config, naming its error: {}",
        e.message()
    );
    assert!(
        e.message().contains("could not be read") && e.message().contains("nothing was changed"),
        "{}",
        e.message()
    );
    assert!(
        console.age_identity().await.is_ok(),
        "the identity is still stored"
    );
    let _ = kr.keyring.delete(nfops_vault::AUDIT_KEY_NAME);
    let _ = kr.keyring.delete(nfops_secrets::IDENTITY_CREDENTIAL);
}
