//! Remote commands whose standard input and output are streams. Bytes move
//! only as fast as the other side takes them: writes wait for the peer's SSH
//! window, and output waits in the channel's small queue until it is read.
//! So memory stays bounded whatever the size of what passes through, unlike
//! [`SshSession::exec`], which collects output up to a cap.
//!
//! A stalled reader stalls the whole SSH session (russh hands incoming data
//! to a bounded queue from its session loop), so a session that carries a
//! stream should carry nothing else at the same time, and its output must
//! be read while its input is written (see [`RemoteProcess::take_stdin`]).

use std::sync::Arc;
use std::time::Duration;

use bytes::Bytes;
use nfops_core::{Error, ErrorCode, Result};
use russh::client::Msg;
use russh::{ChannelMsg, ChannelReadHalf, ChannelWriteHalf};

use super::{excerpt, runtime, stderr_tail, ExecOutput, SshSession};

/// How much of the end of stderr a stream keeps for its error message.
const STDERR_KEPT: usize = 64 * 1024;

/// How much of stderr an error quotes.
const STDERR_QUOTED: usize = 600;

impl SshSession {
    /// Starts `cmd` with streamed input and output. `idle` bounds every wait
    /// for the remote side (a read, a write, the exit status): a command
    /// that moves no byte for that long is killed, but a long transfer that
    /// keeps moving is never cut off.
    ///
    /// `cmd` is shell text built from [`super::shell_quote`]d arguments.
    ///
    /// Errors: `ssh.command` when the channel cannot be opened or the
    /// server refuses the command.
    pub async fn exec_stream(&self, cmd: &str, idle: Duration) -> Result<RemoteProcess> {
        let channel = match tokio::time::timeout(idle, self.handle.channel_open_session()).await {
            Err(_) => return Err(idle_error(&self.host_name, cmd, idle)),
            Ok(Err(e)) => return Err(self.channel_error("cannot open an SSH channel", e)),
            Ok(Ok(c)) => c,
        };
        match tokio::time::timeout(idle, channel.exec(true, cmd)).await {
            Err(_) => {
                let _ = channel.close().await;
                return Err(idle_error(&self.host_name, cmd, idle));
            }
            Ok(Err(e)) => return Err(self.channel_error("cannot start a remote command", e)),
            Ok(Ok(())) => {}
        }
        let (read, write) = channel.split();
        Ok(RemoteProcess {
            host: self.host_name.clone(),
            cmd: excerpt(cmd, 120),
            idle,
            read,
            write: Some(Arc::new(write)),
            stdin_taken: false,
            stderr: Vec::new(),
            exit: None,
            signal: None,
            closed: false,
        })
    }
}

/// A command running on a host, with its output read chunk by chunk. Drop
/// it before [`RemoteProcess::finish`] and the remote process is killed.
pub struct RemoteProcess {
    host: String,
    cmd: String,
    idle: Duration,
    read: ChannelReadHalf,
    write: Option<Arc<ChannelWriteHalf<Msg>>>,
    stdin_taken: bool,
    stderr: Vec<u8>,
    exit: Option<u32>,
    signal: Option<String>,
    closed: bool,
}

/// The standard input of a [`RemoteProcess`], to be written from another
/// task while the output is read.
pub struct RemoteStdin {
    host: String,
    cmd: String,
    idle: Duration,
    write: Arc<ChannelWriteHalf<Msg>>,
}

impl RemoteStdin {
    /// Sends `data`, waiting (up to the idle bound) for the remote side to
    /// take it.
    ///
    /// Errors: `ssh.command` when the channel is gone or nothing moved for
    /// the idle bound.
    pub async fn write(&self, data: &[u8]) -> Result<()> {
        match tokio::time::timeout(self.idle, self.write.data(data)).await {
            Err(_) => Err(idle_error(&self.host, &self.cmd, self.idle)),
            Ok(Err(e)) => Err(lost(&self.host, &self.cmd, "could not send input", e)),
            Ok(Ok(())) => Ok(()),
        }
    }

    /// Ends the input (the remote command reads end of file).
    ///
    /// Errors: as [`RemoteStdin::write`].
    pub async fn close(self) -> Result<()> {
        match tokio::time::timeout(self.idle, self.write.eof()).await {
            Err(_) => Err(idle_error(&self.host, &self.cmd, self.idle)),
            Ok(Err(e)) => Err(lost(&self.host, &self.cmd, "could not end input", e)),
            Ok(Ok(())) => Ok(()),
        }
    }
}

impl RemoteProcess {
    /// The input side, to write from another task (`tokio::join!` or a
    /// spawned task) while this side reads. Once taken, dropping the
    /// process still kills the remote command.
    ///
    /// Errors: `internal` when taken twice.
    pub fn take_stdin(&mut self) -> Result<RemoteStdin> {
        if self.stdin_taken {
            return Err(Error::internal(
                "the stdin of a remote process was taken twice",
            ));
        }
        self.stdin_taken = true;
        // The write half stays here too, so drop can still signal and close.
        let write = self
            .write
            .as_ref()
            .ok_or_else(|| Error::internal("a finished remote process has no stdin"))?;
        Ok(RemoteStdin {
            host: self.host.clone(),
            cmd: self.cmd.clone(),
            idle: self.idle,
            write: Arc::clone(write),
        })
    }

