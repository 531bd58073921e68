//! SSH login through a real `ssh-agent` (openssh-client) against the local
//! stack's real sshd: commands and a database tunnel on an agent-authenticated
//! session, an empty agent, an agent with a key the host does not know, no
//! agent at all, and `agent_key` choosing one of two identities.
//!
//! Every test starts its own agent on a socket in its temp folder and names
//! it with the host's `agent_socket`; only
//! `ssh_auth_sock_is_where_the_agent_is_found_by_default` reads
//! `SSH_AUTH_SOCK` (no other test of this binary does, so setting it there
//! races with nothing).

use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use nfops_core::config::{Host, SshAuth};
use nfops_core::credentials::MemoryCredentials;
use nfops_core::ErrorCode;
use nfops_fleet::{route, SshSession};
use nfops_testkit::stack::memory_credentials;
use nfops_testkit::Stack;

const CMD: Duration = Duration::from_secs(10);

/// A foreground `ssh-agent -D` on its own socket, killed on drop.
struct TestAgent {
    child: Child,
    socket: PathBuf,
}

impl TestAgent {
    fn start(dir: &Path) -> TestAgent {
        let socket = dir.join("agent.sock");
        let child = Command::new("ssh-agent")
            .arg("-D")
            .arg("-a")
            .arg(&socket)
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("ssh-agent runs (openssh-client is a stack dependency)");
        let started = Instant::now();
        while !socket.exists() {
            assert!(
                started.elapsed() < Duration::from_secs(5),
                "ssh-agent made no socket at {}",
                socket.display()
            );
            std::thread::sleep(Duration::from_millis(20));
        }
        TestAgent { child, socket }
    }

    /// `ssh-add KEYFILE` into this agent (and only this one).
    fn add(&self, key: &Path) {
        let out = Command::new("ssh-add")
            .arg(key)
            .env("SSH_AUTH_SOCK", &self.socket)
            .output()
            .expect("ssh-add runs");
        assert!(
            out.status.success(),
            "ssh-add {} failed: {}",
            key.display(),
            String::from_utf8_lossy(&out.stderr)
        );
    }

    fn socket(&self) -> String {
        self.socket.display().to_string()
    }
}

