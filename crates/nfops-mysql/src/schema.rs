//! What a database holds: tables with their columns and keys, and the
//! objects restored after the data (views, triggers, routines, events).

use sqlx::mysql::{MySqlConnection, MySqlRow};
use sqlx::Row;

use crate::literal::{quote_ident, quote_str, ColumnClass};
use crate::Target;
use nfops_core::Result;

/// A column of a base table.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Column {
    pub name: String,
    pub data_type: String,
    pub class: ColumnClass,
    /// Generated (virtual or stored) columns are computed on restore; they are
    /// left out of INSERT column lists and of the content hash.
    pub generated: bool,
}

/// A base table and what the planner needs to know about it.
#[derive(Debug, Clone)]
pub struct Table {
    pub name: String,
    pub columns: Vec<Column>,
    /// The primary key's column when it is a single integer column (the
    /// table can then be chunked by key range).
    pub int_pk: Option<String>,
    /// The server's estimate (`information_schema.TABLES.TABLE_ROWS`).
    pub est_rows: u64,
    /// Data size on disk, estimated.
    pub est_bytes: u64,
    /// `WITH SYSTEM VERSIONING`: its rows are read and written with their
    /// history (`FOR SYSTEM_TIME ALL`, period columns included).
    pub versioned: bool,
}

/// The period columns MariaDB gives a system-versioned table that declares none.
const IMPLICIT_PERIOD: [&str; 2] = ["row_start", "row_end"];

/// The `SET` a session needs to insert rows with their period columns
/// (MariaDB 10.11+); written at the top of a versioned table's data files.
pub const INSERT_HISTORY: &str = "SET SESSION system_versioning_insert_history = 1;";

impl Table {
    /// What a SELECT of all its rows reads from: the history too when versioned.
    pub fn from_clause(&self) -> String {
        if self.versioned {
            format!("{} FOR SYSTEM_TIME ALL", quote_ident(&self.name))
        } else {
            quote_ident(&self.name)
        }
    }

    /// The stored (non-generated) columns, in order.
    pub fn stored_columns(&self) -> impl Iterator<Item = &Column> {
        self.columns.iter().filter(|c| !c.generated)
    }
}

/// The server's GTID position: everything it has written to its binary log
/// (MariaDB `gtid_binlog_pos`, MySQL `gtid_executed`). The one reading of
/// it: the dump records it, the restore's replica check waits for it.
/// None when the server has no binary log or no GTID.
pub async fn gtid_position(conn: &mut MySqlConnection) -> Option<String> {
    for q in [
        "SELECT @@GLOBAL.gtid_binlog_pos",
        "SELECT @@GLOBAL.gtid_executed",
    ] {
        if let Ok(r) = sqlx::Executor::fetch_one(&mut *conn, q).await {
            return text_at(&r, 0).filter(|g| !g.is_empty());
        }
    }
    None
}

/// Column `i` of a text-protocol row as UTF-8 text (None for NULL).
pub fn text_at(row: &MySqlRow, i: usize) -> Option<String> {
    bytes_at(row, i).map(|b| String::from_utf8_lossy(b).into_owned())
}

/// Column `i` of a text-protocol row as its raw text-form bytes (None for NULL).
pub fn bytes_at(row: &MySqlRow, i: usize) -> Option<&[u8]> {
    row.try_get_unchecked::<Option<&[u8]>, _>(i).ok().flatten()
}

async fn rows(
    conn: &mut MySqlConnection,
    target: &Target,
    what: &str,
    sql: &str,
) -> Result<Vec<MySqlRow>> {
    sqlx::Executor::fetch_all(&mut *conn, sql)
        .await
        .map_err(|e| target.error(&format!("could not read {what} of"), e))
}

