use std::sync::Mutex;

use super::*;
use crate::state::State;

/// Writes a file, then checks it by reading it back.
struct WriteFile(std::path::PathBuf, &'static str);

#[async_trait]
impl Step for WriteFile {
    async fn run(&self, _cx: &StepContext<'_>) -> Result<Verified> {
        tokio::fs::write(&self.0, self.1)
            .await
            .map_err(|e| Error::io("writing", e))?;
        let back = tokio::fs::read_to_string(&self.0)
            .await
            .map_err(|e| Error::io("reading back", e))?;
        if back != self.1 {
            return Err(Error::new(
                ErrorCode::CheckFailed,
                "content differs after write",
            ));
        }
        Ok(Verified::by(format!(
            "{} bytes read back equal",
            back.len()
        )))
    }
}

struct Fails;
#[async_trait]
impl Step for Fails {
    async fn run(&self, _cx: &StepContext<'_>) -> Result<Verified> {
        Err(Error::new(
            ErrorCode::CheckFailed,
            "row count 3 != manifest 4",
        ))
    }
}

/// Waits until cancelled (or 60 s).
struct Waits;
#[async_trait]
impl Step for Waits {
    async fn run(&self, cx: &StepContext<'_>) -> Result<Verified> {
        for _ in 0..600 {
            cx.check_cancelled()?;
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
        Ok(Verified::by("waited"))
    }
}

#[derive(Default)]
struct Recorder(Mutex<Vec<String>>);
impl Progress for Recorder {
    fn event(&self, e: &ProgressEvent) {
        let tag = serde_json::to_value(e)
            .ok()
            .and_then(|v| v["event"].as_str().map(str::to_owned))
            .unwrap_or_default();
        self.0.lock().unwrap_or_else(|p| p.into_inner()).push(tag);
    }
}

fn plan(n: usize) -> Plan {
    Plan {
        kind: "test".into(),
        environment: Some("staging".into()),
        summary: "test job".into(),
        steps: (0..n)
            .map(|i| PlannedStep {
                name: format!("step {i}"),
                description: String::new(),
            })
            .collect(),
    }
}

async fn runner() -> (tempfile::TempDir, JobRunner, JobStore) {
    let dir = tempfile::tempdir().expect("tempdir");
    let state = State::open(&dir.path().join("state")).await.expect("state");
    let store = JobStore::new(state);
    (dir, JobRunner::new(store.clone()), store)
}

#[tokio::test]
async fn completed_steps_carry_evidence_and_are_persisted() {
    let (dir, runner, store) = runner().await;
    let rec = Arc::new(Recorder::default());
    let steps: Vec<Box<dyn Step>> = vec![
        Box::new(WriteFile(dir.path().join("a"), "hello")),
        Box::new(WriteFile(dir.path().join("b"), "world!")),
    ];
    let r = runner
        .run(plan(2), steps, rec.clone(), CancellationToken::new())
        .await
        .expect("run");
    assert_eq!(r.state, JobState::Succeeded);
    let stored = store.get(&r.job_id).await.expect("get").expect("exists");
    assert_eq!(stored.state, JobState::Succeeded);
    assert_eq!(
        stored.steps[1].evidence.as_deref(),
        Some("6 bytes read back equal"),
        "evidence is what makes a step completed"
    );
    let events = rec.0.lock().expect("lock").clone();
    assert_eq!(events.first().map(String::as_str), Some("jobStarted"));
    assert_eq!(events.last().map(String::as_str), Some("jobFinished"));
}

#[tokio::test]
async fn a_failed_step_fails_the_job_and_skips_the_rest() {
    let (dir, runner, store) = runner().await;
    let steps: Vec<Box<dyn Step>> = vec![
        Box::new(Fails),
        Box::new(WriteFile(dir.path().join("never"), "x")),
    ];
    let r = runner
        .run(
            plan(2),
            steps,
            Arc::new(NoProgress),
            CancellationToken::new(),
        )
        .await
        .expect("run");
    assert_eq!(r.state, JobState::Failed);
    assert_eq!(
        r.error.as_ref().map(|e| e.code.as_str()),
        Some("job.check_failed")
    );
    assert!(
        !dir.path().join("never").exists(),
        "a step after a failure must not run"
    );
    let stored = store.get(&r.job_id).await.expect("get").expect("exists");
    assert_eq!(stored.steps[1].state, StepState::Skipped);
}

#[tokio::test]
async fn cancel_stops_a_running_step() {
    let (dir, runner, store) = runner().await;
    let cancel = CancellationToken::new();
    let c2 = cancel.clone();
    tokio::spawn(async move {
        tokio::time::sleep(Duration::from_millis(300)).await;
        c2.cancel();
    });
    let steps: Vec<Box<dyn Step>> = vec![
        Box::new(Waits),
        Box::new(WriteFile(dir.path().join("never"), "x")),
    ];
    let started = std::time::Instant::now();
    let r = runner
        .run(plan(2), steps, Arc::new(NoProgress), cancel)
        .await
        .expect("run");
    assert_eq!(r.state, JobState::Cancelled);
    assert!(
        started.elapsed() < Duration::from_secs(10),
        "cancel must take effect promptly"
    );
    assert!(!dir.path().join("never").exists());
    assert_eq!(
        store
            .get(&r.job_id)
            .await
            .expect("get")
            .expect("exists")
            .steps[0]
            .state,
        StepState::Cancelled
    );
}

#[tokio::test]
async fn mismatched_plan_is_refused() {
    let (_dir, runner, _store) = runner().await;
    let e = runner
        .run(
            plan(2),
            vec![Box::new(Fails)],
            Arc::new(NoProgress),
            CancellationToken::new(),
        )
        .await
        .expect_err("mismatch");
    assert_eq!(e.code(), ErrorCode::Internal);
}

/// Child half of the crash test: runs a job that never ends.
#[tokio::test]
async fn crash_child() {
    let Ok(dir) = std::env::var("NFOPS_CRASH_CHILD_DIR") else {
        return;
    };
    let state = State::open(std::path::Path::new(&dir))
        .await
        .expect("state");
    let runner = JobRunner::new(JobStore::new(state));
    let _ = runner
        .run(
            plan(1),
            vec![Box::new(Waits)],
            Arc::new(NoProgress),
            CancellationToken::new(),
        )
        .await;
}

#[tokio::test]
async fn a_job_whose_process_died_shows_as_interrupted() {
    let dir = tempfile::tempdir().expect("tempdir");
    let state_dir = dir.path().join("state");
    // Create and migrate the database before the child opens it: two
    // processes migrating one fresh file at once race.
    let store = JobStore::new(State::open(&state_dir).await.expect("state"));
    let mut child = std::process::Command::new(std::env::current_exe().expect("test binary"))
        .args(["--exact", "jobs::tests::crash_child", "--nocapture"])
        .env("NFOPS_CRASH_CHILD_DIR", &state_dir)
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::null())
        .spawn()
        .expect("spawn child");
    // Wait until the child's job is running, then kill it hard.
    let mut running = false;
    for _ in 0..200 {
        tokio::time::sleep(Duration::from_millis(50)).await;
        if store
            .list(1)
            .await
            .map(|l| l.first().is_some_and(|j| j.state == JobState::Running))
            .unwrap_or(false)
        {
            running = true;
            break;
        }
    }
    assert!(running, "the child started a job within 10 s");
    child.kill().expect("kill child");
    child.wait().expect("reap child");
    let marked = store
        .recover_interrupted(chrono::Duration::hours(1))
        .await
        .expect("recover");
    assert_eq!(
        marked.len(),
        1,
        "the dead process's job must be marked even with a fresh heartbeat"
    );
    let job = store.get(&marked[0]).await.expect("get").expect("exists");
    assert_eq!(job.state, JobState::Interrupted);
    assert_eq!(job.steps[0].state, StepState::Interrupted);
}

/// A running job recorded as owned by this process's pid with start time
/// `started` (`None`: a row from before start times were stored); its
/// heartbeat is fresh, so only the owner's liveness can interrupt it.
async fn running_job_of_this_pid(state: &State, id: &str, started: Option<i64>) {
    let store = JobStore::new(state.clone());
    store.create(id, &plan(1)).await.expect("create");
    sqlx::query("UPDATE jobs SET owner_started_at = ? WHERE id = ?")
        .bind(started)
        .bind(id)
        .execute(state.pool())
        .await
        .expect("set start time");
}

#[tokio::test]
async fn a_job_whose_pid_was_reused_shows_as_interrupted_and_old_rows_still_read() {
    let dir = tempfile::tempdir().expect("tempdir");
    let state = State::open(dir.path()).await.expect("state");
    let store = JobStore::new(state.clone());
    let me = crate::host::this_process();
    let started = me.started.expect("this OS reports start times");
    running_job_of_this_pid(&state, "reused", Some(started - 3600)).await;
    running_job_of_this_pid(&state, "mine", Some(started)).await;
    running_job_of_this_pid(&state, "old-row", None).await;
    let marked = store
        .recover_interrupted(chrono::Duration::hours(1))
        .await
        .expect("recover");
    assert_eq!(
        marked,
        vec!["reused".to_owned()],
        "only the job whose pid now names a process started at another time is interrupted"
    );
}
