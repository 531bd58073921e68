//! Platform keyring errors → stable `nfops_core` codes, with hints.
//!
//! | keyring error | code |
//! |---|---|
//! | `NoDefaultStore` (store could not start: no D-Bus session, no Secret Service, no platform store), `PlatformFailure`, `BadStoreFormat` | `keyring.unavailable` |
//! | `NoStorageAccess` (locked, prompt dismissed, access refused) | `keyring.denied` |
//! | `NoEntry` | `credential.missing` |
//! | `BadEncoding`, `BadDataFormat`, `Ambiguous`, `TooLong`, `Invalid` | `input.invalid` |
//! | `NotSupportedByStore` | `internal` |
//!
//! Invariant: no value reaches an [`Error`]. `BadEncoding` and `BadDataFormat`
//! carry the stored bytes (and print them in `Debug`), so they are zeroed and
//! dropped here, never kept as a source.

use std::fmt;

use keyring::Error as PlatformError;
use nfops_core::credentials::missing;
use nfops_core::{Error, ErrorCode};
use zeroize::Zeroize;

/// The operation that failed, for the message.
#[derive(Debug, Clone, Copy)]
pub(crate) enum Op {
    Check,
    Read,
    Write,
    Delete,
}

/// What was being done and to which credential.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Context<'a> {
    pub op: Op,
    pub service: &'a str,
    pub name: &'a str,
}

impl fmt::Display for Context<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let name = self.name;
        match self.op {
            Op::Check => write!(f, "could not use the {STORE}"),
            Op::Read => write!(f, "could not read credential '{name}' from the {STORE}"),
            Op::Write => write!(f, "could not store credential '{name}' in the {STORE}"),
            Op::Delete => write!(f, "could not delete credential '{name}' from the {STORE}"),
        }
    }
}

/// The platform store's name as operators know it.
pub(crate) const STORE: &str = if cfg!(target_os = "macos") {
    "macOS Keychain"
} else if cfg!(windows) {
    "Windows Credential Manager"
} else {
    "OS keyring (Secret Service)"
};

/// How to get a reachable keyring on this OS.
pub const UNAVAILABLE_HINT: &str = if cfg!(target_os = "macos") {
    "Run NewFinity Ops in a logged-in macOS user session (the login keychain is not available \
     to a plain SSH login), then start it again."
} else if cfg!(windows) {
    "Run NewFinity Ops as a signed-in Windows user with a loaded profile (not a service account \
     without one), then start it again."
} else {
    "Start a keyring: log in to a desktop session that runs GNOME Keyring or KWallet, or on a \
     headless box run inside a D-Bus session with an unlocked gnome-keyring-daemon \
     (`scripts/with-keyring <command>` does both; see crates/nfops-vault/README.md). Then start \
     NewFinity Ops again."
};

/// How to unlock or grant access on this OS.
pub const DENIED_HINT: &str = if cfg!(target_os = "macos") {
    "Unlock the login keychain and choose Allow (or Always Allow) when macOS asks for NewFinity Ops."
} else if cfg!(windows) {
    "Sign in as the Windows user who stored the credentials; Credential Manager refuses other users."
} else {
    "Unlock the keyring (log in to the desktop, or start gnome-keyring-daemon with --unlock) and \
     allow NewFinity Ops when asked."
};

/// Maps a platform error to the stable error for `cx`.
pub(crate) fn map(err: PlatformError, cx: Context<'_>) -> Error {
    match err {
        PlatformError::NoEntry => missing(cx.name),
        PlatformError::NoDefaultStore => unavailable(cx).source(StoreStartFailed::current()),
        PlatformError::NoStorageAccess(_) => denied(cx).source(err),
        PlatformError::PlatformFailure(_) | PlatformError::BadStoreFormat(_) => {
            unavailable(cx).source(err)
        }
        PlatformError::BadEncoding(mut bytes) => {
            bytes.zeroize();
            unreadable(cx)
        }
        PlatformError::BadDataFormat(mut bytes, _) => {
            // The inner error may describe the data; drop it with the bytes.
            bytes.zeroize();
            unreadable(cx)
        }
        PlatformError::Ambiguous(items) => Error::new(
            ErrorCode::InvalidInput,
            format!(
                "{cx}: {} keyring items match credential '{}'",
                items.len(),
                cx.name
            ),
        )
        .hint(ambiguous_hint(cx)),
        PlatformError::TooLong(attribute, limit) => Error::new(
            ErrorCode::InvalidInput,
            format!("{cx}: its {attribute} is longer than the store's limit of {limit}"),
        )
        .hint("Use a shorter value; keep large secrets in the age-encrypted secrets store."),
        PlatformError::Invalid(parameter, reason) => Error::new(
            ErrorCode::InvalidInput,
            format!("{cx}: the store rejected its {parameter}: {reason}"),
        )
        .hint("Use a plain name such as `staging/mysql-password`."),
        PlatformError::NotSupportedByStore(_) => {
            Error::internal(format!("{cx}: the store does not support this operation")).source(err)
        }
        // `keyring::Error` is non-exhaustive: a new kind is a store failure
        // until we learn better. Its Debug might hold data: keep only the text.
        other => unavailable(cx).source(std::io::Error::other(other.to_string())),
    }
}