/// Every table of the target's database that holds rows (base and
/// system-versioned; sequences and views are not), with columns and
/// estimates, ordered by name.
pub async fn tables(conn: &mut MySqlConnection, target: &Target) -> Result<Vec<Table>> {
    let db = quote_str(&target.database);
    let list = rows(
        conn,
        target,
        "the table list",
        &format!(
            "SELECT TABLE_NAME, COALESCE(TABLE_ROWS, 0), COALESCE(DATA_LENGTH, 0), TABLE_TYPE FROM information_schema.TABLES \
             WHERE TABLE_SCHEMA = {db} AND TABLE_TYPE IN ('BASE TABLE', 'SYSTEM VERSIONED') ORDER BY TABLE_NAME"
        ),
    )
    .await?;
    let cols = rows(
        conn,
        target,
        "the columns",
        &format!(
            "SELECT TABLE_NAME, COLUMN_NAME, DATA_TYPE, COALESCE(GENERATION_EXPRESSION, ''), EXTRA FROM information_schema.COLUMNS \
             WHERE TABLE_SCHEMA = {db} ORDER BY TABLE_NAME, ORDINAL_POSITION"
        ),
    )
    .await?;
    let keys = rows(
        conn,
        target,
        "the primary keys",
        &format!(
            "SELECT TABLE_NAME, COLUMN_NAME FROM information_schema.KEY_COLUMN_USAGE \
             WHERE TABLE_SCHEMA = {db} AND CONSTRAINT_NAME = 'PRIMARY' ORDER BY TABLE_NAME, ORDINAL_POSITION"
        ),
    )
    .await?;
    let mut out = Vec::with_capacity(list.len());
    for r in &list {
        let name = text_at(r, 0).unwrap_or_default();
        let versioned = text_at(r, 3).as_deref() == Some("SYSTEM VERSIONED");
        let mut columns: Vec<Column> = cols
            .iter()
            .filter(|c| text_at(c, 0).as_deref() == Some(name.as_str()))
            .map(|c| {
                let data_type = text_at(c, 2).unwrap_or_default();
                let extra = text_at(c, 4).unwrap_or_default().to_ascii_uppercase();
                let expr = text_at(c, 3).unwrap_or_default();
                // A declared period column is dumped: the history needs it.
                let period = expr == "ROW START" || expr == "ROW END";
                Column {
                    name: text_at(c, 1).unwrap_or_default(),
                    class: ColumnClass::of(&data_type),
                    data_type,
                    generated: !period
                        && (!expr.is_empty()
                            || extra.contains("GENERATED")
                            || extra.contains("PERSISTENT")
                            || extra.contains("VIRTUAL")),
                }
            })
            .collect();
        let declares_period = cols.iter().any(|c| {
            text_at(c, 0).as_deref() == Some(name.as_str())
                && text_at(c, 3).as_deref() == Some("ROW START")
        });
        if versioned && !declares_period {
            // Implicit (invisible) period columns are not in information_schema.COLUMNS.
            columns.extend(IMPLICIT_PERIOD.iter().map(|n| Column {
                name: (*n).to_owned(),
                data_type: "timestamp".into(),
                class: ColumnClass::Text,
                generated: false,
            }));
        }
        let pk: Vec<String> = keys
            .iter()
            .filter(|k| text_at(k, 0).as_deref() == Some(name.as_str()))
            .filter_map(|k| text_at(k, 1))
            .collect();
        let int_pk = match pk.as_slice() {
            // A versioned table's key repeats across its history: no key ranges.
            _ if versioned => None,
            [one] => columns
                .iter()
                .find(|c| &c.name == one)
                .filter(|c| {
                    matches!(
                        c.data_type.to_ascii_lowercase().as_str(),
                        "tinyint" | "smallint" | "mediumint" | "int" | "integer" | "bigint"
                    )
                })
                .map(|c| c.name.clone()),
            _ => None,
        };
        out.push(Table {
            est_rows: text_at(r, 1).and_then(|v| v.parse().ok()).unwrap_or(0),
            est_bytes: text_at(r, 2).and_then(|v| v.parse().ok()).unwrap_or(0),
            name,
            columns,
            int_pk,
            versioned,
        });
    }
    Ok(out)
}

