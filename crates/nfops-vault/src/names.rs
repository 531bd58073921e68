//! What a credential name and value may be.
//!
//! Names end up as keyring attributes and in `environments.toml`, so they are
//! kept to a small, portable alphabet: 1 to [`MAX_NAME_LEN`] characters of
//! `[A-Za-z0-9._/-]`, no leading or trailing `/`, no `//` (the slash groups
//! names, e.g. `staging/mysql-password`). Values are non-empty and at most
//! [`MAX_VALUE_BYTES`] bytes.
//!
//! Errors never quote a value; a bad name is described by the offending
//! character and its position, not echoed whole, in case a secret was pasted
//! into the name field.

use nfops_core::{Error, ErrorCode, Result, SecretString};

/// Longest credential name, in characters (all allowed characters are ASCII).
pub const MAX_NAME_LEN: usize = 128;

/// Largest credential value, in bytes (64 KiB: room for a private key or a
/// certificate chain). Windows Credential Manager keeps less (2560 bytes);
/// there the store's own limit is reported as `input.invalid`.
pub const MAX_VALUE_BYTES: usize = 64 * 1024;

const NAME_HINT: &str = "Use 1 to 128 characters from A-Z a-z 0-9 . _ / -, with no leading or \
                         trailing '/' and no '//', e.g. `staging/mysql-password`.";

/// Checks a credential name against the rules above.
///
/// # Errors
/// `input.invalid`, with a hint giving the rules.
pub fn validate_name(name: &str) -> Result<()> {
    check_name("credential name", NAME_HINT, name)
}

/// Checks a keyring service name: the same rules as credential names.
pub(crate) fn validate_service(service: &str) -> Result<()> {
    check_name(
        "keyring service name",
        "Set NFOPS_KEYRING_SERVICE (or the service given to Keyring::with_service) to 1 to 128 \
         characters from A-Z a-z 0-9 . _ / -, or unset it to use \"nfops\".",
        service,
    )
}

fn check_name(what: &str, hint: &str, name: &str) -> Result<()> {
    let invalid = |detail: String| {
        Err(Error::new(ErrorCode::InvalidInput, format!("{what} {detail}")).hint(hint))
    };
    if name.is_empty() {
        return invalid("is empty".into());
    }
    if let Some((pos, c)) = name.chars().enumerate().find(|(_, c)| !is_allowed(*c)) {
        return invalid(format!(
            "has a character that is not allowed ({c:?} at position {})",
            pos + 1
        ));
    }
    // Only ASCII is left, so bytes == characters from here on.
    if name.len() > MAX_NAME_LEN {
        return invalid(format!(
            "is {} characters long; the limit is {MAX_NAME_LEN}",
            name.len()
        ));
    }
    if name.starts_with('/') || name.ends_with('/') {
        return invalid("starts or ends with '/'".into());
    }
    if name.contains("//") {
        return invalid("contains '//'".into());
    }
    Ok(())
}

fn is_allowed(c: char) -> bool {
    c.is_ascii_alphanumeric() || matches!(c, '.' | '_' | '/' | '-')
}

/// Checks a value before it is stored.
///
/// # Errors
/// `input.invalid` when empty or over [`MAX_VALUE_BYTES`]; the message names
/// the credential and the size, never the value.
pub fn validate_value(name: &str, value: &SecretString) -> Result<()> {
    let len = value.expose().len();
    if len == 0 {
        return Err(Error::new(
            ErrorCode::InvalidInput,
            format!("the value for credential '{name}' is empty"),
        )
        .hint("Enter the secret itself; to remove a credential, delete it instead."));
    }
    if len > MAX_VALUE_BYTES {
        return Err(Error::new(
            ErrorCode::InvalidInput,
            format!("the value for credential '{name}' is {len} bytes; the limit is {MAX_VALUE_BYTES}"),
        )
        .hint("Keep large secrets in the age-encrypted secrets store and put only its key in the keyring."));
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn accepts_portable_names() {
        for name in [
            "a",
            "mysql",
            "staging/mysql-password",
            "prod/s3.secret_key",
            "A-b_c.d/e",
            &"x".repeat(128),
        ] {
            assert!(
                validate_name(name).is_ok(),
                "{name:?} follows the rules and must be accepted"
            );
        }
    }

    #[test]
    fn rejects_names_outside_the_rules() {
        let long = "x".repeat(129);
        for name in [
            "",
            "/a",
            "a/",
            "a//b",
            "a b",
            "ä",
            "a:b",
            "a\n",
            "a\\b",
            long.as_str(),
        ] {
            let err = validate_name(name).expect_err("name breaks a rule");
            assert_eq!(
                err.code(),
                ErrorCode::InvalidInput,
                "{name:?}: bad names are the user's input error"
            );
            assert!(
                err.hint_text().is_some_and(|h| h.contains("128")),
                "{name:?}: the hint states the rules"
            );
        }
    }

    #[test]
    fn bad_character_is_located_not_echoed() {
        let err = validate_name("hunter2 planted").expect_err("space is not allowed");
        assert!(
            err.message().contains("' ' at position 8"),
            "message: {}",
            err.message()
        );
        assert!(
            !err.message().contains("hunter2"),
            "a name may be a pasted secret: never echo it whole"
        );
    }

    #[test]
    fn values_must_be_non_empty_and_bounded() {
        let empty =
            validate_value("n", &SecretString::new(String::new())).expect_err("empty value");
        assert_eq!(empty.code(), ErrorCode::InvalidInput);
        let at_limit = SecretString::new("v".repeat(MAX_VALUE_BYTES));
        assert!(
            validate_value("n", &at_limit).is_ok(),
            "64 KiB exactly is allowed"
        );
        let over = SecretString::new("v".repeat(MAX_VALUE_BYTES + 1));
        let err = validate_value("n", &over).expect_err("over the limit");
        assert_eq!(err.code(), ErrorCode::InvalidInput);
        assert!(
            !err.message().contains("vvvv"),
            "the message gives the size, never the value"
        );
    }
}
