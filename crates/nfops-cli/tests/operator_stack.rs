//! One operator per environment across processes, typed confirmation
//! enforced below the UI, and `started` audit entries, end to end with the
//! real `nfops` binary against the local stack. The stack's staging is
//! turned into a `region` tier here, so it is guarded like production while
//! its database stays directly reachable.

use std::path::PathBuf;
use std::process::{Command, Output, Stdio};
use std::time::{Duration, Instant};

use nfops_core::lease::{LeaseAction, ProcessKind};

struct Run {
    home: tempfile::TempDir,
    config: PathBuf,
    service: String,
}

impl Run {
    fn nfops_home(&self) -> PathBuf {
        self.home.path().join("home")
    }

    fn nfops(&self, args: &[&str]) -> Output {
        nfops_testkit::run_nfops(&self.nfops_home(), &self.config, &self.service, args, None)
    }

    fn command(&self, args: &[&str]) -> Command {
        let mut c = nfops_testkit::nfops_command(&self.nfops_home(), &self.config);
        c.args(args)
            .env("NFOPS_KEYRING_SERVICE", &self.service)
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped());
        c
    }

    fn ok(&self, args: &[&str], stdin: Option<&str>) -> serde_json::Value {
        let mut a = vec!["--json"];
        a.extend_from_slice(args);
        let out =
            nfops_testkit::run_nfops(&self.nfops_home(), &self.config, &self.service, &a, stdin);
        assert!(
            out.status.success(),
            "nfops {args:?} must succeed: {}",
            nfops_testkit::output_text(&out)
        );
        serde_json::from_slice(&out.stdout).expect("JSON on stdout")
    }

    fn console(&self, rt: &tokio::runtime::Runtime, kind: ProcessKind) -> nfops_ops::Console {
        // The app's path: the same NFOPS_HOME (state.db) as the CLI.
        std::env::set_var("NFOPS_HOME", self.nfops_home());
        std::env::set_var("NFOPS_KEYRING_SERVICE", &self.service);
        rt.block_on(nfops_ops::Console::open(Some(&self.config)))
            .expect("console")
            .with_process_kind(kind)
    }

    fn audit(&self) -> Vec<serde_json::Value> {
        let list = self.ok(&["audit", "list", "--limit", "200"], None);
        let mut v = list.as_array().expect("array").clone();
        v.reverse();
        v
    }
}

fn exit_code(o: &Output) -> i32 {
    o.status.code().unwrap_or(-1)
}

fn setup(test: &str) -> Option<Run> {
    let stack = nfops_testkit::stack_dir(test).map(|s| s.dir)?;
    let home = tempfile::tempdir().expect("tempdir");
    let text = std::fs::read_to_string(stack.join("environments.toml")).expect("config");
    let guarded = text.replacen(
        "[environments.staging]\ntier = \"staging\"",
        "[environments.staging]\ntier = \"region\"",
        1,
    );
    assert_ne!(guarded, text, "the stack's staging section changed shape");
    let config = home.path().join("environments.toml");
    std::fs::write(&config, guarded).expect("write config");
    let run = Run {
        service: format!("nfops-operator-test-{}-{test}", std::process::id()),
        home,
        config,
    };
    for name in [
        "stack/staging/db",
        "nfops/age-identity",
        "nfops/backup-signing-key",
        "stack/s3/access-key",
        "stack/s3/secret-key",
    ] {
        let v = std::fs::read_to_string(stack.join("credentials").join(name))
            .expect("stack credential");
        run.ok(&["credentials", "set", name], Some(&v));
    }
    Some(run)
}

/// Waits until `env`'s lease has a holder (the other process took it).
fn wait_for_holder(
    rt: &tokio::runtime::Runtime,
    console: &nfops_ops::Console,
    env: &str,
) -> nfops_core::lease::Holder {
    let deadline = Instant::now() + Duration::from_secs(60);
    loop {
        if let Some(h) = rt.block_on(console.lease_holder(env)).expect("read lease") {
            return h;
        }
        assert!(
            Instant::now() < deadline,
            "the first process never took the lease"
        );
        std::thread::sleep(Duration::from_millis(50));
    }
}

