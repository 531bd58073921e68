//! `nfops secrets` end to end against the local stack (`NFOPS_STACK_DIR`),
//! in the keyring of `scripts/with-keyring`: every flow runs with a planted
//! value, which must then be found nowhere but where it belongs.

use std::io::{Read, Write};
use std::path::{Path, PathBuf};
use std::process::{Command, Output};

const PLANTED: &str = "Planted-Secret-4c1d-value";
const KEY: &str = "NF_TEST_PLANTED";

struct Run {
    home: tempfile::TempDir,
    config: PathBuf,
    service: String,
    outputs: Vec<String>,
}

impl Run {
    fn nfops(&mut self, args: &[&str], stdin: Option<&str>) -> Output {
        let out = nfops_testkit::run_nfops(
            &self.home.path().join("home"),
            &self.config,
            &self.service,
            args,
            stdin,
        );
        self.outputs.push(format!(
            "{args:?}: {}{}",
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        ));
        out
    }

    fn ok(&mut self, args: &[&str], stdin: Option<&str>) -> serde_json::Value {
        let mut a = vec!["--json"];
        a.extend_from_slice(args);
        let out = self.nfops(&a, stdin);
        assert!(
            out.status.success(),
            "nfops {args:?} must succeed: {}",
            self.outputs.last().map(String::as_str).unwrap_or("")
        );
        serde_json::from_slice(&out.stdout).expect("JSON on stdout")
    }
}

fn files(dir: &Path) -> Vec<PathBuf> {
    let mut out = Vec::new();
    for e in std::fs::read_dir(dir).into_iter().flatten().flatten() {
        let p = e.path();
        if p.is_dir() {
            out.extend(files(&p));
        } else {
            out.push(p);
        }
    }
    out
}

/// Whether staging answers 200 on its health URL (through nginx).
fn health(stack: &Path) -> bool {
    let config =
        nfops_core::config::Config::load(&stack.join("environments.toml")).expect("stack config");
    let url = config
        .environment("staging")
        .ok()
        .and_then(|e| e.health_url.clone())
        .map(|u| u.into_inner())
        .unwrap_or_default();
    let addr = url
        .trim_start_matches("http://")
        .split('/')
        .next()
        .unwrap_or("")
        .to_owned();
    let Ok(mut s) = std::net::TcpStream::connect(&addr) else {
        return false;
    };
    let _ = write!(s, "GET /health HTTP/1.0\r\nHost: x\r\n\r\n");
    let mut body = String::new();
    let _ = s.read_to_string(&mut body);
    body.starts_with("HTTP/1.1 200") || body.starts_with("HTTP/1.0 200")
}

