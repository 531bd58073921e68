//! The primary and one replica compared at one GTID position.
//!
//! Why a lock and not a retry: CHECKSUM TABLE on the primary and on the
//! replica read at different moments, so an application writing into a
//! restored table between the two readings made a good restore look
//! diverged (and rolled it back). Retrying "until the position did not move
//! around the checksum" never settles under a steady writer, because
//! `gtid_binlog_pos` moves with every write anywhere on the server. So:
//!
//! 1. on the primary, `LOCK TABLES <restored> READ` (a short
//!    `lock_wait_timeout`), read `gtid_binlog_pos` and the checksums: no
//!    write to those tables can land after that position while we hold it;
//! 2. on the replica, `MASTER_GTID_WAIT(pos)` (a short bound), then
//!    `LOCK TABLES <restored> READ` there too: the replica has applied every
//!    write to those tables up to `pos` and, the primary being locked, none
//!    after it, so its tables are the primary's at `pos` even if it has
//!    moved past `pos` for other tables;
//! 3. release the primary, checksum on the replica, release the replica.
//!
//! The application's writes to the restored tables wait for one CHECKSUM
//! TABLE pass and at most [`HOLD`] of replica catch-up (readers never wait);
//! the replica's SQL thread waits for its own checksum pass. A lock that
//! cannot be had within [`HOLD`] (a long transaction) or a replica that
//! does not reach `pos` within it is retried [`ATTEMPTS`] times, then
//! fails naming which.

use std::time::Duration;

use nfops_core::{Error, ErrorCode, Result};
use nfops_mysql::literal::{quote_ident, quote_str};
use nfops_mysql::sqlx_reexport::MySqlConnection;
use nfops_mysql::{schema, Target};

/// How long each lock is waited for, and how long the primary's lock is
/// held waiting for the replica to reach its position.
pub const HOLD: Duration = Duration::from_secs(5);
/// Tries before the comparison gives up.
pub const ATTEMPTS: u32 = 4;

/// The outcome of one consistent comparison.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Comparison {
    /// The primary's GTID position both sides were compared at.
    pub pos: String,
    /// Tables compared.
    pub tables: usize,
    /// "`t` (primary X, replica Y)" for every table that differs.
    pub differ: Vec<String>,
}

/// Compares CHECKSUM TABLE of `tables` (in each target's database) on the
/// primary and the replica at one GTID position of the primary.
///
/// Errors: `job.check_failed` when no consistent moment could be had in
/// [`ATTEMPTS`] tries (naming the lock or the replica's position); a failed
/// statement. Both sessions are unlocked whatever happens.
pub async fn at_one_position(
    p: &mut MySqlConnection,
    primary: &Target,
    c: &mut MySqlConnection,
    replica: &Target,
    tables: &[String],
) -> Result<Comparison> {
    let mut why = String::new();
    for attempt in 1..=ATTEMPTS {
        let got = attempt_once(p, primary, c, replica, tables).await;
        // Unlock both whatever happened (no-ops when nothing is held).
        let _ = sqlx::Executor::execute(&mut *p, "UNLOCK TABLES").await;
        let _ = sqlx::Executor::execute(&mut *c, "UNLOCK TABLES").await;
        match got? {
            Ok(done) => return Ok(done),
            Err(w) => {
                tracing::info!(category = "worker", attempt, why = %w, "replica comparison retried");
                why = w;
                tokio::time::sleep(Duration::from_millis(500 * u64::from(attempt))).await;
            }
        }
    }
    Err(Error::new(
        ErrorCode::CheckFailed,
        format!(
            "could not compare the {} with the {} at one GTID position in {ATTEMPTS} tries: {why}",
            replica.label, primary.label
        ),
    )
    .hint("A long transaction on a restored table, or a replica that falls behind, keeps the comparison from settling; check SHOW PROCESSLIST on both and SHOW SLAVE STATUS on the replica."))
}

