//! TLS of a MySQL/MariaDB connection, as `[environments.X.database] tls`
//! configures it, and the operator errors of its failures.
//!
//! Without a `tls` setting a connection is plain, even when the server
//! offers TLS: sqlx's default (`Preferred`) would otherwise quietly switch
//! every existing connection (SSH tunnels, the stack) to an unverified TLS
//! the operator never chose.

use std::path::PathBuf;

use nfops_core::config::{Database, DatabaseTls};
use nfops_core::{Error, ErrorCode};
use sqlx::mysql::{MySqlConnectOptions, MySqlSslMode};

/// How one target's connections are encrypted.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub enum Tls {
    /// Plain (no `tls` configured).
    #[default]
    Off,
    /// Encrypted; the server's certificate is not checked.
    Required,
    /// Encrypted; the certificate must chain to the OS trust store or to
    /// `ca` (the host name is not checked: a tunnel ends at 127.0.0.1).
    VerifyCa { ca: Option<PathBuf> },
}

impl Tls {
    /// The setting of `db` (its replicas use the same).
    pub fn of(db: &Database) -> Tls {
        match db.tls {
            None => Tls::Off,
            Some(DatabaseTls::Required) => Tls::Required,
            Some(DatabaseTls::VerifyCa) => Tls::VerifyCa {
                ca: db.tls_ca.as_ref().map(|c| PathBuf::from(c.get_ref())),
            },
        }
    }

    pub fn is_on(&self) -> bool {
        !matches!(self, Tls::Off)
    }

    /// As written in environments.toml ("off" when not set).
    pub fn describe(&self) -> String {
        match self {
            Tls::Off => "off".to_owned(),
            Tls::Required => "required".to_owned(),
            Tls::VerifyCa { ca: None } => "verify-ca (OS trust store)".to_owned(),
            Tls::VerifyCa { ca: Some(ca) } => format!("verify-ca (CA {})", ca.display()),
        }
    }

    /// `opts` with this setting's SSL mode (always explicit) and CA.
    ///
    /// Errors: `config.invalid` naming the `tls_ca` file when it cannot be
    /// read or holds no PEM certificate; `label` names the database.
    pub(crate) fn apply(
        &self,
        opts: MySqlConnectOptions,
        label: &str,
    ) -> nfops_core::Result<MySqlConnectOptions> {
        if self.is_on() {
            nfops_core::http::install_crypto_provider();
        }
        Ok(match self {
            Tls::Off => opts.ssl_mode(MySqlSslMode::Disabled),
            Tls::Required => opts.ssl_mode(MySqlSslMode::Required),
            Tls::VerifyCa { ca: None } => opts.ssl_mode(MySqlSslMode::VerifyCa),
            Tls::VerifyCa { ca: Some(ca) } => opts
                .ssl_mode(MySqlSslMode::VerifyCa)
                .ssl_ca_from_pem(read_ca(ca, label)?),
        })
    }

    /// The `db.tls` error for a connection to `what` that failed in its TLS
    /// handshake, when `e` is that; `None` for any other failure.
    pub fn handshake_error(&self, what: &str, e: &sqlx::Error) -> Option<Error> {
        if !self.is_on() {
            return None;
        }
        let reason = match e {
            sqlx::Error::Tls(t) => t.to_string(),
            // rustls reports a refused certificate through the socket.
            sqlx::Error::Io(io) if io.kind() == std::io::ErrorKind::InvalidData => io.to_string(),
            _ => return None,
        };
        let hint = if reason.contains("does not support TLS") {
            "The server offers no TLS: configure ssl_cert/ssl_key on the server, or remove tls from the environment's [database] section to connect without encryption.".to_owned()
        } else {
            match self {
                Tls::VerifyCa { ca: Some(ca) } => format!(
                    "The server's certificate does not chain to the CA in {} (tls_ca) nor to the OS trust store: point tls_ca at the PEM of the CA that signed the server's certificate.",
                    ca.display()
                ),
                Tls::VerifyCa { ca: None } => "The server's certificate does not chain to the OS trust store: add tls_ca = \"path/to/ca.pem\" (the CA that signed it) to the environment's [database] section, or install that CA in the OS trust store.".to_owned(),
                _ => "Check the server's TLS setup (ssl_cert, ssl_key) and its error log.".to_owned(),
            }
        };
        Some(
            Error::new(
                ErrorCode::DatabaseTls,
                format!("{what}: TLS ({}) failed: {reason}", self.describe()),
            )
            .hint(hint),
        )
    }
}

/// The PEM bytes of `ca`, checked to hold a certificate.
fn read_ca(ca: &std::path::Path, label: &str) -> nfops_core::Result<Vec<u8>> {
    let unusable = |why: String| {
        Error::new(
            ErrorCode::ConfigInvalid,
            format!(
                "the tls_ca file {} of the {label} {why}",
                ca.display()
            ),
        )
        .hint("Point database.tls_ca in environments.toml at a readable PEM file of the CA that signed the server's certificate (relative paths start at the config file's folder).")
    };
    let pem = std::fs::read(ca).map_err(|e| unusable(format!("cannot be read: {e}")))?;
    if !String::from_utf8_lossy(&pem).contains("-----BEGIN CERTIFICATE-----") {
        return Err(unusable("holds no PEM certificate".to_owned()));
    }
    Ok(pem)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn no_setting_disables_tls_explicitly() {
        let opts = Tls::Off
            .apply(MySqlConnectOptions::new(), "staging database")
            .expect("test setup");
        assert!(
            matches!(opts.get_ssl_mode(), MySqlSslMode::Disabled),
            "sqlx's default is Preferred: it must never be left in place"
        );
        let opts = Tls::Required
            .apply(MySqlConnectOptions::new(), "x")
            .expect("test setup");
        assert!(matches!(opts.get_ssl_mode(), MySqlSslMode::Required));
        let opts = Tls::VerifyCa { ca: None }
            .apply(MySqlConnectOptions::new(), "x")
            .expect("test setup");
        assert!(matches!(opts.get_ssl_mode(), MySqlSslMode::VerifyCa));
    }

    #[test]
    fn an_unreadable_or_empty_ca_is_a_config_error_naming_the_file() {
        let dir = tempfile::tempdir().expect("test setup");
        let missing = dir.path().join("nope.pem");
        let e = Tls::VerifyCa {
            ca: Some(missing.clone()),
        }
        .apply(MySqlConnectOptions::new(), "staging database")
        .expect_err("refused");
        assert_eq!(e.code(), ErrorCode::ConfigInvalid);
        assert!(
            e.message().contains(&missing.display().to_string()),
            "{}",
            e.message()
        );
        assert!(e.message().contains("staging database"), "{}", e.message());
        let junk = dir.path().join("junk.pem");
        std::fs::write(&junk, "not a certificate").expect("test setup");
        let e = Tls::VerifyCa { ca: Some(junk) }
            .apply(MySqlConnectOptions::new(), "x")
            .expect_err("refused");
        assert!(
            e.message().contains("no PEM certificate"),
            "{}",
            e.message()
        );
    }
}
