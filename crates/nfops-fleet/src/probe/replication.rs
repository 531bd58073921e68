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
    /// `@@server_id` read from the replica itself: how its primary's
    /// `SHOW SLAVE HOSTS` names it (None when it could not be asked).
    pub server_id: Option<u32>,
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
            server_id: None,
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
        server_id: None,
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
            let id = server_id(&mut c, &route.target).await;
            let _ = sqlx::Connection::close(c).await;
            Ok::<_, nfops_core::Error>(ReplicaStatus {
                server_id: Some(id?),
                ..st?
            })
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
            server_id: None,
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

/// A replica as its primary sees it, whether configured or not.
#[derive(Debug, Clone, Serialize, PartialEq, Eq)]
#[serde(rename_all = "camelCase")]
pub struct ConnectedReplica {
    /// The server_id it registered with (`SHOW SLAVE HOSTS`); None for a
    /// replica without `report_host`, which does not register and is seen
    /// only as a binlog dump thread.
    pub server_id: Option<u32>,
    /// `report_host:report_port`, as the replica reported itself.
    pub reported_at: Option<String>,
    /// The client address (`host:port`) of a binlog dump thread, when one
    /// can be told apart as this replica's.
    pub client: Option<String>,
}

impl std::fmt::Display for ConnectedReplica {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let mut parts = Vec::new();
        if let Some(id) = self.server_id {
            parts.push(format!("server_id {id}"));
        }
        if let Some(at) = &self.reported_at {
            parts.push(format!("reported as {at}"));
        }
        if let Some(c) = &self.client {
            parts.push(format!("binlog dump thread from {c}"));
        }
        if parts.is_empty() {
            parts.push("an unnamed replica".into());
        }
        f.write_str(&parts.join(", "))
    }
}

/// What the primary reports about the replicas reading its binary log.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct PrimaryReplicas {
    /// `SHOW SLAVE HOSTS`: (server_id, host, port) of every registered replica.
    pub registered: Vec<(u32, String, u16)>,
    /// Client addresses (`host:port`) of the `Binlog Dump` / `Binlog Dump
    /// GTID` threads in the processlist: one per connected replica (or
    /// binlog reader), registered or not.
    pub dump_threads: Vec<String>,
}

/// Reads who replicates from the server behind `conn`.
///
/// Without PROCESS the processlist silently shows only the session's own
/// threads, and without the privilege SHOW SLAVE HOSTS needs the answer is
/// an error: both are refused here, naming the missing privilege, rather
/// than read as "no replicas".
///
/// Errors: `service.unhealthy` naming the missing privilege; a failed query.
pub async fn replicas_of_primary(
    conn: &mut MySqlConnection,
    target: &Target,
) -> Result<PrimaryReplicas> {
    let missing = |privilege: &str, what: &str| {
        nfops_core::Error::new(
            nfops_core::ErrorCode::Unhealthy,
            format!(
                "user '{}' may not list the replicas of the {} ({what}): it lacks the {privilege} privilege, so replicas outside the configuration cannot be ruled out",
                target.user, target.label
            ),
        )
        .hint(format!(
            "Grant it on the primary (GRANT {privilege} ON *.* TO '{}'@'…'), then run the restore again.",
            target.user
        ))
    };
    if !has_global_privilege(conn, target, "PROCESS").await? {
        return Err(missing(
            "PROCESS",
            "the binlog dump threads in the processlist",
        ));
    }
    let mut hosts = None;
    for q in ["SHOW REPLICA HOSTS", "SHOW SLAVE HOSTS"] {
        match sqlx::Executor::fetch_all(&mut *conn, q).await {
            Ok(rows) => {
                hosts = Some(rows);
                break;
            }
            Err(e) if denied(&e) => {
                return Err(
                    missing("REPLICATION MASTER ADMIN", "SHOW SLAVE HOSTS was refused").source(e),
                )
            }
            // 1064: an older server knows only the SLAVE spelling.
            Err(e) if q == "SHOW SLAVE HOSTS" || number(&e) != Some(1064) => {
                return Err(target.error("could not list the replicas (SHOW SLAVE HOSTS) of", e))
            }
            Err(_) => {}
        }
    }
    let registered = hosts
        .unwrap_or_default()
        .iter()
        .map(|r| {
            // A row whose server_id cannot be read is not skipped: that
            // replica could be the one outside the configuration.
            let id: u32 = nfops_mysql::schema::text_at(r, 0)
                .and_then(|v| v.parse().ok())
                .ok_or_else(|| {
                    nfops_core::Error::new(
                        nfops_core::ErrorCode::Unhealthy,
                        format!(
                            "the {} lists a replica without a readable Server_id (SHOW SLAVE HOSTS), so replicas outside the configuration cannot be ruled out",
                            target.label
                        ),
                    )
                })?;
            let host = nfops_mysql::schema::text_at(r, 1).unwrap_or_default();
            let port = nfops_mysql::schema::text_at(r, 2)
                .and_then(|p| p.parse().ok())
                .unwrap_or(0);
            Ok((id, host, port))
        })
        .collect::<Result<Vec<_>>>()?;
    let dump_threads = sqlx::Executor::fetch_all(
        &mut *conn,
        "SELECT HOST FROM information_schema.PROCESSLIST WHERE COMMAND IN ('Binlog Dump', 'Binlog Dump GTID') ORDER BY ID",
    )
    .await
    .map_err(|e| target.error("could not read the processlist of", e))?
    .iter()
    .map(|r| nfops_mysql::schema::text_at(r, 0).unwrap_or_default())
    .collect();
    Ok(PrimaryReplicas {
        registered,
        dump_threads,
    })
}

