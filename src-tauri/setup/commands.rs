//! First-run setup and Settings → Environments: environments.toml edited
//! through forms. Nothing is written before `config_save`, and that only
//! when the file is still the one previewed.

use tauri::State;

use super::dto::{ConfigPreview, EnvironmentDraft, ScannedHostKey};
use crate::failure::Failure;
use crate::overview::dto::EnvironmentStatus;
use crate::AppState;

/// The SSH host key `address:port` presents, for the operator to confirm.
/// Logs in to nothing and records nothing.
#[tauri::command]
#[specta::specta]
pub async fn setup_scan_host_key(
    state: State<'_, AppState>,
    address: String,
    port: u16,
) -> Result<ScannedHostKey, Failure> {
    Ok(state.console()?.scan_host_key(&address, port).await?.into())
}

/// The Overview's probes of a draft environment, before it is saved.
#[tauri::command]
#[specta::specta]
pub async fn setup_probe(
    state: State<'_, AppState>,
    draft: EnvironmentDraft,
) -> Result<EnvironmentStatus, Failure> {
    Ok(state.console()?.probe_draft(&draft.into()).await?.into())
}

/// The form of environment `name` as the file has it.
#[tauri::command]
#[specta::specta]
pub fn setup_draft(state: State<'_, AppState>, name: String) -> Result<EnvironmentDraft, Failure> {
    Ok(state.console()?.environment_draft(&name)?.into())
}

/// What saving `draft` (or removing environment `remove`) would change.
#[tauri::command]
#[specta::specta]
pub fn config_preview(
    state: State<'_, AppState>,
    draft: Option<EnvironmentDraft>,
    remove: Option<String>,
) -> Result<ConfigPreview, Failure> {
    let draft = draft.map(Into::into);
    Ok(state
        .console()?
        .preview_config(draft.as_ref(), remove.as_deref())?
        .into())
}

/// Saves `draft` (or removes `remove`) if the file is still the previewed
/// one (`base`); returns the file's path.
#[tauri::command]
#[specta::specta]
pub async fn config_save(
    state: State<'_, AppState>,
    draft: Option<EnvironmentDraft>,
    remove: Option<String>,
    base: String,
) -> Result<String, Failure> {
    let draft = draft.map(Into::into);
    Ok(state
        .console()?
        .save_config(draft.as_ref(), remove.as_deref(), &base)
        .await?)
}
