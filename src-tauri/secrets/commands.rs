//! The Secrets page: the operator's age identity, keys and recipients per
//! environment, the history, and pushes to the hosts.

use nfops_core::jobs::{CancellationToken, NoProgress};
use nfops_core::SecretString;
use tauri::State;

use super::dto::{PushPlan, PushResult, RecipientChange, SecretsDiff, SecretsListing};
use crate::audit::dto::AuditEntry;
use crate::failure::Failure;
use crate::AppState;

/// The operator's age public key (the identity is generated on first use).
#[tauri::command]
#[specta::specta]
pub async fn secrets_identity(state: State<'_, AppState>) -> Result<String, Failure> {
    Ok(state.console()?.age_identity().await?.public_key())
}

/// Replaces the operator's age identity; returns its public key.
#[tauri::command]
#[specta::specta]
pub async fn secrets_identity_import(
    state: State<'_, AppState>,
    secret: String,
    confirm: Option<String>,
) -> Result<String, Failure> {
    Ok(state
        .console()?
        .import_age_identity(SecretString::new(secret), confirm.as_deref())
        .await?)
}

/// Key names and recipients of an environment; never values.
#[tauri::command]
#[specta::specta]
pub async fn secrets_list(
    state: State<'_, AppState>,
    env: String,
) -> Result<SecretsListing, Failure> {
    Ok(state.console()?.secrets_list(&env).await?.into())
}

/// One value, on an explicit click; audited.
#[tauri::command]
#[specta::specta]
pub async fn secret_reveal(
    state: State<'_, AppState>,
    env: String,
    key: String,
) -> Result<String, Failure> {
    Ok(state
        .console()?
        .secret_reveal(&env, &key)
        .await?
        .expose()
        .clone())
}

/// Adds or changes a key; returns whether it existed.
#[tauri::command]
#[specta::specta]
pub async fn secret_set(
    state: State<'_, AppState>,
    env: String,
    key: String,
    value: String,
) -> Result<bool, Failure> {
    Ok(state
        .console()?
        .secret_set(&env, &key, SecretString::new(value))
        .await?)
}

/// Removes a key.
#[tauri::command]
#[specta::specta]
pub async fn secret_unset(
    state: State<'_, AppState>,
    env: String,
    key: String,
) -> Result<(), Failure> {
    Ok(state.console()?.secret_unset(&env, &key).await?)
}

/// Two environments compared by key.
#[tauri::command]
#[specta::specta]
pub async fn secrets_diff(
    state: State<'_, AppState>,
    first: String,
    second: String,
) -> Result<SecretsDiff, Failure> {
    Ok(state.console()?.secrets_diff(&first, &second).await?.into())
}

/// Adds a recipient and re-encrypts.
#[tauri::command]
#[specta::specta]
pub async fn secrets_recipient_add(
    state: State<'_, AppState>,
    env: String,
    name: String,
    key: String,
) -> Result<RecipientChange, Failure> {
    Ok(state
        .console()?
        .secrets_recipient_add(&env, &name, &key)
        .await?
        .into())
}

/// Removes a recipient, re-encrypts, and lists the keys to rotate.
#[tauri::command]
#[specta::specta]
pub async fn secrets_recipient_remove(
    state: State<'_, AppState>,
    env: String,
    who: String,
) -> Result<RecipientChange, Failure> {
    Ok(state
        .console()?
        .secrets_recipient_remove(&env, &who)
        .await?
        .into())
}

/// Audit entries of secrets actions for an environment, newest first.
#[tauri::command]
#[specta::specta]
pub async fn secrets_history(
    state: State<'_, AppState>,
    env: String,
) -> Result<Vec<AuditEntry>, Failure> {
    Ok(state
        .console()?
        .secrets_history(Some(&env), 200)
        .await?
        .into_iter()
        .map(Into::into)
        .collect())
}

/// The dry run of a push: per host, the names of keys that change.
#[tauri::command]
#[specta::specta]
pub async fn secrets_push_plan(
    state: State<'_, AppState>,
    env: String,
) -> Result<PushPlan, Failure> {
    Ok(state.console()?.secrets_push_plan(&env).await?.into())
}

/// Pushes an environment's secrets to its hosts (a job).
#[tauri::command]
#[specta::specta]
/// `confirm` is the environment's name as typed (required for production
/// and region tiers, checked by the console).
pub async fn secrets_push(
    state: State<'_, AppState>,
    env: String,
    confirm: Option<String>,
) -> Result<PushResult, Failure> {
    let console = state.console()?;
    Ok(console
        .secrets_push(
            &env,
            confirm.as_deref(),
            std::sync::Arc::new(NoProgress),
            CancellationToken::new(),
        )
        .await?
        .into())
}