/// One try: Ok(Ok) compared, Ok(Err(why)) retry, Err failed for good.
async fn attempt_once(
    p: &mut MySqlConnection,
    primary: &Target,
    c: &mut MySqlConnection,
    replica: &Target,
    tables: &[String],
) -> Result<std::result::Result<Comparison, String>> {
    if let Err(e) = lock(p, primary, tables).await {
        return Ok(Err(format!(
            "the restored tables could not be locked on the {} within {} s ({})",
            primary.label,
            HOLD.as_secs(),
            e.message()
        )));
    }
    let pos = schema::gtid_position(p).await.ok_or_else(|| {
        Error::new(
            ErrorCode::CheckFailed,
            format!(
                "the {} reports no GTID position (gtid_binlog_pos)",
                primary.label
            ),
        )
        .hint("Replicas are followed by GTID: check log_bin and gtid_domain_id on the primary.")
    })?;
    let a = checksums(p, primary, tables).await?;
    if !reached(c, replica, &pos, HOLD).await? {
        return Ok(Err(format!(
            "the {} did not reach GTID {pos} within {} s",
            replica.label,
            HOLD.as_secs()
        )));
    }
    if let Err(e) = lock(c, replica, tables).await {
        return Ok(Err(format!(
            "the restored tables could not be locked on the {} within {} s ({})",
            replica.label,
            HOLD.as_secs(),
            e.message()
        )));
    }
    sqlx::Executor::execute(&mut *p, "UNLOCK TABLES")
        .await
        .map_err(|e| primary.error("could not unlock the restored tables on", e))?;
    let b = checksums(c, replica, tables).await?;
    let differ = a
        .iter()
        .zip(&b)
        .filter(|(x, y)| x != y)
        .map(|(x, y)| format!("`{}` (primary {}, replica {})", x.0, x.1, y.1))
        .collect();
    Ok(Ok(Comparison {
        pos,
        tables: a.len(),
        differ,
    }))
}

/// `LOCK TABLES … READ` of `tables`, waiting at most [`HOLD`].
async fn lock(conn: &mut MySqlConnection, t: &Target, tables: &[String]) -> Result<()> {
    let list: Vec<String> = tables
        .iter()
        .map(|n| format!("{}.{} READ", quote_ident(&t.database), quote_ident(n)))
        .collect();
    sqlx::Executor::execute(
        &mut *conn,
        format!("SET SESSION lock_wait_timeout = {}", HOLD.as_secs()).as_str(),
    )
    .await
    .map_err(|e| t.error("could not bound the lock wait on", e))?;
    sqlx::Executor::execute(
        &mut *conn,
        format!("LOCK TABLES {}", list.join(", ")).as_str(),
    )
    .await
    .map_err(|e| t.error("could not lock the restored tables on", e))?;
    Ok(())
}

/// `MASTER_GTID_WAIT(pos, limit)` on the replica: whether it got there.
pub(crate) async fn reached(
    conn: &mut MySqlConnection,
    t: &Target,
    pos: &str,
    limit: Duration,
) -> Result<bool> {
    let r = sqlx::Executor::fetch_one(
        &mut *conn,
        format!(
            "SELECT CAST(MASTER_GTID_WAIT({}, {}) AS CHAR)",
            quote_str(pos),
            limit.as_secs().max(1)
        )
        .as_str(),
    )
    .await
    .map_err(|e| t.error("could not wait for the GTID position on", e))?;
    Ok(schema::text_at(&r, 0).as_deref() == Some("0"))
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
                quote_ident(&t.database),
                quote_ident(name)
            )
            .as_str(),
        )
        .await
        .map_err(|e| t.error("could not checksum a table of", e))?;
        let v = sqlx::Row::try_get::<Option<u64>, _>(&r, 1)
            .ok()
            .flatten()
            .map(|v| v.to_string())
            .or_else(|| schema::text_at(&r, 1))
            .unwrap_or_else(|| "missing".into());
        out.push((name.clone(), v));
    }
    Ok(out)
}