impl Drop for TestAgent {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// The stack's deploy key (authorized on its sshd), as a file ssh-add accepts.
fn deploy_key(stack: &Stack) -> PathBuf {
    stack.files.dir.join("ssh").join("deploy_ed25519")
}

/// A fresh ed25519 key pair the stack's sshd does not know: (private file, fingerprint).
fn stranger_key(dir: &Path, name: &str) -> (PathBuf, String) {
    let path = dir.join(name);
    let out = Command::new("ssh-keygen")
        .args(["-q", "-t", "ed25519", "-N", "", "-C", name, "-f"])
        .arg(&path)
        .output()
        .expect("ssh-keygen runs");
    assert!(out.status.success(), "ssh-keygen failed");
    (path.clone(), fingerprint_of(&path))
}

/// `SHA256:…` of a key file, as `ssh-keygen -lf` prints it.
fn fingerprint_of(key: &Path) -> String {
    let out = Command::new("ssh-keygen")
        .arg("-lf")
        .arg(key)
        .output()
        .expect("ssh-keygen -lf runs");
    let text = String::from_utf8_lossy(&out.stdout).into_owned();
    text.split_whitespace()
        .nth(1)
        .unwrap_or_else(|| panic!("a fingerprint in {text:?}"))
        .to_owned()
}

/// prod-app-1 switched to agent login at `socket` (and no keyring key).
fn agent_host(stack: &Stack, socket: Option<String>, agent_key: Option<String>) -> Host {
    let mut host = stack.host("production", "prod-app-1");
    host.ssh_key_credential = None;
    host.ssh_auth = Some(SshAuth::Agent);
    host.agent_socket = socket;
    host.agent_key = agent_key;
    host
}

async fn connect(stack: &Stack, host: &Host) -> nfops_core::Result<SshSession> {
    // No credential at all: an agent host must never read the keyring.
    SshSession::connect(host, &MemoryCredentials::default(), &stack.known_hosts()).await
}

#[tokio::test]
async fn a_command_runs_on_a_session_the_agent_logged_in() {
    let Some(stack) = Stack::from_env("a_command_runs_on_a_session_the_agent_logged_in") else {
        return;
    };
    let agent = TestAgent::start(stack.tmp());
    agent.add(&deploy_key(&stack));
    let host = agent_host(&stack, Some(agent.socket()), None);
    let s = connect(&stack, &host)
        .await
        .expect("the agent's deploy key logs in");
    let out = s
        .exec("id -un; echo agent-ok", CMD)
        .await
        .expect("the command runs");
    assert_eq!(out.exit_code, 0);
    assert_eq!(out.stdout, format!("{}\nagent-ok\n", host.user));
    s.disconnect().await;
}

#[tokio::test]
async fn a_database_tunnel_runs_through_an_agent_logged_in_bastion() {
    let Some(stack) = Stack::from_env("a_database_tunnel_runs_through_an_agent_logged_in_bastion")
    else {
        return;
    };
    let agent = TestAgent::start(stack.tmp());
    agent.add(&deploy_key(&stack));
    let mut env = stack.env("production").clone();
    let bastion = agent_host(&stack, Some(agent.socket()), None);
    let ssh_credential = stack
        .host("production", "prod-app-1")
        .ssh_key_credential
        .expect("the stack's hosts use a keyring key");
    for h in &mut env.hosts {
        if h.get_ref().name == bastion.name {
            *h.get_mut() = bastion.clone();
        }
    }
    // Every credential but the SSH key: the tunnel can only come from the agent.
    let without_key: Vec<(String, String)> = stack
        .credential_values
        .iter()
        .filter(|(n, _)| *n != ssh_credential)
        .cloned()
        .collect();
    let creds = memory_credentials(&without_key);
    let route = route::database(
        "production",
        &env,
        &creds,
        &stack.known_hosts(),
        None,
        "to test",
    )
    .await
    .expect("production's database is routed through the agent-authenticated prod-app-1");
    let mut c = route
        .target
        .connect()
        .await
        .expect("the database answers through the tunnel");
    let one: i64 = sqlx::query_scalar("SELECT 1 + 1")
        .fetch_one(&mut c)
        .await
        .expect("a query runs through the tunnel");
    assert_eq!(one, 2);
}

#[tokio::test]
async fn an_empty_agent_is_ssh_auth_with_nothing_offered() {
    let Some(stack) = Stack::from_env("an_empty_agent_is_ssh_auth_with_nothing_offered") else {
        return;
    };
    let agent = TestAgent::start(stack.tmp());
    let host = agent_host(&stack, Some(agent.socket()), None);
    let err = connect(&stack, &host)
        .await
        .expect_err("an agent without identities cannot log in");
    assert_eq!(err.code(), ErrorCode::SshAuth, "{err}");
    assert!(
        err.message().contains("holds no identity") && err.message().contains("offered: none"),
        "says nothing was offered: {}",
        err.message()
    );
    assert!(
        err.message().contains("prod-app-1"),
        "names the host: {}",
        err.message()
    );
    assert!(
        err.hint_text().unwrap_or("").contains("ssh-add"),
        "says how to add a key: {err}"
    );
}

#[tokio::test]
async fn an_agent_with_another_key_is_ssh_auth_naming_its_fingerprint() {
    let Some(stack) =
        Stack::from_env("an_agent_with_another_key_is_ssh_auth_naming_its_fingerprint")
    else {
        return;
    };
    let agent = TestAgent::start(stack.tmp());
    let (stranger, fp) = stranger_key(stack.tmp(), "stranger");
    agent.add(&stranger);
    let host = agent_host(&stack, Some(agent.socket()), None);
    let err = connect(&stack, &host)
        .await
        .expect_err("a key sshd does not know is refused");
    assert_eq!(err.code(), ErrorCode::SshAuth, "{err}");
    assert!(
        err.message().contains(&fp),
        "the offered fingerprint {fp} is listed: {}",
        err.message()
    );
    assert!(
        err.message().contains(&format!("user '{}'", host.user)),
        "the user is named: {}",
        err.message()
    );
    let private = std::fs::read_to_string(&stranger).expect("key file");
    let public = std::fs::read_to_string(stranger.with_extension("pub")).expect("pub file");
    let blob = public.split_whitespace().nth(1).expect("a key blob");
    let all = format!("{err} {:?} {:?}", err.causes(), err.to_wire());
    assert!(
        !all.contains(blob) && !all.contains(private.lines().nth(1).unwrap_or("-")),
        "no key material in the error: {all}"
    );
}

#[tokio::test]
async fn no_agent_at_the_socket_is_agent_unavailable() {
    let Some(stack) = Stack::from_env("no_agent_at_the_socket_is_agent_unavailable") else {
        return;
    };
    let missing = stack.tmp().join("gone.sock").display().to_string();
    let host = agent_host(&stack, Some(missing.clone()), None);
    let started = Instant::now();
    let err = connect(&stack, &host)
        .await
        .expect_err("no agent, no login");
    assert_eq!(err.code(), ErrorCode::SshAgentUnavailable, "{err}");
    assert!(
        err.message().contains(&missing) && err.message().contains("does not exist"),
        "names the socket and why: {}",
        err.message()
    );
    assert!(
        err.hint_text().unwrap_or("").contains("SSH_AUTH_SOCK"),
        "the hint names SSH_AUTH_SOCK: {err}"
    );
    assert!(
        started.elapsed() < Duration::from_secs(2),
        "fails at once, locally"
    );

    // A socket whose agent died (the file stays behind).
    let mut agent = TestAgent::start(stack.tmp());
    let socket = agent.socket();
    agent.child.kill().expect("the agent is ours to stop");
    let _ = agent.child.wait();
    assert!(
        Path::new(&socket).exists(),
        "a killed agent leaves its socket file behind"
    );
    let host = agent_host(&stack, Some(socket), None);
    let err = connect(&stack, &host).await.expect_err("a dead agent");
    assert_eq!(err.code(), ErrorCode::SshAgentUnavailable, "{err}");
    assert!(
        err.message().contains("connection refused"),
        "{}",
        err.message()
    );
}

#[tokio::test]
async fn ssh_auth_sock_is_where_the_agent_is_found_by_default() {
    let Some(stack) = Stack::from_env("ssh_auth_sock_is_where_the_agent_is_found_by_default")
    else {
        return;
    };
    let agent = TestAgent::start(stack.tmp());
    agent.add(&deploy_key(&stack));
    let host = agent_host(&stack, None, None);

    std::env::set_var("SSH_AUTH_SOCK", &agent.socket);
    let s = connect(&stack, &host)
        .await
        .expect("the agent at SSH_AUTH_SOCK logs in");
    s.exec_checked("true", CMD).await.expect("runs");

    let missing = stack.tmp().join("nobody.sock");
    std::env::set_var("SSH_AUTH_SOCK", &missing);
    let err = connect(&stack, &host).await.expect_err("no agent there");
    assert_eq!(err.code(), ErrorCode::SshAgentUnavailable, "{err}");
    assert!(
        err.message().contains("SSH_AUTH_SOCK")
            && err.message().contains(&missing.display().to_string()),
        "says where it looked: {}",
        err.message()
    );

    std::env::remove_var("SSH_AUTH_SOCK");
    let err = connect(&stack, &host).await.expect_err("no SSH_AUTH_SOCK");
    assert_eq!(err.code(), ErrorCode::SshAgentUnavailable, "{err}");
    assert!(
        err.message().contains("SSH_AUTH_SOCK is not set"),
        "{}",
        err.message()
    );
}

#[tokio::test]
async fn agent_key_picks_one_of_two_identities() {
    let Some(stack) = Stack::from_env("agent_key_picks_one_of_two_identities") else {
        return;
    };
    let agent = TestAgent::start(stack.tmp());
    let (stranger, stranger_fp) = stranger_key(stack.tmp(), "stranger");
    // The unknown key first, so trying "each in order" would meet it first.
    agent.add(&stranger);
    agent.add(&deploy_key(&stack));
    let deploy_fp = fingerprint_of(&deploy_key(&stack));

    let host = agent_host(&stack, Some(agent.socket()), Some(deploy_fp.clone()));
    let s = connect(&stack, &host)
        .await
        .expect("agent_key names the deploy key, which logs in");
    s.exec_checked("true", CMD).await.expect("runs");

    // Naming the stranger must use only it, although the agent also holds a
    // key that would log in: the refusal lists the stranger alone.
    let host = agent_host(&stack, Some(agent.socket()), Some(stranger_fp.clone()));
    let err = connect(&stack, &host)
        .await
        .expect_err("only the named identity is offered");
    assert_eq!(err.code(), ErrorCode::SshAuth, "{err}");
    assert!(err.message().contains(&stranger_fp), "{}", err.message());
    assert!(
        !err.message().contains(&deploy_fp),
        "the deploy key was not offered: {}",
        err.message()
    );

    let absent = "SHA256:AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA".to_owned();
    let host = agent_host(&stack, Some(agent.socket()), Some(absent.clone()));
    let err = connect(&stack, &host)
        .await
        .expect_err("an agent_key the agent does not hold");
    assert_eq!(err.code(), ErrorCode::SshAuth, "{err}");
    assert!(
        err.message().contains(&absent) && err.message().contains("does not hold"),
        "{}",
        err.message()
    );
    assert!(
        err.message().contains(&stranger_fp) && err.message().contains(&deploy_fp),
        "lists what the agent offers: {}",
        err.message()
    );
}
