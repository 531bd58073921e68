//! The atomic swap of the shadow tables into the target database, and its
//! roll back.
//!
//! Sequence (only after the shadow was verified):
//! 1. the target's current views, triggers, routines and events are read
//!    (kept as SQL, to put them back on roll back);
//! 2. a safety schema is created; triggers of the tables to move are dropped
//!    (MariaDB/MySQL refuse to move a table with triggers to another schema);
//! 3. ONE `RENAME TABLE db.a TO safety.a, …, shadow.a TO db.a, …` statement
//!    exchanges every table at once (foreign keys follow the tables they
//!    reference, so the old tables keep pointing at each other in the safety
//!    schema and the new ones at each other in the target);
//! 4. the backup's views, routines, events and triggers are created (a whole
//!    restore replaces all of them; a table-scoped one only the triggers of
//!    its tables).
//!
//! Every DDL of steps 2–4 is bounded ([`bounded`]): a short
//! `lock_wait_timeout`, a client-side timeout, and no start while another
//! session holds locks on the tables; a blocked swap is retried, then
//! refused with the target as it was.
//!
//! The swap does not clean up after a failure itself: whoever settles the
//! job rolls back from the [`Ledger`] and then reads on the server where
//! the tables and triggers are ([`inspect`]), so the outcome it reports is
//! what is live, not what should be.

pub mod bounded;
mod exchange;
mod objects;
mod roll_back;
mod safety;
mod state;
pub(crate) mod step;

use nfops_core::Result;
use nfops_mysql::literal::{quote_ident, quote_str};
use nfops_mysql::sqlx_reexport::MySqlConnection;
use nfops_mysql::{schema, Target};
use serde::{Deserialize, Serialize};

pub use bounded::LockBound;
pub use exchange::{swap_in, Ledger, SwapSpec};
pub use roll_back::{roll_back, roll_back_latest};
pub use safety::{prune_safety, safety_schemas};
pub use state::{inspect, trigger_name, SwapState};

/// What a swap did: enough to roll it back (also after a crash: it is
/// stored with the job's step messages).
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct SwapRecord {
    pub database: String,
    pub shadow: String,
    pub safety: String,
    /// Tables moved from the target into the safety schema.
    pub moved_out: Vec<String>,
    /// Tables moved from the shadow into the target.
    pub moved_in: Vec<String>,
    /// SQL recreating the target's previous views, triggers, routines and events.
    pub previous_objects: String,
    /// Whether the swap replaced every table (not a table-scoped restore).
    pub whole: bool,
}

/// The table in a safety schema holding its [`SwapRecord`] as JSON.
pub const RECORD_TABLE: &str = "nfops_swap_record";

pub(super) fn q(db: &str, t: &str) -> String {
    format!("{}.{}", quote_ident(db), quote_ident(t))
}

pub(super) async fn rows(
    conn: &mut MySqlConnection,
    target: &Target,
    what: &str,
    sql: &str,
) -> Result<Vec<String>> {
    let r = sqlx::Executor::fetch_all(&mut *conn, sql)
        .await
        .map_err(|e| target.error(&format!("could not read {what} of"), e))?;
    Ok(r.iter().filter_map(|r| schema::text_at(r, 0)).collect())
}

/// Foreign keys between a table inside `scope` and one outside it (a
/// table-scoped swap would leave them pointing into the safety schema).
pub async fn crossing_foreign_keys(
    conn: &mut MySqlConnection,
    target: &Target,
    scope: &[String],
) -> Result<Vec<String>> {
    let r = sqlx::Executor::fetch_all(
        &mut *conn,
        format!(
            "SELECT TABLE_NAME, REFERENCED_TABLE_NAME, CONSTRAINT_NAME FROM information_schema.REFERENTIAL_CONSTRAINTS WHERE CONSTRAINT_SCHEMA = {}",
            quote_str(&target.database)
        )
        .as_str(),
    )
    .await
    .map_err(|e| target.error("could not read the foreign keys of", e))?;
    let mut out = Vec::new();
    for row in &r {
        let (Some(t), Some(p), Some(c)) = (
            schema::text_at(row, 0),
            schema::text_at(row, 1),
            schema::text_at(row, 2),
        ) else {
            continue;
        };
        if scope.contains(&t) != scope.contains(&p) {
            out.push(format!("`{t}` → `{p}` ({c})"));
        }
    }
    Ok(out)
}

/// Every table of schema `db` (any type).
pub(super) async fn tables_in(
    conn: &mut MySqlConnection,
    target: &Target,
    db: &str,
) -> Result<Vec<String>> {
    let sql = format!(
        "SELECT TABLE_NAME FROM information_schema.TABLES WHERE TABLE_SCHEMA = {}",
        quote_str(db)
    );
    rows(conn, target, "the tables", &sql).await
}

/// Every trigger of schema `db`.
pub(super) async fn triggers_in(
    conn: &mut MySqlConnection,
    target: &Target,
    db: &str,
) -> Result<Vec<String>> {
    let sql = format!(
        "SELECT TRIGGER_NAME FROM information_schema.TRIGGERS WHERE TRIGGER_SCHEMA = {}",
        quote_str(db)
    );
    rows(conn, target, "the triggers", &sql).await
}
