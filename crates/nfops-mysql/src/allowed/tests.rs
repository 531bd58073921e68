//! Unit tests of the allow-list: what the dump writes passes; each bypass found in review is refused.

use super::*;

fn refusal(kind: FileKind<'_>, stmt: &str) -> Option<String> {
    super::refusal(kind, stmt, Mode::default(), &scope())
}

fn scope() -> Scope {
    Scope {
        database: "newfinity".into(),
        owners: ["app@%".to_owned(), "nf owner@%".to_owned()].into(),
    }
}

#[test]
fn what_the_dump_writes_is_allowed() {
    for h in crate::dump::FILE_HEADER.lines() {
        assert_eq!(refusal(FileKind::Data("t"), h), None, "{h}");
        assert_eq!(refusal(FileKind::Post, h), None, "{h}");
    }
    let d = FileKind::Data("orders");
    assert_eq!(refusal(d, "SET autocommit = 0;"), None);
    assert_eq!(
        refusal(
            d,
            "INSERT INTO `orders` (`id`,`a``b`) VALUES (1,'x\\'),;'),(-2.5e-07,NULL),(3,X'00ff');"
        ),
        None
    );
    assert_eq!(refusal(d, "COMMIT;"), None);
    // A data or schema file cannot change how the server reads its literals.
    let nbe = "SET SESSION sql_mode = 'NO_BACKSLASH_ESCAPES';";
    assert!(refusal(d, nbe).is_some());
    assert!(refusal(FileKind::Schema, nbe).is_some());
    assert_eq!(
        refusal(
            FileKind::Post,
            "SET SESSION sql_mode = 'STRICT_TRANS_TABLES';"
        ),
        None
    );
    assert_eq!(refusal(d, crate::schema::INSERT_HISTORY), None);
    assert_eq!(
        refusal(FileKind::Schema, "DO SETVAL(`s``q`, 115, 0, 0);"),
        None
    );
    assert!(refusal(FileKind::Schema, "DO SETVAL(`s`, (SELECT 1), 0, 0)").is_some());
    assert!(refusal(
        FileKind::Schema,
        "DO SETVAL(`s`, 1, 0, 0); GRANT ALL ON *.* TO x"
    )
    .is_some());
    assert!(refusal(FileKind::Schema, "DO SETVAL(`other`.`s`, 1, 0, 0)").is_some());
    assert!(refusal(FileKind::Schema, crate::schema::INSERT_HISTORY).is_some());
    assert_eq!(refusal(FileKind::Schema, "CREATE TABLE `t` (\n  `id` int NOT NULL,\n  `c` varchar(3) DEFAULT 'a;b' COMMENT 'x'\n) ENGINE=InnoDB WITH SYSTEM VERSIONING"), None);
    assert_eq!(refusal(FileKind::Schema, "CREATE SEQUENCE `s` start with 1 minvalue 1 maxvalue 9 increment by 1 cache 1000 nocycle ENGINE=InnoDB"), None);
    let p = FileKind::Post;
    assert_eq!(refusal(p, "CREATE ALGORITHM=UNDEFINED SQL SECURITY DEFINER VIEW `v` AS select `newfinity`.`t`.`id` AS `id` from `newfinity`.`t`"), None);
    assert_eq!(refusal(p, "CREATE DEFINER=`app`@`%` TRIGGER `tr` BEFORE INSERT ON `t` FOR EACH ROW BEGIN IF NEW.a = 1 THEN SET NEW.b = 2; END IF; SET NEW.c = CASE WHEN 1 THEN 2 END; END"), None);
    assert_eq!(refusal(p, "CREATE PROCEDURE `p`(IN x INT)\nBEGIN\n -- a note; with a semicolon\n l: LOOP LEAVE l; END LOOP l;\n CASE x WHEN 1 THEN SELECT 1; END CASE;\nEND"), None);
    assert_eq!(refusal(p, "CREATE EVENT `e` ON SCHEDULE EVERY 1 DAY STARTS '2026-01-01 00:00:00' ON COMPLETION NOT PRESERVE ENABLE DO DELETE FROM t WHERE 1=0"), None);
    assert_eq!(
        refusal(
            p,
            "SET SESSION sql_mode = 'STRICT_TRANS_TABLES,NO_ENGINE_SUBSTITUTION'"
        ),
        None
    );
    assert_eq!(
        refusal(p, "SET @nfops_saved_sql_mode = @@SESSION.sql_mode"),
        None
    );
}

