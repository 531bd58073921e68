use std::process::ExitCode;

use nfops_core::Result;
use nfops_ops::Console;
use serde::Serialize;

use crate::output::Output;

#[derive(clap::Args)]
pub struct Args {}

#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
struct Summary {
    path: String,
    /// The data folder (state.db, known hosts, reports) and the log folder.
    state_dir: String,
    log_dir: String,
    environments: Vec<Env>,
    credentials: Vec<String>,
}

#[derive(Serialize)]
struct Env {
    name: String,
    tier: &'static str,
    hosts: Vec<String>,
    /// "127.0.0.1:3306/newfinity via bastion, tls verify-ca", when configured.
    database: Option<String>,
}

/// Validates environments.toml; a bad file exits 3 with file:line:column.
pub fn run(console: &Console, out: &Output, _args: Args) -> Result<ExitCode> {
    let config = console.config()?;
    let summary = Summary {
        path: config.path().display().to_string(),
        state_dir: console.paths().state_dir.display().to_string(),
        log_dir: console.paths().log_dir.display().to_string(),
        environments: config
            .environments()
            .map(|(n, e)| Env {
                name: n.to_owned(),
                tier: e.tier.as_str(),
                hosts: e.hosts.iter().map(|h| h.get_ref().name.clone()).collect(),
                database: e.database.as_ref().map(database_line),
            })
            .collect(),
        credentials: config.credential_names(),
    };
    out.emit(&summary, |w| {
        writeln!(w, "{}: ok", summary.path)?;
        for e in &summary.environments {
            writeln!(
                w,
                "  {} ({}): hosts {}",
                e.name,
                e.tier,
                if e.hosts.is_empty() {
                    "-".into()
                } else {
                    e.hosts.join(", ")
                }
            )?;
            if let Some(d) = &e.database {
                writeln!(w, "    database {d}")?;
            }
        }
        writeln!(w, "  credentials referenced: {}", summary.credentials.len())?;
        writeln!(w, "data folder: {}", summary.state_dir)?;
        writeln!(w, "log folder: {}", summary.log_dir)
    });
    Ok(ExitCode::SUCCESS)
}

/// Where the console reaches an environment's database and how it is
/// encrypted ("tls off": plain, even when the server offers TLS).
fn database_line(d: &nfops_core::config::Database) -> String {
    let via = d
        .via
        .as_ref()
        .map(|v| format!(" via {}", v.get_ref()))
        .unwrap_or_default();
    let tls = match (d.tls, &d.tls_ca) {
        (None, _) => "off".to_owned(),
        (Some(t), None) => t.as_str().to_owned(),
        (Some(t), Some(ca)) => format!("{} (CA {})", t.as_str(), ca.get_ref()),
    };
    format!("{}:{}/{}{via}, tls {tls}", d.host, d.port, d.name)
}

#[cfg(test)]
mod tests {
    use std::path::Path;

    use nfops_core::config::Config;

    #[test]
    fn the_database_line_says_where_and_how_it_is_encrypted() {
        let text = "[environments.p]\ntier = \"staging\"\n[[environments.p.hosts]]\nname = \"b\"\naddress = \"h\"\nuser = \"u\"\nssh_key_credential = \"k\"\napp_dir = \"/a\"\n[environments.p.database]\nhost = \"10.0.0.2\"\nport = 3306\nname = \"nf\"\nuser = \"u\"\npassword_credential = \"p\"\nvia = \"b\"\n";
        let line = |extra: &str| {
            let c = Config::parse(Path::new("/etc/nfops/e.toml"), &format!("{text}{extra}"))
                .expect("valid");
            super::database_line(
                c.environment("p")
                    .expect("test setup")
                    .database
                    .as_ref()
                    .expect("test setup"),
            )
        };
        assert_eq!(line(""), "10.0.0.2:3306/nf via b, tls off");
        assert_eq!(
            line("tls = \"required\"\n"),
            "10.0.0.2:3306/nf via b, tls required"
        );
        assert_eq!(
            line("tls = \"verify-ca\"\ntls_ca = \"ca.pem\"\n"),
            "10.0.0.2:3306/nf via b, tls verify-ca (CA /etc/nfops/ca.pem)"
        );
    }
}
