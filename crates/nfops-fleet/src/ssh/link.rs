//! Why an SSH connection ended, kept for whoever still holds a tunnel or a
//! database connection through it.
//!
//! russh reports the end of a session to the client handler only; a
//! tunnelled MySQL connection just sees its stream close. Without this the
//! operator got "the connection was lost or refused" from the database
//! layer and the SSH reason (keepalive timeout, the server's goodbye, a
//! reset) was dropped on the floor.

use std::sync::{Arc, Mutex};
use std::time::Duration;

use nfops_core::{Error, ErrorCode};
use russh::client::{self, DisconnectReason};

use super::{ClientHandler, HandlerError};

/// How often the client asks a silent server whether it is alive, and how
/// many unanswered asks end the session. A truly dead bastion (cable cut,
/// host frozen: no FIN, no RST) is detected within `INTERVAL × (MAX + 1)`,
/// about 2 minutes; any packet from the server (data, window adjust, a
/// keepalive answer) resets the count, so a busy or merely slow tunnel is
/// never cut by it. The server's own `ClientAliveInterval` probes are
/// answered by russh whatever this says.
pub(crate) const KEEPALIVE_INTERVAL: Duration = Duration::from_secs(15);
pub(crate) const KEEPALIVE_MAX: usize = 7;

/// How much a session lets the server send ahead of what it has handed on
/// (the SSH receive window, bytes), and how many messages wait per channel
/// for our reader. russh handles the server's keepalive requests in the
/// order they arrive, behind the data before them, and a data message waits
/// until the reader takes it: with its defaults (2 MiB and 100 messages of
/// up to 32 KiB) about 5 MiB could sit ahead of a keepalive, so a reader
/// slower than ~110 KiB/s (a debug build's backup formatting rows, a slow
/// disk) left sshd unanswered past `ClientAliveInterval × ClientAliveCountMax`
/// and sshd cut the session ("Timeout, client not responding") 10 minutes
/// into a 1 GiB backup through the bastion. With 1 MiB and 8 messages a
/// reader at ~25 KiB/s still answers within sshd's usual 45 s; 1 MiB in
/// flight still moves ~10 MB/s per connection at 100 ms round trip.
pub(crate) const WINDOW_SIZE: u32 = 1 << 20;
pub(crate) const CHANNEL_BUFFER: usize = 8;

/// The end of one SSH session, once known. Shared by the session's handler
/// (which writes it) and every tunnel and route made from the session.
#[derive(Debug, Default)]
pub(crate) struct LinkState {
    reason: Mutex<Option<String>>,
}

impl LinkState {
    pub(crate) fn record(&self, reason: String) {
        let mut r = self.reason.lock().unwrap_or_else(|p| p.into_inner());
        if r.is_none() {
            *r = Some(reason);
        }
    }

    fn reason(&self) -> Option<String> {
        self.reason
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .clone()
    }
}

/// Words for why russh ended the session.
pub(crate) fn describe(reason: &DisconnectReason<HandlerError>) -> String {
    match reason {
        DisconnectReason::ReceivedDisconnect(info) => {
            let said = info.message.trim();
            if said.is_empty() {
                format!("the server ended the session ({:?})", info.reason_code)
            } else {
                format!("the server ended the session ({:?}: {said})", info.reason_code)
            }
        }
        DisconnectReason::Error(HandlerError::Refused(e)) => e.message().to_owned(),
        DisconnectReason::Error(HandlerError::Ssh(e)) => match e {
            russh::Error::KeepaliveTimeout => format!(
                "the server answered none of {} keepalives in {} s (network or host down)",
                KEEPALIVE_MAX + 1,
                KEEPALIVE_INTERVAL.as_secs() * (KEEPALIVE_MAX as u64 + 1)
            ),
            russh::Error::InactivityTimeout => "nothing came from the server for too long".to_owned(),
            russh::Error::Disconnect | russh::Error::HUP => {
                "the server closed the connection without a goodbye (sshd killed or restarted, or the host rebooted)".to_owned()
            }
            russh::Error::IO(io) => format!("the connection broke: {io}"),
            other => format!("SSH protocol error: {other}"),
        },
    }
}

impl ClientHandler {
    /// Records and logs why the session ended (russh calls this once, after
    /// the session loop stopped and before its channels are closed, so a
    /// tunnelled connection that then sees its stream end finds the reason).
    pub(crate) fn ended(&self, reason: &DisconnectReason<HandlerError>) {
        let text = describe(reason);
        let expected = matches!(reason, DisconnectReason::ReceivedDisconnect(i) if matches!(i.reason_code, russh::Disconnect::ByApplication));
        // Only a loss is recorded: every session of a tunnel shares one
        // record, and the sessions of connections that simply closed end
        // by our own goodbye. A session we ended is still told apart by
        // `is_closed` (see `SshLink::lost_reason`).
        if expected {
            tracing::debug!(category = "application", host = %self.policy.host_name, reason = %text, "SSH session ended");
        } else {
            tracing::warn!(category = "error", host = %self.policy.host_name, reason = %text, "SSH session lost");
            self.link.record(text);
        }
    }
}

/// An SSH session as the carrier of tunnelled connections: tells the
/// database layer that a broken connection was the tunnel's doing.
#[derive(Clone)]
pub struct SshLink {
    pub(crate) handle: Arc<client::Handle<ClientHandler>>,
    pub(crate) link: Arc<LinkState>,
    pub(crate) host_name: String,
    pub(crate) endpoint: String,
}

impl std::fmt::Debug for SshLink {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SshLink")
            .field("host", &self.host_name)
            .field("endpoint", &self.endpoint)
            .finish()
    }
}

impl SshLink {
    /// Why the session ended, or `None` while it is up. A session that is
    /// closed without a recorded reason (russh could not even shut the socket
    /// down) says so.
    pub fn lost_reason(&self) -> Option<String> {
        self.link.reason().or_else(|| {
            self.handle
                .is_closed()
                .then(|| "the SSH connection closed".to_owned())
        })
    }

    /// The `ssh.connect` error for a connection through this session that
    /// broke while `what`, when the session is the reason; `None` while the
    /// session is up (the far end closed it, not the tunnel).
    pub fn lost_error(&self, what: &str) -> Option<Error> {
        let reason = self.lost_reason()?;
        Some(
            Error::new(
                ErrorCode::SshConnect,
                format!(
                    "{what}: the SSH tunnel through host '{}' ({}) was lost: {reason}",
                    self.host_name, self.endpoint
                ),
            )
            .hint("The bastion connection dropped, not the database: check the network to the host and its sshd log, then run the job again. Nothing after the last completed step was kept."),
        )
    }
}

impl nfops_mysql::Carrier for SshLink {
    fn lost(&self, what: &str) -> Option<Error> {
        self.lost_error(what)
    }
}