/// `CREATE TABLE` of `table`, as the server prints it.
pub async fn create_table(
    conn: &mut MySqlConnection,
    target: &Target,
    table: &str,
) -> Result<String> {
    let r = rows(
        conn,
        target,
        &format!("the definition of table `{table}`"),
        &format!("SHOW CREATE TABLE {}", quote_ident(table)),
    )
    .await?;
    Ok(r.first().and_then(|r| text_at(r, 1)).unwrap_or_default())
}

/// `CREATE SEQUENCE` of `name`, as the server prints it.
pub async fn create_sequence(
    conn: &mut MySqlConnection,
    target: &Target,
    name: &str,
) -> Result<String> {
    let r = rows(
        conn,
        target,
        &format!("the definition of sequence `{name}`"),
        &format!("SHOW CREATE SEQUENCE {}", quote_ident(name)),
    )
    .await?;
    Ok(r.first().and_then(|r| text_at(r, 1)).unwrap_or_default())
}

/// Objects restored after the data, as SQL the `mysql` client replays
/// (`DELIMITER ;;` around bodies), with their `DEFINER` so their owner and
/// security context come back (a restore that may not set an owner strips
/// it, only when its plan said so).
#[derive(Debug, Default, Clone)]
pub struct PostObjects {
    pub views: Vec<String>,
    pub triggers: Vec<String>,
    pub routines: Vec<String>,
    pub events: Vec<String>,
    /// The SQL text of all of them, in restore order.
    pub sql: String,
}

/// Reads views (ordered so a view comes after the views it uses), triggers,
/// procedures, functions and events.
// Long on purpose: views, triggers, routines and events are read in the order a restore must recreate them.
pub async fn post_objects(conn: &mut MySqlConnection, target: &Target) -> Result<PostObjects> {
    let db = quote_str(&target.database);
    let mut post = PostObjects::default();
    let mut sql = String::new();

    let view_names: Vec<String> = rows(conn, target, "the views", &format!(
        "SELECT TABLE_NAME FROM information_schema.VIEWS WHERE TABLE_SCHEMA = {db} ORDER BY TABLE_NAME"
    ))
    .await?
    .iter()
    .filter_map(|r| text_at(r, 0))
    .collect();
    let mut views = Vec::new();
    for v in &view_names {
        let r = rows(
            conn,
            target,
            &format!("view `{v}`"),
            &format!("SHOW CREATE VIEW {}", quote_ident(v)),
        )
        .await?;
        views.push((
            v.clone(),
            r.first().and_then(|r| text_at(r, 1)).unwrap_or_default(),
        ));
    }
    // A view that mentions another view comes after it (simple dependency order).
    let mut ordered: Vec<(String, String)> = Vec::new();
    while !views.is_empty() {
        let pick = views
            .iter()
            .position(|(n, body)| {
                !views
                    .iter()
                    .any(|(o, _)| o != n && body.contains(&quote_ident(o)))
            })
            .unwrap_or(0);
        ordered.push(views.remove(pick));
    }
    for (n, body) in ordered {
        sql.push_str(&format!("{body};\n"));
        post.views.push(n);
    }

    let triggers: Vec<String> = rows(conn, target, "the triggers", &format!(
        "SELECT TRIGGER_NAME FROM information_schema.TRIGGERS WHERE TRIGGER_SCHEMA = {db} ORDER BY EVENT_OBJECT_TABLE, ACTION_ORDER"
    ))
    .await?
    .iter()
    .filter_map(|r| text_at(r, 0))
    .collect();
    for t in triggers {
        let r = rows(
            conn,
            target,
            &format!("trigger `{t}`"),
            &format!("SHOW CREATE TRIGGER {}", quote_ident(&t)),
        )
        .await?;
        if let Some(row) = r.first() {
            push_body(&mut sql, text_at(row, 1), text_at(row, 2));
            post.triggers.push(t);
        }
    }

    let routines: Vec<(String, String)> = rows(conn, target, "the routines", &format!(
        "SELECT ROUTINE_TYPE, ROUTINE_NAME FROM information_schema.ROUTINES WHERE ROUTINE_SCHEMA = {db} ORDER BY ROUTINE_TYPE, ROUTINE_NAME"
    ))
    .await?
    .iter()
    .filter_map(|r| Some((text_at(r, 0)?, text_at(r, 1)?)))
    .collect();
    for (kind, name) in routines {
        let r = rows(
            conn,
            target,
            &format!("routine `{name}`"),
            &format!("SHOW CREATE {kind} {}", quote_ident(&name)),
        )
        .await?;
        if let Some(row) = r.first() {
            push_body(&mut sql, text_at(row, 1), text_at(row, 2));
            post.routines.push(name);
        }
    }

    let events: Vec<String> = rows(conn, target, "the events", &format!(
        "SELECT EVENT_NAME FROM information_schema.EVENTS WHERE EVENT_SCHEMA = {db} ORDER BY EVENT_NAME"
    ))
    .await?
    .iter()
    .filter_map(|r| text_at(r, 0))
    .collect();
    for e in events {
        let r = rows(
            conn,
            target,
            &format!("event `{e}`"),
            &format!("SHOW CREATE EVENT {}", quote_ident(&e)),
        )
        .await?;
        if let Some(row) = r.first() {
            // SHOW CREATE EVENT: Event, sql_mode, time_zone, Create Event.
            push_body(&mut sql, text_at(row, 1), text_at(row, 3));
            post.events.push(e);
        }
    }
    post.sql = sql;
    Ok(post)
}