#[test]
fn anything_else_is_refused() {
    let d = FileKind::Data("orders");
    for bad in [
        "GRANT ALL ON *.* TO 'x'@'%';",
        "CREATE USER 'x'@'%' IDENTIFIED BY 'p';",
        "INSERT INTO `users` (`id`) VALUES (1);",
        "INSERT INTO `orders` (`id`) VALUES (1); GRANT ALL ON *.* TO x;",
        "INSERT INTO `orders` (`id`) VALUES (1) /*!50000 ; DROP DATABASE x */;",
        "INSERT INTO `orders` (`id`) VALUES (sleep(5));",
        "INSERT INTO `orders` (`id`) VALUES ((SELECT 1));",
        "SET GLOBAL read_only = 0;",
        "SET SESSION sql_mode = 'X'; GRANT ALL ON *.* TO x;",
        "USE mysql;",
    ] {
        assert!(
            refusal(d, bad).is_some(),
            "data line {bad:?} must be refused"
        );
    }
    for bad in [
        "DROP DATABASE newfinity",
        "CREATE USER 'x'@'%'",
        "CREATE TABLE `mysql`.`t` (id int)",
        "CREATE TABLE `t` (id int); GRANT ALL ON *.* TO x",
        "CREATE TABLE `t` (id int) /* x */",
        "CREATE TABLE `t` SELECT * FROM mysql.user",
        "CREATE TABLE `t` (id int) DATA DIRECTORY='/tmp'",
        "/*!50000 GRANT ALL ON *.* TO x */",
    ] {
        assert!(
            refusal(FileKind::Schema, bad).is_some(),
            "schema {bad:?} must be refused"
        );
    }
    for bad in [
        "CREATE VIEW `v` AS SELECT 1; GRANT ALL ON *.* TO x",
        "CREATE PROCEDURE `p`() BEGIN SELECT 1; END; CREATE USER x",
        "CREATE TRIGGER `tr` BEFORE INSERT ON `t` FOR EACH ROW SET NEW.a = 1; GRANT ALL ON *.* TO x",
        "CREATE FUNCTION `other`.`f`() RETURNS INT RETURN 1",
        "CREATE DATABASE x",
        "SET GLOBAL event_scheduler = ON",
    ] {
        assert!(refusal(FileKind::Post, bad).is_some(), "post {bad:?} must be refused");
    }
}

/// Every statement of `text` as a post file: the first refusal.
fn post_file(text: &str) -> Result<u64, Refused> {
    check_sql_file(FileKind::Post, text, &scope())
}

#[test]
fn a_per_object_no_backslash_escapes_mode_cannot_hide_a_statement() {
    // Under NO_BACKSLASH_ESCAPES the server ends '\' at its second quote, so
    // `; GRANT …;` is a second statement (sqlx sends multi-statements).
    let forged = "SET @nfops_saved_sql_mode = @@SESSION.sql_mode;\nSET SESSION sql_mode = 'NO_BACKSLASH_ESCAPES';\nDELIMITER ;;\nCREATE DEFINER=`app`@`%` TRIGGER `tr` BEFORE INSERT ON `t` FOR EACH ROW SET NEW.a = '\\'; GRANT ALL ON *.* TO x; #' ;;\nDELIMITER ;\nSET SESSION sql_mode = @nfops_saved_sql_mode;\n";
    let r = post_file(forged).expect_err("the hidden GRANT must be seen");
    assert_eq!(r.line, 4, "named at the trigger's line: {r:?}");
    // The same text under the default mode is one string: allowed.
    let plain = forged.replace("'NO_BACKSLASH_ESCAPES'", "'STRICT_TRANS_TABLES'");
    assert_eq!(post_file(&plain), Ok(4));
}

#[test]
fn executable_comments_are_refused_except_the_dump_header() {
    for bad in [
        "CREATE TABLE `t` (id int) /*M!100100 ; GRANT ALL ON *.* TO x */",
        "CREATE TABLE `t` (id int) /*!50001 , b int */",
        "CREATE TABLE `t` (id int /*! COMMENT 'x' */)",
    ] {
        let why = refusal(FileKind::Schema, bad).expect(bad);
        assert!(why.contains("executable comment"), "{bad}: {why}");
    }
    let p = FileKind::Post;
    for bad in [
        "CREATE DEFINER=`app`@`%` PROCEDURE `p`() BEGIN /*M! GRANT ALL ON *.* TO x; */ SELECT 1; END",
        "CREATE DEFINER=`app`@`%` EVENT `e` ON SCHEDULE EVERY 1 DAY DO /*!99999 GRANT ALL ON *.* TO x */ SELECT 1",
        "/*!40101 SET NAMES latin1 */",
        "/*M!999999 GRANT ALL ON *.* TO x */",
    ] {
        assert!(refusal(p, bad).is_some(), "{bad} must be refused");
    }
    assert_eq!(refusal(p, "/*!40101 SET NAMES utf8mb4 */"), None);
    // Another dialect's parser is not what this check reads.
    assert!(refusal(p, "SET SESSION sql_mode = 'ORACLE'").is_some());
    assert!(refusal(p, "SET SESSION sql_mode = 'STRICT_ALL_TABLES,MSSQL'").is_some());
}

