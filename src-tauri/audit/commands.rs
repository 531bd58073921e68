//! The Audit page: the newest entries and the hash chain's check.

use tauri::State;

use super::dto::{AuditEntry, AuditVerification};
use crate::failure::Failure;
use crate::AppState;

/// The newest audit entries, newest first.
#[tauri::command]
#[specta::specta]
pub async fn audit_list(
    state: State<'_, AppState>,
    limit: u32,
) -> Result<Vec<AuditEntry>, Failure> {
    Ok(state
        .console()?
        .audit()
        .list(limit.min(10_000))
        .await?
        .into_iter()
        .map(Into::into)
        .collect())
}

/// Checks the audit log's hash chain.
#[tauri::command]
#[specta::specta]
pub async fn audit_verify(state: State<'_, AppState>) -> Result<AuditVerification, Failure> {
    Ok(state.console()?.audit().verify().await?.into())
}