/// Appends `body` under its own sql_mode, between `DELIMITER ;;` lines.
fn push_body(sql: &mut String, sql_mode: Option<String>, body: Option<String>) {
    let Some(body) = body else { return };
    let mode = sql_mode.unwrap_or_default();
    sql.push_str(&format!(
        "SET @nfops_saved_sql_mode = @@SESSION.sql_mode;\nSET SESSION sql_mode = {};\nDELIMITER ;;\n{} ;;\nDELIMITER ;\nSET SESSION sql_mode = @nfops_saved_sql_mode;\n",
        quote_str(&mode),
        body
    ));
}

/// Removes a `DEFINER=user@host` clause (quoted with backticks or quotes).
pub fn strip_definer(sql: &str) -> String {
    let Some(start) = sql.find("DEFINER=") else {
        return sql.to_owned();
    };
    let bytes = sql.as_bytes();
    let mut i = start + "DEFINER=".len();
    let mut quote: Option<u8> = None;
    while i < bytes.len() {
        let b = bytes[i];
        match quote {
            Some(q) if b == q => quote = None,
            Some(_) => {}
            None if b == b'`' || b == b'\'' || b == b'"' => quote = Some(b),
            None if b == b' ' => break,
            None => {}
        }
        i += 1;
    }
    let rest = sql[i..].trim_start();
    format!("{}{}", &sql[..start], rest)
}

#[cfg(test)]
mod tests {
    use super::strip_definer;

    #[test]
    fn definer_is_removed() {
        assert_eq!(
            strip_definer("CREATE DEFINER=`nf ops`@`localhost` TRIGGER t BEFORE INSERT"),
            "CREATE TRIGGER t BEFORE INSERT"
        );
        assert_eq!(
            strip_definer("CREATE ALGORITHM=UNDEFINED DEFINER=`root`@`%` SQL SECURITY DEFINER VIEW `v` AS select 1"),
            "CREATE ALGORITHM=UNDEFINED SQL SECURITY DEFINER VIEW `v` AS select 1"
        );
        assert_eq!(
            strip_definer("CREATE VIEW v AS select 1"),
            "CREATE VIEW v AS select 1"
        );
    }
}
