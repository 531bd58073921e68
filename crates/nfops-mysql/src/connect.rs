//! Connecting to the database and turning driver errors into operator errors.

use std::sync::Arc;
use std::time::Duration;

use nfops_core::{Error, ErrorCode, SecretString};
use sqlx::mysql::{MySqlConnectOptions, MySqlConnection, MySqlDatabaseError};
use sqlx::{ConnectOptions, Connection};

use crate::tls::Tls;

/// What carries a target's connections when they are not direct: an SSH
/// tunnel. Asked, when a connection breaks, whether the carrier was the
/// cause, so the operator hears "the SSH tunnel was lost: keepalive timeout"
/// instead of a generic database error.
pub trait Carrier: Send + Sync + std::fmt::Debug {
    /// The error to report for a connection that broke while `what`, when
    /// the carrier itself is down; `None` while it works.
    fn lost(&self, what: &str) -> Option<Error>;
}

/// How long a connection may take to open and a statement to run. Per
/// purpose: a probe must answer in seconds, a job's statement may load or
/// read a large table for a long time.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Limits {
    /// TCP connect, handshake, login and session setup together, enforced
    /// here (a server that accepts and never answers fails after this).
    pub connect: Duration,
    /// Longest one statement may run, enforced by the server
    /// (`max_statement_time` on MariaDB, `max_execution_time` for SELECTs on
    /// MySQL): a statement stuck behind a lock or a runaway query ends with
    /// the server's error instead of holding the job forever. Zero: none.
    pub statement: Duration,
}

impl Limits {
    /// Backups, restores, hashes and checks: generous, since one statement
    /// may stream or load a table of many gigabytes.
    pub const JOB: Limits = Limits {
        connect: Duration::from_secs(30),
        statement: Duration::from_secs(4 * 3600),
    };
    /// Quick looks (status, plans, preflight counts).
    pub const PROBE: Limits = Limits {
        connect: Duration::from_secs(5),
        statement: Duration::from_secs(10),
    };
}

impl Default for Limits {
    fn default() -> Self {
        Limits::JOB
    }
}

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
    /// The SSH tunnel the connections go through (`None`: direct).
    pub carrier: Option<Arc<dyn Carrier>>,
    /// Connect and statement bounds ([`Limits::JOB`] unless a caller asks less).
    pub limits: Limits,
    /// Encryption of the connections ([`Tls::Off`]: plain, even when the
    /// server offers TLS).
    pub tls: Tls,
}

/// The longest server answer quoted in an error: enough for the server's own
/// sentence, not for a whole echoed statement.
const SERVER_ANSWER_CHARS: usize = 300;

impl Target {
    /// Opens one connection with the session settings every dump and hash
    /// query relies on: utf8mb4 results, UTC time zone, long network
    /// timeouts, and the statement bound of [`Target::limits`].
    ///
    /// Errors: `service.unreachable` (login refused, unknown database, server
    /// down, no answer within `limits.connect`); `ssh.connect` when the SSH
    /// tunnel carrying the connection was lost; `db.tls` when the TLS
    /// handshake fails (certificate refused, no TLS on the server);
    /// `config.invalid` when the `tls_ca` file cannot be read.
    pub async fn connect(&self) -> nfops_core::Result<MySqlConnection> {
        let opts = self.options()?.charset("utf8mb4");
        let open = async {
            let mut conn = MySqlConnection::connect_with(&opts)
                .await
                .map_err(|e| self.connect_error(e))?;
            sqlx::Executor::execute(
                &mut conn,
                "SET NAMES utf8mb4; SET SESSION time_zone = '+00:00'; \
                 SET SESSION net_read_timeout = 600; SET SESSION net_write_timeout = 600; \
                 SET SESSION wait_timeout = 3600",
            )
            .await
            .map_err(|e| self.error("could not prepare a session on", e))?;
            self.bound_statements(&mut conn).await?;
            Ok(conn)
        };
        match tokio::time::timeout(self.limits.connect, open).await {
            Ok(r) => r,
            Err(_) => Err(self.carrier_error("could not connect to").unwrap_or_else(|| {
                Error::new(
                    ErrorCode::Unreachable,
                    format!(
                        "could not connect to the {} ({}) at {}:{}: no answer within {} s",
                        self.label,
                        self.database,
                        self.host,
                        self.port,
                        self.limits.connect.as_secs()
                    ),
                )
                .hint("Something accepts connections there but does not answer as MySQL/MariaDB: check the port, and that the server is not stuck (too many connections, disk full).")
            })),
        }
    }

    /// The driver options of this target: address, login, database and
    /// TLS (always an explicit SSL mode), statements not logged.
    ///
    /// Errors: `config.invalid` when the `tls_ca` file cannot be read.
    pub fn options(&self) -> nfops_core::Result<MySqlConnectOptions> {
        let opts = MySqlConnectOptions::new()
            .host(&self.host)
            .port(self.port)
            .username(&self.user)
            .password(self.password.expose())
            .database(&self.database)
            .disable_statement_logging();
        self.tls.apply(opts, &self.label)
    }

    /// The error of a connection that could not open: its TLS handshake's
    /// (`db.tls`) when that failed, else as [`Target::error`].
    pub fn connect_error(&self, e: sqlx::Error) -> Error {
        const WHAT: &str = "could not connect to";
        let what = format!(
            "{WHAT} the {} ({}) at {}:{}",
            self.label, self.database, self.host, self.port
        );
        match self.tls.handshake_error(&what, &e) {
            Some(tls) => tls.source(e),
            None => self.error(WHAT, e),
        }
    }

