//! The one error type that crosses to the UI and the CLI.
//!
//! Every error carries a stable machine [`ErrorCode`] (the UI branches on it,
//! never on text), a message written for an operator, and an optional hint
//! saying what to do next. Driver or SQL text is kept as the `source` for logs
//! and never becomes the message by itself.

use std::fmt;

use serde::Serialize;

/// Stable error codes. The string form (`config.invalid`) is part of the
/// contract with the UI, scripts using `--json`, and the CLI exit codes:
/// never rename one, only add.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize)]
#[serde(into = "&'static str")]
#[non_exhaustive]
pub enum ErrorCode {
    /// `environments.toml` could not be parsed or failed validation.
    ConfigInvalid,
    /// `environments.toml` was not found where it was looked for.
    ConfigNotFound,
    /// `environments.toml` changed on disk while the console was editing it.
    ConfigConflict,
    /// An environment name that the config does not define.
    UnknownEnvironment,
    /// Arguments given by the user are wrong (CLI flags, form fields).
    InvalidInput,
    /// No OS keyring (Secret Service, Keychain, Credential Manager) answered.
    KeyringUnavailable,
    /// The keyring is reachable but locked or refused access.
    KeyringDenied,
    /// A credential named in the config is not in the keyring.
    CredentialMissing,
    /// SSH: TCP connect or handshake failed.
    SshConnect,
    /// SSH: the server refused our key.
    SshAuth,
    /// SSH: the host logs in through the ssh-agent (Pageant on Windows) and
    /// no agent answered at its socket or pipe.
    SshAgentUnavailable,
    /// SSH: a remote command failed or timed out.
    SshCommand,
    /// A service (DB, cache, storage, HTTP, Prometheus) could not be reached.
    Unreachable,
    /// A service answered, but not as required (health != 200, versioning off).
    Unhealthy,
    /// Local state (SQLite) could not be opened, migrated or written.
    State,
    /// The audit log's hash chain is broken.
    AuditTampered,
    /// A job was cancelled by the user.
    Cancelled,
    /// A job step's result check failed.
    CheckFailed,
    /// Filesystem or other I/O failure on this machine.
    Io,
    /// A bug: an invariant of ours did not hold.
    Internal,
    /// A secrets file cannot be decrypted with the operator's age identity.
    SecretsNotRecipient,
    /// A secrets or recipients file is not readable (damaged, not age).
    SecretsCorrupt,
    /// A secrets file changed on disk since it was read; the write was refused.
    SecretsConflict,
    /// A backup cannot be decrypted with the operator's age identity (not a recipient).
    BackupKeyMismatch,
    /// A backup is unsigned, signed by a key the environment does not trust,
    /// altered after signing, or holds what its files may not hold: refused
    /// before anything runs on a server.
    BackupUntrusted,
    /// The database is held by someone else: another restore holds its lock,
    /// or a session's locks kept the swap blocked. Nothing was changed.
    DatabaseBusy,
    /// Another operator (another process) holds the environment's lease.
    EnvironmentBusy,
    /// A destructive action on a production or region tier lacked the typed
    /// environment name as confirmation.
    ConfirmationRequired,
    /// The database's TLS could not be set up: the server's certificate did
    /// not verify, the server offers no TLS, or it requires TLS the
    /// connection does not use.
    DatabaseTls,
    /// An update may not be installed now: a job of this app is running.
    UpdateBusy,
    /// This copy was not installed from a package (a dev or cargo build), so
    /// the updater has nothing it may replace.
    UpdateNotPackaged,
    /// A downloaded update's signature does not verify against the app's
    /// public key (altered, or signed by another key): nothing was installed.
    UpdateUntrusted,
    /// The update server has no release for this platform, or its manifest
    /// is not a valid one.
    UpdateNoRelease,
}

