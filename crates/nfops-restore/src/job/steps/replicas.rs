//! Replicas follow the restore, or the restore does not start.
//!
//! Policy (README, Restores): everything a restore writes goes to the
//! primary's binlog (shadow DDL, rows, the RENAME, the objects), so GTID
//! replicas replay it. Before anything is touched every configured replica
//! must replicate (IO and SQL threads running, GTID, no error) with lag
//! within its bound, else the restore refuses naming the replica and why.
//! After the swap, step "replicas" waits for each replica to reach the
//! primary's GTID position (`MASTER_GTID_WAIT`) and compares `CHECKSUM
//! TABLE` of every restored table on both; a difference fails the step and
//! the swap is rolled back (which replicates too).

use std::sync::Arc;
use std::time::Duration;

use async_trait::async_trait;
use nfops_core::jobs::{Step, StepContext, Verified};
use nfops_core::{Error, ErrorCode, Result};
use nfops_fleet::probe::replication;
use nfops_mysql::literal::quote_str;
use nfops_mysql::sqlx_reexport::MySqlConnection;
use nfops_mysql::{schema, Target};

use super::session;
use crate::job::plan::PreflightCheck;
use crate::job::{RestoreRequest, RestoreRun};

/// Whether the request's environment has replicas to follow the restore.
pub fn configured(req: &RestoreRequest) -> bool {
    // A drill restores into a scratch database on the primary: replicas
    // replay it like any write, but there is nothing of theirs to compare.
    req.database.is_none()
        && req
            .env
            .database
            .as_ref()
            .is_some_and(|d| !d.replicas.is_empty())
}

/// One preflight line per configured replica.
pub async fn preflight(req: &RestoreRequest) -> Vec<PreflightCheck> {
    if !configured(req) {
        return vec![];
    }
    replication::replicas(&req.environment, &req.env, req.creds.as_ref(), &req.known_hosts)
        .await
        .into_iter()
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
        .collect()
}

/// The same check when the job starts (a plan may be minutes old).
///
/// Errors: `service.unhealthy` naming every replica that may not follow.
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
        .hint("Repair replication (SHOW SLAVE STATUS on the replica) or wait for it to catch up, then run the restore again."));
    }
    Ok(checks.len())
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
            let mut last = String::new();
            // The application may write meanwhile: wait and compare again a few times.
            for attempt in 1..=3 {
                let pos = gtid_pos(&mut p, &primary).await?;
                wait_for(&mut c, &route.target, &pos, Duration::from_secs(120)).await?;
                let a = checksums(&mut p, &primary, &r.tables).await?;
                let b = checksums(&mut c, &route.target, &r.tables).await?;
                let differ: Vec<String> = a
                    .iter()
                    .zip(&b)
                    .filter(|(x, y)| x != y)
                    .map(|(x, y)| format!("`{}` (primary {}, replica {})", x.0, x.1, y.1))
                    .collect();
                if differ.is_empty() {
                    last.clear();
                    evidence.push(format!(
                        "{} at GTID {pos}, {} table(s) with equal CHECKSUM TABLE",
                        rep.name,
                        a.len()
                    ));
                    break;
                }
                last = differ.join(", ");
                tracing::warn!(category = "worker", replica = %rep.name, attempt, differ = %last, "replica differs from the primary after the restore");
                tokio::time::sleep(Duration::from_secs(1)).await;
            }
            let _ = sqlx::Connection::close(c).await;
            if !last.is_empty() {
                return Err(Error::new(
                    ErrorCode::CheckFailed,
                    format!("replica {} differs from the primary after the restore: {last}", rep.name),
                )
                .hint("The restore is rolled back; check the replica's SHOW SLAVE STATUS and its error log."));
            }
        }
        let _ = sqlx::Connection::close(p).await;
        Ok(Verified::by(evidence.join("; ")))
    }
}

async fn gtid_pos(conn: &mut MySqlConnection, t: &Target) -> Result<String> {
    let r = sqlx::Executor::fetch_one(&mut *conn, "SELECT @@GLOBAL.gtid_binlog_pos")
        .await
        .map_err(|e| t.error("could not read the GTID position of", e))?;
    Ok(schema::text_at(&r, 0).unwrap_or_default())
}

/// `MASTER_GTID_WAIT` on the replica. Errors: `job.check_failed` on timeout.
async fn wait_for(
    conn: &mut MySqlConnection,
    t: &Target,
    pos: &str,
    limit: Duration,
) -> Result<()> {
    let r = sqlx::Executor::fetch_one(
        &mut *conn,
        format!(
            "SELECT CAST(MASTER_GTID_WAIT({}, {}) AS CHAR)",
            quote_str(pos),
            limit.as_secs()
        )
        .as_str(),
    )
    .await
    .map_err(|e| t.error("could not wait for the GTID position on", e))?;
    if schema::text_at(&r, 0).as_deref() == Some("0") {
        return Ok(());
    }
    Err(Error::new(
        ErrorCode::CheckFailed,
        format!(
            "the {} did not reach the primary's GTID position {pos} within {} s",
            t.label,
            limit.as_secs()
        ),
    )
    .hint("Check the replica's SHOW SLAVE STATUS (threads, last error)."))
}

/// `CHECKSUM TABLE` of `tables` in `t.database`, in order.
async fn checksums(
    conn: &mut MySqlConnection,
    t: &Target,
    tables: &[String],
) -> Result<Vec<(String, String)>> {
    let mut out = Vec::new();
    for name in tables {
        let r = sqlx::Executor::fetch_one(
            &mut *conn,
            format!(
                "CHECKSUM TABLE {}.{}",
                nfops_mysql::literal::quote_ident(&t.database),
                nfops_mysql::literal::quote_ident(name)
            )
            .as_str(),
        )
        .await
        .map_err(|e| t.error("could not checksum a table of", e))?;
        let v = sqlx::Row::try_get::<Option<u64>, _>(&r, 1)
            .ok()
            .flatten()
            .map(|v| v.to_string())
            .or_else(|| {
                sqlx::Row::try_get::<Option<i64>, _>(&r, 1)
                    .ok()
                    .flatten()
                    .map(|v| v.to_string())
            })
            .or_else(|| schema::text_at(&r, 1))
            .unwrap_or_else(|| "missing".into());
        out.push((name.clone(), v));
    }
    Ok(out)
}