    /// The next chunk of standard output, or `None` once the command closed
    /// its output. Standard error and the exit status are kept on the way.
    ///
    /// Errors: `ssh.command` when nothing arrived for the idle bound (the
    /// process is then killed) or the server refused the command.
    pub async fn read(&mut self) -> Result<Option<Bytes>> {
        loop {
            if self.closed {
                return Ok(None);
            }
            let msg = match tokio::time::timeout(self.idle, self.read.wait()).await {
                Err(_) => {
                    self.kill().await;
                    return Err(idle_error(&self.host, &self.cmd, self.idle));
                }
                Ok(None) => {
                    self.closed = true;
                    return Ok(None);
                }
                Ok(Some(m)) => m,
            };
            match msg {
                ChannelMsg::Data { data } => return Ok(Some(data)),
                ChannelMsg::ExtendedData { data, ext: 1 } => {
                    self.stderr.extend_from_slice(&data);
                    if self.stderr.len() > 2 * STDERR_KEPT {
                        let cut = self.stderr.len() - STDERR_KEPT;
                        self.stderr.drain(..cut);
                    }
                }
                ChannelMsg::ExitStatus { exit_status } => self.exit = Some(exit_status),
                ChannelMsg::ExitSignal {
                    signal_name,
                    core_dumped,
                    ..
                } => {
                    self.signal = Some(format!(
                        "{signal_name:?}{}",
                        if core_dumped { " (core dumped)" } else { "" }
                    ));
                }
                ChannelMsg::Failure => {
                    self.closed = true;
                    return Err(Error::new(
                        ErrorCode::SshCommand,
                        format!("host '{}' refused to run the command", self.host),
                    )
                    .hint("The account may be restricted (forced command, no shell)."));
                }
                ChannelMsg::Close => {
                    self.closed = true;
                    return Ok(None);
                }
                // End of output: the exit status and Close follow.
                _ => {}
            }
        }
    }

    /// Reads the output to its end into memory, refusing more than `max`
    /// bytes. For listings whose size grows with the release, not for data.
    ///
    /// Errors: `invalid_input` past `max`; as [`RemoteProcess::read`].
    pub async fn read_to_end(&mut self, max: usize) -> Result<Vec<u8>> {
        let mut out = Vec::new();
        while let Some(chunk) = self.read().await? {
            if out.len() + chunk.len() > max {
                self.kill().await;
                return Err(Error::new(
                    ErrorCode::InvalidInput,
                    format!(
                        "output of a command on host '{}' is over {} MiB: {}",
                        self.host,
                        max / (1024 * 1024),
                        self.cmd
                    ),
                )
                .hint("The listing is larger than the console accepts; see the size limits in the README."));
            }
            out.extend_from_slice(&chunk);
        }
        Ok(out)
    }

    /// Waits for the command to end (any output left is discarded) and
    /// returns its exit status and stderr; a non-zero exit is an error
    /// quoting the end of stderr, as [`SshSession::exec_checked`].
    ///
    /// Errors: `ssh.command` for a non-zero exit, a signal, or a connection
    /// that closed without an exit status.
    pub async fn finish(mut self) -> Result<ExecOutput> {
        while self.read().await?.is_some() {}
        let stderr = String::from_utf8_lossy(&self.stderr).into_owned();
        let exit_code = match (self.exit, &self.signal) {
            (Some(code), _) => code,
            (None, Some(sig)) => {
                return Err(Error::new(
                    ErrorCode::SshCommand,
                    format!(
                        "command on host '{}' was killed by signal {sig}: {}",
                        self.host, self.cmd
                    ),
                ))
            }
            (None, None) => {
                return Err(Error::new(
                    ErrorCode::SshCommand,
                    format!(
                        "connection to host '{}' closed before the command reported its exit status: {}",
                        self.host, self.cmd
                    ),
                )
                .hint("The SSH connection dropped; try again."))
            }
        };
        self.write = None;
        if exit_code != 0 {
            let tail = stderr_tail(&stderr, STDERR_QUOTED);
            let mut message = format!(
                "command on host '{}' exited with status {exit_code}: {}",
                self.host, self.cmd
            );
            if !tail.is_empty() {
                message.push_str(": ");
                message.push_str(&tail);
            }
            return Err(Error::new(ErrorCode::SshCommand, message)
                .hint("See the command's error output above; the log has the full output."));
        }
        Ok(ExecOutput {
            exit_code,
            stdout: String::new(),
            stderr,
        })
    }

    async fn kill(&mut self) {
        if let Some(w) = self.write.take() {
            let _ = w.signal(russh::Sig::KILL).await;
            let _ = w.close().await;
        }
        self.closed = true;
    }
}

impl Drop for RemoteProcess {
    fn drop(&mut self) {
        if let Some(w) = self.write.take() {
            if !self.closed {
                runtime().spawn(async move {
                    let _ = w.signal(russh::Sig::KILL).await;
                    let _ = w.close().await;
                });
            }
        }
    }
}

fn idle_error(host: &str, cmd: &str, idle: Duration) -> Error {
    Error::new(
        ErrorCode::SshCommand,
        format!(
            "command on host '{host}' moved no data for {}s and was stopped: {}",
            idle.as_secs(),
            excerpt(cmd, 120)
        ),
    )
    .hint("The host or the network may be stalled; try again.")
}

fn lost(host: &str, cmd: &str, what: &str, e: russh::Error) -> Error {
    Error::new(
        ErrorCode::SshCommand,
        format!("{what} to a command on host '{host}': {cmd}"),
    )
    .hint("The remote command ended early or the SSH connection dropped; see its error output.")
    .source(e)
}