#[test]
fn every_secrets_flow_against_the_stack_leaks_nothing() {
    let Some(stack) =
        nfops_testkit::stack_dir("every_secrets_flow_against_the_stack_leaks_nothing")
            .map(|s| s.dir)
    else {
        return;
    };
    let home = tempfile::tempdir().expect("tempdir");
    // A copy of the config and store: the test's changes stay out of the stack's store.
    let config = home.path().join("environments.toml");
    std::fs::copy(stack.join("environments.toml"), &config).expect("copy config");
    let store = home.path().join("secrets-store");
    std::fs::create_dir(&store).expect("store dir");
    for f in files(&stack.join("secrets-store")) {
        std::fs::copy(&f, store.join(f.file_name().expect("name"))).expect("copy store");
    }
    let mut run = Run {
        service: format!("nfops-secrets-test-{}", std::process::id()),
        home,
        config,
        outputs: Vec::new(),
    };
    for name in ["stack/ssh/deploy", "nfops/age-identity"] {
        let v = std::fs::read_to_string(stack.join("credentials").join(name))
            .expect("stack credential");
        run.ok(&["credentials", "set", name], Some(&v));
    }
    let identity_file = stack.join("credentials/nfops/age-identity");
    let pubkey = Command::new("age-keygen")
        .arg("-y")
        .arg(&identity_file)
        .output()
        .expect("age-keygen -y");
    let pubkey = String::from_utf8_lossy(&pubkey.stdout).trim().to_owned();
    assert_eq!(
        run.ok(&["secrets", "identity"], None)["publicKey"],
        pubkey.as_str(),
        "the imported identity is the stack's"
    );

    let plan = run.ok(&["secrets", "push", "staging"], None);
    assert!(
        plan["hosts"]
            .as_array()
            .expect("hosts")
            .iter()
            .all(
                |h| h["changes"]["added"].as_array().is_some_and(Vec::is_empty)
                    && h["changes"]["changed"]
                        .as_array()
                        .is_some_and(Vec::is_empty)
                    && h["changes"]["removed"]
                        .as_array()
                        .is_some_and(Vec::is_empty)
            ),
        "a first push of the seeded store is a no-op: {plan}"
    );

    assert_eq!(
        run.ok(
            &["secrets", "set", "staging", KEY],
            Some(&format!("{PLANTED}\n"))
        )["state"],
        "added"
    );
    let list = run.ok(&["secrets", "list", "staging"], None);
    assert!(
        list["keys"]
            .as_array()
            .expect("keys")
            .iter()
            .any(|k| k == KEY),
        "{list}"
    );
    let get = run.nfops(&["secrets", "get", "staging", KEY], None);
    assert_eq!(
        String::from_utf8_lossy(&get.stdout).trim(),
        PLANTED,
        "get prints the value when asked"
    );
    run.outputs.pop(); // the one output that must hold it
    let diff = run.nfops(
        &["--json", "secrets", "diff", "staging", "production"],
        None,
    );
    assert_eq!(
        diff.status.code(),
        Some(6),
        "environments that differ exit 6"
    );
    let diff: serde_json::Value = serde_json::from_slice(&diff.stdout).expect("json");
    assert!(
        diff["onlyInFirst"]
            .as_array()
            .expect("list")
            .iter()
            .any(|k| k == KEY),
        "{diff}"
    );
    assert!(
        diff["different"]
            .as_array()
            .expect("list")
            .iter()
            .any(|k| k == "DB_PASSWORD"),
        "per-env passwords differ: {diff}"
    );

    let plan = run.ok(&["secrets", "push", "staging"], None);
    assert_eq!(
        plan["hosts"][0]["changes"]["added"],
        serde_json::json!([KEY]),
        "the plan names the key: {plan}"
    );
    let pushed = run.ok(&["secrets", "push", "staging", "--apply"], None);
    assert_eq!(pushed["job"]["state"], "succeeded", "{pushed}");
    let remote = stack.join("hosts/stg-app-1/app/shared/.env");
    let text = std::fs::read_to_string(&remote).expect("remote .env");
    assert!(
        text.contains(&format!("{KEY}={PLANTED}")),
        "the host's .env has the new key"
    );
    use std::os::unix::fs::PermissionsExt;
    assert_eq!(
        std::fs::metadata(&remote)
            .expect("stat")
            .permissions()
            .mode()
            & 0o777,
        0o600
    );
    assert!(health(&stack), "staging is healthy after the reload");

    // Interop: the age CLI decrypts the store file with the identity.
    let out = Command::new("age")
        .arg("-d")
        .arg("-i")
        .arg(&identity_file)
        .arg(store.join("staging.env.age"))
        .output()
        .expect("age -d");
    assert!(
        String::from_utf8_lossy(&out.stdout).contains(KEY),
        "age -d reads the console's file"
    );

    // Recipients: add a person, remove them, and get the keys to rotate.
    let other = Command::new("age-keygen").output().expect("age-keygen");
    let other_pub = String::from_utf8_lossy(&other.stdout)
        .lines()
        .find_map(|l| l.strip_prefix("# public key: ").map(str::to_owned))
        .expect("public key");
    let added = run.ok(
        &[
            "secrets",
            "recipients",
            "add",
            "staging",
            &other_pub,
            "--name",
            "Temp Person",
        ],
        None,
    );
    assert_eq!(added["recipients"].as_array().expect("list").len(), 2);
    let removed = run.ok(
        &["secrets", "recipients", "remove", "staging", "Temp Person"],
        None,
    );
    assert!(
        removed["rotate"]
            .as_array()
            .expect("list")
            .iter()
            .any(|k| k == "DB_PASSWORD"),
        "{removed}"
    );

    // A wrong identity is refused with the file and the recipients named.
    let wrong = String::from_utf8_lossy(&other.stdout)
        .lines()
        .find(|l| l.starts_with("AGE-SECRET-KEY-"))
        .expect("secret")
        .to_owned();
    // Replacing a stored identity while production exists needs its name typed.
    let unconfirmed = run.nfops(&["secrets", "identity", "--import"], Some(&wrong));
    assert_eq!(
        unconfirmed.status.code(),
        Some(2),
        "replacing the identity without --confirm is refused (confirmation.required)"
    );
    run.ok(
        &["secrets", "identity", "--import", "--confirm", "production"],
        Some(&wrong),
    );
    let refused = run.nfops(&["secrets", "list", "staging"], None);
    assert_eq!(refused.status.code(), Some(4), "not a recipient exits 4");
    let msg = String::from_utf8_lossy(&refused.stderr);
    assert!(
        msg.contains("staging.env.age") && msg.contains("nfops local stack operator"),
        "{msg}"
    );
    let mine = std::fs::read_to_string(&identity_file).expect("identity");
    run.ok(
        &["secrets", "identity", "--import", "--confirm", "production"],
        Some(&mine),
    );

    // Back to the seeded state on the host.
    run.ok(&["secrets", "unset", "staging", KEY], None);
    let pushed = run.ok(&["secrets", "push", "staging", "--apply"], None);
    assert_eq!(pushed["job"]["state"], "succeeded", "{pushed}");
    assert!(!std::fs::read_to_string(&remote)
        .expect("remote")
        .contains(KEY));

    let history = run.ok(&["audit", "list", "--limit", "100"], None);
    let actions: Vec<&str> = history
        .as_array()
        .expect("entries")
        .iter()
        .filter_map(|e| e["action"].as_str())
        .collect();
    for a in [
        "secrets.set",
        "secrets.reveal",
        "secrets.push",
        "secrets.recipient.add",
        "secrets.recipient.remove",
        "secrets.unset",
    ] {
        assert!(actions.contains(&a), "{a} is audited: {actions:?}");
    }

    for f in files(run.home.path()) {
        let bytes = std::fs::read(&f).expect("read");
        assert!(
            !String::from_utf8_lossy(&bytes).contains(PLANTED),
            "{} holds the planted value",
            f.display()
        );
    }
    for o in &run.outputs {
        assert!(
            !o.contains(PLANTED),
            "an output holds the planted value: {o}"
        );
    }
}
