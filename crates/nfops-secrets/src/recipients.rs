//! `<env>.recipients`: who may decrypt an environment's secrets.
//!
//! One public key per line: X25519 (`age1…`) or SSH (`ssh-ed25519 …`,
//! `ssh-rsa …`). A `# comment` line names the person of the key on the next
//! line. The format is age's own recipients file (`age -R FILE` reads it).
//!
//! Invariant: one recipient is exactly one key line, stored in canonical
//! form (an age key re-encoded, an SSH key as `type base64` without its
//! comment). A name or key carrying a line break or another control
//! character is refused: it could otherwise add a hidden second recipient
//! under the first one's name when the file is written and read back.

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

/// Refuses control characters (line breaks above all) in one field.
fn one_line(what: &str, s: &str) -> std::result::Result<(), String> {
    match s.chars().find(|c| c.is_control()) {
        Some(c) => Err(format!(
            "{what} holds a control character ({c:?}); a recipient is one line with one key"
        )),
        None => Ok(()),
    }
}

/// The canonical form of a public key: what the file stores, one line.
///
/// # Errors
/// Why the key is unusable (not a key, several keys, a control character).
fn canonical_key(key: &str) -> std::result::Result<String, String> {
    let key = key.trim();
    one_line("the key", key)?;
    parse_key(key)?;
    if key.starts_with("age1") {
        let r: age::x25519::Recipient = key
            .parse()
            .map_err(|e| format!("not a valid age public key ({e})"))?;
        return Ok(r.to_string());
    }
    // `ssh-ed25519 AAAA… comment`: the comment is a label, not part of the key.
    let mut fields = key.split_whitespace();
    match (fields.next(), fields.next()) {
        (Some(kind), Some(b64)) => Ok(format!("{kind} {b64}")),
        _ => Err("an SSH public key is `type base64 [comment]`".into()),
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
    let name = name.trim();
    one_line("a recipient's name", name).map_err(|why| Error::new(ErrorCode::InvalidInput, why))?;
    let key = canonical_key(key).map_err(|why| {
        Error::new(ErrorCode::InvalidInput, why)
            .hint("Paste the person's `age-keygen -y` output or their ~/.ssh/id_ed25519.pub line (one key).")
    })?;
    Ok(Recipient {
        name: name.to_owned(),
        key,
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
        let at = |why: String| {
            Error::new(
                ErrorCode::InvalidInput,
                format!("{origin}:{}: {why}", i + 1),
            )
            .hint("Fix or remove that line; each key line holds one public key.")
        };
        one_line("the line", line).map_err(at)?;
        if let Some(c) = line.strip_prefix('#') {
            name = c.trim().to_owned();
            continue;
        }
        let key = canonical_key(line).map_err(at)?;
        out.push(Recipient {
            name: std::mem::take(&mut name),
            key,
        });
    }
    Ok(out)
}

/// The file text for `recipients`: one canonical key line each.
///
/// # Errors
/// `input.invalid` when a name or key is not one line or the key is not
/// canonical (a `Recipient` built by hand instead of by [`check_recipient`]).
pub fn render(env: &str, recipients: &[Recipient]) -> Result<String> {
    let mut out =
        format!("# Recipients of {env}.env.age: who can decrypt it. Written by NewFinity Ops.\n\n");
    for r in recipients {
        let refuse = |why: String| {
            Error::new(
                ErrorCode::InvalidInput,
                format!("recipient {}: {why}", r.label()),
            )
        };
        one_line("the name", &r.name).map_err(refuse)?;
        if canonical_key(&r.key).map_err(refuse)? != r.key {
            return Err(refuse("the key is not in canonical form".into()));
        }
        if !r.name.is_empty() {
            out.push_str(&format!("# {}\n", r.name));
        }
        out.push_str(&r.key);
        out.push_str("\n\n");
    }
    Ok(out)
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
            parse("g", &render("staging", &r).expect("render")).expect("rendered parses"),
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

    #[test]
    fn a_key_carrying_a_newline_cannot_add_a_hidden_recipient() {
        let bob = crate::AgeIdentity::generate().public_key();
        let mallory = crate::AgeIdentity::generate().public_key();
        let ssh =
            "ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIKwPvnFg9bYX3iI7yLRVnyRxgR7gLT8vOj/PuqR16FG2";
        for key in [
            format!("{bob}\n{mallory}"),
            format!("{ssh} bob@laptop\n{mallory}"),
            format!("{bob}\r{mallory}"),
        ] {
            let e = check_recipient("Bob", &key).expect_err("two lines are refused");
            assert_eq!(e.code(), ErrorCode::InvalidInput, "{}", e.message());
        }
        assert!(
            check_recipient("Bob\nage1x", &bob).is_err(),
            "a name is one line"
        );
        // Built by hand, bypassing the check: rendering still refuses it.
        let forged = Recipient {
            name: "Bob".into(),
            key: format!("{bob}\n{mallory}"),
        };
        assert!(
            render("production", &[forged]).is_err(),
            "render never writes two key lines for one recipient"
        );
    }

    #[test]
    fn recipients_are_stored_in_canonical_form_and_bad_lines_name_file_and_line() {
        let ssh =
            "ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIKwPvnFg9bYX3iI7yLRVnyRxgR7gLT8vOj/PuqR16FG2";
        let r = check_recipient(" Bob ", &format!("  {ssh} bob@laptop  ")).expect("valid");
        assert_eq!(
            (r.name.as_str(), r.key.as_str()),
            ("Bob", ssh),
            "comment dropped, trimmed"
        );
        let text = render("staging", &[r]).expect("render");
        assert_eq!(text.lines().filter(|l| l.starts_with("ssh-")).count(), 1);
        let e = parse(
            "production.recipients",
            &format!("# a\n{ssh}\n# b\nage1 two words\n"),
        )
        .expect_err("bad");
        assert!(
            e.message().starts_with("production.recipients:4:"),
            "{}",
            e.message()
        );
    }
}
