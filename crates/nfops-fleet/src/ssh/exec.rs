//! Remote commands on a session: output collected up to a cap, a timeout
//! that kills the remote process, and errors that quote the end of stderr.

use std::time::Duration;

use nfops_core::{Error, ErrorCode, Result};
use russh::ChannelMsg;
use tokio::time::Instant;

use super::SshSession;

/// Output kept per stream; more is dropped (and said so) so a chatty command
/// cannot exhaust memory.
const MAX_OUTPUT: usize = 16 * 1024 * 1024;

/// How much of stderr an [`SshSession::exec_checked`] error quotes.
const STDERR_TAIL: usize = 600;

/// What a remote command left behind.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ExecOutput {
    /// The command's exit status; 255 when it was killed by a signal (as
    /// OpenSSH's client reports it).
    pub exit_code: u32,
    /// Standard output, UTF-8 (invalid bytes replaced).
    pub stdout: String,
    /// Standard error, UTF-8 (invalid bytes replaced).
    pub stderr: String,
}

impl SshSession {
    /// Runs `cmd` through the user's login shell on the host and collects its
    /// output and exit status. A non-zero exit is not an error here (see
    /// [`SshSession::exec_checked`]).
    ///
    /// `cmd` is shell text: build it from [`shell_quote`]d arguments, and
    /// never put a secret in it.
    ///
    /// Errors: `ssh.command` when the channel cannot be opened, the server
    /// refuses to run it, the connection drops, or `timeout` passes ("timed out
    /// after Ns"; the remote process is sent SIGKILL, best effort, and the
    /// channel is closed).
    pub async fn exec(&self, cmd: &str, timeout: Duration) -> Result<ExecOutput> {
        self.exec_inner(cmd, None, timeout).await
    }

    /// Like [`SshSession::exec_checked`], with `input` sent as the command's
    /// standard input (then end of file). This is how content (even a secret)
    /// reaches a remote file without appearing in the command line; errors
    /// quote the command and stderr, never `input`.
    pub async fn exec_checked_with_input(
        &self,
        cmd: &str,
        input: &[u8],
        timeout: Duration,
    ) -> Result<ExecOutput> {
        let out = self.exec_inner(cmd, Some(input), timeout).await?;
        self.checked(cmd, out)
    }

    // Long on purpose: one select loop over the channel's messages, the input and the deadline.

    async fn exec_inner(
        &self,
        cmd: &str,
        input: Option<&[u8]>,
        timeout: Duration,
    ) -> Result<ExecOutput> {
        let deadline = Instant::now() + timeout;
        let timed_out = || {
            Error::new(
                ErrorCode::SshCommand,
                format!("command on host '{}' timed out after {}s: {}", self.host_name, fmt_secs(timeout), excerpt(cmd, 120)),
            )
            .hint("The host may be overloaded, or the command waits for input; try again or raise the timeout.")
        };
        let mut channel =
            match tokio::time::timeout_at(deadline, self.handle.channel_open_session()).await {
                Err(_) => return Err(timed_out()),
                Ok(Err(e)) => return Err(self.channel_error("cannot open an SSH channel", e)),
                Ok(Ok(c)) => c,
            };
        match tokio::time::timeout_at(deadline, channel.exec(true, cmd)).await {
            Err(_) => {
                let _ = channel.close().await;
                return Err(timed_out());
            }
            Ok(Err(e)) => return Err(self.channel_error("cannot start a remote command", e)),
            Ok(Ok(())) => {}
        }
        if let Some(input) = input {
            let sent = async {
                channel.data(input).await?;
                channel.eof().await
            };
            match tokio::time::timeout_at(deadline, sent).await {
                Err(_) => {
                    let _ = channel.close().await;
                    return Err(timed_out());
                }
                Ok(Err(e)) => {
                    return Err(self.channel_error("cannot send input to a remote command", e))
                }
                Ok(Ok(())) => {}
            }
        }

        let (mut stdout, mut stderr) = (Capped::default(), Capped::default());
        let mut exit: Option<u32> = None;
        let mut signal: Option<String> = None;
        loop {
            let msg = match tokio::time::timeout_at(deadline, channel.wait()).await {
                Err(_) => {
                    let _ = channel.signal(russh::Sig::KILL).await;
                    let _ = channel.close().await;
                    return Err(timed_out());
                }
                Ok(None) => break,
                Ok(Some(m)) => m,
            };
            match msg {
                ChannelMsg::Data { data } => stdout.push(&data),
                ChannelMsg::ExtendedData { data, ext: 1 } => stderr.push(&data),
                ChannelMsg::ExitStatus { exit_status } => exit = Some(exit_status),
                ChannelMsg::ExitSignal {
                    signal_name,
                    core_dumped,
                    ..
                } => {
                    signal = Some(format!(
                        "{signal_name:?}{}",
                        if core_dumped { " (core dumped)" } else { "" }
                    ));
                }
                ChannelMsg::Failure => {
                    return Err(Error::new(
                        ErrorCode::SshCommand,
                        format!("host '{}' refused to run the command", self.host_name),
                    )
                    .hint("The account may be restricted (forced command, no shell)."));
                }
                ChannelMsg::Close => break,
                _ => {}
            }
        }
        let exit_code = match (exit, &signal) {
            (Some(code), _) => code,
            (None, Some(sig)) => {
                stderr.note(&format!("[remote command killed by signal {sig}]"));
                255
            }
            (None, None) => {
                return Err(Error::new(
                    ErrorCode::SshCommand,
                    format!("connection to host '{}' closed before the command reported its exit status", self.host_name),
                )
                .hint("The SSH connection dropped; try again."));
            }
        };
        Ok(ExecOutput {
            exit_code,
            stdout: stdout.into_string(),
            stderr: stderr.into_string(),
        })
    }

