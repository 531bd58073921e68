use std::path::Path;

use super::*;

const GOOD: &str = r#"
version = 1

[environments.production]
tier = "production"
health_url = "http://127.0.0.1:8080/health"

[[environments.production.hosts]]
name = "app-1"
address = "127.0.0.1"
port = 2222
user = "deploy"
ssh_key_credential = "prod/ssh"
host_key = "SHA256:IYrwn8y0cbLDk2xLCE1rqPan2l4Fw4JxP8WF1TFX/5Q"
app_dir = "/srv/app"
[environments.production.database]
host = "127.0.0.1"
port = 3306
name = "nf"
user = "nf_app"
password_credential = "prod/db"
via = "app-1"

[environments.staging]
tier = "staging"
"#;

fn p() -> &'static Path {
    Path::new("environments.toml")
}

#[test]
fn parses_and_orders_by_tier() {
    let c = Config::parse(p(), GOOD).expect("valid file");
    let names: Vec<&str> = c.environments().map(|(n, _)| n).collect();
    assert_eq!(
        names,
        ["staging", "production"],
        "staging sorts before production"
    );
    assert_eq!(c.credential_names(), ["prod/db", "prod/ssh"]);
}

#[test]
fn syntax_error_has_line_and_column() {
    let bad = "version = 1\n[environments.x]\ntier = \"staging\nfoo = 1\n";
    let e = Config::parse(p(), bad).expect_err("unterminated string");
    assert_eq!(e.code(), crate::ErrorCode::ConfigInvalid);
    assert!(
        e.message().starts_with("environments.toml:3:"),
        "message should point at line 3: {}",
        e.message()
    );
}

#[test]
fn plaintext_secret_is_refused_with_keyring_hint() {
    let bad = GOOD.replace(
        "password_credential = \"prod/db\"",
        "password = \"hunter2\"",
    );
    let e = Config::parse(p(), &bad).expect_err("password key is not allowed");
    assert!(
        e.message().contains(":21:"),
        "points at the password line: {}",
        e.message()
    );
    assert!(
        !e.message().contains("hunter2"),
        "the secret value must not be echoed"
    );
    assert!(e
        .hint_text()
        .unwrap_or_default()
        .contains("nfops credentials set"));
}

#[test]
fn via_must_name_a_host() {
    let bad = GOOD.replace("via = \"app-1\"", "via = \"bastion-9\"");
    let e = Config::parse(p(), &bad).expect_err("unknown host");
    assert!(e.message().contains("bastion-9"));
    assert!(
        e.message().contains(":22:"),
        "points at the via line: {}",
        e.message()
    );
}

#[test]
fn unknown_environment_lists_known_ones() {
    let c = Config::parse(p(), GOOD).expect("valid");
    let e = c.environment("prod").expect_err("no such env");
    assert_eq!(e.code(), crate::ErrorCode::UnknownEnvironment);
    assert!(e.hint_text().unwrap_or_default().contains("production"));
}

#[test]
fn line_col_counts_from_one() {
    assert_eq!(line_col("ab\ncd", 0), (1, 1));
    assert_eq!(line_col("ab\ncd", 4), (2, 2));
}

#[test]
fn secrets_dir_is_relative_to_the_config_folder_and_checked() {
    let path = Path::new("/etc/nfops/environments.toml");
    let c = Config::parse(path, "version = 1\n[secrets]\ndir = \"secrets\"\n").expect("valid");
    assert_eq!(
        c.secrets_dir(),
        Some(Path::new("/etc/nfops/secrets")),
        "a relative dir is resolved against the file's folder"
    );
    let abs = Config::parse(path, "version = 1\n[secrets]\ndir = \"/srv/s\"\n").expect("valid");
    assert_eq!(abs.secrets_dir(), Some(Path::new("/srv/s")));
    assert_eq!(
        Config::parse(path, "version = 1\n")
            .expect("valid")
            .secrets_dir(),
        None
    );
    let e = Config::parse(path, "version = 1\n[secrets]\ndir = \" \"\n").expect_err("empty");
    assert!(
        e.message().contains(":3:"),
        "points at the line: {}",
        e.message()
    );
    let e = Config::parse(path, "version = 1\n[secrets]\ndir = \"s\"\nkey = \"x\"\n")
        .expect_err("unknown");
    assert_eq!(
        e.code(),
        ErrorCode::ConfigInvalid,
        "unknown keys are refused"
    );
}

