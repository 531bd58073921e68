//! Replicas follow the restore, or the restore does not start.
//!
//! Policy (README, Restores): everything a restore writes goes to the
//! primary's binlog (shadow DDL, rows, the RENAME, the objects), so GTID
//! replicas replay it. Before anything is touched:
//! - every replica the primary reports (`SHOW SLAVE HOSTS`, and its binlog
//!   dump threads, which also show replicas without `report_host`) must be
//!   configured under `[[environments.X.database.replicas]]`: one that is
//!   not would replay the restore unchecked, so the restore refuses naming
//!   it. An account that may not read this (PROCESS, REPLICATION MASTER
//!   ADMIN) is refused too, rather than taken as "no replicas";
//! - every configured replica must replicate (IO and SQL threads running,
//!   GTID, no error) with lag within its bound, else the restore refuses
//!   naming the replica and why.
//!
//! After the swap, step "replicas" waits for each replica to reach the
//! primary's GTID position (`MASTER_GTID_WAIT`, bounded by the replica's
//! `max_lag_seconds`) and compares `CHECKSUM TABLE` of every restored table
//! on both at one GTID position ([`super::replica_compare`]); a difference
//! fails the step and the swap is rolled back (which replicates too).

use std::sync::Arc;
use std::time::Duration;

use async_trait::async_trait;
use nfops_core::config::Replica;
use nfops_core::jobs::{Step, StepContext, Verified};
use nfops_core::{Error, ErrorCode, Result};
use nfops_fleet::probe::replication::{self, ReplicaStatus};
use nfops_mysql::sqlx_reexport::MySqlConnection;
use nfops_mysql::Target;

use super::replica_compare::{self, reached};
use super::session;
use crate::job::plan::PreflightCheck;
use crate::job::{RestoreRequest, RestoreRun};

/// The shortest catch-up wait after the swap, whatever the configured lag
/// bound: the restore itself was just replayed, and a bound of a few
/// seconds would roll back a good restore on a replica that is merely busy.
pub const CATCH_UP_FLOOR: Duration = Duration::from_secs(30);

/// Whether the request's environment has replicas to follow the restore.
pub fn configured(req: &RestoreRequest) -> bool {
    live(req)
        && req
            .env
            .database
            .as_ref()
            .is_some_and(|d| !d.replicas.is_empty())
}

/// Whether the restore writes the environment's own database. A drill
/// restores into a scratch database on the primary: replicas replay it like
/// any write, but there is nothing of theirs to compare or to protect.
fn live(req: &RestoreRequest) -> bool {
    req.database.is_none() && req.env.database.is_some()
}

/// The plan's replica lines: one per configured replica, and one saying
/// whether the primary has replicas outside the configuration.
pub async fn preflight(req: &RestoreRequest) -> Vec<PreflightCheck> {
    if !live(req) {
        return vec![];
    }
    let configured = replication::replicas(
        &req.environment,
        &req.env,
        req.creds.as_ref(),
        &req.known_hosts,
    )
    .await;
    let mut out: Vec<PreflightCheck> = configured
        .iter()
        .map(|(r, st)| {
            let problem = st.problem(r.max_lag());
            PreflightCheck {
                name: format!("replica {}", r.name),
                ok: problem.is_none(),
                detail: match problem {
                    None => format!(
                        "replicates with GTID ({}), {} s behind (at most {}); it replays the restore and is compared after the swap",
                        st.using_gtid,
                        st.lag_seconds.unwrap_or(0),
                        r.max_lag()
                    ),
                    Some(p) => format!("{} {p}: the restore would leave it behind, so it will not start", r.name),
                },
            }
        })
        .collect();
    out.push(unconfigured_check(req, &configured).await);
    out
}

/// The plan line "replicas of the primary": every replica the primary
/// reports is configured, or the restore will not start.
async fn unconfigured_check(
    req: &RestoreRequest,
    configured: &[(Replica, ReplicaStatus)],
) -> PreflightCheck {
    let name = "replicas of the primary".to_owned();
    match unconfigured(req, configured).await {
        Ok((0, _)) => PreflightCheck {
            name,
            ok: true,
            detail: "the primary reports no replica outside the configuration".into(),
        },
        Ok((_, strangers)) => PreflightCheck {
            name,
            ok: false,
            detail: format!(
                "the primary has {} replica(s) that are not in the configuration: {}; they would replay the restore unchecked, so it will not start. Add each under [[environments.{}.database.replicas]] (name, host, port, via, max_lag_seconds) in environments.toml, or stop its replication",
                strangers.len(),
                strangers.iter().map(|s| format!("[{s}]")).collect::<Vec<_>>().join(", "),
                req.environment
            ),
        },
        Err(e) => PreflightCheck {
            name,
            ok: false,
            detail: format!(
                "{}. {}",
                e.message(),
                e.hint_text().unwrap_or_default()
            ),
        },
    }
}

/// Asks the primary who replicates from it and keeps those nobody configured.
async fn unconfigured(
    req: &RestoreRequest,
    configured: &[(Replica, ReplicaStatus)],
) -> Result<(usize, Vec<replication::ConnectedReplica>)> {
    let route = nfops_fleet::route::database(
        &req.environment,
        &req.env,
        req.creds.as_ref(),
        &req.known_hosts,
        None,
        "to list its replicas",
    )
    .await?;
    let mut c = route.target.connect().await?;
    let seen = replication::replicas_of_primary(&mut c, &route.target).await;
    let _ = sqlx::Connection::close(c).await;
    let seen = seen?;
    let mut keys = Vec::new();
    for (r, st) in configured {
        // Unreachable replicas have no id; their own line refuses already.
        let ips = tokio::net::lookup_host((r.host.as_str(), r.port))
            .await
            .map(|a| a.map(|a| a.ip().to_string()).collect())
            .unwrap_or_default();
        keys.push((st.server_id.unwrap_or(0), ips));
    }
    let strangers = replication::unconfigured(&seen, &keys);
    Ok((strangers.len(), strangers))
}

