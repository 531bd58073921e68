use super::*;

fn draft() -> EnvironmentDraft {
    EnvironmentDraft {
        name: "staging".into(),
        tier: Some(Tier::Staging),
        label: Some("Staging".into()),
        health_url: Some("http://127.0.0.1:18080/health".into()),
        hosts: vec![HostDraft {
            name: "stg-app-1".into(),
            address: "127.0.0.1".into(),
            port: 17022,
            user: "deploy".into(),
            ssh_auth: None,
            ssh_key_credential: Some("staging/ssh".into()),
            host_key: Some("SHA256:abcdefghijklmnopqrstuvwxyz0123456789ABCDEFG".into()),
            app_dir: "/srv/app".into(),
            roles: vec![],
        }],
        database: Some(DatabaseDraft {
            host: "127.0.0.1".into(),
            port: 3306,
            name: "newfinity".into(),
            user: "ops".into(),
            password_credential: "staging/db".into(),
            via: Some("stg-app-1".into()),
        }),
        storage: None,
        cache: Some(CacheDraft {
            host: "127.0.0.1".into(),
            port: 6379,
            db: None,
            key_prefix: Some("stg:".into()),
            password_credential: None,
            via: None,
        }),
        monitoring: None,
    }
}

fn at(dir: &tempfile::TempDir) -> PathBuf {
    dir.path().join("cfg").join("environments.toml")
}

#[test]
fn a_first_environment_is_written_on_the_template_and_loads_as_entered() {
    let dir = tempfile::tempdir().expect("tempdir");
    let path = at(&dir);
    let mut edit = ConfigEdit::open(&path).expect("a missing file opens as the template");
    assert!(!edit.exists());
    edit.set_environment(&draft()).expect("set");
    let config = edit.save().expect("saved");
    let text = std::fs::read_to_string(&path).expect("written");
    assert!(
        text.starts_with("# environments.toml"),
        "the template's comments stay: {text}"
    );
    let env = config.environment("staging").expect("staging");
    assert_eq!(env.tier, Tier::Staging);
    let host = env.hosts[0].get_ref();
    assert_eq!(
        (host.address.as_str(), host.port, host.user.as_str()),
        ("127.0.0.1", 17022, "deploy")
    );
    assert_eq!(host.ssh_key_credential.as_deref(), Some("staging/ssh"));
    assert_eq!(
        env.database.as_ref().map(|d| d.name.as_str()),
        Some("newfinity")
    );
    assert_eq!(
        env.cache.as_ref().and_then(|c| c.key_prefix.as_deref()),
        Some("stg:")
    );
    assert!(env.storage.is_none());
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        let mode = std::fs::metadata(&path).expect("meta").permissions().mode() & 0o777;
        assert_eq!(mode, 0o600, "written for this user only");
    }
    let leftovers: Vec<_> = std::fs::read_dir(path.parent().expect("dir"))
        .expect("ls")
        .filter_map(|e| e.ok())
        .filter(|e| e.file_name() != "environments.toml")
        .collect();
    assert!(
        leftovers.is_empty(),
        "no temporary file left: {leftovers:?}"
    );
}

const HAND_WRITTEN: &str = r#"version = 1

# Production: ask Dana before changing anything here.
[environments.production]
tier = "production"
health_url = "https://example.com/health" # through nginx

[[environments.production.hosts]]
# the old box
name = "prod-app-1"
address = "10.0.0.5"
user = "deploy"
ssh_key_credential = "prod/ssh"
host_key = "SHA256:abcdefghijklmnopqrstuvwxyz0123456789ABCDEFG"
app_dir = "/srv/app"
pm2_home = "/home/deploy/.pm2"

[[environments.production.hosts]]
name = "prod-app-2"
address = "10.0.0.6"
user = "deploy"
ssh_key_credential = "prod/ssh"
host_key = "SHA256:bbcdefghijklmnopqrstuvwxyz0123456789ABCDEFG"
app_dir = "/srv/app"

[environments.production.backup]
keep_daily = 9
"#;