fn unavailable(cx: Context<'_>) -> Error {
    Error::new(
        ErrorCode::KeyringUnavailable,
        format!("{cx}: no OS keyring is reachable"),
    )
    .hint(UNAVAILABLE_HINT)
}

fn denied(cx: Context<'_>) -> Error {
    Error::new(
        ErrorCode::KeyringDenied,
        format!("{cx}: the keyring is locked or refused access"),
    )
    .hint(DENIED_HINT)
}

fn unreadable(cx: Context<'_>) -> Error {
    Error::new(
        ErrorCode::InvalidInput,
        format!("{cx}: the stored value is not text"),
    )
    .hint(format!(
        "Another program wrote it. Store it again with `nfops credentials set {}`.",
        cx.name
    ))
}

fn ambiguous_hint(cx: Context<'_>) -> String {
    if cfg!(any(target_os = "macos", windows)) {
        "Remove the duplicates in the OS keyring's own tool, then store it again.".to_owned()
    } else {
        format!(
            "Remove the duplicates (`secret-tool clear service {} username {}` removes all of them), \
             then store it again.",
            cx.service, cx.name
        )
    }
}

/// Why the platform store could not start, kept as the error source for logs.
///
/// The keyring crate starts its store once per process and keeps the result,
/// so this text is the first failure, and the process must restart to retry.
#[derive(Debug)]
struct StoreStartFailed(String);

impl StoreStartFailed {
    fn current() -> Self {
        match keyring::Entry::store_status() {
            Err(e) => Self(e.to_string()),
            Ok(()) => Self("no default credential store is set".to_owned()),
        }
    }
}

impl fmt::Display for StoreStartFailed {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "the platform credential store did not start: {}", self.0)
    }
}

impl std::error::Error for StoreStartFailed {}

#[cfg(test)]
mod tests {
    use super::*;

    const CX: Context<'static> = Context {
        op: Op::Read,
        service: "nfops-test",
        name: "prod/db",
    };

    #[test]
    fn codes_are_stable() {
        let io =
            || Box::new(std::io::Error::other("x")) as Box<dyn std::error::Error + Send + Sync>;
        let cases = [
            (PlatformError::NoEntry, ErrorCode::CredentialMissing),
            (PlatformError::NoDefaultStore, ErrorCode::KeyringUnavailable),
            (
                PlatformError::PlatformFailure(io()),
                ErrorCode::KeyringUnavailable,
            ),
            (
                PlatformError::NoStorageAccess(io()),
                ErrorCode::KeyringDenied,
            ),
            (
                PlatformError::TooLong("password".into(), 2560),
                ErrorCode::InvalidInput,
            ),
            (
                PlatformError::Invalid("user".into(), "empty".into()),
                ErrorCode::InvalidInput,
            ),
            (
                PlatformError::NotSupportedByStore("x".into()),
                ErrorCode::Internal,
            ),
        ];
        for (err, code) in cases {
            let shown = format!("{err:?}");
            assert_eq!(
                map(err, CX).code(),
                code,
                "{shown}: the UI branches on this code"
            );
        }
    }

    #[test]
    fn stored_bytes_never_reach_the_error() {
        let planted = b"planted-secret-\xff".to_vec();
        for err in [
            PlatformError::BadEncoding(planted.clone()),
            PlatformError::BadDataFormat(
                planted.clone(),
                Box::new(std::io::Error::other("planted-secret-")),
            ),
        ] {
            let mapped = map(err, CX);
            assert_eq!(mapped.code(), ErrorCode::InvalidInput);
            let shown = format!("{mapped:?} {mapped} {:?}", mapped.causes());
            assert!(
                !shown.contains("planted"),
                "the stored value leaked: {shown}"
            );
            assert!(
                !shown.contains("112, 108, 97"),
                "the stored bytes leaked: {shown}"
            );
        }
    }

    #[test]
    fn messages_name_the_credential_and_operation() {
        let e = map(
            PlatformError::NoStorageAccess(Box::new(std::io::Error::other("locked"))),
            CX,
        );
        let expected =
            format!("could not read credential 'prod/db' from the {STORE}: the keyring is locked or refused access");
        assert_eq!(e.message(), expected);
        assert_eq!(e.hint_text(), Some(DENIED_HINT));
    }
}
