//! `database.tls` / `database.tls_ca`: checked and resolved when the file
//! loads. The CA file itself is read when a connection opens
//! (`nfops_mysql::Tls`), so a CA missing on this machine fails that
//! environment's database, not the whole console.

use std::path::Path;

use toml::Spanned;

use super::{invalid, DatabaseTls, Environment};
use crate::error::Result;

/// Refuses a `tls_ca` that cannot take effect and makes a relative one
/// absolute (against the config file's folder, as `secrets.dir`).
pub(super) fn resolve(path: &Path, text: &str, name: &str, env: &mut Environment) -> Result<()> {
    let Some(db) = env.database.as_mut() else {
        return Ok(());
    };
    let Some(ca) = db.tls_ca.take() else {
        return Ok(());
    };
    let at = ca.span().start;
    if db.tls != Some(DatabaseTls::VerifyCa) {
        return Err(invalid(
            path,
            text,
            at,
            &format!(
                "database.tls_ca of environment '{name}' is set, but tls is {}",
                match db.tls {
                    Some(t) => format!("\"{}\"", t.as_str()),
                    None => "not set".to_owned(),
                }
            ),
            "A CA file is only used to verify the server's certificate: set tls = \"verify-ca\", or remove tls_ca.",
        ));
    }
    let file = ca.get_ref().trim();
    if file.is_empty() {
        return Err(invalid(
            path,
            text,
            at,
            &format!("database.tls_ca of environment '{name}' is empty"),
            "Name the CA's PEM file (e.g. tls_ca = \"certs/db-ca.pem\"), or remove tls_ca to trust the OS trust store.",
        ));
    }
    let base = path.parent().unwrap_or(Path::new("."));
    let resolved = base.join(file).to_string_lossy().into_owned();
    db.tls_ca = Some(Spanned::new(ca.span(), resolved));
    Ok(())
}

#[cfg(test)]
mod tests {
    use std::path::Path;

    use crate::config::{Config, DatabaseTls};
    use crate::error::ErrorCode;

    /// The TLS mode of staging's database.
    fn tls_of(config: &Config) -> Option<DatabaseTls> {
        staging_db(config).tls
    }

    fn staging_db(config: &Config) -> &crate::config::Database {
        config
            .environment("staging")
            .expect("test setup")
            .database
            .as_ref()
            .expect("test setup")
    }

    fn with_db(extra: &str) -> String {
        format!(
            "[environments.staging]\ntier = \"staging\"\n[environments.staging.database]\nhost = \"db\"\nport = 3306\nname = \"nf\"\nuser = \"u\"\npassword_credential = \"p\"\n{extra}"
        )
    }

    #[test]
    fn tls_settings_parse_and_resolve_against_the_config_folder() {
        let c = Config::parse(
            Path::new("/etc/nfops/environments.toml"),
            &with_db("tls = \"verify-ca\"\ntls_ca = \"certs/ca.pem\"\n"),
        )
        .expect("valid");
        let db = staging_db(&c);
        assert_eq!(db.tls, Some(DatabaseTls::VerifyCa));
        assert_eq!(
            db.tls_ca.as_ref().map(|c| c.get_ref().as_str()),
            Some("/etc/nfops/certs/ca.pem")
        );
        let c = Config::parse(Path::new("e.toml"), &with_db("tls = \"required\"\n"))
            .expect("test setup");
        assert_eq!(tls_of(&c), Some(DatabaseTls::Required));
        let c = Config::parse(Path::new("e.toml"), &with_db("")).expect("test setup");
        assert_eq!(tls_of(&c), None);
    }

    #[test]
    fn a_ca_without_verify_ca_or_an_unknown_mode_is_refused() {
        let e = Config::parse(
            Path::new("e.toml"),
            &with_db("tls = \"required\"\ntls_ca = \"ca.pem\"\n"),
        )
        .expect_err("tls_ca needs verify-ca");
        assert_eq!(e.code(), ErrorCode::ConfigInvalid);
        assert!(e.message().contains("e.toml:10:"), "{}", e.message());
        assert!(e.message().contains("tls_ca"), "{}", e.message());
        assert!(e.hint_text().expect("test setup").contains("verify-ca"));
        let e = Config::parse(Path::new("e.toml"), &with_db("tls_ca = \"ca.pem\"\n"))
            .expect_err("refused");
        assert!(e.message().contains("tls is not set"), "{}", e.message());
        let e = Config::parse(Path::new("e.toml"), &with_db("tls = \"verify-full\"\n"))
            .expect_err("refused");
        assert_eq!(e.code(), ErrorCode::ConfigInvalid);
        assert!(
            e.message().contains("verify-ca"),
            "the message lists the values: {}",
            e.message()
        );
    }
}
