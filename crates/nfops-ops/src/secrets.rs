//! Secrets: the age-encrypted per-environment store, as the operator uses it.
//!
//! The operator's age identity lives in the OS keyring under
//! [`IDENTITY_CREDENTIAL`] (generated on first use, or imported). Every change,
//! reveal and recipient change is audited with key names only; values are
//! returned only by [`Console::secret_reveal`], which is audited too.

use nfops_core::audit::{Action, Entry, Outcome};
use nfops_core::{Error, ErrorCode, Result, SecretString};
use nfops_secrets::{
    check_key, check_recipient, AgeIdentity, Opened, Recipient, Store, IDENTITY_CREDENTIAL,
};
use serde::Serialize;

use crate::Console;

/// One environment's store, without values.
#[derive(Debug, Clone, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct SecretsListing {
    pub environment: String,
    /// Key names, sorted.
    pub keys: Vec<String>,
    pub recipients: Vec<Recipient>,
    /// `<env>.env.age`, and whether it exists yet.
    pub file: String,
    pub exists: bool,
}

/// Keys of two environments compared (values by hash, never shown).
#[derive(Debug, Clone, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct SecretsDiff {
    /// In the first environment only.
    pub only_in_first: Vec<String>,
    /// In the second environment only.
    pub only_in_second: Vec<String>,
    /// In both, with different values.
    pub different: Vec<String>,
    /// In both, same value.
    pub same: Vec<String>,
}

/// The result of a recipient change.
#[derive(Debug, Clone, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct RecipientChange {
    pub recipients: Vec<Recipient>,
    /// After a removal: every key, since the removed person could read them
    /// all; rotate each at its source, then `set` the new value.
    pub rotate: Vec<String>,
}

impl Console {
    /// The secrets store named by `[secrets] dir`.
    ///
    /// # Errors
    /// `config.invalid` when the config has no `[secrets]` section.
    pub fn secrets_store(&self) -> Result<Store> {
        let config = self.config()?;
        let dir = config.secrets_dir().ok_or_else(|| {
            Error::new(
                ErrorCode::ConfigInvalid,
                format!("{} names no secrets store", config.path().display()),
            )
            .hint("Add `[secrets]` with `dir = \"secrets\"` (a folder next to environments.toml).")
        })?;
        Ok(Store::new(dir))
    }

    /// The operator's age identity from the keyring, generated (and stored)
    /// on first use.
    ///
    /// # Errors
    /// The keyring's errors; `input.invalid` when the stored value is not an age identity.
    pub async fn age_identity(&self) -> Result<AgeIdentity> {
        let keyring = self.keyring().clone();
        let got = tokio::task::spawn_blocking(move || keyring.get(IDENTITY_CREDENTIAL))
            .await
            .map_err(|e| Error::internal(format!("keyring task failed: {e}")))?;
        match got {
            Ok(secret) => AgeIdentity::parse(&secret).map_err(|e| {
                Error::new(
                    ErrorCode::InvalidInput,
                    format!("keyring credential '{IDENTITY_CREDENTIAL}' is not an age identity"),
                )
                .hint("Import yours with `nfops secrets identity import`.")
                .source(e)
            }),
            Err(e) if e.code() == ErrorCode::CredentialMissing => {
                let id = AgeIdentity::generate();
                self.store_identity(&id, "secrets.identity.generate")
                    .await?;
                Ok(id)
            }
            Err(e) => Err(e),
        }
    }

    /// Replaces the operator's age identity with `secret` (`AGE-SECRET-KEY-1…`);
    /// returns its public key.
    ///
    /// Replacing a stored identity while production or region environments
    /// exist needs `confirm` = one of their names (`confirmation.required`).
    pub async fn import_age_identity(
        &self,
        secret: SecretString,
        confirm: Option<&str>,
    ) -> Result<String> {
        let id = AgeIdentity::parse(&secret)?;
        if self.identity_stored().await? {
            self.require_identity_confirmation("secrets.identity.import", confirm)
                .await?;
        }
        self.store_identity(&id, "secrets.identity.import").await?;
        Ok(id.public_key())
    }

    /// Whether an age identity is in the keyring now.
    pub(crate) async fn identity_stored(&self) -> Result<bool> {
        let keyring = self.keyring().clone();
        tokio::task::spawn_blocking(move || keyring.exists(IDENTITY_CREDENTIAL))
            .await
            .map_err(|e| Error::internal(format!("keyring task failed: {e}")))?
    }

    /// Whether the stored identity is exactly `value`.
    pub(crate) async fn identity_is(&self, value: &SecretString) -> Result<bool> {
        let keyring = self.keyring().clone();
        let stored = tokio::task::spawn_blocking(move || keyring.get(IDENTITY_CREDENTIAL))
            .await
            .map_err(|e| Error::internal(format!("keyring task failed: {e}")))??;
        Ok(stored.expose().trim() == value.expose().trim())
    }

