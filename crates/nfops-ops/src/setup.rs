//! First-run setup and the environment editor: environments.toml written
//! from forms, each part tested with the real probe before it is saved, and
//! SSH host keys shown for the operator to confirm (never trusted silently).
//!
//! Credentials entered in the forms go to the keyring through
//! [`Console::set_credential`]; the file only ever holds their names.

use std::time::Duration;

use nfops_core::audit::{Action, Outcome};
use nfops_core::config::edit::{ConfigEdit, DiffLine, EnvironmentDraft, TEMPLATE};
use nfops_core::{Error, ErrorCode, Result};
use nfops_fleet::probe::{probe_environment, EnvironmentStatus};
use nfops_fleet::ScannedKey;
use serde::Serialize;
use sha2::{Digest, Sha256};

use crate::Console;

/// How long a host key scan waits for the server.
const SCAN_TIMEOUT: Duration = Duration::from_secs(10);

/// What saving a draft would change, shown before anything is written.
#[derive(Debug, Clone, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct ConfigPreview {
    /// The file that would be written.
    pub path: String,
    /// Whether it exists yet (the first save creates it from the template).
    pub exists: bool,
    pub diff: Vec<DiffLine>,
    /// Why the result would not load (nothing can be saved until fixed).
    pub invalid: Option<String>,
    /// Digest of the file as previewed; the save refuses if it changed since.
    pub base: String,
}

/// What `nfops init` did.
#[derive(Debug, Clone, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct InitOutcome {
    pub path: String,
    /// False when a file was already there (it is never overwritten).
    pub created: bool,
}

fn digest(text: &str) -> String {
    hex::encode(Sha256::digest(text.as_bytes()))
}

impl Console {
    /// Reads the server's SSH host key at `address:port` for the operator to
    /// compare with the host's own `ssh-keygen -lf` output. Records nothing.
    ///
    /// Errors: `ssh.connect` naming the endpoint.
    pub async fn scan_host_key(&self, address: &str, port: u16) -> Result<ScannedKey> {
        nfops_fleet::scan_host_key(address, port, SCAN_TIMEOUT).await
    }

    /// Probes a draft environment as the Overview would once it is saved:
    /// the draft alone is rendered and validated (so a mistake is named by
    /// field), its credentials read from the keyring. Writes nothing.
    ///
    /// Errors: `input.invalid` / `config.invalid` for the draft; each
    /// probe's own failure is in its result, not an error.
    pub async fn probe_draft(&self, draft: &EnvironmentDraft) -> Result<EnvironmentStatus> {
        let mut edit = ConfigEdit::scratch(&self.paths().config_file);
        edit.set_environment(draft)?;
        let config = edit.validated()?;
        let env = config.environment(&draft.name)?;
        let creds = self.prefetch(env).await?;
        Ok(probe_environment(&draft.name, env, &creds, &self.known_hosts()).await)
    }

    /// The form of environment `name` as the file has it.
    ///
    /// Errors: the config's; `config.unknown_environment`.
    pub fn environment_draft(&self, name: &str) -> Result<EnvironmentDraft> {
        let config = self.config()?;
        Ok(EnvironmentDraft::of(name, config.environment(name)?))
    }

    /// What saving `draft` (or removing environment `remove`) would change.
    ///
    /// Errors: `input.invalid` for an incomplete draft; the file's read errors.
    pub fn preview_config(
        &self,
        draft: Option<&EnvironmentDraft>,
        remove: Option<&str>,
    ) -> Result<ConfigPreview> {
        let edit = self.edited(draft, remove)?;
        Ok(ConfigPreview {
            path: edit.path().display().to_string(),
            exists: edit.exists(),
            diff: edit.diff(),
            invalid: edit.validated().err().map(|e| e.message().to_owned()),
            base: digest(edit.before()),
        })
    }

    /// Saves `draft` (or removes `remove`) into environments.toml, if the
    /// file is still what the operator previewed (`base`), and audits it by
    /// environment name.
    ///
    /// Errors: `config.conflict` when the file changed since the preview;
    /// `config.invalid` when the result would not load (nothing written).
    pub async fn save_config(
        &self,
        draft: Option<&EnvironmentDraft>,
        remove: Option<&str>,
        base: &str,
    ) -> Result<String> {
        let edit = self.edited(draft, remove)?;
        let name = draft.map(|d| d.name.as_str()).or(remove).unwrap_or("");
        let result = if digest(edit.before()) != base {
            Err(Error::new(
                ErrorCode::ConfigConflict,
                format!("{} changed since the preview", edit.path().display()),
            )
            .hint("Nothing was written. Look at the preview again: it now starts from the file as it is."))
        } else {
            edit.save().map(|_| ())
        };
        let (outcome, details) = match &result {
            Ok(()) => (
                Outcome::Succeeded,
                serde_json::json!({ "removed": remove.is_some() }),
            ),
            Err(e) => (
                Outcome::Failed,
                serde_json::json!({ "removed": remove.is_some(), "error": e.code().as_str() }),
            ),
        };
        self.audit()
            .record(Action {
                action: "config.edit",
                environment: Some(name),
                target: Some(&edit.path().display().to_string()),
                outcome,
                details,
            })
            .await?;
        result.map(|()| edit.path().display().to_string())
    }

    /// `nfops init`: writes the commented template where the console looks
    /// for environments.toml, unless a file is already there (kept as is).
    ///
    /// Errors: `io.error` when the folder or file cannot be written.
    pub fn init_config(&self) -> Result<InitOutcome> {
        let path = &self.paths().config_file;
        let out = |created| InitOutcome {
            path: path.display().to_string(),
            created,
        };
        if path.exists() {
            return Ok(out(false));
        }
        let edit = ConfigEdit::open(path)?;
        debug_assert_eq!(edit.text(), TEMPLATE);
        edit.save()?;
        Ok(out(true))
    }

    /// The file with `draft` set or `remove` removed: exactly one of them.
    ///
    /// Errors: `input.invalid` for neither or both (an edit that would save
    /// nothing, or two at once, is a caller's mistake, never written or audited).
    fn edited(&self, draft: Option<&EnvironmentDraft>, remove: Option<&str>) -> Result<ConfigEdit> {
        if draft.is_some() == remove.is_some() {
            return Err(Error::new(
                ErrorCode::InvalidInput,
                "an environments.toml edit sets one environment or removes one, not neither or both",
            )
            .hint("Pass either the environment's form or the name of the environment to remove."));
        }
        let mut edit = ConfigEdit::open(&self.paths().config_file)?;
        if let Some(d) = draft {
            edit.set_environment(d)?;
        }
        if let Some(name) = remove {
            edit.remove_environment(name)?;
        }
        Ok(edit)
    }
}
