//! The store folder: `<env>.env.age` and `<env>.recipients` per environment.
//!
//! Invariants:
//! - plaintext never touches the disk: it is decrypted and encrypted in memory,
//!   and only ciphertext is written (to a temp file in the store, then renamed);
//! - a write is refused when either file changed since it was read (its
//!   SHA-256 at read time is compared with the file's now);
//! - a file that cannot be read or decrypted is never overwritten.

use std::io::{Read, Write};
use std::path::{Path, PathBuf};

use nfops_core::{Error, ErrorCode, Result};
use sha2::{Digest, Sha256};
use zeroize::Zeroize;

use crate::dotenv::{parse_and_wipe, Secrets};
use crate::identity::AgeIdentity;
use crate::recipients::{self, Recipient};

/// A secrets store folder.
#[derive(Debug, Clone)]
pub struct Store {
    dir: PathBuf,
}

/// One environment's secrets as read, with what is needed to write them back safely.
#[derive(Debug)]
pub struct Opened {
    /// The environment's name.
    pub env: String,
    /// The decrypted secrets (empty when the file does not exist yet).
    pub secrets: Secrets,
    /// Who can decrypt the file.
    pub recipients: Vec<Recipient>,
    secrets_hash: Option<String>,
    recipients_hash: Option<String>,
}

impl Opened {
    /// SHA-256 (hex) of `<env>.env.age` when it was read; `None` when absent.
    pub fn file_hash(&self) -> Option<&str> {
        self.secrets_hash.as_deref()
    }
}

fn sha256_hex(bytes: &[u8]) -> String {
    hex::encode(Sha256::digest(bytes))
}

fn read_optional(path: &Path) -> Result<Option<Vec<u8>>> {
    match std::fs::read(path) {
        Ok(b) => Ok(Some(b)),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(None),
        Err(e) => Err(Error::io(format!("reading {}", path.display()), e)),
    }
}

impl Store {
    /// The store in `dir` (created on first write).
    pub fn new(dir: impl Into<PathBuf>) -> Self {
        Self { dir: dir.into() }
    }

    /// The folder.
    pub fn dir(&self) -> &Path {
        &self.dir
    }

    /// `<dir>/<env>.env.age`.
    pub fn secrets_path(&self, env: &str) -> PathBuf {
        self.dir.join(format!("{env}.env.age"))
    }

    /// `<dir>/<env>.recipients`.
    pub fn recipients_path(&self, env: &str) -> PathBuf {
        self.dir.join(format!("{env}.recipients"))
    }

    /// The recipients of `env` (empty when the file does not exist).
    ///
    /// # Errors
    /// `io.error`; `input.invalid` with file and line for an unusable key.
    pub fn recipients(&self, env: &str) -> Result<Vec<Recipient>> {
        Ok(self.read_recipients(env)?.0)
    }

    fn read_recipients(&self, env: &str) -> Result<(Vec<Recipient>, Option<String>)> {
        let path = self.recipients_path(env);
        match read_optional(&path)? {
            None => Ok((Vec::new(), None)),
            Some(bytes) => {
                let hash = sha256_hex(&bytes);
                let text = String::from_utf8(bytes).map_err(|_| {
                    Error::new(
                        ErrorCode::SecretsCorrupt,
                        format!("{} is not UTF-8 text", path.display()),
                    )
                    .hint("A recipients file holds public keys, one per line.")
                })?;
                Ok((
                    recipients::parse(&path.display().to_string(), &text)?,
                    Some(hash),
                ))
            }
        }
    }

    /// Reads and decrypts `env`'s secrets with `identity`.
    ///
    /// # Errors
    /// `secrets.not_recipient` (naming the file and its recipients) when the
    /// identity is not one of them; `secrets.corrupt` when the file is not a
    /// readable age file; `input.invalid` for a bad dotenv line (with its
    /// number); `io.error`.
    pub fn open(&self, env: &str, identity: &AgeIdentity) -> Result<Opened> {
        let (recipients, recipients_hash) = self.read_recipients(env)?;
        let path = self.secrets_path(env);
        let Some(ciphertext) = read_optional(&path)? else {
            return Ok(Opened {
                env: env.to_owned(),
                secrets: Secrets::default(),
                recipients,
                secrets_hash: None,
                recipients_hash,
            });
        };
        let secrets = decrypt(
            &path,
            &ciphertext,
            identity,
            &recipients,
            &self.recipients_path(env),
        )?;
        Ok(Opened {
            env: env.to_owned(),
            secrets,
            recipients,
            secrets_hash: Some(sha256_hex(&ciphertext)),
            recipients_hash,
        })
    }

