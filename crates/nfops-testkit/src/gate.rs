//! The one rule every stack test follows.
//!
//! `NFOPS_STACK_DIR` names the stack's state folder (`scripts/stack up`). When
//! it is unset, or names no usable stack (no `environments.toml`), a stack
//! test prints why and passes, unless `NFOPS_REQUIRE_STACK=1` (set by
//! `make test`), which makes it fail: a green run there proves the tests ran.

use std::path::PathBuf;

use crate::stack::StackDir;

/// Whether a missing stack (or a missing tool the stack tests need) must fail
/// the test instead of skipping it: `NFOPS_REQUIRE_STACK=1`, nothing else.
pub fn require_stack() -> bool {
    std::env::var("NFOPS_REQUIRE_STACK").as_deref() == Ok("1")
}

/// The stack named by `NFOPS_STACK_DIR`, or `None` after printing why `test`
/// is skipped.
///
/// # Panics
/// When the stack is missing or unusable and `NFOPS_REQUIRE_STACK=1`.
pub fn stack_dir(test: &str) -> Option<StackDir> {
    let Some(dir) = std::env::var_os("NFOPS_STACK_DIR").filter(|d| !d.is_empty()) else {
        skip_or_fail(
            test,
            "NFOPS_STACK_DIR is not set (run `scripts/stack up` and export it to run against the real stack)",
        );
        return None;
    };
    let dir = PathBuf::from(dir);
    if !dir.join("environments.toml").is_file() {
        skip_or_fail(
            test,
            &format!(
                "NFOPS_STACK_DIR={} holds no environments.toml (run `scripts/stack up`)",
                dir.display()
            ),
        );
        return None;
    }
    Some(StackDir { dir })
}

/// The stack when one is usable, silently `None` otherwise: for tests that
/// run without a stack and only go further with one.
pub fn stack_dir_if_up() -> Option<StackDir> {
    std::env::var_os("NFOPS_STACK_DIR")
        .filter(|d| !d.is_empty())
        .map(PathBuf::from)
        .filter(|d| d.join("environments.toml").is_file())
        .map(|dir| StackDir { dir })
}

/// Prints why `test` is skipped, or fails it under `NFOPS_REQUIRE_STACK=1`:
/// also for what a stack test needs besides the stack (a tool, root).
///
/// # Panics
/// When `NFOPS_REQUIRE_STACK=1`.
pub fn skip_or_fail(test: &str, why: &str) {
    assert!(!require_stack(), "{test}: NFOPS_REQUIRE_STACK=1 but {why}");
    eprintln!("skipping {test}: {why}");
}
