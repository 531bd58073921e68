//! Local port forwarding through an SSH session (`ssh -L 127.0.0.1:0:host:port`).

use std::net::SocketAddr;
use std::sync::Arc;

use nfops_core::{Error, Result};
use tokio::net::{TcpListener, TcpStream};
use tokio::task::{JoinHandle, JoinSet};

use super::{Dialer, SshLink, DEFAULT_CONNECT_TIMEOUT};

/// A listening local port whose connections are piped, each through a
/// `direct-tcpip` channel of an SSH session of its own, to a `host:port`
/// reachable from the SSH host.
///
/// One session per connection, not one channel each on a shared session:
/// russh (0.65) hands incoming channel data to each channel from inside its
/// session loop and opens the window on receipt, so one connection whose
/// reader pauses (a large result read slowly) stalled every other
/// connection of the session, and the keepalive answers sshd waits for; a
/// stall past sshd's `ClientAliveInterval × ClientAliveCountMax` (or a
/// server's `net_read_timeout` mid-statement) ended them all. Now a pause
/// holds up only its own connection.
///
/// Invariants: it listens on 127.0.0.1 only (never on other interfaces); it
/// keeps the first SSH connection open while it lives (its `link` carries
/// the end of every session of the tunnel: see [`SshLink`]); dropping it
/// stops the listener and cuts every connection it carries.
pub struct Tunnel {
    local: SocketAddr,
    target: String,
    via: String,
    link: SshLink,
    task: JoinHandle<()>,
}

/// The first session's link, and the way to open more sessions like it.
#[derive(Clone)]
struct Origin {
    link: SshLink,
    dialer: Dialer,
}

impl std::fmt::Debug for Tunnel {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Tunnel")
            .field("local", &self.local)
            .field("target", &self.target)
            .field("via", &self.via)
            .finish()
    }
}

impl Tunnel {
    pub(super) async fn open(
        link: SshLink,
        dialer: Dialer,
        remote_host: &str,
        remote_port: u16,
    ) -> Result<Tunnel> {
        let via = link.host_name.clone();
        // Bound here, registered with the SSH runtime's reactor by the accept
        // task (every pipe of the tunnel runs there: see `ssh::runtime`).
        let listener = std::net::TcpListener::bind(("127.0.0.1", 0))
            .and_then(|l| l.set_nonblocking(true).map(|()| l))
            .map_err(|e| Error::io("binding a local port for an SSH tunnel", e))?;
        let local = listener
            .local_addr()
            .map_err(|e| Error::io("reading the tunnel's local address", e))?;
        let target = super::endpoint(remote_host, remote_port);
        tracing::debug!(%local, %target, %via, "SSH tunnel listening");
        let origin = Origin {
            link: link.clone(),
            dialer,
        };
        let (host, port) = (remote_host.to_owned(), remote_port);
        let task = super::runtime().spawn(async move {
            match TcpListener::from_std(listener) {
                Ok(listener) => accept_loop(listener, origin, host, port).await,
                Err(e) => {
                    tracing::warn!(category = "error", error = %e, "SSH tunnel cannot listen")
                }
            }
        });
        Ok(Tunnel {
            local,
            target,
            via,
            link,
            task,
        })
    }

    /// The local address (127.0.0.1 and an ephemeral port) to connect to.
    pub fn local_addr(&self) -> SocketAddr {
        self.local
    }

    /// `host:port` the tunnel reaches, as seen from the SSH host.
    pub fn target(&self) -> &str {
        &self.target
    }

    /// The SSH session carrying the tunnel (asked why a connection broke).
    pub fn link(&self) -> &SshLink {
        &self.link
    }
}

impl Drop for Tunnel {
    fn drop(&mut self) {
        // Aborting the accept loop drops its JoinSet, which aborts every pipe.
        self.task.abort();
    }
}

async fn accept_loop(listener: TcpListener, origin: Origin, remote_host: String, remote_port: u16) {
    let mut pipes = JoinSet::new();
    loop {
        tokio::select! {
            accepted = listener.accept() => match accepted {
                Ok((socket, peer)) => {
                    pipes.spawn(pipe(socket, peer, origin.clone(), remote_host.clone(), remote_port));
                }
                Err(e) => {
                    // Usually out of file descriptors: back off instead of spinning.
                    tracing::warn!(error = %e, "SSH tunnel accept failed");
                    tokio::time::sleep(std::time::Duration::from_millis(100)).await;
                }
            },
            Some(_) = pipes.join_next(), if !pipes.is_empty() => {}
        }
    }
}

async fn pipe(
    mut socket: TcpStream,
    peer: SocketAddr,
    origin: Origin,
    remote_host: String,
    remote_port: u16,
) {
    let _ = socket.set_nodelay(true);
    let link = &origin.link;
    let via = &link.host_name;
    // The session's end is recorded with the tunnel's, so a database error on
    // this connection is explained by what happened to its SSH session.
    let session = match origin
        .dialer
        .dial(DEFAULT_CONNECT_TIMEOUT, Arc::clone(&link.link))
        .await
    {
        Ok(s) => s,
        Err(e) => {
            link.link.record(format!(
                "a new SSH session for a forwarded connection failed: {}",
                e.message()
            ));
            tracing::warn!(category = "error", target_host = %remote_host, target_port = remote_port, %via, error = %e, "SSH tunnel cannot open a session for a connection");
            return;
        }
    };
    let channel = match session
        .handle
        .channel_open_direct_tcpip(
            remote_host.as_str(),
            u32::from(remote_port),
            peer.ip().to_string(),
            u32::from(peer.port()),
        )
        .await
    {
        Ok(c) => c,
        Err(e) => {
            match link.lost_reason() {
                Some(reason) => {
                    tracing::warn!(category = "error", target_host = %remote_host, target_port = remote_port, %via, %reason, "SSH tunnel cannot forward: its session was lost")
                }
                None => {
                    tracing::warn!(category = "error", target_host = %remote_host, target_port = remote_port, %via, error = %e, "SSH host refused to forward a connection")
                }
            }
            session.disconnect().await;
            return;
        }
    };
    let mut stream = channel.into_stream();
    let ended = tokio::io::copy_bidirectional(&mut socket, &mut stream).await;
    // A tunnelled connection cut by the session's end is logged with the
    // SSH reason: the database side only sees its stream close.
    if let Some(reason) = link.lost_reason() {
        tracing::warn!(category = "error", target_host = %remote_host, target_port = remote_port, %via, %reason, "tunnelled connection cut: SSH session lost");
    } else {
        match ended {
            Ok((up, down)) => tracing::trace!(up, down, "tunnelled connection closed"),
            Err(e) => tracing::debug!(error = %e, "tunnelled connection ended with an error"),
        }
    }
    drop(stream);
    session.disconnect().await;
}
