//! This machine and its processes, the same way on every OS: whether a
//! recorded process still runs, who runs the console, the machine's name.
//!
//! One home for what used to be `/proc` and `/etc/passwd` reads, so the job
//! store, the audit log and the environment lease work on macOS and Windows
//! too (sysinfo and whoami carry the per-OS code).

use std::sync::OnceLock;

use sysinfo::{Pid, ProcessRefreshKind, ProcessStatus, ProcessesToUpdate, System};

/// A process as recorded in the state database: its pid and, where it could
/// be read, its start time (seconds since the Unix epoch). The start time
/// tells a recorded process from a later one that got the same pid.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ProcessStamp {
    pub pid: u32,
    pub started: Option<i64>,
}

/// This process's stamp, read once (it never changes).
pub fn this_process() -> ProcessStamp {
    static ME: OnceLock<ProcessStamp> = OnceLock::new();
    *ME.get_or_init(|| {
        let pid = std::process::id();
        ProcessStamp {
            pid,
            started: start_time(pid),
        }
    })
}

/// When process `pid` started (seconds since the epoch), if it exists and the
/// OS says. A zombie counts as gone: it no longer runs anything.
pub fn start_time(pid: u32) -> Option<i64> {
    let mut sys = System::new();
    let target = Pid::from_u32(pid);
    sys.refresh_processes_specifics(
        ProcessesToUpdate::Some(&[target]),
        true,
        ProcessRefreshKind::nothing(),
    );
    let p = sys.process(target)?;
    if matches!(p.status(), ProcessStatus::Zombie | ProcessStatus::Dead) {
        return None;
    }
    i64::try_from(p.start_time()).ok()
}

/// Whether the process `stamp` recorded still runs.
///
/// Gone when no process has its pid, or when the process with that pid
/// started at another time (the pid was reused). A stamp without a start
/// time (a row written by an older version) is judged by the pid alone. On
/// an OS sysinfo cannot read, the answer is "alive": the heartbeat decides.
pub fn is_running(stamp: ProcessStamp) -> bool {
    if !sysinfo::IS_SUPPORTED_SYSTEM {
        return true;
    }
    match (start_time(stamp.pid), stamp.started) {
        (None, _) => false,
        (Some(now), Some(then)) => now == then,
        (Some(_), None) => true,
    }
}

/// The OS user running the console: the account name of the process's user
/// from the OS (the password database on Unix, the logon account on
/// Windows), not an environment variable anyone can set and cron often
/// leaves out. The variables are a last resort when the OS lookup fails.
pub fn user_name() -> String {
    whoami::fallible::username()
        .ok()
        .filter(|s| !s.is_empty())
        .or_else(|| {
            ["USERNAME", "USER", "LOGNAME"]
                .iter()
                .find_map(|v| std::env::var(v).ok().filter(|s| !s.is_empty()))
        })
        .unwrap_or_else(|| "unknown".into())
}

/// This machine's name, for lease holders.
pub fn host_name() -> String {
    whoami::fallible::hostname()
        .ok()
        .map(|s| s.trim().to_owned())
        .filter(|s| !s.is_empty())
        .or_else(|| {
            ["HOSTNAME", "COMPUTERNAME"]
                .iter()
                .find_map(|v| std::env::var(v).ok().filter(|s| !s.is_empty()))
        })
        .unwrap_or_else(|| "unknown-host".into())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn this_process_runs_and_a_reused_pid_does_not_count() {
        let me = this_process();
        assert!(me.started.is_some(), "this OS reports start times");
        assert!(is_running(me), "this process runs");
        assert!(
            is_running(ProcessStamp {
                started: None,
                ..me
            }),
            "an old row without a start time falls back to the pid"
        );
        assert!(
            !is_running(ProcessStamp {
                started: me.started.map(|s| s - 3600),
                ..me
            }),
            "the same pid with another start time is another process"
        );
    }

    #[test]
    fn a_finished_child_is_gone() {
        let mut child = std::process::Command::new(std::env::current_exe().expect("exe"))
            .arg("--list")
            .stdout(std::process::Stdio::null())
            .spawn()
            .expect("child");
        let stamp = ProcessStamp {
            pid: child.id(),
            started: start_time(child.id()),
        };
        child.wait().expect("wait");
        assert!(!is_running(stamp), "a reaped child no longer runs");
    }

    #[test]
    fn user_and_host_are_the_os_ones() {
        // The OS answer, not the environment: under a cleared USER the name
        // is still the account's.
        let user = user_name();
        assert!(!user.is_empty() && user != "unknown", "{user}");
        #[cfg(unix)]
        {
            let id = std::process::Command::new("id")
                .arg("-un")
                .output()
                .expect("id -un");
            assert_eq!(user, String::from_utf8_lossy(&id.stdout).trim());
            let host = std::process::Command::new("hostname")
                .output()
                .expect("hostname");
            assert_eq!(host_name(), String::from_utf8_lossy(&host.stdout).trim());
        }
    }
}
