//! Running the built `nfops` as a script would: in a private home, config
//! and keyring service.

use std::io::Write;
use std::path::{Path, PathBuf};
use std::process::{Command, Output, Stdio};

/// The `nfops` binary cargo built next to the running test binary
/// (`target/<profile>/deps/<test>` → `target/<profile>/nfops`): only
/// nfops-cli's integration tests, for which cargo builds it, may call this.
pub fn nfops_bin() -> PathBuf {
    let exe = std::env::current_exe().expect("the test binary's path");
    let bin = exe
        .parent()
        .and_then(Path::parent)
        .expect("the test binary sits in target/<profile>/deps")
        .join(format!("nfops{}", std::env::consts::EXE_SUFFIX));
    assert!(
        bin.is_file(),
        "{} is missing: only nfops-cli's integration tests have the nfops binary built",
        bin.display()
    );
    bin
}

/// `nfops` with `NFOPS_HOME` and `NFOPS_CONFIG` set, not yet run.
pub fn nfops_command(home: &Path, config: &Path) -> Command {
    let mut cmd = Command::new(nfops_bin());
    cmd.env("NFOPS_HOME", home).env("NFOPS_CONFIG", config);
    cmd
}

/// Runs `nfops ARGS` with `NFOPS_HOME`, `NFOPS_CONFIG` and
/// `NFOPS_KEYRING_SERVICE` set, feeding `stdin` (then end of file).
pub fn run_nfops(
    home: &Path,
    config: &Path,
    keyring_service: &str,
    args: &[&str],
    stdin: Option<&str>,
) -> Output {
    let mut child = nfops_command(home, config)
        .args(args)
        .env("NFOPS_KEYRING_SERVICE", keyring_service)
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("run nfops");
    let mut input = child.stdin.take().expect("stdin");
    if let Some(s) = stdin {
        input.write_all(s.as_bytes()).expect("write stdin");
    }
    drop(input);
    child.wait_with_output().expect("wait nfops")
}

/// A run's stdout then stderr, for assertion messages.
pub fn output_text(o: &Output) -> String {
    format!(
        "{}{}",
        String::from_utf8_lossy(&o.stdout),
        String::from_utf8_lossy(&o.stderr)
    )
}