/// `@@server_id` of the server behind `conn`: the key that ties a
/// configured replica to what its primary reports (host names and
/// addresses differ across tunnels and NAT; the id does not).
pub async fn server_id(conn: &mut MySqlConnection, target: &Target) -> Result<u32> {
    let r = sqlx::Executor::fetch_one(&mut *conn, "SELECT CAST(@@GLOBAL.server_id AS CHAR)")
        .await
        .map_err(|e| target.error("could not read the server_id of", e))?;
    nfops_mysql::schema::text_at(&r, 0)
        .and_then(|v| v.parse().ok())
        .ok_or_else(|| nfops_core::Error::internal("server_id is not a number"))
}

/// The replicas of `primary` that are not among `configured`, each named
/// as well as the primary can name it.
///
/// `configured` holds, per configured replica, its server_id (read from
/// itself) and the IPs its host name has, when known. Registered replicas
/// are matched by server_id. Dump threads carry no server_id, so they are
/// matched by count: each configured replica accounts for one dump thread,
/// first from a client address of its own host, then from any; the
/// threads left over are replicas (or binlog readers) nobody configured.
pub fn unconfigured(
    primary: &PrimaryReplicas,
    configured: &[(u32, Vec<String>)],
) -> Vec<ConnectedReplica> {
    let known: std::collections::BTreeSet<u32> = configured.iter().map(|c| c.0).collect();
    let mut out: Vec<ConnectedReplica> = primary
        .registered
        .iter()
        .filter(|(id, _, _)| !known.contains(id))
        .map(|(id, host, port)| ConnectedReplica {
            server_id: Some(*id),
            reported_at: (!host.is_empty()).then(|| format!("{host}:{port}")),
            client: None,
        })
        .collect();
    let mut left: Vec<&String> = primary.dump_threads.iter().collect();
    let ip_of = |client: &str| {
        client
            .rsplit_once(':')
            .map_or(client, |(h, _)| h)
            .to_owned()
    };
    let mut unmatched = 0;
    for (_, ips) in configured {
        match left.iter().position(|c| ips.contains(&ip_of(c))) {
            Some(i) => {
                left.remove(i);
            }
            None => unmatched += 1,
        }
    }
    // A configured replica whose address we could not tie to a thread
    // (NAT, a tunnel) still accounts for one.
    for _ in 0..unmatched.min(left.len()) {
        left.remove(0);
    }
    // Registered strangers already named: they hold as many of the left
    // threads, which are named on them when exactly one is left per one.
    let strangers = out.len();
    if left.len() == strangers && strangers == 1 {
        out[0].client = Some(left[0].clone());
    } else if left.len() > strangers {
        let extra = left.len() - strangers;
        for c in left.into_iter().rev().take(extra).rev() {
            out.push(ConnectedReplica {
                server_id: None,
                reported_at: None,
                client: Some(c.clone()),
            });
        }
    }
    out
}

/// Whether the session's grants hold `privilege` on `*.*` (directly, by
/// ALL PRIVILEGES, or through its active role).
async fn has_global_privilege(
    conn: &mut MySqlConnection,
    target: &Target,
    privilege: &str,
) -> Result<bool> {
    let rows = sqlx::Executor::fetch_all(&mut *conn, "SHOW GRANTS")
        .await
        .map_err(|e| target.error("could not read the grants of the restore account on", e))?;
    Ok(rows
        .iter()
        .filter_map(|r| nfops_mysql::schema::text_at(r, 0))
        .any(|g| grants_global(&g, privilege)))
}

