//! End to end: in the real app on the local stack, promote staging's release
//! to production by typing the target's name and clicking; production then
//! serves it through nginx. Then offer the broken release from staging and
//! watch the promotion roll back by itself.
//!
//! Starts from production v1 / staging v2 (set explicitly) and puts them back.

mod support;

use std::time::Duration;

use nfops_core::config::{Config, Host};
use nfops_core::credentials::MemoryCredentials;
use nfops_core::SecretString;
use nfops_fleet::SshSession;
use nfops_promote::host::{reload_apps, switch_current};
use nfops_promote::release::current_release;
use nfops_vault::Keyring;
use support::{stack, App, Stack};

/// A keyring service private to this test, filled with the stack's credentials.
struct TestKeyring {
    service: String,
    names: Vec<String>,
}

impl TestKeyring {
    fn load(stack: &Stack) -> Self {
        let service = format!("nfops-e2e-promote-{}", std::process::id());
        let keyring = Keyring::with_service(&service);
        let mut names = Vec::new();
        for (name, value) in stack.credentials() {
            keyring
                .set(&name, &SecretString::new(value))
                .unwrap_or_else(|e| panic!("store {name} in the test keyring: {e}"));
            names.push(name);
        }
        Self { service, names }
    }
}

impl Drop for TestKeyring {
    fn drop(&mut self) {
        let keyring = Keyring::with_service(&self.service);
        for n in &self.names {
            let _ = keyring.delete(n);
        }
    }
}

/// The stack's hosts, reached the way the console reaches them.
struct Hosts {
    config: Config,
    creds: MemoryCredentials,
    known_hosts: tempfile::TempDir,
}

impl Hosts {
    fn new(stack: &Stack) -> Self {
        let creds = MemoryCredentials::default();
        for (n, v) in stack.credentials() {
            creds.insert(&n, &v);
        }
        Self {
            config: Config::load(&stack.config()).expect("stack config"),
            creds,
            known_hosts: tempfile::tempdir().expect("tempdir"),
        }
    }

    fn of(&self, env: &str) -> Vec<Host> {
        self.config
            .environment(env)
            .expect("env")
            .hosts
            .iter()
            .map(|h| h.get_ref().clone())
            .collect()
    }

    async fn session(&self, h: &Host) -> SshSession {
        SshSession::connect(h, &self.creds, &self.known_hosts.path().join("kh"))
            .await
            .expect("ssh")
    }

    /// `current` → `id` on every host of `env`; `reload` restarts the apps too.
    async fn set(&self, env: &str, id: &str, reload: bool) {
        for h in self.of(env) {
            let s = self.session(&h).await;
            let now = current_release(&s, &h).await.map(|r| r.id).ok();
            if now.as_deref() != Some(id) {
                switch_current(&s, &h, id).await.expect("switch");
                if reload {
                    reload_apps(&s, &h).await.expect("reload");
                }
            }
            s.disconnect().await;
        }
    }

    async fn releases(&self, env: &str) -> Vec<String> {
        let mut out = Vec::new();
        for h in self.of(env) {
            let s = self.session(&h).await;
            out.push(current_release(&s, &h).await.expect("release").id);
            s.disconnect().await;
        }
        out
    }

    fn entry(&self, env: &str) -> String {
        self.config
            .environment(env)
            .expect("env")
            .health_url
            .as_ref()
            .expect("health_url")
            .get_ref()
            .replace("/health", "")
    }
}

async fn promote_in_ui(app: &App, release: &str, want: &[&str]) -> String {
    app.click("[data-testid=promote-replan]").await;
    // The fresh plan (the page clears the old one while it reads the hosts).
    app.wait_for(
        &format!("[data-testid=promote-plan][data-release='{release}'][data-blocked=false]"),
        Duration::from_secs(60),
    )
    .await;
    let secs = app
        .wait_for("[data-testid=promote-verify-secs]", Duration::from_secs(10))
        .await;
    secs.clear().await.expect("clear");
    secs.send_keys("8").await.expect("type verify secs");
    let confirm = app
        .wait_for("[data-testid=promote-confirm]", Duration::from_secs(10))
        .await;
    confirm.send_keys("production").await.expect("type confirm");
    app.click("[data-testid=promote-button]").await;
    // The page drops the previous result when the promotion starts.
    tokio::time::sleep(Duration::from_secs(1)).await;
    app.wait_for("[data-testid=promote-live]", Duration::from_secs(30))
        .await;
    app.wait_attr(
        "[data-testid=promote-result]",
        "data-state",
        want,
        Duration::from_secs(300),
    )
    .await
}