#[test]
fn confirmation_leases_and_started_entries_across_processes() {
    let Some(run) = setup("confirmation_leases_and_started_entries_across_processes") else {
        return;
    };
    let backup = run.ok(&["backup", "run", "--env", "staging"], None);
    let id = backup["backupId"].as_str().expect("backup id").to_owned();

    // Typed confirmation, enforced below the UI: no --yes, no terminal.
    let o = run.nfops(&["restore", "--env", "staging", "--backup", &id]);
    assert_eq!(
        exit_code(&o),
        2,
        "a restore of a region tier without confirmation must not exit 0: {}",
        nfops_testkit::output_text(&o)
    );
    assert!(
        nfops_testkit::output_text(&o).contains("nothing was changed"),
        "{}",
        nfops_testkit::output_text(&o)
    );
    let o = run.nfops(&[
        "--json",
        "restore",
        "--env",
        "staging",
        "--backup",
        &id,
        "--confirm",
        "production",
    ]);
    assert_eq!(
        exit_code(&o),
        2,
        "a wrong typed name is refused: {}",
        nfops_testkit::output_text(&o)
    );
    assert!(
        String::from_utf8_lossy(&o.stdout).contains("confirmation.required"),
        "{}",
        nfops_testkit::output_text(&o)
    );
    let o = run.nfops(&["--json", "backup", "forget", "--env", "staging", "--apply"]);
    assert_eq!(
        exit_code(&o),
        2,
        "forget --apply on a region tier needs the typed name: {}",
        nfops_testkit::output_text(&o)
    );

    // CLI vs CLI: a second process is refused with the holder named.
    let mut first = run
        .command(&["backup", "run", "--env", "staging"])
        .spawn()
        .expect("first nfops");
    let rt = tokio::runtime::Runtime::new().expect("runtime");
    let app = run.console(&rt, ProcessKind::App);
    let holder = wait_for_holder(&rt, &app, "staging");
    assert_eq!(
        holder.pid,
        i64::from(first.id()),
        "the lease names the first process"
    );
    let o = run.nfops(&[
        "--json",
        "restore",
        "--env",
        "staging",
        "--backup",
        &id,
        "--confirm",
        "staging",
    ]);
    let text = nfops_testkit::output_text(&o);
    assert_eq!(
        exit_code(&o),
        9,
        "a second operator is refused (environment.busy): {text}"
    );
    assert!(
        text.contains("environment.busy")
            && text.contains("staging is being backed up by ")
            && text.contains(&format!("(cli, pid {})", first.id())),
        "the refusal names who, where and since when: {text}"
    );

    // A killed holder on this machine is taken over at once: its pid no
    // longer runs (or names a process that started later), so nobody waits
    // for the heartbeat's TTL. A holder on another machine still is judged
    // by its heartbeat alone (nfops-core lease tests).
    first.kill().expect("kill the first nfops");
    let _ = first.wait();
    let o = run.nfops(&[
        "--json", "backup", "forget", "--env", "staging", "--apply", "--yes",
    ]);
    assert!(
        o.status.success(),
        "a dead holder's lease is taken over: {}",
        nfops_testkit::output_text(&o)
    );
    let audit = run.audit();
    let takeover = audit
        .iter()
        .position(|e| e["action"] == "lease.takeover")
        .expect("the takeover is audited");
    // `started` is written before the deletion and its outcome after it.
    let started = audit
        .iter()
        .rposition(|e| e["action"] == "backup.forget" && e["outcome"] == "started")
        .expect("started entry");
    let done = audit
        .iter()
        .rposition(|e| e["action"] == "backup.forget" && e["outcome"] == "succeeded")
        .expect("outcome entry");
    assert!(
        takeover < started && started < done,
        "takeover, then started, then the outcome"
    );

    // CLI vs app: the app holds the lease (same state.db); the CLI is refused.
    let lease = rt
        .block_on(app.take_lease("staging", LeaseAction::Restore))
        .expect("app takes the lease");
    let o = run.nfops(&["--json", "backup", "run", "--env", "staging"]);
    let text = nfops_testkit::output_text(&o);
    assert_eq!(
        exit_code(&o),
        9,
        "the CLI is refused while the app restores: {text}"
    );
    assert!(
        text.contains("staging is being restored by ") && text.contains("(app, pid"),
        "{text}"
    );
    // And the app is refused while a CLI holds it.
    rt.block_on(lease.release()).expect("release");
    let mut cli = run
        .command(&["backup", "run", "--env", "staging"])
        .spawn()
        .expect("nfops");
    wait_for_holder(&rt, &app, "staging");
    let e = rt
        .block_on(app.take_lease("staging", LeaseAction::Promote))
        .err()
        .expect("the app is refused while the CLI backs up");
    assert_eq!(
        e.code(),
        nfops_core::ErrorCode::EnvironmentBusy,
        "{}",
        e.message()
    );
    assert!(e.message().contains("(cli, pid"), "{}", e.message());
    assert!(
        cli.wait().expect("wait").success(),
        "the CLI's backup still completes"
    );

    // The chain is keyed and its head exportable.
    let head = run.ok(&["audit", "head"], None);
    assert!(
        head["hash"].as_str().is_some_and(|h| h.starts_with("k1:")),
        "entries are keyed: {head}"
    );
    run.ok(&["audit", "verify"], None);

    failed_commands_release_at_once(&run, &rt, &app, &id);
    a_stalled_holder_taken_over_stops_its_backup(&run, &rt, &app);
    run.ok(&["audit", "verify"], None);
}

