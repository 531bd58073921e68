use std::io::{IsTerminal, Read};
use std::process::ExitCode;

use nfops_core::{Error, ErrorCode, Result, SecretString};
use nfops_ops::{Console, CredentialState};

use crate::output::Output;
use crate::run::exit;

#[derive(clap::Subcommand)]
pub enum Command {
    /// Credentials the config needs and whether each is set (never the value).
    List,
    /// Store or replace a credential. The value is read from a hidden prompt,
    /// or from standard input when it is not a terminal — never from arguments,
    /// which other users can see in the process list.
    Set { name: String },
    /// Remove a credential from the keyring.
    Delete {
        name: String,
        /// Deleting the age identity while production or region
        /// environments exist: `--confirm` one of their names.
        #[arg(long, value_name = "NAME")]
        confirm: Option<String>,
    },
}

pub async fn run(console: &Console, out: &Output, cmd: Command) -> Result<ExitCode> {
    match cmd {
        Command::List => {
            let list = console.credentials().await?;
            out.emit(&list, |w| {
                if list.is_empty() {
                    writeln!(
                        w,
                        "No credentials are referenced by {}.",
                        console.config_path().display()
                    )?;
                }
                for c in &list {
                    let state = match c.state {
                        CredentialState::Set => "set",
                        CredentialState::Missing => "MISSING",
                        // Agent hosts log in with the operator's own agent: nothing to set.
                        CredentialState::Agent => "agent",
                    };
                    let changed = c.changed_at.as_deref().unwrap_or("-");
                    writeln!(
                        w,
                        "{:<32} {:<8} changed {:<32} used by {}",
                        c.name,
                        state,
                        changed,
                        if c.used_by.is_empty() {
                            "-".into()
                        } else {
                            c.used_by.join(", ")
                        }
                    )?;
                }
                Ok(())
            });
            let missing = list.iter().any(|c| c.state == CredentialState::Missing);
            Ok(if missing {
                exit(ErrorCode::CredentialMissing)
            } else {
                ExitCode::SUCCESS
            })
        }
        Command::Set { name } => {
            let value = read_value(&name)?;
            console.set_credential(&name, value).await?;
            out.emit(&serde_json::json!({ "name": name, "state": "set" }), |w| {
                writeln!(w, "credential '{name}' stored in the keyring")
            });
            Ok(ExitCode::SUCCESS)
        }
        Command::Delete { name, confirm } => {
            console.delete_credential(&name, confirm.as_deref()).await?;
            out.emit(
                &serde_json::json!({ "name": name, "state": "deleted" }),
                |w| writeln!(w, "credential '{name}' removed from the keyring"),
            );
            Ok(ExitCode::SUCCESS)
        }
    }
}

pub(crate) fn read_value(name: &str) -> Result<SecretString> {
    let value = if std::io::stdin().is_terminal() {
        rpassword::prompt_password(format!("value for '{name}' (hidden): "))
            .map_err(|e| Error::io("reading the value from the terminal", e))?
    } else {
        let mut s = String::new();
        std::io::stdin()
            .read_to_string(&mut s)
            .map_err(|e| Error::io("reading the value from standard input", e))?;
        // One trailing newline is the shell's, not the secret's.
        if s.ends_with('\n') {
            s.pop();
            if s.ends_with('\r') {
                s.pop();
            }
        }
        s
    };
    if value.is_empty() {
        return Err(Error::new(
            ErrorCode::InvalidInput,
            format!("no value given for credential '{name}'"),
        )
        .hint("Type it at the prompt or pipe it on standard input."));
    }
    Ok(SecretString::new(value))
}