impl ErrorCode {
    /// The stable dotted name used on the wire.
    pub fn as_str(self) -> &'static str {
        match self {
            ErrorCode::ConfigInvalid => "config.invalid",
            ErrorCode::ConfigNotFound => "config.not_found",
            ErrorCode::ConfigConflict => "config.conflict",
            ErrorCode::UnknownEnvironment => "config.unknown_environment",
            ErrorCode::InvalidInput => "input.invalid",
            ErrorCode::KeyringUnavailable => "keyring.unavailable",
            ErrorCode::KeyringDenied => "keyring.denied",
            ErrorCode::CredentialMissing => "credential.missing",
            ErrorCode::SshConnect => "ssh.connect",
            ErrorCode::SshAuth => "ssh.auth",
            ErrorCode::SshAgentUnavailable => "ssh.agent_unavailable",
            ErrorCode::SshCommand => "ssh.command",
            ErrorCode::Unreachable => "service.unreachable",
            ErrorCode::Unhealthy => "service.unhealthy",
            ErrorCode::State => "state.error",
            ErrorCode::AuditTampered => "audit.tampered",
            ErrorCode::Cancelled => "job.cancelled",
            ErrorCode::CheckFailed => "job.check_failed",
            ErrorCode::Io => "io.error",
            ErrorCode::Internal => "internal",
            ErrorCode::SecretsNotRecipient => "secrets.not_recipient",
            ErrorCode::SecretsCorrupt => "secrets.corrupt",
            ErrorCode::SecretsConflict => "secrets.conflict",
            ErrorCode::BackupKeyMismatch => "backup.key_mismatch",
            ErrorCode::BackupUntrusted => "backup.untrusted",
            ErrorCode::DatabaseBusy => "db.busy",
            ErrorCode::EnvironmentBusy => "environment.busy",
            ErrorCode::ConfirmationRequired => "confirmation.required",
            ErrorCode::DatabaseTls => "db.tls",
            ErrorCode::UpdateBusy => "update.busy",
            ErrorCode::UpdateNotPackaged => "update.not_packaged",
            ErrorCode::UpdateUntrusted => "update.untrusted",
            ErrorCode::UpdateNoRelease => "update.no_release",
        }
    }

    /// A short title for the code, shown above the message and hint (the UI
    /// gets these through the generated bindings; the CLI prints the message).
    pub fn title(self) -> &'static str {
        match self {
            ErrorCode::ConfigInvalid => "environments.toml has an error",
            ErrorCode::ConfigNotFound => "No environments file",
            ErrorCode::ConfigConflict => "environments.toml changed meanwhile",
            ErrorCode::UnknownEnvironment => "Unknown environment",
            ErrorCode::InvalidInput => "Invalid input",
            ErrorCode::KeyringUnavailable => "No OS keyring available",
            ErrorCode::KeyringDenied => "The OS keyring refused access",
            ErrorCode::CredentialMissing => "A credential is missing",
            ErrorCode::SshConnect => "SSH connection failed",
            ErrorCode::SshAuth => "SSH key refused",
            ErrorCode::SshAgentUnavailable => "No SSH agent reachable",
            ErrorCode::SshCommand => "Remote command failed",
            ErrorCode::Unreachable => "Service unreachable",
            ErrorCode::Unhealthy => "Service unhealthy",
            ErrorCode::State => "Local state database failed",
            ErrorCode::AuditTampered => "Audit log chain is broken",
            ErrorCode::Cancelled => "Cancelled",
            ErrorCode::CheckFailed => "Check failed",
            ErrorCode::Io => "File or disk error",
            ErrorCode::Internal => "Internal error (a bug in NewFinity Ops)",
            ErrorCode::SecretsNotRecipient => "Not a recipient of these secrets",
            ErrorCode::SecretsCorrupt => "Secrets file unreadable",
            ErrorCode::SecretsConflict => "Secrets changed meanwhile",
            ErrorCode::BackupKeyMismatch => "Backup key does not match",
            ErrorCode::BackupUntrusted => "Backup not trusted",
            ErrorCode::DatabaseBusy => "Database busy",
            ErrorCode::EnvironmentBusy => "Another operator is working on this environment",
            ErrorCode::ConfirmationRequired => "Confirmation required",
            ErrorCode::DatabaseTls => "Database TLS failed",
            ErrorCode::UpdateBusy => "A job is running",
            ErrorCode::UpdateNotPackaged => "Not installed from a package",
            ErrorCode::UpdateUntrusted => "Update signature invalid",
            ErrorCode::UpdateNoRelease => "No release for this platform",
        }
    }

    /// Every code, for parsing the wire form back. Add new codes here too
    /// (a unit test checks that each one round-trips).
    pub const ALL: &'static [ErrorCode] = &[
        ErrorCode::ConfigInvalid,
        ErrorCode::ConfigNotFound,
        ErrorCode::ConfigConflict,
        ErrorCode::UnknownEnvironment,
        ErrorCode::InvalidInput,
        ErrorCode::KeyringUnavailable,
        ErrorCode::KeyringDenied,
        ErrorCode::CredentialMissing,
        ErrorCode::SshConnect,
        ErrorCode::SshAuth,
        ErrorCode::SshAgentUnavailable,
        ErrorCode::SshCommand,
        ErrorCode::Unreachable,
        ErrorCode::Unhealthy,
        ErrorCode::State,
        ErrorCode::AuditTampered,
        ErrorCode::Cancelled,
        ErrorCode::CheckFailed,
        ErrorCode::Io,
        ErrorCode::Internal,
        ErrorCode::SecretsNotRecipient,
        ErrorCode::SecretsCorrupt,
        ErrorCode::SecretsConflict,
        ErrorCode::BackupKeyMismatch,
        ErrorCode::BackupUntrusted,
        ErrorCode::DatabaseBusy,
        ErrorCode::EnvironmentBusy,
        ErrorCode::ConfirmationRequired,
        ErrorCode::DatabaseTls,
        ErrorCode::UpdateBusy,
        ErrorCode::UpdateNotPackaged,
        ErrorCode::UpdateUntrusted,
        ErrorCode::UpdateNoRelease,
    ];

    /// The code whose wire name is `s`, if any.
    pub fn parse(s: &str) -> Option<ErrorCode> {
        Self::ALL.iter().copied().find(|c| c.as_str() == s)
    }

    /// Process exit code for the CLI. Scripts can rely on these.
    pub fn exit_code(self) -> u8 {
        match self {
            ErrorCode::InvalidInput | ErrorCode::ConfirmationRequired => 2,
            // Someone else is at work (the environment's lease, the database's
            // restore lock, a blocking session): nothing changed, try later.
            ErrorCode::EnvironmentBusy
            | ErrorCode::DatabaseBusy
            | ErrorCode::UpdateBusy
            | ErrorCode::ConfigConflict => 9,
            ErrorCode::UpdateNotPackaged => 2,
            ErrorCode::ConfigInvalid
            | ErrorCode::ConfigNotFound
            | ErrorCode::UnknownEnvironment => 3,
            ErrorCode::KeyringUnavailable
            | ErrorCode::KeyringDenied
            | ErrorCode::CredentialMissing
            | ErrorCode::SshAgentUnavailable
            | ErrorCode::SecretsNotRecipient
            | ErrorCode::BackupKeyMismatch => 4,
            ErrorCode::SshConnect
            | ErrorCode::SshAuth
            | ErrorCode::SshCommand
            | ErrorCode::Unreachable
            | ErrorCode::DatabaseTls => 5,
            ErrorCode::Unhealthy
            | ErrorCode::CheckFailed
            | ErrorCode::SecretsCorrupt
            | ErrorCode::BackupUntrusted
            | ErrorCode::UpdateUntrusted
            | ErrorCode::UpdateNoRelease => 6,
            ErrorCode::AuditTampered => 7,
            ErrorCode::Cancelled => 130,
            ErrorCode::State | ErrorCode::Io | ErrorCode::Internal | ErrorCode::SecretsConflict => {
                1
            }
        }
    }
}