#[test]
fn bodies_hold_only_allowed_statement_kinds() {
    let p = FileKind::Post;
    for bad in [
        // No `;`: the event's whole body is the GRANT.
        "CREATE DEFINER=`app`@`%` EVENT `e` ON SCHEDULE EVERY 1 DAY DO GRANT ALL ON *.* TO 'x'@'%'",
        "CREATE DEFINER=`app`@`%` TRIGGER `tr` BEFORE INSERT ON `t` FOR EACH ROW CREATE USER 'x'@'%'",
        "CREATE DEFINER=`app`@`%` PROCEDURE `p`() BEGIN REVOKE ALL ON *.* FROM y; END",
        "CREATE DEFINER=`app`@`%` PROCEDURE `p`() BEGIN SET GLOBAL read_only = 0; END",
        "CREATE DEFINER=`app`@`%` PROCEDURE `p`() BEGIN SET @a = 1, GLOBAL general_log = 1; END",
        "CREATE DEFINER=`app`@`%` PROCEDURE `p`() BEGIN SET PASSWORD FOR 'x'@'%' = PASSWORD('p'); END",
        "CREATE DEFINER=`app`@`%` PROCEDURE `p`() INSTALL SONAME 'x'",
        "CREATE DEFINER=`app`@`%` PROCEDURE `p`() BEGIN LOAD DATA INFILE '/etc/passwd' INTO TABLE t; END",
        "CREATE DEFINER=`app`@`%` PROCEDURE `p`() BEGIN SELECT * FROM t INTO OUTFILE '/tmp/x'; END",
        "CREATE DEFINER=`app`@`%` PROCEDURE `p`() BEGIN SELECT 1 INTO DUMPFILE '/tmp/x'; END",
        "CREATE DEFINER=`app`@`%` PROCEDURE `p`() BEGIN PREPARE s FROM @q; EXECUTE s; END",
        "CREATE DEFINER=`app`@`%` PROCEDURE `p`() BEGIN EXECUTE IMMEDIATE 'GRANT ALL ON *.* TO x'; END",
        "CREATE DEFINER=`app`@`%` PROCEDURE `p`() BEGIN DECLARE EXIT HANDLER FOR SQLEXCEPTION GRANT ALL ON *.* TO x; SELECT 1; END",
        "CREATE DEFINER=`app`@`%` PROCEDURE `p`() BEGIN IF 1 THEN DROP DATABASE newfinity; END IF; END",
        "CREATE DEFINER=`app`@`%` FUNCTION `f`() RETURNS INT BEGIN RETURN (SELECT LOAD_FILE('/etc/shadow')); END",
        "CREATE DEFINER=`app`@`%` PROCEDURE `p`() BEGIN SELECT 1; END END",
    ] {
        assert!(refusal(p, bad).is_some(), "{bad} must be refused");
    }
    for good in [
        "CREATE DEFINER=`app`@`%` PROCEDURE `p`(IN x INT)\nBEGIN\n  DECLARE done INT DEFAULT 0;\n  DECLARE CONTINUE HANDLER FOR NOT FOUND SET done = 1;\n  l: WHILE x > 0 DO SET x = x - 1; IF x = 3 THEN LEAVE l; ELSEIF x = 4 THEN ITERATE l; ELSE SELECT CASE WHEN x THEN 1 ELSE 2 END; END IF; END WHILE l;\n  REPEAT SET x = x + 1; UNTIL x > 5 END REPEAT;\n  INSERT INTO t (a) VALUES (IF(x, 1, 2));\n  CALL q(x);\nEND",
        "CREATE DEFINER=`nf owner`@`%` FUNCTION `f`(a INT) RETURNS varchar(10) CHARSET utf8mb4 COLLATE utf8mb4_unicode_ci DETERMINISTIC RETURN CONCAT('x', a)",
        "CREATE DEFINER=`app`@`%` EVENT `e` ON SCHEDULE EVERY 1 DAY STARTS '2026-01-01 00:00:00' ON COMPLETION NOT PRESERVE ENABLE COMMENT 'nightly; tidy' DO BEGIN DELETE FROM t WHERE a < 0; UPDATE `newfinity`.`t` SET a = 1; END",
        "CREATE DEFINER=`app`@`%` TRIGGER `tr` AFTER UPDATE ON `t` FOR EACH ROW INSERT INTO audit (id, password) VALUES (NEW.id, NEW.password)",
    ] {
        assert_eq!(refusal(p, good), None, "{good}");
    }
}

