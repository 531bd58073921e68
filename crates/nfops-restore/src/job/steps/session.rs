//! Sessions and names of one restore job on the target server.
//!
//! Every session a restore opens pins `sql_mode` to what the dump itself
//! writes (`NO_AUTO_VALUE_ON_ZERO`): a server whose global mode holds
//! `NO_BACKSLASH_ESCAPES` or `ANSI_QUOTES` would otherwise read our quoted
//! literals and identifiers differently (the swap record, the loading).
//!
//! Shadow and safety schemas are named per job and per database: the
//! database part is cut to fit MySQL's 64 characters, so an 8-hex digest of
//! the whole database name follows it. Two databases sharing a long prefix,
//! or two jobs on one database, never share a schema or pick each other's
//! record.

use nfops_core::{Error, Result};
use nfops_mysql::sqlx_reexport::MySqlConnection;
use nfops_mysql::Target;
use sha2::{Digest, Sha256};

/// The `sql_mode` of every restore session: the one the dump's files assume.
pub const SQL_MODE: &str = "NO_AUTO_VALUE_ON_ZERO";

/// Opens a session on `target` (its database as default) with [`SQL_MODE`].
///
/// Errors: as `Target::connect`; a server refusing the mode.
pub async fn open(target: &Target) -> Result<MySqlConnection> {
    let mut conn = target.connect().await?;
    pin_sql_mode(&mut conn, target).await?;
    Ok(conn)
}

/// Sets [`SQL_MODE`] on `conn` (again, after SQL that set its own).
///
/// Errors: the server refuses it or the session is gone; what runs next
/// must not, since its literals are quoted for this mode.
pub async fn pin_sql_mode(conn: &mut MySqlConnection, target: &Target) -> Result<()> {
    sqlx::Executor::execute(
        &mut *conn,
        format!("SET SESSION sql_mode = '{SQL_MODE}'").as_str(),
    )
    .await
    .map(|_| ())
    .map_err(|e| target.error("could not pin the session's sql_mode on", e))
}

/// A session on the server without a default database (for CREATE/DROP
/// DATABASE and cross-schema statements), with [`SQL_MODE`].
pub async fn server_session(target: &Target) -> Result<MySqlConnection> {
    let t = Target {
        database: "information_schema".into(),
        ..target.clone()
    };
    open(&t).await.map_err(|e| {
        Error::new(
            e.code(),
            format!("could not connect to the {}", target.label),
        )
        .hint(
            e.hint_text()
                .unwrap_or("Check that the server is running and reachable."),
        )
        .source(e)
    })
}

/// A short id unique to one restore job (time and randomness), used in its
/// schema names: 6 lowercase hex digits.
pub fn job_tag() -> String {
    let mut h = Sha256::new();
    h.update(
        chrono::Utc::now()
            .timestamp_nanos_opt()
            .unwrap_or_default()
            .to_le_bytes(),
    );
    h.update(std::process::id().to_le_bytes());
    // The address of a fresh allocation adds entropy between tasks of one process.
    let probe = Box::new(0u8);
    h.update((&*probe as *const u8 as usize).to_le_bytes());
    hex::encode(h.finalize())[..6].to_owned()
}

/// 8 hex digits of SHA-256 of the whole database name.
fn digest(db: &str) -> String {
    hex::encode(Sha256::digest(db.as_bytes()))[..8].to_owned()
}

fn cut(s: &str, n: usize) -> String {
    s.chars().take(n).collect()
}

/// Name of the shadow schema of job `job` for database `db`:
/// `nfops_shadow_<db, 20 chars>_<digest>_<job>` (at most 13+20+1+8+1+6 = 49 chars).
pub fn shadow_schema(db: &str, job: &str) -> String {
    format!("{}{}", shadow_prefix(db), cut(job, 6))
}

/// What every shadow schema of `db` starts with (for finding orphans).
pub fn shadow_prefix(db: &str) -> String {
    format!("nfops_shadow_{}_{}_", cut(db, 20), digest(db))
}

/// Name of the safety schema keeping `db`'s previous tables from the swap of
/// job `job` at `at`: `nfops_safety_<db, 20>_<digest>_<YYYYmmddHHMMSS>_<job>`
/// (at most 13+20+1+8+1+14+1+6 = 64 chars).
pub fn safety_schema(db: &str, at: chrono::DateTime<chrono::Utc>, job: &str) -> String {
    format!(
        "nfops_safety_{}_{}_{}_{}",
        cut(db, 20),
        digest(db),
        at.format("%Y%m%d%H%M%S"),
        cut(job, 6)
    )
}

/// When `name` is a safety schema of `db` (this naming, or the older
/// `nfops_safety_<db>_<time>` where `db` was short enough to be written
/// whole), its time.
pub fn safety_time_of(name: &str, db: &str) -> Option<chrono::DateTime<chrono::Utc>> {
    let parse = |ts: &str| {
        chrono::NaiveDateTime::parse_from_str(ts, "%Y%m%d%H%M%S")
            .ok()
            .map(|t| t.and_utc())
    };
    let new_prefix = format!("nfops_safety_{}_{}_", cut(db, 20), digest(db));
    if let Some(rest) = name.strip_prefix(&new_prefix) {
        let (ts, job) = rest.split_once('_')?;
        if ts.len() == 14 && !job.is_empty() && job.chars().all(|c| c.is_ascii_hexdigit()) {
            return parse(ts);
        }
        return None;
    }
    // Older names held the database cut to 30 characters: only trusted when
    // nothing was cut, so another database's schema can never match.
    if db.chars().count() < 30 {
        let ts = name.strip_prefix(&format!("nfops_safety_{db}_"))?;
        if ts.len() == 14 {
            return parse(ts);
        }
    }
    None
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_fit_and_differ_per_job_and_per_database() {
        let long = "a".repeat(64);
        let at = chrono::Utc::now();
        let s = safety_schema(&long, at, "abcdef");
        assert!(s.len() <= 64, "{s} fits MySQL's 64 characters");
        assert!(shadow_schema(&long, "abcdef").len() <= 64);
        assert_ne!(
            shadow_schema("newfinity", &job_tag()),
            shadow_schema("newfinity", &job_tag()),
            "two jobs never share a shadow schema"
        );
        assert_ne!(
            safety_schema("newfinity", at, "abcdef"),
            safety_schema("newfinity", at, "abcdeg")
        );
    }

    #[test]
    fn a_safety_schema_belongs_to_one_database_only() {
        // The 30-character prefix bug: these two share their first 30 characters.
        let a = "customer_records_archive_2024_east";
        let b = "customer_records_archive_2024_west";
        let at = chrono::Utc::now();
        let sa = safety_schema(a, at, "0a1b2c");
        assert!(safety_time_of(&sa, a).is_some());
        assert!(
            safety_time_of(&sa, b).is_none(),
            "{sa} must never be taken for a schema of {b}"
        );
        // Old names: trusted only for a database short enough to be whole in them.
        assert!(safety_time_of("nfops_safety_newfinity_20260101120000", "newfinity").is_some());
        assert!(safety_time_of(
            "nfops_safety_customer_records_archive_2024_20260101120000",
            a
        )
        .is_none());
        assert!(safety_time_of("nfops_safety_newfinity_x_20260101120000", "newfinity").is_none());
    }
}