/// A CLI command that fails after taking the lease leaves no row behind:
/// the release is awaited before the process exits, not left to a spawned
/// task that shutdown may never run (which left the row for the 30 s TTL).
fn failed_commands_release_at_once(
    run: &Run,
    rt: &tokio::runtime::Runtime,
    app: &nfops_ops::Console,
    backup: &str,
) {
    // `orders` alone: its foreign key to `users` fails the preflight, after
    // the restore took the lease and wrote its started entry.
    let o = run.nfops(&[
        "--json",
        "restore",
        "--env",
        "staging",
        "--backup",
        backup,
        "--tables",
        "orders",
        "--confirm",
        "staging",
    ]);
    assert!(
        !o.status.success() && nfops_testkit::output_text(&o).contains("preflight failed"),
        "a restore whose preflight fails fails: {}",
        nfops_testkit::output_text(&o)
    );
    assert!(
        run.audit()
            .iter()
            .any(|e| e["action"] == "restore.run" && e["outcome"] == "started"),
        "the failing command did take the lease (its started entry is there)"
    );
    assert_eq!(
        rt.block_on(app.lease_holder("staging"))
            .expect("read lease"),
        None,
        "the failed command released its lease before exiting"
    );
    // And the next operator gets it at once, without waiting for the TTL.
    let l = rt
        .block_on(app.take_lease("staging", LeaseAction::Backup))
        .expect("free right after the failed command");
    rt.block_on(l.release()).expect("release");
}

/// Signals the first step's start of the job it watches.
/// Says when the job's first step starts, then holds the job there until
/// the test says go: the stall the test models, long enough for the
/// heartbeat to find the takeover whatever the machine's speed (a small
/// backup could otherwise finish between two heartbeats).
struct FirstStep {
    started: std::sync::mpsc::SyncSender<()>,
    go: std::sync::Mutex<std::sync::mpsc::Receiver<()>>,
}

impl nfops_core::jobs::Progress for FirstStep {
    fn event(&self, e: &nfops_core::jobs::ProgressEvent) {
        if let nfops_core::jobs::ProgressEvent::StepStarted { index: 0, .. } = e {
            let _ = self.started.try_send(());
            let go = self.go.lock().unwrap_or_else(|p| p.into_inner());
            let _ = go.recv_timeout(Duration::from_secs(60));
        }
    }
}

/// A holder stalled past the TTL is taken over; at its next heartbeat it
/// learns so and its running backup stops with `environment.busy` naming the
/// new holder, instead of working on as a second holder.
fn a_stalled_holder_taken_over_stops_its_backup(
    run: &Run,
    rt: &tokio::runtime::Runtime,
    app: &nfops_ops::Console,
) {
    // A short TTL: the heartbeat then runs every 0.5 s.
    std::env::set_var(nfops_core::lease::TTL_ENV, "2");
    let (tx, rx) = std::sync::mpsc::sync_channel(1);
    let (go, held) = std::sync::mpsc::sync_channel(1);
    let step = FirstStep {
        started: tx,
        go: std::sync::Mutex::new(held),
    };
    let job = {
        let app = app.clone();
        rt.spawn(async move {
            app.backup_run(
                "staging",
                std::sync::Arc::new(step),
                nfops_core::jobs::CancellationToken::new(),
            )
            .await
        })
    };
    rx.recv_timeout(Duration::from_secs(60))
        .expect("the backup job started");
    // The takeover another process makes once our heartbeat is older than
    // the TTL (our process stalled): the row now carries its token.
    let taken = rt
        .block_on(
            sqlx::query(
                "UPDATE environment_lease SET token = 'bob-token', operator = 'bob', host = 'bob-laptop', pid = 4242, process_kind = 'cli', action = 'restore' WHERE environment = 'staging'",
            )
            .execute(app.state().pool()),
        )
        .expect("take over");
    assert_eq!(taken.rows_affected(), 1, "the backup held the lease");
    // Three heartbeats (every 0.5 s) while the job is held, then let it go on.
    std::thread::sleep(Duration::from_millis(1500));
    let _ = go.send(());
    let (_, outcome) = rt
        .block_on(job)
        .expect("join")
        .expect("the backup returns an outcome");
    let err = outcome
        .job
        .error
        .clone()
        .expect("the job stopped with an error");
    assert_eq!(
        err.code, "environment.busy",
        "the job stopped for the lost lease, not something else: {err:?}"
    );
    assert!(
        err.message
            .contains("staging is being restored by bob on bob-laptop (cli, pid 4242)"),
        "the stop names the new holder: {}",
        err.message
    );
    assert!(
        outcome.path.is_none() && outcome.manifest.is_none(),
        "no backup was published by the holder that lost the lease"
    );
    let holder = rt
        .block_on(app.lease_holder("staging"))
        .expect("read")
        .expect("the new holder keeps its lease");
    assert_eq!(
        holder.operator, "bob",
        "our release did not delete bob's row"
    );
    assert!(
        run.audit()
            .iter()
            .any(|e| e["action"] == "lease.lost" && e["details"].to_string().contains("bob")),
        "the lost lease is audited with the new holder"
    );
    rt.block_on(
        sqlx::query("DELETE FROM environment_lease WHERE token = 'bob-token'")
            .execute(app.state().pool()),
    )
    .expect("end bob's lease");
    std::env::remove_var(nfops_core::lease::TTL_ENV);
}
