//! Connecting to the database and turning driver errors into operator errors.

use nfops_core::{Error, ErrorCode, SecretString};
use sqlx::mysql::{MySqlConnectOptions, MySqlConnection, MySqlDatabaseError};
use sqlx::{ConnectOptions, Connection};

/// Where and as whom to connect (already routed: a tunnel's local end when
/// the database is reached through a host).
#[derive(Debug, Clone)]
pub struct Target {
    pub host: String,
    pub port: u16,
    pub user: String,
    pub password: SecretString,
    pub database: String,
    /// How the operator knows this database, for messages ("staging database").
    pub label: String,
}

impl Target {
    /// Opens one connection with the session settings every dump and hash
    /// query relies on: utf8mb4 results, UTC time zone, long network timeouts.
    ///
    /// Errors: `service.unreachable` (login refused, unknown database, server down).
    pub async fn connect(&self) -> nfops_core::Result<MySqlConnection> {
        let opts = MySqlConnectOptions::new()
            .host(&self.host)
            .port(self.port)
            .username(&self.user)
            .password(self.password.expose())
            .database(&self.database)
            .charset("utf8mb4")
            .disable_statement_logging();
        let mut conn = MySqlConnection::connect_with(&opts)
            .await
            .map_err(|e| self.error("could not connect to", e))?;
        sqlx::Executor::execute(
            &mut conn,
            "SET NAMES utf8mb4; SET SESSION time_zone = '+00:00'; \
             SET SESSION net_read_timeout = 600; SET SESSION net_write_timeout = 600; \
             SET SESSION wait_timeout = 3600",
        )
        .await
        .map_err(|e| self.error("could not prepare a session on", e))?;
        Ok(conn)
    }

    /// An operator-facing error for `what` on this database; `e` stays the source.
    pub fn error(&self, what: &str, e: sqlx::Error) -> Error {
        let number = match &e {
            sqlx::Error::Database(d) => d
                .try_downcast_ref::<MySqlDatabaseError>()
                .map(MySqlDatabaseError::number),
            _ => None,
        };
        let (code, hint) = match number {
            Some(1045) => (
                ErrorCode::Unreachable,
                format!("Check the password of user '{}' in the keyring.", self.user),
            ),
            Some(1044) | Some(1142) | Some(1227) => (
                ErrorCode::Unreachable,
                format!(
                    "User '{}' lacks a privilege the backup needs (SELECT, SHOW VIEW, TRIGGER, EVENT, RELOAD, REPLICATION CLIENT).",
                    self.user
                ),
            ),
            Some(1049) => (
                ErrorCode::Unreachable,
                "Check database.name in environments.toml.".to_owned(),
            ),
            Some(_) => (
                ErrorCode::Unhealthy,
                "The database refused a statement; the log file has its answer.".to_owned(),
            ),
            None => (
                ErrorCode::Unreachable,
                "Check that MySQL/MariaDB is running and reachable; the connection was lost or refused.".to_owned(),
            ),
        };
        Error::new(
            code,
            format!("{what} the {} ({})", self.label, self.database),
        )
        .hint(hint)
        .source(e)
    }
}