    async fn store_identity(&self, id: &AgeIdentity, action: &str) -> Result<()> {
        let keyring = self.keyring().clone();
        let secret = id.to_secret();
        let result = tokio::task::spawn_blocking(move || keyring.set(IDENTITY_CREDENTIAL, &secret))
            .await
            .map_err(|e| Error::internal(format!("keyring task failed: {e}")))?;
        let details = serde_json::json!({ "public_key": id.public_key() });
        self.audit_secrets(action, None, Some(IDENTITY_CREDENTIAL), details, &result)
            .await?;
        result?;
        self.state().credential_changed(IDENTITY_CREDENTIAL).await
    }

    async fn open_env(&self, env: &str) -> Result<(Store, Opened, AgeIdentity)> {
        self.config()?.environment(env)?;
        let store = self.secrets_store()?;
        let me = self.age_identity().await?;
        let opened = store.open(env, &me)?;
        Ok((store, opened, me))
    }

    /// Key names and recipients of `env` (no value).
    pub async fn secrets_list(&self, env: &str) -> Result<SecretsListing> {
        let (store, opened, _) = self.open_env(env).await?;
        Ok(SecretsListing {
            environment: env.to_owned(),
            keys: opened.secrets.keys().map(str::to_owned).collect(),
            recipients: opened.recipients.clone(),
            file: store.secrets_path(env).display().to_string(),
            exists: opened.file_hash().is_some(),
        })
    }

    /// The value of `key` in `env`. Audited (`secrets.reveal`, name only).
    ///
    /// # Errors
    /// `input.invalid` when the key does not exist; the store's errors.
    pub async fn secret_reveal(&self, env: &str, key: &str) -> Result<SecretString> {
        let (_, opened, _) = self.open_env(env).await?;
        let result = opened
            .secrets
            .get(key)
            .cloned()
            .ok_or_else(|| no_key(env, key));
        let r = result.as_ref().map(|_| ()).map_err(clone_err);
        self.audit_secrets(
            "secrets.reveal",
            Some(env),
            Some(key),
            serde_json::json!({ "key": key }),
            &r,
        )
        .await?;
        result
    }

    /// Sets `key` in `env`; returns whether it existed. Audited (`secrets.set`).
    /// The first write of an environment makes the operator its recipient.
    pub async fn secret_set(&self, env: &str, key: &str, value: SecretString) -> Result<bool> {
        let result = async {
            let (store, opened, me) = self.open_env(env).await?;
            let mut secrets = opened.secrets.clone();
            let existed = secrets.set(key, value)?;
            let mut recipients = opened.recipients.clone();
            if recipients.is_empty() {
                recipients.push(check_recipient(
                    &nfops_core::audit::current_actor(),
                    &me.public_key(),
                )?);
            }
            store.save(&opened, &secrets, &recipients)?;
            Ok(existed)
        }
        .await;
        let r = result.as_ref().map(|_| ()).map_err(clone_err);
        let details =
            serde_json::json!({ "key": key, "created": result.as_ref().ok().map(|e| !e) });
        self.audit_secrets("secrets.set", Some(env), Some(key), details, &r)
            .await?;
        result
    }

    /// Removes `key` from `env`. Audited (`secrets.unset`).
    pub async fn secret_unset(&self, env: &str, key: &str) -> Result<()> {
        let result = async {
            check_key(key)?;
            let (store, opened, _) = self.open_env(env).await?;
            let mut secrets = opened.secrets.clone();
            if !secrets.unset(key) {
                return Err(no_key(env, key));
            }
            store.save(&opened, &secrets, &opened.recipients)?;
            Ok(())
        }
        .await;
        self.audit_secrets(
            "secrets.unset",
            Some(env),
            Some(key),
            serde_json::json!({ "key": key }),
            &result,
        )
        .await?;
        result
    }

    /// Compares the keys of `first` and `second`; values by hash, never shown.
    pub async fn secrets_diff(&self, first: &str, second: &str) -> Result<SecretsDiff> {
        let (_, a, _) = self.open_env(first).await?;
        let (_, b, _) = self.open_env(second).await?;
        let (a, b) = (&a.secrets, &b.secrets);
        let mut d = SecretsDiff {
            only_in_first: Vec::new(),
            only_in_second: b
                .keys()
                .filter(|k| a.get(k).is_none())
                .map(str::to_owned)
                .collect(),
            different: Vec::new(),
            same: Vec::new(),
        };
        for k in a.keys() {
            match b.value_hash(k) {
                None => d.only_in_first.push(k.to_owned()),
                Some(h) if Some(h) == a.value_hash(k) => d.same.push(k.to_owned()),
                Some(_) => d.different.push(k.to_owned()),
            }
        }
        Ok(d)
    }

