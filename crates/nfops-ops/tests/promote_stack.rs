//! Promotions against the real local stack (`NFOPS_STACK_DIR`, in the
//! keyring of `scripts/with-keyring`): staging's release reaches both
//! production hosts with zero failed requests under load; a broken release,
//! Prometheus going away during verification and SSH going away between
//! hosts all end rolled back; a damaged artifact is refused before any host
//! changes.
//!
//! Each test sets the releases it starts from (production v1, staging v2)
//! and puts them back, so they run in any order and repeatedly. They share
//! one stack, so they run one at a time.

use std::ops::Deref;
use std::path::PathBuf;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex, OnceLock};
use std::time::Duration;

use nfops_core::jobs::{CancellationToken, NoProgress, Progress, ProgressEvent};
use nfops_core::SecretString;
use nfops_ops::{Console, PromotionOutcome, PromotionState};
use nfops_promote::PromotionOptions;
use nfops_testkit::frontend_fake as fake;
use nfops_testkit::serial;

/// The kit's stack (hosts, releases, `scripts/stack`) and a console on it.
struct Stack {
    kit: nfops_testkit::Stack,
    /// The config copy with a frontend, removed when the test ends.
    copy: Option<PathBuf>,
    console: Console,
}

impl Deref for Stack {
    type Target = nfops_testkit::Stack;
    fn deref(&self) -> &nfops_testkit::Stack {
        &self.kit
    }
}

static HOME: OnceLock<tempfile::TempDir> = OnceLock::new();

async fn stack(test: &str) -> Option<Stack> {
    stack_with(test, None).await
}

/// The stack, with the production frontend on the local provider server at
/// `url` (`vercel` or `netlify`) when `frontend` is given: the console then
/// reads a copy of the config, next to the original, with that section added.
async fn stack_with(test: &str, frontend: Option<(&str, &str)>) -> Option<Stack> {
    let kit = nfops_testkit::Stack::from_env(test)?;
    let mut config_path = kit.config_path();
    if let Some((provider, url)) = frontend {
        let text = std::fs::read_to_string(&config_path).expect("config");
        let copy = kit
            .dir
            .join(format!("environments-promote-test-{provider}.toml"));
        std::fs::write(
            &copy,
            format!("{text}\n[environments.production.frontend]\nprovider = \"{provider}\"\nproject = \"site1\"\napi_url = \"{url}\"\ntoken_credential = \"fe/token\"\n"),
        )
        .expect("write config copy");
        config_path = copy;
    }
    let copy = (frontend.is_some()).then(|| config_path.clone());
    // One console home per test binary (Paths reads NFOPS_HOME at open).
    let home = HOME.get_or_init(|| tempfile::tempdir().expect("tempdir"));
    std::env::set_var("NFOPS_HOME", home.path());
    std::env::set_var(
        "NFOPS_KEYRING_SERVICE",
        format!("nfops-promote-test-{}", std::process::id()),
    );
    let console = Console::open(Some(&config_path))
        .await
        .expect("console opens");
    for name in [
        "stack/ssh/deploy",
        "stack/production/db",
        "stack/staging/db",
        "nfops/age-identity",
        "stack/s3/access-key",
        "stack/s3/secret-key",
        "stack/redis",
    ] {
        console
            .set_credential(name, SecretString::new(kit.credential(name)))
            .await
            .expect("credential stored in the keyring");
    }
    console
        .set_credential("fe/token", SecretString::new(fake::TOKEN.to_owned()))
        .await
        .expect("frontend token stored");
    Some(Stack { kit, copy, console })
}

impl Drop for Stack {
    fn drop(&mut self) {
        if let Some(c) = &self.copy {
            let _ = std::fs::remove_file(c);
        }
    }
}

impl Stack {
    async fn promote(&self, progress: Arc<dyn Progress>) -> PromotionOutcome {
        self.promote_with(progress, None).await
    }

