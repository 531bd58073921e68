//! `nfops credentials list` with hosts that log in through the ssh-agent:
//! no keyring key is asked for them, one `ssh-agent` row names their
//! environments, and a key host beside them is still listed (and missing).

use nfops_testkit::{output_text as text, run_nfops};

const CONFIG: &str = r#"version = 1

[environments.production]
tier = "production"

[[environments.production.hosts]]
name = "prod-app-1"
address = "127.0.0.1"
user = "deploy"
ssh_auth = "agent"
host_key = "SHA256:nThbg6kXUpJWGl7E1IGOCspRomTxdCARLviKw6E5SY8"
app_dir = "/srv/app"

[environments.staging]
tier = "staging"

[[environments.staging.hosts]]
name = "stg-app-1"
address = "127.0.0.1"
user = "deploy"
ssh_auth = "agent"
agent_key = "SHA256:nThbg6kXUpJWGl7E1IGOCspRomTxdCARLviKw6E5SY8"
app_dir = "/srv/app"

[[environments.staging.hosts]]
name = "stg-app-2"
address = "127.0.0.1"
user = "deploy"
ssh_key_credential = "staging/ssh"
app_dir = "/srv/app"
"#;

#[test]
fn agent_hosts_need_no_keyring_key_and_show_as_ssh_agent() {
    let dir = tempfile::tempdir().expect("tempdir");
    let cfg = dir.path().join("environments.toml");
    std::fs::write(&cfg, CONFIG).expect("write config");
    let service = format!("nfops-cli-agent-test-{}", std::process::id());

    let out = run_nfops(
        dir.path(),
        &cfg,
        &service,
        &["--json", "credentials", "list"],
        None,
    );
    let rows: serde_json::Value = serde_json::from_slice(&out.stdout)
        .unwrap_or_else(|e| panic!("json ({e}): {}", text(&out)));
    let rows = rows.as_array().expect("a list");
    let names: Vec<&str> = rows.iter().filter_map(|r| r["name"].as_str()).collect();
    assert_eq!(
        names,
        ["staging/ssh", "ssh-agent"],
        "only the key host's credential is needed, plus the agent row: {rows:?}"
    );
    assert_eq!(rows[0]["state"], "missing");
    assert_eq!(rows[1]["state"], "agent");
    assert_eq!(
        rows[1]["usedBy"],
        serde_json::json!(["staging", "production"]),
        "the agent row names every environment with an agent host (tier order)"
    );
    assert_eq!(
        out.status.code(),
        Some(4),
        "the missing key credential still fails the listing: {}",
        text(&out)
    );

    let out = run_nfops(dir.path(), &cfg, &service, &["credentials", "list"], None);
    let t = text(&out);
    let agent_line = t
        .lines()
        .find(|l| l.starts_with("ssh-agent"))
        .unwrap_or_else(|| panic!("an ssh-agent line: {t}"));
    assert!(
        agent_line.contains("agent") && agent_line.contains("staging, production"),
        "{agent_line}"
    );
    assert!(!agent_line.contains("MISSING"), "{agent_line}");
}

#[test]
fn a_host_without_any_identity_is_a_config_error_naming_it() {
    let dir = tempfile::tempdir().expect("tempdir");
    let cfg = dir.path().join("environments.toml");
    let broken = CONFIG.replace("ssh_key_credential = \"staging/ssh\"\n", "");
    std::fs::write(&cfg, broken).expect("write config");
    let service = format!("nfops-cli-agent-test-b-{}", std::process::id());
    let out = run_nfops(dir.path(), &cfg, &service, &["credentials", "list"], None);
    assert_eq!(
        out.status.code(),
        Some(3),
        "config errors exit 3: {}",
        text(&out)
    );
    assert!(
        text(&out).contains("host 'stg-app-2'") && text(&out).contains("no SSH identity"),
        "{}",
        text(&out)
    );
}
