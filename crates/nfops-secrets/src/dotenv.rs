//! Dotenv content: `KEY=VALUE` lines, as the platform's app reads its `.env`.
//!
//! The grammar is the app's (`assets/platform/src/lib/config.js`): blank lines
//! and lines starting with `#` are skipped, the key is what comes before the
//! first `=`, and one pair of surrounding double quotes is removed from the
//! value. Keys are `[A-Za-z_][A-Za-z0-9_]*`. Values are [`SecretString`]s and
//! never appear in an error: a bad line is reported by its number only.

use std::collections::BTreeMap;

use nfops_core::{Error, ErrorCode, Result, SecretString};
use sha2::{Digest, Sha256};
use zeroize::Zeroize;

/// The secrets of one environment, by key, sorted.
#[derive(Debug, Clone, Default)]
pub struct Secrets {
    entries: BTreeMap<String, SecretString>,
}

/// Whether `key` is a valid variable name.
pub fn valid_key(key: &str) -> bool {
    let mut chars = key.chars();
    matches!(chars.next(), Some(c) if c.is_ascii_alphabetic() || c == '_')
        && chars.all(|c| c.is_ascii_alphanumeric() || c == '_')
}

/// Checks a key given by the user.
///
/// # Errors
/// `input.invalid` naming the rule (the key is not echoed: it may be a pasted value).
pub fn check_key(key: &str) -> Result<()> {
    if valid_key(key) {
        Ok(())
    } else {
        Err(Error::new(
            ErrorCode::InvalidInput,
            "a secret's key must start with a letter or '_' and hold only letters, digits and '_'",
        )
        .hint("Use a name like DB_PASSWORD."))
    }
}

/// Checks a value given by the user: non-empty, one line.
///
/// # Errors
/// `input.invalid` for an empty value or one with a line break.
pub fn check_value(key: &str, value: &SecretString) -> Result<()> {
    let v = value.expose();
    if v.is_empty() {
        return Err(Error::new(
            ErrorCode::InvalidInput,
            format!("the value for '{key}' is empty"),
        )
        .hint("Type or paste the value; to remove a key, unset it."));
    }
    if v.contains('\n') || v.contains('\r') || v.contains('\0') {
        return Err(Error::new(
            ErrorCode::InvalidInput,
            format!("the value for '{key}' has a line break or NUL character"),
        )
        .hint("A .env value is one line; encode multi-line values (e.g. base64)."));
    }
    Ok(())
}

impl Secrets {
    /// Parses dotenv text. `origin` names the file in errors.
    ///
    /// # Errors
    /// `input.invalid` with `origin:line` for a line without `=` or with an
    /// invalid key; the line's text is never quoted.
    pub fn parse(origin: &str, text: &str) -> Result<Self> {
        let mut entries = BTreeMap::new();
        for (i, raw) in text.split('\n').enumerate() {
            let line = raw.trim();
            if line.is_empty() || line.starts_with('#') {
                continue;
            }
            let bad = |what: &str| {
                Error::new(
                    ErrorCode::InvalidInput,
                    format!("{origin}:{}: {what}", i + 1),
                )
                .hint("Each line is KEY=VALUE, a # comment, or blank; keys are letters, digits and '_'.")
            };
            let Some(eq) = line.find('=') else {
                return Err(bad("not a KEY=VALUE line (no '=')"));
            };
            let key = line[..eq].trim_end();
            if !valid_key(key) {
                return Err(bad("the text before '=' is not a valid key"));
            }
            let mut value = &line[eq + 1..];
            if value.len() >= 2 && value.starts_with('"') && value.ends_with('"') {
                value = &value[1..value.len() - 1];
            }
            entries.insert(key.to_owned(), SecretString::new(value.to_owned()));
        }
        Ok(Self { entries })
    }

    /// The canonical text: one `KEY=VALUE` line per key, sorted. A value with
    /// surrounding spaces or quotes is wrapped in double quotes so the app
    /// reads it back unchanged.
    pub fn render(&self) -> SecretString {
        let mut out = String::new();
        for (k, v) in &self.entries {
            let v = v.expose();
            out.push_str(k);
            out.push('=');
            let quote = v.trim() != v || (v.starts_with('"') && v.ends_with('"') && v.len() >= 2);
            if quote {
                out.push('"');
            }
            out.push_str(v);
            if quote {
                out.push('"');
            }
            out.push('\n');
        }
        SecretString::new(out)
    }