/// The same checks when the job starts (a plan may be minutes old).
///
/// Errors: `service.unhealthy` naming every replica that may not follow
/// and every replica outside the configuration.
pub async fn ensure_ready(req: &RestoreRequest) -> Result<usize> {
    let checks = preflight(req).await;
    let bad: Vec<String> = checks
        .iter()
        .filter(|c| !c.ok)
        .map(|c| c.detail.clone())
        .collect();
    if !bad.is_empty() {
        return Err(Error::new(
            ErrorCode::Unhealthy,
            format!("{}; nothing was changed", bad.join("; ")),
        )
        .hint("Configure every replica of the primary in environments.toml, repair replication (SHOW SLAVE STATUS on the replica) or wait for it to catch up, then run the restore again."));
    }
    Ok(checks
        .iter()
        .filter(|c| c.name.starts_with("replica "))
        .count())
}

/// Step "replicas": each replica at the primary's GTID position, with the
/// same CHECKSUM TABLE for every restored table.
pub(crate) struct ReplicasStep(pub(crate) Arc<RestoreRun>);

#[async_trait]
impl Step for ReplicasStep {
    async fn run(&self, cx: &StepContext<'_>) -> Result<Verified> {
        let r = &self.0;
        r.ensure_lock("the replicas step").await?;
        let primary = r.target()?;
        let db = r
            .req
            .env
            .database
            .as_ref()
            .ok_or_else(|| Error::internal("replicas without a database"))?;
        let mut p = session::open(&primary).await?;
        let mut evidence = Vec::new();
        for rep in &db.replicas {
            cx.check_cancelled()?;
            let route = nfops_fleet::route::replica(
                &r.req.environment,
                &r.req.env,
                rep,
                r.req.creds.as_ref(),
                &r.req.known_hosts,
            )
            .await?;
            let mut c = session::open(&route.target).await?;
            let got = follow(&mut p, &primary, &mut c, &route.target, rep, &r.tables).await;
            let _ = sqlx::Connection::close(c).await;
            let got = got?;
            if !got.differ.is_empty() {
                return Err(Error::new(
                    ErrorCode::CheckFailed,
                    format!(
                        "replica {} differs from the primary after the restore, both read at GTID {}: {}",
                        rep.name,
                        got.pos,
                        got.differ.join(", ")
                    ),
                )
                .hint("The restore is rolled back; the replica's data was changed outside replication (or it skipped events): check its SHOW SLAVE STATUS and error log, and rebuild it from the primary."));
            }
            evidence.push(format!(
                "{} at GTID {}, {} table(s) with equal CHECKSUM TABLE (read at that one position)",
                rep.name, got.pos, got.tables
            ));
        }
        let _ = sqlx::Connection::close(p).await;
        Ok(Verified::by(evidence.join("; ")))
    }
}

/// Waits for the replica to reach the primary's position after the swap,
/// then compares them at one GTID position.
///
/// The wait is the replica's own lag bound (at least [`CATCH_UP_FLOOR`]),
/// renewed while the replica keeps advancing: a replica still replaying a
/// large restore is slow, not broken; one that stops moving for a whole
/// bound is.
///
/// Errors: `job.check_failed` naming the replica, its lag and position.
async fn follow(
    p: &mut MySqlConnection,
    primary: &Target,
    c: &mut MySqlConnection,
    replica: &Target,
    rep: &Replica,
    tables: &[String],
) -> Result<replica_compare::Comparison> {
    let bound = Duration::from_secs(rep.max_lag()).max(CATCH_UP_FLOOR);
    let pos = nfops_mysql::schema::gtid_position(p).await.ok_or_else(|| {
        Error::new(
            ErrorCode::CheckFailed,
            format!(
                "the {} reports no GTID position (gtid_binlog_pos)",
                primary.label
            ),
        )
        .hint("Replicas are followed by GTID: check log_bin on the primary.")
    })?;
    let mut last = replica_position(c).await;
    loop {
        if reached(c, replica, &pos, bound).await? {
            break;
        }
        let now = replica_position(c).await;
        if now == last {
            let st = replication::status_on(c, replica, &rep.name).await?;
            return Err(Error::new(
                ErrorCode::CheckFailed,
                format!(
                    "replica {} did not reach the primary's GTID position {pos} within {} s: it stays at {}, {} (IO thread {}, SQL thread {}){}",
                    rep.name,
                    bound.as_secs(),
                    if now.is_empty() { "no position" } else { now.as_str() },
                    st.lag_seconds.map_or("lag unknown".to_owned(), |l| format!("{l} s behind")),
                    st.io_running,
                    st.sql_running,
                    if st.last_error.is_empty() { String::new() } else { format!(": {}", st.last_error) }
                ),
            )
            .hint("The restore is rolled back; check the replica's SHOW SLAVE STATUS (threads, last error) and raise max_lag_seconds if it is only slow."));
        }
        last = now;
    }
    replica_compare::at_one_position(p, primary, c, replica, tables).await
}

/// The replica's applied position (`gtid_slave_pos`), empty if unreadable.
async fn replica_position(c: &mut MySqlConnection) -> String {
    sqlx::Executor::fetch_one(&mut *c, "SELECT @@GLOBAL.gtid_slave_pos")
        .await
        .ok()
        .and_then(|r| nfops_mysql::schema::text_at(&r, 0))
        .unwrap_or_default()
}