#[test]
fn definers_are_limited_to_recorded_owners() {
    let p = FileKind::Post;
    let why = refusal(
        p,
        "CREATE DEFINER=`root`@`localhost` PROCEDURE `p`() SELECT 1",
    )
    .expect("root is not a recorded owner");
    assert!(why.contains("root@localhost"), "{why}");
    assert!(
        refusal(p, "CREATE DEFINER='app'@'%' PROCEDURE `p`() SELECT 1").is_some(),
        "only the dump's form"
    );
    assert!(refusal(p, "CREATE DEFINER=CURRENT_USER PROCEDURE `p`() SELECT 1").is_some());
    assert!(refusal(p, "CREATE ALGORITHM=UNDEFINED DEFINER=`admin`@`%` SQL SECURITY DEFINER VIEW `v` AS select 1 AS `a`").is_some());
    assert_eq!(refusal(p, "CREATE ALGORITHM=UNDEFINED DEFINER=`app`@`%` SQL SECURITY DEFINER VIEW `v` AS select 1 AS `a`"), None);
    // A backup whose manifest records no owner may name none.
    let none = Scope::default();
    assert!(super::refusal(
        p,
        "CREATE DEFINER=`app`@`%` PROCEDURE `p`() SELECT 1",
        Mode::default(),
        &none
    )
    .is_some());
    let inv = crate::inventory::Inventory {
        objects: vec![crate::inventory::InventoryObject {
            definer: Some("app@%".into()),
            ..serde_json::from_str(r#"{"kind":"procedure","name":"p"}"#).expect("object")
        }],
    };
    assert_eq!(
        Scope::of("db", Some(&inv)).owners,
        ["app@%".to_owned()].into()
    );
}

#[test]
fn outside_engines_files_and_databases_are_refused() {
    let s = FileKind::Schema;
    for bad in [
        "CREATE TABLE `t` (`a` int) ENGINE=CONNECT TABLE_TYPE=CSV FILE_NAME='/etc/passwd'",
        "CREATE TABLE `t` (`a` int) ENGINE=CONNECT",
        "CREATE TABLE `t` (`a` int) ENGINE = FEDERATED CONNECTION='mysql://u:p@h/db/t'",
        "CREATE TABLE `t` (`a` int) ENGINE=SPIDER COMMENT='wrapper \"mysql\"'",
        "CREATE TABLE `t` (`a` int) ENGINE=MRG_MyISAM UNION=(`mysql`.`user`)",
        "CREATE TABLE `t` (`a` int) ENGINE=InnoDB INDEX DIRECTORY='/tmp'",
        "CREATE TABLE `t` (`a` int, FOREIGN KEY (`a`) REFERENCES `other`.`p` (`id`)) ENGINE=InnoDB",
        "CREATE VIEW `v` AS select 1",
    ] {
        assert!(refusal(s, bad).is_some(), "schema {bad} must be refused");
    }
    let p = FileKind::Post;
    for bad in [
        "CREATE ALGORITHM=UNDEFINED DEFINER=`app`@`%` SQL SECURITY DEFINER VIEW `v` AS select `mysql`.`user`.`Password` AS `p` from `mysql`.`user`",
        "CREATE ALGORITHM=UNDEFINED DEFINER=`app`@`%` SQL SECURITY DEFINER VIEW `v` AS select `x`.`a` AS `a` from (`newfinity`.`t` join `billing`.`cards` `x`)",
        "CREATE ALGORITHM=UNDEFINED DEFINER=`app`@`%` SQL SECURITY DEFINER VIEW `v` AS select * from information_schema.processlist",
        "CREATE DEFINER=`app`@`%` PROCEDURE `p`() BEGIN INSERT INTO other.t SELECT * FROM t; END",
        "CREATE DEFINER=`app`@`%` PROCEDURE `p`() BEGIN SELECT a FROM t, billing.cards; END",
        "CREATE DEFINER=`app`@`%` PROCEDURE `p`() BEGIN CALL other.q(); SELECT other.f(1); END",
        "CREATE DEFINER=`app`@`%` TRIGGER `tr` BEFORE INSERT ON `t` FOR EACH ROW UPDATE billing.cards SET n = 0",
    ] {
        let why = refusal(p, bad).unwrap_or_else(|| panic!("{bad} must be refused"));
        assert!(why.contains("database"), "{bad}: {why}");
    }
    assert_eq!(refusal(p, "CREATE ALGORITHM=UNDEFINED DEFINER=`app`@`%` SQL SECURITY INVOKER VIEW `v` AS select `x`.`a` AS `a`,count(`y`.`b`) AS `n` from (`newfinity`.`t` `x` join `newfinity`.`u` `y` on(`x`.`a` = `y`.`a`))"), None);
    assert_eq!(refusal(s, "CREATE TABLE `t` (`a` int, FOREIGN KEY (`a`) REFERENCES `p` (`id`)) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4"), None);
}

#[test]
fn control_characters_cannot_turn_code_into_a_comment() {
    // The server reads `--` followed by any control byte as a comment, and a
    // NUL ends a `#` comment: either would hide the rest of the line from a
    // checker that reads it as code, or show it a statement the server skips.
    let schema = "CREATE TABLE `t` (`a` int) ENGINE=InnoDB --\x0c '\n; DROP DATABASE other; CREATE USER evil IDENTIFIED BY 'pw'; GRANT ALL ON *.* TO evil -- '\n;\n";
    assert!(check_sql_file(FileKind::Schema, schema, &scope()).is_err());
    let post =
        "CREATE DEFINER=`app`@`%` PROCEDURE `p`() SELECT 1 # x\0; GRANT ALL ON *.* TO evil;\n";
    assert!(check_sql_file(FileKind::Post, post, &scope()).is_err());
    assert!(refusal(FileKind::Schema, "CREATE TABLE `t` (`a` int)\x01").is_some());
    // Inside quoted text a control byte is data, as the dump writes it.
    assert_eq!(
        refusal(
            FileKind::Data("t"),
            "INSERT INTO `t` (`a`) VALUES ('x\x01y');"
        ),
        None
    );
}

#[test]
fn a_reordered_save_of_the_mode_is_read_as_the_server_reads_it() {
    let text = "SET SESSION sql_mode = 'NO_BACKSLASH_ESCAPES';\nSET @nfops_saved_sql_mode = @@SESSION.sql_mode;\nSET SESSION sql_mode = @nfops_saved_sql_mode;\nCREATE DEFINER=`app`@`%` SQL SECURITY DEFINER VIEW `v` AS SELECT 'a\\'; GRANT ALL ON *.* TO evil; SELECT 1 -- \\'';\n";
    assert!(check_sql_file(FileKind::Post, text, &scope()).is_err());
}

#[test]
fn other_databases_are_refused_where_the_position_rules_do_not_reach() {
    let p = FileKind::Post;
    for bad in [
        "CREATE DEFINER=`app`@`%` SQL SECURITY DEFINER VIEW `v` AS SELECT s.x FROM t1 JOIN t2 ON t1.a = t2.a, otherdb.secrets s",
        "CREATE DEFINER=`app`@`%` SQL SECURITY DEFINER VIEW `v` AS SELECT s.x FROM (SELECT 1) d, otherdb.secrets s",
        "CREATE DEFINER=`app`@`%` TRIGGER `tr` AFTER INSERT ON `t` FOR EACH ROW INSERT otherdb.t VALUES (NEW.a)",
        "CREATE DEFINER=`app`@`%` TRIGGER `tr` AFTER INSERT ON `t` FOR EACH ROW REPLACE otherdb.t VALUES (NEW.a)",
        "CREATE DEFINER=`app`@`%` PROCEDURE `p`() UPDATE t1, otherdb.t2 SET t2.x = 0",
        "CREATE DEFINER=`app`@`%` PROCEDURE `p`() DELETE otherdb.t FROM t",
    ] {
        assert!(refusal(p, bad).is_some(), "must be refused: {bad}");
    }
    for good in [
        "CREATE DEFINER=`app`@`%` SQL SECURITY DEFINER VIEW `v` AS select `o`.`id` AS `id`, 1.5 AS `f` from (`newfinity`.`orders` `o` join `newfinity`.`users` `u` on(`o`.`user_id` = `u`.`id`))",
        "CREATE DEFINER=`app`@`%` TRIGGER `tr` BEFORE UPDATE ON `t` FOR EACH ROW SET NEW.a = OLD.a + 0.5",
        "CREATE DEFINER=`app`@`%` PROCEDURE `p`() BEGIN DECLARE r ROW TYPE OF t; SELECT r.a; UPDATE t SET t.a = 1; END",
    ] {
        assert_eq!(refusal(p, good), None, "must pass: {good}");
    }
}