#[test]
fn backup_recipients_are_public_keys_only() {
    let with = |r: &str| format!("{GOOD}\n[environments.staging.backup]\nrecipients = [{r}]\n");
    let good = "\"age1ql3z7hjy54pw3hyww5ayyfg7zqgvc7w3j2elw8zmrj2kg5sfn9aqmcac8p\"";
    let c = Config::parse(p(), &with(good)).expect("a public key is accepted");
    let b = c
        .environment("staging")
        .expect("staging")
        .backup
        .as_ref()
        .expect("backup");
    assert_eq!(b.recipients.as_ref().map(|r| r.get_ref().len()), Some(1));
    assert_eq!(b.destination, None, "destination stays optional");
    let e = Config::parse(
        p(),
        &with("\"AGE-SECRET-KEY-1QQQQQQQQQQQQQQQQQQQQQQQQQQQQQQQQQQQQQQQQQQQQQQQQQQQQQQQQQQ\""),
    )
    .expect_err("a secret key is refused");
    assert!(
        e.message().contains("secret key") && !e.message().contains("QQQQ"),
        "says why, never echoes the key: {}",
        e.message()
    );
    let e = Config::parse(p(), &with("\"ssh-ed25519 AAAA\"")).expect_err("not an age key");
    assert!(
        e.message().contains(":28:"),
        "points at the line: {}",
        e.message()
    );
}

#[test]
fn backup_offsite_is_an_s3_bucket_with_named_credentials() {
    let with = |body: &str| {
        format!("{GOOD}\n[environments.staging.backup.offsite]\n{body}access_key_credential = \"s3/a\"\nsecret_key_credential = \"s3/s\"\n")
    };
    let c = Config::parse(
        p(),
        &with("endpoint = \"http://127.0.0.1:9000\"\npath_style = true\nbucket = \"nf-backups-offsite\"\nprefix = \"nf\"\n"),
    )
    .expect("a full offsite section is accepted");
    let o = c
        .environment("staging")
        .expect("staging")
        .backup
        .as_ref()
        .expect("backup")
        .offsite
        .as_ref()
        .expect("offsite");
    assert_eq!(o.bucket.get_ref(), "nf-backups-offsite");
    assert_eq!(
        (o.region.as_str(), o.path_style, o.prefix.as_str()),
        ("us-east-1", true, "nf")
    );
    let e = Config::parse(
        p(),
        &with("endpoint = \"s3.example.com\"\nbucket = \"nf-b\"\n"),
    )
    .expect_err("an endpoint without scheme is refused");
    assert!(e.message().contains("offsite.endpoint"), "{}", e.message());
    let e = Config::parse(p(), &with("endpoint = \"http://x\"\nbucket = \"nf/b\"\n"))
        .expect_err("a bucket with a folder is refused");
    assert!(e.message().contains("offsite.bucket"), "{}", e.message());
    let e = Config::parse(
        p(),
        &with("endpoint = \"http://x\"\nbucket = \"nf-b\"\nsecret_key = \"abc\"\n"),
    )
    .expect_err("unknown keys (and secret values) are refused");
    assert!(
        !e.message().contains("abc"),
        "never echoes a value: {}",
        e.message()
    );
}

#[test]
fn uptime_probes_parse_and_a_fast_interval_is_refused_with_its_line() {
    let good = "version = 1\n[environments.staging]\ntier = \"staging\"\n\n[[environments.staging.uptime]]\nname = \"api\"\ncheck = \"http\"\ntarget = \"https://api.example.com/health\"\nkeyword = \"ok\"\ninterval_seconds = 20\n\n[[environments.staging.uptime]]\nname = \"tls\"\ncheck = \"tls\"\ntarget = \"api.example.com:443\"\n";
    let c = Config::parse(p(), good).expect("valid uptime probes");
    let env = c.environment("staging").expect("staging");
    assert_eq!(env.uptime.len(), 2);
    assert_eq!(
        *env.uptime[1].get_ref().interval_seconds.get_ref(),
        60,
        "default interval"
    );
    assert_eq!(env.uptime[1].get_ref().failures_before_down, 3);

    let fast = good.replace("interval_seconds = 20", "interval_seconds = 5");
    let e = Config::parse(p(), &fast).expect_err("5 s is below the minimum");
    assert!(
        e.message().starts_with("environments.toml:10:") && e.message().contains("minimum of 20"),
        "{}",
        e.message()
    );
    let bad_target = good.replace("api.example.com:443", "api.example.com");
    let e = Config::parse(p(), &bad_target).expect_err("tls needs host:port");
    assert!(e.message().contains("does not fit"), "{}", e.message());
}

