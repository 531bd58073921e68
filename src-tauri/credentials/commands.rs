//! The Credentials page: which credentials are needed and set; set and delete.

use nfops_core::SecretString;
use tauri::State;

use super::dto::CredentialStatus;
use crate::failure::Failure;
use crate::AppState;

/// Which credentials are needed and set; never their values.
#[tauri::command]
#[specta::specta]
pub async fn credentials_list(
    state: State<'_, AppState>,
) -> Result<Vec<CredentialStatus>, Failure> {
    Ok(state
        .console()?
        .credentials()
        .await?
        .into_iter()
        .map(Into::into)
        .collect())
}

/// Stores a credential in the OS keyring. The value goes one way only.
#[tauri::command]
#[specta::specta]
pub async fn credential_set(
    state: State<'_, AppState>,
    name: String,
    value: String,
) -> Result<(), Failure> {
    Ok(state
        .console()?
        .set_credential(&name, SecretString::new(value))
        .await?)
}

/// Removes a credential from the OS keyring.
#[tauri::command]
#[specta::specta]
pub async fn credential_delete(
    state: State<'_, AppState>,
    name: String,
    confirm: Option<String>,
) -> Result<(), Failure> {
    Ok(state
        .console()?
        .delete_credential(&name, confirm.as_deref())
        .await?)
}