    async fn promote_with(
        &self,
        progress: Arc<dyn Progress>,
        approver: Option<&str>,
    ) -> PromotionOutcome {
        let options = PromotionOptions {
            verify_secs: 8,
            approver: approver.map(str::to_owned),
            ..PromotionOptions::default()
        };
        self.console
            .promote(
                "staging",
                "production",
                &options,
                Some("production"),
                progress,
                CancellationToken::new(),
            )
            .await
            .expect("a promotion returns an outcome")
    }
}

/// Steady keep-alive load on a URL until stopped: counts 2xx, other
/// statuses and socket errors (or 15 s of silence).
struct Load {
    stop: Arc<AtomicBool>,
    ok: Arc<AtomicU64>,
    failed: Arc<AtomicU64>,
    errors: Arc<AtomicU64>,
    samples: Arc<Mutex<Vec<String>>>,
    tasks: Vec<tokio::task::JoinHandle<()>>,
}

impl Load {
    fn start(url: &str, concurrency: usize) -> Load {
        let client = nfops_core::http::client_builder()
            .timeout(Duration::from_secs(15))
            .pool_max_idle_per_host(concurrency)
            .build()
            .expect("client");
        let l = Load {
            stop: Arc::new(AtomicBool::new(false)),
            ok: Arc::default(),
            failed: Arc::default(),
            errors: Arc::default(),
            samples: Arc::default(),
            tasks: Vec::new(),
        };
        let mut tasks = Vec::new();
        for _ in 0..concurrency {
            let (c, url) = (client.clone(), url.to_owned());
            let (stop, ok, failed, errors, samples) = (
                l.stop.clone(),
                l.ok.clone(),
                l.failed.clone(),
                l.errors.clone(),
                l.samples.clone(),
            );
            tasks.push(tokio::spawn(async move {
                while !stop.load(Ordering::Relaxed) {
                    match c.get(&url).send().await {
                        Ok(r) if r.status().is_success() => {
                            let _ = r.bytes().await;
                            ok.fetch_add(1, Ordering::Relaxed);
                        }
                        Ok(r) => {
                            failed.fetch_add(1, Ordering::Relaxed);
                            samples
                                .lock()
                                .expect("lock")
                                .push(format!("HTTP {}", r.status()));
                        }
                        Err(e) => {
                            errors.fetch_add(1, Ordering::Relaxed);
                            samples.lock().expect("lock").push(format!("{e}"));
                        }
                    }
                }
            }));
        }
        Load { tasks, ..l }
    }

    async fn finish(self) -> (u64, u64, u64, Vec<String>) {
        self.stop.store(true, Ordering::Relaxed);
        for t in self.tasks {
            t.await.expect("load task");
        }
        let samples = self.samples.lock().expect("lock").clone();
        (
            self.ok.load(Ordering::Relaxed),
            self.failed.load(Ordering::Relaxed),
            self.errors.load(Ordering::Relaxed),
            samples,
        )
    }
}

/// Runs `f` when a step whose name is `step` starts (blocking the job until
/// it returns: fault injection at an exact point).
struct OnStep {
    step: String,
    f: Mutex<Option<Box<dyn FnOnce() + Send>>>,
}

impl Progress for OnStep {
    fn event(&self, e: &ProgressEvent) {
        if let ProgressEvent::StepStarted { name, .. } = e {
            if *name == self.step {
                if let Some(f) = self.f.lock().expect("lock").take() {
                    f();
                }
            }
        }
    }
}