#[test]
fn drill_max_age_days_defaults_to_30_and_can_be_set() {
    let days = |extra: &str| {
        let c = Config::parse(
            p(),
            &format!("{GOOD}\n[environments.staging.backup]\n{extra}"),
        )
        .expect("valid file");
        c.environment("staging")
            .expect("staging")
            .backup
            .as_ref()
            .expect("backup")
            .drill_max_age_days
    };
    assert_eq!(days(""), 30);
    assert_eq!(days("drill_max_age_days = 7\n"), 7);
}

#[test]
fn production_and_region_hosts_must_pin_their_host_key() {
    let unpinned = GOOD.replace(
        "host_key = \"SHA256:IYrwn8y0cbLDk2xLCE1rqPan2l4Fw4JxP8WF1TFX/5Q\"\n",
        "",
    );
    let e = Config::parse(p(), &unpinned).expect_err("a production host without host_key");
    assert_eq!(e.code(), crate::ErrorCode::ConfigInvalid);
    assert!(
        e.message().starts_with("environments.toml:9:")
            && e.message().contains("app-1")
            && e.message().contains("host_key"),
        "the message points at the host and says what is missing: {}",
        e.message()
    );
    assert!(
        e.hint_text().is_some_and(|h| h.contains("ssh-keygen -lf")),
        "the hint says how to read the fingerprint: {:?}",
        e.hint_text()
    );
    let region = unpinned.replace("tier = \"production\"", "tier = \"region\"");
    assert!(
        Config::parse(p(), &region).is_err(),
        "region hosts are held to the same rule"
    );
    let staging = unpinned.replace("tier = \"production\"", "tier = \"staging\"");
    Config::parse(p(), &staging).expect("staging hosts may still be trusted on first use");
    let md5 = GOOD.replace(
        "SHA256:IYrwn8y0cbLDk2xLCE1rqPan2l4Fw4JxP8WF1TFX/5Q",
        "MD5:16:27:ac:a5:76:28:2d:36:63:1b:56:4d:eb:df:a6:48",
    );
    let e = Config::parse(p(), &md5).expect_err("an MD5 fingerprint");
    assert!(
        e.message().contains("not a SHA256 fingerprint"),
        "{}",
        e.message()
    );
}

#[test]
fn providers_parse_in_name_order_and_bad_rules_are_refused_at_their_line() {
    let good = format!(
        "{GOOD}\n[providers.payments]\nlabel = \"Payments\"\nmock = [\"PAYMENT_PROVIDER=mock\"]\ntest = [\"PAYMENT_SECRET_KEY=sk_test_*\"]\nlive = [\"PAYMENT_SECRET_KEY=sk_live_*\"]\n\n[providers.email]\nlive = [\"EMAIL_PROVIDER=smtp\"]\n"
    );
    let c = Config::parse(p(), &good).expect("valid providers");
    let names: Vec<&str> = c.providers().iter().map(|(n, _)| n.as_str()).collect();
    assert_eq!(names, ["email", "payments"]);
    assert!(
        c.credential_names().iter().all(|n| !n.contains("PAYMENT")),
        "rules name .env keys, not credentials"
    );

    let no_equals = good.replace("\"EMAIL_PROVIDER=smtp\"", "\"EMAIL_PROVIDER\"");
    let e = Config::parse(p(), &no_equals).expect_err("a rule without =");
    assert_eq!(e.code(), crate::ErrorCode::ConfigInvalid);
    let line = no_equals
        .lines()
        .position(|l| l.contains("\"EMAIL_PROVIDER\""))
        .expect("line")
        + 1;
    assert!(
        e.message()
            .starts_with(&format!("environments.toml:{line}:")),
        "{}",
        e.message()
    );
    assert!(
        e.message().contains("is not KEY=pattern"),
        "{}",
        e.message()
    );

    let empty = format!("{GOOD}\n[providers.sms]\nlabel = \"SMS\"\n");
    let e = Config::parse(p(), &empty).expect_err("no rules");
    assert!(
        e.message()
            .contains("provider 'sms' has no mock, test or live rule"),
        "{}",
        e.message()
    );

    let typo = good.replace("live = [\"EMAIL", "lives = [\"EMAIL");
    let e = Config::parse(p(), &typo).expect_err("unknown field");
    assert!(e.message().contains("lives"), "{}", e.message());
}