    /// Applies `limits.statement` to the session: MariaDB's
    /// `max_statement_time` (seconds), else MySQL's `max_execution_time`
    /// (milliseconds, SELECTs only).
    async fn bound_statements(&self, conn: &mut MySqlConnection) -> nfops_core::Result<()> {
        let limit = self.limits.statement;
        if limit.is_zero() {
            return Ok(());
        }
        let mariadb = format!("SET SESSION max_statement_time = {}", limit.as_secs_f64());
        match sqlx::Executor::execute(&mut *conn, mariadb.as_str()).await {
            Ok(_) => Ok(()),
            // 1193: unknown system variable: not MariaDB.
            Err(e) if server_number(&e) == Some(1193) => {
                let mysql = format!("SET SESSION max_execution_time = {}", limit.as_millis());
                sqlx::Executor::execute(&mut *conn, mysql.as_str())
                    .await
                    .map(|_| ())
                    .map_err(|e| self.error("could not bound statement time on", e))
            }
            Err(e) => Err(self.error("could not bound statement time on", e)),
        }
    }

    /// The carrier's error for a connection that broke while `what` (the
    /// SSH tunnel was lost), if it is the cause.
    fn carrier_error(&self, what: &str) -> Option<Error> {
        let what = format!("{what} the {} ({})", self.label, self.database);
        self.carrier.as_ref()?.lost(&what)
    }

    /// An operator-facing error for `what` on this database; `e` stays the
    /// source. A server error keeps the server's own answer (`ERROR 1205
    /// (HY000): Lock wait timeout exceeded…`) in the message, so the job's
    /// record and the log show it; a broken connection whose SSH tunnel was
    /// lost is reported as that (`ssh.connect`, with the SSH reason).
    pub fn error(&self, what: &str, e: sqlx::Error) -> Error {
        let number = server_number(&e);
        if number.is_none() {
            if let Some(lost) = self.carrier_error(what) {
                return lost.source(e);
            }
        }
        let (code, hint) = match number {
            // The server answers a login refused for want of TLS (REQUIRE
            // SSL, require_secure_transport on MariaDB) as a wrong password.
            Some(1045) if !self.tls.is_on() => (
                ErrorCode::Unreachable,
                format!(
                    "Check the password of user '{}' in the keyring. This connection does not use TLS: if the account or server requires it (REQUIRE SSL, require_secure_transport), add tls = \"verify-ca\" (or \"required\") to the environment's [database] section (README, \"Database TLS\").",
                    self.user
                ),
            ),
            Some(1045) => (
                ErrorCode::Unreachable,
                format!("Check the password of user '{}' in the keyring.", self.user),
            ),
            // MySQL's require_secure_transport refusal.
            Some(3159) => (
                ErrorCode::DatabaseTls,
                "The server requires TLS: add tls = \"verify-ca\" (or \"required\") to the environment's [database] section (README, \"Database TLS\").".to_owned(),
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
            Some(1205) | Some(1213) => (
                ErrorCode::Unhealthy,
                "Another session held a lock this statement needed: find it with SHOW PROCESSLIST (or information_schema.INNODB_TRX) and run the job again when it is done.".to_owned(),
            ),
            Some(1969) | Some(3024) => (
                ErrorCode::Unhealthy,
                format!(
                    "The statement ran longer than the console's bound of {} s and the server stopped it; check what slows the server (locks, load).",
                    self.limits.statement.as_secs()
                ),
            ),
            Some(_) => (
                ErrorCode::Unhealthy,
                "The database refused a statement; its answer is quoted above and in the log file.".to_owned(),
            ),
            None => (
                ErrorCode::Unreachable,
                "Check that MySQL/MariaDB is running and reachable; the connection was lost or refused.".to_owned(),
            ),
        };
        let answer = match server_answer(&e) {
            Some(a) => format!(": the server answered {a}"),
            None => match &e {
                sqlx::Error::Io(io) => format!(": the connection broke ({io})"),
                _ => String::new(),
            },
        };
        Error::new(
            code,
            format!("{what} the {} ({}){answer}", self.label, self.database),
        )
        .hint(hint)
        .source(e)
    }
}

/// The server's error number, when `e` is an answer of the server.
fn server_number(e: &sqlx::Error) -> Option<u16> {
    match e {
        sqlx::Error::Database(d) => d
            .try_downcast_ref::<MySqlDatabaseError>()
            .map(MySqlDatabaseError::number),
        _ => None,
    }
}

/// `ERROR 1205 (HY000): Lock wait timeout exceeded; try restarting
/// transaction`, as the `mysql` client prints it; bounded, on one line.
fn server_answer(e: &sqlx::Error) -> Option<String> {
    let sqlx::Error::Database(d) = e else {
        return None;
    };
    let d = d.try_downcast_ref::<MySqlDatabaseError>()?;
    let text: String = d
        .message()
        .chars()
        .map(|c| if c.is_control() { ' ' } else { c })
        .take(SERVER_ANSWER_CHARS)
        .collect();
    let cut = if d.message().chars().count() > SERVER_ANSWER_CHARS {
        "…"
    } else {
        ""
    };
    Some(match d.code() {
        Some(state) => format!("ERROR {} ({state}): {text}{cut}", d.number()),
        None => format!("ERROR {}: {text}{cut}", d.number()),
    })
}