    /// Keys, sorted.
    pub fn keys(&self) -> impl Iterator<Item = &str> {
        self.entries.keys().map(String::as_str)
    }

    /// Number of keys.
    pub fn len(&self) -> usize {
        self.entries.len()
    }

    /// Whether there is no key.
    pub fn is_empty(&self) -> bool {
        self.entries.is_empty()
    }

    /// The value of `key`.
    pub fn get(&self, key: &str) -> Option<&SecretString> {
        self.entries.get(key)
    }

    /// Sets `key`; returns whether it existed before.
    ///
    /// # Errors
    /// `input.invalid` (see [`check_key`], [`check_value`]).
    pub fn set(&mut self, key: &str, value: SecretString) -> Result<bool> {
        check_key(key)?;
        check_value(key, &value)?;
        Ok(self.entries.insert(key.to_owned(), value).is_some())
    }

    /// Removes `key`; returns whether it existed.
    pub fn unset(&mut self, key: &str) -> bool {
        self.entries.remove(key).is_some()
    }

    /// SHA-256 of `key`'s value, to compare values without showing them.
    /// Kept in memory only: a hash of a short value can be guessed.
    pub fn value_hash(&self, key: &str) -> Option<[u8; 32]> {
        self.entries
            .get(key)
            .map(|v| Sha256::digest(v.expose().as_bytes()).into())
    }
}

/// Key names that differ between two sets of secrets.
#[derive(Debug, Clone, Default, PartialEq, Eq, serde::Serialize)]
pub struct KeyChanges {
    /// In `to`, not in `from`.
    pub added: Vec<String>,
    /// In `from`, not in `to`.
    pub removed: Vec<String>,
    /// In both, with different values (compared by hash).
    pub changed: Vec<String>,
}

impl KeyChanges {
    /// What changes when `from` becomes `to`, by key name.
    pub fn between(from: &Secrets, to: &Secrets) -> Self {
        let mut c = KeyChanges::default();
        for k in to.keys() {
            match from.value_hash(k) {
                None => c.added.push(k.to_owned()),
                Some(h) if Some(h) != to.value_hash(k) => c.changed.push(k.to_owned()),
                Some(_) => {}
            }
        }
        c.removed = from
            .keys()
            .filter(|k| to.get(k).is_none())
            .map(str::to_owned)
            .collect();
        c
    }

    /// Whether nothing changes.
    pub fn is_empty(&self) -> bool {
        self.added.is_empty() && self.removed.is_empty() && self.changed.is_empty()
    }
}

/// Parses text and wipes it.
pub(crate) fn parse_and_wipe(origin: &str, mut text: String) -> Result<Secrets> {
    let parsed = Secrets::parse(origin, &text);
    text.zeroize();
    parsed
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_like_the_app_and_renders_back() {
        let s = Secrets::parse("x.env", "# c\n\nA=1\nB=\"two words\"\nC= padded \n")
            .expect("valid dotenv");
        assert_eq!(s.keys().collect::<Vec<_>>(), ["A", "B", "C"]);
        assert_eq!(s.get("B").map(|v| v.expose().as_str()), Some("two words"));
        let again = Secrets::parse("y", s.render().expose()).expect("rendered text parses");
        assert!(
            KeyChanges::between(&s, &again).is_empty(),
            "render then parse must keep every value"
        );
    }

    #[test]
    fn a_bad_line_names_its_number_but_not_its_text() {
        let e = Secrets::parse("staging.env.age", "A=1\nhunter2-planted\n").expect_err("no '='");
        assert!(e.message().contains("staging.env.age:2"), "{}", e.message());
        assert!(!e.message().contains("hunter2"), "the line may be a secret");
        let e = Secrets::parse("f", "A=1\n\nbad key=1\n").expect_err("bad key");
        assert!(e.message().contains("f:3"), "{}", e.message());
    }

    #[test]
    fn changes_are_by_name() {
        let a = Secrets::parse("a", "A=1\nB=2\nC=3\n").expect("valid");
        let b = Secrets::parse("b", "B=2\nC=4\nD=5\n").expect("valid");
        let c = KeyChanges::between(&a, &b);
        assert_eq!(c.added, ["D"]);
        assert_eq!(c.removed, ["A"]);
        assert_eq!(c.changed, ["C"]);
    }
}