impl From<ErrorCode> for &'static str {
    fn from(c: ErrorCode) -> Self {
        c.as_str()
    }
}

impl fmt::Display for ErrorCode {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

type BoxError = Box<dyn std::error::Error + Send + Sync + 'static>;

/// An operator-facing error: what went wrong, where, and what to do.
#[derive(Debug)]
pub struct Error {
    code: ErrorCode,
    message: String,
    hint: Option<String>,
    source: Option<BoxError>,
}

impl Error {
    /// A new error. `message` says what failed and where, in words an
    /// operator understands; it must never contain a secret value.
    pub fn new(code: ErrorCode, message: impl Into<String>) -> Self {
        Self {
            code,
            message: message.into(),
            hint: None,
            source: None,
        }
    }

    /// Adds what the operator can do about it.
    #[must_use]
    pub fn hint(mut self, hint: impl Into<String>) -> Self {
        self.hint = Some(hint.into());
        self
    }

    /// Keeps the underlying error for logs (never shown raw to the user).
    #[must_use]
    pub fn source(mut self, source: impl Into<BoxError>) -> Self {
        self.source = Some(source.into());
        self
    }

    pub fn code(&self) -> ErrorCode {
        self.code
    }

    pub fn message(&self) -> &str {
        &self.message
    }

    pub fn hint_text(&self) -> Option<&str> {
        self.hint.as_deref()
    }