    /// Like [`SshSession::exec`], but a non-zero exit status is an
    /// `ssh.command` error naming the host, the status and the last few
    /// hundred characters of stderr (trimmed).
    pub async fn exec_checked(&self, cmd: &str, timeout: Duration) -> Result<ExecOutput> {
        let out = self.exec(cmd, timeout).await?;
        self.checked(cmd, out)
    }

    fn checked(&self, cmd: &str, out: ExecOutput) -> Result<ExecOutput> {
        if out.exit_code == 0 {
            return Ok(out);
        }
        let tail = stderr_tail(&out.stderr, STDERR_TAIL);
        let mut message = format!(
            "command on host '{}' exited with status {}: {}",
            self.host_name,
            out.exit_code,
            excerpt(cmd, 120)
        );
        if !tail.is_empty() {
            message.push_str(": ");
            message.push_str(&tail);
        }
        Err(Error::new(ErrorCode::SshCommand, message)
            .hint("See the command's error output above; the log has the full output."))
    }
}

/// A byte buffer that stops growing at [`MAX_OUTPUT`].
#[derive(Default)]
struct Capped {
    bytes: Vec<u8>,
    dropped: usize,
    note: Option<String>,
}

impl Capped {
    fn push(&mut self, data: &[u8]) {
        let room = MAX_OUTPUT.saturating_sub(self.bytes.len());
        let take = room.min(data.len());
        self.bytes.extend_from_slice(&data[..take]);
        self.dropped += data.len() - take;
    }

    fn note(&mut self, note: &str) {
        self.note = Some(note.to_owned());
    }

    fn into_string(self) -> String {
        let mut s = String::from_utf8_lossy(&self.bytes).into_owned();
        if self.dropped > 0 {
            s.push_str(&format!("\n[{} more bytes not kept]\n", self.dropped));
        }
        if let Some(n) = self.note {
            if !s.is_empty() && !s.ends_with('\n') {
                s.push('\n');
            }
            s.push_str(&n);
        }
        s
    }
}

/// The last `max` characters of trimmed `stderr`, starting at a line start when possible.
pub(crate) fn stderr_tail(stderr: &str, max: usize) -> String {
    let t = stderr.trim();
    let count = t.chars().count();
    if count <= max {
        return t.to_owned();
    }
    let tail: String = t.chars().skip(count - max).collect();
    match tail.find('\n') {
        Some(i) if i + 1 < tail.len() && i < max / 2 => format!("…{}", &tail[i + 1..]),
        _ => format!("…{tail}"),
    }
}

/// The first `max` characters of `s` on one line, for messages.
pub(crate) fn excerpt(s: &str, max: usize) -> String {
    let one_line: String = s.split_whitespace().collect::<Vec<_>>().join(" ");
    if one_line.chars().count() <= max {
        one_line
    } else {
        format!("{}…", one_line.chars().take(max).collect::<String>())
    }
}

fn fmt_secs(d: Duration) -> String {
    if d.subsec_millis() == 0 {
        d.as_secs().to_string()
    } else {
        format!("{:.1}", d.as_secs_f64())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn stderr_tail_is_bounded_and_trimmed() {
        assert_eq!(stderr_tail("  boom \n", 600), "boom");
        let long = format!("{}\nlast line", "x".repeat(1000));
        let t = stderr_tail(&long, 50);
        assert!(t.chars().count() <= 51, "bounded: {t}");
        assert!(t.ends_with("last line"), "the end is what matters: {t}");
    }
    #[test]
    fn capped_output_says_what_was_dropped() {
        let mut c = Capped::default();
        c.push(&vec![b'a'; MAX_OUTPUT]);
        c.push(b"more");
        let s = c.into_string();
        assert!(
            s.ends_with("[4 more bytes not kept]\n"),
            "the truncation is visible"
        );
    }
    #[test]
    fn timeouts_print_whole_seconds() {
        assert_eq!(fmt_secs(Duration::from_secs(5)), "5");
        assert_eq!(fmt_secs(Duration::from_millis(1500)), "1.5");
    }
}