    /// Adds a person to `env`'s recipients and re-encrypts the file to the new
    /// set. Audited (`secrets.recipient.add`).
    pub async fn secrets_recipient_add(
        &self,
        env: &str,
        name: &str,
        key: &str,
    ) -> Result<RecipientChange> {
        let result = async {
            let new = check_recipient(name, key)?;
            let (store, opened, _) = self.open_env(env).await?;
            if opened.recipients.iter().any(|r| r.key == new.key) {
                return Err(Error::new(
                    ErrorCode::InvalidInput,
                    format!("{} is already a recipient of {env}", new.label()),
                ));
            }
            let mut recipients = opened.recipients.clone();
            recipients.push(new);
            store.save(&opened, &opened.secrets, &recipients)?;
            Ok(RecipientChange {
                recipients,
                rotate: Vec::new(),
            })
        }
        .await;
        let r = result.as_ref().map(|_| ()).map_err(clone_err);
        self.audit_secrets(
            "secrets.recipient.add",
            Some(env),
            Some(name),
            serde_json::json!({ "name": name, "key": key.trim() }),
            &r,
        )
        .await?;
        result
    }

    /// Removes the recipient whose key or name is `who` from `env`,
    /// re-encrypts to the rest, and lists every key to rotate at its source.
    /// Audited (`secrets.recipient.remove`).
    pub async fn secrets_recipient_remove(&self, env: &str, who: &str) -> Result<RecipientChange> {
        let result = async {
            let (store, opened, _) = self.open_env(env).await?;
            let matching: Vec<&Recipient> = opened
                .recipients
                .iter()
                .filter(|r| r.matches(who))
                .collect();
            let removed = match matching.as_slice() {
                [one] => (*one).clone(),
                [] => {
                    return Err(Error::new(
                        ErrorCode::InvalidInput,
                        format!("no recipient of {env} has the name or key '{who}'"),
                    )
                    .hint("List them with `nfops secrets recipients list ENV`."))
                }
                _ => {
                    return Err(Error::new(
                        ErrorCode::InvalidInput,
                        format!("several recipients of {env} are named '{who}'"),
                    )
                    .hint("Give the public key instead of the name."))
                }
            };
            let recipients: Vec<Recipient> = opened
                .recipients
                .iter()
                .filter(|r| r.key != removed.key)
                .cloned()
                .collect();
            store.save(&opened, &opened.secrets, &recipients)?;
            let rotate = opened.secrets.keys().map(str::to_owned).collect();
            Ok((removed, RecipientChange { recipients, rotate }))
        }
        .await;
        let r = result.as_ref().map(|_| ()).map_err(clone_err);
        let details = match &result {
            Ok((removed, c)) => {
                serde_json::json!({ "name": removed.name, "key": removed.key, "rotate": c.rotate })
            }
            Err(_) => serde_json::json!({ "who": who }),
        };
        self.audit_secrets(
            "secrets.recipient.remove",
            Some(env),
            Some(who),
            details,
            &r,
        )
        .await?;
        result.map(|(_, c)| c)
    }

    /// Audit entries of secrets actions (`secrets.*`), newest first, for `env` or all.
    pub async fn secrets_history(&self, env: Option<&str>, limit: usize) -> Result<Vec<Entry>> {
        let all = self.audit().list(10_000).await?;
        Ok(all
            .into_iter()
            .filter(|e| e.action.starts_with("secrets."))
            .filter(|e| env.is_none() || e.environment.as_deref() == env)
            .take(limit)
            .collect())
    }

    pub(crate) async fn audit_secrets(
        &self,
        action: &str,
        env: Option<&str>,
        target: Option<&str>,
        mut details: serde_json::Value,
        result: &Result<()>,
    ) -> Result<()> {
        let outcome = match result {
            Ok(()) => Outcome::Succeeded,
            Err(e) => {
                details["error"] = serde_json::Value::from(e.code().as_str());
                if e.code() == ErrorCode::SecretsConflict
                    || e.code() == ErrorCode::SecretsNotRecipient
                {
                    Outcome::Refused
                } else {
                    Outcome::Failed
                }
            }
        };
        self.audit()
            .record(Action {
                action,
                environment: env,
                target,
                outcome,
                details,
            })
            .await?;
        Ok(())
    }
}

fn no_key(env: &str, key: &str) -> Error {
    Error::new(
        ErrorCode::InvalidInput,
        format!("{env} has no secret named '{key}'"),
    )
    .hint(format!("List the keys with `nfops secrets list {env}`."))
}

/// A copy of an error's code, message and hint (for auditing an outcome that is also returned).
fn clone_err(e: &Error) -> Error {
    let c = Error::new(e.code(), e.message());
    match e.hint_text() {
        Some(h) => c.hint(h),
        None => c,
    }
}
