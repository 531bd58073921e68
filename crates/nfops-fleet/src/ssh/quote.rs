//! Quoting for remote POSIX shells.

/// Quotes `arg` so a POSIX shell (`sh`, `bash`, `dash`) reads it back as one
/// word with exactly these bytes: no expansion, globbing or word splitting.
///
/// Plain words made only of `[A-Za-z0-9_@%+=:,./-]` are returned unchanged
/// for readable commands; anything else is wrapped in single quotes, with each
/// `'` written as `'\''`. The empty string becomes `''`.
///
/// Invariant: callers build remote commands only by joining quoted arguments;
/// secrets never go into a command line (it shows up in `ps` on the host).
pub fn shell_quote(arg: &str) -> String {
    let plain = |c: char| c.is_ascii_alphanumeric() || "_@%+=:,./-".contains(c);
    if !arg.is_empty() && arg.chars().all(plain) {
        return arg.to_owned();
    }
    let mut out = String::with_capacity(arg.len() + 2);
    out.push('\'');
    for c in arg.chars() {
        if c == '\'' {
            out.push_str("'\\''");
        } else {
            out.push(c);
        }
    }
    out.push('\'');
    out
}

#[cfg(test)]
mod tests {
    use super::shell_quote;

    #[test]
    fn plain_words_stay_readable() {
        assert_eq!(shell_quote("/srv/app/current"), "/srv/app/current");
        assert_eq!(shell_quote("v1.2.3-rc_1"), "v1.2.3-rc_1");
    }

    #[test]
    fn everything_else_is_single_quoted() {
        assert_eq!(
            shell_quote(""),
            "''",
            "an empty argument must stay an argument"
        );
        assert_eq!(shell_quote("a b"), "'a b'");
        assert_eq!(shell_quote("$(rm -rf /)"), "'$(rm -rf /)'");
        assert_eq!(shell_quote("it's"), "'it'\\''s'");
        assert_eq!(shell_quote("a\nb;`x`*"), "'a\nb;`x`*'");
        assert_eq!(
            shell_quote("-n"),
            "-n",
            "option-like words are the caller's business (use --)"
        );
    }

    #[test]
    fn a_real_shell_reads_back_the_same_bytes() {
        let Ok(sh) = which_sh() else { return };
        for s in [
            "", "a b", "it's", "$HOME", "`id`", "x\"y'z", "\\n", "*", "ä ö", "a\nb",
        ] {
            let out = std::process::Command::new(&sh)
                .arg("-c")
                .arg(format!("printf %s {}", shell_quote(s)))
                .output()
                .expect("sh runs");
            assert_eq!(
                String::from_utf8_lossy(&out.stdout),
                s,
                "round trip through sh must be exact"
            );
        }
    }

    fn which_sh() -> Result<std::path::PathBuf, ()> {
        let p = std::path::PathBuf::from("/bin/sh");
        if p.exists() {
            Ok(p)
        } else {
            Err(())
        }
    }
}
