//! The MySQL / MariaDB database: connect (directly or through a tunnel) and
//! ask `SELECT VERSION()`.

use nfops_core::config::Database;
use nfops_core::credentials::CredentialSource;
use nfops_core::{Error, ErrorCode, Result};
use nfops_mysql::{Limits, Target, Tls};
use sqlx::mysql::{MySqlConnection, MySqlDatabaseError};
use sqlx::Connection;

use super::{route, via_text, Sessions};

/// Summary: "MariaDB 10.11.6" / "MySQL 8.0.36", with ", TLS required" /
/// ", TLS verify-ca" when the connection is encrypted (the card shows how
/// the console reaches the database).
///
/// Errors: `service.unreachable` naming `host:port` (and "via host 'X'"), with
/// a hint that tells a refused login from an unreachable server; `db.tls`
/// when the TLS handshake fails; `config.invalid` for an unreadable
/// `tls_ca`. The driver's text stays the error's source; the password never
/// appears.
pub(super) async fn probe(
    db: &Database,
    creds: &dyn CredentialSource,
    sessions: &Sessions<'_>,
) -> Result<String> {
    let password = creds.get(&db.password_credential)?;
    let via = db.via.as_ref().map(|v| v.get_ref().as_str());
    let route = route(sessions, via, &db.host, db.port).await?;
    // The driver options come from the one home of database connections;
    // the probe keeps its own session (no session setup, its own messages).
    let target = Target {
        host: route.host.clone(),
        port: route.port,
        user: db.user.clone(),
        password,
        database: db.name.clone(),
        label: "database".to_owned(),
        carrier: None,
        limits: Limits::PROBE,
        tls: Tls::of(db),
    };
    let opts = target.options()?;
    let mut conn = MySqlConnection::connect_with(&opts)
        .await
        .map_err(|e| connect_error(db, via, &target.tls, e))?;
    let version: String = sqlx::query_scalar("SELECT VERSION()")
        .fetch_one(&mut conn)
        .await
        .map_err(|e| connect_error(db, via, &target.tls, e))?;
    if let Err(e) = conn.close().await {
        tracing::debug!(error = %e, "closing the probe's database connection failed");
    }
    Ok(match db.tls {
        None => version_summary(&version),
        Some(t) => format!("{}, TLS {}", version_summary(&version), t.as_str()),
    })
}

fn connect_error(db: &Database, via: Option<&str>, tls: &Tls, e: sqlx::Error) -> Error {
    let at = format!(
        "{}{}",
        crate::ssh::endpoint(&db.host, db.port),
        via_text(via)
    );
    if let Some(refused) = tls.handshake_error(&format!("database at {at}"), &e) {
        return refused.source(e);
    }
    let number = match &e {
        sqlx::Error::Database(d) => d
            .try_downcast_ref::<MySqlDatabaseError>()
            .map(MySqlDatabaseError::number),
        _ => None,
    };
    // The server answered, and its database is gone: unhealthy, not
    // unreachable (the Overview offers the restore wizard for it).
    if number == Some(1049) {
        return Error::new(
            ErrorCode::Unhealthy,
            format!("database '{}' does not exist at {at}", db.name),
        )
        .hint("Check database.name in environments.toml; if the database was dropped, restore it from a backup (Restore page).")
        .source(e);
    }
    let (message, hint) = match number {
        Some(1045) => (
            format!("database at {at} refused the login of user '{}'", db.user),
            format!(
                "Check the password stored as credential '{}' (`nfops credentials set {}`) and that user '{}' may connect from the console's side.{}",
                db.password_credential, db.password_credential, db.user,
                // A login refused for want of TLS reads like a wrong password.
                if tls.is_on() { "" } else { " This connection does not use TLS: if the account or server requires it (REQUIRE SSL), add tls = \"verify-ca\" to the environment's [database] section." }
            ),
        ),
        Some(1044) => (
            format!("database at {at}: user '{}' has no access to database '{}'", db.user, db.name),
            format!("Grant user '{}' access to '{}' (at least SELECT).", db.user, db.name),
        ),
        _ => (
            match super::backend::io_reason(&e) {
                Some(reason) => format!("database at {at} is unreachable: {reason}"),
                // Through a tunnel a dead server shows as the tunnel closing the
                // stream before the handshake.
                None if matches!(e, sqlx::Error::Io(_) | sqlx::Error::Protocol(_)) && via.is_some() => {
                    format!("database at {at} is unreachable: the connection was closed before the server answered")
                }
                None => format!("database at {at} is unreachable"),
            },
            match via {
                Some(v) => format!(
                    "Check that MySQL/MariaDB runs and that host '{v}' can reach {}:{} (its firewall, bind-address).",
                    db.host, db.port
                ),
                None => format!(
                    "Check that MySQL/MariaDB runs and listens on {}:{}, or set database.via to reach it through a bastion.",
                    db.host, db.port
                ),
            },
        ),
    };
    Error::new(ErrorCode::Unreachable, message)
        .hint(hint)
        .source(e)
}

/// "10.11.6-MariaDB-0+deb12u1" → "MariaDB 10.11.6"; "8.0.36" → "MySQL 8.0.36".
pub(crate) fn version_summary(version: &str) -> String {
    let v = version.trim();
    // MariaDB's handshake form prefixes "5.5.5-" for old clients; drop it.
    let v = v
        .strip_prefix("5.5.5-")
        .filter(|rest| rest.to_ascii_lowercase().contains("mariadb"))
        .unwrap_or(v);
    let number = v.split(['-', ' ']).next().unwrap_or(v);
    let product = if v.to_ascii_lowercase().contains("mariadb") {
        "MariaDB"
    } else {
        "MySQL"
    };
    format!("{product} {number}")
}

#[cfg(test)]
mod tests {
    use super::version_summary;

    #[test]
    fn versions_name_the_product() {
        assert_eq!(
            version_summary("10.11.6-MariaDB-0+deb12u1"),
            "MariaDB 10.11.6"
        );
        assert_eq!(
            version_summary("5.5.5-10.11.6-MariaDB"),
            "MariaDB 10.11.6",
            "the 5.5.5- compatibility prefix is not the version"
        );
        assert_eq!(version_summary("8.0.36"), "MySQL 8.0.36");
        assert_eq!(version_summary("8.4.0-log"), "MySQL 8.4.0");
    }
}
