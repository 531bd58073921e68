//! `<env>.recipients`: who may decrypt an environment's secrets.
//!
//! One public key per line: X25519 (`age1…`) or SSH (`ssh-ed25519 …`,
//! `ssh-rsa …`). A `# comment` line names the person of the key on the next
//! line. The format is age's own recipients file (`age -R FILE` reads it).

use nfops_core::{Error, ErrorCode, Result};
use serde::Serialize;

/// One person allowed to read an environment's secrets.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Recipient {
    /// From the comment line above the key; empty when there is none.
    pub name: String,
    /// The public key as written (`age1…` or `ssh-… AAAA…`).
    pub key: String,
}

impl Recipient {
    /// A short form for messages: the name and the start of the key.
    pub fn label(&self) -> String {
        let short: String = self.key.chars().take(20).collect();
        if self.name.is_empty() {
            format!("{short}…")
        } else {
            format!("{} ({short}…)", self.name)
        }
    }

    /// Whether `s` names this recipient: its exact key or its name.
    pub fn matches(&self, s: &str) -> bool {
        self.key == s || (!self.name.is_empty() && self.name == s)
    }

    pub(crate) fn to_age(&self) -> Result<Box<dyn age::Recipient + Send>> {
        parse_key(&self.key).map_err(|why| {
            Error::new(
                ErrorCode::InvalidInput,
                format!("recipient {}: {why}", self.label()),
            )
        })
    }
}

fn parse_key(key: &str) -> std::result::Result<Box<dyn age::Recipient + Send>, String> {
    if key.starts_with("age1") {
        key.parse::<age::x25519::Recipient>()
            .map(|r| Box::new(r) as Box<dyn age::Recipient + Send>)
            .map_err(|e| format!("not a valid age public key ({e})"))
    } else if key.starts_with("ssh-") {
        key.parse::<age::ssh::Recipient>()
            .map(|r| Box::new(r) as Box<dyn age::Recipient + Send>)
            .map_err(|e| format!("not a usable SSH public key ({e:?})"))
    } else {
        Err(
            "expected an age public key (age1…) or an SSH public key (ssh-ed25519 …, ssh-rsa …)"
                .into(),
        )
    }
}

/// Checks a new recipient given by the user.
///
/// # Errors
/// `input.invalid` with why the key is unusable, or for a name with a line break.
pub fn check_recipient(name: &str, key: &str) -> Result<Recipient> {
    let key = key.trim();
    if name.contains(['\n', '\r']) {
        return Err(Error::new(
            ErrorCode::InvalidInput,
            "a recipient's name is one line",
        ));
    }
    parse_key(key).map_err(|why| {
        Error::new(ErrorCode::InvalidInput, why)
            .hint("Paste the person's `age-keygen -y` output or their ~/.ssh/id_ed25519.pub line.")
    })?;
    Ok(Recipient {
        name: name.trim().to_owned(),
        key: key.to_owned(),
    })
}

/// Parses a recipients file. `origin` names it in errors.
///
/// # Errors
/// `input.invalid` with `origin:line` for a key that is not usable.
pub fn parse(origin: &str, text: &str) -> Result<Vec<Recipient>> {
    let mut out = Vec::new();
    let mut name = String::new();
    for (i, raw) in text.lines().enumerate() {
        let line = raw.trim();
        if line.is_empty() {
            name.clear();
            continue;
        }
        if let Some(c) = line.strip_prefix('#') {
            name = c.trim().to_owned();
            continue;
        }
        parse_key(line).map_err(|why| {
            Error::new(
                ErrorCode::InvalidInput,
                format!("{origin}:{}: {why}", i + 1),
            )
            .hint("Fix or remove that line; each key line holds one public key.")
        })?;
        out.push(Recipient {
            name: std::mem::take(&mut name),
            key: line.to_owned(),
        });
    }
    Ok(out)
}

/// The file text for `recipients`.
pub fn render(env: &str, recipients: &[Recipient]) -> String {
    let mut out =
        format!("# Recipients of {env}.env.age: who can decrypt it. Written by NewFinity Ops.\n\n");
    for r in recipients {
        if !r.name.is_empty() {
            out.push_str(&format!("# {}\n", r.name));
        }
        out.push_str(&r.key);
        out.push_str("\n\n");
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_come_from_the_comment_above_and_render_round_trips() {
        let a = crate::AgeIdentity::generate().public_key();
        let text = format!("# header\n\n# Alice Ops\n{a}\n");
        let r = parse("f", &text).expect("valid");
        assert_eq!(r.len(), 1);
        assert_eq!(r[0].name, "Alice Ops");
        assert_eq!(
            parse("g", &render("staging", &r)).expect("rendered parses"),
            r
        );
    }

    #[test]
    fn a_bad_key_names_the_line() {
        let e = parse("staging.recipients", "# x\nage1notakey\n").expect_err("bad key");
        assert!(
            e.message().contains("staging.recipients:2"),
            "{}",
            e.message()
        );
    }
}