/// Scrolls the live progress and the outcome into view for the screenshot.
async fn show_result(app: &App) {
    let _ = app
        .client
        .execute(
            "document.querySelector('[data-testid=promote-live]').scrollIntoView()",
            vec![],
        )
        .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn promote_in_the_app_then_watch_a_broken_release_roll_back() {
    let Some(stack) = stack() else { return };
    let hosts = Hosts::new(&stack);
    hosts.set("production", "v1", true).await;
    hosts.set("staging", "v2", true).await;
    let keys = TestKeyring::load(&stack);
    let app = App::launch(&[
        ("NFOPS_CONFIG", stack.config().display().to_string()),
        ("NFOPS_KEYRING_SERVICE", keys.service.clone()),
    ])
    .await;
    app.click("[data-testid=nav-promote]").await;
    app.wait_for("[data-testid=plan-host]", Duration::from_secs(60))
        .await;
    app.screenshot("promote-plan").await;

    let state = promote_in_ui(
        &app,
        "v2",
        &[
            "succeeded",
            "refused",
            "failed",
            "rolled_back",
            "rollback_failed",
        ],
    )
    .await;
    let summary = app.text("[data-testid=promote-result]").await;
    show_result(&app).await;
    app.screenshot("promote-succeeded").await;
    assert_eq!(state, "succeeded", "the promotion succeeds: {summary}");
    assert_eq!(hosts.releases("production").await, vec!["v2", "v2"]);
    let http = reqwest::Client::new();
    for _ in 0..4 {
        let v: serde_json::Value = http
            .get(format!("{}/version", hosts.entry("production")))
            .send()
            .await
            .expect("nginx")
            .json()
            .await
            .expect("json");
        assert_eq!(v["release"], "v2", "production serves staging's release");
    }
    app.wait_for(
        "[data-testid=history-row][data-state=succeeded]",
        Duration::from_secs(10),
    )
    .await;

    // Staging now offers the broken release (its symlink; still serving v2).
    hosts.set("staging", "v3-broken", false).await;
    let state = promote_in_ui(
        &app,
        "v3-broken",
        &[
            "succeeded",
            "refused",
            "failed",
            "rolled_back",
            "rollback_failed",
        ],
    )
    .await;
    let summary = app.text("[data-testid=promote-result]").await;
    app.wait_for(
        "[data-testid=live-job][data-kind=rollback]",
        Duration::from_secs(5),
    )
    .await;
    show_result(&app).await;
    app.screenshot("promote-rolled-back").await;
    hosts.set("staging", "v2", false).await;
    assert_eq!(
        state, "rolled_back",
        "the broken release rolls back by itself: {summary}"
    );
    assert_eq!(
        hosts.releases("production").await,
        vec!["v2", "v2"],
        "production is back on what it ran before"
    );
    app.close().await;
    hosts.set("production", "v1", true).await;
    unapply_v2_migration(&stack.dir);
}

/// Production's schema back to what `stack up` leaves (v1's migrations
/// only): every promotion to v2 or v3-broken applies `002_orders_note`, which
/// v1 does not need. MariaDB's root logs in on the instance's own socket.
fn unapply_v2_migration(stack: &std::path::Path) {
    let out = std::process::Command::new("mysql")
        .arg("-S")
        .arg(stack.join("mariadb-production/run/mysqld.sock"))
        .args([
            "-u",
            "root",
            "newfinity",
            "-e",
            "ALTER TABLE orders DROP COLUMN IF EXISTS note; DELETE FROM schema_migrations WHERE version = '002_orders_note'",
        ])
        .output()
        .expect("mysql client");
    assert!(
        out.status.success(),
        "un-applying 002 failed: {}",
        String::from_utf8_lossy(&out.stderr)
    );
}