#[test]
fn editing_keeps_comments_order_and_keys_the_forms_do_not_manage() {
    let dir = tempfile::tempdir().expect("tempdir");
    let path = at(&dir);
    std::fs::create_dir_all(path.parent().expect("dir")).expect("mkdir");
    std::fs::write(&path, HAND_WRITTEN).expect("write");
    let mut edit = ConfigEdit::open(&path).expect("open");
    let mut d = EnvironmentDraft {
        name: "production".into(),
        tier: Some(Tier::Production),
        health_url: Some("https://example.com/health".into()),
        ..Default::default()
    };
    let host = |name: &str, address: &str| HostDraft {
        name: name.into(),
        address: address.into(),
        port: 22,
        user: "deploy".into(),
        ssh_key_credential: Some("prod/ssh".into()),
        host_key: Some(format!("SHA256:{:A<43}", name.len())),
        app_dir: "/srv/app".into(),
        ..Default::default()
    };
    // prod-app-1 moves, prod-app-2 goes, prod-app-3 comes.
    d.hosts = vec![
        host("prod-app-1", "10.0.0.50"),
        host("prod-app-3", "10.0.0.7"),
    ];
    edit.set_environment(&d).expect("set");
    let text = edit.text();
    for kept in [
        "# Production: ask Dana before changing anything here.",
        "# through nginx",
        "# the old box",
        "pm2_home = \"/home/deploy/.pm2\"",
        "keep_daily = 9",
    ] {
        assert!(text.contains(kept), "{kept:?} kept in:\n{text}");
    }
    assert!(text.contains("address = \"10.0.0.50\""), "{text}");
    assert!(
        !text.contains("prod-app-2"),
        "a host left out of the draft goes: {text}"
    );
    let config = edit.save().expect("saved");
    let hosts: Vec<String> = config
        .environment("production")
        .expect("production")
        .hosts
        .iter()
        .map(|h| h.get_ref().name.clone())
        .collect();
    assert_eq!(hosts, ["prod-app-1", "prod-app-3"]);
    assert_eq!(
        config
            .environment("production")
            .expect("p")
            .backup
            .as_ref()
            .map(|b| b.keep_daily),
        Some(9),
        "the backup policy the form does not show is untouched"
    );
    let diff = edit.diff();
    assert!(diff
        .iter()
        .any(|l| l.op == "-" && l.text.contains("10.0.0.6")));
    assert!(diff
        .iter()
        .any(|l| l.op == "+" && l.text.contains("10.0.0.50")));
    assert!(diff
        .iter()
        .any(|l| l.op == " " && l.text.contains("ask Dana")));
}

#[test]
fn nothing_is_written_when_the_result_would_not_load_or_the_file_changed_meanwhile() {
    let dir = tempfile::tempdir().expect("tempdir");
    let path = at(&dir);
    std::fs::create_dir_all(path.parent().expect("dir")).expect("mkdir");
    std::fs::write(&path, HAND_WRITTEN).expect("write");

    // `via` names a host the environment does not have: the loader refuses it.
    let mut edit = ConfigEdit::open(&path).expect("open");
    let mut d = draft();
    d.database.as_mut().expect("db").via = Some("nowhere".into());
    edit.set_environment(&d)
        .expect("the draft itself is complete");
    let e = edit.save().expect_err("refused");
    assert_eq!(e.code(), ErrorCode::ConfigInvalid);
    assert!(e.to_string().contains("nowhere"), "{e}");
    assert_eq!(
        std::fs::read_to_string(&path).expect("read"),
        HAND_WRITTEN,
        "untouched"
    );

    // Another operator saved first: this edit is refused, theirs kept.
    let mut mine = ConfigEdit::open(&path).expect("open");
    mine.set_environment(&draft()).expect("set");
    let theirs = format!("{HAND_WRITTEN}\n# edited by someone else\n");
    std::fs::write(&path, &theirs).expect("their save");
    let e = mine.save().expect_err("conflict");
    assert_eq!(e.code(), ErrorCode::ConfigConflict);
    assert_eq!(std::fs::read_to_string(&path).expect("read"), theirs);

    // A file that is not TOML is not edited at all.
    std::fs::write(&path, "[environments\nbroken").expect("write");
    let e = ConfigEdit::open(&path).expect_err("not TOML");
    assert_eq!(e.code(), ErrorCode::ConfigInvalid);
    assert!(e.to_string().contains(":1:"), "names the line: {e}");
}

#[test]
fn hostile_names_and_values_are_refused_or_quoted_never_injected() {
    let dir = tempfile::tempdir().expect("tempdir");
    let mut edit = ConfigEdit::open(&at(&dir)).expect("open");
    let mut d = draft();
    d.name = "prod]\n[x".into();
    let e = edit.set_environment(&d).expect_err("bad name");
    assert_eq!(e.code(), ErrorCode::InvalidInput);

    let mut d = draft();
    d.hosts[0].app_dir = "/srv/app\"\n[environments.evil]\ntier = \"production".into();
    d.label = Some("Stage \"one\"\n# not a comment".into());
    edit.set_environment(&d).expect("set");
    let config = edit.validated().expect("still one valid file");
    assert_eq!(config.environments().count(), 1, "no environment injected");
    let env = config.environment("staging").expect("staging");
    assert_eq!(
        env.hosts[0].get_ref().app_dir,
        d.hosts[0].app_dir,
        "the value is kept exactly"
    );
    assert_eq!(env.label, d.label);

    let mut d = draft();
    d.hosts[0].ssh_key_credential = None;
    let e = edit
        .set_environment(&d)
        .expect_err("key login without a key");
    assert!(e.to_string().contains("stg-app-1"), "{e}");
}