/// Whether one `SHOW GRANTS` line grants `privilege` on `*.*`.
fn grants_global(line: &str, privilege: &str) -> bool {
    let Some(rest) = line.strip_prefix("GRANT ") else {
        return false;
    };
    let Some((privs, on)) = rest.split_once(" ON ") else {
        return false;
    };
    on.starts_with("*.*")
        && privs
            .split(',')
            .map(str::trim)
            .any(|p| p.eq_ignore_ascii_case("ALL PRIVILEGES") || p.eq_ignore_ascii_case(privilege))
}

fn number(e: &sqlx::Error) -> Option<u16> {
    match e {
        sqlx::Error::Database(d) => d
            .try_downcast_ref::<sqlx::mysql::MySqlDatabaseError>()
            .map(sqlx::mysql::MySqlDatabaseError::number),
        _ => None,
    }
}

/// Access denied (1227: privilege for the operation, 1142/1044: on an object).
fn denied(e: &sqlx::Error) -> bool {
    matches!(number(e), Some(1227 | 1142 | 1044))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn primary(registered: &[(u32, &str)], threads: &[&str]) -> PrimaryReplicas {
        PrimaryReplicas {
            registered: registered
                .iter()
                .map(|(id, h)| (*id, (*h).to_owned(), 3306))
                .collect(),
            dump_threads: threads.iter().map(|t| (*t).to_owned()).collect(),
        }
    }

    #[test]
    fn a_configured_replica_accounts_for_its_registration_and_its_thread() {
        let p = primary(&[(2, "db-2")], &["10.0.0.2:4100"]);
        assert!(unconfigured(&p, &[(2, vec!["10.0.0.2".into()])]).is_empty());
        // Reached through a tunnel: its address is unknown, it still counts once.
        assert!(unconfigured(&p, &[(2, vec![])]).is_empty());
    }

    #[test]
    fn strangers_are_named_by_server_id_and_by_their_dump_thread() {
        // db-3 registered (report_host), another one did not: two strangers.
        let p = primary(
            &[(2, "db-2"), (3, "db-3")],
            &["10.0.0.2:4100", "10.0.0.3:4200", "10.0.0.9:4300"],
        );
        let u = unconfigured(&p, &[(2, vec!["10.0.0.2".into()])]);
        assert_eq!(u.len(), 2, "{u:?}");
        assert_eq!(u[0].server_id, Some(3));
        assert_eq!(u[0].reported_at.as_deref(), Some("db-3:3306"));
        assert_eq!(u[1].client.as_deref(), Some("10.0.0.9:4300"), "{u:?}");
        assert!(u[1]
            .to_string()
            .contains("binlog dump thread from 10.0.0.9:4300"));
        // One stranger, one leftover thread: named together.
        let p = primary(&[(2, "db-2"), (3, "db-3")], &["10.0.0.2:1", "10.0.0.3:2"]);
        let u = unconfigured(&p, &[(2, vec!["10.0.0.2".into()])]);
        assert_eq!(u.len(), 1);
        assert_eq!(u[0].client.as_deref(), Some("10.0.0.3:2"));
    }

    #[test]
    fn a_replica_without_report_host_is_found_by_its_thread_on_the_same_host() {
        // Both on loopback: the address cannot tell them apart, the count can.
        let p = primary(&[(2, "db-2")], &["127.0.0.1:5001", "127.0.0.1:5002"]);
        let u = unconfigured(&p, &[(2, vec!["127.0.0.1".into()])]);
        assert_eq!(u.len(), 1, "{u:?}");
        assert_eq!(u[0].server_id, None);
    }

    #[test]
    fn grants_are_read_on_star_star_only() {
        assert!(grants_global(
            "GRANT ALL PRIVILEGES ON *.* TO `nf_ops`@`%` WITH GRANT OPTION",
            "PROCESS"
        ));
        assert!(grants_global(
            "GRANT SELECT, PROCESS, RELOAD ON *.* TO `u`@`h`",
            "PROCESS"
        ));
        assert!(!grants_global(
            "GRANT ALL PRIVILEGES ON `newfinity`.* TO `u`@`h`",
            "PROCESS"
        ));
        assert!(!grants_global(
            "GRANT SELECT, RELOAD ON *.* TO `u`@`h`",
            "PROCESS"
        ));
    }
}