fn describe(o: &PromotionOutcome) -> String {
    format!(
        "{:?}: {} | gates {:?} | apply {:?} | rollback {:?}",
        o.state,
        o.summary,
        o.gates,
        o.apply.as_ref().map(|j| &j.steps),
        o.rollback.as_ref().map(|j| &j.steps)
    )
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn staging_release_reaches_every_production_host_with_zero_failed_requests() {
    let _g = serial().await;
    let provider = fake::provider(
        &[("dpl_old", "production"), ("dpl_new", "preview")],
        "dpl_old",
    );
    let url = fake::serve(provider.clone()).await;
    let Some(s) = stack_with("promote v2", Some(("vercel", &url))).await else {
        return;
    };
    s.baseline_releases().await;
    // prod-app-2 lacks v2, so its stage step streams it from staging.
    let _ = std::fs::remove_dir_all(s.dir.join("hosts/prod-app-2/app/releases/v2"));
    let load = Load::start(&format!("{}/version", s.entry_url("production")), 8);
    let o = s
        .promote_with(Arc::new(NoProgress), Some("release-manager"))
        .await;
    let (ok, failed, errors, samples) = load.finish().await;
    assert_eq!(o.state, PromotionState::Succeeded, "{}", describe(&o));
    let stage = o
        .apply
        .as_ref()
        .and_then(|j| j.steps.iter().find(|(n, _, _)| n == "stage prod-app-2"))
        .cloned();
    assert!(
        matches!(&stage, Some((_, nfops_core::jobs::StepState::Completed, Some(e)))
            if e.contains("copied from stg-app-1") && e.contains("files (") && e.contains("listing checked on arrival")),
        "the missing release was streamed and checked on arrival: {stage:?}"
    );
    assert_eq!(
        o.plan.pending_migrations,
        vec!["002_orders_note"],
        "the plan reads pending migrations from production's schema_migrations"
    );
    let migrations = o
        .apply
        .as_ref()
        .and_then(|j| j.steps.iter().find(|(n, _, _)| n == "migrations"))
        .cloned();
    assert!(
        matches!(&migrations, Some((_, nfops_core::jobs::StepState::Completed, Some(e))) if e.contains("002_orders_note")),
        "the migration was checked in schema_migrations after the first host: {migrations:?}"
    );
    assert_eq!(
        s.releases("production").await,
        vec!["v2", "v2"],
        "both hosts switched"
    );
    let live = provider.lock().expect("lock").live.clone();
    assert_eq!(
        live, "dpl_new",
        "the frontend's preview deployment was promoted through the Vercel API"
    );
    let http = nfops_core::http::client_builder().build().expect("client");
    for _ in 0..6 {
        let v: serde_json::Value = http
            .get(format!("{}/version", s.entry_url("production")))
            .send()
            .await
            .expect("nginx answers")
            .json()
            .await
            .expect("json");
        assert_eq!(
            v["release"], "v2",
            "every answer through nginx comes from v2"
        );
    }
    assert!(
        ok > 100,
        "the load really ran during the promotion: {ok} ok"
    );
    assert_eq!(
        (failed, errors),
        (0, 0),
        "no request may fail during a promotion: {samples:?}"
    );
    let history = s.console.promotion_history(5).await.expect("history");
    assert_eq!(history[0].id, o.id, "the promotion is in the history");
    assert_eq!(history[0].state, PromotionState::Succeeded);
    let audit = s.console.audit().list(50).await.expect("audit");
    assert!(
        audit.iter().any(|e| e.action == "promote.approve"
            && e.actor == "release-manager"
            && e.details.contains(&o.id)),
        "the second approver is the actor of a promote.approve entry"
    );
    for action in ["promote.plan", "promote.apply", "promote.verify"] {
        assert!(
            audit
                .iter()
                .any(|e| e.action == action && e.details.contains(&o.id)),
            "audit has {action}"
        );
    }
    s.baseline_releases().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn broken_release_rolls_back_by_itself_with_zero_failed_requests() {
    let _g = serial().await;
    let Some(s) = stack("promote v3-broken").await else {
        return;
    };
    s.baseline_releases().await;
    // Staging offers v3-broken (its symlink) while still serving v2.
    s.set_release("staging", "v3-broken", false).await;
    let load = Load::start(&format!("{}/version", s.entry_url("production")), 8);
    let o = s.promote(Arc::new(NoProgress)).await;
    let (ok, failed, errors, samples) = load.finish().await;
    s.set_release("staging", "v2", false).await;
    assert_eq!(o.state, PromotionState::RolledBack, "{}", describe(&o));
    assert_eq!(
        s.releases("production").await,
        vec!["v1", "v1"],
        "production is back on its old release"
    );
    assert!(
        o.record.switched.iter().any(|(h, _)| h == "prod-app-1"),
        "the first host had switched before the failure showed: {:?}",
        o.record.switched
    );
    assert!(ok > 100, "the load really ran: {ok}");
    assert_eq!(
        (failed, errors),
        (0, 0),
        "no request may fail during the promotion and its rollback: {samples:?}"
    );
    let audit = s.console.audit().list(50).await.expect("audit");
    assert!(
        audit
            .iter()
            .any(|e| e.action == "promote.rollback" && e.outcome == "succeeded"),
        "the rollback is audited"
    );
    s.baseline_releases().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn prometheus_down_during_verification_fails_closed_and_rolls_back() {
    let _g = serial().await;
    let provider = fake::provider(
        &[("d_old", "production"), ("d_new", "branch-deploy")],
        "d_old",
    );
    let url = fake::serve(provider.clone()).await;
    let Some(s) = stack_with("prometheus down", Some(("netlify", &url))).await else {
        return;
    };
    s.baseline_releases().await;
    let dir = s.dir.clone();
    let stop = OnStep {
        step: "verify".into(),
        f: Mutex::new(Some(Box::new(move || {
            let out = nfops_testkit::stack::script(&dir, &["stop", "prometheus"])
                .output()
                .expect("stack stop");
            assert!(out.status.success(), "prometheus stops");
        }))),
    };
    let o = s.promote(Arc::new(stop)).await;
    s.run(&["start", "prometheus"]);
    assert_eq!(o.state, PromotionState::RolledBack, "{}", describe(&o));
    let verify = o
        .apply
        .as_ref()
        .and_then(|j| j.error.as_ref())
        .map(|e| e.message.clone())
        .unwrap_or_default();
    assert!(
        verify.contains("Prometheus"),
        "the verification failed because Prometheus was gone: {verify}"
    );
    assert_eq!(s.releases("production").await, vec!["v1", "v1"]);
    {
        let p = provider.lock().expect("lock");
        assert_eq!(p.live, "d_old", "the frontend is rolled back too");
        assert_eq!(
            p.locked,
            vec!["d_new", "d_old"],
            "restored and locked, then the old one restored and locked"
        );
    }
    s.baseline_releases().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn damaged_artifact_is_refused_before_any_host_changes() {
    let _g = serial().await;
    let Some(s) = stack("checksum mismatch").await else {
        return;
    };
    s.baseline_releases().await;
    let file = s.dir.join("hosts/stg-app-1/app/releases/v2/server.js");
    let original = std::fs::read(&file).expect("read server.js");
    let mut damaged = original.clone();
    damaged.extend_from_slice(b"\n// tampered\n");
    std::fs::write(&file, &damaged).expect("damage the artifact");
    let o = s.promote(Arc::new(NoProgress)).await;
    std::fs::write(&file, &original).expect("restore the artifact");
    assert_eq!(o.state, PromotionState::Refused, "{}", describe(&o));
    assert!(
        o.plan
            .blockers
            .iter()
            .any(|b| b.contains("CHECKSUM") && b.contains("server.js")),
        "the plan names the damaged file: {:?}",
        o.plan.blockers
    );
    assert!(o.apply.is_none(), "no job ran: nothing was changed");
    assert_eq!(s.releases("production").await, vec!["v1", "v1"]);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn ssh_lost_between_hosts_leaves_production_on_its_old_release() {
    let _g = serial().await;
    let Some(s) = stack("ssh dropped").await else {
        return;
    };
    s.baseline_releases().await;
    let dir = s.dir.clone();
    let restarter: Arc<Mutex<Option<std::thread::JoinHandle<()>>>> = Arc::default();
    let r2 = restarter.clone();
    let drop_ssh = OnStep {
        step: "switch prod-app-2".into(),
        f: Mutex::new(Some(Box::new(move || {
            let run = move |a: &str| {
                nfops_testkit::stack::script(&dir, &[a, "sshd"])
                    .output()
                    .expect("scripts/stack")
            };
            assert!(run("stop").status.success(), "sshd stops");
            // SSH comes back a little later, while the rollback is running.
            *r2.lock().expect("lock") = Some(std::thread::spawn(move || {
                std::thread::sleep(Duration::from_secs(6));
                assert!(run("start").status.success(), "sshd starts again");
            }));
        }))),
    };
    let o = s.promote(Arc::new(drop_ssh)).await;
    if let Some(t) = restarter.lock().expect("lock").take() {
        t.join().expect("restarter");
    }
    assert_eq!(o.state, PromotionState::RolledBack, "{}", describe(&o));
    let err = o
        .apply
        .as_ref()
        .and_then(|j| j.error.as_ref())
        .map(|e| e.message.clone())
        .unwrap_or_default();
    assert!(
        err.contains("prod-app-2"),
        "the error names the host SSH was lost to: {err}"
    );
    assert!(
        o.summary.contains("switch prod-app-2")
            && o.summary.contains("back on its previous release"),
        "the state is said clearly: {}",
        o.summary
    );
    let finals: Vec<Option<String>> = o.final_hosts.iter().map(|h| h.release.clone()).collect();
    assert_eq!(
        finals,
        vec![Some("v1".into()), Some("v1".into())],
        "all old"
    );
    assert_eq!(s.releases("production").await, vec!["v1", "v1"]);
    s.baseline_releases().await;
}

/// Puts a host's `.env` back when dropped (the test may fail half-way).
struct EnvFileBack {
    path: PathBuf,
    original: Vec<u8>,
}

impl EnvFileBack {
    /// Replaces `PAYMENT_SECRET_KEY`'s live key on `host` with a test-mode one.
    fn test_key_on(s: &Stack, host: &str) -> EnvFileBack {
        Self::test_key_at(s.dir.join(format!("hosts/{host}/app/shared/.env")))
    }

    /// The same on the `.env` at `path`.
    fn test_key_at(path: PathBuf) -> EnvFileBack {
        let original = std::fs::read(&path).expect("read .env");
        let text = String::from_utf8(original.clone()).expect(".env is text");
        assert!(
            text.contains("PAYMENT_SECRET_KEY=sk_live_"),
            "the stack's production .env has a live key: {path:?}"
        );
        // Written in place: the file keeps its owner and 0600 mode.
        std::fs::write(
            &path,
            text.replace(
                "PAYMENT_SECRET_KEY=sk_live_",
                "PAYMENT_SECRET_KEY=sk_test_leaked",
            ),
        )
        .expect("write .env");
        EnvFileBack { path, original }
    }
}

impl Drop for EnvFileBack {
    fn drop(&mut self) {
        let _ = std::fs::write(&self.path, &self.original);
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_test_mode_payment_key_on_production_blocks_the_promotion_in_the_plan_and_at_the_gate() {
    let _g = serial().await;
    let Some(s) = stack("provider modes").await else {
        return;
    };
    s.baseline_releases().await;
    let options = PromotionOptions::default();

    // As the stack is: staging runs test mode and the mail sandbox, production live.
    let plan = s
        .console
        .promotion_plan("staging", "production", &options)
        .await
        .expect("plan");
    let modes = |hosts: &[nfops_promote::providers::HostModes]| -> Vec<(String, String, String)> {
        hosts
            .iter()
            .flat_map(|h| {
                h.modes.iter().map(|m| {
                    (
                        h.host.clone(),
                        m.provider.clone(),
                        m.mode.as_str().to_owned(),
                    )
                })
            })
            .collect()
    };
    assert_eq!(
        modes(&plan.providers.target),
        [
            ("prod-app-1", "email", "live"),
            ("prod-app-1", "payments", "live"),
            ("prod-app-2", "email", "live"),
            ("prod-app-2", "payments", "live"),
        ]
        .map(|(h, p, m)| (h.to_owned(), p.to_owned(), m.to_owned())),
        "every production host read on its own"
    );
    assert_eq!(
        modes(&plan.providers.source),
        [
            ("stg-app-1", "email", "test"),
            ("stg-app-1", "payments", "test")
        ]
        .map(|(h, p, m)| (h.to_owned(), p.to_owned(), m.to_owned()))
    );
    assert!(plan.providers.target_live_required);
    assert!(
        !plan.blockers.iter().any(|b| b.contains("providers")),
        "{:?}",
        plan.blockers
    );
    assert!(plan.gates.iter().any(|g| g.name == "provider modes"));

    // A test key on one production host: the plan refuses, naming host, provider and rule.
    let back = EnvFileBack::test_key_on(&s, "prod-app-2");
    let o = s.promote(Arc::new(NoProgress)).await;
    assert_eq!(o.state, PromotionState::Refused, "{}", describe(&o));
    let why: Vec<&String> = o
        .plan
        .blockers
        .iter()
        .filter(|b| b.contains("Payments would run in test mode on production host prod-app-2"))
        .collect();
    assert_eq!(why.len(), 1, "{:?}", o.plan.blockers);
    assert!(why[0].contains("PAYMENT_SECRET_KEY=sk_test_*"), "{why:?}");
    let json = serde_json::to_string(&o).expect("outcome json");
    let live_key = String::from_utf8_lossy(&back.original)
        .lines()
        .find_map(|l| l.strip_prefix("PAYMENT_SECRET_KEY=").map(str::to_owned))
        .expect("the live key");
    assert!(
        !json.contains("sk_test_leaked") && !json.contains(&live_key),
        "no key value reaches the outcome, only the rules' patterns"
    );
    assert!(o.apply.is_none(), "no job ran: nothing was changed");
    let listed = s
        .console
        .provider_modes(Some("production"))
        .await
        .expect("modes");
    assert_eq!(listed.len(), 1);
    assert_eq!(
        listed[0].refusals.len(),
        1,
        "the Overview says it too: {:?}",
        listed[0].refusals
    );
    drop(back);

    // The same key arriving after the plan: the gate reads every host again.
    let path = s.dir.join("hosts/prod-app-1/app/shared/.env");
    let leak: Arc<Mutex<Option<EnvFileBack>>> = Arc::new(Mutex::new(None));
    let leak2 = leak.clone();
    let progress = Arc::new(OnStep {
        step: "gates".to_owned(),
        f: Mutex::new(Some(Box::new(move || {
            *leak2.lock().expect("lock") = Some(EnvFileBack::test_key_at(path));
        }))),
    });
    let o = s.promote(progress).await;
    drop(leak.lock().expect("lock").take());
    assert_eq!(o.state, PromotionState::Refused, "{}", describe(&o));
    let gate = o
        .gates
        .iter()
        .find(|g| g.name == "provider modes")
        .unwrap_or_else(|| panic!("the gate ran: {}", describe(&o)));
    assert!(!gate.passed, "{gate:?}");
    assert!(
        gate.detail
            .contains("test mode on production host prod-app-1"),
        "{gate:?}"
    );
    assert!(
        o.gates.iter().any(|g| g.name == "backup" && !g.passed),
        "no backup is taken after a failed gate: {:?}",
        o.gates
    );
    assert_eq!(
        s.releases("production").await,
        vec!["v1", "v1"],
        "nothing changed"
    );
}
