//! The content hash computed here from streamed rows (what the table
//! comparison of checks and restores now uses) equals the SQL rendering of
//! the same definition (`live_hash_sql`), on every table of the stack's data
//! and on a scratch database `nf_hash` of awkward values: zero dates, JSON,
//! 4-byte UTF-8, binary with NUL bytes, DECIMAL, FLOAT, BIT, NULLs, a
//! generated column, duplicate rows without a key, a system-versioned table
//! with history. One changed byte changes it.

use nfops_mysql::hash::{live_table_hash_of, streamed_table_hash_of};
use nfops_mysql::schema;
use nfops_testkit::{db, Stack};

const SETUP: &str = "DROP DATABASE IF EXISTS nf_hash; CREATE DATABASE nf_hash; USE nf_hash; \
SET SESSION sql_mode = 'NO_AUTO_VALUE_ON_ZERO'; \
CREATE TABLE odd (d DATE, dt DATETIME(6), j JSON, t VARCHAR(20) CHARACTER SET utf8mb4, b VARBINARY(16), \
  n DECIMAL(20,6), f FLOAT, bits BIT(10), g INT AS (LENGTH(t)) STORED, v INT AS (n + 1) VIRTUAL); \
INSERT INTO odd (d, dt, j, t, b, n, f, bits) VALUES \
  ('0000-00-00', '0000-00-00 00:00:00', '{\"a\": [1, 2.5, null]}', 'x😀y', X'00FF0010', -12.5, 1.1, b'1010101010'), \
  (NULL, '2026-01-02 03:04:05.678901', NULL, '', X'', 0, -0, NULL), \
  ('2026-12-31', NULL, '\"s\"', 'N', NULL, 99999999999999.999999, 3.4e38, b'0'); \
CREATE TABLE dups (a INT, b TEXT); INSERT INTO dups VALUES (1, 'x'), (1, 'x'), (NULL, NULL); \
CREATE TABLE ver (id INT PRIMARY KEY, c INT) WITH SYSTEM VERSIONING; \
INSERT INTO ver VALUES (1, 1), (2, 2); UPDATE ver SET c = 3 WHERE id = 1; DELETE FROM ver WHERE id = 2;";

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn streamed_hashes_equal_the_sql_definition_on_every_table() {
    let Some(stack) = Stack::from_env("streamed_hashes_equal_the_sql_definition") else {
        return;
    };
    db::exec(&stack.target("staging", "information_schema"), SETUP).await;
    for (env, database) in [("staging", "newfinity"), ("staging", "nf_hash")] {
        let t = stack.target(env, database);
        let mut conn = t.connect().await.expect("connect");
        let tables = schema::tables(&mut conn, &t).await.expect("tables");
        assert!(!tables.is_empty(), "{database} has tables");
        for table in &tables {
            let sql = live_table_hash_of(&mut conn, &t, table)
                .await
                .expect("sql hash");
            let streamed = streamed_table_hash_of(&mut conn, &t, table)
                .await
                .expect("streamed hash");
            assert_eq!(
                streamed, sql,
                "{database}.{}: streamed {streamed:?} vs SQL {sql:?}",
                table.name
            );
        }
    }
    let t = stack.target("staging", "nf_hash");
    let mut conn = t.connect().await.expect("connect");
    let odd = schema::tables(&mut conn, &t)
        .await
        .expect("tables")
        .into_iter()
        .find(|x| x.name == "odd")
        .expect("odd");
    let before = streamed_table_hash_of(&mut conn, &t, &odd)
        .await
        .expect("hash");
    assert_eq!(before.rows, 3);
    sqlx::Executor::execute(&mut conn, "UPDATE odd SET b = X'00FF0011' WHERE t = 'x😀y'")
        .await
        .expect("update");
    let after = streamed_table_hash_of(&mut conn, &t, &odd)
        .await
        .expect("hash");
    assert_eq!(after.rows, 3);
    assert_ne!(after.sum, before.sum, "one changed byte changes the hash");
    db::exec(
        &stack.target("staging", "information_schema"),
        "DROP DATABASE nf_hash",
    )
    .await;
}
