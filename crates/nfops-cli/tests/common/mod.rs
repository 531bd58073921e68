//! What the CLI's integration tests share: running the built `nfops` in a
//! private home and keyring service, as a script would.

#![allow(dead_code)]

use std::io::Write;
use std::path::Path;
use std::process::{Command, Output, Stdio};

/// Runs `nfops ARGS` with `NFOPS_HOME`, `NFOPS_CONFIG` and
/// `NFOPS_KEYRING_SERVICE` set, feeding `stdin` (then end of file).
pub fn run_nfops(
    home: &Path,
    config: &Path,
    keyring_service: &str,
    args: &[&str],
    stdin: Option<&str>,
) -> Output {
    let mut child = Command::new(env!("CARGO_BIN_EXE_nfops"))
        .args(args)
        .env("NFOPS_HOME", home)
        .env("NFOPS_CONFIG", config)
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
