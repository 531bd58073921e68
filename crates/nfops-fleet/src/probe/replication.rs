//! Replication state of a database's replicas (`SHOW SLAVE STATUS`): the one
//! reading of it, shared by the restore's checks and the Overview.

use nfops_core::config::{Environment, Replica};
use nfops_core::credentials::CredentialSource;
use nfops_core::Result;
use nfops_mysql::sqlx_reexport::MySqlConnection;
use nfops_mysql::Target;
use serde::Serialize;
use sqlx::Row;

/// One replica as it reports itself.
#[derive(Debug, Clone, Serialize, PartialEq, Eq)]
#[serde(rename_all = "camelCase")]
pub struct ReplicaStatus {
    pub name: String,
    /// `Slave_IO_Running` (Yes / No / Connecting).
    pub io_running: String,
    /// `Slave_SQL_Running` (Yes / No).
    pub sql_running: String,
    /// `Seconds_Behind_Master` (None while a thread is stopped).
    pub lag_seconds: Option<u64>,
    /// The last IO or SQL error, empty when none.
    pub last_error: String,
    /// `Using_Gtid` (Slave_Pos, Current_Pos or No).
    pub using_gtid: String,
    /// Set when the replica could not be asked at all (unreachable).
    pub unreachable: Option<String>,
}

impl ReplicaStatus {
    /// Why a restore may not rely on this replica (None: it may).
    pub fn problem(&self, max_lag: u64) -> Option<String> {
        if let Some(u) = &self.unreachable {
            return Some(format!("cannot be asked: {u}"));
        }
        if self.io_running.is_empty() {
            return Some("is not configured as a replica (SHOW SLAVE STATUS is empty)".into());
        }
        if self.io_running != "Yes" || self.sql_running != "Yes" {
            return Some(format!(
                "does not replicate (IO thread {}, SQL thread {}){}",
                self.io_running,
                self.sql_running,
                if self.last_error.is_empty() {
                    String::new()
                } else {
                    format!(": {}", self.last_error)
                }
            ));
        }
        if self.using_gtid.eq_ignore_ascii_case("No") {
            return Some("replicates by file and position, not GTID".into());
        }
        match self.lag_seconds {
            Some(l) if l <= max_lag => None,
            Some(l) => Some(format!("lags {l} s behind (at most {max_lag} s)")),
            None => Some("reports no lag (replication not running)".into()),
        }
    }
}

/// Reads `SHOW SLAVE STATUS` on a session of the replica.
///
/// Errors: the server refuses the statement (privilege REPLICATION CLIENT / SLAVE MONITOR).
pub async fn status_on(
    conn: &mut MySqlConnection,
    target: &Target,
    name: &str,
) -> Result<ReplicaStatus> {
    let row = sqlx::Executor::fetch_optional(&mut *conn, "SHOW SLAVE STATUS")
        .await
        .map_err(|e| target.error("could not read the replication status of", e))?;
    let text = |r: &sqlx::mysql::MySqlRow, c: &str| -> String {
        r.try_get::<Option<String>, _>(c)
            .ok()
            .flatten()
            .or_else(|| {
                r.try_get::<Option<Vec<u8>>, _>(c)
                    .ok()
                    .flatten()
                    .map(|b| String::from_utf8_lossy(&b).into_owned())
            })
            .unwrap_or_default()
    };
    let Some(r) = row else {
        return Ok(ReplicaStatus {
            name: name.into(),
            io_running: String::new(),
            sql_running: String::new(),
            lag_seconds: None,
            last_error: String::new(),
            using_gtid: String::new(),
            unreachable: None,
        });
    };
    let lag = r
        .try_get::<Option<u64>, _>("Seconds_Behind_Master")
        .ok()
        .flatten()
        .or_else(|| text(&r, "Seconds_Behind_Master").parse().ok());
    let io_err = text(&r, "Last_IO_Error");
    let sql_err = text(&r, "Last_SQL_Error");
    Ok(ReplicaStatus {
        name: name.into(),
        io_running: text(&r, "Slave_IO_Running"),
        sql_running: text(&r, "Slave_SQL_Running"),
        lag_seconds: lag,
        last_error: [io_err, sql_err]
            .into_iter()
            .filter(|e| !e.is_empty())
            .collect::<Vec<_>>()
            .join("; "),
        using_gtid: text(&r, "Using_Gtid"),
        unreachable: None,
    })
}

/// Every configured replica of `environment`'s database, each asked over
/// its own route; a replica that cannot be reached is reported as such.
pub async fn replicas(
    environment: &str,
    env: &Environment,
    creds: &dyn CredentialSource,
    known_hosts: &std::path::Path,
) -> Vec<(Replica, ReplicaStatus)> {
    let Some(db) = &env.database else {
        return vec![];
    };
    let mut out = Vec::new();
    for r in &db.replicas {
        let st = async {
            let route = crate::route::replica(environment, env, r, creds, known_hosts).await?;
            let mut c = route.target.connect().await?;
            let st = status_on(&mut c, &route.target, &r.name).await;
            let _ = sqlx::Connection::close(c).await;
            st
        }
        .await
        .unwrap_or_else(|e| ReplicaStatus {
            name: r.name.clone(),
            io_running: String::new(),
            sql_running: String::new(),
            lag_seconds: None,
            last_error: String::new(),
            using_gtid: String::new(),
            unreachable: Some(e.message().to_owned()),
        });
        out.push((r.clone(), st));
    }
    out
}

/// The Overview's rows for `environment`'s replicas: one database probe per
/// replica, "replicating, 0 s behind (GTID Slave_Pos)" or failed with the
/// threads' state, lag and last error.
pub(super) async fn probe_rows(
    environment: &str,
    env: &Environment,
    creds: &dyn CredentialSource,
    known_hosts: &std::path::Path,
    timeout: std::time::Duration,
) -> Vec<super::ProbeResult> {
    let Some(db) = &env.database else {
        return vec![];
    };
    let mut out = Vec::new();
    for r in &db.replicas {
        let probe = async {
            let route = crate::route::replica(environment, env, r, creds, known_hosts).await?;
            let mut c = route.target.connect().await?;
            let st = status_on(&mut c, &route.target, &r.name).await;
            let _ = sqlx::Connection::close(c).await;
            let st = st?;
            match st.problem(r.max_lag()) {
                None => Ok(format!(
                    "replica: IO {}, SQL {}, {} s behind (GTID {})",
                    st.io_running,
                    st.sql_running,
                    st.lag_seconds.unwrap_or(0),
                    st.using_gtid
                )),
                Some(p) => Err(nfops_core::Error::new(
                    nfops_core::ErrorCode::Unhealthy,
                    format!("replica {} {p}", r.name),
                )
                .hint("Check SHOW SLAVE STATUS on the replica; restores refuse to start until it replicates.")),
            }
        };
        out.push(
            super::run(
                super::ProbeKind::Database,
                format!("replica {} ({}:{})", r.name, r.host, r.port),
                timeout,
                nfops_core::ErrorCode::Unreachable,
                probe,
            )
            .await,
        );
    }
    out
}