    /// Encrypts `secrets` to `recipients` and writes both files, if neither
    /// changed since `opened` was read. Returns the new file's SHA-256.
    ///
    /// # Errors
    /// `secrets.conflict` when a file changed since it was read (nothing is
    /// written); `input.invalid` for no recipient or an unusable key; `io.error`.
    pub fn save(
        &self,
        opened: &Opened,
        secrets: &Secrets,
        recipients: &[Recipient],
    ) -> Result<String> {
        if recipients.is_empty() {
            return Err(Error::new(
                ErrorCode::InvalidInput,
                format!(
                    "{} would have no recipient",
                    self.secrets_path(&opened.env).display()
                ),
            )
            .hint("Keep at least one recipient, or nobody can decrypt the file."));
        }
        let age_recipients = recipients
            .iter()
            .map(Recipient::to_age)
            .collect::<Result<Vec<_>>>()?;
        self.check_unchanged(opened)?;
        let ciphertext = encrypt(secrets, &age_recipients)?;
        std::fs::create_dir_all(&self.dir)
            .map_err(|e| Error::io(format!("creating {}", self.dir.display()), e))?;
        let path = self.secrets_path(&opened.env);
        write_atomic(&path, &ciphertext)?;
        let rpath = self.recipients_path(&opened.env);
        if opened.recipients.as_slice() != recipients || opened.recipients_hash.is_none() {
            write_atomic(
                &rpath,
                recipients::render(&opened.env, recipients)?.as_bytes(),
            )?;
        }
        Ok(sha256_hex(&ciphertext))
    }

    fn check_unchanged(&self, opened: &Opened) -> Result<()> {
        let path = self.secrets_path(&opened.env);
        let now = read_optional(&path)?.map(|b| sha256_hex(&b));
        let rpath = self.recipients_path(&opened.env);
        let rnow = read_optional(&rpath)?.map(|b| sha256_hex(&b));
        for (p, then, now) in [
            (&path, &opened.secrets_hash, now),
            (&rpath, &opened.recipients_hash, rnow),
        ] {
            if *then != now {
                return Err(Error::new(
                    ErrorCode::SecretsConflict,
                    format!("{} changed since it was read; nothing was written", p.display()),
                )
                .hint("Someone else changed the store (or a git pull did): reload and make the change again."));
            }
        }
        Ok(())
    }
}

fn decrypt(
    path: &Path,
    ciphertext: &[u8],
    identity: &AgeIdentity,
    recipients: &[Recipient],
    rpath: &Path,
) -> Result<Secrets> {
    let corrupt = |what: String| {
        Error::new(
            ErrorCode::SecretsCorrupt,
            format!("{} cannot be read: {what}; nothing was changed", path.display()),
        )
        .hint("Restore the file from git or a backup; the console never overwrites a file it cannot read.")
    };
    let decryptor = age::Decryptor::new_buffered(ciphertext).map_err(|e| corrupt(e.to_string()))?;
    let mut reader = match decryptor
        .decrypt(std::iter::once(identity.as_age() as &dyn age::Identity))
    {
        Ok(r) => r,
        Err(age::DecryptError::NoMatchingKeys) => {
            let listed: Vec<String> = recipients.iter().map(Recipient::label).collect();
            return Err(Error::new(
                ErrorCode::SecretsNotRecipient,
                format!(
                    "{} is not encrypted to your age identity ({}); {} lists: {}",
                    path.display(),
                    identity.public_key(),
                    rpath.display(),
                    if listed.is_empty() { "nobody".into() } else { listed.join(", ") }
                ),
            )
            .hint("Ask one of those recipients to add your public key (Secrets → Recipients, or `nfops secrets recipients add`)."));
        }
        Err(e) => return Err(corrupt(e.to_string())),
    };
    let mut plain = Vec::new();
    if let Err(e) = reader.read_to_end(&mut plain) {
        plain.zeroize();
        return Err(corrupt(format!(
            "the encrypted payload is damaged ({})",
            e.kind()
        )));
    }
    let text = match String::from_utf8(plain) {
        Ok(t) => t,
        Err(e) => {
            let mut bytes = e.into_bytes();
            bytes.zeroize();
            return Err(corrupt("the decrypted content is not UTF-8 text".into()));
        }
    };
    parse_and_wipe(&path.display().to_string(), text)
}

fn encrypt(secrets: &Secrets, recipients: &[Box<dyn age::Recipient + Send>]) -> Result<Vec<u8>> {
    let enc_err = |e: &dyn std::fmt::Display| {
        Error::new(
            ErrorCode::InvalidInput,
            format!("cannot encrypt to these recipients: {e}"),
        )
    };
    let encryptor = age::Encryptor::with_recipients(
        recipients.iter().map(|r| r.as_ref() as &dyn age::Recipient),
    )
    .map_err(|e| enc_err(&e))?;
    let mut out = Vec::new();
    let mut w = encryptor
        .wrap_output(&mut out)
        .map_err(|e| Error::internal(format!("age writer: {e}")))?;
    let text = secrets.render();
    w.write_all(text.expose().as_bytes())
        .and_then(|()| w.finish().map(|_| ()))
        .map_err(|e| Error::internal(format!("age encryption failed: {e}")))?;
    Ok(out)
}

/// Writes `bytes` (ciphertext or public keys only) to a temp file next to
/// `path`, syncs it and renames it over `path`.
fn write_atomic(path: &Path, bytes: &[u8]) -> Result<()> {
    let dir = path.parent().unwrap_or(Path::new("."));
    let mut tmp = tempfile::Builder::new()
        .prefix(".nfops-")
        .tempfile_in(dir)
        .map_err(|e| Error::io(format!("creating a temp file in {}", dir.display()), e))?;
    tmp.write_all(bytes)
        .and_then(|()| tmp.as_file().sync_all())
        .map_err(|e| Error::io(format!("writing {}", path.display()), e))?;
    tmp.persist(path)
        .map_err(|e| Error::io(format!("replacing {}", path.display()), e.error))?;
    Ok(())
}