#[test]
fn removing_an_environment_leaves_the_others_as_written() {
    let dir = tempfile::tempdir().expect("tempdir");
    let path = at(&dir);
    std::fs::create_dir_all(path.parent().expect("dir")).expect("mkdir");
    std::fs::write(&path, HAND_WRITTEN).expect("write");
    let mut edit = ConfigEdit::open(&path).expect("open");
    edit.set_environment(&draft()).expect("add staging");
    assert_eq!(edit.environment_names(), ["production", "staging"]);
    edit.remove_environment("staging").expect("remove");
    assert_eq!(edit.text(), HAND_WRITTEN, "adding then removing is a no-op");
    assert_eq!(
        edit.remove_environment("nope").expect_err("unknown").code(),
        ErrorCode::UnknownEnvironment
    );
}

#[test]
fn the_line_diff_marks_what_changed() {
    let d = line_diff("a\nb\nc\n", "a\nx\nc\nd\n");
    let ops: Vec<(&str, &str)> = d.iter().map(|l| (l.op.as_str(), l.text.as_str())).collect();
    assert_eq!(
        ops,
        [(" ", "a"), ("-", "b"), ("+", "x"), (" ", "c"), ("+", "d")]
    );
}

#[test]
fn a_loaded_environment_round_trips_through_its_draft_unchanged() {
    let dir = tempfile::tempdir().expect("tempdir");
    let path = at(&dir);
    std::fs::create_dir_all(path.parent().expect("dir")).expect("mkdir");
    std::fs::write(&path, HAND_WRITTEN).expect("write");
    let config = Config::load(&path).expect("loads");
    let d = EnvironmentDraft::of("production", config.environment("production").expect("p"));
    assert_eq!(d.hosts.len(), 2);
    let mut edit = ConfigEdit::open(&path).expect("open");
    edit.set_environment(&d).expect("set");
    assert_eq!(
        edit.text(),
        HAND_WRITTEN,
        "saving an unedited form changes nothing"
    );
    assert!(edit.diff().iter().all(|l| l.op == " "));
}

#[test]
fn inline_tables_keep_their_keys_and_a_non_table_is_refused_untouched() {
    let dir = tempfile::tempdir().expect("tempdir");
    let path = at(&dir);
    std::fs::create_dir_all(path.parent().expect("parent")).expect("dir");
    // Hand-written with inline tables, and a key the form does not manage (tls).
    let inline = r#"version = 1

[environments.staging]
tier = "staging"
hosts = [{ name = "stg-app-1", address = "127.0.0.1", port = 17022, user = "deploy", ssh_key_credential = "staging/ssh", host_key = "SHA256:abcdefghijklmnopqrstuvwxyz0123456789ABCDEFG", app_dir = "/srv/app" }]
database = { host = "127.0.0.1", port = 3306, name = "newfinity", user = "ops", password_credential = "staging/db", via = "stg-app-1", tls = "required" }
"#;
    std::fs::write(&path, inline).expect("write");
    let mut edit = ConfigEdit::open(&path).expect("open");
    edit.set_environment(&draft())
        .expect("an inline table is edited in place");
    let config = edit.save().expect("saved");
    let db = config
        .environment("staging")
        .expect("staging")
        .database
        .clone()
        .expect("database");
    assert_eq!(db.name, "newfinity");
    assert!(
        format!("{:?}", db.tls).to_lowercase().contains("required"),
        "the key the form does not manage survives: {:?}",
        db.tls
    );

    // `database = "…"` is not a table: refused, named, and the file is left as it was.
    let broken = inline.replace(
        r#"database = { host = "127.0.0.1", port = 3306, name = "newfinity", user = "ops", password_credential = "staging/db", via = "stg-app-1", tls = "required" }"#,
        r#"database = "mysql://somewhere""#,
    );
    std::fs::write(&path, &broken).expect("write");
    let mut edit = ConfigEdit::open(&path).expect("open");
    let e = edit.set_environment(&draft()).expect_err("not a table");
    assert_eq!(e.code(), ErrorCode::ConfigInvalid);
    assert!(
        e.message().contains("environments.staging.database") && e.message().contains("string"),
        "{}",
        e.message()
    );
    assert_eq!(
        std::fs::read_to_string(&path).expect("read"),
        broken,
        "nothing written"
    );
}
