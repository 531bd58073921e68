//! `nfops init` and `nfops host-key`: the terminal twin of the app's
//! first-run setup. `init` writes the commented template where the console
//! looks for environments.toml (never over an existing file); `host-key`
//! shows a host's SSH key fingerprint to compare with the host's own
//! `ssh-keygen -lf` before writing it as `host_key`. `nfops status` then
//! runs the same probes as the setup's "Test connection".

use std::process::ExitCode;

use nfops_core::Result;
use nfops_ops::Console;
use serde::Serialize;

use crate::output::Output;

#[derive(clap::Args)]
pub struct InitArgs {}

#[derive(clap::Args)]
pub struct HostKeyArgs {
    /// The host's address (name or IP).
    address: String,
    /// SSH port.
    #[arg(long, default_value_t = 22)]
    port: u16,
}

pub fn init(console: &Console, out: &Output, _args: InitArgs) -> Result<ExitCode> {
    let done = console.init_config()?;
    out.emit(&done, |w| {
        if done.created {
            writeln!(w, "wrote {}", done.path)?;
        } else {
            writeln!(w, "{} already exists: left as it is", done.path)?;
        }
        writeln!(w, "next:")?;
        writeln!(
            w,
            "  1. add an environment to it (the comments show how), or use the app's setup"
        )?;
        writeln!(
            w,
            "  2. nfops host-key ADDRESS --port N   # the host_key of each host, to confirm"
        )?;
        writeln!(
            w,
            "  3. nfops credentials set NAME         # each *_credential it names"
        )?;
        writeln!(
            w,
            "  4. nfops config && nfops status       # check the file, then probe everything"
        )
    });
    Ok(ExitCode::SUCCESS)
}

#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
struct Seen {
    endpoint: String,
    fingerprint: String,
    algorithm: String,
}

pub async fn host_key(console: &Console, out: &Output, args: HostKeyArgs) -> Result<ExitCode> {
    let key = console.scan_host_key(&args.address, args.port).await?;
    let seen = Seen {
        endpoint: format!("{}:{}", args.address, args.port),
        fingerprint: key.fingerprint,
        algorithm: key.algorithm,
    };
    out.emit(&seen, |w| {
        writeln!(w, "{} presents {} {}", seen.endpoint, seen.algorithm, seen.fingerprint)?;
        writeln!(w, "compare it with `ssh-keygen -lf /etc/ssh/ssh_host_ed25519_key.pub` run on the host itself;")?;
        writeln!(w, "if they match, write under the host: host_key = \"{}\"", seen.fingerprint)
    });
    Ok(ExitCode::SUCCESS)
}