    /// The chain of underlying causes, for logs and `--verbose` output.
    pub fn causes(&self) -> Vec<String> {
        let mut out = Vec::new();
        let mut cur: Option<&(dyn std::error::Error + 'static)> = self
            .source
            .as_deref()
            .map(|e| e as &(dyn std::error::Error + 'static));
        while let Some(e) = cur {
            out.push(e.to_string());
            cur = e.source();
        }
        out
    }

    /// The wire form for the UI and `--json` output.
    pub fn to_wire(&self) -> WireError {
        WireError {
            code: self.code.as_str().to_owned(),
            message: self.message.clone(),
            hint: self.hint.clone(),
        }
    }

    pub fn internal(message: impl Into<String>) -> Self {
        Self::new(ErrorCode::Internal, message)
            .hint("This is a bug in NewFinity Ops; please report it with the log file.")
    }

    pub fn io(what: impl fmt::Display, err: std::io::Error) -> Self {
        let hint = match err.kind() {
            std::io::ErrorKind::PermissionDenied => "Check the file's owner and permissions.",
            std::io::ErrorKind::NotFound => "Check that the path exists.",
            std::io::ErrorKind::StorageFull => {
                "The disk is full: free space there (or choose another folder) and try again."
            }
            _ => "Check free disk space and permissions.",
        };
        Self::new(ErrorCode::Io, format!("{what}: {err}"))
            .hint(hint)
            .source(err)
    }
}

impl fmt::Display for Error {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}", self.message)?;
        if let Some(h) = &self.hint {
            write!(f, " (hint: {h})")?;
        }
        Ok(())
    }
}

impl std::error::Error for Error {
    fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
        self.source
            .as_deref()
            .map(|e| e as &(dyn std::error::Error + 'static))
    }
}

impl From<WireError> for Error {
    /// Rebuilds an error from its wire form (e.g. a failure replayed from a
    /// cache). An unknown code becomes `internal`, never a different known one.
    fn from(w: WireError) -> Self {
        let e = Error::new(
            ErrorCode::parse(&w.code).unwrap_or(ErrorCode::Internal),
            w.message,
        );
        match w.hint {
            Some(h) => e.hint(h),
            None => e,
        }
    }
}

/// The serialized error: `{ code, message, hint }`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, serde::Deserialize)]
pub struct WireError {
    pub code: String,
    pub message: String,
    pub hint: Option<String>,
}

pub type Result<T, E = Error> = std::result::Result<T, E>;

impl From<sqlx::Error> for Error {
    fn from(e: sqlx::Error) -> Self {
        Error::new(
            ErrorCode::State,
            "the console's local state database failed",
        )
        .hint("Check free disk space in the app data folder; the log file has the details.")
        .source(e)
    }
}

impl From<sqlx::migrate::MigrateError> for Error {
    fn from(e: sqlx::migrate::MigrateError) -> Self {
        Error::new(
            ErrorCode::State,
            "the console's local state database could not be migrated",
        )
        .hint("A newer NewFinity Ops may have written it; upgrade, or move the state folder aside.")
        .source(e)
    }
}

#[cfg(test)]
mod tests {

    #[test]
    fn every_code_round_trips_through_its_wire_name() {
        for c in ErrorCode::ALL {
            assert_eq!(
                ErrorCode::parse(c.as_str()),
                Some(*c),
                "{c} must parse back to itself"
            );
        }
        assert_eq!(ErrorCode::parse("no.such.code"), None);
        let back = Error::from(Error::new(ErrorCode::CheckFailed, "m").hint("h").to_wire());
        assert_eq!(
            back.code(),
            ErrorCode::CheckFailed,
            "a replayed error keeps its code"
        );
        assert_eq!(back.hint_text(), Some("h"));
    }
    use super::*;

    #[test]
    fn wire_form_has_code_message_hint() {
        let e = Error::new(ErrorCode::ConfigInvalid, "bad file").hint("fix it");
        let v = serde_json::to_value(e.to_wire()).expect("serializable");
        assert_eq!(
            v["code"], "config.invalid",
            "the UI branches on this exact code"
        );
        assert_eq!(v["message"], "bad file");
        assert_eq!(v["hint"], "fix it");
    }

    #[test]
    fn source_text_is_not_in_the_message() {
        let io = std::io::Error::other("SQLSTATE 42000 secret-ish driver text");
        let e = Error::new(ErrorCode::Unreachable, "database unreachable").source(io);
        assert!(
            !e.to_wire().message.contains("SQLSTATE"),
            "driver text must not reach the user raw"
        );
        assert_eq!(
            e.causes(),
            vec!["SQLSTATE 42000 secret-ish driver text".to_string()]
        );
    }

    #[test]
    fn exit_codes_distinguish_failure_kinds() {
        assert_ne!(
            ErrorCode::ConfigInvalid.exit_code(),
            ErrorCode::Unreachable.exit_code()
        );
        assert_ne!(ErrorCode::AuditTampered.exit_code(), 0);
    }
}
